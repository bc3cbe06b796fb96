export type { RewardFn, RewardSample } from "./types.js";
