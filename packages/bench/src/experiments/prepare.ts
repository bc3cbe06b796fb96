/**
 * The shared artefacts of a task (SFT base, reward model, base evaluation): the first half of
 * flow.ts. Their stages live in steps/; these names stay for existing importers.
 */
import type { PipelineConfig } from './config/schema.js';
import { prepareTask, storedTask } from './flow.js';
import { ArtefactStore } from './store.js';
import type { SharedArtefacts } from './steps/run-dir.js';

export { startBackend, activeBackend } from './flow.js';
export { baseKey, type BaseInfo } from './steps/sft-base.js';
export { rewardModelKey, openRewardModel, REWARD_MODEL_CODE_VERSION, type RewardModelInfo } from './steps/reward-model.js';
export { evalMathPolicy, evalSafetyPolicy, type BaseEval } from './steps/evaluate.js';
export type { SharedArtefacts } from './steps/run-dir.js';

/** Everything shared by the pipelines of `cfg`'s task, built when missing (see flow.ts `prepareTask`). */
export async function prepareShared(cfg: PipelineConfig, cacheRoot: string, log: (msg: string) => void): Promise<SharedArtefacts> {
  return prepareTask(cfg, new ArtefactStore(cacheRoot), log);
}

/** The shared artefacts of `cfg` when all are stored, without starting a backend; null otherwise. */
export function cachedShared(cfg: PipelineConfig, cacheRoot: string): SharedArtefacts | null {
  return storedTask(cfg, new ArtefactStore(cacheRoot));
}
