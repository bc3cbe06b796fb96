import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@falign/core';
import {
  checkDivergence,
  getDivergence,
  listDivergences,
  registerDivergence,
  unregisterDivergence,
  type DivergenceDefinition,
} from '../src/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

const EIGHT = ['kl', 'reverse_kl', 'pearson', 'hellinger', 'jensen_shannon', 'total_variation', 'neyman', 'gan'];

describe('divergence registry', () => {
  it('lists the eight built-ins', () => {
    expect(listDivergences().slice(0, 8)).toEqual(EIGHT);
  });

  it.each(EIGHT)('%s passes every property check', (name) => {
    const result = checkDivergence(getDivergence(name));
    expect(result.failures).toEqual([]);
    expect(result.ok).toBe(true);
  });

  it('slopes at 0: KL is 1 vs 1/e, JS/TV/GAN ½, others 1', () => {
    expect(getDivergence('kl').slopes).toEqual({ positive: 1, negative: Math.exp(-1) });
    for (const n of ['jensen_shannon', 'total_variation', 'gan']) expect(getDivergence(n).slopes).toEqual({ positive: 0.5, negative: 0.5 });
    for (const n of ['reverse_kl', 'pearson', 'hellinger', 'neyman']) expect(getDivergence(n).slopes).toEqual({ positive: 1, negative: 1 });
  });

  it('closed-form composite sides from the method table', () => {
    const v = 0.7;
    expect(getDivergence('kl').negSide(v)).toBeCloseTo(Math.exp(v - 1), 12);
    expect(getDivergence('reverse_kl').posSide(v)).toBeCloseTo(Math.exp(-v), 12);
    expect(getDivergence('reverse_kl').negSide(v)).toBeCloseTo(v - 1, 12);
    expect(getDivergence('pearson').negSide(v)).toBeCloseTo(v + (v * v) / 4, 12);
    expect(getDivergence('hellinger').negSide(v)).toBeCloseTo(Math.exp(v) - 1, 12);
    expect(getDivergence('jensen_shannon').negSide(v)).toBeCloseTo(Math.log(1 + Math.exp(v)) - Math.LN2, 12);
    expect(getDivergence('total_variation').negSide(v)).toBeCloseTo(0.5 * Math.tanh(v), 12);
    // Stable forms stay finite where the literal ones overflow.
    expect(getDivergence('jensen_shannon').negSide(800)).toBeCloseTo(800 - Math.LN2, 9);
    expect(getDivergence('gan').posSide(-800)).toBeCloseTo(800, 9);
  });

  it('unknown name → error listing the known ones', () => {
    expect(() => getDivergence('chi3')).toThrow(/unknown divergence 'chi3'; known: kl, reverse_kl, pearson/);
  });

  it('rejects a name clash and a definition with missing fields', () => {
    expect(() => registerDivergence({ ...getDivergence('kl') })).toThrow(/already registered/);
    const partial = { name: 'half', f: (u: number) => u } as unknown as DivergenceDefinition;
    expect(() => registerDivergence(partial)).toThrow(/'half': invalid definition[\s\S]*fStar: expected a function[\s\S]*tensor:/);
  });

  it('a user divergence registers, is found, and passes when correct', () => {
    // α-divergence with α = 2 rescaled: f(u) = (u² − 1)/2 ... use a scaled Pearson: f(u) = 2(u−1)².
    const scaled: DivergenceDefinition = {
      name: 'pearson_x2',
      f: (u) => 2 * (u - 1) ** 2,
      fStar: (t) => t + (t * t) / 8,
      link: (v) => v,
      posSide: (v) => -v,
      negSide: (v) => v + (v * v) / 8,
      fDomain: { lo: -Infinity, hi: Infinity },
      fStarDomain: { lo: -Infinity, hi: Infinity },
      slopes: { positive: 1, negative: 1 },
      tensor: {
        fStar: (t) => tf.add(t, tf.div(tf.square(t), 8)),
        link: (v) => tf.clone(v),
        posSide: (v) => tf.neg(v),
        negSide: (v) => tf.add(v, tf.div(tf.square(v), 8)),
      },
    };
    registerDivergence(scaled);
    try {
      expect(getDivergence('pearson_x2')).toBe(scaled);
      expect(checkDivergence(scaled)).toEqual({ ok: true, failures: [] });
    } finally {
      unregisterDivergence('pearson_x2');
    }
    expect(listDivergences()).not.toContain('pearson_x2');
  });

  it('a deliberately broken divergence fails with named properties', () => {
    // KL generator with the Pearson conjugate: not conjugate, so Fenchel–Young and critic recovery fail.
    const broken: DivergenceDefinition = { ...getDivergence('kl'), name: 'broken', fStar: (t) => t + (t * t) / 4, negSide: (v) => v + (v * v) / 4 };
    const r = checkDivergence(broken);
    expect(r.ok).toBe(false);
    const joined = r.failures.join('\n');
    expect(joined).toMatch(/Fenchel–Young/);
    expect(joined).toMatch(/conjugacy/);
    expect(joined).toMatch(/optimal critic/);
    expect(joined).toMatch(/tensor = number/); // the tensor forms are still KL's
  });

  it('catches a link that leaves dom f*, wrong slopes, and an unstable side', () => {
    const rkl = getDivergence('reverse_kl');
    const badLink: DivergenceDefinition = { ...rkl, name: 'bad_link', link: (v) => v, posSide: (v) => -v };
    expect(checkDivergence(badLink).failures.join('\n')).toMatch(/link range: g\(.*\) = .* is outside dom f\*/);
    const badSlopes: DivergenceDefinition = { ...getDivergence('pearson'), name: 'bad_slopes', slopes: { positive: 1, negative: 0.5 } };
    expect(checkDivergence(badSlopes).failures.join('\n')).toMatch(/slopes: negSide'\(0\) = 1 but slopes.negative = 0.5/);
    // Hellinger's negative side written literally as f*(g(v)) = g/(1−g): 1 − g rounds to 0 at v ≈ 37.
    const hel = getDivergence('hellinger');
    const unstable: DivergenceDefinition = { ...hel, name: 'unstable', negSide: (v) => hel.fStar(hel.link(v)) };
    expect(checkDivergence(unstable).failures.join('\n')).toMatch(/finite: negSide/);
  });
});
