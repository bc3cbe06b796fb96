/**
 * Weighted composition of reward functions, with TRL's "None = not applicable" semantics: a
 * function returning `null` for a sample is left out of that sample's total, and a sample where
 * every function returns `null` has total `null` (unscorable; the trainer gives it advantage 0).
 */
import type { RewardFn, RewardSample } from '../types.js';

/** One component of a composed reward. */
export interface RewardComponent {
  fn: RewardFn;
  /** Weight (default 1). */
  weight?: number;
  /** Name in logs (default `fn.rewardName`, then `fn.name`, then `reward_<i>`). */
  name?: string;
}

/** Options of {@link composeRewards}. */
export interface ComposeOptions {
  /**
   * 'sum' (default): Σ wᵢ·rᵢ over the applicable functions (TRL's nan-aware sum).
   * 'mean': that sum divided by Σ wᵢ over the same functions.
   */
  aggregation?: 'sum' | 'mean';
  /** Name of the composed reward (default "composite"). */
  name?: string;
}

/** Totals and every component's raw (unweighted) values, for metrics such as `rewards/<fn>/mean`. */
export interface DetailedRewards {
  total: (number | null)[];
  perFunction: Record<string, (number | null)[]>;
}

/** A composed reward that can also report its components. */
export interface ComposedRewardFn extends RewardFn {
  /** Scores a batch and returns the totals with the per-function values. */
  detailed(batch: readonly RewardSample[]): Promise<DetailedRewards>;
  /** Component names in order. */
  readonly componentNames: readonly string[];
}

/** Raised when a component throws or returns malformed output; names the component. */
export class RewardFunctionError extends Error {
  constructor(
    readonly rewardName: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`reward function "${rewardName}" ${message}`, options);
    this.name = 'RewardFunctionError';
  }
}

async function runComponent(name: string, fn: RewardFn, batch: readonly RewardSample[]): Promise<(number | null)[]> {
  let out: unknown;
  try {
    out = await fn(batch);
  } catch (e) {
    // Surface, never turn into 0: a swallowed verifier error silently zeroed all MATH scores in verl.
    throw new RewardFunctionError(name, `failed: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
  if (!Array.isArray(out)) throw new RewardFunctionError(name, `returned ${typeof out}, expected an array`);
  if (out.length !== batch.length) {
    throw new RewardFunctionError(name, `returned ${out.length} values for a batch of ${batch.length}`);
  }
  out.forEach((v, i) => {
    if (v === null) return;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new RewardFunctionError(
        name,
        `returned ${v === undefined ? 'undefined' : String(v)} for sample ${i}; expected a finite number, or null for "not applicable"`,
      );
    }
  });
  return out as (number | null)[];
}

/**
 * Composes weighted reward functions into one {@link RewardFn}. Components run concurrently.
 * Errors thrown by a component surface as a {@link RewardFunctionError} naming it.
 *
 * @example
 * const reward = composeRewards([
 *   { fn: mathAccuracyReward(), weight: 1 },
 *   { fn: boxedFormatReward(), weight: 0.1 },
 * ]);
 * const { total, perFunction } = await reward.detailed(batch);
 */
export function composeRewards(components: readonly RewardComponent[], opts: ComposeOptions = {}): ComposedRewardFn {
  if (components.length === 0) throw new Error('composeRewards: give at least one reward function');
  const aggregation = opts.aggregation ?? 'sum';
  if (aggregation !== 'sum' && aggregation !== 'mean') {
    throw new Error(`composeRewards: aggregation must be 'sum' or 'mean', got ${JSON.stringify(aggregation)}`);
  }
  const names: string[] = [];
  const weights: number[] = [];
  components.forEach((c, i) => {
    if (typeof c?.fn !== 'function') throw new Error(`composeRewards: component ${i} has no function 'fn'`);
    const name = c.name ?? c.fn.rewardName ?? (c.fn.name || `reward_${i}`);
    if (names.includes(name)) throw new Error(`composeRewards: two components are named "${name}"; give one a 'name'`);
    const w = c.weight ?? 1;
    if (typeof w !== 'number' || !Number.isFinite(w)) throw new Error(`composeRewards: weight of "${name}" must be a finite number, got ${String(w)}`);
    names.push(name);
    weights.push(w);
  });

  const detailed = async (batch: readonly RewardSample[]): Promise<DetailedRewards> => {
    const results = await Promise.all(components.map((c, k) => runComponent(names[k], c.fn, batch)));
    const perFunction: Record<string, (number | null)[]> = {};
    names.forEach((n, k) => (perFunction[n] = results[k]));
    const total = batch.map((_, i) => {
      let sum = 0;
      let wsum = 0;
      let any = false;
      for (let k = 0; k < results.length; k++) {
        const v = results[k][i];
        if (v === null) continue;
        any = true;
        sum += weights[k] * v;
        wsum += weights[k];
      }
      if (!any) return null;
      if (aggregation === 'sum') return sum;
      if (wsum === 0) throw new Error(`composeRewards: weights of the applicable functions sum to 0 for sample ${i} ('mean' is undefined)`);
      return sum / wsum;
    });
    return { total, perFunction };
  };

  const fn = (async (batch: readonly RewardSample[]) => (await detailed(batch)).total) as ComposedRewardFn;
  fn.rewardName = opts.name ?? 'composite';
  Object.defineProperty(fn, 'detailed', { value: detailed });
  Object.defineProperty(fn, 'componentNames', { value: Object.freeze([...names]) });
  return fn;
}

/**
 * Like {@link composeRewards} but the returned function resolves to the totals together with
 * every component's values.
 */
export function composeRewardsDetailed(
  components: readonly RewardComponent[],
  opts: ComposeOptions = {},
): (batch: readonly RewardSample[]) => Promise<DetailedRewards> {
  return composeRewards(components, opts).detailed;
}
