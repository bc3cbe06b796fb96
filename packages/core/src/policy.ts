/**
 * Policy: a decoder LM with its tokenizer — what trainers sample from, score and save — and
 * `loadPolicy`, which opens one from a model spec string.
 */
import { DecoderLM } from './model/decoder.js';
import type { tf } from './backend.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointExtra } from './checkpoints/checkpoint.js';
import { loadLlama2c } from './checkpoints/llama2c.js';
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
export const POLICY_SCHEMES = ['llama2c', 'falign'] as const;

/** Options of {@link loadPolicy}. */
export interface LoadPolicyOptions {
  /**
   * Tokenizer file overriding the default: a llama2.c `tokenizer.bin` (any name not ending in
   * .json) or a falign `tokenizer.json`.
   */
  tokenizer?: string;
  /** Whether the weights are trainable (default true). */
  trainable?: boolean;
}

async function loadTokenizerFile(path: string, vocabSize: number): Promise<Tokenizer> {
  return path.endsWith('.json') ? loadTokenizerJSON(path) : Llama2cTokenizer.load(path, vocabSize);
}

/**
 * Opens a policy from a model spec:
 * - `llama2c:PATH.bin` — a llama2.c checkpoint; tokenizer from `opts.tokenizer`, else
 *   `tok<vocab>.bin` or `tokenizer.bin` beside it;
 * - `falign:DIR` — a checkpoint written by {@link saveCheckpoint} / {@link Policy.save}.
 * (`openai:URL#MODEL` names a remote model; @falign/bench handles it, not this function.)
 */
export async function loadPolicy(spec: string, opts: LoadPolicyOptions = {}): Promise<Policy> {
  const m = /^([a-z][a-z0-9+-]*):(.*)$/s.exec(spec);
  const known = 'llama2c:PATH.bin, falign:DIR (openai:URL#MODEL is handled by @falign/bench)';
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
    default:
      throw new Error(`unknown model spec scheme "${scheme}:" in ${JSON.stringify(spec)}; @falign/core knows ${known}`);
  }
}
