/**
 * The math task of Experiment 1, built deterministically from its data config: held-out sets
 * per tier, the SFT demonstrations, the RL prompt pool and the verifiable reward.
 */
import { Rng } from '@falign/core';
import type { MathDataConfig } from '../config/schema.js';
import { MATH_TIERS, carelessSteps, formatSolution, generateMathSet, type MathProblem, type MathTier } from '../generators/math.js';
import { mathGold } from '../eval/verifier.js';
import type { SftExample } from '../sft.js';

/** Everything the math pipelines need. */
export interface MathTask {
  test: Record<MathTier, MathProblem[]>;
  /** Validation problems per tier (for choosing settings; disjoint from test and training). */
  val: Record<MathTier, MathProblem[]>;
  demos: MathProblem[];
  rlPrompts: MathProblem[];
}

/** Interleaves lists so that any prefix mixes them. */
function interleave<T>(lists: readonly (readonly T[])[]): T[] {
  const out: T[] = [];
  const longest = Math.max(0, ...lists.map((l) => l.length));
  for (let i = 0; i < longest; i++) for (const l of lists) if (i < l.length) out.push(l[i]);
  return out;
}

/**
 * Builds the task. Each split is drawn from its own hash partition of the question space
 * ({@link questionSplit}), so test, validation and training problems never share a question and
 * the demonstrations and RL prompts do not depend on how many test or validation problems are
 * drawn.
 */
export function buildMathTask(cfg: MathDataConfig): MathTask {
  const test = {} as Record<MathTier, MathProblem[]>;
  const val = {} as Record<MathTier, MathProblem[]>;
  const demos: MathProblem[][] = [];
  const rl: MathProblem[][] = [];
  for (const tier of MATH_TIERS) {
    test[tier] = generateMathSet({ tier, count: cfg.testPerTier, seed: cfg.seed, split: 'test', partition: 'test' });
    val[tier] = generateMathSet({ tier, count: cfg.valPerTier, seed: cfg.seed, split: 'val', partition: 'val' });
    const nd = cfg.sftDemosPerTier[tier];
    const pool = generateMathSet({ tier, count: nd + cfg.rlPromptsPerTier[tier], seed: cfg.seed, split: 'train', partition: 'train' });
    demos.push(pool.slice(0, nd));
    rl.push(pool.slice(nd));
  }
  return { test, val, demos: interleave(demos), rlPrompts: interleave(rl) };
}

/**
 * SFT examples of the demonstrations: question → worked solution, written by a teacher that
 * forgets a carry with probability `carryDropRate` (0 = exact solutions).
 */
export function mathSftExamples(task: MathTask, carryDropRate = 0, seed = 0): SftExample[] {
  const rng = new Rng(seed).fork(0xca7);
  return task.demos.map((p) => ({ prompt: p.prompt, response: carryDropRate > 0 ? formatSolution(carelessSteps(p, carryDropRate, rng)) : p.solution }));
}

/** RL prompt items: the question, with the gold answer in `meta.gold` for the verifier. */
export function mathPromptItems(problems: readonly MathProblem[]): { prompt: string; meta: Record<string, unknown> }[] {
  return problems.map((p) => ({ prompt: p.prompt, meta: { gold: mathGold(p.answer), tier: p.tier, id: p.id } }));
}

/**
 * Offline pairs for the math task (FDO / DPO / f-HAL on math): the worked solution is chosen; the
 * rejected one repeats it with the last step's result (and so the final answer) off by 1–3.
 */
export function mathPreferencePairs(problems: readonly MathProblem[], seed: number): { prompt: string; chosen: string; rejected: string }[] {
  const rng = new Rng(seed).fork(0x3a7);
  return problems.map((p) => {
    const steps = p.steps.map((s) => ({ ...s }));
    const last = steps[steps.length - 1];
    const delta = (1 + rng.nextInt(3)) * (rng.next() < 0.5 && last.result > 3 ? -1 : 1);
    last.result += delta;
    return { prompt: p.prompt, chosen: p.solution, rejected: formatSolution(steps) };
  });
}
