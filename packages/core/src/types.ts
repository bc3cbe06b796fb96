/**
 * Types shared across falign packages. This file is the contract between the model core
 * (model/, backend.ts), the I/O layer (tokenizers/, checkpoints/) and the sampler/scorer
 * (sampling/, scoring/). Keep it small and plain.
 */
import type * as tfc from '@tensorflow/tfjs-core';

/** Backends falign knows how to initialise, in order of preference when none is named. */
export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

/**
 * Architecture of a decoder-only language model.
 * `gpt2`: LayerNorm, learned absolute positions, GELU MLP, biases.
 * `llama`: RMSNorm, rotary positions (HF `rotate_half` convention), SwiGLU MLP, no biases,
 * grouped-query attention when `nKvHeads < nHeads`, optionally untied output head.
 */
export interface ModelConfig {
  arch: 'gpt2' | 'llama';
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  /** Key/value heads (GQA); defaults to `nHeads`. */
  nKvHeads?: number;
  /** Hidden size of the MLP; defaults to 4·dModel (gpt2) or llama2.c's rule (llama). */
  dFF?: number;
  /** Longest sequence (prompt + completion) the model accepts. */
  maxSeqLen: number;
  /** LayerNorm / RMSNorm epsilon; defaults 1e-5. */
  normEps?: number;
  /** RoPE base; defaults 10000. */
  ropeTheta?: number;
  /** Share the token embedding with the output head; default true for gpt2, false for llama. */
  tieEmbeddings?: boolean;
  /** Width of one attention head; default dModel / nHeads (Qwen3 sets it independently). llama only. */
  headDim?: number;
  /** Biases on the q/k/v projections (Qwen2); default false. llama only. */
  qkvBias?: boolean;
  /** RMSNorm over each query/key head before RoPE, weights `q_norm`/`k_norm` (Qwen3); default false. llama only. */
  qkNorm?: boolean;
  /** RoPE frequency scaling (HF `rope_scaling`); default null (none). llama only. */
  ropeScaling?: RopeScaling | null;
}

/**
 * RoPE scaling of Hugging Face configs: `linear` divides every frequency by `factor`; `llama3`
 * (Llama 3.1+) divides only the low frequencies, with a smooth band in between.
 */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositionEmbeddings: number };

/** A tokenizer turns text into ids and back. Implementations: Llama2cTokenizer, CharTokenizer, ByteTokenizer. */
export interface Tokenizer {
  readonly kind: 'llama2c' | 'char' | 'byte' | 'hf';
  readonly vocabSize: number;
  /** Beginning-of-sequence id, or null when the tokenizer has none. */
  readonly bosId: number | null;
  /** End-of-sequence id, or null when the tokenizer has none. */
  readonly eosId: number | null;
  /** Every id that ends a generation (HF `eos_token_id` lists); when absent, just `eosId`. */
  readonly eosIds?: readonly number[];
  /** Id used for padding batches (never attended to, never scored). */
  readonly padId: number;
  encode(text: string, opts?: { bos?: boolean; eos?: boolean }): number[];
  /** Decodes ids exactly like the reference implementation (llama2.c rules for Llama2cTokenizer). */
  decode(ids: readonly number[]): string;
  /** Serialisable form, stored next to a checkpoint as tokenizer.json. */
  toJSON(): TokenizerJSON;
}

/** Serialised tokenizer (tokenizer.json in a falign checkpoint). */
export type TokenizerJSON =
  | { kind: 'char'; alphabet: string[]; specials: { bos?: string; eos?: string; pad: string } }
  | { kind: 'byte'; specials: { bos?: string; eos?: string; pad: string } }
  | { kind: 'llama2c'; maxTokenLength: number; vocab: string[]; scores: number[] }
  | HfTokenizerJSON;

/** A Hugging Face tokenizer kept inside a falign checkpoint: the upstream files' JSON, verbatim. */
export interface HfTokenizerJSON {
  kind: 'hf';
  /** tokenizer.json */
  tokenizer: Record<string, unknown>;
  /** tokenizer_config.json (chat template, special tokens); {} when absent. */
  config: Record<string, unknown>;
  /** generation_config.json, when present (eos_token_id lists). */
  generation?: Record<string, unknown>;
}

/** Options of batched generation. */
export interface SampleOptions {
  /** Upper bound on generated tokens per completion. */
  maxNewTokens: number;
  /** 0 means greedy; default 1. */
  temperature?: number;
  /** 0 disables; default 0. */
  topK?: number;
  /** 1 disables; default 1. */
  topP?: number;
  /** Token ids that end a completion (the EOS id is always one when the tokenizer has it). */
  stopTokens?: number[];
  /** Strings that end a completion; the text is cut before the stop string. */
  stopStrings?: string[];
  /** Seed of the sampling RNG; same seed + backend + inputs ⇒ same outputs. */
  seed?: number;
  /** Completions per prompt; they come out contiguous (prompt 0's group first). Default 1. */
  numSamples?: number;
  /** Prepend BOS to every prompt (default: true when the tokenizer has a BOS id). */
  addBos?: boolean;
  /** Most sequences decoded at once; larger requests are split. Default 64. */
  batchSize?: number;
  /** Keep the logits of the first generated step (full vocabulary) on each completion. */
  returnFirstLogits?: boolean;
}

/** One sampled completion. */
export interface Completion {
  /** Index of the prompt in the request. */
  promptIndex: number;
  prompt: string;
  /** Prompt ids as fed to the model (BOS included when added). */
  promptTokenIds: number[];
  /** Decoded completion (cut before a stop string, without the stop token). */
  text: string;
  /** Generated ids (a terminating stop token is included here, and scored, when one was sampled). */
  tokenIds: number[];
  /** log-prob of each generated id under the distribution it was actually sampled from
   * (after temperature, top-k and top-p renormalisation); greedy gives the temperature-1 log-prob. */
  tokenLogprobs: number[];
  finishReason: 'stop' | 'length';
  /** Present when `returnFirstLogits` was set: raw logits of the first generated step. */
  firstLogits?: Float32Array;
}

/** Prompt/completion token pairs to be scored; rows are independent. */
export interface ScoreBatch {
  promptTokenIds: number[][];
  completionTokenIds: number[][];
}

/** Token-level scores of a ScoreBatch, padded to the longest completion. */
export interface TokenScores {
  /** [N, T] log π(y_t | x, y_<t); padding positions hold 0. Differentiable w.r.t. model variables. */
  logp: tfc.Tensor2D;
  /** [N, T] 1 for completion tokens, 0 for padding. */
  mask: tfc.Tensor2D;
  /** [N, T] entropy of the next-token distribution (only when requested). */
  entropy?: tfc.Tensor2D;
}

/** A learning-rate schedule: step (0-based) → learning rate. */
export type LrSchedule = (step: number) => number;
