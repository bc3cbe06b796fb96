/**
 * Shared artefacts of a task, built once and cached by content hash: the SFT base policy, the
 * learned reward model (safety) and the base policy's held-out evaluation (the table's "base"
 * row). Every pipeline of an experiment starts from the same base; `reproduce` builds these
 * before forking the training runs.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DecoderLM, backendName, initBackend, saveCheckpoint, type BackendName, type Tokenizer } from '@falign/core';
import { createRefusalJudge } from '@falign/rewards';
import type { EvalConfig, MathPipelineConfig, PipelineConfig, RewardModelConfig, SafetyDataConfig, SafetyPipelineConfig } from './config/schema.js';
import { EXPERIMENT_CODE_VERSION, cacheEntry, fillCacheEntry, readCacheInfo, type CacheEntry } from './cache.js';
import { MATH_GENERATOR_VERSION } from './generators/math.js';
import { SAFETY_GENERATOR_VERSION } from './generators/safety.js';
import { taskTokenizer } from './tokenizer.js';
import { TRAINED_SAMPLE_UNITS, baseEvalUnits, reportWork } from './work.js';
import { demonstrationNll, trainSft, type SftExample } from './sft.js';
import { buildMathTask, mathSftExamples, type MathTask } from './tasks/math-task.js';
import { buildSafetyTask, type SafetyTask } from './tasks/safety-task.js';
import { evaluateMath, type MathTierScore } from './eval/math-eval.js';
import { evaluateSafety, type RmCalibration, type SafetyScores } from './eval/safety-eval.js';
import {
  RewardModelScorer,
  assessRewardModel,
  loadRewardModel,
  probeRewardModelBiases,
  saveRewardModel,
  trainRewardModel,
  type BiasProbe,
  type RewardModelQuality,
} from './reward-model.js';
import type { MathTier } from './generators/math.js';
import { assertScratchModel, fillPretrainedBase, isPretrainedModel, openBase, pretrainedBaseKey } from './pretrained-base.js';

/** Starts the config's backend ('auto' lets core choose). */
export async function startBackend(backend: PipelineConfig['backend']): Promise<string> {
  return initBackend(backend === 'auto' ? undefined : (backend as BackendName));
}

function versions(task: 'math' | 'safety'): Record<string, number> {
  return { code: EXPERIMENT_CODE_VERSION, generator: task === 'math' ? MATH_GENERATOR_VERSION : SAFETY_GENERATOR_VERSION };
}

/** Cache key of the SFT base of a pipeline. */
export function baseKey(cfg: PipelineConfig, backend: string): unknown {
  if (isPretrainedModel(cfg.model)) return pretrainedBaseKey({ ...cfg, model: cfg.model }, backend, versions(cfg.task));
  // The RL prompt pool is drawn after the demonstrations and does not change them.
  const data = cfg.task === 'math' ? { ...cfg.data, rlPromptsPerTier: undefined } : cfg.data;
  return { kind: 'sft-base', task: cfg.task, data, model: cfg.model, sft: cfg.sft, backend, versions: versions(cfg.task) };
}

/** Cache key of the reward model of a safety pipeline. */
export function rewardModelKey(data: SafetyDataConfig, rm: RewardModelConfig, backend: string): unknown {
  return { kind: 'reward-model', data, rewardModel: rm, backend, versions: { ...versions('safety'), rewardModel: REWARD_MODEL_CODE_VERSION } };
}

/** Version of the reward-model training and probe code (part of its cache key). */
export const REWARD_MODEL_CODE_VERSION = 2;

/** What the SFT cache entry records. */
export interface BaseInfo {
  steps: number;
  firstLoss: number;
  lastLoss: number;
  heldOutNll: number | null;
  seconds: number;
  numParams: number;
  demonstrations: number;
}

/** What the reward-model cache entry records. */
export interface RewardModelInfo {
  quality: RewardModelQuality;
  probes: BiasProbe[];
  trainPairs: number;
  firstLoss: number;
  lastLoss: number;
  seconds: number;
  numParams: number;
}

/** The base row of a task's table. */
export type BaseEval =
  | { task: 'math'; tiers: Record<MathTier, MathTierScore>; meanGreedy: number }
  | { task: 'safety'; scores: SafetyScores };

type Log = (msg: string) => void;

function taskExamples(cfg: PipelineConfig, task: MathTask | SafetyTask): SftExample[] {
  return cfg.task === 'math' ? mathSftExamples(task as MathTask, cfg.data.sftCarryDropRate, cfg.data.seed) : (task as SafetyTask).demos.map((d) => ({ prompt: d.prompt, response: d.response }));
}

/** Builds the task data of a pipeline. */
export function buildTask(cfg: PipelineConfig): MathTask | SafetyTask {
  return cfg.task === 'math' ? buildMathTask(cfg.data) : buildSafetyTask(cfg.data);
}

/** The SFT base entry of `cfg`, trained now when not cached. */
export async function ensureBase(cfg: PipelineConfig, cacheRoot: string, log: Log): Promise<CacheEntry> {
  const backend = await startBackend(cfg.backend);
  const key = baseKey(cfg, backend);
  const entry = cacheEntry(cacheRoot, 'sft-base', key);
  if (entry.ready) return entry;
  if (isPretrainedModel(cfg.model)) return fillPretrainedBase({ ...cfg, model: cfg.model }, entry, key, buildTask(cfg), log);
  assertScratchModel(cfg);
  const task = buildTask(cfg);
  const examples = taskExamples(cfg, task);
  const tokenizer = taskTokenizer();
  log(`SFT base: ${examples.length} demonstrations, ${cfg.sft.steps} steps (cache ${entry.key})`);
  const t0 = Date.now();
  await fillCacheEntry(entry, key, async (dir) => {
    const model = new DecoderLM({ ...cfg.model, vocabSize: tokenizer.vocabSize }, { seed: cfg.sft.seed });
    try {
      const logs = trainSft(model, tokenizer, examples, cfg.sft, (l) => {
        reportWork(cfg.sft.batchSize * TRAINED_SAMPLE_UNITS);
        if (l.step % 50 === 0 || l.step === cfg.sft.steps - 1) log(`SFT step ${l.step + 1}/${cfg.sft.steps} loss ${l.loss.toFixed(3)}`);
      });
      writeFileSync(join(dir, 'sft-log.jsonl'), logs.map((l) => JSON.stringify(l)).join('\n') + '\n');
      const heldOut =
        cfg.task === 'math'
          ? Object.values((task as MathTask).test)
              .flat()
              .slice(0, 64)
              .map((p) => ({ prompt: p.prompt, response: p.solution }))
          : [];
      await saveCheckpoint(join(dir, 'model'), { model, tokenizer, meta: { kind: 'sft-base', task: cfg.task } });
      const info: BaseInfo = {
        steps: logs.length,
        firstLoss: logs[0].loss,
        lastLoss: logs[logs.length - 1].loss,
        heldOutNll: heldOut.length > 0 ? demonstrationNll(model, tokenizer, heldOut) : null,
        seconds: (Date.now() - t0) / 1000,
        numParams: model.numParams(),
        demonstrations: examples.length,
      };
      return info;
    } finally {
      model.dispose();
    }
  });
  return entry;
}

/** The reward-model entry of a safety pipeline, trained now when not cached. */
export async function ensureRewardModel(cfg: SafetyPipelineConfig, cacheRoot: string, log: Log): Promise<CacheEntry> {
  const backend = await startBackend(cfg.backend);
  const key = rewardModelKey(cfg.data, cfg.rewardModel, backend);
  const entry = cacheEntry(cacheRoot, 'reward-model', key);
  if (entry.ready) return entry;
  const task = buildSafetyTask(cfg.data);
  const tokenizer = taskTokenizer();
  log(`reward model: ${task.trainPairs.length} pairs, ${cfg.rewardModel.steps} steps (cache ${entry.key})`);
  const t0 = Date.now();
  await fillCacheEntry(entry, key, async (dir) => {
    const { model, logs } = trainRewardModel(tokenizer, task.trainPairs, cfg.rewardModel, (l) => {
      reportWork(2 * cfg.rewardModel.batchSize * TRAINED_SAMPLE_UNITS);
      if (l.step % 50 === 0 || l.step === cfg.rewardModel.steps - 1) log(`RM step ${l.step + 1}/${cfg.rewardModel.steps} loss ${l.loss.toFixed(3)}`);
    });
    try {
      writeFileSync(join(dir, 'rm-log.jsonl'), logs.map((l) => JSON.stringify(l)).join('\n') + '\n');
      const scorer = new RewardModelScorer(model, tokenizer);
      const quality = await assessRewardModel(scorer, task.testPairs);
      const probes = await probeRewardModelBiases(scorer, task.test, quality.calibration, cfg.data.maxResponseChars, cfg.data.seed);
      await saveRewardModel(join(dir, 'model'), model, tokenizer);
      log(`reward model held-out pair accuracy ${(quality.accuracy * 100).toFixed(1)}%`);
      const info: RewardModelInfo = {
        quality,
        probes,
        trainPairs: task.trainPairs.length,
        firstLoss: logs[0].loss,
        lastLoss: logs[logs.length - 1].loss,
        seconds: (Date.now() - t0) / 1000,
        numParams: model.numParams(),
      };
      return info;
    } finally {
      model.dispose();
    }
  });
  return entry;
}

/** Loads the frozen reward model of an entry with its scorer and calibration. */
export async function openRewardModel(entry: CacheEntry): Promise<{ scorer: RewardModelScorer; info: RewardModelInfo; dispose: () => void }> {
  const { model, tokenizer } = await loadRewardModel(join(entry.dir, 'model'));
  return { scorer: new RewardModelScorer(model, tokenizer), info: readCacheInfo<RewardModelInfo>(entry), dispose: () => model.dispose() };
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

/** Cache key of the base evaluation. */
function baseEvalKey(cfg: PipelineConfig, base: CacheEntry, rm: CacheEntry | null): unknown {
  return { kind: 'base-eval', base: base.key, rm: rm?.key ?? null, eval: cfg.eval, versions: versions(cfg.task) };
}

/**
 * The shared artefacts of `cfg` when all of them are already cached, without starting a backend
 * (the configured backend must be named, not 'auto'); null otherwise.
 */
export function cachedShared(cfg: PipelineConfig, cacheRoot: string): { base: CacheEntry; rm: CacheEntry | null; baseEval: CacheEntry } | null {
  if (cfg.backend === 'auto') return null;
  const base = cacheEntry(cacheRoot, 'sft-base', baseKey(cfg, cfg.backend));
  const rm = cfg.task === 'safety' ? cacheEntry(cacheRoot, 'reward-model', rewardModelKey(cfg.data, cfg.rewardModel, cfg.backend)) : null;
  if (!base.ready || (rm && !rm.ready)) return null;
  const baseEval = cacheEntry(cacheRoot, 'base-eval', baseEvalKey(cfg, base, rm));
  return baseEval.ready ? { base, rm, baseEval } : null;
}

/**
 * Everything shared by the pipelines of `cfg`'s task (base, reward model, base evaluation),
 * built when missing. Returns the cache entries.
 */
export async function prepareShared(
  cfg: PipelineConfig,
  cacheRoot: string,
  log: Log,
): Promise<{ base: CacheEntry; rm: CacheEntry | null; baseEval: CacheEntry }> {
  const base = await ensureBase(cfg, cacheRoot, log);
  const rm = cfg.task === 'safety' ? await ensureRewardModel(cfg, cacheRoot, log) : null;
  const key = baseEvalKey(cfg, base, rm);
  const baseEval = cacheEntry(cacheRoot, 'base-eval', key);
  if (!baseEval.ready) {
    const ck = await openBase(base, { trainable: false });
    try {
      await fillCacheEntry(baseEval, key, async (dir) => {
        if (cfg.task === 'math') {
          const r = await evalMathPolicy(ck.model, cfg, buildMathTask(cfg.data), { seed: 0, tokenizer: ck.tokenizer, samples: cfg.eval.baseSamples || cfg.eval.samples });
          writeFileSync(join(dir, 'samples.jsonl'), r.records.map((x) => JSON.stringify(x)).join('\n') + '\n');
          reportWork(baseEvalUnits(cfg));
          log(`base greedy pass@1 ${formatTiers(r.tiers)}`);
          return { task: 'math', tiers: r.tiers, meanGreedy: r.meanGreedy } satisfies BaseEval;
        }
        const opened = await openRewardModel(rm as CacheEntry);
        try {
          const r = await evalSafetyPolicy(ck.model, cfg, buildSafetyTask(cfg.data), opened.scorer, opened.info.quality.calibration, { seed: 0, tokenizer: ck.tokenizer });
          writeFileSync(join(dir, 'samples.jsonl'), r.records.map((x) => JSON.stringify(x)).join('\n') + '\n');
          reportWork(baseEvalUnits(cfg));
          log(`base refusal(harmful) ${(r.scores.refusalHarmful * 100).toFixed(0)}% over-refusal(benign) ${(r.scores.overRefusalBenign * 100).toFixed(0)}%`);
          return { task: 'safety', scores: r.scores } satisfies BaseEval;
        } finally {
          opened.dispose();
        }
      });
    } finally {
      ck.model.dispose();
    }
  }
  return { base, rm, baseEval };
}

function formatTiers(tiers: Record<MathTier, MathTierScore>): string {
  return Object.entries(tiers)
    .map(([t, s]) => `${t} ${(s.greedy * 100).toFixed(0)}%`)
    .join(' ');
}

/** The name of the active backend (after {@link startBackend}). */
export function activeBackend(): string {
  return backendName() ?? 'unknown';
}
