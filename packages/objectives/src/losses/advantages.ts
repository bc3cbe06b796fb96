/**
 * Group-relative advantages (GRPO, f-GRPO): per-group baseline, optional std scaling, with
 * `null` rewards (not applicable) left out of the baseline and given advantage 0, as TRL does.
 */

/** How advantages are scaled: by the group std (default), the batch std, or not at all (Dr. GRPO). */
export type AdvantageMode = 'group' | 'batch' | 'none';

/** Default ε of the std denominator: TRL's 1e-4 (verl uses 1e-6, OpenRLHF 1e-9). */
import { assertFiniteNumbers } from './validate.js';

export const DEFAULT_ADVANTAGE_EPS = 1e-4;

function validate(rewards: readonly (number | null)[], groupSize: number, where: string): void {
  if (!Number.isInteger(groupSize) || groupSize < 1) throw new Error(`${where}: groupSize must be a positive integer, got ${groupSize}`);
  if (rewards.length % groupSize !== 0) {
    throw new Error(`${where}: ${rewards.length} rewards do not split into whole groups of ${groupSize}`);
  }
  rewards.forEach((r, i) => {
    if (r !== null && (typeof r !== 'number' || !Number.isFinite(r))) {
      throw new Error(`${where}: rewards[${i}] = ${r} is not a finite number (use null for "not applicable")`);
    }
  });
}

/** Mean and unbiased (n−1) std of the non-null values; std is 0 when fewer than two values. */
export function meanStd(xs: readonly (number | null)[]): { mean: number; std: number; n: number } {
  const vals = xs.filter((x): x is number => x !== null);
  const n = vals.length;
  if (n === 0) return { mean: 0, std: 0, n };
  const mean = vals.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, std: 0, n };
  const ss = vals.reduce((a, b) => a + (b - mean) * (b - mean), 0);
  return { mean, std: Math.sqrt(ss / (n - 1)), n };
}

/**
 * Advantages for contiguous groups of `groupSize` rewards:
 * `group`: (R − mean_g) / (std_g + ε); `batch`: (R − mean_g) / (std_batch + ε); `none`: R − mean_g.
 * std is unbiased (n−1) over the non-null rewards. Null rewards get 0, and so does every member of a
 * group with fewer than two scored rewards or with all rewards equal (no signal).
 *
 * Oracle: rewards [0, 1], groupSize 2, ε = 1e-4 → ±0.5 / (√0.5 + 1e-4) = ±0.707006…
 */
export function groupAdvantages(
  rewards: readonly (number | null)[],
  groupSize: number,
  mode: AdvantageMode = 'group',
  eps: number = DEFAULT_ADVANTAGE_EPS,
): number[] {
  validate(rewards, groupSize, 'groupAdvantages');
  if (!(eps >= 0) || !Number.isFinite(eps)) throw new Error(`groupAdvantages: eps must be a finite number ≥ 0, got ${eps}`);
  if (mode !== 'group' && mode !== 'batch' && mode !== 'none') {
    throw new Error(`groupAdvantages: mode must be 'group', 'batch' or 'none', got '${String(mode)}'`);
  }
  const batchStd = meanStd(rewards).std;
  const out = new Array<number>(rewards.length).fill(0);
  for (let g = 0; g < rewards.length; g += groupSize) {
    const group = rewards.slice(g, g + groupSize);
    const { mean, std, n } = meanStd(group);
    if (n < 2 || std === 0) continue;
    const denom = mode === 'group' ? std + eps : mode === 'batch' ? batchStd + eps : 1;
    group.forEach((r, i) => {
      if (r !== null) out[g + i] = (r - mean) / denom;
    });
  }
  return out;
}

/** Share of groups whose scored rewards have zero spread (TRL's `frac_reward_zero_std`); such groups give no signal. */
export function fracRewardZeroStd(rewards: readonly (number | null)[], groupSize: number): number {
  validate(rewards, groupSize, 'fracRewardZeroStd');
  const groups = rewards.length / groupSize;
  if (groups === 0) return 0;
  let zero = 0;
  for (let g = 0; g < rewards.length; g += groupSize) {
    const { std, n } = meanStd(rewards.slice(g, g + groupSize));
    if (n < 2 || std === 0) zero++;
  }
  return zero / groups;
}

/**
 * The advantages a sequence-level loss uses: the caller's precomputed `advantages` (checked), or
 * {@link groupAdvantages} of `rewards`; plus the fraction of zero-variance groups when rewards are
 * known (NaN otherwise). Errors name the loss and the field.
 */
export function resolveAdvantages(
  lossName: string,
  batch: { advantages?: readonly number[]; rewards?: readonly (number | null)[] },
  n: number,
  groupSize: number,
  mode: AdvantageMode,
  eps: number,
): { advantages: number[]; zeroStd: number } {
  let advantages: number[];
  if (batch.advantages) {
    if (batch.advantages.length !== n) throw new Error(`${lossName}: advantages has ${batch.advantages.length} entries, expected ${n}`);
    assertFiniteNumbers(lossName, 'advantages', batch.advantages);
    advantages = [...batch.advantages];
  } else {
    if (!batch.rewards) throw new Error(`${lossName}: give rewards or advantages`);
    if (batch.rewards.length !== n) throw new Error(`${lossName}: rewards has ${batch.rewards.length} entries, expected ${n}`);
    advantages = groupAdvantages(batch.rewards, groupSize, mode, eps);
  }
  const zeroStd = batch.rewards && batch.rewards.length === n ? fracRewardZeroStd(batch.rewards, groupSize) : NaN;
  return { advantages, zeroStd };
}
