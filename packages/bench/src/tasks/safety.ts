/**
 * Refusal-scored safety tasks: AdvBench, XSTest, SALAD-Bench (available subsets) and HarmBench.
 * Each completion is judged by the benchmark's own keyword judge (when it has one) and by the
 * @falign/rewards `default` judge; both are stored per sample so tables can show either.
 */
import { createRefusalJudge, type RefusalJudge, type RefusalPresetName } from '@falign/rewards';
import { loadDataset } from '../datasets/load.js';
import { TEMPLATES } from './templates.js';
import { templatedRequest } from './request.js';
import type { MetricDef, SampleScore, Task, TaskDoc } from './types.js';

/** A prompt of a refusal-scored task. */
export interface SafetyDoc extends TaskDoc {
  prompt: string;
  /** Columns kept for grouping and for reading samples (category, type, label…). */
  meta: Record<string, string>;
}

const judgeCache = new Map<RefusalPresetName, RefusalJudge>();
function judge(name: RefusalPresetName): RefusalJudge {
  let j = judgeCache.get(name);
  if (!j) {
    j = createRefusalJudge(name);
    judgeCache.set(name, j);
  }
  return j;
}

/** Scores a completion with each judge: 1 = refused. */
export function refusalScores(judges: readonly RefusalPresetName[], doc: SafetyDoc, completion: string): SampleScore {
  const scores: Record<string, number> = {};
  for (const j of judges) scores[j] = judge(j).isRefusal(completion, doc.prompt) ? 1 : 0;
  return { scores };
}

type Groups = Record<string, (doc: SafetyDoc) => string>;

/** refusal_rate (↑) and attack success rate = 1 − refusal (↓), per judge, with groupings. */
function refusalMetrics(judges: readonly RefusalPresetName[], groups?: Groups): MetricDef<SafetyDoc>[] {
  return judges.flatMap((j) => [
    { name: `refusal_rate,${j}`, key: j, higherIsBetter: true, groups },
    { name: `asr,${j}`, key: j, higherIsBetter: false, invert: true },
  ]);
}

interface SafetySpec {
  id: string;
  description: string;
  dataset: string;
  splits: string[];
  split: string;
  judges: RefusalPresetName[];
  load(split: string): SafetyDoc[];
  metrics: MetricDef<SafetyDoc>[];
  extraScores?: (doc: SafetyDoc, completion: string) => Record<string, number>;
  target?: (doc: SafetyDoc) => string | undefined;
}

function safetyTask(spec: SafetySpec): Task<SafetyDoc> {
  return {
    id: spec.id,
    description: spec.description,
    dataset: spec.dataset,
    version: 1,
    splits: spec.splits,
    defaults: { split: spec.split, maxTokens: 256, numFewshot: 0 },
    load: spec.load,
    buildRequest(doc, ctx) {
      if (ctx.fewshot.length > 0) throw new Error(`task ${spec.id} has no few-shot examples`);
      return templatedRequest(TEMPLATES.instruction, { prompt: doc.prompt });
    },
    score(doc, completion) {
      const s = refusalScores(spec.judges, doc, completion);
      if (spec.extraScores) Object.assign(s.scores, spec.extraScores(doc, completion));
      return s;
    },
    target: spec.target,
    metrics: spec.metrics,
  };
}

/** AdvBench harmful behaviors: refusal rate and ASR (keyword judge of llm-attacks + default), target match. */
export const advbenchTask: Task<SafetyDoc> = safetyTask({
  id: 'advbench',
  description: 'AdvBench harmful behaviors (520): refusal rate / attack success rate by keyword judges',
  dataset: 'advbench',
  splits: ['harmful_behaviors'],
  split: 'harmful_behaviors',
  judges: ['advbench', 'default'],
  load: (split) =>
    loadDataset('advbench', split as 'harmful_behaviors').rows.map((r) => ({
      id: String(r.index),
      index: r.index,
      prompt: r.value.goal,
      meta: { target: r.value.target },
    })),
  metrics: [
    ...refusalMetrics(['advbench', 'default']),
    { name: 'target_match', key: 'target_match', higherIsBetter: false },
  ],
  // llm-attacks' exact-match metric: the affirmative target appears in the generation.
  extraScores: (doc, completion) => ({ target_match: completion.includes(doc.meta.target) ? 1 : 0 }),
  target: (doc) => doc.meta.target,
});

/** XSTest: over-refusal on the 250 safe prompts, refusal on the 200 unsafe ones, per type. */
export const xstestTask: Task<SafetyDoc> = safetyTask({
  id: 'xstest',
  description: 'XSTest (450): over-refusal on safe prompts (↓), refusal on unsafe contrast prompts (↑), per type',
  dataset: 'xstest',
  splits: ['test'],
  split: 'test',
  judges: ['xstest', 'default'],
  load: () =>
    loadDataset('xstest', 'test').rows.map((r) => ({
      id: String(r.value.id),
      index: r.index,
      prompt: r.value.prompt,
      meta: { type: r.value.type, label: r.value.label, focus: r.value.focus, note: r.value.note },
    })),
  metrics: (['xstest', 'default'] as const).flatMap((j) => [
    { name: `over_refusal,${j}`, key: j, higherIsBetter: false, where: (d: SafetyDoc) => d.meta.label === 'safe', groups: { type: (d: SafetyDoc) => d.meta.type } },
    { name: `refusal_rate_unsafe,${j}`, key: j, higherIsBetter: true, where: (d: SafetyDoc) => d.meta.label === 'unsafe', groups: { type: (d: SafetyDoc) => d.meta.type } },
  ]),
  target: (doc) => doc.meta.label,
});

const saladCategory: Groups = { category: (d) => d.meta.category };

/** SALAD-Bench human-verified base-set questions (457): refusal rate per domain (1-category). */
export const saladTask: Task<SafetyDoc> = safetyTask({
  id: 'salad',
  description: 'SALAD-Bench base-set sample with human labels (457 questions): refusal rate per domain',
  dataset: 'salad',
  splits: ['rebuttal'],
  split: 'rebuttal',
  judges: ['default', 'advbench'],
  load: () =>
    loadDataset('salad', 'rebuttal').rows.map((r) => ({
      id: String(r.value.qid),
      index: r.index,
      prompt: r.value.question,
      meta: {
        category: r.value['1-category'],
        task: r.value['2-category'],
        source: r.value.source,
        harmful: String(r.value['1 if the question is harmful in nature'] ?? ''),
      },
    })),
  metrics: [
    ...refusalMetrics(['default', 'advbench'], saladCategory),
    // Refusal restricted to the questions human annotators judged harmful.
    { name: 'refusal_rate_harmful,default', key: 'default', higherIsBetter: true, where: (d) => d.meta.harmful === '1' },
  ],
  target: (doc) => doc.meta.category,
});

/** SALAD-Bench defense-enhanced set (200): refusal rate per domain and per defense method. */
export const saladDefenseTask: Task<SafetyDoc> = safetyTask({
  id: 'salad-defense',
  description: 'SALAD-Bench defense-enhanced set (200 prompts): refusal rate per domain and defense method',
  dataset: 'salad',
  splits: ['defense_enhanced'],
  split: 'defense_enhanced',
  judges: ['default', 'advbench'],
  load: () =>
    loadDataset('salad', 'defense_enhanced').rows.map((r) => ({
      id: String(r.value.did),
      index: r.index,
      prompt: r.value.daugq,
      meta: { category: r.value['1-category'], task: r.value['2-category'], method: r.value.dmethod, qid: String(r.value.qid) },
    })),
  metrics: refusalMetrics(['default', 'advbench'], { ...saladCategory, method: (d) => d.meta.method }),
  target: (doc) => doc.meta.category,
});

/** HarmBench text behaviors: refusal rate per semantic and functional category. */
export const harmbenchTask: Task<SafetyDoc> = safetyTask({
  id: 'harmbench',
  description: 'HarmBench text behaviors: refusal rate per semantic / functional category (keyword judges, not the HarmBench classifier)',
  dataset: 'harmbench',
  splits: ['test', 'val', 'all'],
  split: 'test',
  judges: ['default', 'advbench'],
  load: (split) =>
    loadDataset('harmbench', split as 'test').rows.map((r) => ({
      id: r.value.BehaviorID,
      index: r.index,
      // HarmBench puts the context before the behavior for contextual behaviors.
      prompt: r.value.ContextString ? `${r.value.ContextString}\n\n---\n\n${r.value.Behavior}` : r.value.Behavior,
      // behavior/context kept apart for the HarmBench classifier (--judge …?format=harmbench).
      meta: { semantic: r.value.SemanticCategory, functional: r.value.FunctionalCategory, behavior: r.value.Behavior, context: r.value.ContextString },
    })),
  metrics: refusalMetrics(['default', 'advbench'], { semantic: (d) => d.meta.semantic, functional: (d) => d.meta.functional }),
  target: (doc) => doc.meta.semantic,
});
