/**
 * Accuracy reward for math answers on top of {@link verify}.
 */
import type { RewardFn, RewardSample } from '../types.js';
import type { VerifierPool } from '../pool/verifier-pool.js';
import { verify, type VerifyOptions, type VerifyResult } from './verify.js';

/** Options of {@link mathAccuracyReward}. */
export interface MathRewardOptions extends VerifyOptions {
  /** Key of `sample.meta` that holds the gold answer (default `gold`). */
  goldKey?: string;
  /** Run checks in this pool (hard timeouts, off the main thread); default: synchronous verify. */
  pool?: VerifierPool;
  /** Reward for a correct answer (default 1). */
  correctReward?: number;
  /** Reward for a wrong or unreadable answer (default 0; DAPO uses −1). */
  incorrectReward?: number;
  /** Name shown in metrics (default `math_accuracy` / `gsm8k_accuracy`). */
  name?: string;
  /** Called for every result that carries an error (for logging/metrics). */
  onError?: (sample: RewardSample, result: VerifyResult) => void;
}

/**
 * A {@link RewardFn} scoring completions against `meta.gold`. Scores `correctReward` when
 * verified, `incorrectReward` when wrong or when the prediction itself cannot be decided (e.g. a
 * runaway `10^{10^{10}}`, so refusing to be checkable never pays), and `null` — no score, left
 * out of baselines — when the gold is missing or unparseable, or the check timed out or failed
 * internally (errors surface through `onError`, they never turn into a silent 0).
 */
export function mathAccuracyReward(opts: MathRewardOptions = {}): RewardFn {
  const { goldKey = 'gold', pool, correctReward = 1, incorrectReward = 0, onError, name, ...vopts } = opts;
  const score = (s: RewardSample, r: VerifyResult): number | null => {
    if (r.error) onError?.(s, r);
    if (r.correct) return correctReward;
    if (r.error && r.errorKind !== 'pred') return null;
    return incorrectReward;
  };
  const fn: RewardFn = async (batch) => {
    const golds = batch.map((s) => {
      const g = s.meta?.[goldKey];
      return typeof g === 'string' ? g : typeof g === 'number' && Number.isFinite(g) ? String(g) : null;
    });
    const out: (number | null)[] = new Array(batch.length).fill(null);
    const todo: number[] = [];
    golds.forEach((g, i) => {
      if (g !== null) todo.push(i);
    });
    if (pool) {
      const results = await pool.verifyMany(todo.map((i) => ({ gold: golds[i] as string, pred: batch[i].completion, opts: vopts })));
      todo.forEach((i, k) => (out[i] = score(batch[i], results[k])));
    } else {
      for (const i of todo) out[i] = score(batch[i], verify(golds[i] as string, batch[i].completion, vopts));
    }
    return out;
  };
  fn.rewardName = name ?? (vopts.mode === 'gsm8k' ? 'gsm8k_accuracy' : 'math_accuracy');
  return fn;
}
