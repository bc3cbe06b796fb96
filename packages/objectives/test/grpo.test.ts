import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@falign/core';
import { grpoLoss, grpoTerms, type GrpoLossType } from '../src/index.js';
import { centralDiff } from './helpers/reference.js';

beforeAll(async () => {
  await initBackend('cpu');
});

// Two sequences (one group of G = 2), widths 2 and 3 inside a padded T = 3.
const logp = [[-1.0, -2.0, -0.5], [-0.3, -1.2, -2.2]];
const old = [[-1.0, -2.4, -0.5], [-0.3, -0.8, -2.0]]; // log-ratios [[0, .4, 0], [0, −.4, −.2]]
const ref = [[-1.1, -2.0, -0.7], [-0.3, -1.0, -2.5]];
const mask = [[1, 1, 0], [1, 1, 1]];
const rewards = [1, 0];
const a = 0.5 / (Math.SQRT1_2 + 1e-4); // advantages [+a, −a]

const k3 = (d: number) => Math.exp(d) - d - 1;

/** float64 per-token GRPO loss written out from the definition (ε = 0.2, A = [a, −a]). */
function perToken(x: number[][], betaKl = 0): number[][] {
  const A = [a, -a];
  return x.map((row, i) =>
    row.map((lp, t) => {
      const rho = Math.exp(lp - old[i][t]);
      const clipped = Math.min(Math.max(rho, 0.8), 1.2);
      const d = ref[i][t] - lp;
      return (-Math.min(rho * A[i], clipped * A[i]) + betaKl * k3(d)) * mask[i][t];
    }),
  );
}
function aggregate(pt: number[][], type: GrpoLossType, maxLen = 3, numItems = 5): number {
  const total = pt.flat().reduce((s, v) => s + v, 0);
  if (type === 'grpo') return pt.map((r, i) => r.reduce((s, v) => s + v, 0) / mask[i].reduce((s, v) => s + v, 0)).reduce((s, v) => s + v, 0) / 2;
  if (type === 'bnpo') return total / 5;
  if (type === 'dr_grpo') return total / (2 * maxLen);
  return total / numItems;
}

function terms(x: tf.Tensor2D, opts: Parameters<typeof grpoLoss>[1] = {}, withOld = true) {
  return grpoTerms(
    { tokenLogp: x, oldTokenLogp: withOld ? tf.tensor2d(old) : undefined, refTokenLogp: tf.tensor2d(ref), mask: tf.tensor2d(mask), rewards, groupSize: 2 },
    opts,
  );
}

describe('grpoLoss', () => {
  it('hand-computed aggregations (ratios 1, e^.4 clipped high, e^−.4 clipped low, e^−.2 inside)', () => {
    // per-token terms: row 0 (A = a): [−a, −1.2a]; row 1 (A = −a): [a, 0.8a, e^−0.2·a]
    const r1 = Math.exp(-0.2);
    const want: Record<GrpoLossType, number> = {
      grpo: ((-a - 1.2 * a) / 2 + (a + 0.8 * a + r1 * a) / 3) / 2,
      bnpo: (-2.2 * a + (1.8 + r1) * a) / 5,
      dr_grpo: (-2.2 * a + (1.8 + r1) * a) / (2 * 4),
      dapo: (-2.2 * a + (1.8 + r1) * a) / 10,
    };
    for (const type of ['grpo', 'bnpo', 'dr_grpo', 'dapo'] as const) {
      const t = terms(tf.tensor2d(logp), { lossType: type, maxCompletionLength: 4, numItemsInBatch: 10 });
      expect(t.loss.dataSync()[0]).toBeCloseTo(want[type], 6);
      expect(t.loss.dataSync()[0]).toBeCloseTo(aggregate(perToken(logp), type, 4, 10), 6);
      t.loss.dispose();
    }
  });

  it('clip fractions and the k3 KL metric', () => {
    const t = terms(tf.tensor2d(logp), { lossType: 'bnpo' });
    expect(t.clip.low).toBeCloseTo(1 / 5, 7);
    expect(t.clip.high).toBeCloseTo(1 / 5, 7);
    expect(t.clip.region).toBeCloseTo(2 / 5, 7);
    expect(t.kl).toBeCloseTo((k3(-0.1) + k3(0) + k3(0) + k3(0.2) + k3(-0.3)) / 5, 6);
    expect(t.activeTokens).toBe(5);
    expect(t.advantages[0]).toBeCloseTo(a, 12);
    expect(t.advantages[1]).toBeCloseTo(-a, 12);
    t.loss.dispose();
  });

  it.each(['grpo', 'bnpo', 'dr_grpo', 'dapo'] as const)('%s with β_kl: value and gradient vs finite differences', (type) => {
    const betaKl = 0.04;
    const { v, g } = tf.tidy(() => {
      const { value, grads } = tf.valueAndGrads((x: tf.Tensor) => terms(x as tf.Tensor2D, { lossType: type, betaKl }).loss)([tf.tensor2d(logp)]);
      return { v: value.dataSync()[0], g: Array.from(grads[0].dataSync()) };
    });
    const f = (flat: number[]) => aggregate(perToken([flat.slice(0, 3), flat.slice(3)], betaKl), type);
    expect(v).toBeCloseTo(f(logp.flat()), 6);
    g.forEach((gi, i) => expect(gi).toBeCloseTo(centralDiff(f, logp.flat(), i), 4));
    expect(Math.abs(g[2])).toBe(0); // padding
  });

  it('on-policy (no oldTokenLogp): ρ ≡ 1, loss = −mean A, gradient −A/active tokens (the "loss is 0" case)', () => {
    const { v, g } = tf.tidy(() => {
      const { value, grads } = tf.valueAndGrads((x: tf.Tensor) => terms(x as tf.Tensor2D, { lossType: 'dapo' }, false).loss)([tf.tensor2d(logp)]);
      return { v: value.dataSync()[0], g: Array.from(grads[0].dataSync()) };
    });
    expect(v).toBeCloseTo((-2 * a + 3 * a) / 5, 6);
    expect(g).toEqual([-a / 5, -a / 5, 0, a / 5, a / 5, a / 5].map(Math.fround));
  });

  it('clamps the log-ratio to ±20 so a wild token cannot overflow exp()', () => {
    const wild = logp.map((r) => [...r]);
    wild[1][1] = old[1][1] + 200;
    const t = terms(tf.tensor2d(wild), { lossType: 'bnpo' });
    const v = t.loss.dataSync()[0];
    expect(Number.isFinite(v)).toBe(true);
    expect(v).toBeCloseTo((-2.2 * a + (1 + Math.exp(20) + Math.exp(-0.2)) * a) / 5, -2);
    t.loss.dispose();
  });

  it('NaN, bad mask and bad options → clear errors', () => {
    const bad = logp.map((r) => [...r]);
    bad[0][1] = NaN;
    expect(() => terms(tf.tensor2d(bad))).toThrow(/grpoLoss: tokenLogp contains NaN at flat index 1/);
    expect(() => grpoLoss({ tokenLogp: tf.tensor2d(logp), mask: tf.tensor2d([[1, 0.5, 0], [1, 1, 1]]), rewards, groupSize: 2 })).toThrow(/mask must hold only 0 and 1/);
    expect(() => grpoLoss({ tokenLogp: tf.tensor2d(logp), mask: tf.tensor2d(mask), rewards, groupSize: 2 }, { betaKl: 0.1 })).toThrow(/needs refTokenLogp/);
    expect(() => grpoLoss({ tokenLogp: tf.tensor2d(logp), mask: tf.tensor2d([[1, 1]]), rewards, groupSize: 2 })).toThrow(/mask has 1 rows, expected 2/);
    expect(() => terms(tf.tensor2d(logp), { lossType: 'ppo' as GrpoLossType })).toThrow(/unknown lossType 'ppo'/);
  });
});
