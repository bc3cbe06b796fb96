/**
 * Seeded GSM8K-style arithmetic word problems in difficulty tiers, small enough for a
 * character-level decoder to learn. Each problem carries a worked solution whose last line is
 * `#### N` (the GSM8K answer convention), so the same strict verifier scores the SFT targets,
 * the policy's completions and the held-out benchmarks.
 *
 * Tiers (the stand-ins for the paper's benchmarks):
 * - `t1`: one arithmetic step;
 * - `t2`: two steps;
 * - `t3`: three steps;
 * - `distractor`: one step plus a sentence with an irrelevant number (GSM-IC style).
 */
import { Rng } from '@falign/core';

/** Bump when the templates or the solution format change (part of every cache key). */
export const MATH_GENERATOR_VERSION = 1;

/** The tiers, in report order. */
export const MATH_TIERS = ['t1', 't2', 't3', 'distractor'] as const;
export type MathTier = (typeof MATH_TIERS)[number];

/** One arithmetic step of a worked solution: `left op right = result`. */
export interface MathStep {
  left: number;
  op: '+' | '-';
  right: number;
  result: number;
}

/** A generated word problem. */
export interface MathProblem {
  /** Stable id: `<split>-<tier>-<index>`. */
  id: string;
  tier: MathTier;
  /** The question text (no trailing newline). */
  question: string;
  /** What the policy is conditioned on: the question followed by a newline. */
  prompt: string;
  /** Worked solution: one `a+b=c` line per step, then `#### N`. */
  solution: string;
  /** The final answer. */
  answer: number;
  steps: MathStep[];
  /** Numbers that appear in the question but take no part in the answer (distractor tier). */
  distractors: number[];
}

interface Person {
  name: string;
  pronoun: 'He' | 'She';
}

const PEOPLE: readonly Person[] = [
  { name: 'Ann', pronoun: 'She' },
  { name: 'Bob', pronoun: 'He' },
  { name: 'Cal', pronoun: 'He' },
  { name: 'Dee', pronoun: 'She' },
  { name: 'Eve', pronoun: 'She' },
  { name: 'Max', pronoun: 'He' },
  { name: 'Sam', pronoun: 'He' },
  { name: 'Tom', pronoun: 'He' },
  { name: 'Zoe', pronoun: 'She' },
  { name: 'Amy', pronoun: 'She' },
];

const ITEMS: readonly string[] = ['pens', 'cups', 'eggs', 'hats', 'toys', 'cards', 'books', 'coins', 'rocks', 'socks'];

const ADD_VERBS: readonly ((n: number) => string)[] = [
  (n) => `gets ${n} more`,
  (n) => `buys ${n}`,
  (n) => `finds ${n}`,
  (n) => `is given ${n}`,
];

const SUB_VERBS: readonly ((n: number) => string)[] = [
  (n) => `loses ${n}`,
  (n) => `gives away ${n}`,
  (n) => `sells ${n}`,
  (n) => `breaks ${n}`,
];

const DISTRACTORS: readonly ((p: Person, n: number, other: Person, otherItems: string) => string)[] = [
  (p, n) => `${p.pronoun} is ${n} years old.`,
  (_p, n, other, otherItems) => `${other.name} has ${n} ${otherItems}.`,
  (p, n) => `${p.pronoun} walks ${n} miles.`,
  (_p, n) => `It is ${n} pm.`,
];

const QUESTIONS: readonly ((p: Person, items: string) => string)[] = [
  (_p, items) => `How many ${items} now?`,
  (p, items) => `How many ${items} does ${p.pronoun.toLowerCase()} have?`,
];

/** Number of arithmetic steps of each tier. */
export function tierSteps(tier: MathTier): number {
  switch (tier) {
    case 't1':
      return 1;
    case 't2':
      return 2;
    case 't3':
      return 3;
    case 'distractor':
      return 1;
  }
}

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.nextInt(xs.length)];
}

/** Integer uniform in [lo, hi]. */
function between(rng: Rng, lo: number, hi: number): number {
  return lo + rng.nextInt(hi - lo + 1);
}

/** Formats the worked solution of `steps` (GSM8K style, without calculator annotations). */
export function formatSolution(steps: readonly MathStep[]): string {
  const lines = steps.map((s) => `${s.left}${s.op}${s.right}=${s.result}`);
  const answer = steps.length > 0 ? steps[steps.length - 1].result : 0;
  return `${lines.join('\n')}\n#### ${answer}`;
}

/** One problem of `tier`, drawn from `rng`. Operands are 1–9, intermediate values stay ≥ 0. */
export function generateMathProblem(rng: Rng, tier: MathTier, id: string): MathProblem {
  const person = pick(rng, PEOPLE);
  const items = pick(rng, ITEMS);
  let value = between(rng, 2, 9);
  const sentences = [`${person.name} has ${value} ${items}.`];
  const steps: MathStep[] = [];
  for (let i = 0; i < tierSteps(tier); i++) {
    // Subtract only when something is left to take away; otherwise add.
    const subtract = value >= 2 && rng.next() < 0.5;
    const n = subtract ? between(rng, 1, Math.min(9, value)) : between(rng, 1, 9);
    const verb = subtract ? pick(rng, SUB_VERBS) : pick(rng, ADD_VERBS);
    sentences.push(`${person.pronoun} ${verb(n)}.`);
    const result = subtract ? value - n : value + n;
    steps.push({ left: value, op: subtract ? '-' : '+', right: n, result });
    value = result;
  }
  const distractors: number[] = [];
  if (tier === 'distractor') {
    const d = between(rng, 2, 9);
    let other = pick(rng, PEOPLE);
    if (other.name === person.name) other = PEOPLE[(PEOPLE.indexOf(other) + 1) % PEOPLE.length];
    let otherItems = pick(rng, ITEMS);
    if (otherItems === items) otherItems = ITEMS[(ITEMS.indexOf(otherItems) + 1) % ITEMS.length];
    const text = pick(rng, DISTRACTORS)(person, d, other, otherItems);
    // Anywhere after the opening sentence, before the question.
    sentences.splice(1 + rng.nextInt(sentences.length), 0, text);
    distractors.push(d);
  }
  sentences.push(pick(rng, QUESTIONS)(person, items));
  const question = sentences.join(' ');
  return {
    id,
    tier,
    question,
    prompt: `${question}\n`,
    solution: formatSolution(steps),
    answer: value,
    steps,
    distractors,
  };
}

/** Options of {@link generateMathSet}. */
export interface MathSetOptions {
  tier: MathTier;
  count: number;
  seed: number;
  /** Label used in ids (`train`, `test`, …) and to separate the random streams of splits. */
  split: string;
  /** Questions that must not be produced (e.g. the held-out set when drawing training data). */
  exclude?: ReadonlySet<string>;
}

function splitSalt(split: string, tier: MathTier): number {
  let h = 2166136261;
  for (const ch of `${split}/${tier}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h;
}

/**
 * `count` distinct problems of one tier. Same options ⇒ same problems. Questions in `exclude`
 * and repeats are skipped; throws when the template space cannot supply `count` new questions.
 */
export function generateMathSet(opts: MathSetOptions): MathProblem[] {
  if (!Number.isInteger(opts.count) || opts.count < 0) throw new Error(`generateMathSet: count must be a non-negative integer, got ${opts.count}`);
  const rng = new Rng(opts.seed).fork(splitSalt(opts.split, opts.tier));
  const seen = new Set<string>();
  const out: MathProblem[] = [];
  let attempts = 0;
  while (out.length < opts.count) {
    if (++attempts > opts.count * 50 + 1000) {
      throw new Error(`generateMathSet: could only draw ${out.length} distinct ${opts.tier} problems of ${opts.count} requested`);
    }
    const p = generateMathProblem(rng, opts.tier, `${opts.split}-${opts.tier}-${out.length}`);
    if (seen.has(p.question) || opts.exclude?.has(p.question)) continue;
    seen.add(p.question);
    out.push(p);
  }
  return out;
}

/** Train pool and held-out test sets of every requested tier, disjoint by question text. */
export interface MathData {
  /** Held-out problems per tier (the benchmarks). */
  test: Record<MathTier, MathProblem[]>;
  /** Training problems (demonstrations and RL prompts), tiers interleaved. */
  train: MathProblem[];
}

/** Options of {@link generateMathData}. */
export interface MathDataOptions {
  seed: number;
  /** Held-out problems per tier. */
  testPerTier: number;
  /** Training problems per tier. */
  trainPerTier: Partial<Record<MathTier, number>>;
}

/** Draws the held-out sets first, then training problems that never repeat a held-out question. */
export function generateMathData(opts: MathDataOptions): MathData {
  const test = {} as Record<MathTier, MathProblem[]>;
  const heldOut = new Set<string>();
  for (const tier of MATH_TIERS) {
    test[tier] = generateMathSet({ tier, count: opts.testPerTier, seed: opts.seed, split: 'test' });
    for (const p of test[tier]) heldOut.add(p.question);
  }
  const perTier = MATH_TIERS.map((tier) =>
    generateMathSet({ tier, count: opts.trainPerTier[tier] ?? 0, seed: opts.seed, split: 'train', exclude: heldOut }),
  );
  // Interleave so that any prefix of the training list mixes the tiers.
  const train: MathProblem[] = [];
  const longest = Math.max(0, ...perTier.map((xs) => xs.length));
  for (let i = 0; i < longest; i++) for (const xs of perTier) if (i < xs.length) train.push(xs[i]);
  return { test, train };
}
