/**
 * Numerical property checks every divergence must pass (method.md): Fenchel–Young, conjugacy,
 * the link maps into dom f*, finite composite sides, tensor/number agreement, the declared slopes
 * at 0, and optimal-critic recovery of the closed-form divergence on small discrete distributions.
 */
import { tf } from '@falign/core';
import { definitionProblems } from './registry.js';
import type { DivergenceDefinition, Interval } from './types.js';

/** Result of {@link checkDivergence}: `ok` when `failures` is empty. */
export interface DivergenceCheckResult {
  ok: boolean;
  /** One line per failed property, naming the property and the offending input. */
  failures: string[];
}

const POSITIVE = { lo: 0, hi: Infinity };

function inside(x: number, iv: Interval): boolean {
  const aboveLo = iv.loClosed ? x >= iv.lo : x > iv.lo;
  const belowHi = iv.hiClosed ? x <= iv.hi : x < iv.hi;
  return aboveLo && belowHi;
}

function close(a: number, b: number, rel: number, abs = rel): boolean {
  return Math.abs(a - b) <= abs + rel * Math.abs(b);
}

function linspace(lo: number, hi: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
}

function logspace(lo: number, hi: number, n: number): number[] {
  return linspace(Math.log(lo), Math.log(hi), n).map(Math.exp);
}

/** Grid of u inside dom f: log-spaced positives, plus negatives when dom f extends below 0. */
function uGrid(fDomain: Interval, n: number): number[] {
  const pos = logspace(1e-4, 1e4, n);
  const neg = fDomain.lo < 0 ? pos.map((u) => -u) : [];
  const grid = [...neg, ...(inside(0, fDomain) ? [0] : []), ...pos];
  return grid.filter((u) => inside(u, fDomain)).sort((a, b) => a - b);
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : x.toPrecision(6));

// Small discrete distribution pairs (P, Q) with full support, including a far-apart pair.
const DISTRIBUTION_PAIRS: Array<[number[], number[]]> = [
  [[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25]],
  [[0.5, 0.3, 0.2], [0.2, 0.3, 0.5]],
  [[0.7, 0.1, 0.1, 0.1], [0.05, 0.45, 0.3, 0.2]],
  [[0.02, 0.98], [0.9, 0.1]],
];

/**
 * Runs the property checks of method.md on a divergence definition and reports every failure.
 * Needs an initialised tfjs backend (for the tensor/number agreement check).
 */
export function checkDivergence(def: DivergenceDefinition): DivergenceCheckResult {
  const structural = definitionProblems(def);
  if (structural.length > 0) return { ok: false, failures: structural.map((p) => `definition: ${p}`) };

  const failures: string[] = [];
  const fail = (check: string, detail: string) => {
    if (failures.filter((f) => f.startsWith(check)).length < 3) failures.push(`${check}: ${detail}`);
  };
  const fDomain = def.fDomain ?? POSITIVE;
  const fPrime = def.fPrime ?? ((u: number) => (def.f(u + 1e-6) - def.f(u - 1e-6)) / 2e-6);

  // Convexity of f (second differences on a grid inside dom f).
  const us = uGrid(fDomain, 400);
  for (let i = 1; i + 1 < us.length; i++) {
    const [a, b, c] = [us[i - 1], us[i], us[i + 1]];
    const chord = def.f(a) + ((def.f(c) - def.f(a)) * (b - a)) / (c - a);
    if (def.f(b) > chord + 1e-9 * (1 + Math.abs(chord))) fail('convexity', `f lies above its chord at u = ${fmt(b)}`);
  }

  // The link maps into dom f*, is non-decreasing, and the composite sides are finite and equal to
  // their literal forms −g(v) and f*(g(v)).
  const vWide = [-700, -300, -100, ...linspace(-50, 50, 201), 100, 300, 700];
  let prevLink = -Infinity;
  for (const v of vWide) {
    const t = def.link(v);
    // Beyond |v| ≈ 20 an open-ended link may round onto the boundary in float64; allow the closure there.
    const dom = Math.abs(v) <= 20 ? def.fStarDomain : { ...def.fStarDomain, loClosed: true, hiClosed: true };
    if (!inside(t, dom)) fail('link range', `g(${fmt(v)}) = ${fmt(t)} is outside dom f*`);
    if (t < prevLink) fail('link monotone', `g decreases at v = ${fmt(v)}`);
    prevLink = t;
    const pos = def.posSide(v);
    const neg = def.negSide(v);
    if (!Number.isFinite(pos)) fail('finite', `posSide(${fmt(v)}) = ${pos}`);
    if (!Number.isFinite(neg)) fail('finite', `negSide(${fmt(v)}) = f*(g(${fmt(v)})) = ${neg}`);
    if (Math.abs(v) <= 10) {
      if (!close(pos, -t, 1e-7)) fail('posSide = −g', `at v = ${fmt(v)}: ${fmt(pos)} vs ${fmt(-t)}`);
      const literal = def.fStar(t);
      if (!close(neg, literal, 1e-6)) fail('negSide = f*∘g', `at v = ${fmt(v)}: ${fmt(neg)} vs ${fmt(literal)}`);
    }
  }

  // Declared slopes at v = 0 (central differences).
  const h = 1e-5;
  const posSlope = -(def.posSide(h) - def.posSide(-h)) / (2 * h);
  const negSlope = (def.negSide(h) - def.negSide(-h)) / (2 * h);
  if (!close(posSlope, def.slopes.positive, 1e-4)) {
    fail('slopes', `−posSide'(0) = ${fmt(posSlope)} but slopes.positive = ${fmt(def.slopes.positive)}`);
  }
  if (!close(negSlope, def.slopes.negative, 1e-4)) {
    fail('slopes', `negSide'(0) = ${fmt(negSlope)} but slopes.negative = ${fmt(def.slopes.negative)}`);
  }

  // Fenchel–Young: f(u) + f*(t) ≥ u·t for u in dom f and t = g(v) in dom f*.
  const ts = linspace(-6, 6, 61).map((v) => def.link(v));
  const usCoarse = uGrid(fDomain, 120);
  for (const t of ts) {
    const ft = def.fStar(t);
    for (const u of usCoarse) {
      const fu = def.f(u);
      if (fu + ft < u * t - 1e-9 * (1 + Math.abs(u * t))) {
        fail('Fenchel–Young', `f(${fmt(u)}) + f*(${fmt(t)}) = ${fmt(fu + ft)} < u·t = ${fmt(u * t)}`);
      }
    }
  }

  // Conjugacy: at t₀ = f'(u₀), f*(t₀) equals the grid supremum of u·t₀ − f(u).
  const usFine = uGrid(fDomain, 6000);
  for (const u0 of [0.2, 0.5, 0.8, 1.5, 2, 4]) {
    if (!inside(u0, fDomain)) continue;
    const t0 = fPrime(u0);
    if (!inside(t0, def.fStarDomain)) {
      fail('conjugacy', `f'(${fmt(u0)}) = ${fmt(t0)} lies outside dom f*`);
      continue;
    }
    let sup = -Infinity;
    for (const u of usFine) sup = Math.max(sup, u * t0 - def.f(u));
    const ft = def.fStar(t0);
    if (!close(ft, sup, 1e-4)) fail('conjugacy', `f*(${fmt(t0)}) = ${fmt(ft)} but sup_u(u·t − f(u)) ≈ ${fmt(sup)}`);
  }

  // Optimal-critic recovery and the variational bound on small discrete distributions.
  let seed = 12345;
  const uniform = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (const [p, q] of DISTRIBUTION_PAIRS) {
    const exact = q.reduce((acc, qi, i) => acc + qi * def.f(p[i] / qi), 0);
    const tStar = p.map((pi, i) => fPrime(pi / q[i]));
    const est = p.reduce((acc, pi, i) => acc + pi * tStar[i], 0) - q.reduce((acc, qi, i) => acc + qi * def.fStar(tStar[i]), 0);
    if (!close(est, exact, 1e-6)) {
      fail('optimal critic', `P=[${p}] Q=[${q}]: E_P[T*] − E_Q[f*(T*)] = ${fmt(est)} ≠ D_f = ${fmt(exact)}`);
    }
    for (let k = 0; k < 20; k++) {
      const v = p.map(() => (uniform() - 0.5) * 8);
      const bound = p.reduce((acc, pi, i) => acc - pi * def.posSide(v[i]), 0) - q.reduce((acc, qi, i) => acc + qi * def.negSide(v[i]), 0);
      if (bound > exact + 1e-9 * (1 + Math.abs(exact))) {
        fail('variational bound', `P=[${p}] Q=[${q}]: critic g(v) gives ${fmt(bound)} > D_f = ${fmt(exact)}`);
      }
    }
  }

  // Tensor and number forms agree (float32 tolerances), and the tensor sides stay finite.
  const vTensor = linspace(-20, 20, 81);
  const tTensor = linspace(-5, 5, 41).map((v) => def.link(v));
  try {
    const [link, pos, neg, fStar] = tf.tidy(() => {
      const v = tf.tensor1d(vTensor, 'float32');
      const t = tf.tensor1d(tTensor, 'float32');
      return [def.tensor.link(v), def.tensor.posSide(v), def.tensor.negSide(v), def.tensor.fStar(t)].map((x) =>
        Array.from(x.dataSync()),
      );
    });
    const compare = (label: string, got: number[], want: (x: number) => number, xs: number[]) => {
      xs.forEach((x, i) => {
        const w = want(Math.fround(x));
        if (!Number.isFinite(got[i])) fail('tensor finite', `${label}(${fmt(x)}) = ${got[i]}`);
        else if (!close(got[i], w, 1e-4, 1e-5)) fail('tensor = number', `${label}(${fmt(x)}): tensor ${fmt(got[i])} vs number ${fmt(w)}`);
      });
    };
    compare('link', link, def.link, vTensor);
    compare('posSide', pos, def.posSide, vTensor);
    compare('negSide', neg, def.negSide, vTensor);
    compare('fStar', fStar, def.fStar, tTensor);
  } catch (err) {
    fail('tensor forms', `threw ${(err as Error).message}`);
  }

  return { ok: failures.length === 0, failures };
}
