/**
 * DAPO soft overlong punishment (TRL `get_soft_overlong_punishment`): no penalty up to
 * `maxCompletionLength - softPunishCache` tokens, then a linear ramp from 0 down to -1 over the
 * last `softPunishCache` tokens, and -1 beyond the maximum.
 */
import type { RewardFn, RewardSample } from '../types.js';
import { namedReward } from './named.js';

/** Options of {@link lengthPenalty}. */
export interface LengthPenaltyOptions {
  /** Maximum completion length in tokens (L_max). */
  maxCompletionLength: number;
  /** Length of the soft ramp in tokens (L_cache); 0 < softPunishCache ≤ maxCompletionLength. */
  softPunishCache: number;
  /**
   * Token count of a sample. Default: `meta[lengthKey]`, a number or an array of token ids.
   * Characters are not tokens, so there is no silent fallback to `completion.length`.
   */
  countTokens?: (sample: RewardSample) => number;
  /** Meta field holding the token count or ids (default "completionLength"). */
  lengthKey?: string;
  name?: string;
}

/** The DAPO soft overlong penalty of a completion of `length` tokens. */
export function softOverlongPenalty(length: number, maxCompletionLength: number, softPunishCache: number): number {
  const expected = maxCompletionLength - softPunishCache;
  if (length <= expected) return 0;
  if (length <= maxCompletionLength) return (expected - length) / softPunishCache;
  return -1;
}

/** A {@link RewardFn} giving the DAPO soft overlong penalty (≤ 0). */
export function lengthPenalty(opts: LengthPenaltyOptions): RewardFn {
  const { maxCompletionLength: max, softPunishCache: cache } = opts;
  if (!Number.isInteger(max) || max < 1) throw new Error(`lengthPenalty: maxCompletionLength must be a positive integer, got ${String(max)}`);
  if (!Number.isInteger(cache) || cache < 1 || cache > max) {
    throw new Error(`lengthPenalty: softPunishCache must be an integer in [1, maxCompletionLength=${max}], got ${String(cache)}`);
  }
  const name = opts.name ?? 'soft_overlong';
  const key = opts.lengthKey ?? 'completionLength';
  const count = (s: RewardSample, i: number): number => {
    if (opts.countTokens) return opts.countTokens(s);
    const v = s.meta?.[key];
    if (Array.isArray(v)) return v.length;
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
    throw new Error(
      `${name}: sample ${i} needs meta.${key} (token count or token ids), or pass countTokens; got ${JSON.stringify(v)}`,
    );
  };
  return namedReward(name, (s, i) => softOverlongPenalty(count(s, i), max, cache));
}


/** TRL's name for {@link lengthPenalty}. */
export const softOverlongPunishment = lengthPenalty;
