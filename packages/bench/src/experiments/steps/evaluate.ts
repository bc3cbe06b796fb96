/**
 * Stage "evaluate": a policy's scores on the task's held-out sets (math: greedy pass@1 per tier,
 * plus sampled pass@k; safety: refusal, over-refusal, true and reward-model scores, hacking gap).
 *
 * - {@link baseEvaluation} is the stored stage for the base policy (the table's "Base" row and
 *   step 0 of every curve); artefact: `samples.jsonl` and the {@link BaseEval}.
 * - {@link policyEvaluator} evaluates an in-memory policy during training (rl-run.ts) and
 *   {@link evaluateRun} after it, into the run directory.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DecoderLM, Tokenizer } from '@falign/core';
import { createRefusalJudge } from '@falign/rewards';
import type { EvalConfig, MathPipelineConfig, PipelineConfig } from '../config/schema.js';
import { evaluateMath, type MathSampleRecord, type MathTierScore } from '../eval/math-eval.js';
import { evaluateSafety, summarizeSafety, type RmCalibration, type SafetySampleRecord, type SafetyScores } from '../eval/safety-eval.js';
import { MATH_TIERS, type MathTier } from '../generators/math.js';
import { openBase } from '../pretrained-base.js';
import type { RewardModelScorer } from '../reward-model.js';
import { EXPERIMENT_CODE_VERSION, readCacheInfo, type CacheEntry, type StoredStage } from '../store.js';
import type { MathTask } from '../tasks/math-task.js';
import type { SafetyTask } from '../tasks/safety-task.js';
import { taskTokenizer } from '../tokenizer.js';
import { baseEvalUnits, evalUnits, reportWork } from '../work.js';
import { taskVersions, type TaskData } from './data.js';
import { openRewardModel, type OpenedRewardModel } from './reward-model.js';
import { writeJson, writeJsonl, type EvaluatedRun, type SharedArtefacts, type StartedRun } from './run-dir.js';
import type { Trained } from './rl-run.js';
import type { BaseInfo } from './sft-base.js';

/** A policy's held-out scores (the base row of a task's table, or a run's final scores). */
export type BaseEval = { task: 'math'; tiers: Record<MathTier, MathTierScore>; meanGreedy: number } | { task: 'safety'; scores: SafetyScores };

/** An evaluation: the scores, their curve metrics and the per-sample records. */
export interface Evaluation {
  final: BaseEval;
  metrics: Record<string, number>;
  records: unknown[];
}

/** Evaluates a math policy on the held-out sets with the pipeline's eval settings. */
export async function evalMathPolicy(model: DecoderLM, cfg: MathPipelineConfig, task: MathTask, opts: { limit?: number; seed: number; tokenizer?: Tokenizer; samples?: number }) {
  return evaluateMath(model, opts.tokenizer ?? taskTokenizer(), task.test, {
    maxNewTokens: cfg.eval.maxNewTokens,
    samples: opts.limit !== undefined ? 0 : (opts.samples ?? cfg.eval.samples),
    temperature: cfg.eval.temperature,
    seed: opts.seed,
    limit: opts.limit,
  });
}

/** Evaluates a safety policy on the held-out prompts with the pipeline's eval settings. */
export async function evalSafetyPolicy(
  model: DecoderLM,
  cfg: { eval: EvalConfig },
  task: SafetyTask,
  rm: RewardModelScorer,
  calibration: RmCalibration,
  opts: { limit?: number; seed: number; tokenizer?: Tokenizer },
) {
  return evaluateSafety(model, opts.tokenizer ?? taskTokenizer(), task.test, rm, calibration, createRefusalJudge('default'), {
    maxNewTokens: cfg.eval.maxNewTokens,
    seed: opts.seed,
    limit: opts.limit,
  });
}

/** Curve metrics of math scores: mean and per-tier greedy pass@1. */
export function mathCurveMetrics(tiers: Record<MathTier, MathTierScore>, mean: number): Record<string, number> {
  const m: Record<string, number> = { 'pass@1/mean': mean };
  for (const [t, s] of Object.entries(tiers)) m[`pass@1/${t}`] = s.greedy;
  return m;
}

/** Curve metrics of safety scores. */
export function safetyCurveMetrics(s: SafetyScores): Record<string, number> {
  return {
    refusal_harmful: s.refusalHarmful,
    over_refusal_benign: s.overRefusalBenign,
    true_score: s.trueScore,
    rm_score: s.rmScore,
    rm_normalized: s.rmNormalized,
    hacking_gap: s.hackingGap,
    tail_rate: s.tailRate,
  };
}

/**
 * Curve metrics of the first `limit` prompts of each tier (math) or label (safety) of a full
 * evaluation's records — the same prompts a limited evaluation would use.
 */
export function curveMetricsFromRecords(task: 'math' | 'safety', records: readonly unknown[], limit: number): Record<string, number> {
  const firstPerGroup = <T>(rs: readonly T[], group: (r: T) => string): T[] => {
    const seen = new Map<string, number>();
    return rs.filter((r) => {
      const g = group(r);
      const n = seen.get(g) ?? 0;
      seen.set(g, n + 1);
      return n < limit;
    });
  };
  if (task === 'math') {
    const rs = firstPerGroup(
      (records as MathSampleRecord[]).filter((r) => r.mode === 'greedy'),
      (r) => r.tier,
    );
    const tiers = {} as Record<MathTier, MathTierScore>;
    for (const t of MATH_TIERS) {
      const xs = rs.filter((r) => r.tier === t);
      tiers[t] = { n: xs.length, greedy: xs.length ? xs.filter((r) => r.correct).length / xs.length : Number.NaN, sampled: null, formatted: Number.NaN };
    }
    const scored = MATH_TIERS.filter((t) => tiers[t].n > 0);
    return mathCurveMetrics(tiers, scored.reduce((a, t) => a + tiers[t].greedy, 0) / Math.max(1, scored.length));
  }
  return safetyCurveMetrics(summarizeSafety(firstPerGroup(records as SafetySampleRecord[], (r) => r.label)));
}

/**
 * The evaluator of an in-memory policy: `evaluate()` is the final held-out evaluation,
 * `evaluate(limit)` the curve evaluation on the first `limit` prompts per tier or label.
 */
export function policyEvaluator(
  cfg: PipelineConfig,
  data: TaskData,
  policy: { model: DecoderLM; tokenizer: Tokenizer },
  rm: OpenedRewardModel | null,
): (limit?: number) => Promise<Evaluation> {
  const { model, tokenizer } = policy;
  return async (limit) => {
    if (cfg.task === 'math' && data.task === 'math') {
      const r = await evalMathPolicy(model, cfg, data.math, { limit, seed: cfg.seed, tokenizer });
      return { final: { task: 'math', tiers: r.tiers, meanGreedy: r.meanGreedy }, metrics: mathCurveMetrics(r.tiers, r.meanGreedy), records: r.records };
    }
    if (data.task !== 'safety' || !rm) throw new Error(`${cfg.name}: task: the safety evaluation needs the safety data and the reward model`);
    const r = await evalSafetyPolicy(model, cfg, data.safety, rm.scorer, rm.info.quality.calibration, { limit, seed: cfg.seed, tokenizer });
    return { final: { task: 'safety', scores: r.scores }, metrics: safetyCurveMetrics(r.scores), records: r.records };
  };
}

/** Inputs of the base evaluation: the config, its data, the base and (safety) the reward model. */
export interface BaseEvalInputs {
  cfg: PipelineConfig;
  data: TaskData;
  base: CacheEntry;
  rm: CacheEntry | null;
}

/** Store key of the base evaluation: the input artefacts' keys and the eval settings. */
export function baseEvalKey(cfg: PipelineConfig, base: CacheEntry, rm: CacheEntry | null): unknown {
  return { kind: 'base-eval', base: base.key, rm: rm?.key ?? null, eval: cfg.eval, versions: taskVersions(cfg.task) };
}

function formatTiers(tiers: Record<MathTier, MathTierScore>): string {
  return Object.entries(tiers)
    .map(([t, s]) => `${t} ${(s.greedy * 100).toFixed(0)}%`)
    .join(' ');
}

/** Stored stage "base-eval": the base policy's held-out evaluation (math: `eval.baseSamples` samples per prompt). */
export const baseEvaluation: StoredStage<BaseEvalInputs, BaseEval> = {
  name: 'base-eval',
  version: EXPERIMENT_CODE_VERSION,
  key: ({ cfg, base, rm }) => baseEvalKey(cfg, base, rm),
  async run({ cfg, data, base, rm }, dir, log) {
    const ck = await openBase(base, { trainable: false });
    const opened = rm ? await openRewardModel(rm) : null;
    try {
      let result: BaseEval;
      let records: unknown[];
      if (cfg.task === 'math' && data.task === 'math') {
        const r = await evalMathPolicy(ck.model, cfg, data.math, { seed: 0, tokenizer: ck.tokenizer, samples: cfg.eval.baseSamples || cfg.eval.samples });
        result = { task: 'math', tiers: r.tiers, meanGreedy: r.meanGreedy };
        records = r.records;
        log(`base greedy pass@1 ${formatTiers(r.tiers)}`);
      } else {
        if (data.task !== 'safety' || !opened) throw new Error(`${cfg.name}: task: the safety base evaluation needs the safety data and the reward model`);
        const r = await evalSafetyPolicy(ck.model, cfg, data.safety, opened.scorer, opened.info.quality.calibration, { seed: 0, tokenizer: ck.tokenizer });
        result = { task: 'safety', scores: r.scores };
        records = r.records;
        log(`base refusal(harmful) ${(r.scores.refusalHarmful * 100).toFixed(0)}% over-refusal(benign) ${(r.scores.overRefusalBenign * 100).toFixed(0)}%`);
      }
      writeFileSync(join(dir, 'samples.jsonl'), records.map((x) => JSON.stringify(x)).join('\n') + '\n');
      reportWork(baseEvalUnits(cfg));
      return result;
    } finally {
      opened?.dispose();
      ck.model.dispose();
    }
  },
};

/**
 * The final held-out evaluation of a trained run into `<runDir>/eval/` (samples, results beside
 * the base's, the curve whose last point is the final evaluation's curve subset).
 */
export async function evaluateRun(cfg: PipelineConfig, shared: SharedArtefacts, run: StartedRun, trained: Trained, evaluate: (limit?: number) => Promise<Evaluation>): Promise<EvaluatedRun> {
  const final = await evaluate();
  reportWork(evalUnits(cfg));
  const curve = [...trained.curve];
  // The last point is the curve subset of the final evaluation (same prompts, same greedy decoding).
  if (cfg.eval.every > 0) curve.push({ step: trained.steps, metrics: curveMetricsFromRecords(cfg.task, final.records, cfg.eval.curvePrompts) });
  const evalDir = join(run.dir, 'eval', cfg.task);
  mkdirSync(evalDir, { recursive: true });
  writeJsonl(join(evalDir, 'samples.jsonl'), final.records);
  writeJson(join(evalDir, 'results.json'), { ...final.final, base: readCacheInfo<BaseEval>(shared.baseEval), baseModel: readCacheInfo<BaseInfo>(shared.base) });
  if (curve.length > 0) writeJsonl(join(run.dir, 'eval', 'curve.jsonl'), curve);
  return { final: final.final, curve };
}
