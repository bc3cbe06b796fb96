/**
 * One training stage of a pipeline: maps the validated stage config onto a trainer of
 * @falign/objectives (OnPolicyTrainer for GRPO / f-GRPO, HybridTrainer for f-HAL,
 * OfflineTrainer for FDO / DPO) and runs it. The trainer writes `metrics.jsonl` into the run
 * directory; `onStep` lets the pipeline evaluate on held-out prompts during training.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AdamW, Rng, tf, tokenLogprobs, trainStepAsync, warmupCosineLr, type DecoderLM, type LoraAdapter, type Tokenizer } from '@falign/core';
import { HybridTrainer, OfflineTrainer, OnPolicyTrainer, type StepMetrics } from '@falign/objectives';
import type { StageConfig } from './config/schema.js';
import { encodeDemonstrations } from './sft.js';

/** A training prompt with the metadata its reward functions read. */
export interface StagePrompt {
  prompt: string;
  meta?: Record<string, unknown>;
}

/** An offline preference pair (aligned = chosen). */
export interface StagePair {
  prompt: string;
  chosen: string;
  rejected: string;
}

/** A reward function with its name and weight in the combined reward. */
export interface StageReward {
  name: string;
  weight?: number;
  fn: (samples: readonly { prompt: string; completion: string; meta?: Record<string, unknown> }[]) => Promise<(number | null)[]>;
}

/** Inputs of {@link runStage}. */
export interface StageInputs {
  model: DecoderLM;
  tokenizer: Tokenizer;
  /** Frozen reference (the pipeline's base policy). */
  reference: DecoderLM;
  /** LoRA adapters attached to `model` (only they train; `reference` is then the adapter's). */
  adapter?: LoraAdapter;
  prompts: readonly StagePrompt[];
  rewards: readonly StageReward[];
  pairs: readonly StagePair[];
  runDir: string;
  seed: number;
  onStep?: (metrics: StepMetrics) => Promise<void> | void;
  /** Save a trainer checkpoint (`<runDir>/checkpoints/step-N`) every N optimizer steps. */
  checkpointEvery?: number;
  /** Continue from this trainer checkpoint (same stage config and data) instead of step 1. */
  resumeFrom?: string;
  /** Called once the checkpoint is loaded, with its step (the pipeline re-evaluates a lost curve point). */
  onResume?: (step: number) => Promise<void> | void;
}

/** Learning rate: linear warmup, then constant. */
function schedule(stage: StageConfig): (step: number) => number {
  return warmupCosineLr({ peak: stage.lr, warmupSteps: Math.min(stage.warmupSteps, stage.steps), totalSteps: stage.steps, minLr: stage.lr });
}

function optim(stage: StageConfig, seed: number, runDir: string, checkpointEvery?: number) {
  return { lr: schedule(stage), weightDecay: stage.weightDecay, clipNorm: stage.maxGradNorm, seed, runDir, log: false, ...(checkpointEvery ? { checkpointEvery } : {}) };
}

/** Whether a stage samples from the policy (and so needs prompts and rewards). */
export function isOnPolicy(stage: StageConfig): boolean {
  return stage.algorithm === 'grpo' || stage.algorithm === 'fgrpo' || stage.algorithm === 'fhal';
}

/** Whether a stage reads offline pairs. */
export function needsPairs(stage: StageConfig): boolean {
  return stage.algorithm === 'fhal' || stage.algorithm === 'fdo' || stage.algorithm === 'dpo';
}

/** Runs one stage; the policy model is trained in place. Returns the per-step metrics. */
export async function runStage(stage: StageConfig, inp: StageInputs): Promise<StepMetrics[]> {
  const policy = { model: inp.model, tokenizer: inp.tokenizer, adapter: inp.adapter };
  if (isOnPolicy(stage) && (inp.prompts.length === 0 || inp.rewards.length === 0)) {
    throw new Error(`stage ${stage.algorithm}: needs training prompts and a reward`);
  }
  if (needsPairs(stage) && inp.pairs.length === 0) throw new Error(`stage ${stage.algorithm}: needs offline preference pairs`);
  const rewards = inp.rewards.map((r) => ({ name: r.name, weight: r.weight, fn: r.fn }));
  const prompts = inp.prompts.map((p) => ({ prompt: p.prompt, meta: p.meta }));
  const pairs = inp.pairs.map((p) => ({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected }));
  if (stage.algorithm === 'sft') return continueSft(stage, inp);
  let trainer: OnPolicyTrainer | HybridTrainer | OfflineTrainer;
  switch (stage.algorithm) {
    case 'grpo':
    case 'fgrpo': {
      const common = {
        ...optim(stage, inp.seed, inp.runDir, inp.checkpointEvery),
        algorithm: stage.algorithm,
        numGenerations: stage.groupSize,
        promptsPerStep: stage.promptsPerStep,
        numIterations: stage.numIterations,
        maxNewTokens: stage.maxNewTokens,
        temperature: stage.temperature,
      };
      const config =
        stage.algorithm === 'grpo'
          ? {
              ...common,
              grpo: { epsLow: stage.clipEps, epsHigh: stage.clipEpsHigh ?? stage.clipEps, betaKl: stage.klCoef, lossType: stage.lossAggregation },
            }
          : { ...common, divergence: stage.divergence, beta: stage.beta, gamma: stage.gamma };
      trainer = new OnPolicyTrainer({ policy, prompts, rewards, config, reference: inp.reference });
      break;
    }
    case 'fhal':
      trainer = new HybridTrainer({
        policy,
        prompts,
        rewards,
        offline: pairs,
        reference: inp.reference,
        config: {
          ...optim(stage, inp.seed, inp.runDir, inp.checkpointEvery),
          numGenerations: stage.groupSize,
          promptsPerStep: stage.promptsPerStep,
          numIterations: stage.numIterations,
          maxNewTokens: stage.maxNewTokens,
          temperature: stage.temperature,
          divergence: stage.divergence,
          beta: stage.beta,
          gamma: stage.gamma,
          lambda: stage.lambda,
          offlineBatchSize: stage.offlineBatchSize,
        },
      });
      break;
    case 'fdo':
    case 'dpo':
      trainer = new OfflineTrainer({
        policy,
        data: pairs,
        reference: inp.reference,
        config: {
          ...optim(stage, inp.seed, inp.runDir, inp.checkpointEvery),
          algorithm: stage.algorithm,
          batchSize: stage.batchSize,
          beta: stage.beta,
          ...(stage.algorithm === 'fdo' ? { divergence: stage.divergence } : {}),
        },
      });
      break;
  }
  try {
    if (inp.resumeFrom) {
      await trainer.resume(inp.resumeFrom);
      await inp.onResume?.(trainer.stepCount);
    }
    const remaining = stage.steps - trainer.stepCount;
    return remaining > 0 ? await trainer.train({ steps: remaining, onStep: inp.onStep }) : [];
  } finally {
    trainer.dispose();
  }
}

/**
 * The "no RL" control: supervised steps on the chosen answers of the offline pairs (the task's
 * demonstrations), same step count and learning-rate schedule as the RL stages. Writes one
 * metrics line per step (loss, grad_norm, grad_clipped, lr) like the trainers.
 */
async function continueSft(stage: Extract<StageConfig, { algorithm: 'sft' }>, inp: StageInputs): Promise<StepMetrics[]> {
  const demos = inp.pairs.map((p) => ({ prompt: p.prompt, response: p.chosen }));
  if (demos.length === 0) throw new Error('stage sft: needs demonstrations (the chosen answers of the offline pairs)');
  // With LoRA only the adapter trains (and has optimizer state); the base stays frozen.
  const trained = inp.adapter ?? inp.model;
  const optimizer = new AdamW(trained.namedVariables(), { lr: schedule(stage), weightDecay: stage.weightDecay });
  const rng = new Rng(inp.seed).fork(0x5f8);
  const file = inp.runDir ? join(inp.runDir, 'metrics.jsonl') : null;
  if (file) mkdirSync(inp.runDir, { recursive: true });
  const out: StepMetrics[] = [];
  try {
    for (let step = 1; step <= stage.steps; step++) {
      const t0 = performance.now();
      const batch = encodeDemonstrations(
        inp.tokenizer,
        Array.from({ length: stage.batchSize }, () => demos[rng.nextInt(demos.length)]),
      );
      const r = await trainStepAsync(
        trained,
        optimizer,
        () =>
          tf.tidy(() => {
            const { logp, mask } = tokenLogprobs(inp.model, batch);
            return tf.neg(tf.div(tf.sum(logp), tf.maximum(tf.sum(mask), 1))) as tf.Scalar;
          }),
        stage.maxGradNorm > 0 ? { clipNorm: stage.maxGradNorm } : {},
      );
      const m: StepMetrics = {
        step,
        loss: r.loss,
        grad_norm: r.gradNorm,
        grad_clipped: stage.maxGradNorm > 0 && r.gradNorm > stage.maxGradNorm ? 1 : 0,
        lr: r.lr,
        'time/step': (performance.now() - t0) / 1000,
      };
      if (file) appendFileSync(file, `${JSON.stringify(m)}\n`);
      out.push(m);
      await inp.onStep?.(m);
    }
  } finally {
    optimizer.dispose();
  }
  return out;
}
