/**
 * Float64 reference implementations of the losses, written directly from method.md's formulas
 * with the divergences' number forms. Tests compare the tensor losses (float32) against these and
 * use them for central finite differences.
 */
import type { DivergenceDefinition } from '../../src/index.js';

export function refFgrpo(
  logp: number[],
  ref: number[],
  old: number[],
  adv: number[],
  G: number,
  div: DivergenceDefinition,
  beta: number,
  gamma: number,
  clamp = 20,
  lengths?: number[],
  weights?: number[],
): number {
  let total = 0;
  for (let i = 0; i < logp.length; i++) {
    let s = beta * (logp[i] - ref[i]) + gamma * (logp[i] - old[i]);
    if (lengths) s /= lengths[i];
    s = Math.min(clamp, Math.max(-clamp, s));
    const w = weights ? weights[i] : Math.abs(adv[i]);
    if (adv[i] > 0) total += w * div.posSide(s);
    else if (adv[i] < 0) total += w * div.negSide(s);
  }
  return total / logp.length; // (1/G)·Σ over a group, mean over N/G prompts = Σ / N
}

export function refFdo(pos: number[], posRef: number[], neg: number[], negRef: number[], div: DivergenceDefinition, beta: number): number {
  const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);
  return mean(pos.map((l, i) => div.posSide(beta * (l - posRef[i])))) + mean(neg.map((l, i) => div.negSide(beta * (l - negRef[i]))));
}

export function refKldo(pos: number[], posRef: number[], neg: number[], negRef: number[], beta: number): number {
  const rp = pos.map((l, i) => beta * (l - posRef[i]));
  const rn = neg.map((l, i) => beta * (l - negRef[i]));
  return -rp.reduce((a, b) => a + b, 0) / rp.length + Math.log(rn.reduce((a, r) => a + Math.exp(r), 0) / rn.length);
}

/** Central difference of f at x along coordinate i. */
export function centralDiff(f: (x: number[]) => number, x: number[], i: number, h = 1e-5): number {
  const up = [...x];
  const down = [...x];
  up[i] += h;
  down[i] -= h;
  return (f(up) - f(down)) / (2 * h);
}

/** Deterministic pseudo-random numbers in [lo, hi). */
export function seeded(seed: number): (lo?: number, hi?: number) => number {
  let s = seed >>> 0;
  return (lo = 0, hi = 1) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((hi - lo) * s) / 4294967296;
  };
}
