/**
 * N-gram repetition penalty (TRL / open-r1 `get_repetition_penalty_reward`): words are the
 * lower-cased whitespace-separated tokens; the penalty is `(1 - distinct/total n-grams) ·
 * maxPenalty`, 0 for empty completions and for those shorter than `ngramSize` words.
 */
import type { RewardFn } from '../types.js';
import { completionOf, namedReward } from './named.js';

/** The repetition penalty of one text. */
export function ngramRepetitionPenalty(text: string, ngramSize: number, maxPenalty: number): number {
  if (text === '') return 0;
  const words = text.toLowerCase().split(/\s+/).filter((w) => w !== '');
  if (words.length < ngramSize) return 0;
  const seen = new Set<string>();
  let total = 0;
  for (let i = 0; i + ngramSize <= words.length; i++) {
    seen.add(JSON.stringify(words.slice(i, i + ngramSize)));
    total++;
  }
  const penalty = (1 - seen.size / total) * maxPenalty;
  return penalty === 0 ? 0 : penalty; // no -0 when nothing repeats
}

/** A {@link RewardFn} penalising repeated n-grams; `maxPenalty` must be ≤ 0 (as in TRL). */
export function repetitionPenalty(opts: { ngramSize?: number; maxPenalty?: number; name?: string } = {}): RewardFn {
  const ngramSize = opts.ngramSize ?? 3;
  const maxPenalty = opts.maxPenalty ?? -1;
  if (!Number.isInteger(ngramSize) || ngramSize < 1) throw new Error(`repetitionPenalty: ngramSize must be a positive integer, got ${String(ngramSize)}`);
  if (!Number.isFinite(maxPenalty) || maxPenalty > 0) throw new Error(`repetitionPenalty: maxPenalty ${String(maxPenalty)} should not be positive`);
  const name = opts.name ?? 'repetition_penalty';
  return namedReward(name, (s, i) => ngramRepetitionPenalty(completionOf(s, i, name), ngramSize, maxPenalty));
}
