/** Runs several reward functions and combines them (weighted, null-aware sum, as TRL does). */
import type { RewardSample, RewardSpec } from './types.js';

/** Per-function and combined rewards of one batch. */
export interface ScoredRewards {
  /** Σ_k w_k·r_k over the functions that returned a number; null when none did. */
  combined: (number | null)[];
  /** Raw outputs by function name. */
  perFunction: Record<string, (number | null)[]>;
}

/** Checks reward specs once: unique names, finite weights. */
export function validateRewardSpecs(specs: readonly RewardSpec[]): void {
  if (!Array.isArray(specs) || specs.length === 0) throw new Error('rewards: give at least one reward function ({ fn, name, weight? })');
  const seen = new Set<string>();
  specs.forEach((s, i) => {
    if (typeof s?.fn !== 'function') throw new Error(`rewards[${i}].fn: expected a function`);
    if (typeof s.name !== 'string' || s.name.length === 0) throw new Error(`rewards[${i}].name: expected a non-empty string`);
    if (seen.has(s.name)) throw new Error(`rewards[${i}].name: '${s.name}' is used twice`);
    seen.add(s.name);
    if (s.weight !== undefined && !Number.isFinite(s.weight)) throw new Error(`rewards[${i}].weight: expected a finite number, got ${s.weight}`);
  });
}

/**
 * Scores `samples` with every function (concurrently). A function that throws, returns the wrong
 * number of values, or returns NaN/Inf fails the step with an error naming it: a broken verifier
 * must not silently become a reward of 0.
 */
export async function scoreRewards(specs: readonly RewardSpec[], samples: readonly RewardSample[]): Promise<ScoredRewards> {
  const outputs = await Promise.all(
    specs.map(async (s) => {
      let out: (number | null)[];
      try {
        out = await s.fn(samples);
      } catch (err) {
        throw new Error(`reward function '${s.name}' failed: ${(err as Error).message}`);
      }
      if (!Array.isArray(out) || out.length !== samples.length) {
        throw new Error(`reward function '${s.name}' returned ${Array.isArray(out) ? out.length : typeof out} values for ${samples.length} samples`);
      }
      out.forEach((r, i) => {
        if (r !== null && (typeof r !== 'number' || !Number.isFinite(r))) {
          throw new Error(`reward function '${s.name}' returned ${r} for sample ${i}; use null for "not applicable"`);
        }
      });
      return out;
    }),
  );
  const perFunction: Record<string, (number | null)[]> = {};
  specs.forEach((s, k) => (perFunction[s.name] = outputs[k]));
  const combined = samples.map((_, i) => {
    let sum = 0;
    let any = false;
    specs.forEach((s, k) => {
      const r = outputs[k][i];
      if (r !== null) {
        sum += (s.weight ?? 1) * r;
        any = true;
      }
    });
    return any ? sum : null;
  });
  return { combined, perFunction };
}
