/** Deterministic seeds and orders derived from the run seed. */
import { mulberry32 } from '../metrics/bootstrap.js';

/** A 31-bit seed for (run seed, document index, first sample index), stable across resumes. */
export function deriveSeed(seed: number, docIndex: number, sampleStart: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (docIndex + 0x632be5ab), 0xc2b2ae35);
  h = Math.imul(h ^ (sampleStart + 0x27d4eb2f), 0x165667b1);
  h ^= h >>> 16;
  return h >>> 1;
}

/** Fisher–Yates shuffle of a copy with a seeded PRNG. */
export function seededShuffle<T>(xs: readonly T[], seed: number): T[] {
  const out = [...xs];
  const rand = mulberry32(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
