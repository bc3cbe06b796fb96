import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verify, type VerifyOptions, type VerifyResult } from '../src/index.js';

/** LaTeX-ish fragments, including the shapes that once broke the verifier (BigInt in JSON, huge literals). */
const PIECES = [
  '\\frac', '\\dfrac', '\\sqrt', '\\sqrt[3]', '{', '}', '(', ')', '[', ']', '\\{', '\\}', '^', '_', '!', '\\boxed{', '$', '\\(', '\\)',
  ',', '.', ':', '=', '<', '\\le', '\\approx', '\\pm', '\\cup', '\\in', '&', '\\\\', '\\\\frac', '\\\\boxed{', '\\begin{pmatrix}',
  '\\end{pmatrix}', '\\text{', '\\overline{', '\\angle', '\\sum_{k=1}^{n}', 'x', 'y', 'f(x)', '0', '1', '9', '0.5', '1/0', '0^{-1}',
  '10^{10^{10}}', '1000!', '\\infty', '\\pi', 'e', 'i', '-', '+', '/', '|', '\\left(', '\\right)', '%', '\\%', '#### ', '##### ',
  'and', 'or', 'the answer is ', 'final answer is ', 'I hope', '\n', ' ', '\\', '{,}', '3:4', 'x = ', '\\cdot',
];

const latexish = fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 30 }).map((a) => a.join(''));
const anyText = fc.oneof(latexish, fc.string({ minLength: 1, maxLength: 120 }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }));
/** Integers of 1,000–2,000 digits (beyond the exact-arithmetic limit of the parser). */
const hugeInt = fc.tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1000, max: 2000 }), fc.integer({ min: 0, max: 9 })).map(([a, n, b]) => `${a}${String(b).repeat(n)}`);

function serialisable(r: VerifyResult): boolean {
  const back = JSON.parse(JSON.stringify(r)) as VerifyResult;
  expect(back).toEqual(r);
  return true;
}

describe('verify: properties of the fixed defects', () => {
  it('identical non-blank strings are always accepted, parseable or not, with no error (math, gsm8k falign, non-strict)', () => {
    fc.assert(
      fc.property(fc.oneof(anyText, hugeInt), (s) => {
        fc.pre(s.trim() !== '');
        for (const opts of [{}, { mode: 'gsm8k' as const }, { strict: false }]) {
          const r = verify(s, s, opts);
          if (!(r.correct && r.error === null && serialisable(r))) return false;
        }
        return true;
      }),
      { numRuns: 600, seed: 11 },
    );
  });

  it('a huge integer matches itself written inside an answer, and not its neighbour', () => {
    fc.assert(
      fc.property(hugeInt, (n) => {
        const boxed = verify(n, `The answer is $\\boxed{${n}}$.`);
        const other = verify(n, `\\boxed{${n.slice(0, -1)}${(Number(n.at(-1)) + 1) % 10}}`);
        return boxed.correct && !other.correct && serialisable(boxed) && serialisable(other);
      }),
      { numRuns: 30, seed: 12 },
    );
  });

  it('random LaTeX-ish input never gives an internal error, and every result is JSON-serialisable', () => {
    const modes: VerifyOptions[] = [{}, { mode: 'gsm8k' }, { strict: false }, { mode: 'gsm8k', gsm8kAllRules: true }, { mode: 'gsm8k', gsm8kExtraction: 'strict-match' }];
    fc.assert(
      fc.property(anyText, anyText, fc.constantFrom(...modes), (gold, pred, opts) => {
        const r = verify(gold, pred, { ...opts, timeoutMs: 2000 });
        if (r.errorKind === 'internal') throw new Error(`internal error for ${JSON.stringify({ gold, pred, opts })}: ${r.error}`);
        if (r.error !== null) expect(r.correct).toBe(false);
        return serialisable(r);
      }),
      { numRuns: 1500, seed: 13 },
    );
  });

  it('the reported regressions: 1/0 against 0^{-1}, undefined values, and a 1,400-digit identical pair', () => {
    for (const [g, p] of [['1/0', '0^{-1}'], ['\\frac{1}{0}', '\\boxed{0^{-1}}'], ['0^{-1}', '1/0'], ['\\log 0', '\\boxed{\\log 0}']]) {
      const r = verify(g, p);
      expect(r.errorKind).not.toBe('internal');
      serialisable(r);
    }
    const big = '7'.repeat(1400);
    expect(verify(big, big)).toMatchObject({ correct: true, error: null });
    expect(verify(big, big, { mode: 'gsm8k' })).toMatchObject({ correct: true, error: null });
  });
});
