import type { tf } from '@falign/core';

type Tensor = tf.Tensor;

/** An interval of the real line; `lo`/`hi` may be ±Infinity. Endpoints are open unless marked closed. */
export interface Interval {
  lo: number;
  hi: number;
  loClosed?: boolean;
  hiClosed?: boolean;
}

/**
 * Tensor forms of a divergence's functions, used in training. They must compute the same values
 * as the number forms (checked by {@link checkDivergence}) in numerically stable form.
 */
export interface DivergenceTensorFns {
  /** Convex conjugate f*(t), elementwise. */
  fStar(t: Tensor): Tensor;
  /** Link g(v), elementwise. */
  link(v: Tensor): Tensor;
  /** Positive (aligned) side −g(v), elementwise. */
  posSide(v: Tensor): Tensor;
  /** Negative (unaligned) side f*(g(v)), elementwise. */
  negSide(v: Tensor): Tensor;
}

/**
 * An f-divergence in the variational (f-GAN) form used by FDO, f-GRPO and f-HAL:
 * `D_f(P‖Q) ≥ E_P[g(v)] − E_Q[f*(g(v))]`, written as the two composite sides
 * `posSide(v) = −g(v)` and `negSide(v) = f*(g(v))` that the losses average.
 */
export interface DivergenceDefinition {
  /** Registry key, e.g. `'pearson'`. */
  name: string;
  /** One-line human description. */
  description?: string;
  /** The generator f(u), convex with f(1) = 0. */
  f(u: number): number;
  /** f'(u); gives the optimal critic T* = f'(dP/dQ). Optional: a central difference is used when absent. */
  fPrime?(u: number): number;
  /** Convex conjugate f*(t) = sup_u (u·t − f(u)). */
  fStar(t: number): number;
  /** Link g: ℝ → dom f*, monotone increasing. */
  link(v: number): number;
  /** −g(v), in stable form. */
  posSide(v: number): number;
  /** f*(g(v)), in stable form. */
  negSide(v: number): number;
  /** Domain of f; default (0, ∞). */
  fDomain?: Interval;
  /** Domain of f*. */
  fStarDomain: Interval;
  /**
   * Slopes at v = 0: `positive` = −d posSide/dv(0) = g'(0), `negative` = d negSide/dv(0).
   * Equal slopes make the first f-GRPO step a plain group-relative policy gradient.
   */
  slopes: { positive: number; negative: number };
  /** Tensor forms of the same functions. */
  tensor: DivergenceTensorFns;
  /** True for the six divergences of the f-GRPO paper. */
  paper?: boolean;
}
