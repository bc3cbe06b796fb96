/**
 * Trainer checkpoints on top of core's atomic saveCheckpoint: policy weights + tokenizer, and in
 * the extra state the optimizer moments (`optimizer/…`), the frozen reference weights
 * (`reference/…`, so a resume needs nothing but the directory) and a JSON record of the step,
 * RNG state, data cursor and any trainer-specific state (e.g. a reused rollout).
 */
import { loadCheckpoint, saveCheckpoint, tf, type AdamW, type DecoderLM, type LoraAdapter, type Tokenizer } from '@falign/core';

/** The JSON half of a trainer checkpoint. */
export interface TrainerStateJson {
  format: 'falign-trainer-v1';
  trainer: string;
  step: number;
  rng: number[];
  /** LoRA runs: the adapter's dropout RNG. */
  adapterRng?: number[];
  /** Trainer-specific state (data cursors, rollout buffer…). */
  trainerState: unknown;
}

const OPT = 'optimizer/';
const REF = 'reference/';
/** LoRA factors (PEFT names); a LoRA checkpoint stores no reference: it is the saved base. */
const ADAPTER = 'adapter/';

/** Writes a trainer checkpoint to `dir` (atomic: core writes a temp dir and renames it). */
export async function saveTrainerCheckpoint(
  dir: string,
  parts: { model: DecoderLM; reference: DecoderLM; adapter?: LoraAdapter; tokenizer: Tokenizer; optimizer: AdamW; state: TrainerStateJson },
): Promise<void> {
  const opt = parts.optimizer.getState();
  const tensors: Record<string, tf.Tensor> = {};
  for (const [k, t] of Object.entries(opt.tensors)) tensors[OPT + k] = t;
  if (parts.adapter) {
    for (const [k, t] of Object.entries(parts.adapter.getWeights())) tensors[ADAPTER + k] = t;
  } else {
    for (const [k, t] of Object.entries(parts.reference.getWeights())) tensors[REF + k] = t;
  }
  try {
    await saveCheckpoint(dir, {
      model: parts.model,
      tokenizer: parts.tokenizer,
      extra: { tensors, json: { ...parts.state, optimizerStep: opt.step } },
      meta: { trainer: parts.state.trainer, step: parts.state.step },
    });
  } finally {
    tf.dispose(Object.values(tensors));
  }
}

/** Restores weights, reference and optimizer in place from `dir`; returns the JSON state. */
export async function loadTrainerCheckpoint(
  dir: string,
  parts: { model: DecoderLM; reference: DecoderLM; adapter?: LoraAdapter; optimizer: AdamW; trainer: string },
): Promise<TrainerStateJson> {
  const loaded = await loadCheckpoint(dir, { trainable: false });
  const extraTensors = loaded.extra?.tensors ?? {};
  try {
    const json = loaded.extra?.json as (TrainerStateJson & { optimizerStep: number }) | undefined;
    if (!json || json.format !== 'falign-trainer-v1') throw new Error(`${dir}: not a falign trainer checkpoint (state.json has no trainer state)`);
    if (json.trainer !== parts.trainer) throw new Error(`${dir}: checkpoint of a '${json.trainer}' trainer, cannot resume a '${parts.trainer}' trainer`);
    const weights = loaded.model.getWeights();
    try {
      parts.model.setWeights(weights);
    } finally {
      tf.dispose(Object.values(weights));
    }
    const refW: Record<string, tf.Tensor> = {};
    const optW: Record<string, tf.Tensor> = {};
    const adapterW: Record<string, tf.Tensor> = {};
    for (const [k, t] of Object.entries(extraTensors)) {
      if (k.startsWith(REF)) refW[k.slice(REF.length)] = t;
      else if (k.startsWith(OPT)) optW[k.slice(OPT.length)] = t;
      else if (k.startsWith(ADAPTER)) adapterW[k.slice(ADAPTER.length)] = t;
    }
    if (parts.adapter) {
      if (Object.keys(adapterW).length === 0) throw new Error(`${dir}: checkpoint has no LoRA adapter weights (it was not saved by a LoRA run)`);
      parts.adapter.setWeights(adapterW, `${dir}: adapter`);
    } else {
      if (Object.keys(refW).length === 0) throw new Error(`${dir}: checkpoint has no reference weights${Object.keys(adapterW).length ? ' (it is a LoRA run: resume with the adapter attached)' : ''}`);
      parts.reference.setWeights(refW);
    }
    parts.optimizer.setState({ step: json.optimizerStep, tensors: optW });
    return json;
  } finally {
    loaded.model.dispose();
    tf.dispose(Object.values(extraTensors));
  }
}
