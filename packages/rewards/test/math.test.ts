import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  extractMathAnswer,
  mathAccuracyReward,
  normalizeAnswer,
  parseAnswer,
  parseLatex,
  ParseError,
  Rational,
  showMathNode,
  verify,
} from '../src/index.js';
import { CONVENTION_CASES, MATH_CASES } from './cases/math-equivalence.js';

describe('math equivalence table', () => {
  it('has at least 150 cases with both outcomes', () => {
    expect(MATH_CASES.length).toBeGreaterThanOrEqual(150);
    expect(MATH_CASES.filter((c) => !c[2]).length).toBeGreaterThanOrEqual(45);
  });
  it.each(MATH_CASES.map((c, i) => [i, ...c] as const))('#%i %s vs %s -> %s', (_i, gold, pred, expected, opts) => {
    const r = verify(gold, pred, opts);
    expect(r.error).toBeNull();
    expect(r.correct).toBe(expected);
  });
});

describe('Math-Verify conventions', () => {
  it.each(CONVENTION_CASES.map((c, i) => [i, ...c] as const))('#%i %s vs %s -> %s', (_i, gold, pred, expected, opts) => {
    const r = verify(gold, pred, opts);
    expect(r.error).toBeNull();
    expect(r.correct).toBe(expected);
  });
  it('an unparseable gold that the prediction does not repeat is reported as a gold error', () => {
    expect(verify('\\overline{PQ}', '\\boxed{5}')).toMatchObject({ correct: false, errorKind: 'gold' });
  });
});

describe('parser', () => {
  const p = (s: string) => showMathNode(parseLatex(normalizeAnswer(s)));
  it('builds the expected trees', () => {
    expect(p('\\frac12')).toBe('(1 / 2)');
    expect(p('\\frac1{3}')).toBe('(1 / 3)');
    expect(p('-x^2')).toBe('-x^2');
    expect(p('2x+1')).toBe('((2 * x) + 1)');
    expect(p('\\sqrt[3]{x}')).toBe('root(3, x)');
    expect(p('[0,1)')).toBe('[0, 1)');
    expect(p('\\{1,2\\}')).toBe('{1, 2}');
    expect(p('x \\le 5')).toBe('x <= 5');
    expect(p('\\sin^2 x')).toBe('sin(x)^2');
    expect(p('\\log_2 8')).toBe('log(8, 2)');
    expect(p('1,234,567')).toBe('1234567');
    expect(p('(1,234)')).toBe('(1, 234)'); // no thousands merge inside brackets
    expect(p('x_{10}+1')).toBe('(x_10 + 1)');
    expect(p('ab^2')).toBe('(a * b^2)'); // a power binds to the last letter of a letter run
    expect(p('3xy^2')).toBe('(3 * (x * y^2))');
  });
  it('rejects non-math text and bounds nesting', () => {
    expect(() => parseLatex('Answer')).toThrow(ParseError);
    expect(() => parseLatex('\\frac{1}{')).toThrow(ParseError);
    expect(() => parseLatex('('.repeat(500) + '1' + ')'.repeat(500))).toThrow(/nested too deeply/);
    expect(() => parseLatex('\\begin{pmatrix}1&2\\\\3\\end{pmatrix}')).toThrow(/ragged/);
  });
  it('text groups: units vanish, whole-answer text stays a string', () => {
    expect(normalizeAnswer('5 \\text{ meters}')).toBe('5');
    expect(normalizeAnswer('\\text{(C)}')).toBe('\\text{(C)}');
    expect(normalizeAnswer('1 \\text{ and } 2')).toBe('1 , 2');
  });
});

describe('extraction', () => {
  it('prefers boxed, joins adjacent boxes, reads Minerva and "answer is"', () => {
    expect(extractMathAnswer('so \\boxed{\\frac{1}{2}}.')).toBe('\\frac{1}{2}');
    expect(extractMathAnswer('$\\boxed{1}$ and $\\boxed{2}$')).toBe('1, 2');
    expect(extractMathAnswer('Final Answer: The final answer is $7$. I hope it is correct.')).toBe('7');
    expect(extractMathAnswer('Therefore the answer is $x = 3$.')).toBe('x = 3');
    expect(parseAnswer('\\boxed{\\frac{1}{2}}')?.source).toBe('boxed');
  });
  it('configurable priorities', () => {
    const text = 'The final answer is $3$. I hope it is correct. \\boxed{4}';
    expect(extractMathAnswer(text)).toBe('4');
    expect(extractMathAnswer(text, { priorities: ['final-answer', 'boxed'] })).toBe('3');
    expect(extractMathAnswer('\\boxed{4}', { priorities: ['final-answer'] })).toBeNull();
  });
  it('searches only the last maxInputChars characters', () => {
    const text = '\\boxed{5}' + ' filler'.repeat(1000);
    expect(verify('5', text).correct).toBe(true);
    expect(verify('5', text, { maxInputChars: 1000 }).correct).toBe(false);
  });
});

describe('errors', () => {
  it('unparseable gold is an error, never correct', () => {
    const r = verify('\\frac{1}{', '\\boxed{2}');
    expect(r.correct).toBe(false);
    expect(r.errorKind).toBe('gold');
    expect(r.error).toMatch(/gold/);
  });
  it('runaway sizes are "cannot decide", not wrong and not a hang', () => {
    for (const pred of ['10^{10^{10}}', '1000!', '2^{2^{2^{2^{2^{2}}}}}', '9^{9^{9}}']) {
      const t = Date.now();
      const r = verify('5', pred);
      expect(Date.now() - t).toBeLessThan(500);
      expect(r.correct).toBe(false);
      expect(r.error).toMatch(/cannot decide/);
      expect(r.errorKind).toBe('pred');
    }
  });
  it('an undecidable gold is the gold\'s error (no score), not the prediction\'s', () => {
    expect(verify('10^{10^{10}}', '5')).toMatchObject({ correct: false, errorKind: 'gold' });
    expect(verify('\\sum_{k=1}^{10^{9}} k', '5')).toMatchObject({ correct: false, errorKind: 'gold' });
    expect(verify('5', '10^{10^{10}}')).toMatchObject({ correct: false, errorKind: 'pred' });
  });
  it('non-string input is an internal error result, not an exception', () => {
    const r = verify(5 as unknown as string, '5');
    expect(r.errorKind).toBe('internal');
  });
  it('cooperative deadline reports a timeout', () => {
    const r = verify('x^2+y^2+z', 'z+y^2+x^2', { timeoutMs: -1 });
    expect(r.error).toBe('timeout after -1 ms');
    expect(r.correct).toBe(false);
  });
});

describe('properties', () => {
  const atom = fc.oneof(fc.integer({ min: 0, max: 50 }).map(String), fc.constantFrom('x', 'y', '\\pi', '\\sqrt{2}'));
  const expr: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
    e: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      atom,
      fc.tuple(tie('e'), fc.constantFrom('+', '-', '\\cdot '), tie('e')).map(([a, o, b]) => `${a}${o}${b}`),
      fc.tuple(tie('e'), tie('e')).map(([a, b]) => `\\frac{${a}}{${b}}`),
      tie('e').map((a) => `(${a})^{2}`),
    ),
  })).e;

  it('verify(a, a) holds for generated expressions', () => {
    fc.assert(
      fc.property(expr, (a) => {
        const r = verify(a, `so the answer is $\\boxed{${a}}$`);
        return r.correct || r.error !== null;
      }),
      { numRuns: 300, seed: 1 },
    );
  });

  it('a rational equals its decimal, fraction and thousands-separated forms', () => {
    fc.assert(
      fc.property(fc.integer({ min: -10_000_000, max: 10_000_000 }), fc.integer({ min: 1, max: 64 }), (n, d) => {
        const v = new Rational(BigInt(n), BigInt(d));
        const gold = `\\frac{${n}}{${d}}`;
        const dec = (n / d).toFixed(8);
        if (!verify(gold, dec).correct) return false;
        if (!verify(gold, `\\dfrac{${v.n}}{${v.d}}`).correct) return false;
        const withSep = Math.abs(n).toLocaleString('en-US');
        if (d === 1 && !verify(String(n), `${n < 0 ? '-' : ''}${withSep}`).correct) return false;
        // and a different value is rejected
        return !verify(gold, `\\frac{${n + 1}}{${d}}`).correct;
      }),
      { numRuns: 300, seed: 2 },
    );
  });

  it('symmetric for plain numbers', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -1000, max: 1000 }), (a, b) => {
        return verify(String(a), String(b)).correct === (a === b) && verify(String(b), String(a)).correct === (a === b);
      }),
      { numRuns: 200, seed: 3 },
    );
  });
});

describe('mathAccuracyReward', () => {
  it('scores correct 1, wrong 0, bad gold null, undecidable prediction 0', async () => {
    const errors: string[] = [];
    const fn = mathAccuracyReward({ onError: (_s, r) => errors.push(r.errorKind ?? '') });
    const out = await fn([
      { prompt: 'p', completion: '\\boxed{\\frac12}', meta: { gold: '0.5' } },
      { prompt: 'p', completion: '\\boxed{3}', meta: { gold: '0.5' } },
      { prompt: 'p', completion: '\\boxed{3}', meta: { gold: '\\frac{1}{' } },
      { prompt: 'p', completion: '\\boxed{3}', meta: {} },
      { prompt: 'p', completion: '\\boxed{10^{10^{10}}}', meta: { gold: '3' } },
      { prompt: 'p', completion: '\\boxed{3}', meta: { gold: 3 } },
    ]);
    expect(out).toEqual([1, 0, null, null, 0, 1]);
    expect(errors).toEqual(['gold', 'pred']);
    expect(fn.rewardName).toBe('math_accuracy');
  });
  it('gsm8k mode and custom reward values', async () => {
    const fn = mathAccuracyReward({ mode: 'gsm8k', correctReward: 1, incorrectReward: -1 });
    expect(await fn([
      { prompt: '', completion: 'so 18', meta: { gold: 'x\n#### 18' } },
      { prompt: '', completion: 'so 17', meta: { gold: 'x\n#### 18' } },
    ])).toEqual([1, -1]);
    expect(fn.rewardName).toBe('gsm8k_accuracy');
  });
});
