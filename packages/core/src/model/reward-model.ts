/**
 * Scalar reward model: a DecoderLM backbone plus a linear head on the hidden state of each row's
 * last real token (HF `LlamaForSequenceClassification` / `GPT2ForSequenceClassification` with one
 * label: head `score.weight` [1, D], no bias).
 */
import { tf } from '../backend.js';
import { Rng } from '../rng.js';
import type { ModelConfig } from '../types.js';
import { DecoderLM, type DecoderOptions } from './decoder.js';

let rmCounter = 0;

/** Bradley–Terry preference loss: mean −log σ(chosen − rejected), computed as softplus(r − c). */
export function bradleyTerryLoss(chosen: tf.Tensor1D, rejected: tf.Tensor1D): tf.Scalar {
  if (chosen.shape[0] !== rejected.shape[0]) {
    throw new Error(`bradleyTerryLoss: chosen has ${chosen.shape[0]} rows, rejected has ${rejected.shape[0]}`);
  }
  return tf.tidy(() => tf.mean(tf.softplus(tf.sub(rejected, chosen))) as tf.Scalar);
}

/** Index of the last position with mask 1 in every row (works for left or right padding). */
function lastRealIndex(mask: tf.Tensor2D): tf.Tensor1D {
  const T = mask.shape[1];
  // argmax of mask·(t+1) picks the largest t with mask 1.
  return tf.tidy(() => tf.cast(tf.argMax(tf.mul(tf.cast(mask, 'float32'), tf.range(1, T + 1)), 1), 'int32') as tf.Tensor1D);
}

/** A sequence-level scalar scorer built on a DecoderLM. */
export class ScalarRewardModel {
  readonly backbone: DecoderLM;
  readonly trainable: boolean;
  private readonly head: tf.Variable; // [D, 1] internally; HF `score.weight` is [1, D]

  constructor(config: ModelConfig, opts: DecoderOptions & { backbone?: DecoderLM; headWeight?: tf.Tensor } = {}) {
    this.trainable = opts.trainable ?? true;
    this.backbone = opts.backbone ?? new DecoderLM(config, { seed: opts.seed, trainable: this.trainable });
    const D = this.backbone.config.dModel;
    let init: tf.Tensor;
    if (opts.headWeight) init = opts.headWeight;
    else {
      const rng = new Rng((opts.seed ?? 0) + 0x5c0e);
      const w = new Float32Array(D);
      for (let i = 0; i < D; i++) w[i] = rng.normal() * 0.02;
      init = tf.tensor2d(w, [D, 1]);
    }
    this.head = tf.variable(init, this.trainable, `falign-rm${rmCounter++}/score.weight`, 'float32');
    if (!opts.headWeight) init.dispose();
  }

  /** Model config with defaults filled. */
  get config(): Required<ModelConfig> {
    return this.backbone.config;
  }

  /**
   * One scalar per row: the head applied to the final-normed hidden state of the row's last token
   * with attentionMask 1. ids int32 [B, T]; attentionMask [B, T] (1 = real token).
   */
  score(ids: tf.Tensor2D, attentionMask: tf.Tensor2D): tf.Tensor1D {
    const [B, T] = ids.shape;
    if (attentionMask.shape[0] !== B || attentionMask.shape[1] !== T) {
      throw new Error(`ScalarRewardModel.score: attentionMask must be [${B}, ${T}], got [${attentionMask.shape}]`);
    }
    return tf.tidy(() => {
      // Real tokens get positions 0.. regardless of padding side.
      const m = tf.cast(attentionMask, 'int32');
      const positions = tf.cast(tf.maximum(tf.sub(tf.cumsum(m, 1), 1), 0), 'int32') as tf.Tensor2D;
      const h = this.backbone.hidden(ids, { attentionMask, positions }); // [B, T, D]
      const D = this.backbone.config.dModel;
      const flatIdx = tf.add(tf.mul(tf.range(0, B, 1, 'int32'), tf.scalar(T, 'int32')), lastRealIndex(attentionMask));
      const last = tf.gather(tf.reshape(h, [B * T, D]), flatIdx); // [B, D]
      return tf.reshape(tf.matMul(last, this.head), [B]) as tf.Tensor1D;
    });
  }

  /** Backbone variables then the head (empty when frozen). */
  variables(): tf.Variable[] {
    return this.trainable ? [...this.backbone.variables(), this.head] : [];
  }

  /** Stable names → trainable variables (backbone keys plus `score.weight`). */
  namedVariables(): Map<string, tf.Variable> {
    const m = this.backbone.namedVariables();
    if (this.trainable) m.set('score.weight', this.head);
    return m;
  }

  /** Number of parameters. */
  numParams(): number {
    return this.backbone.numParams() + this.head.size;
  }

  /** Backbone weights (HF names) plus `score.weight` [1, D]; new tensors the caller disposes. */
  getWeights(): Record<string, tf.Tensor> {
    const w = this.backbone.getWeights();
    w['score.weight'] = tf.transpose(this.head);
    return w;
  }

  /** Sets backbone weights and `score.weight` [1, D]; the caller keeps ownership of `w`. */
  setWeights(w: Record<string, tf.Tensor>): void {
    const { ['score.weight']: score, ...rest } = w;
    const D = this.backbone.config.dModel;
    if (score === undefined) throw new Error(`setWeights: missing tensor 'score.weight' (expected shape [1,${D}])`);
    if (score.rank !== 2 || score.shape[0] !== 1 || score.shape[1] !== D) {
      throw new Error(`setWeights: tensor 'score.weight' has shape [${score.shape}], expected [1,${D}]`);
    }
    this.backbone.setWeights(rest);
    tf.tidy(() => this.head.assign(tf.transpose(tf.cast(score, 'float32'))));
  }

  /** A copy with the same weights; `trainable: false` gives a frozen one. */
  clone(opts: { trainable?: boolean } = {}): ScalarRewardModel {
    const trainable = opts.trainable ?? this.trainable;
    return new ScalarRewardModel(this.config, {
      trainable,
      backbone: this.backbone.clone({ trainable }),
      headWeight: this.head,
    });
  }

  dispose(): void {
    this.backbone.dispose();
    this.head.dispose();
  }
}
