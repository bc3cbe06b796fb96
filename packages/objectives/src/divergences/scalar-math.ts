/** Stable scalar helpers shared by the number forms of divergences and losses. */

/** softplus(x) = log(1 + eˣ) without overflow for large |x|. */
export function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/** log σ(x) = −softplus(−x). */
export function logSigmoid(x: number): number {
  return -softplus(-x);
}
