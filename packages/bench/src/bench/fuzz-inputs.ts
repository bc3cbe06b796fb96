/**
 * Seeded adversarial inputs for the reliability bench: what a model (or an attacker) can put in
 * an answer. Categories: deep nesting, huge numbers, pathological LaTeX, long unicode, and
 * mixtures of them; about a third of the verifier pairs are identical strings (which must be
 * accepted even when they cannot be parsed; a blank string is no answer at all, which the verifier
 * reports as a gold error, so blank pairs are not counted as identical). Pure and deterministic for a seed.
 */

import { mulberry32 } from '../metrics/bootstrap.js';

/** Kinds of generated input. */
export const FUZZ_CATEGORIES = ['deep-nesting', 'huge-number', 'pathological-latex', 'long-unicode', 'mixture'] as const;
export type FuzzCategory = (typeof FUZZ_CATEGORIES)[number];

/** One verifier case. */
export interface VerifierCase {
  category: FuzzCategory;
  gold: string;
  pred: string;
  identical: boolean;
}

/** One refusal-judge case. */
export interface RefusalCase {
  category: FuzzCategory;
  completion: string;
  prompt?: string;
}

/** mulberry32 (metrics/bootstrap.ts): a small, fast, seedable PRNG (uniform in [0, 1)). */
export const rng: (seed: number) => () => number = mulberry32;

type R = () => number;
const int = (r: R, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: R, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
/** Sizes skewed small (most inputs short, a few very long), capped at `max`. */
const size = (r: R, max: number) => Math.min(max, Math.floor(Math.exp(r() * Math.log(max + 1))));

function deepNesting(r: R): string {
  const d = size(r, 4000);
  switch (int(r, 0, 6)) {
    case 0:
      return `${'\\frac{1}{'.repeat(d)}2${'}'.repeat(d)}`;
    case 1:
      return `${'('.repeat(d)}1${')'.repeat(d)}`;
    case 2:
      return `${'\\sqrt{'.repeat(d)}2${'}'.repeat(d)}`;
    case 3:
      return `${'{'.repeat(d)}x${'}'.repeat(int(r, 0, d))}`; // often unbalanced
    case 4:
      return `${'2^{'.repeat(d)}2${'}'.repeat(d)}`;
    case 5:
      return `${'\\left['.repeat(d)}1${'\\right]'.repeat(d)}`;
    default:
      return `${'-'.repeat(d)}1`;
  }
}

function digits(r: R, n: number): string {
  let s = String(int(r, 1, 9));
  while (s.length < n) s += String(Math.floor(r() * 1e9)).padStart(9, '0');
  return s.slice(0, n);
}

function hugeNumber(r: R): string {
  const n = size(r, 6000);
  switch (int(r, 0, 9)) {
    case 0:
      return digits(r, n);
    case 1:
      return `${digits(r, n)}.${digits(r, int(r, 1, 200))}`;
    case 2:
      return `10^{10^{${digits(r, int(r, 1, 12))}}}`;
    case 3:
      return `2^{${digits(r, int(r, 1, 30))}}`;
    case 4:
      return pick(r, ['1/0', '0^{-1}', '0/0', '\\frac{1}{0}', '0^0', '\\infty-\\infty', '1e999999', '-0', '1e-999999']);
    case 5:
      return `\\frac{${digits(r, n)}}{${digits(r, int(r, 1, n))}}`;
    case 6:
      return `${digits(r, int(r, 1, 40))}!`;
    case 7:
      return `${digits(r, int(r, 1, 60))}^{${digits(r, int(r, 1, 60))}}`;
    case 8:
      return `${digits(r, int(r, 1, 3))},${Array.from({ length: size(r, 2000) }, () => digits(r, 3).padStart(3, '0')).join(',')}`;
    default:
      return `\\sqrt[${digits(r, int(r, 1, 20))}]{${digits(r, n)}}`;
  }
}

const LATEX_SOUP = [
  '\\left(', '\\right)', '\\begin{pmatrix}', '\\end{pmatrix}', '\\\\', '&', '\\frac{}{}', '^', '_', '\\boxed{', '}', '{',
  '\\sqrt[', ']', '\\text{', '\\mathrm{', '\\operatorname{', '\\cdot', '\\times', '\\pm', '\\infty', '\\pi', '%', '$', '$$',
  '\\(', '\\)', '\\[', '\\]', '\\,', '\\!', '\\;', '\\dfrac', '\\tfrac', '\\over', '\\begin{cases}', '\\end{cases}',
  '\\in', '\\cup', '\\cap', '\\{', '\\}', '\\le', '\\ge', '=', ',', '.', 'x', 'y', '1', '2', '\\\\\\\\', '\\',
];

function pathologicalLatex(r: R): string {
  const n = size(r, 3000);
  switch (int(r, 0, 4)) {
    case 0:
      return Array.from({ length: n }, () => pick(r, LATEX_SOUP)).join('');
    case 1:
      return `\\boxed{${'\\boxed{'.repeat(size(r, 500))}1`;
    case 2:
      return `${'\\left('.repeat(n)}x`;
    case 3:
      return `\\begin{pmatrix}${Array.from({ length: size(r, 200) }, () => Array.from({ length: int(r, 1, 20) }, () => digits(r, int(r, 1, 4))).join('&')).join('\\\\')}`;
    default:
      return `${'x^'.repeat(n)}2 = ${'_'.repeat(int(r, 0, 50))}`;
  }
}

const UNICODE_RANGES: [number, number][] = [
  [0x1f600, 0x1f64f], // emoji
  [0x0300, 0x036f], // combining marks
  [0x4e00, 0x4fff], // CJK
  [0x0590, 0x05ff], // Hebrew (RTL)
  [0x0600, 0x06ff], // Arabic (RTL)
  [0x200b, 0x200f], // zero-width and direction marks
  [0x2200, 0x22ff], // math operators
  [0xff10, 0xff19], // full-width digits
  [0xd800, 0xdfff], // lone surrogates (invalid UTF-16 on purpose)
  [0x0000, 0x001f], // control characters
];

function longUnicode(r: R): string {
  const n = size(r, 20000);
  let s = '';
  for (let i = 0; i < n; i++) {
    const [lo, hi] = pick(r, UNICODE_RANGES);
    s += String.fromCharCode(...(int(r, lo, hi) > 0xffff ? [0xd83d, 0xde00 + int(r, 0, 0x4f)] : [int(r, lo, hi)]));
  }
  return s;
}

const GENERATORS: Record<Exclude<FuzzCategory, 'mixture'>, (r: R) => string> = {
  'deep-nesting': deepNesting,
  'huge-number': hugeNumber,
  'pathological-latex': pathologicalLatex,
  'long-unicode': longUnicode,
};

function generate(r: R, category: FuzzCategory): string {
  if (category !== 'mixture') return GENERATORS[category](r);
  const parts = int(r, 2, 4);
  return Array.from({ length: parts }, () => GENERATORS[pick(r, Object.keys(GENERATORS) as (keyof typeof GENERATORS)[])](r).slice(0, 2000)).join(pick(r, [' ', '', '\\boxed{', '} = ', '\n']));
}

/** `n` verifier cases for `seed` (lazily: the inputs are never all in memory). */
export function* verifierCases(n: number, seed: number): Generator<VerifierCase> {
  const r = rng(seed);
  for (let i = 0; i < n; i++) {
    const category = FUZZ_CATEGORIES[i % FUZZ_CATEGORIES.length];
    const gold = generate(r, category);
    const identical = r() < 0.3;
    let pred: string;
    if (identical) pred = gold;
    else if (r() < 0.5) pred = `The answer is $\\boxed{${generate(r, category)}}$.`;
    else pred = generate(r, pick(r, FUZZ_CATEGORIES));
    yield { category, gold, pred, identical: identical && gold.trim() !== '' };
  }
}

const REFUSAL_SNIPPETS = ["I'm sorry, but I can't help with that.", 'As an AI', 'I cannot', 'Sure, here is', 'I must decline', 'not able to', 'Unfortunately'];

/** `n` refusal-judge cases for `seed`. */
export function* refusalCases(n: number, seed: number): Generator<RefusalCase> {
  const r = rng(seed);
  for (let i = 0; i < n; i++) {
    const category = FUZZ_CATEGORIES[i % FUZZ_CATEGORIES.length];
    let completion = generate(r, category);
    if (r() < 0.5) {
      const at = int(r, 0, completion.length);
      completion = `${completion.slice(0, at)} ${pick(r, REFUSAL_SNIPPETS)} ${completion.slice(at)}`;
    }
    yield { category, completion, ...(r() < 0.5 ? { prompt: generate(r, pick(r, FUZZ_CATEGORIES)).slice(0, 4000) } : {}) };
  }
}
