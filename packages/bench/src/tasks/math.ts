/**
 * Verifiable math tasks: GSM8K (lm-eval prompt, strict `#### N` and flexible last-number scoring)
 * and MATH-500 (boxed answer, LaTeX-aware equivalence). Scoring goes through @falign/rewards'
 * `verify`, which is total and never evaluates model text.
 */
import { GSM8K_RULES, extractGsm8kGold, scoreGsm8k, verify } from '@falign/rewards';
import { loadDataset } from '../datasets/load.js';
import { TEMPLATES } from './templates.js';
import { templatedRequest } from './request.js';
import type { Task, TaskDoc } from './types.js';

/** A GSM8K problem. */
export interface Gsm8kDoc extends TaskDoc {
  question: string;
  /** Worked solution ending in `#### N`. */
  answer: string;
}

function gsm8kDocs(split: 'train' | 'test'): Gsm8kDoc[] {
  return loadDataset('gsm8k', split).rows.map((r) => ({ id: `${split}-${r.index}`, index: r.index, question: r.value.question, answer: r.value.answer }));
}

/** GSM8K, lm-eval `gsm8k` task: `Question: …\nAnswer:`, 5 shots from train by default. */
export const gsm8kTask: Task<Gsm8kDoc> = {
  id: 'gsm8k',
  description: 'GSM8K grade-school math (lm-eval prompt; lm-eval strict-match and flexible-extract exactly, plus falign exact-format)',
  dataset: 'gsm8k',
  // 2: lm-eval filters reproduced exactly (no digit filter, string equality) and the `falign` metric added
  version: 2,
  splits: ['test', 'train'],
  defaults: { split: 'test', maxTokens: 256, numFewshot: 5 },
  load: (split) => gsm8kDocs(split as 'train' | 'test'),
  fewshotPool: () => gsm8kDocs('train'),
  buildRequest: (doc, ctx) =>
    templatedRequest(
      TEMPLATES.gsm8k,
      { question: doc.question, answer: doc.answer },
      ctx.fewshot.map((d) => ({ question: d.question, answer: d.answer })),
    ),
  // lm-eval's two filters exactly (comparable with published numbers), then falign's exact-format rule
  score(doc, completion) {
    const all = scoreGsm8k(doc.answer, completion);
    const scores: Record<string, number> = {};
    const extracted: Record<string, string | null> = {};
    for (const rule of GSM8K_RULES) {
      scores[rule] = all[rule].correct ? 1 : 0;
      extracted[rule] = all[rule].extracted;
    }
    return { scores, extracted };
  },
  target: (doc) => extractGsm8kGold(doc.answer) ?? undefined,
  metrics: [
    { name: 'exact_match,strict-match', key: 'strict-match', higherIsBetter: true, passAtK: true },
    { name: 'exact_match,flexible-extract', key: 'flexible-extract', higherIsBetter: true, passAtK: true },
    { name: 'exact_match,falign', key: 'falign', higherIsBetter: true, passAtK: true },
  ],
};

/** A MATH-500 problem. */
export interface Math500Doc extends TaskDoc {
  problem: string;
  solution: string;
  answer: string;
  subject: string;
  level: number;
}

/** MATH-500: zero-shot, final answer in `\boxed{}`, equivalence by the math verifier; per subject and level. */
export const math500Task: Task<Math500Doc> = {
  id: 'math500',
  description: 'MATH-500 (PRM800K test subset): boxed final answer checked by the LaTeX-aware verifier',
  dataset: 'math500',
  version: 1,
  splits: ['test'],
  defaults: { split: 'test', maxTokens: 1024, numFewshot: 0 },
  load: () =>
    loadDataset('math500', 'test').rows.map((r) => ({
      id: r.value.unique_id,
      index: r.index,
      problem: r.value.problem,
      solution: r.value.solution,
      answer: r.value.answer,
      subject: r.value.subject,
      level: r.value.level,
    })),
  buildRequest(doc, ctx) {
    if (ctx.fewshot.length > 0) throw new Error('task math500 has no few-shot examples (there is no MATH train split here)');
    return templatedRequest(TEMPLATES.math500, { problem: doc.problem });
  },
  score(doc, completion) {
    const r = verify(doc.answer, completion, { mode: 'math' });
    return { scores: { 'math-verify': r.correct ? 1 : 0 }, extracted: { 'math-verify': r.extractedPred } };
  },
  target: (doc) => doc.answer,
  metrics: [
    {
      name: 'exact_match,math-verify',
      key: 'math-verify',
      higherIsBetter: true,
      passAtK: true,
      groups: { subject: (d) => d.subject, level: (d) => String(d.level) },
    },
  ],
};
