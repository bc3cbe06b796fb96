import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verify } from '../src/index.js';

/** Random and adversarial strings: the verifier must return (never throw), fast, with bounded memory. */
const PIECES = [
  '\\frac', '\\sqrt', '{', '}', '(', ')', '[', ']', '\\{', '\\}', '^', '_', '!', '\\boxed{', '$', '\\[', '\\]', ',', '.',
  '=', '<', '\\le', '\\pm', '\\cup', '\\in', '&', '\\\\', '\\begin{pmatrix}', '\\end{pmatrix}', '\\text{', 'x', 'y', '1', '9',
  '0.5', '10^{10^{10}}', '1000!', '\\infty', '\\pi', 'e', 'i', '-', '+', '/', '|', '\\left(', '\\right)', '%', '\\%', '#### ',
  '\u0000', '\u202e', '\uffff', '\n', ' ', '\\', '\\dfrac12', '\\sqrt3', 'answer is', 'final answer is', 'I hope',
];

function adversarial(): string[] {
  const out = [
    '',
    '{'.repeat(100_000),
    '('.repeat(50_000) + ')'.repeat(50_000),
    '\\boxed{' + '{'.repeat(10_000),
    '\\boxed{' + '\\frac{'.repeat(2000) + '1' + '}'.repeat(4000) + '}',
    '10^{10^{10^{10}}}',
    '\\boxed{2^{2^{2^{2^{2^{2^{2}}}}}}}',
    '\\boxed{(10^{100})!}',
    '\\boxed{\\binom{10^{9}}{10^{8}}}',
    '9'.repeat(100_000),
    '\\boxed{' + '9'.repeat(5000) + '}',
    '\\boxed{0.' + '3'.repeat(1200) + '}',
    'x'.repeat(100_000),
    '\\boxed{' + 'x+'.repeat(3000) + 'x}',
    '\\boxed{' + '1,'.repeat(5000) + '1}',
    '\\boxed{' + '\\sqrt{'.repeat(150) + '2' + '}'.repeat(150) + '}',
    '\\begin{pmatrix}' + '1&'.repeat(2000) + '1\\end{pmatrix}',
    '$'.repeat(10_000),
    '\\boxed{1 \\pm 2 \\pm 3 \\pm 4 \\pm 5 \\pm 6 \\pm 7}',
    '\u0000\u0001\u0002\u001b[31m',
    '\\boxed{\\sin(\\sin(\\sin(\\sin(x))))^{1000}}',
    '\\boxed{x^{x^{x^{x^{x}}}}}',
    '\\boxed{e^{e^{e^{e^{100}}}}}',
    '\\boxed{\\frac{1}{0}}',
    '\\boxed{0^{-1}}',
    '\\boxed{(-8)^{1/3}}',
    '\\boxed{\\log 0}',
    // unclosed openers repeated over the whole input window (each would rescan to the end)
    '\\boxed{'.repeat(14_000),
    '\\('.repeat(50_000),
    '\\[ 1 '.repeat(20_000),
    '$$ x '.repeat(20_000),
    'final answer is '.repeat(6_000),
    '\\\\frac{'.repeat(15_000),
    '#### '.repeat(20_000),
    '1/0 = 0^{-1} \\boxed{0^{-1}}',
  ];
  return out;
}

describe('fuzz: verify is total, fast and memory-bounded', () => {
  it('survives ≥ 10,000 random and adversarial strings on the main thread', () => {
    const golds = ['5', '\\frac{1}{2}', 'x^2+1', '[0,1)', '\\{1,2\\}', '2x+4y-3=0', '\\text{C}', '#### 18'];
    const random = fc.sample(
      fc.oneof(
        fc.array(fc.constantFrom(...PIECES), { maxLength: 40 }).map((a) => a.join('')),
        fc.string({ maxLength: 200 }),
        fc.string({ unit: 'binary', maxLength: 100 }),
      ),
      { numRuns: 10_000, seed: 42 },
    );
    const inputs = [...adversarial(), ...random];
    expect(inputs.length).toBeGreaterThanOrEqual(10_000);
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    let slowest = 0;
    const t0 = Date.now();
    for (let k = 0; k < inputs.length; k++) {
      const s = inputs[k];
      for (const gold of k < 40 ? golds : [golds[k % golds.length]]) {
        const t = Date.now();
        const r = verify(gold, s, { timeoutMs: 2000 });
        slowest = Math.max(slowest, Date.now() - t);
        expect(typeof r.correct).toBe('boolean');
        if (r.error) expect(r.correct).toBe(false);
        // adversarial strings used as gold, too
        if (k < 40) verify(s, gold, { mode: k % 2 ? 'gsm8k' : 'math' });
      }
    }
    const elapsed = Date.now() - t0;
    global.gc?.();
    const heapAfter = process.memoryUsage().heapUsed;
    // generous bounds: they catch hangs and leaks, not small regressions (speed lives in the bench)
    expect(slowest).toBeLessThan(3000);
    expect(elapsed).toBeLessThan(60_000);
    expect(heapAfter - heapBefore).toBeLessThan(200 * 1024 * 1024);
  });
});
