/**
 * Unbiased pass@k (Chen et al., 2021, "Evaluating Large Language Models Trained on Code"):
 * with n samples of which c are correct, pass@k = 1 − C(n−c, k) / C(n, k), computed as the
 * numerically stable product 1 − ∏_{i=n−c+1}^{n} (1 − k/i).
 */
export function passAtK(n: number, c: number, k: number): number {
  if (!Number.isInteger(n) || !Number.isInteger(c) || !Number.isInteger(k)) throw new Error(`pass@k needs integers (n=${n}, c=${c}, k=${k})`);
  if (n < 1 || k < 1 || k > n || c < 0 || c > n) throw new Error(`pass@k needs 1 ≤ k ≤ n and 0 ≤ c ≤ n (n=${n}, c=${c}, k=${k})`);
  if (n - c < k) return 1;
  let prod = 1;
  for (let i = n - c + 1; i <= n; i++) prod *= 1 - k / i;
  return 1 - prod;
}

/** The k values worth reporting for n samples: powers of two up to n, plus n itself. */
export function reportKs(n: number): number[] {
  const ks: number[] = [];
  for (let k = 1; k <= n; k *= 2) ks.push(k);
  if (ks[ks.length - 1] !== n) ks.push(n);
  return ks;
}
