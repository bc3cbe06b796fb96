/**
 * Paired comparisons over seeds: methods share seeds, so the per-seed difference removes the
 * variation that seeds cause in both (data order, sampling), and a t-interval on the differences
 * says whether the mean difference is resolved at this number of seeds.
 */

/** Two-sided 95 % quantiles of Student's t (0.975 quantile) for 1–30 degrees of freedom. */
const T975: readonly number[] = [
  12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.306, 2.2622, 2.2281, 2.201, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.093,
  2.086, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
];

/** The 0.975 quantile of Student's t with `df` degrees of freedom (normal 1.96 beyond 30 is not used: 2.042→1.96 via a 1/df expansion). */
export function tQuantile975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new Error(`tQuantile975: degrees of freedom must be a positive integer, got ${df}`);
  if (df <= T975.length) return T975[df - 1];
  // Cornish–Fisher expansion in 1/df around the normal quantile (error < 1e-3 for df > 30).
  const z = 1.959964;
  return z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df * df);
}

/** better / worse / not resolved: whether the 95 % interval of a difference excludes 0. */
export type Verdict = 'better' | 'worse' | 'not resolved';

/** A paired difference (a − b) over shared seeds. */
export interface PairedDifference {
  /** Seeds present in both (sorted). */
  seeds: number[];
  /** Per-seed differences, in `seeds` order. */
  differences: number[];
  mean: number;
  /** 95 % t-interval of the mean difference; null with fewer than 2 seeds. */
  ci95: [number, number] | null;
  verdict: Verdict;
}

/**
 * Mean and t-based 95 % interval of the per-seed differences `a[s] − b[s]` over the seeds both
 * have. `higherIsBetter` orients the verdict. With < 2 shared seeds, or zero spread and zero mean,
 * the verdict is "not resolved"; with zero spread and non-zero mean the interval is the point.
 */
export function pairedDifference(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>, higherIsBetter = true): PairedDifference {
  const seeds = [...a.keys()].filter((s) => b.has(s) && Number.isFinite(a.get(s)) && Number.isFinite(b.get(s))).sort((x, y) => x - y);
  const differences = seeds.map((s) => (a.get(s) as number) - (b.get(s) as number));
  const n = differences.length;
  const mean = n > 0 ? differences.reduce((x, y) => x + y, 0) / n : Number.NaN;
  if (n < 2) return { seeds, differences, mean, ci95: null, verdict: 'not resolved' };
  const sd = Math.sqrt(differences.reduce((x, d) => x + (d - mean) ** 2, 0) / (n - 1));
  const half = tQuantile975(n - 1) * (sd / Math.sqrt(n));
  const ci95: [number, number] = [mean - half, mean + half];
  let verdict: Verdict = 'not resolved';
  if (ci95[0] > 0) verdict = higherIsBetter ? 'better' : 'worse';
  else if (ci95[1] < 0) verdict = higherIsBetter ? 'worse' : 'better';
  return { seeds, differences, mean, ci95, verdict };
}

/** `+12.3 [+4.1, +20.5]` with `digits` decimals (the interval omitted when unknown). */
export function formatDifference(d: Pick<PairedDifference, 'mean' | 'ci95'>, digits = 1): string {
  const f = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(digits)}`;
  if (!Number.isFinite(d.mean)) return 'n/a';
  return d.ci95 ? `${f(d.mean)} [${f(d.ci95[0])}, ${f(d.ci95[1])}]` : f(d.mean);
}
