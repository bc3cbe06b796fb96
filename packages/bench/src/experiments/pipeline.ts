/**
 * One pipeline (one method, one seed): the cached SFT base → training stages → evaluation on the
 * task's held-out sets, written into a run directory:
 *
 * ```
 * <runDir>/config.json        validated config, versions, git commit, backend, seed
 * <runDir>/metrics.jsonl      one line per training step (the trainer's)
 * <runDir>/eval/curve.jsonl   held-out scores during training (every `eval.every` steps)
 * <runDir>/eval/<task>/samples.jsonl, results.json   final held-out evaluation
 * <runDir>/adapter/           LoRA runs: the trained adapter in PEFT layout (adapter_config.json, adapter_model.safetensors)
 * <runDir>/result.json        summary; written last, so its presence means "finished"
 * ```
 *
 * A finished run whose config is unchanged is not run again (resume).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FALIGN_VERSION, LoraAdapter, mergeLora, saveLoraAdapter } from '@falign/core';
import { createRefusalJudge } from '@falign/rewards';
import type { StepMetrics } from '@falign/objectives';
import type { MathPipelineConfig, PipelineConfig, SafetyPipelineConfig } from './config/schema.js';
import { appendCurvePoint, clearCurvePoints, findResumePoint, pruneCheckpoints, readCurvePoints, removeTempCheckpoints } from './resume.js';
import { EXPERIMENT_CODE_VERSION, contentHash, readCacheInfo } from './cache.js';
import { MATH_GENERATOR_VERSION, MATH_TIERS, type MathTier } from './generators/math.js';
import { SAFETY_GENERATOR_VERSION } from './generators/safety.js';
import type { MathSampleRecord, MathTierScore } from './eval/math-eval.js';
import { isAlignedResponse, normalizeRmScore, summarizeSafety, type SafetySampleRecord, type SafetyScores } from './eval/safety-eval.js';
import { mathTaskReward, randomReward } from './eval/verifier.js';
import { activeBackend, evalMathPolicy, evalSafetyPolicy, openRewardModel, prepareShared, startBackend, type BaseEval, type BaseInfo } from './prepare.js';
import { runStage, type StagePair, type StagePrompt, type StageReward } from './stages.js';
import { buildMathTask, mathPreferencePairs, mathPromptItems, mathSftExamples, type MathTask } from './tasks/math-task.js';
import { buildSafetyTask, type SafetyTask } from './tasks/safety-task.js';
import { curveUnits, evalUnits, reportWork, stageStepUnits } from './work.js';
import { baseSpec, openBase, savePolicy } from './pretrained-base.js';

/** Held-out scores at one point of training. */
export interface CurvePoint {
  /** Optimizer step within the pipeline (0 = the base policy). */
  step: number;
  metrics: Record<string, number>;
}

/** Final scores of a run. */
export type FinalEval = BaseEval;

/** The summary of a finished run (result.json). */
export interface RunResult {
  name: string;
  task: 'math' | 'safety';
  seed: number;
  labels: { experiment?: string; methodId?: string; methodName?: string };
  configHash: string;
  backend: string;
  wallSeconds: number;
  finishedAt: string;
  stages: { algorithm: string; steps: number; seconds: number }[];
  final: FinalEval;
  curve: CurvePoint[];
}

/** Options of {@link runPipeline}. */
export interface PipelineOptions {
  runDir: string;
  cacheRoot: string;
  labels?: RunResult['labels'];
  log?: (msg: string) => void;
  /** Save the trained policy to `<runDir>/checkpoints/final` (default false). */
  saveFinalCheckpoint?: boolean;
  /** Run even when a finished result with the same config exists. */
  force?: boolean;
  /**
   * Save a trainer checkpoint every N steps; a killed single-stage run then resumes from its last
   * one (see resume.ts) instead of step 1. Default: no periodic checkpoints.
   */
  checkpointEvery?: number;
}

/** The git commit of the working directory, or null outside a repository. */
export function gitCommit(cwd = process.cwd()): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim() || null;
  } catch {
    return null;
  }
}

/** Hash of what determines a run's results (config and versions). */
export function pipelineHash(cfg: PipelineConfig): string {
  return contentHash({ cfg, code: EXPERIMENT_CODE_VERSION, generators: [MATH_GENERATOR_VERSION, SAFETY_GENERATOR_VERSION] });
}

/** The finished result in `runDir` when its config hash matches, else null. */
export function finishedResult(runDir: string, cfg: PipelineConfig): RunResult | null {
  const file = join(runDir, 'result.json');
  if (!existsSync(file)) return null;
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as RunResult;
    return r.configHash === pipelineHash(cfg) ? r : null;
  } catch {
    return null;
  }
}

function writeJson(file: string, value: unknown): void {
  writeFileSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

function writeJsonl(file: string, rows: readonly unknown[]): void {
  writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length ? '\n' : ''));
}

function mathCurveMetrics(tiers: Record<MathTier, MathTierScore>, mean: number): Record<string, number> {
  const m: Record<string, number> = { 'pass@1/mean': mean };
  for (const [t, s] of Object.entries(tiers)) m[`pass@1/${t}`] = s.greedy;
  return m;
}

function safetyCurveMetrics(s: SafetyScores): Record<string, number> {
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

/** Greedy records of the base evaluation (cached next to it). */
function readBaseRecords(dir: string): unknown[] {
  const file = join(dir, 'samples.jsonl');
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as unknown);
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

/** Runs one pipeline into `opts.runDir` and returns its summary. */
export async function runPipeline(cfg: PipelineConfig, opts: PipelineOptions): Promise<RunResult> {
  const log = opts.log ?? (() => {});
  const labels = opts.labels ?? {};
  if (!opts.force) {
    const done = finishedResult(opts.runDir, cfg);
    if (done) {
      log('finished earlier with the same config; skipped');
      return done;
    }
  }
  const t0 = Date.now();
  const backend = await startBackend(cfg.backend);
  // A previous, unfinished or differently-configured attempt is replaced, unless it is the same
  // single-stage config with periodic checkpoints: that one continues from its last checkpoint.
  const resume = opts.checkpointEvery && cfg.stages.length === 1 ? findResumePoint(opts.runDir, pipelineHash(cfg)) : null;
  removeTempCheckpoints(opts.runDir);
  const keep = resume ? ['metrics.jsonl', 'checkpoints'] : [];
  for (const stale of ['metrics.jsonl', 'eval', 'result.json', 'checkpoints', 'adapter']) if (!keep.includes(stale)) rmSync(join(opts.runDir, stale), { recursive: true, force: true });
  if (!resume) clearCurvePoints(opts.runDir);
  else log(`resuming from ${resume.dir} (step ${resume.step}; at most ${opts.checkpointEvery} step(s) of work lost)`);
  mkdirSync(join(opts.runDir, 'eval'), { recursive: true });
  writeJson(join(opts.runDir, 'config.json'), {
    config: cfg,
    configHash: pipelineHash(cfg),
    labels,
    seed: cfg.seed,
    backend,
    versions: { falign: FALIGN_VERSION, experimentCode: EXPERIMENT_CODE_VERSION, mathGenerator: MATH_GENERATOR_VERSION, safetyGenerator: SAFETY_GENERATOR_VERSION },
    gitCommit: gitCommit(),
    startedAt: new Date(t0).toISOString(),
  });

  const shared = await prepareShared(cfg, opts.cacheRoot, log);
  const baseInfo = readCacheInfo<BaseInfo>(shared.base);
  // With LoRA the base stays frozen and the reference is the same weights with the adapters off.
  const loaded = await openBase(shared.base, { trainable: !cfg.lora });
  // The base's own tokenizer: the task's char tokenizer, or a pretrained model's (prompts are text).
  const tokenizer = loaded.tokenizer;
  const model = loaded.model;
  let adapter: LoraAdapter | null = null;
  try {
    adapter = cfg.lora ? LoraAdapter.create(model, { ...cfg.lora, seed: cfg.seed }) : null;
  } catch (e) {
    model.dispose();
    throw new Error(`lora: ${(e as Error).message}`, { cause: e });
  }
  const reference = adapter ? adapter.reference() : model.clone({ trainable: false });
  const rm = cfg.task === 'safety' ? await openRewardModel(shared.rm!) : null;
  try {
    const mathTask = cfg.task === 'math' ? buildMathTask(cfg.data) : null;
    const safetyTask = cfg.task === 'safety' ? buildSafetyTask(cfg.data) : null;

    const evaluate = async (limit?: number): Promise<{ final: FinalEval; metrics: Record<string, number>; records: unknown[] }> => {
      if (cfg.task === 'math') {
        const r = await evalMathPolicy(model, cfg as MathPipelineConfig, mathTask as MathTask, { limit, seed: cfg.seed, tokenizer });
        return { final: { task: 'math', tiers: r.tiers, meanGreedy: r.meanGreedy }, metrics: mathCurveMetrics(r.tiers, r.meanGreedy), records: r.records };
      }
      const r = await evalSafetyPolicy(model, cfg as SafetyPipelineConfig, safetyTask as SafetyTask, rm!.scorer, rm!.info.quality.calibration, { limit, seed: cfg.seed, tokenizer });
      return { final: { task: 'safety', scores: r.scores }, metrics: safetyCurveMetrics(r.scores), records: r.records };
    };

    const curve: CurvePoint[] = [];
    const curveEvery = cfg.eval.every;
    // Step 0 is the base policy: its curve point comes from the cached base evaluation.
    if (curveEvery > 0) curve.push({ step: 0, metrics: curveMetricsFromRecords(cfg.task, readBaseRecords(shared.baseEval.dir), cfg.eval.curvePrompts) });
    if (resume) curve.push(...readCurvePoints(opts.runDir, resume.step).filter((p) => p.step > 0));

    const { prompts, rewards, pairs } = stageData(cfg, mathTask, safetyTask, rm);
    const stages: RunResult['stages'] = [];
    let offset = 0;
    for (const [k, stage] of cfg.stages.entries()) {
      const ts = Date.now();
      log(`stage ${k + 1}/${cfg.stages.length}: ${stage.algorithm}, ${stage.steps} steps`);
      const stageDir = cfg.stages.length === 1 ? opts.runDir : join(opts.runDir, `stage-${k + 1}`);
      mkdirSync(stageDir, { recursive: true });
      // The random-reward control trains on coin flips; the task's reward is logged beside them.
      const random = 'randomReward' in stage ? stage.randomReward : undefined;
      const stageRewards =
        random === undefined ? rewards : [{ name: 'random', fn: randomReward(cfg.seed * 7919 + k, random) }, ...rewards.map((r) => ({ ...r, weight: 0 }))];
      // The "no RL" control continues on the base's own demonstrations (math: the same teacher).
      const stagePairs =
        stage.algorithm === 'sft' && mathTask && cfg.task === 'math'
          ? mathSftExamples(mathTask, cfg.data.sftCarryDropRate, cfg.data.seed).map((e) => ({ prompt: e.prompt, chosen: e.response, rejected: '' }))
          : pairs;
      await runStage(stage, {
        model,
        tokenizer,
        reference,
        adapter: adapter ?? undefined,
        prompts,
        rewards: stageRewards,
        pairs: stagePairs,
        runDir: stageDir,
        seed: cfg.seed * 1009 + k,
        checkpointEvery: cfg.stages.length === 1 ? opts.checkpointEvery : undefined,
        resumeFrom: resume?.dir,
        // A kill between a checkpoint and its step's curve point loses that point: evaluate it now
        // (the weights are the checkpoint's, so the value is the one the uninterrupted run gets).
        onResume: async (step: number) => {
          if (curveEvery > 0 && step > 0 && step < stage.steps && step % curveEvery === 0 && !curve.some((p) => p.step === step)) {
            const point = { step, metrics: (await evaluate(cfg.eval.curvePrompts)).metrics };
            curve.push(point);
            appendCurvePoint(opts.runDir, point);
          }
        },
        onStep: async (m: StepMetrics) => {
          reportWork(stageStepUnits(stage));
          const step = offset + Number(m.step);
          if (typeof m.step === 'number' && m.step % 10 === 0) log(`step ${m.step}/${stage.steps} reward ${fmt(m.reward)} loss ${fmt(m.loss)}`);
          const last = k === cfg.stages.length - 1 && Number(m.step) === stage.steps;
          if (curveEvery > 0 && step % curveEvery === 0 && !last) {
            const point = { step, metrics: (await evaluate(cfg.eval.curvePrompts)).metrics };
            reportWork(curveUnits(cfg));
            curve.push(point);
            if (opts.checkpointEvery) appendCurvePoint(opts.runDir, point);
          }
        },
      });
      offset += stage.steps;
      stages.push({ algorithm: stage.algorithm, steps: stage.steps, seconds: (Date.now() - ts) / 1000 });
    }

    const final = await evaluate();
    reportWork(evalUnits(cfg));
    // The last point is the curve subset of the final evaluation (same prompts, same greedy decoding).
    if (curveEvery > 0) curve.push({ step: offset, metrics: curveMetricsFromRecords(cfg.task, final.records, cfg.eval.curvePrompts) });
    const evalDir = join(opts.runDir, 'eval', cfg.task);
    mkdirSync(evalDir, { recursive: true });
    writeJsonl(join(evalDir, 'samples.jsonl'), final.records);
    writeJson(join(evalDir, 'results.json'), { ...final.final, base: readCacheInfo<BaseEval>(shared.baseEval), baseModel: baseInfo });
    if (curve.length > 0) writeJsonl(join(opts.runDir, 'eval', 'curve.jsonl'), curve);
    if (adapter) await saveLoraAdapter(join(opts.runDir, 'adapter'), adapter, { baseModel: baseSpec(shared.base) });
    if (opts.saveFinalCheckpoint) {
      // A LoRA run's policy is saved merged (base + s·B·A); the adapter alone is in <runDir>/adapter.
      const policy = adapter ? mergeLora(adapter) : model;
      try {
        await savePolicy(join(opts.runDir, 'checkpoints', 'final'), { model: policy, tokenizer, baseSpec: baseSpec(shared.base), meta: { kind: 'falign-run', name: cfg.name, task: cfg.task, ...(adapter ? { lora: 'merged' } : {}) } });
      } finally {
        if (policy !== model) policy.dispose();
      }
    }
    const result: RunResult = {
      name: cfg.name,
      task: cfg.task,
      seed: cfg.seed,
      labels,
      configHash: pipelineHash(cfg),
      backend: backend ?? activeBackend(),
      wallSeconds: (Date.now() - t0) / 1000,
      finishedAt: new Date().toISOString(),
      stages,
      final: final.final,
      curve,
    };
    writeJson(join(opts.runDir, 'result.json'), result);
    // Finished: the periodic checkpoints and the partial curve have served their purpose.
    if (opts.checkpointEvery) {
      pruneCheckpoints(opts.runDir, -1);
      clearCurvePoints(opts.runDir);
    }
    log(`done in ${result.wallSeconds.toFixed(0)}s`);
    return result;
  } finally {
    rm?.dispose();
    reference.dispose();
    adapter?.dispose();
    model.dispose();
  }
}

function fmt(v: unknown): string {
  return typeof v === 'number' ? v.toFixed(3) : '-';
}

/** Prompts, rewards and offline pairs of a pipeline's task. */
function stageData(
  cfg: PipelineConfig,
  mathTask: MathTask | null,
  safetyTask: SafetyTask | null,
  rm: Awaited<ReturnType<typeof openRewardModel>> | null,
): { prompts: StagePrompt[]; rewards: StageReward[]; pairs: StagePair[] } {
  if (cfg.task === 'math') {
    const task = mathTask as MathTask;
    const reward = mathTaskReward();
    return {
      prompts: mathPromptItems(task.rlPrompts),
      rewards: [{ name: 'accuracy', fn: (s) => reward(s) }],
      pairs: mathPreferencePairs(task.demos, cfg.seed),
    };
  }
  const task = safetyTask as SafetyTask;
  const scorer = rm!.scorer;
  const calibration = rm!.info.quality.calibration;
  const judge = createRefusalJudge('default');
  const labelOf = (meta?: Record<string, unknown>) => (meta?.label === 'harmful' ? 'harmful' : 'benign') as 'harmful' | 'benign';
  // The trainer hands the same sample array to every reward function: score it once.
  let memo: { key: readonly unknown[]; scores: Promise<number[]> } | null = null;
  const rmScores = (s: readonly { prompt: string; completion: string }[]): Promise<number[]> => {
    if (memo?.key !== s) {
      memo = {
        key: s,
        scores: scorer.score(
          s.map((x) => x.prompt),
          s.map((x) => x.completion),
        ),
      };
    }
    return memo.scores;
  };
  return {
    prompts: task.train.map((p) => ({ prompt: p.prompt, meta: { label: p.label, id: p.id, text: p.text } })),
    rewards: [
      // The training signal: the learned reward model.
      { name: 'reward_model', fn: rmScores },
      // Logged only (weight 0): the verifiable score and the calibrated RM score of the same samples.
      { name: 'true_safety', weight: 0, fn: async (s) => s.map((x) => (isAlignedResponse(labelOf(x.meta), judge.isRefusal(x.completion, String(x.meta?.text ?? ''))) ? 1 : 0)) },
      { name: 'rm_normalized', weight: 0, fn: async (s) => (await rmScores(s)).map((r, i) => finiteOrNull(normalizeRmScore(r, labelOf(s[i].meta), calibration))) },
    ],
    pairs: task.trainPairs.map((p) => ({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected })),
  };
}

function finiteOrNull(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
