/**
 * falign checkpoints: a directory with
 *   config.json        { falign_version, format, model: ModelConfig, tokenizer, weights, state?, meta? }
 *   model.safetensors  weights under Hugging Face names and layouts (DecoderLM.getWeights)
 *   tokenizer.json     TokenizerJSON
 *   state.safetensors  optional extra tensors (optimizer moments, …)
 *   state.json         optional extra JSON (step, RNG state, …)
 * Saving writes everything into a sibling temp directory, syncs it, and renames it into place,
 * so a reader never sees a half-written checkpoint.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { tf } from '../backend.js';
import { resolveConfig } from '../model/config.js';
import { DecoderLM } from '../model/decoder.js';
import { tokenizerFromJSON } from '../tokenizers/json.js';
import type { ModelConfig, Tokenizer, TokenizerJSON } from '../types.js';
import { pathExists, replaceDirAtomically, writeSynced } from './atomic-dir.js';
import { disposeAll, rawToTensors, tensorsToRawAsync } from './raw.js';
import { readSafetensors, serializeSafetensors } from './safetensors.js';
import { FALIGN_VERSION } from './version.js';

const FORMAT = 'falign-checkpoint-v1';
const WEIGHTS_FILE = 'model.safetensors';
const TOKENIZER_FILE = 'tokenizer.json';
const STATE_TENSORS_FILE = 'state.safetensors';
const STATE_JSON_FILE = 'state.json';

/** Extra training state saved next to the weights. */
export interface CheckpointExtra {
  /** Tensors (float32/int32), e.g. optimizer moments; stored in state.safetensors. */
  tensors?: Record<string, tf.Tensor>;
  /** Any JSON value, e.g. step and RNG state; stored in state.json. */
  json?: unknown;
}

/** What {@link saveCheckpoint} stores. */
export interface SaveCheckpointInput {
  model: DecoderLM;
  tokenizer: Tokenizer;
  extra?: CheckpointExtra;
  /** Free-form JSON kept in config.json under "meta" (run name, objective, …). */
  meta?: Record<string, unknown>;
}

/** The parsed config.json of a checkpoint. */
export interface CheckpointConfig {
  falign_version: string;
  format: string;
  model: ModelConfig;
  tokenizer: string;
  weights: string;
  state?: { tensors?: string; json?: string };
  meta?: Record<string, unknown>;
}

/** A loaded checkpoint; the caller owns (and disposes) the model and the extra tensors. */
export interface LoadedCheckpoint {
  model: DecoderLM;
  tokenizer: Tokenizer;
  config: CheckpointConfig;
  extra?: { tensors?: Record<string, tf.Tensor>; json?: unknown };
}

/**
 * Saves a checkpoint to `dir` atomically: written to `dir.tmp-<pid>-<rand>`, then renamed; an
 * existing `dir` is moved aside first and removed after the new one is in place.
 */
export async function saveCheckpoint(dir: string, input: SaveCheckpointInput): Promise<void> {
  const { model, tokenizer, extra, meta } = input;
  await replaceDirAtomically(dir, async (tmp) => {
    const weights = model.getWeights();
    let raw;
    try {
      raw = await tensorsToRawAsync(weights);
    } finally {
      disposeAll(weights);
    }
    await writeSynced(join(tmp, WEIGHTS_FILE), serializeSafetensors(raw, { format: 'pt' }));
    await writeSynced(join(tmp, TOKENIZER_FILE), JSON.stringify(tokenizer.toJSON()));
    const config: CheckpointConfig = {
      falign_version: FALIGN_VERSION,
      format: FORMAT,
      model: storedConfig(model.config),
      tokenizer: TOKENIZER_FILE,
      weights: WEIGHTS_FILE,
    };
    if (extra?.tensors !== undefined || extra?.json !== undefined) {
      config.state = {};
      if (extra.tensors !== undefined) {
        await writeSynced(join(tmp, STATE_TENSORS_FILE), serializeSafetensors(await tensorsToRawAsync(extra.tensors)));
        config.state.tensors = STATE_TENSORS_FILE;
      }
      if (extra.json !== undefined) {
        await writeSynced(join(tmp, STATE_JSON_FILE), JSON.stringify(extra.json));
        config.state.json = STATE_JSON_FILE;
      }
    }
    if (meta !== undefined) config.meta = meta;
    await writeSynced(join(tmp, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  });
}

/** The model config as stored: fields at their defaults left out (checkpoints stay readable by older falign). */
function storedConfig(c: Required<ModelConfig>): ModelConfig {
  const out: ModelConfig = { ...c };
  if (c.headDim * c.nHeads === c.dModel) delete out.headDim;
  if (!c.qkvBias) delete out.qkvBias;
  if (!c.qkNorm) delete out.qkNorm;
  if (c.ropeScaling === null) delete out.ropeScaling;
  return out;
}

/** A file name inside the checkpoint directory (no path separators, no `..`). */
function memberName(v: unknown, field: string, where: string): string {
  if (typeof v !== 'string' || v.length === 0 || v !== basename(v) || v === '..' || v === '.') {
    throw new Error(`${where}: "${field}" must be a file name inside the checkpoint directory, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Parses and validates config.json; errors name the file and the field. */
function parseConfig(text: string, where: string): CheckpointConfig {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where}: invalid JSON: ${(err as Error).message}`);
  }
  if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new Error(`${where}: expected a JSON object`);
  const c = j as Record<string, unknown>;
  if (c.format !== FORMAT) throw new Error(`${where}: "format" must be "${FORMAT}", got ${JSON.stringify(c.format)}`);
  if (c.model === null || typeof c.model !== 'object') throw new Error(`${where}: "model" must be a model config object`);
  let model: ModelConfig;
  try {
    model = resolveConfig(c.model as ModelConfig);
  } catch (err) {
    throw new Error(`${where}: "model": ${(err as Error).message}`);
  }
  const out: CheckpointConfig = {
    falign_version: typeof c.falign_version === 'string' ? c.falign_version : 'unknown',
    format: FORMAT,
    model,
    tokenizer: memberName(c.tokenizer, 'tokenizer', where),
    weights: memberName(c.weights, 'weights', where),
  };
  if (c.state !== undefined) {
    const s = c.state as Record<string, unknown>;
    if (s === null || typeof s !== 'object') throw new Error(`${where}: "state" must be an object`);
    out.state = {};
    if (s.tensors !== undefined) out.state.tensors = memberName(s.tensors, 'state.tensors', where);
    if (s.json !== undefined) out.state.json = memberName(s.json, 'state.json', where);
  }
  if (c.meta !== undefined) out.meta = c.meta as Record<string, unknown>;
  return out;
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(e.code === 'ENOENT' ? `missing file ${path}` : `cannot read ${path}: ${e.message}`);
  }
}

/** Checks weight names and shapes against the model before assigning them. */
function checkWeights(model: DecoderLM, weights: Record<string, { shape: number[] }>, where: string): void {
  const expected = model.weightShapes();
  for (const [name, shape] of Object.entries(expected)) {
    const w = weights[name];
    if (!w) throw new Error(`${where}: missing tensor "${name}" (expected shape [${shape}])`);
    if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`${where}: tensor "${name}" has shape [${w.shape}], expected [${shape}] for this config`);
    }
  }
  for (const name of Object.keys(weights)) {
    if (!(name in expected)) throw new Error(`${where}: unexpected tensor "${name}" for this config`);
  }
}

/**
 * Loads a checkpoint written by {@link saveCheckpoint}. `state: false` skips the extra training
 * state (state.safetensors / state.json), e.g. when only the model is wanted.
 */
export async function loadCheckpoint(dir: string, opts: { trainable?: boolean; state?: boolean } = {}): Promise<LoadedCheckpoint> {
  const configPath = join(dir, 'config.json');
  const config = parseConfig(await readText(configPath), configPath);
  const tokPath = join(dir, config.tokenizer);
  const tokText = await readText(tokPath);
  let tokJson: unknown;
  try {
    tokJson = JSON.parse(tokText);
  } catch (err) {
    throw new Error(`${tokPath}: invalid JSON: ${(err as Error).message}`);
  }
  const tokenizer = tokenizerFromJSON(tokJson as TokenizerJSON, tokPath);
  const weightsPath = join(dir, config.weights);
  if (!(await pathExists(weightsPath))) throw new Error(`missing file ${weightsPath}`);
  const { tensors: raw } = await readSafetensors(weightsPath);
  const model = new DecoderLM(config.model, { trainable: opts.trainable ?? true });
  try {
    if (tokenizer.vocabSize > model.config.vocabSize) {
      throw new Error(`${tokPath}: tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabSize is ${model.config.vocabSize}`);
    }
    checkWeights(model, raw, weightsPath);
    const tensors = rawToTensors(raw);
    try {
      model.setWeights(tensors);
    } finally {
      disposeAll(tensors);
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  const out: LoadedCheckpoint = { model, tokenizer, config };
  if (config.state && opts.state !== false) {
    try {
      out.extra = {};
      if (config.state.tensors) {
        const p = join(dir, config.state.tensors);
        if (!(await pathExists(p))) throw new Error(`missing file ${p}`);
        out.extra.tensors = rawToTensors((await readSafetensors(p)).tensors);
      }
      if (config.state.json) {
        const p = join(dir, config.state.json);
        try {
          out.extra.json = JSON.parse(await readText(p));
        } catch (err) {
          const msg = (err as Error).message;
          throw new Error(msg.includes(p) ? msg : `${p}: invalid JSON: ${msg}`);
        }
      }
    } catch (err) {
      model.dispose();
      if (out.extra?.tensors) disposeAll(out.extra.tensors);
      throw err;
    }
  }
  return out;
}
