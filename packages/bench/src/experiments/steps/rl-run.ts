/**
 * Stage "rl-run": one method × seed. The base policy (with its LoRA adapter when configured)
 * is trained in place by the config's stages in order (GRPO, f-GRPO, f-HAL, FDO, DPO or continued
 * SFT), evaluated on held-out prompts every `eval.every` steps; a killed single-stage run resumes
 * from its last periodic checkpoint (resume.ts). It writes the trainers' metrics into the run
 * directory (run-dir.ts); the trained policy stays in memory for the final evaluation.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoraAdapter, type DecoderLM, type Tokenizer } from '@falign/core';
import { createRefusalJudge } from '@falign/rewards';
import type { StepMetrics } from '@falign/objectives';
import type { PipelineConfig } from '../config/schema.js';
import { isAlignedResponse, normalizeRmScore } from '../eval/safety-eval.js';
import { mathTaskReward, randomReward } from '../eval/verifier.js';
import { openBase } from '../pretrained-base.js';
import { appendCurvePoint, readCurvePoints } from '../resume.js';
import { runStage, type StagePair, type StagePrompt, type StageReward } from '../stages.js';
import type { CacheEntry } from '../store.js';
import { mathPreferencePairs, mathPromptItems, mathSftExamples } from '../tasks/math-task.js';
import { curveUnits, reportWork, stageStepUnits } from '../work.js';
import type { TaskData } from './data.js';
import { curveMetricsFromRecords, type Evaluation } from './evaluate.js';
import { openRewardModel, type OpenedRewardModel } from './reward-model.js';
import type { CurvePoint, RunResult, SharedArtefacts, StartedRun } from './run-dir.js';

/** The policy of a run: the base (trainable, or frozen under a LoRA adapter), its frozen reference and the reward model. */
export interface RunPolicy {
  model: DecoderLM;
  tokenizer: Tokenizer;
  reference: DecoderLM;
  adapter: LoraAdapter | null;
  rm: OpenedRewardModel | null;
  dispose(): void;
}

/** Opens the policy a run trains, from the shared artefacts. */
export async function openPolicy(cfg: PipelineConfig, shared: SharedArtefacts): Promise<RunPolicy> {
  // With LoRA the base stays frozen and the reference is the same weights with the adapters off.
  const { model, tokenizer } = await openBase(shared.base, { trainable: !cfg.lora });
  let adapter: LoraAdapter | null = null;
  try {
    adapter = cfg.lora ? LoraAdapter.create(model, { ...cfg.lora, seed: cfg.seed }) : null;
  } catch (e) {
    model.dispose();
    throw new Error(`lora: ${(e as Error).message}`, { cause: e });
  }
  const reference = adapter ? adapter.reference() : model.clone({ trainable: false });
  let rm: OpenedRewardModel | null = null;
  try {
    rm = shared.rm ? await openRewardModel(shared.rm) : null;
  } catch (e) {
    reference.dispose();
    adapter?.dispose();
    model.dispose();
    throw e;
  }
  return {
    model,
    tokenizer,
    reference,
    adapter,
    rm,
    dispose() {
      rm?.dispose();
      reference.dispose();
      adapter?.dispose();
      model.dispose();
    },
  };
}

/** Greedy records of the base evaluation (stored next to it). */
function readBaseRecords(baseEval: CacheEntry): unknown[] {
  return readFileSync(join(baseEval.dir, 'samples.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as unknown);
}

/** What training returns: per-stage timings, the curve so far and the total step count. */
export interface Trained {
  stages: RunResult['stages'];
  curve: CurvePoint[];
  steps: number;
}

/**
 * Trains `policy` through the config's stages in place, with curve evaluations every
 * `eval.every` steps (step 0 comes from the stored base evaluation).
 */
export async function trainStages(
  cfg: PipelineConfig,
  data: TaskData,
  policy: RunPolicy,
  baseEval: CacheEntry,
  run: StartedRun,
  evaluate: (limit?: number) => Promise<Evaluation>,
  opts: { checkpointEvery?: number; log: (msg: string) => void },
): Promise<Trained> {
  const { resume } = run;
  const curve: CurvePoint[] = [];
  const curveEvery = cfg.eval.every;
  if (curveEvery > 0) curve.push({ step: 0, metrics: curveMetricsFromRecords(cfg.task, readBaseRecords(baseEval), cfg.eval.curvePrompts) });
  if (resume) curve.push(...readCurvePoints(run.dir, resume.step).filter((p) => p.step > 0));

  const { prompts, rewards, pairs } = stageData(cfg, data, policy.rm);
  const stages: RunResult['stages'] = [];
  let offset = 0;
  for (const [k, stage] of cfg.stages.entries()) {
    const ts = Date.now();
    opts.log(`stage ${k + 1}/${cfg.stages.length}: ${stage.algorithm}, ${stage.steps} steps`);
    const stageDir = cfg.stages.length === 1 ? run.dir : join(run.dir, `stage-${k + 1}`);
    mkdirSync(stageDir, { recursive: true });
    // The random-reward control trains on coin flips; the task's reward is logged beside them.
    const random = 'randomReward' in stage ? stage.randomReward : undefined;
    const stageRewards = random === undefined ? rewards : [{ name: 'random', fn: randomReward(cfg.seed * 7919 + k, random) }, ...rewards.map((r) => ({ ...r, weight: 0 }))];
    // The "no RL" control continues on the base's own demonstrations (math: the same teacher).
    const stagePairs =
      stage.algorithm === 'sft' && data.task === 'math' && cfg.task === 'math'
        ? mathSftExamples(data.math, cfg.data.sftCarryDropRate, cfg.data.seed).map((e) => ({ prompt: e.prompt, chosen: e.response, rejected: '' }))
        : pairs;
    await runStage(stage, {
      model: policy.model,
      tokenizer: policy.tokenizer,
      reference: policy.reference,
      adapter: policy.adapter ?? undefined,
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
          appendCurvePoint(run.dir, point);
        }
      },
      onStep: async (m: StepMetrics) => {
        reportWork(stageStepUnits(stage, cfg));
        const step = offset + Number(m.step);
        if (typeof m.step === 'number' && m.step % 10 === 0) opts.log(`step ${m.step}/${stage.steps} reward ${fmt(m.reward)} loss ${fmt(m.loss)}`);
        const last = k === cfg.stages.length - 1 && Number(m.step) === stage.steps;
        if (curveEvery > 0 && step % curveEvery === 0 && !last) {
          const point = { step, metrics: (await evaluate(cfg.eval.curvePrompts)).metrics };
          reportWork(curveUnits(cfg));
          curve.push(point);
          if (opts.checkpointEvery) appendCurvePoint(run.dir, point);
        }
      },
    });
    offset += stage.steps;
    stages.push({ algorithm: stage.algorithm, steps: stage.steps, seconds: (Date.now() - ts) / 1000 });
  }
  return { stages, curve, steps: offset };
}

function fmt(v: unknown): string {
  return typeof v === 'number' ? v.toFixed(3) : '-';
}

/** Prompts, rewards and offline pairs of a pipeline's task. */
function stageData(cfg: PipelineConfig, data: TaskData, rm: OpenedRewardModel | null): { prompts: StagePrompt[]; rewards: StageReward[]; pairs: StagePair[] } {
  if (data.task === 'math') {
    const reward = mathTaskReward();
    return {
      prompts: mathPromptItems(data.math.rlPrompts),
      rewards: [{ name: 'accuracy', fn: (s) => reward(s) }],
      pairs: mathPreferencePairs(data.math.demos, cfg.seed),
    };
  }
  if (!rm) throw new Error(`${cfg.name}: rewardModel: the safety task trains against the learned reward model, which is missing`);
  const task = data.safety;
  const scorer = rm.scorer;
  const calibration = rm.info.quality.calibration;
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
