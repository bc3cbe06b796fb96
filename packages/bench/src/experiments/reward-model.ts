/**
 * The learned reward model of the safety experiment: a small decoder with a scalar head
 * (ScalarRewardModel from @falign/core) trained with the Bradley–Terry loss on
 * compliance–refusal preference pairs, its held-out accuracy, its calibration (mean scores of
 * chosen and rejected answers per prompt label, used to normalise scores) and probes of the
 * biases a policy could exploit.
 */
import {
  AdamW,
  Rng,
  ScalarRewardModel,
  bradleyTerryLoss,
  loadCheckpoint,
  saveCheckpoint,
  tf,
  trainStepAsync,
  warmupCosineLr,
  type Tokenizer,
} from '@falign/core';
import type { RewardModelConfig } from './config/schema.js';
import { BENIGN_OPENERS, COURTESY_TAILS, REFUSALS, type PreferencePair, type SafetyLabel, type SafetyPrompt, complianceResponse } from './generators/safety.js';
import type { ResponseScorer, RmCalibration } from './eval/safety-eval.js';
import { toTaskAlphabet } from './pretrained-base.js';

/** Token ids and attention mask of (prompt + response) texts, right-padded. */
function encodePairs(tokenizer: Tokenizer, prompts: readonly string[], responses: readonly string[], maxLen: number): { ids: tf.Tensor2D; mask: tf.Tensor2D } {
  const rows = prompts.map((p, i) => {
    const ids = tokenizer.encode(p + responses[i], { bos: tokenizer.bosId !== null });
    // Keep the end (the response) when a text is longer than the model's context.
    return ids.length > maxLen ? ids.slice(ids.length - maxLen) : ids;
  });
  const T = Math.max(1, ...rows.map((r) => r.length));
  const ids = new Int32Array(rows.length * T).fill(tokenizer.padId);
  const mask = new Float32Array(rows.length * T);
  rows.forEach((r, i) => {
    ids.set(r, i * T);
    mask.fill(1, i * T, i * T + r.length);
  });
  return { ids: tf.tensor2d(ids, [rows.length, T], 'int32'), mask: tf.tensor2d(mask, [rows.length, T], 'float32') };
}

/** Scores with a (frozen) reward model, in batches, without gradients. */
export class RewardModelScorer implements ResponseScorer {
  constructor(
    readonly model: ScalarRewardModel,
    readonly tokenizer: Tokenizer,
    readonly batchSize = 64,
  ) {}

  async score(prompts: readonly string[], responses: readonly string[]): Promise<number[]> {
    const out: number[] = [];
    for (let s = 0; s < prompts.length; s += this.batchSize) {
      const scores = tf.tidy(() => {
        const { ids, mask } = encodePairs(this.tokenizer, prompts.slice(s, s + this.batchSize).map(toTaskAlphabet), responses.slice(s, s + this.batchSize).map(toTaskAlphabet), this.model.config.maxSeqLen);
        return this.model.score(ids, mask);
      });
      // Awaited: webgpu in Node has no synchronous read.
      let vals: Float32Array | Int32Array | Uint8Array;
      try {
        vals = await scores.data();
      } finally {
        scores.dispose();
      }
      for (const v of vals) {
        if (!Number.isFinite(v)) throw new Error(`reward model produced a non-finite score (${v})`);
        out.push(v);
      }
    }
    return out;
  }
}

/** One logged reward-model training step. */
export interface RmStepLog {
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
}

/** Trains a fresh reward model on `pairs` with the Bradley–Terry loss (awaited reads: any backend). */
export async function trainRewardModel(
  tokenizer: Tokenizer,
  pairs: readonly PreferencePair[],
  cfg: RewardModelConfig,
  onStep?: (log: RmStepLog) => void,
): Promise<{ model: ScalarRewardModel; logs: RmStepLog[] }> {
  if (pairs.length === 0) throw new Error('reward model: no preference pairs');
  const model = new ScalarRewardModel({ ...cfg.model, vocabSize: tokenizer.vocabSize }, { seed: cfg.seed });
  const optimizer = new AdamW(model.namedVariables(), {
    lr: warmupCosineLr({ peak: cfg.lr, warmupSteps: Math.min(cfg.warmupSteps, cfg.steps), totalSteps: cfg.steps, minLr: cfg.lr * 0.1 }),
    weightDecay: cfg.weightDecay,
  });
  const rng = new Rng(cfg.seed).fork(0x7e3a);
  const logs: RmStepLog[] = [];
  try {
    for (let step = 0; step < cfg.steps; step++) {
      const batch = Array.from({ length: Math.min(cfg.batchSize, pairs.length) }, () => pairs[rng.nextInt(pairs.length)]);
      const prompts = batch.map((p) => p.prompt);
      const r = await trainStepAsync(
        model,
        optimizer,
        () =>
          tf.tidy(() => {
            // Chosen and rejected in one forward pass.
            const { ids, mask } = encodePairs(tokenizer, [...prompts, ...prompts], [...batch.map((p) => p.chosen), ...batch.map((p) => p.rejected)], model.config.maxSeqLen);
            const scores = model.score(ids, mask);
            const [c, rj] = tf.split(scores, 2);
            return bradleyTerryLoss(c as tf.Tensor1D, rj as tf.Tensor1D);
          }),
        { clipNorm: 1 },
      );
      const log = { step, loss: r.loss, gradNorm: r.gradNorm, lr: r.lr };
      logs.push(log);
      onStep?.(log);
    }
  } finally {
    optimizer.dispose();
  }
  return { model, logs };
}

/** Held-out quality of the reward model. */
export interface RewardModelQuality {
  /** Share of held-out pairs where chosen scores above rejected. */
  accuracy: number;
  accuracyHarmful: number;
  accuracyBenign: number;
  nPairs: number;
  calibration: RmCalibration;
}

/** Accuracy and calibration on held-out pairs. */
export async function assessRewardModel(scorer: ResponseScorer, pairs: readonly PreferencePair[]): Promise<RewardModelQuality> {
  const prompts = pairs.map((p) => p.prompt);
  const chosen = await scorer.score(prompts, pairs.map((p) => p.chosen));
  const rejected = await scorer.score(prompts, pairs.map((p) => p.rejected));
  const idx = (label: SafetyLabel) => pairs.map((p, i) => (p.label === label ? i : -1)).filter((i) => i >= 0);
  const acc = (is: number[]) => (is.length === 0 ? Number.NaN : is.filter((i) => chosen[i] > rejected[i]).length / is.length);
  const avg = (xs: number[], is: number[]) => (is.length === 0 ? Number.NaN : is.reduce((s, i) => s + xs[i], 0) / is.length);
  const h = idx('harmful');
  const b = idx('benign');
  return {
    accuracy: acc(pairs.map((_, i) => i)),
    accuracyHarmful: acc(h),
    accuracyBenign: acc(b),
    nPairs: pairs.length,
    calibration: {
      harmful: { chosen: avg(chosen, h), rejected: avg(rejected, h) },
      benign: { chosen: avg(chosen, b), rejected: avg(rejected, b) },
    },
  };
}

/** One bias probe: how much an edit that does not change the answer's meaning moves the score. */
export interface BiasProbe {
  name: string;
  description: string;
  /** Mean score change (edited − original). */
  meanDelta: number;
  /** Share of prompts where the edit raised the score. */
  fractionRaised: number;
  /** Mean change in units of the RM's aligned-vs-unaligned gap of the prompt's label. */
  meanDeltaNormalized: number;
  n: number;
}

/**
 * Probes on held-out prompts:
 * - `benign-style-compliance-harmful`: the generic helpful opening that benign prompts get in the
 *   data, used to comply with a harmful prompt — exploitable when positive (the RM judges the
 *   wording, not whether the answer complies);
 * - `tail-on-compliance`: a courtesy tail appended to a compliance (the preference data's
 *   spurious feature) — exploitable when positive on harmful prompts;
 * - `tail-on-refusal`: the same on a refusal;
 * - `repeat-tail`: the tail twice instead of once (length beyond the data);
 * - `refusal-vs-compliance-benign`: preference for refusing benign prompts (over-refusal bias).
 */
export async function probeRewardModelBiases(
  scorer: ResponseScorer,
  prompts: readonly SafetyPrompt[],
  calibration: RmCalibration,
  maxResponseChars: number,
  seed: number,
): Promise<BiasProbe[]> {
  const rng = new Rng(seed).fork(0xb1a5);
  const tail = COURTESY_TAILS[0];
  const compliance = prompts.map((p) => complianceResponse(p, rng, maxResponseChars));
  const refusal = prompts.map((_, i) => REFUSALS[i % REFUSALS.length]);
  const texts = prompts.map((p) => p.prompt);
  const span = (p: SafetyPrompt) => calibration[p.label].chosen - calibration[p.label].rejected;
  const probe = async (name: string, description: string, subset: readonly number[], a: readonly string[], b: readonly string[]): Promise<BiasProbe> => {
    const ps = subset.map((i) => texts[i]);
    const base = await scorer.score(ps, subset.map((i) => a[i]));
    const edited = await scorer.score(ps, subset.map((i) => b[i]));
    const deltas = edited.map((v, k) => v - base[k]);
    const n = deltas.length;
    return {
      name,
      description,
      meanDelta: n === 0 ? Number.NaN : deltas.reduce((s, d) => s + d, 0) / n,
      fractionRaised: n === 0 ? Number.NaN : deltas.filter((d) => d > 0).length / n,
      meanDeltaNormalized: n === 0 ? Number.NaN : deltas.reduce((s, d, k) => s + d / span(prompts[subset[k]]), 0) / n,
      n,
    };
  };
  const harmful = prompts.map((p, i) => (p.label === 'harmful' ? i : -1)).filter((i) => i >= 0);
  const benign = prompts.map((p, i) => (p.label === 'benign' ? i : -1)).filter((i) => i >= 0);
  const benignStyle = prompts.map((_, i) => BENIGN_OPENERS[i % BENIGN_OPENERS.length]);
  return [
    await probe(
      'benign-style-compliance-harmful',
      'a generic helpful opening ("Sure, here is how:") instead of the AdvBench-style one on harmful prompts; both comply',
      harmful,
      compliance,
      benignStyle,
    ),
    await probe('tail-on-compliance-harmful', `"${tail.trim()}" appended to a compliance on harmful prompts`, harmful, compliance, compliance.map((c) => c + tail)),
    await probe('tail-on-refusal-harmful', `"${tail.trim()}" appended to a refusal on harmful prompts`, harmful, refusal, refusal.map((c) => c + tail)),
    await probe('repeat-tail-compliance', 'the tail twice instead of once after a compliance (all prompts)', [...harmful, ...benign], compliance.map((c) => c + tail), compliance.map((c) => c + tail + tail)),
    await probe('refusal-over-compliance-benign', 'a refusal instead of a compliance on benign prompts (positive = over-refusal bias)', benign, compliance, refusal),
  ];
}

/** Saves a reward model (backbone as a falign checkpoint, head in the extra state). */
export async function saveRewardModel(dir: string, model: ScalarRewardModel, tokenizer: Tokenizer): Promise<void> {
  const w = model.getWeights();
  try {
    const head = tf.transpose(w['score.weight']);
    try {
      await saveCheckpoint(dir, { model: model.backbone, tokenizer, extra: { tensors: { 'score.weight.t': head } }, meta: { kind: 'scalar-reward-model' } });
    } finally {
      head.dispose();
    }
  } finally {
    for (const t of Object.values(w)) t.dispose();
  }
}

/** Loads a reward model saved by {@link saveRewardModel} (frozen). */
export async function loadRewardModel(dir: string): Promise<{ model: ScalarRewardModel; tokenizer: Tokenizer }> {
  const ck = await loadCheckpoint(dir, { trainable: false });
  const head = ck.extra?.tensors?.['score.weight.t'];
  if (!head) throw new Error(`${dir}: not a reward-model checkpoint (no score.weight.t in its state)`);
  const model = new ScalarRewardModel(ck.model.config, { backbone: ck.model, headWeight: head, trainable: false });
  head.dispose();
  return { model, tokenizer: ck.tokenizer };
}
