/**
 * The built-in f-divergences: the six of the f-GRPO paper (kl, reverse_kl, pearson, hellinger,
 * jensen_shannon, total_variation) and two more (neyman, gan). One table, number and tensor forms
 * side by side so they are easy to compare; composite sides are written in stable form
 * (softplus, expm1) rather than as f*(g(v)) literally.
 */
import { tf } from '@falign/core';
import { softplus } from './scalar-math.js';
import type { DivergenceDefinition } from './types.js';

const LOG2 = Math.LN2;
const REAL = { lo: -Infinity, hi: Infinity };

/** Forward KL: f(u) = u log u, identity link. The only built-in with unequal slopes at 0 (1 vs e⁻¹). */
export const kl: DivergenceDefinition = {
  name: 'kl',
  description: 'Kullback–Leibler KL(P‖Q): f(u) = u log u, f*(t) = exp(t−1), g(v) = v',
  paper: true,
  f: (u) => (u === 0 ? 0 : u * Math.log(u)),
  fPrime: (u) => Math.log(u) + 1,
  fStar: (t) => Math.exp(t - 1),
  link: (v) => v,
  posSide: (v) => -v,
  negSide: (v) => Math.exp(v - 1),
  fStarDomain: REAL,
  slopes: { positive: 1, negative: Math.exp(-1) },
  tensor: {
    fStar: (t) => tf.exp(tf.sub(t, 1)),
    link: (v) => tf.clone(v),
    posSide: (v) => tf.neg(v),
    negSide: (v) => tf.exp(tf.sub(v, 1)),
  },
};

/** Reverse KL: f(u) = −log u, link −exp(−v). */
export const reverseKl: DivergenceDefinition = {
  name: 'reverse_kl',
  description: 'reverse KL KL(Q‖P): f(u) = −log u, f*(t) = −1 − log(−t), g(v) = −exp(−v)',
  paper: true,
  f: (u) => -Math.log(u),
  fPrime: (u) => -1 / u,
  fStar: (t) => -1 - Math.log(-t),
  link: (v) => -Math.exp(-v),
  posSide: (v) => Math.exp(-v),
  negSide: (v) => v - 1,
  fStarDomain: { lo: -Infinity, hi: 0 },
  slopes: { positive: 1, negative: 1 },
  tensor: {
    fStar: (t) => tf.sub(-1, tf.log(tf.neg(t))),
    link: (v) => tf.neg(tf.exp(tf.neg(v))),
    posSide: (v) => tf.exp(tf.neg(v)),
    negSide: (v) => tf.sub(v, 1),
  },
};

/** Pearson χ²: f(u) = (u−1)² (on ℝ, the f-GAN convention), identity link. */
export const pearson: DivergenceDefinition = {
  name: 'pearson',
  description: 'Pearson χ²: f(u) = (u−1)², f*(t) = t + t²/4, g(v) = v',
  paper: true,
  f: (u) => (u - 1) * (u - 1),
  fPrime: (u) => 2 * (u - 1),
  fStar: (t) => t + (t * t) / 4,
  link: (v) => v,
  posSide: (v) => -v,
  negSide: (v) => v + (v * v) / 4,
  fDomain: REAL,
  fStarDomain: REAL,
  slopes: { positive: 1, negative: 1 },
  tensor: {
    fStar: (t) => tf.add(t, tf.mul(tf.square(t), 0.25)),
    link: (v) => tf.clone(v),
    posSide: (v) => tf.neg(v),
    negSide: (v) => tf.add(v, tf.mul(tf.square(v), 0.25)),
  },
};

/** Squared Hellinger: f(u) = (√u − 1)², link 1 − exp(−v). */
export const hellinger: DivergenceDefinition = {
  name: 'hellinger',
  description: 'squared Hellinger: f(u) = (√u−1)², f*(t) = t/(1−t), g(v) = 1 − exp(−v)',
  paper: true,
  f: (u) => (Math.sqrt(u) - 1) ** 2,
  fPrime: (u) => 1 - 1 / Math.sqrt(u),
  fStar: (t) => t / (1 - t),
  link: (v) => -Math.expm1(-v),
  posSide: (v) => Math.expm1(-v),
  negSide: (v) => Math.expm1(v),
  fStarDomain: { lo: -Infinity, hi: 1 },
  slopes: { positive: 1, negative: 1 },
  tensor: {
    fStar: (t) => tf.div(t, tf.sub(1, t)),
    link: (v) => tf.neg(tf.expm1(tf.neg(v))),
    posSide: (v) => tf.expm1(tf.neg(v)),
    negSide: (v) => tf.expm1(v),
  },
};

/** Jensen–Shannon: link log 2 − softplus(−v); the FDO loss becomes a logistic (BCO-like) one. */
export const jensenShannon: DivergenceDefinition = {
  name: 'jensen_shannon',
  description: 'Jensen–Shannon: f(u) = u log u − (u+1) log((u+1)/2), f*(t) = −log(2 − eᵗ), g(v) = log 2 − softplus(−v)',
  paper: true,
  f: (u) => (u === 0 ? 0 : u * Math.log(u)) - (u + 1) * Math.log((u + 1) / 2),
  fPrime: (u) => Math.log((2 * u) / (u + 1)),
  fStar: (t) => -Math.log(2 - Math.exp(t)),
  link: (v) => LOG2 - softplus(-v),
  posSide: (v) => softplus(-v) - LOG2,
  negSide: (v) => softplus(v) - LOG2,
  fStarDomain: { lo: -Infinity, hi: LOG2 },
  slopes: { positive: 0.5, negative: 0.5 },
  tensor: {
    fStar: (t) => tf.neg(tf.log(tf.sub(2, tf.exp(t)))),
    link: (v) => tf.sub(LOG2, tf.softplus(tf.neg(v))),
    posSide: (v) => tf.sub(tf.softplus(tf.neg(v)), LOG2),
    negSide: (v) => tf.sub(tf.softplus(v), LOG2),
  },
};

/** Total variation: f(u) = ½|u−1|, link ½ tanh(v); the FDO loss becomes a sigmoid (KTO-like) one. */
export const totalVariation: DivergenceDefinition = {
  name: 'total_variation',
  description: 'total variation: f(u) = ½|u−1|, f*(t) = t on |t| ≤ ½, g(v) = ½ tanh(v)',
  paper: true,
  f: (u) => 0.5 * Math.abs(u - 1),
  fPrime: (u) => 0.5 * Math.sign(u - 1),
  fStar: (t) => (Math.abs(t) <= 0.5 ? t : Infinity),
  link: (v) => 0.5 * Math.tanh(v),
  posSide: (v) => -0.5 * Math.tanh(v),
  negSide: (v) => 0.5 * Math.tanh(v),
  fStarDomain: { lo: -0.5, hi: 0.5, loClosed: true, hiClosed: true },
  slopes: { positive: 0.5, negative: 0.5 },
  tensor: {
    // Valid on dom f* = [−½, ½]; outside it f* is +∞ and never reached through the link.
    fStar: (t) => tf.clone(t),
    link: (v) => tf.mul(tf.tanh(v), 0.5),
    posSide: (v) => tf.mul(tf.tanh(v), -0.5),
    negSide: (v) => tf.mul(tf.tanh(v), 0.5),
  },
};

/** Neyman χ² (beyond the paper): f(u) = (1−u)²/u, link 1 − exp(−v). */
export const neyman: DivergenceDefinition = {
  name: 'neyman',
  description: 'Neyman χ²: f(u) = (1−u)²/u, f*(t) = 2 − 2√(1−t), g(v) = 1 − exp(−v)',
  f: (u) => ((1 - u) * (1 - u)) / u,
  fPrime: (u) => 1 - 1 / (u * u),
  fStar: (t) => 2 - 2 * Math.sqrt(1 - t),
  link: (v) => -Math.expm1(-v),
  posSide: (v) => Math.expm1(-v),
  // f*(1 − e^{−v}) = 2 − 2e^{−v/2}
  negSide: (v) => -2 * Math.expm1(-v / 2),
  fStarDomain: { lo: -Infinity, hi: 1, hiClosed: true },
  slopes: { positive: 1, negative: 1 },
  tensor: {
    fStar: (t) => tf.sub(2, tf.mul(tf.sqrt(tf.sub(1, t)), 2)),
    link: (v) => tf.neg(tf.expm1(tf.neg(v))),
    posSide: (v) => tf.expm1(tf.neg(v)),
    negSide: (v) => tf.mul(tf.expm1(tf.mul(v, -0.5)), -2),
  },
};

/**
 * The f-GAN "GAN" divergence (beyond the paper): f(u) = u log u − (u+1) log(u+1), link log σ(v).
 * Note f(1) = −log 4 (it is 2·JS − log 4); the offset changes neither gradients nor the optimal critic.
 */
export const gan: DivergenceDefinition = {
  name: 'gan',
  description: 'GAN: f(u) = u log u − (u+1) log(u+1), f*(t) = −log(1 − eᵗ), g(v) = −softplus(−v)',
  f: (u) => (u === 0 ? 0 : u * Math.log(u)) - (u + 1) * Math.log(u + 1),
  fPrime: (u) => Math.log(u / (u + 1)),
  fStar: (t) => -Math.log(-Math.expm1(t)),
  link: (v) => -softplus(-v),
  posSide: (v) => softplus(-v),
  negSide: (v) => softplus(v),
  fStarDomain: { lo: -Infinity, hi: 0 },
  slopes: { positive: 0.5, negative: 0.5 },
  tensor: {
    fStar: (t) => tf.neg(tf.log(tf.neg(tf.expm1(t)))),
    link: (v) => tf.neg(tf.softplus(tf.neg(v))),
    posSide: (v) => tf.softplus(tf.neg(v)),
    negSide: (v) => tf.softplus(v),
  },
};

/** All built-ins, in the order the paper lists them, then the extras. */
export const BUILTIN_DIVERGENCES: readonly DivergenceDefinition[] = [
  kl,
  reverseKl,
  pearson,
  hellinger,
  jensenShannon,
  totalVariation,
  neyman,
  gan,
];

/** Names of the six divergences the f-GRPO paper evaluates. */
export const PAPER_DIVERGENCES = ['kl', 'reverse_kl', 'pearson', 'hellinger', 'jensen_shannon', 'total_variation'] as const;
