/** Descriptive statistics of per-document scores (pure functions). */

/** Arithmetic mean; NaN for an empty list. */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Sample standard deviation (n−1 denominator); NaN when n < 2. */
export function sampleStd(xs: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return Number.NaN;
  const m = mean(xs);
  let ss = 0;
  for (const x of xs) ss += (x - m) * (x - m);
  return Math.sqrt(ss / (n - 1));
}

/** Standard error of the mean, sample std (n−1) / √n, as lm-eval's `mean_stderr`; NaN when n < 2. */
export function stderrOfMean(xs: readonly number[]): number {
  return sampleStd(xs) / Math.sqrt(xs.length);
}
