/**
 * LoRA adapters on disk in Hugging Face PEFT's layout, so `PeftModel.from_pretrained(base, DIR)`
 * opens what falign trains and falign opens PEFT adapters:
 *
 *   DIR/adapter_config.json        PEFT LoraConfig (peft_type LORA, r, lora_alpha, target_modules…)
 *   DIR/adapter_model.safetensors  base_model.model.<module>.lora_A.weight [r, in], ….lora_B.weight [out, r]
 *
 * and merging an adapter into its base model.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from '../backend.js';
import type { DecoderLM } from '../model/decoder.js';
import { readSafetensors, serializeSafetensors } from '../checkpoints/safetensors.js';
import { rawToTensors, tensorsToRawAsync } from '../checkpoints/raw.js';
import { LoraAdapter, peftTensorNames } from './adapter.js';
import { parsePeftAdapterConfig, peftAdapterConfig } from './config.js';

/** File names of a PEFT adapter directory. */
export const ADAPTER_CONFIG_FILE = 'adapter_config.json';
export const ADAPTER_WEIGHTS_FILE = 'adapter_model.safetensors';

async function writeAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/** Options of {@link saveLoraAdapter}. */
export interface SaveLoraOptions {
  /** `base_model_name_or_path` written into adapter_config.json (e.g. the model spec). */
  baseModel?: string;
}

/** Writes `adapter` to `dir` in PEFT layout (each file written to a temp name, then renamed). */
export async function saveLoraAdapter(dir: string, adapter: LoraAdapter, opts: SaveLoraOptions = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  const weights = adapter.getWeights();
  let raw;
  try {
    raw = await tensorsToRawAsync(weights);
  } finally {
    tf.dispose(Object.values(weights));
  }
  const names = [...new Set(adapter.targets.map((t) => t.name))];
  const json = peftAdapterConfig(adapter.config, {
    baseModel: opts.baseModel,
    fanInFanOut: adapter.model.config.arch === 'gpt2',
    targetModules: adapter.config.targetModules === 'all-linear' ? names : adapter.config.targetModules,
  });
  await writeAtomic(join(dir, ADAPTER_WEIGHTS_FILE), serializeSafetensors(raw, { format: 'pt' }));
  await writeAtomic(join(dir, ADAPTER_CONFIG_FILE), `${JSON.stringify(json, null, 2)}\n`);
}

/** Options of {@link loadLoraAdapter}. */
export interface LoadLoraOptions {
  /** Whether the adapter variables are trainable (default true: continue training). */
  trainable?: boolean;
}

/**
 * Opens a PEFT LoRA adapter directory and attaches it to `model` (which must be the base it was
 * trained on: same architecture and shapes). Errors name the file and the field or tensor.
 */
export async function loadLoraAdapter(dir: string, model: DecoderLM, opts: LoadLoraOptions = {}): Promise<LoraAdapter> {
  const cfgFile = join(dir, ADAPTER_CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(cfgFile, 'utf8');
  } catch (e) {
    throw new Error(`${cfgFile}: cannot read the adapter config (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); is ${dir} a PEFT adapter directory?`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${cfgFile}: invalid JSON (${(e as Error).message})`);
  }
  const config = parsePeftAdapterConfig(json, cfgFile);
  const wFile = join(dir, ADAPTER_WEIGHTS_FILE);
  const file = await readSafetensors(wFile).catch((e: NodeJS.ErrnoException) => {
    throw new Error(e.code === 'ENOENT' ? `${wFile}: missing (adapter_model.bin pickles are not read; save with safe_serialization=True)` : e.message);
  });
  const weights = rawToTensors(file.tensors);
  try {
    return LoraAdapter.fromWeights(model, config, weights, { trainable: opts.trainable, source: wFile });
  } finally {
    tf.dispose(Object.values(weights));
  }
}

/** Options of {@link mergeLora}. */
export interface MergeLoraOptions {
  /** Whether the merged model's weights are trainable (default false). */
  trainable?: boolean;
}

/**
 * A new model whose weights are base + s·B·A for every adapted projection: its logits equal
 * the adapted model's (up to float rounding), with no adapter cost at inference. The base and
 * the adapter are left as they are.
 */
export function mergeLora(adapter: LoraAdapter, opts: MergeLoraOptions = {}): DecoderLM {
  const base = adapter.model;
  const w = base.getWeights();
  const a = adapter.getWeights();
  try {
    for (const t of adapter.targets) {
      const n = peftTensorNames(t.module);
      const name = `${t.module}.weight`;
      const old = w[name];
      if (!old) throw new Error(`mergeLora: the base has no weight '${name}'`);
      // PEFT's delta B·A is [out, in] like nn.Linear; GPT-2's Conv1D stores [in, out].
      w[name] = tf.tidy(() => {
        const delta = tf.mul(tf.matMul(a[n.b], a[n.a]), adapter.scaling);
        return tf.add(old, t.hfTransposed ? delta : tf.transpose(delta));
      });
      old.dispose();
    }
    const merged = base.clone({ trainable: opts.trainable ?? false });
    try {
      merged.setWeights(w);
    } catch (e) {
      merged.dispose();
      throw e;
    }
    return merged;
  } finally {
    tf.dispose(Object.values(w));
    tf.dispose(Object.values(a));
  }
}
