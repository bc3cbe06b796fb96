/**
 * Percentile bootstrap confidence intervals with a fixed seed, so a rescore reproduces the same
 * interval bit for bit.
 */
import { mean } from './stats.js';

/** Small seeded PRNG (mulberry32): uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@link bootstrapCI}. */
export interface BootstrapOptions {
  /** Resamples (default 1000). */
  iters?: number;
  /** PRNG seed (default 1234). */
  seed?: number;
  /** Two-sided coverage (default 0.95). */
  confidence?: number;
  /** Statistic of a resample (default: mean). */
  statistic?: (xs: readonly number[]) => number;
}

/** A bootstrap interval and the standard deviation of the bootstrap distribution. */
export interface BootstrapResult {
  lower: number;
  upper: number;
  /** Std of the resampled statistic (a bootstrap stderr). */
  stderr: number;
}

/** Linear-interpolated quantile of a sorted array (numpy's default). */
export function quantileSorted(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Percentile bootstrap CI of `statistic(values)`; NaNs when `values` is empty. */
export function bootstrapCI(values: readonly number[], opts: BootstrapOptions = {}): BootstrapResult {
  const n = values.length;
  if (n === 0) return { lower: Number.NaN, upper: Number.NaN, stderr: Number.NaN };
  const iters = opts.iters ?? 1000;
  const conf = opts.confidence ?? 0.95;
  const stat = opts.statistic ?? mean;
  const rand = mulberry32(opts.seed ?? 1234);
  const stats = new Array<number>(iters);
  const resample = new Array<number>(n);
  for (let b = 0; b < iters; b++) {
    for (let i = 0; i < n; i++) resample[i] = values[Math.floor(rand() * n)];
    stats[b] = stat(resample);
  }
  const m = mean(stats);
  let ss = 0;
  for (const s of stats) ss += (s - m) * (s - m);
  stats.sort((a, b) => a - b);
  const alpha = (1 - conf) / 2;
  return { lower: quantileSorted(stats, alpha), upper: quantileSorted(stats, 1 - alpha), stderr: iters > 1 ? Math.sqrt(ss / (iters - 1)) : Number.NaN };
}
