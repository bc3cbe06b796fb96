/**
 * What every trainer shares: the frozen reference, AdamW, gradient accumulation and clipping,
 * the NaN/Inf guard, the metrics log, checkpoints and resume, and the train() loop.
 */
import { join } from 'node:path';
import { AdamW, DeferredReads, GradientAccumulator, Rng, disposeGradients, globalNormAsync, tf, withDeferredReads, type DecoderLM } from '@falign/core';
import { loadTrainerCheckpoint, saveTrainerCheckpoint } from './checkpoint.js';
import { MetricsLogger } from './metrics.js';
import type { OptimConfig, PolicyLike, RunConfig, StepMetrics } from './types.js';

/** One micro-batch of an optimizer step: a loss closure and its weight in the average. */
export interface MicroBatch {
  loss: () => tf.Scalar;
  weight: number;
}

/** Options of {@link BaseTrainer.train}. */
export interface TrainOptions {
  /** Optimizer steps to run in this call. */
  steps: number;
  /** Called after each step with its metrics line. */
  onStep?: (metrics: StepMetrics) => void | Promise<void>;
}

function checkPositiveInt(where: string, field: string, x: unknown): void {
  if (!Number.isInteger(x) || (x as number) < 1) throw new Error(`${where}: ${field} must be a positive integer, got ${JSON.stringify(x)}`);
}
export { checkPositiveInt };

/** Base class of the trainers (holds all training state). */
export abstract class BaseTrainer {
  /** The policy being trained. */
  readonly policy: PolicyLike;
  /** Frozen copy of the policy at the start of alignment. */
  readonly reference: DecoderLM;
  /** Optimizer steps taken so far. */
  stepCount = 0;
  protected readonly optimizer: AdamW;
  protected readonly rng: Rng;
  protected readonly metrics: MetricsLogger;
  private readonly accumulator = new GradientAccumulator();
  private readonly ownsReference: boolean;
  private remaining = 0;

  protected constructor(
    readonly kind: string,
    policy: PolicyLike,
    protected readonly optim: OptimConfig,
    protected readonly run: RunConfig,
    reference?: DecoderLM,
  ) {
    if (!policy?.model || !policy.tokenizer) throw new Error(`${kind}: policy must be { model, tokenizer }`);
    if (!policy.adapter && policy.model.variables().length === 0) throw new Error(`${kind}: the policy model is frozen (trainable: false)`);
    if (policy.adapter && policy.adapter.model !== policy.model) throw new Error(`${kind}: policy.adapter is attached to another model than policy.model`);
    const accum = optim.gradAccumSteps ?? 1;
    checkPositiveInt(kind, 'gradAccumSteps', accum);
    const clip = optim.clipNorm ?? 1;
    if (!(clip >= 0)) throw new Error(`${kind}: clipNorm must be ≥ 0 (0 disables), got ${clip}`);
    if (typeof optim.lr === 'number' && !(optim.lr >= 0 && Number.isFinite(optim.lr))) throw new Error(`${kind}: lr must be a finite number ≥ 0, got ${optim.lr}`);
    if (run.checkpointEvery !== undefined) {
      checkPositiveInt(kind, 'checkpointEvery', run.checkpointEvery);
      if (!run.runDir) throw new Error(`${kind}: checkpointEvery needs a runDir`);
    }
    this.policy = policy;
    // With LoRA the reference is free: the same base with the adapters off (nothing to dispose).
    this.ownsReference = !reference && !policy.adapter;
    this.reference = reference ?? policy.adapter?.reference() ?? policy.model.clone({ trainable: false });
    this.optimizer = new AdamW(this.trainableVariables(), {
      lr: optim.lr,
      beta1: optim.adamBeta1,
      beta2: optim.adamBeta2,
      eps: optim.adamEps,
      weightDecay: optim.weightDecay ?? 0,
    });
    this.rng = new Rng(optim.seed ?? 0);
    this.metrics = new MetricsLogger(run.runDir, run.log ?? true);
  }

  /** What the optimizer trains: the adapter's variables under LoRA, else the model's (by stable name). */
  private trainableVariables(): Map<string, tf.Variable> {
    return this.policy.adapter ? this.policy.adapter.namedVariables() : this.policy.model.namedVariables();
  }

  /** Runs one optimizer step and returns its metrics (without step, lr, grad_norm, time/step). */
  protected abstract runStep(): Promise<StepMetrics>;
  /** Trainer-specific resumable state (JSON). */
  protected abstract saveState(): unknown;
  /** Restores what {@link saveState} returned. */
  protected abstract loadState(state: unknown): void;

  /**
   * Gradients of each micro-batch loss, accumulated as a weighted mean, clipped to `clipNorm`
   * and applied. Stops (throws, weights untouched) on a non-finite loss or gradient norm.
   * Every host read is awaited (webgpu in Node has none synchronous): the losses schedule theirs
   * with `readWhenReady`, and each micro-batch resolves them together with its loss value in one
   * flush; the gradient norm is one more read.
   */
  protected async update(micro: readonly MicroBatch[]): Promise<{ loss: number; gradNorm: number; lr: number; clipped: boolean }> {
    const vars = [...this.trainableVariables().values()];
    const lr = this.optimizer.currentLr();
    let lossSum = 0;
    let weightSum = 0;
    this.accumulator.reset();
    const reads = new DeferredReads();
    try {
      for (const mb of micro) {
        const { value, grads } = withDeferredReads(reads, () => tf.variableGrads(mb.loss, vars));
        let v = NaN;
        try {
          reads.read(value, (d) => (v = d[0]));
          value.dispose();
          await reads.flush();
        } catch (err) {
          disposeGradients(grads);
          throw err;
        }
        if (!Number.isFinite(v)) {
          disposeGradients(grads);
          throw new Error(`loss is ${v}; stopping instead of training on it`);
        }
        this.accumulator.add(grads, mb.weight);
        disposeGradients(grads);
        lossSum += v * mb.weight;
        weightSum += mb.weight;
      }
      const avg = this.accumulator.average();
      try {
        const gradNorm = await globalNormAsync(avg);
        if (!Number.isFinite(gradNorm)) throw new Error(`gradient norm is ${gradNorm}; stopping instead of training on it`);
        const clip = this.optim.clipNorm ?? 1;
        const scale = clip > 0 && Number.isFinite(clip) ? Math.min(1, clip / (gradNorm + 1e-6)) : 1;
        if (scale < 1) {
          for (const k of Object.keys(avg)) {
            const old = avg[k];
            avg[k] = tf.tidy(() => tf.mul(old, scale));
            old.dispose();
          }
        }
        this.optimizer.applyGradients(avg);
        return { loss: lossSum / weightSum, gradNorm, lr, clipped: scale < 1 };
      } finally {
        disposeGradients(avg);
      }
    } finally {
      reads.dispose();
      this.accumulator.reset();
    }
  }

  /** Runs one optimizer step, logs it, and checkpoints when due. Errors name the step. */
  async step(): Promise<StepMetrics> {
    const t0 = performance.now();
    const stepNo = this.stepCount + 1;
    let m: StepMetrics;
    try {
      m = await this.runStep();
    } catch (err) {
      throw new Error(`${this.kind} step ${stepNo}: ${(err as Error).message}`, { cause: err });
    }
    this.stepCount = stepNo;
    const line: StepMetrics = { step: stepNo, ...m, 'time/step': (performance.now() - t0) / 1000 };
    await this.metrics.write(line, Math.max(this.remaining - 1, 0));
    if (this.run.checkpointEvery && this.run.runDir && stepNo % this.run.checkpointEvery === 0) {
      await this.saveCheckpoint(join(this.run.runDir, 'checkpoints', `step-${stepNo}`));
    }
    return line;
  }

  /** Runs `steps` optimizer steps. */
  async train(opts: TrainOptions): Promise<StepMetrics[]> {
    checkPositiveInt(this.kind, 'train steps', opts.steps);
    this.metrics.startSession();
    const out: StepMetrics[] = [];
    for (let k = 0; k < opts.steps; k++) {
      this.remaining = opts.steps - k;
      const m = await this.step();
      out.push(m);
      await opts.onStep?.(m);
    }
    return out;
  }

  /** Saves weights, reference, optimizer, RNG, step and data cursor (default `<runDir>/checkpoints/step-N`). */
  async saveCheckpoint(dir?: string): Promise<string> {
    const target = dir ?? (this.run.runDir ? join(this.run.runDir, 'checkpoints', `step-${this.stepCount}`) : undefined);
    if (!target) throw new Error(`${this.kind}: saveCheckpoint needs a directory (or a runDir)`);
    await saveTrainerCheckpoint(target, {
      model: this.policy.model,
      reference: this.reference,
      adapter: this.policy.adapter,
      tokenizer: this.policy.tokenizer,
      optimizer: this.optimizer,
      state: {
        format: 'falign-trainer-v1',
        trainer: this.kind,
        step: this.stepCount,
        rng: this.rng.getState(),
        ...(this.policy.adapter ? { adapterRng: this.policy.adapter.getRngState() } : {}),
        trainerState: this.saveState(),
      },
    });
    return target;
  }

  /**
   * Continues a run from a checkpoint of the same trainer kind: construct the trainer as for the
   * original run (same config and data), then call this. Later steps reproduce an uninterrupted
   * run on the same backend; metrics lines after the checkpoint's step are dropped from metrics.jsonl.
   */
  async resume(dir: string): Promise<void> {
    const json = await loadTrainerCheckpoint(dir, { model: this.policy.model, reference: this.reference, adapter: this.policy.adapter, optimizer: this.optimizer, trainer: this.kind });
    this.stepCount = json.step;
    this.rng.setState(json.rng);
    if (this.policy.adapter && json.adapterRng) this.policy.adapter.setRngState(json.adapterRng);
    this.loadState(json.trainerState);
    await this.metrics.truncateAfter(json.step);
  }

  /** Frees the reference (when the trainer made it) and the optimizer state. The policy stays the caller's. */
  dispose(): void {
    this.accumulator.dispose();
    this.optimizer.dispose();
    if (this.ownsReference) this.reference.dispose();
  }
}
