/**
 * Trainer checkpoints on top of core's atomic saveCheckpoint: policy weights + tokenizer, and in
 * the extra state the optimizer moments (`optimizer/…`), the frozen reference weights
 * (`reference/…`, so a resume needs nothing but the directory) and a JSON record of the step,
 * RNG state, data cursor and any trainer-specific state (e.g. a reused rollout).
 */
import { loadCheckpoint, saveCheckpoint, tf, type AdamW, type DecoderLM, type Tokenizer } from '@falign/core';

/** The JSON half of a trainer checkpoint. */
export interface TrainerStateJson {
  format: 'falign-trainer-v1';
  trainer: string;
  step: number;
  rng: number[];
  /** Trainer-specific state (data cursors, rollout buffer…). */
  trainerState: unknown;
}

const OPT = 'optimizer/';
const REF = 'reference/';

/** Writes a trainer checkpoint to `dir` (atomic: core writes a temp dir and renames it). */
export async function saveTrainerCheckpoint(
  dir: string,
  parts: { model: DecoderLM; reference: DecoderLM; tokenizer: Tokenizer; optimizer: AdamW; state: TrainerStateJson },
): Promise<void> {
  const opt = parts.optimizer.getState();
  const ref = parts.reference.getWeights();
  const tensors: Record<string, tf.Tensor> = {};
  for (const [k, t] of Object.entries(opt.tensors)) tensors[OPT + k] = t;
  for (const [k, t] of Object.entries(ref)) tensors[REF + k] = t;
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
  parts: { model: DecoderLM; reference: DecoderLM; optimizer: AdamW; trainer: string },
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
    for (const [k, t] of Object.entries(extraTensors)) {
      if (k.startsWith(REF)) refW[k.slice(REF.length)] = t;
      else if (k.startsWith(OPT)) optW[k.slice(OPT.length)] = t;
    }
    if (Object.keys(refW).length === 0) throw new Error(`${dir}: checkpoint has no reference weights`);
    parts.reference.setWeights(refW);
    parts.optimizer.setState({ step: json.optimizerStep, tensors: optW });
    return json;
  } finally {
    loaded.model.dispose();
    tf.dispose(Object.values(extraTensors));
  }
}
