/**
 * Offline training: FDO (any divergence), KLDO or DPO on preference pairs or on unpaired
 * aligned/unaligned completions (DPO needs pairs). No sampling and no rewards: each step scores a
 * batch under the policy (the reference scores are cached) and takes one AdamW step.
 */
import { readWhenReady, tf, tokenLogprobs, type DecoderLM } from '@falign/core';
import { resolveDivergence } from '../divergences/registry.js';
import { dpoLoss } from '../losses/dpo.js';
import { createKldoState, fdoLoss, kldoLoss, type KldoState } from '../losses/fdo.js';
import { BaseTrainer, checkPositiveInt, type MicroBatch } from './base.js';
import { DataCursor } from './data.js';
import { OfflineData, type OfflineExample } from './offline-data.js';
import type { OptimConfig, PolicyLike, RunConfig, StepMetrics } from './types.js';

/** Configuration of {@link OfflineTrainer}. */
export interface OfflineConfig extends OptimConfig, RunConfig {
  algorithm: 'fdo' | 'kldo' | 'dpo';
  /** FDO divergence (default 'jensen_shannon'). */
  divergence?: string;
  /** β of the implicit reward β(ℓθ − ℓref). */
  beta: number;
  /** Examples (pairs or unpaired completions) per optimizer step (a multiple of gradAccumSteps). */
  batchSize: number;
  /** KLDO: moving-average denominator in the backward pass (rate default 0.1). */
  kldoMovingAverage?: boolean | { rate: number };
  /** DPO variant options. */
  dpo?: { labelSmoothing?: number; lossType?: 'sigmoid' | 'ipo' | 'hinge' };
  /** Append EOS to completions when the tokenizer has one (default true). */
  appendEos?: boolean;
}

/** Everything needed to construct an {@link OfflineTrainer}. */
export interface OfflineTrainerInit {
  policy: PolicyLike;
  data: readonly OfflineExample[];
  config: OfflineConfig;
  reference?: DecoderLM;
}

/** Implicit-reward statistics gathered while the losses run. */
interface OfflineSums {
  chosen: number;
  rejected: number;
  nPos: number;
  nNeg: number;
  correct: number;
  pairs: number;
}

/** FDO / KLDO / DPO trainer. */
export class OfflineTrainer extends BaseTrainer {
  readonly config: OfflineConfig;
  protected readonly data: OfflineData;
  protected readonly cursor: DataCursor;
  protected kldoState: KldoState = createKldoState();

  constructor(init: OfflineTrainerInit) {
    const c = init.config;
    super('OfflineTrainer', init.policy, c, c, init.reference);
    if (!['fdo', 'kldo', 'dpo'].includes(c.algorithm)) throw new Error(`OfflineTrainer: algorithm must be 'fdo', 'kldo' or 'dpo', got '${String(c.algorithm)}'`);
    if (!(c.beta > 0)) throw new Error(`OfflineTrainer: beta must be > 0, got ${c.beta}`);
    checkPositiveInt('OfflineTrainer', 'batchSize', c.batchSize);
    if (c.batchSize % (c.gradAccumSteps ?? 1) !== 0) throw new Error(`OfflineTrainer: batchSize (${c.batchSize}) must be a multiple of gradAccumSteps`);
    if (c.algorithm === 'fdo') resolveDivergence(c.divergence ?? 'jensen_shannon');
    this.config = c;
    this.data = new OfflineData(init.data, init.policy.tokenizer, { appendEos: c.appendEos, where: 'OfflineTrainer' });
    if (c.algorithm === 'dpo' && !this.data.paired) throw new Error('OfflineTrainer: dpo needs { prompt, chosen, rejected } pairs');
    this.cursor = new DataCursor(this.data.size, c.seed ?? 0);
  }

  /**
   * Micro-batch loss closure for `indices` (also used by f-HAL for its offline half). Awaits the
   * reference scores of examples not yet cached; the closure adds its implicit rewards to `sums`
   * when its reads resolve (at once, or at the flush inside `withDeferredReads`).
   */
  static async offlineLoss(
    model: DecoderLM,
    reference: DecoderLM,
    data: OfflineData,
    indices: readonly number[],
    c: { algorithm: 'fdo' | 'kldo' | 'dpo'; divergence?: string; beta: number; kldo?: KldoState; kldoRate?: number; dpo?: OfflineConfig['dpo'] },
    sums: OfflineSums,
    temperature = 1,
  ): Promise<() => tf.Scalar> {
    const b = await data.batch(indices, reference, temperature);
    return () => {
      const s = tokenLogprobs(model, b.score, { temperature });
      const seq = tf.sum(s.logp, 1) as tf.Tensor1D;
      const ref = tf.tensor1d(b.refSeq);
      const posLogp = tf.slice(seq, 0, b.nPos) as tf.Tensor1D;
      const negLogp = tf.slice(seq, b.nPos, b.nNeg) as tf.Tensor1D;
      const posRef = tf.slice(ref, 0, b.nPos) as tf.Tensor1D;
      const negRef = tf.slice(ref, b.nPos, b.nNeg) as tf.Tensor1D;
      readWhenReady(seq, (values) => {
        const r = Array.from(values).map((l, i) => c.beta * (l - b.refSeq[i]));
        const rp = r.slice(0, b.nPos);
        const rn = r.slice(b.nPos);
        sums.chosen += rp.reduce((a, x) => a + x, 0);
        sums.rejected += rn.reduce((a, x) => a + x, 0);
        sums.nPos += rp.length;
        sums.nNeg += rn.length;
        if (data.paired) {
          sums.correct += rp.filter((x, i) => x > rn[i]).length;
          sums.pairs += rp.length;
        }
      });
      const batch = { posLogp, posRefLogp: posRef, negLogp, negRefLogp: negRef };
      if (c.algorithm === 'fdo') return fdoLoss(batch, { divergence: c.divergence ?? 'jensen_shannon', beta: c.beta });
      if (c.algorithm === 'kldo') {
        return kldoLoss(batch, { beta: c.beta, movingAverage: c.kldo ? { state: c.kldo, rate: c.kldoRate } : undefined });
      }
      return dpoLoss(
        { chosenLogp: posLogp, chosenRefLogp: posRef, rejectedLogp: negLogp, rejectedRefLogp: negRef },
        { beta: c.beta, labelSmoothing: c.dpo?.labelSmoothing, lossType: c.dpo?.lossType },
      );
    };
  }

  /** Metrics from the implicit-reward sums (TRL DPO names). */
  static offlineMetrics(sums: OfflineSums, prefix = ''): StepMetrics {
    const chosen = sums.nPos ? sums.chosen / sums.nPos : NaN;
    const rejected = sums.nNeg ? sums.rejected / sums.nNeg : NaN;
    const m: StepMetrics = {
      [`${prefix}rewards/chosen`]: chosen,
      [`${prefix}rewards/rejected`]: rejected,
      [`${prefix}rewards/margins`]: chosen - rejected,
    };
    if (sums.pairs > 0) m[`${prefix}rewards/accuracies`] = sums.correct / sums.pairs;
    return m;
  }

  static emptySums(): OfflineSums {
    return { chosen: 0, rejected: 0, nPos: 0, nNeg: 0, correct: 0, pairs: 0 };
  }

  protected async runStep(): Promise<StepMetrics> {
    const c = this.config;
    const accum = c.gradAccumSteps ?? 1;
    const per = c.batchSize / accum;
    const indices = this.cursor.take(c.batchSize);
    const sums = OfflineTrainer.emptySums();
    const ma = c.kldoMovingAverage;
    const t0 = performance.now();
    const micro: MicroBatch[] = [];
    for (let m = 0; m < accum; m++) {
      const loss = await OfflineTrainer.offlineLoss(this.policy.model, this.reference, this.data, indices.slice(m * per, (m + 1) * per), {
        algorithm: c.algorithm,
        divergence: c.divergence,
        beta: c.beta,
        kldo: ma ? this.kldoState : undefined,
        kldoRate: typeof ma === 'object' ? ma.rate : undefined,
        dpo: c.dpo,
      }, sums);
      micro.push({ loss, weight: 1 });
    }
    const tScore = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const u = await this.update(micro);
    return {
      loss: u.loss,
      ...(c.algorithm !== 'dpo' ? { divergence_estimate: -u.loss } : {}),
      ...OfflineTrainer.offlineMetrics(sums),
      grad_norm: u.gradNorm,
      // 1 when max-norm clipping scaled this step's gradient down (its effective step was shortened).
      grad_clipped: u.clipped ? 1 : 0,
      lr: u.lr,
      'time/scoring': tScore,
      'time/update': (performance.now() - t1) / 1000,
    };
  }

  protected saveState(): unknown {
    return { cursor: this.cursor.position, kldo: this.kldoState };
  }

  protected loadState(state: unknown): void {
    const s = state as { cursor: number; kldo: KldoState };
    if (!s || !Number.isInteger(s.cursor)) throw new Error('OfflineTrainer: checkpoint state has no data cursor');
    this.cursor.position = s.cursor;
    this.kldoState = s.kldo ?? createKldoState();
  }
}
