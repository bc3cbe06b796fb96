/**
 * Seeded multi-digit arithmetic chains in difficulty tiers: inside a small character-level
 * decoder's reach once it has seen enough demonstrations, with exact answers from a large space
 * (hundreds of values, so a guess is almost never right). Each problem carries a worked solution
 * with one `a+b=c` line per step and a last line `#### N` (the GSM8K answer convention).
 *
 * Tiers (the stand-ins for the paper's benchmarks); a chain starts at a two-digit number (10–99)
 * and each step adds or subtracts a digit (2–9), so about half the steps carry or borrow:
 * - `t1`: two steps (`47+8-6`);
 * - `t2`: three steps;
 * - `t3`: four steps;
 * - `distractor`: two steps preceded by an irrelevant assignment (`k=29; 47+8-6`, GSM-IC style).
 *
 * A 113k-parameter decoder trained on these learns the one-step facts almost perfectly, but its
 * errors compound along the chain (copying the right operand, carrying the right value), so the
 * longer tiers leave room for RL while a sample of 8 usually contains a right answer.
 */
import { Rng } from '@falign/core';

/** Bump when the templates or the solution format change (part of every cache key). */
export const MATH_GENERATOR_VERSION = 4;

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

/** A generated problem. */
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

const DISTRACTOR_NAMES: readonly string[] = ['k', 'n', 'x', 'y', 'z'];

/** Number of arithmetic steps of each tier. */
export function tierSteps(tier: MathTier): number {
  switch (tier) {
    case 't1':
      return 2;
    case 't2':
      return 3;
    case 't3':
      return 4;
    case 'distractor':
      return 2;
  }
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

/** One problem of `tier`, drawn from `rng`. Start 10–99, steps ±2–9; every value stays ≥ 0. */
export function generateMathProblem(rng: Rng, tier: MathTier, id: string): MathProblem {
  let value = between(rng, 10, 99);
  let question = String(value);
  const steps: MathStep[] = [];
  for (let i = 0; i < tierSteps(tier); i++) {
    const n = between(rng, 2, 9);
    // Subtract only when the result stays ≥ 0; otherwise add.
    const subtract = value >= n && rng.next() < 0.5;
    const result = subtract ? value - n : value + n;
    steps.push({ left: value, op: subtract ? '-' : '+', right: n, result });
    question += `${subtract ? '-' : '+'}${n}`;
    value = result;
  }
  const distractors: number[] = [];
  if (tier === 'distractor') {
    const d = between(rng, 10, 99);
    question = `${DISTRACTOR_NAMES[rng.nextInt(DISTRACTOR_NAMES.length)]}=${d}; ${question}`;
    distractors.push(d);
  }
  return { id, tier, question, prompt: `${question}\n`, solution: formatSolution(steps), answer: value, steps, distractors };
}

/** Whether a step carries (addition) or borrows (subtraction) into the tens digit. */
export function carries(step: Pick<MathStep, 'left' | 'result'>): boolean {
  return Math.floor(step.left / 10) !== Math.floor(step.result / 10);
}

/**
 * The worked solution of a teacher with a systematic mistake: at each step that carries or
 * borrows it forgets the carry with probability `rate` (47+8=45, 53-6=57) and goes on from its
 * wrong value, so its final answer is wrong. An SFT base trained on such demonstrations makes the
 * same mistake at about that rate; the right computation stays in its support, which is what RL
 * with an exact verifier can reinforce. Returns the (possibly) corrupted steps.
 */
export function carelessSteps(problem: Pick<MathProblem, 'steps'>, rate: number, rng: Rng): MathStep[] {
  const out: MathStep[] = [];
  let value = problem.steps[0]?.left ?? 0;
  for (const st of problem.steps) {
    const right = st.op === '+' ? value + st.right : value - st.right;
    let result = right;
    if (carries({ left: value, result: right }) && rng.next() < rate) result = st.op === '+' ? right - 10 : right + 10;
    out.push({ left: value, op: st.op, right: st.right, result });
    value = result;
  }
  return out;
}

/** The partition a question belongs to (see {@link questionSplit}). */
export type MathSplit = 'test' | 'val' | 'train';

/**
 * The partition of a question, fixed by a hash of the data seed and the question text alone:
 * 20 % test, 10 % validation, 70 % training. Because membership does not depend on what else was
 * drawn, the splits are disjoint by construction and each one is drawn independently of the
 * others' sizes: a larger test set cannot change the SFT demonstrations or the RL prompts
 * (with exclusion sets it did, and with it the SFT base).
 */
export function questionSplit(question: string, seed: number): MathSplit {
  let h = 2166136261 ^ seed;
  for (let i = 0; i < question.length; i++) h = Math.imul(h ^ question.charCodeAt(i), 16777619);
  // murmur3's finaliser: FNV's low bits alone are poorly mixed for short strings.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  const bucket = (h >>> 0) % 10;
  return bucket < 2 ? 'test' : bucket < 3 ? 'val' : 'train';
}

/** Options of {@link generateMathSet}. */
export interface MathSetOptions {
  tier: MathTier;
  count: number;
  seed: number;
  /** Label used in ids (`train`, `test`, …) and to separate the random streams of splits. */
  split: string;
  /** Keep only questions of this partition ({@link questionSplit} under `seed`). */
  partition?: MathSplit;
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
    if (++attempts > opts.count * 200 + 1000) {
      throw new Error(`generateMathSet: could only draw ${out.length} distinct ${opts.tier} problems of ${opts.count} requested`);
    }
    const p = generateMathProblem(rng, opts.tier, `${opts.split}-${opts.tier}-${out.length}`);
    if (seen.has(p.question) || opts.exclude?.has(p.question)) continue;
    if (opts.partition && questionSplit(p.question, opts.seed) !== opts.partition) continue;
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

/** Held-out and training problems from their own partitions ({@link questionSplit}): disjoint, and neither depends on the other's size. */
export function generateMathData(opts: MathDataOptions): MathData {
  const test = {} as Record<MathTier, MathProblem[]>;
  for (const tier of MATH_TIERS) test[tier] = generateMathSet({ tier, count: opts.testPerTier, seed: opts.seed, split: 'test', partition: 'test' });
  const perTier = MATH_TIERS.map((tier) => generateMathSet({ tier, count: opts.trainPerTier[tier] ?? 0, seed: opts.seed, split: 'train', partition: 'train' }));
  // Interleave so that any prefix of the training list mixes the tiers.
  const train: MathProblem[] = [];
  const longest = Math.max(0, ...perTier.map((xs) => xs.length));
  for (let i = 0; i < longest; i++) for (const xs of perTier) if (i < xs.length) train.push(xs[i]);
  return { test, train };
}
