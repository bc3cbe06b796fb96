/**
 * One training stage of a pipeline: maps the validated stage config onto a trainer of
 * @falign/objectives (OnPolicyTrainer for GRPO / f-GRPO, HybridTrainer for f-HAL,
 * OfflineTrainer for FDO / DPO) and runs it. The trainer writes `metrics.jsonl` into the run
 * directory; `onStep` lets the pipeline evaluate on held-out prompts during training.
 */
import { warmupCosineLr, type DecoderLM, type Tokenizer } from '@falign/core';
import { HybridTrainer, OfflineTrainer, OnPolicyTrainer, type StepMetrics } from '@falign/objectives';
import type { StageConfig } from './config/schema.js';

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
  prompts: readonly StagePrompt[];
  rewards: readonly StageReward[];
  pairs: readonly StagePair[];
  runDir: string;
  seed: number;
  onStep?: (metrics: StepMetrics) => Promise<void> | void;
}

/** Learning rate: linear warmup, then constant. */
function schedule(stage: StageConfig): (step: number) => number {
  return warmupCosineLr({ peak: stage.lr, warmupSteps: Math.min(stage.warmupSteps, stage.steps), totalSteps: stage.steps, minLr: stage.lr });
}

function optim(stage: StageConfig, seed: number, runDir: string) {
  return { lr: schedule(stage), weightDecay: stage.weightDecay, clipNorm: stage.maxGradNorm, seed, runDir, log: false };
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
  const policy = { model: inp.model, tokenizer: inp.tokenizer };
  if (isOnPolicy(stage) && (inp.prompts.length === 0 || inp.rewards.length === 0)) {
    throw new Error(`stage ${stage.algorithm}: needs training prompts and a reward`);
  }
  if (needsPairs(stage) && inp.pairs.length === 0) throw new Error(`stage ${stage.algorithm}: needs offline preference pairs`);
  const rewards = inp.rewards.map((r) => ({ name: r.name, weight: r.weight, fn: r.fn }));
  const prompts = inp.prompts.map((p) => ({ prompt: p.prompt, meta: p.meta }));
  const pairs = inp.pairs.map((p) => ({ prompt: p.prompt, chosen: p.chosen, rejected: p.rejected }));
  let trainer: OnPolicyTrainer | HybridTrainer | OfflineTrainer;
  switch (stage.algorithm) {
    case 'grpo':
    case 'fgrpo': {
      const common = {
        ...optim(stage, inp.seed, inp.runDir),
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
          ...optim(stage, inp.seed, inp.runDir),
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
          ...optim(stage, inp.seed, inp.runDir),
          algorithm: stage.algorithm,
          batchSize: stage.batchSize,
          beta: stage.beta,
          ...(stage.algorithm === 'fdo' ? { divergence: stage.divergence } : {}),
        },
      });
      break;
  }
  try {
    return await trainer.train({ steps: stage.steps, onStep: inp.onStep });
  } finally {
    trainer.dispose();
  }
}
