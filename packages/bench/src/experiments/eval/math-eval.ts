/**
 * Held-out evaluation of the math task: pass@1 per tier with the exact-format verifier
 * (`#### N`), greedy and (optionally) sampled, and pass@k of the sampled completions.
 */
import { generate, type DecoderLM, type Tokenizer } from '@falign/core';
import { MATH_TIERS, type MathProblem, type MathTier } from '../generators/math.js';
import { extractExactAnswer, mathIsCorrect } from './verifier.js';
import { passAtK } from '../../metrics/pass-at-k.js';

/** Options of {@link evaluateMath}. */
export interface MathEvalOptions {
  maxNewTokens: number;
  /** Sampled completions per problem (0 = greedy only). */
  samples: number;
  temperature: number;
  seed: number;
  /** Only the first `limit` problems of each tier (curve points). */
  limit?: number;
}

/** Scores of one tier. */
export interface MathTierScore {
  n: number;
  /** Greedy pass@1. */
  greedy: number;
  /** Mean correctness of the sampled completions (sampled pass@1), null without samples. */
  sampled: number | null;
  /** Share of greedy completions that end in a parsable `#### N` line. */
  formatted: number;
  /** Unbiased pass@k of the sampled completions for k = `samples` (null without samples). */
  passAtK?: number | null;
  /** Share of prompts whose `samples` completions are all right or all wrong (null without samples). */
  zeroVariance?: number | null;
}

/** One evaluated completion (eval/<task>/samples.jsonl). */
export interface MathSampleRecord {
  id: string;
  tier: MathTier;
  prompt: string;
  gold: number;
  completion: string;
  correct: boolean;
  mode: 'greedy' | 'sampled';
}

/** Scores of all tiers, and the per-completion records. */
export interface MathEvalResult {
  tiers: Record<MathTier, MathTierScore>;
  /** Unweighted mean of the tiers' greedy pass@1. */
  meanGreedy: number;
  records: MathSampleRecord[];
}


/** Evaluates `model` on the held-out sets; deterministic for a given seed and backend. */
export async function evaluateMath(
  model: DecoderLM,
  tokenizer: Tokenizer,
  test: Record<MathTier, readonly MathProblem[]>,
  opts: MathEvalOptions,
): Promise<MathEvalResult> {
  const tiers = {} as Record<MathTier, MathTierScore>;
  const records: MathSampleRecord[] = [];
  for (const tier of MATH_TIERS) {
    const problems = test[tier].slice(0, opts.limit ?? test[tier].length);
    if (problems.length === 0) {
      tiers[tier] = { n: 0, greedy: Number.NaN, sampled: null, formatted: Number.NaN };
      continue;
    }
    const prompts = problems.map((p) => p.prompt);
    const greedy = await generate(model, tokenizer, prompts, { maxNewTokens: opts.maxNewTokens, temperature: 0, seed: opts.seed });
    let correct = 0;
    let formatted = 0;
    greedy.forEach((c, i) => {
      const ok = mathIsCorrect(problems[i].answer, c.text);
      if (ok) correct++;
      if (extractExactAnswer(c.text) !== null) formatted++;
      records.push({ id: problems[i].id, tier, prompt: problems[i].prompt, gold: problems[i].answer, completion: c.text, correct: ok, mode: 'greedy' });
    });
    let sampled: number | null = null;
    let passK: number | null = null;
    let zeroVar: number | null = null;
    if (opts.samples > 0) {
      const outs = await generate(model, tokenizer, prompts, {
        maxNewTokens: opts.maxNewTokens,
        temperature: opts.temperature,
        numSamples: opts.samples,
        seed: opts.seed + 1,
      });
      let ok = 0;
      const perPrompt = new Array<number>(problems.length).fill(0);
      for (const c of outs) {
        const p = problems[c.promptIndex];
        const good = mathIsCorrect(p.answer, c.text);
        if (good) {
          ok++;
          perPrompt[c.promptIndex]++;
        }
        records.push({ id: p.id, tier, prompt: p.prompt, gold: p.answer, completion: c.text, correct: good, mode: 'sampled' });
      }
      sampled = ok / outs.length;
      passK = perPrompt.reduce((a, c) => a + passAtK(opts.samples, c, opts.samples), 0) / problems.length;
      zeroVar = perPrompt.filter((c) => c === 0 || c === opts.samples).length / problems.length;
    }
    tiers[tier] = { n: problems.length, greedy: correct / problems.length, sampled, formatted: formatted / problems.length, passAtK: passK, zeroVariance: zeroVar };
  }
  const scored = MATH_TIERS.filter((t) => tiers[t].n > 0);
  const meanGreedy = scored.reduce((s, t) => s + tiers[t].greedy, 0) / Math.max(1, scored.length);
  return { tiers, meanGreedy, records };
}
