/** Types shared by the trainers. */
import type { DecoderLM, LoraAdapter, Tokenizer } from '@falign/core';

/** What a trainer trains: a decoder LM and its tokenizer (core's `Policy` satisfies this). */
export interface PolicyLike {
  model: DecoderLM;
  tokenizer: Tokenizer;
  /**
   * LoRA adapters attached to `model`: then only the adapter variables are trained (the base
   * stays frozen, with no optimizer state) and the reference is the base with the adapters off.
   */
  adapter?: LoraAdapter;
}

/** One training prompt; `meta` (gold answer, label…) is passed to the reward functions. */
export interface PromptItem {
  prompt: string;
  meta?: Record<string, unknown>;
}

/** One sample a reward function scores (same shape as @falign/rewards' RewardSample). */
export interface RewardSample {
  prompt: string;
  completion: string;
  meta?: Record<string, unknown>;
}

/** A reward function: one number per sample, or null when it does not apply (left out of baselines). */
export type RewardFunction = (samples: readonly RewardSample[]) => Promise<(number | null)[]>;

/** A reward function with its weight (default 1) and a name for the metrics (`rewards/<name>/mean`). */
export interface RewardSpec {
  fn: RewardFunction;
  name: string;
  weight?: number;
}

/** Optimisation settings shared by every trainer. */
export interface OptimConfig {
  /** Learning rate, or a schedule of the 0-based optimizer step (core's constantLr/warmupCosineLr). */
  lr: number | ((step: number) => number);
  /** AdamW settings (defaults: β1 0.9, β2 0.999, ε 1e-8, weight decay 0). */
  adamBeta1?: number;
  adamBeta2?: number;
  adamEps?: number;
  weightDecay?: number;
  /** Clip the global gradient norm to this (default 1, as TRL); 0 or Infinity disables. */
  clipNorm?: number;
  /** Micro-batches per optimizer step (default 1). */
  gradAccumSteps?: number;
  /** Seed of data order and sampling (default 0). */
  seed?: number;
}

/** Where and how often a trainer writes. */
export interface RunConfig {
  /** Run directory: metrics.jsonl, checkpoints/step-N/, reference/. None = nothing written. */
  runDir?: string;
  /** Save a checkpoint every N optimizer steps (default: never). */
  checkpointEvery?: number;
  /** Print a compact line per step to stderr (default true). */
  log?: boolean;
}

/** One metrics line (one optimizer step). Keys follow TRL's names where they exist. */
export type StepMetrics = Record<string, number | string | string[] | null>;
