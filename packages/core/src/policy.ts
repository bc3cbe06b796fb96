/**
 * Policy: a decoder LM with its tokenizer — what trainers sample from, score and save — and
 * `loadPolicy`, which opens one from a model spec string.
 */
import { DecoderLM } from './model/decoder.js';
import type { tf } from './backend.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointExtra } from './checkpoints/checkpoint.js';
import { loadLlama2c } from './checkpoints/llama2c.js';
import { loadHfModel } from './hf/load.js';
import { saveHfCheckpoint } from './hf/save.js';
import { generate } from './sampling/generate.js';
import { sequenceLogprobs, tokenLogprobs, type SequenceLogprobOptions, type TokenLogprobOptions } from './scoring/logprobs.js';
import { loadTokenizerJSON } from './tokenizers/json.js';
import { Llama2cTokenizer } from './tokenizers/llama2c.js';
import type { Completion, ModelConfig, SampleOptions, ScoreBatch, TokenScores, Tokenizer } from './types.js';

/** A language model and its tokenizer. The policy owns the model: `dispose()` frees it. */
export class Policy {
  constructor(
    readonly model: DecoderLM,
    readonly tokenizer: Tokenizer,
    /** Where it was loaded from (a model spec), for logs and run configs. */
    readonly source?: string,
  ) {
    if (tokenizer.vocabSize > model.config.vocabSize) {
      throw new Error(`Policy: tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabSize is ${model.config.vocabSize}`);
    }
  }

  /** The model config with defaults filled in. */
  get config(): Required<ModelConfig> {
    return this.model.config;
  }

  /** Batched sampling; see {@link generate}. */
  generate(prompts: readonly string[] | readonly (readonly number[])[], opts: SampleOptions): Promise<Completion[]> {
    return generate(this.model, this.tokenizer, prompts, opts);
  }

  /** Differentiable per-token log-probs; see {@link tokenLogprobs}. */
  tokenLogprobs(batch: ScoreBatch, opts?: TokenLogprobOptions): TokenScores {
    return tokenLogprobs(this.model, batch, opts);
  }

  /** Differentiable per-sequence log-probs; see {@link sequenceLogprobs}. */
  sequenceLogprobs(batch: ScoreBatch, opts?: SequenceLogprobOptions): tf.Tensor1D {
    return sequenceLogprobs(this.model, batch, opts);
  }

  /** Saves a falign checkpoint (atomic); load it back with `loadPolicy('falign:' + dir)`. */
  save(dir: string, opts: { extra?: CheckpointExtra; meta?: Record<string, unknown> } = {}): Promise<void> {
    return saveCheckpoint(dir, { model: this.model, tokenizer: this.tokenizer, ...opts });
  }

  /**
   * Saves in Hugging Face layout (config.json, model.safetensors, tokenizer files), readable by
   * `loadPolicy('hf:' + dir)` and transformers' `from_pretrained`. Needs an HF tokenizer; a policy
   * loaded from `hf:SRC` keeps SRC's extra config fields and copies its tokenizer files.
   */
  saveHf(dir: string): Promise<void> {
    const src = this.source?.startsWith('hf:') ? this.source.slice(3) : undefined;
    return saveHfCheckpoint(dir, { model: this.model, tokenizer: this.tokenizer, ...(src ? { sourceDir: src } : {}) });
  }

  /** A copy with its own weights; `trainable: false` gives a frozen reference policy. */
  clone(opts: { trainable?: boolean } = {}): Policy {
    return new Policy(this.model.clone(opts), this.tokenizer, this.source);
  }

  /** Frees the model's weights. */
  dispose(): void {
    this.model.dispose();
  }
}

/** Model spec schemes that {@link loadPolicy} opens. */
export const POLICY_SCHEMES = ['llama2c', 'falign', 'hf'] as const;

/** Options of {@link loadPolicy}. */
export interface LoadPolicyOptions {
  /**
   * Tokenizer file overriding the default: a llama2.c `tokenizer.bin` (any name not ending in
   * .json) or a falign `tokenizer.json`.
   */
  tokenizer?: string;
  /** Whether the weights are trainable (default true). */
  trainable?: boolean;
  /** `hf:` models: cap on the context length (default: config.json's max_position_embeddings). */
  maxSeqLen?: number;
  /** `hf:` models: called after each loaded layer (done, total). */
  onProgress?: (done: number, total: number) => void;
}

async function loadTokenizerFile(path: string, vocabSize: number): Promise<Tokenizer> {
  return path.endsWith('.json') ? loadTokenizerJSON(path) : Llama2cTokenizer.load(path, vocabSize);
}

/**
 * Opens a policy from a model spec:
 * - `llama2c:PATH.bin` — a llama2.c checkpoint; tokenizer from `opts.tokenizer`, else
 *   `tok<vocab>.bin` or `tokenizer.bin` beside it;
 * - `falign:DIR` — a checkpoint written by {@link saveCheckpoint} / {@link Policy.save};
 * - `hf:DIR` — a Hugging Face checkpoint directory (see {@link loadHfModel}).
 * (`openai:URL#MODEL` names a remote model; @falign/bench handles it, not this function.)
 */
export async function loadPolicy(spec: string, opts: LoadPolicyOptions = {}): Promise<Policy> {
  const m = /^([a-z][a-z0-9+-]*):(.*)$/s.exec(spec);
  const known = 'llama2c:PATH.bin, falign:DIR, hf:DIR (openai:URL#MODEL is handled by @falign/bench)';
  if (!m) throw new Error(`model spec ${JSON.stringify(spec)} has no scheme; expected one of ${known}`);
  const [, scheme, rest] = m;
  if (rest.length === 0) throw new Error(`model spec ${JSON.stringify(spec)} has no path after "${scheme}:"`);
  switch (scheme) {
    case 'llama2c': {
      const { model, tokenizer } = await loadLlama2c(rest, opts.tokenizer, { trainable: opts.trainable });
      return new Policy(model, tokenizer, spec);
    }
    case 'falign': {
      const { model, tokenizer } = await loadCheckpoint(rest, { trainable: opts.trainable, state: false });
      try {
        const tok = opts.tokenizer ? await loadTokenizerFile(opts.tokenizer, model.config.vocabSize) : tokenizer;
        return new Policy(model, tok, spec);
      } catch (err) {
        model.dispose();
        throw err;
      }
    }
    case 'hf': {
      const { model, tokenizer } = await loadHfModel(rest, {
        trainable: opts.trainable,
        tokenizer: opts.tokenizer === undefined,
        ...(opts.maxSeqLen !== undefined ? { maxSeqLen: opts.maxSeqLen } : {}),
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      });
      try {
        const tok = opts.tokenizer ? await loadTokenizerFile(opts.tokenizer, model.config.vocabSize) : tokenizer!;
        return new Policy(model, tok, spec);
      } catch (err) {
        model.dispose();
        throw err;
      }
    }
    default:
      throw new Error(`unknown model spec scheme "${scheme}:" in ${JSON.stringify(spec)}; @falign/core knows ${known}`);
  }
}
