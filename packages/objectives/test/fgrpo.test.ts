import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@falign/core';
import { fgrpoLoss, fgrpoTerms, fracRewardZeroStd, getDivergence, groupAdvantages, listDivergences } from '../src/index.js';
import { centralDiff, refFgrpo, seeded } from './helpers/reference.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const BUILTINS = listDivergences().slice(0, 8);

describe('groupAdvantages', () => {
  it('rewards [0, 1] in a group of 2 give ±0.5/(√0.5 + 1e-4) = ±0.707006795…', () => {
    // ε = 1e-4 (TRL) moves the textbook ±1/√2 = ±0.7071068 down to 0.7070068.
    const a = groupAdvantages([0, 1], 2);
    expect(a[0]).toBeCloseTo(-0.7070067953266834, 12);
    expect(a[1]).toBeCloseTo(0.7070067953266834, 12);
    expect(groupAdvantages([0, 1], 2, 'group', 0)[1]).toBeCloseTo(Math.SQRT1_2, 12);
  });

  it('null rewards are left out of the baseline and get 0; all-equal groups give 0', () => {
    const a = groupAdvantages([1, null, 0, 1, 3, 3, 3, 3], 4);
    const std = Math.sqrt(1 / 3); // unbiased std of {1, 0, 1}
    expect(a[0]).toBeCloseTo(1 / 3 / (std + 1e-4), 12);
    expect(a[1]).toBe(0);
    expect(a[2]).toBeCloseTo(-2 / 3 / (std + 1e-4), 12);
    expect(a.slice(4)).toEqual([0, 0, 0, 0]);
    expect(groupAdvantages([null, 1, null, null], 2)).toEqual([0, 0, 0, 0]);
    expect(fracRewardZeroStd([1, null, 0, 1, 3, 3, 3, 3], 4)).toBe(0.5);
  });

  it("'batch' divides by the batch std, 'none' only centres", () => {
    // batch rewards [0,1,0,0]: unbiased std 0.5
    const b = groupAdvantages([0, 1, 0, 0], 2, 'batch');
    expect(b[0]).toBeCloseTo(-0.5 / 0.5001, 12);
    expect(b[1]).toBeCloseTo(0.5 / 0.5001, 12);
    expect(b.slice(2)).toEqual([0, 0]);
    expect(groupAdvantages([0, 1, 2, 2, 5, 1], 2, 'none')).toEqual([-0.5, 0.5, 0, 0, 2, -2]);
  });

  it('bad input → clear errors', () => {
    expect(() => groupAdvantages([0, 1, 1], 2)).toThrow(/3 rewards do not split into whole groups of 2/);
    expect(() => groupAdvantages([0, NaN], 2)).toThrow(/rewards\[1\] = NaN is not a finite number/);
    expect(() => groupAdvantages([0, 1], 0)).toThrow(/groupSize must be a positive integer/);
  });
});

describe('fgrpoLoss', () => {
  const rnd = seeded(7);
  const N = 8;
  const G = 4;
  const logp = Array.from({ length: N }, () => rnd(-6, -1));
  const ref = logp.map((l) => l + rnd(-0.5, 0.5));
  const old = logp.map((l) => l + rnd(-0.3, 0.3));
  const rewards = [0, 1, 1, 0.5, 2, null, 0, 1];
  const adv = groupAdvantages(rewards, G);
  const beta = 0.1;
  const gamma = 1;

  function tensorLoss(div: string, x: number[], extra: Record<string, unknown> = {}) {
    return fgrpoLoss(
      { logp: tf.tensor1d(x), refLogp: tf.tensor1d(ref), oldLogp: tf.tensor1d(old), rewards, groupSize: G },
      { divergence: div, beta, gamma, ...extra },
    );
  }

  it.each(BUILTINS)('%s: value matches the float64 reference and the gradient matches central differences', (name) => {
    const div = getDivergence(name);
    const value = tf.tidy(() => tensorLoss(name, logp).dataSync()[0]);
    const want = refFgrpo(logp, ref, old, adv, G, div, beta, gamma);
    expect(value).toBeCloseTo(want, 5);
    const lossOf = (x: tf.Tensor) =>
      fgrpoLoss({ logp: x as tf.Tensor1D, refLogp: tf.tensor1d(ref), oldLogp: tf.tensor1d(old), rewards, groupSize: G }, { divergence: name, beta, gamma });
    const grad = tf.tidy(() => Array.from(tf.grad(lossOf)(tf.tensor1d(logp)).dataSync()));
    const f = (x: number[]) => refFgrpo(x, ref, old, adv, G, div, beta, gamma);
    grad.forEach((g, i) => expect(g).toBeCloseTo(centralDiff(f, logp, i), 5));
    expect(grad[5]).toBe(0); // null reward → advantage 0 → no gradient
  });

  it('π_θ = π_ref = π_old: gradient = −(β+γ)·slope·a_i/(P·G), the plain group-relative policy gradient', () => {
    const rewardsOracle = [0, 1, 0.25, 1, 3, 1, 2, 0];
    const a = groupAdvantages(rewardsOracle, G);
    const same = Array.from({ length: N }, () => rnd(-5, -1));
    for (const name of BUILTINS) {
      const div = getDivergence(name);
      const grad = tf.tidy(() =>
        Array.from(
          tf
            .grad((x: tf.Tensor) =>
              fgrpoLoss(
                { logp: x as tf.Tensor1D, refLogp: tf.tensor1d(same), oldLogp: tf.tensor1d(same), rewards: rewardsOracle, groupSize: G },
                { divergence: name, beta, gamma },
              ),
            )(tf.tensor1d(same))
            .dataSync(),
        ),
      );
      grad.forEach((g, i) => {
        const slope = a[i] > 0 ? div.slopes.positive : div.slopes.negative;
        expect(g).toBeCloseTo((-(beta + gamma) * slope * a[i]) / N, 6);
      });
      if (name !== 'kl') {
        // proportional to −a_i with one constant for the whole batch
        const ratio = grad.map((g, i) => g / -a[i]);
        ratio.forEach((r) => expect(r).toBeCloseTo(ratio[0], 6));
      } else {
        // KL: the unaligned side is damped by e⁻¹
        const posI = a.findIndex((x) => x > 0);
        const negI = a.findIndex((x) => x < 0);
        expect(grad[negI] / -a[negI] / (grad[posI] / -a[posI])).toBeCloseTo(Math.exp(-1), 6);
      }
    }
  });

  it('fgrpoTerms exposes advantages, per-sample terms and stats; loss = Σ perSample / N', () => {
    const t = fgrpoTerms(
      { logp: tf.tensor1d(logp), refLogp: tf.tensor1d(ref), oldLogp: tf.tensor1d(old), rewards, groupSize: G },
      { divergence: 'pearson', beta, gamma },
    );
    expect(t.advantages).toEqual(adv);
    expect(t.stats).toEqual({ prompts: 2, positive: adv.filter((x) => x > 0).length, negative: adv.filter((x) => x < 0).length, fracRewardZeroStd: 0 });
    const per = Array.from(t.perSample.dataSync());
    expect(t.loss.dataSync()[0]).toBeCloseTo(per.reduce((a, b) => a + b, 0) / N, 6);
    tf.dispose([t.loss, t.perSample, t.statistic]);
  });

  it('length normalisation divides the statistic by the completion length', () => {
    const lengths = [3, 5, 2, 7, 1, 4, 4, 9];
    const v = tf.tidy(() => tensorLoss('hellinger', logp, { lengthNormalize: true, lengths }).dataSync()[0]);
    expect(v).toBeCloseTo(refFgrpo(logp, ref, old, adv, G, getDivergence('hellinger'), beta, gamma, 20, lengths), 5);
    expect(() => tensorLoss('hellinger', logp, { lengthNormalize: true })).toThrow(/lengthNormalize needs lengths with 8 entries/);
  });

  it('experimental truncated importance weights: softmax of ±R − ℓold per side, capped', () => {
    const w = new Array<number>(N).fill(0);
    for (let g = 0; g < N; g += G) {
      for (const sign of [1, -1]) {
        const idx = [...Array(G).keys()].map((k) => g + k).filter((i) => Math.sign(adv[i]) === sign);
        const e = idx.map((i) => Math.exp(sign * (rewards[i] as number) - Math.fround(old[i])));
        const z = e.reduce((x, y) => x + y, 0);
        idx.forEach((i, k) => (w[i] = Math.min(1.5, (idx.length * e[k]) / z)));
      }
    }
    const v = tf.tidy(() => tensorLoss('jensen_shannon', logp, { weighting: { kind: 'importance', truncate: 1.5 } }).dataSync()[0]);
    expect(w.some((x) => x === 1.5)).toBe(true); // the cap is active in this example
    expect(v).toBeCloseTo(refFgrpo(logp, ref, old, adv, G, getDivergence('jensen_shannon'), beta, gamma, 20, undefined, w), 5);
  });

  it('the statistic clamp keeps an exploding sample finite (and its gradient 0)', () => {
    const wild = [...logp];
    const j = adv.findIndex((a) => a < 0);
    wild[j] = logp[j] + 500; // an a < 0 sample: KL's negative side would be exp(50)
    const t = tf.tidy(() => {
      const { value, grads } = tf.valueAndGrads((x: tf.Tensor) =>
        fgrpoLoss(
          { logp: x as tf.Tensor1D, refLogp: tf.tensor1d(ref), oldLogp: tf.tensor1d(old), rewards, groupSize: G },
          { divergence: 'kl', beta, gamma },
        ),
      )([tf.tensor1d(wild)]);
      return { v: value.dataSync()[0], g: Array.from(grads[0].dataSync()) };
    });
    expect(Number.isFinite(t.v)).toBe(true);
    expect(t.g[j]).toBe(0);
    expect(t.g.every(Number.isFinite)).toBe(true);
  });

  it('NaN inputs and mismatched shapes → clear errors', () => {
    const bad = [...logp];
    bad[3] = NaN;
    expect(() => tensorLoss('kl', bad)).toThrow(/fgrpoLoss: logp contains NaN at flat index 3/);
    expect(() =>
      fgrpoLoss({ logp: tf.tensor1d(logp), refLogp: tf.tensor1d(ref.slice(1)), oldLogp: tf.tensor1d(old), rewards, groupSize: G }, { divergence: 'kl', beta }),
    ).toThrow(/refLogp has 7 rows, expected 8/);
    expect(() =>
      fgrpoLoss({ logp: tf.tensor1d(logp), refLogp: tf.tensor1d(ref), oldLogp: tf.tensor1d(old), rewards, groupSize: 3 }, { divergence: 'kl', beta }),
    ).toThrow(/8 samples do not split into whole groups of groupSize = 3/);
    expect(() => tensorLoss('nope', logp)).toThrow(/unknown divergence 'nope'/);
    expect(() => tensorLoss('kl', logp, { beta: NaN })).toThrow(/option beta = NaN/);
  });

  it('does not leak tensors', () => {
    const inputs = { logp: tf.tensor1d(logp), refLogp: tf.tensor1d(ref), oldLogp: tf.tensor1d(old), rewards, groupSize: G };
    const before = tf.memory().numTensors;
    for (let k = 0; k < 3; k++) fgrpoLoss(inputs, { divergence: 'gan', beta }).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([inputs.logp, inputs.refLogp, inputs.oldLogp]);
  });
});
