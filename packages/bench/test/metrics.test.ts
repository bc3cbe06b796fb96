import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bootstrapCI, majAtK, majorityAnswer, mean, mulberry32, passAtK, quantileSorted, reportKs, sampleStd, stderrOfMean } from '../src/metrics/index.js';

/** C(n, k) exactly, with BigInt. */
function comb(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let r = 1n;
  for (let i = 1; i <= k; i++) r = (r * BigInt(n - k + i)) / BigInt(i);
  return r;
}

describe('pass@k (Chen et al. unbiased estimator)', () => {
  it('hand-computed values', () => {
    expect(passAtK(5, 2, 2)).toBeCloseTo(1 - 3 / 10, 12); // C(3,2)/C(5,2) = 3/10
    expect(passAtK(10, 3, 1)).toBeCloseTo(0.3, 12);
    expect(passAtK(10, 3, 5)).toBeCloseTo(1 - 21 / 252, 12); // C(7,5)=21, C(10,5)=252
    expect(passAtK(4, 0, 2)).toBe(0);
    expect(passAtK(4, 4, 4)).toBe(1);
    expect(passAtK(5, 4, 2)).toBe(1); // n − c < k
  });

  it('equals 1 − C(n−c,k)/C(n,k) and c/n at k = 1', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n }), fc.integer({ min: 1, max: n }))), ([n, c, k]) => {
        const exact = 1 - Number((comb(n - c, k) * 10n ** 15n) / comb(n, k)) / 1e15;
        expect(passAtK(n, c, k)).toBeCloseTo(exact, 10);
        expect(passAtK(n, c, 1)).toBeCloseTo(c / n, 12);
        if (k < n) expect(passAtK(n, c, k + 1)).toBeGreaterThanOrEqual(passAtK(n, c, k) - 1e-12);
      }),
    );
  });

  it('rejects impossible arguments', () => {
    expect(() => passAtK(3, 4, 1)).toThrow('0 ≤ c ≤ n');
    expect(() => passAtK(3, 1, 4)).toThrow('1 ≤ k ≤ n');
    expect(() => passAtK(3, 1.5, 1)).toThrow('integers');
  });

  it('reported k values', () => {
    expect(reportKs(1)).toEqual([1]);
    expect(reportKs(4)).toEqual([1, 2, 4]);
    expect(reportKs(6)).toEqual([1, 2, 4, 6]);
  });
});

describe('maj@k', () => {
  const votes = [
    { answer: 'a', correct: 1 },
    { answer: 'b', correct: 0 },
    { answer: 'b', correct: 0 },
    { answer: 'a', correct: 1 },
    { answer: 'a', correct: 1 },
  ];
  it('majority of the first k samples, ties to the answer that reached the count first', () => {
    expect(majAtK(votes, 1)).toBe(1);
    expect(majorityAnswer(votes, 2)).toBe('a'); // 1–1 tie: 'a' got there first
    expect(majAtK(votes, 3)).toBe(0); // b, b vs a
    expect(majAtK(votes, 4)).toBe(0); // 2–2: b reached 2 first
    expect(majAtK(votes, 5)).toBe(1); // 3 a vs 2 b
  });
  it('unanswered samples do not vote', () => {
    expect(majAtK([{ answer: null, correct: 0 }, { answer: 'x', correct: 1 }, { answer: null, correct: 0 }], 3)).toBe(1);
    expect(majAtK([{ answer: null, correct: 0 }], 1)).toBe(0);
    expect(() => majAtK(votes, 6)).toThrow('1 ≤ k ≤ 5');
  });
});

describe('mean, stderr', () => {
  it('hand-computed values (n−1 denominator)', () => {
    expect(mean([1, 0, 1, 1])).toBe(0.75);
    expect(sampleStd([1, 0, 1, 1])).toBeCloseTo(0.5, 12); // var = (3·0.0625 + 0.5625)/3 = 0.25
    expect(stderrOfMean([1, 0, 1, 1])).toBeCloseTo(0.25, 12);
    expect(stderrOfMean([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(Math.sqrt(32 / 7) / Math.sqrt(8), 12);
    expect(Number.isNaN(stderrOfMean([1]))).toBe(true);
    expect(Number.isNaN(mean([]))).toBe(true);
  });
});

describe('bootstrap', () => {
  const rand = mulberry32(7);
  const data = Array.from({ length: 400 }, () => (rand() < 0.3 ? 1 : 0));

  it('is deterministic for a seed and changes with it', () => {
    const a = bootstrapCI(data, { seed: 1, iters: 500 });
    const b = bootstrapCI(data, { seed: 1, iters: 500 });
    const c = bootstrapCI(data, { seed: 2, iters: 500 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('brackets the mean and its spread matches the binomial stderr', () => {
    const m = mean(data);
    const r = bootstrapCI(data, { seed: 3, iters: 2000 });
    expect(r.lower).toBeLessThan(m);
    expect(r.upper).toBeGreaterThan(m);
    const binomial = Math.sqrt((m * (1 - m)) / data.length);
    expect(Math.abs(r.stderr - binomial) / binomial).toBeLessThan(0.15);
    // A 95% percentile interval of a near-normal statistic spans about ±1.96 se.
    expect((r.upper - r.lower) / (2 * 1.96 * binomial)).toBeGreaterThan(0.8);
    expect((r.upper - r.lower) / (2 * 1.96 * binomial)).toBeLessThan(1.2);
  });

  it('a constant sample has a zero-width interval; quantiles interpolate', () => {
    expect(bootstrapCI([0.5, 0.5, 0.5])).toMatchObject({ lower: 0.5, upper: 0.5, stderr: 0 });
    expect(quantileSorted([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantileSorted([1, 2, 3, 4], 0)).toBe(1);
    expect(quantileSorted([1, 2, 3, 4], 1)).toBe(4);
  });
});
