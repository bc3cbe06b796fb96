import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@falign/core';
import { createKldoState, dpoLoss, fdoLoss, fgrpoLoss, fhalLoss, getDivergence, groupAdvantages, kldoLoss, listDivergences } from '../src/index.js';
import { centralDiff, refFdo, refKldo, seeded } from './helpers/reference.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const rnd = seeded(11);
const pos = [-3.1, -2.2, -4.0];
const posRef = [-3.0, -2.6, -3.5];
const neg = [-2.5, -5.0, -1.2, -3.3, -4.1];
const negRef = [-2.9, -4.4, -1.0, -3.3, -4.6];
const beta = 0.7;
const t1 = (x: number[]) => tf.tensor1d(x);

/** Value and gradient w.r.t. [pos ; neg] of an offline loss. */
function valueAndGrad(loss: (p: tf.Tensor1D, n: tf.Tensor1D) => tf.Scalar, p = pos, n = neg): { v: number; gp: number[]; gn: number[] } {
  return tf.tidy(() => {
    const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor) => loss(a as tf.Tensor1D, b as tf.Tensor1D))([t1(p), t1(n)]);
    return { v: value.dataSync()[0], gp: Array.from(grads[0].dataSync()), gn: Array.from(grads[1].dataSync()) };
  });
}

describe('fdoLoss', () => {
  it.each(listDivergences().slice(0, 8))('%s: value = −E+[g(r)] + E−[f*(g(r))] and gradients match finite differences', (name) => {
    const div = getDivergence(name);
    const r = valueAndGrad((p, n) => fdoLoss({ posLogp: p, posRefLogp: t1(posRef), negLogp: n, negRefLogp: t1(negRef) }, { divergence: name, beta }));
    expect(r.v).toBeCloseTo(refFdo(pos, posRef, neg, negRef, div, beta), 5);
    pos.forEach((_, i) => expect(r.gp[i]).toBeCloseTo(centralDiff((x) => refFdo(x, posRef, neg, negRef, div, beta), pos, i), 5));
    neg.forEach((_, i) => expect(r.gn[i]).toBeCloseTo(centralDiff((x) => refFdo(pos, posRef, x, negRef, div, beta), neg, i), 5));
  });

  it('JS is the logistic loss softplus(−r) + softplus(r) − 2 log 2 on a pair', () => {
    const v = tf.tidy(() => fdoLoss({ posLogp: t1([-1]), posRefLogp: t1([-2]), negLogp: t1([-3]), negRefLogp: t1([-2.5]) }, { divergence: 'jensen_shannon', beta: 1 }).dataSync()[0]);
    const sp = (x: number) => Math.log1p(Math.exp(x));
    expect(v).toBeCloseTo(sp(-1) + sp(-0.5) - 2 * Math.LN2, 6);
  });

  it('an empty side contributes 0; NaN → error', () => {
    const v = tf.tidy(() => fdoLoss({ posLogp: t1([-1]), posRefLogp: t1([-1.5]), negLogp: t1([]), negRefLogp: t1([]) }, { divergence: 'pearson', beta: 1 }).dataSync()[0]);
    expect(v).toBeCloseTo(-0.5, 6);
    expect(() => fdoLoss({ posLogp: t1([NaN]), posRefLogp: t1([0]), negLogp: t1([0]), negRefLogp: t1([0]) }, { divergence: 'kl', beta: 1 })).toThrow(
      /fdoLoss: posLogp contains NaN/,
    );
    expect(() => fdoLoss({ posLogp: t1([0, 1]), posRefLogp: t1([0]), negLogp: t1([0]), negRefLogp: t1([0]) }, { divergence: 'kl', beta: 1 })).toThrow(
      /posRefLogp has 1 rows, expected 2/,
    );
  });
});

describe('kldoLoss', () => {
  const batch = (p: tf.Tensor1D, n: tf.Tensor1D) => ({ posLogp: p, posRefLogp: t1(posRef), negLogp: n, negRefLogp: t1(negRef) });

  it('value is −E+[r] + log mean exp(r−) and the gradient matches finite differences', () => {
    const r = valueAndGrad((p, n) => kldoLoss(batch(p, n), { beta }));
    expect(r.v).toBeCloseTo(refKldo(pos, posRef, neg, negRef, beta), 5);
    pos.forEach((_, i) => expect(r.gp[i]).toBeCloseTo(centralDiff((x) => refKldo(x, posRef, neg, negRef, beta), pos, i), 5));
    neg.forEach((_, i) => expect(r.gn[i]).toBeCloseTo(centralDiff((x) => refKldo(pos, posRef, x, negRef, beta), neg, i), 5));
  });

  it('moving-average denominator: same value, backward uses m ← 0.9·m + 0.1·mean(exp r)', () => {
    const state = createKldoState();
    const first = valueAndGrad((p, n) => kldoLoss(batch(p, n), { beta, movingAverage: { state } }));
    const plain = valueAndGrad((p, n) => kldoLoss(batch(p, n), { beta }));
    // The first batch initialises the average to its own mean, so the gradient equals the plain one.
    expect(first.v).toBeCloseTo(plain.v, 6);
    first.gn.forEach((g, i) => expect(g).toBeCloseTo(plain.gn[i], 6));
    const rn1 = neg.map((l, i) => beta * (l - negRef[i]));
    const m1 = rn1.reduce((a, r) => a + Math.exp(r), 0) / rn1.length;
    expect(state.logMovingAverage).toBeCloseTo(Math.log(m1), 5);

    const neg2 = neg.map((l) => l + 1.5);
    const second = valueAndGrad((p, n) => kldoLoss(batch(p, n), { beta, movingAverage: { state } }), pos, neg2);
    const rn2 = neg2.map((l, i) => beta * (l - negRef[i]));
    const b2 = rn2.reduce((a, r) => a + Math.exp(r), 0) / rn2.length;
    const m2 = 0.9 * m1 + 0.1 * b2;
    expect(state.logMovingAverage).toBeCloseTo(Math.log(m2), 5);
    expect(second.v).toBeCloseTo(refKldo(pos, posRef, neg2, negRef, beta), 5); // forward value unchanged
    second.gn.forEach((g, i) => expect(g).toBeCloseTo((beta * Math.exp(rn2[i])) / (rn2.length * m2), 5));
    // and it differs from the plain batch gradient (which would divide by b2)
    expect(Math.abs(second.gn[0] - (beta * Math.exp(rn2[0])) / (rn2.length * b2))).toBeGreaterThan(1e-3);
  });
});

describe('dpoLoss', () => {
  const lp = [-4.2, -7.1, -3.3];
  const b = (c: tf.Tensor1D, r: tf.Tensor1D, cref = lp, rref = lp) => ({ chosenLogp: c, chosenRefLogp: t1(cref), rejectedLogp: r, rejectedRefLogp: t1(rref) });

  it('is exactly ln 2 at initialisation (policy = reference)', () => {
    const v = tf.tidy(() => dpoLoss(b(t1(lp), t1([-1, -2, -3]), lp, [-1, -2, -3]), { beta: 0.1 }).dataSync()[0]);
    expect(v).toBe(Math.fround(Math.LN2));
  });

  it('sigmoid (with label smoothing), ipo and hinge values; gradient vs finite differences', () => {
    const ch = [-4.0, -7.5, -3.0];
    const rj = [-5.0, -6.0, -3.1];
    const cref = [-4.1, -7.0, -3.2];
    const rref = [-4.8, -6.3, -3.0];
    const margins = ch.map((c, i) => c - cref[i] - (rj[i] - rref[i]));
    const sp = (x: number) => Math.log1p(Math.exp(x));
    const mean = (xs: number[]) => xs.reduce((a, c) => a + c, 0) / xs.length;
    const ref = (c: number[], r: number[], ls: number) =>
      mean(c.map((cc, i) => { const m = cc - cref[i] - (r[i] - rref[i]); return (1 - ls) * sp(-0.5 * m) + ls * sp(0.5 * m); }));
    const g = valueAndGrad((c, r) => dpoLoss(b(c, r, cref, rref), { beta: 0.5, labelSmoothing: 0.1 }), ch, rj);
    expect(g.v).toBeCloseTo(ref(ch, rj, 0.1), 6);
    ch.forEach((_, i) => expect(g.gp[i]).toBeCloseTo(centralDiff((x) => ref(x, rj, 0.1), ch, i), 5));
    rj.forEach((_, i) => expect(g.gn[i]).toBeCloseTo(centralDiff((x) => ref(ch, x, 0.1), rj, i), 5));
    const ipo = tf.tidy(() => dpoLoss(b(t1(ch), t1(rj), cref, rref), { beta: 0.5, lossType: 'ipo' }).dataSync()[0]);
    expect(ipo).toBeCloseTo(mean(margins.map((m) => (m - 1) ** 2)), 5);
    const hinge = tf.tidy(() => dpoLoss(b(t1(ch), t1(rj), cref, rref), { beta: 0.5, lossType: 'hinge' }).dataSync()[0]);
    expect(hinge).toBeCloseTo(mean(margins.map((m) => Math.max(0, 1 - 0.5 * m))), 6);
  });

  it('rejects bad options and NaN', () => {
    expect(() => dpoLoss(b(t1(lp), t1(lp)), { beta: 0 })).toThrow(/beta must be > 0/);
    expect(() => dpoLoss(b(t1(lp), t1(lp)), { beta: 0.1, labelSmoothing: 0.7 })).toThrow(/labelSmoothing = 0.7/);
    expect(() => dpoLoss(b(t1([NaN, 0, 0]), t1(lp)), { beta: 0.1 })).toThrow(/chosenLogp contains NaN/);
  });
});

describe('fhalLoss', () => {
  const G = 2;
  const on = [-2, -3, -1.5, -4];
  const onRef = on.map((x) => x + rnd(-0.3, 0.3));
  const onOld = on.map((x) => x + rnd(-0.2, 0.2));
  const rewards = [1, 0, 0.2, 0.9];
  const onBatch = (x: tf.Tensor1D) => ({ logp: x, refLogp: t1(onRef), oldLogp: t1(onOld), rewards, groupSize: G });
  const offBatch = (x: tf.Tensor1D) => ({ posLogp: tf.slice(x, 0, 3) as tf.Tensor1D, posRefLogp: t1(posRef), negLogp: tf.slice(x, 3, 2) as tf.Tensor1D, negRefLogp: t1(negRef.slice(0, 2)) });
  const opts = { divergence: 'hellinger', beta: 0.3, gamma: 1 };
  const offX = [...pos, ...neg.slice(0, 2)];

  // tf.valueAndGrads insists y depends on every x: add an exact 0·Σx term so unused inputs get 0.
  function run(loss: (a: tf.Tensor1D, b: tf.Tensor1D) => tf.Scalar) {
    return valueAndGrad((a, b) => tf.add(loss(a, b), tf.mul(0, tf.add(tf.sum(a), tf.sum(b)))) as tf.Scalar, on, offX);
  }

  it('λ = 0 is f-GRPO and λ = 1 is FDO (values and gradients); λ = ½ mixes them', () => {
    const fg = run((a) => fgrpoLoss(onBatch(a), opts));
    const fd = run((_a, b) => fdoLoss(offBatch(b), opts));
    const h0 = run((a, b) => fhalLoss(onBatch(a), offBatch(b), { ...opts, lambda: 0 }));
    const h1 = run((a, b) => fhalLoss(onBatch(a), offBatch(b), { ...opts, lambda: 1 }));
    const hh = run((a, b) => fhalLoss(onBatch(a), offBatch(b), { ...opts, lambda: 0.5 }));
    expect(h0.v).toBe(fg.v);
    expect(h0.gp).toEqual(fg.gp);
    expect(h0.gn.every((g) => g === 0)).toBe(true);
    expect(h1.v).toBe(fd.v);
    expect(h1.gn).toEqual(fd.gn);
    expect(h1.gp.every((g) => g === 0)).toBe(true);
    expect(hh.v).toBeCloseTo(0.5 * fg.v + 0.5 * fd.v, 6);
    hh.gp.forEach((g, i) => expect(g).toBeCloseTo(0.5 * fg.gp[i], 6));
    hh.gn.forEach((g, i) => expect(g).toBeCloseTo(0.5 * fd.gn[i], 6));
    expect(groupAdvantages(rewards, G).every((a) => a !== 0)).toBe(true);
  });

  it('needs the batches its λ uses', () => {
    expect(() => fhalLoss(null, null, { ...opts, lambda: 0.5 })).toThrow(/lambda < 1 needs an on-policy batch/);
    expect(() => fhalLoss(null, null, { ...opts, lambda: 1.5 })).toThrow(/lambda = 1.5 must be a finite number in \[0, 1\]/);
  });
});
