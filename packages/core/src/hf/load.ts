/**
 * Loading a Hugging Face checkpoint directory (config.json, safetensors, tokenizer files) into a
 * falign DecoderLM, one decoder layer at a time.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from '../backend.js';
import { DecoderLM } from '../model/decoder.js';
import { HfTokenizer } from '../tokenizers/hf.js';
import { hfToModelConfig, type HfConfigOptions, type HfModelConfig } from './config.js';
import { HfWeights } from './weights.js';

/** Options of {@link loadHfModel}. */
export interface LoadHfOptions extends HfConfigOptions {
  /** Whether the weights are trainable tf.Variables (default true). */
  trainable?: boolean;
  /** Load tokenizer.json & co. too (default true; a directory without tokenizer.json then fails). */
  tokenizer?: boolean;
  /** Called after each group of tensors (embeddings, each layer, final norm/head) is loaded. */
  onProgress?: (done: number, total: number) => void;
}

/** A loaded HF checkpoint; the caller owns (and disposes) the model. */
export interface LoadedHfModel {
  model: DecoderLM;
  /** Null when `tokenizer: false` was passed. */
  tokenizer: HfTokenizer | null;
  /** The parsed config.json. */
  hf: HfModelConfig;
  dir: string;
}

/** Buffers that some checkpoints store but that are not weights (masks, RoPE frequencies). */
function isBuffer(name: string): boolean {
  return /\.attn\.(masked_)?bias$/.test(name) || name.endsWith('.rotary_emb.inv_freq');
}

/** The group a weight is loaded with: its decoder layer, or itself. */
function groupOf(name: string): string {
  const m = /^(model\.layers\.\d+|transformer\.h\.\d+)\./.exec(name);
  return m ? m[1] : name;
}

/**
 * Reads `DIR/config.json` and returns the falign model config it describes (no weights read).
 * Errors name the file and the unsupported field.
 */
export async function readHfConfig(dir: string, opts: HfConfigOptions = {}): Promise<HfModelConfig> {
  const path = join(dir, 'config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: invalid JSON: ${(err as Error).message}`);
  }
  return hfToModelConfig(raw, path, opts);
}

/**
 * Loads an HF checkpoint directory: the architecture from config.json (Llama, Mistral, Qwen2,
 * Qwen3, GPT-2), weights from model.safetensors or the shards of model.safetensors.index.json
 * (F32/F16/BF16 widened to float32, read layer by layer, so peak memory is the model plus one
 * layer), and the tokenizer from tokenizer.json / tokenizer_config.json / generation_config.json.
 * Every expected tensor must be present with its HF shape; errors name the file and the tensor.
 */
export async function loadHfModel(dir: string, opts: LoadHfOptions = {}): Promise<LoadedHfModel> {
  const hf = await readHfConfig(dir, opts);
  const tokenizer = opts.tokenizer === false ? null : await HfTokenizer.load(dir);
  const weights = await HfWeights.open(dir);
  let model: DecoderLM | null = null;
  try {
    model = new DecoderLM(hf.config, { trainable: opts.trainable ?? true, init: 'zeros' });
    if (tokenizer && tokenizer.vocabSize > model.config.vocabSize) {
      throw new Error(`${join(dir, 'tokenizer.json')}: tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${model.config.vocabSize}`);
    }
    const expected = model.weightShapes();
    // File name → falign (HF LM-head-model) name. Plain GPT2Model checkpoints have no "transformer." prefix.
    const fileName = new Map<string, string>();
    for (const name of weights.names()) {
      let target = name;
      if (!(name in expected) && `transformer.${name}` in expected) target = `transformer.${name}`;
      if (!(target in expected)) {
        if (isBuffer(name)) continue;
        if (name === 'lm_head.weight' && model.config.tieEmbeddings) continue; // tied: a saved copy of the embedding
        throw new Error(`${weights.info(name)!.file}: unexpected tensor "${name}" for ${hf.architecture} with this config.json (e.g. tie_word_embeddings ${model.config.tieEmbeddings})`);
      }
      fileName.set(target, name);
    }
    for (const [name, shape] of Object.entries(expected)) {
      const src = fileName.get(name);
      if (src === undefined) {
        const hint = name === 'lm_head.weight' ? ' (config.json says tie_word_embeddings is false)' : '';
        throw new Error(`${weights.source}: missing tensor "${name}" (expected shape [${shape}])${hint}`);
      }
      const got = weights.info(src)!.shape;
      if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
        throw new Error(`${weights.info(src)!.file}: tensor "${src}" has shape [${got}], but ${join(dir, 'config.json')} implies [${shape}]`);
      }
    }
    const groups = new Map<string, string[]>();
    for (const name of Object.keys(expected)) {
      const g = groupOf(name);
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g)!.push(name);
    }
    let done = 0;
    for (const names of groups.values()) {
      const tensors: Record<string, tf.Tensor> = {};
      try {
        for (const name of names) {
          const raw = await weights.read(fileName.get(name)!);
          if (raw.dtype !== 'float32') throw new Error(`${weights.info(fileName.get(name)!)!.file}: tensor "${fileName.get(name)}" is an integer tensor; weights must be F32, F16 or BF16`);
          tensors[name] = tf.tensor(raw.data, raw.shape, 'float32');
        }
        model.setWeights(tensors, { partial: true });
      } finally {
        for (const t of Object.values(tensors)) t.dispose();
      }
      opts.onProgress?.(++done, groups.size);
    }
    return { model, tokenizer, hf, dir };
  } catch (err) {
    model?.dispose();
    throw err;
  } finally {
    await weights.close();
  }
}
