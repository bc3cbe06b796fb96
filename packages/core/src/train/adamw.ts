/**
 * AdamW (Loshchilov & Hutter; PyTorch `torch.optim.AdamW` semantics): bias-corrected Adam
 * moments plus decoupled weight decay `p ← p·(1 − lr·wd)` applied before the Adam step.
 * Moments are created lazily per variable and can be saved/restored for bit-exact resume.
 */
import { tf } from '../backend.js';
import type { LrSchedule } from '../types.js';
import { gradEntries, type Gradients } from './grads.js';
import { adamwKernelAvailable, adamwUpdate, registerAdamWKernel } from '../kernels/adamw.js';

registerAdamWKernel();

/** Options of {@link AdamW}. */
export interface AdamWOptions {
  /** Learning rate or a schedule of the 0-based step. */
  lr: number | LrSchedule;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay (default 0.01, PyTorch's AdamW default). */
  weightDecay?: number;
  /**
   * Which parameters decay, by stable name. Default {@link decayMatricesOnly}: matrices decay;
   * norms, biases and embeddings do not.
   */
  decay?: (name: string, variable: tf.Variable) => boolean;
}

/** Default decay mask: rank ≥ 2 weights except token/position embeddings. */
export function decayMatricesOnly(name: string, variable: tf.Variable): boolean {
  return variable.rank >= 2 && !/(embed|wte|wpe)/.test(name);
}

/** Serialisable optimizer state: step count and moment tensors named `<param>.exp_avg` / `<param>.exp_avg_sq`. */
export interface AdamWState {
  step: number;
  tensors: Record<string, tf.Tensor>;
}

interface Slot {
  name: string;
  variable: tf.Variable;
  decays: boolean;
  m: tf.Tensor | null;
  v: tf.Tensor | null;
}

/** The AdamW optimizer over a fixed set of variables. */
export class AdamW {
  private readonly slots = new Map<string, Slot>(); // keyed by tf.Variable name
  private readonly byStable = new Map<string, Slot>();
  private readonly lrFn: LrSchedule;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;
  private t = 0;

  /**
   * @param params the variables to optimise: a Map from a stable name (used in getState and the
   * decay mask; e.g. `model.namedVariables()`) to variable, or an array (stable name = variable name).
   */
  constructor(params: Map<string, tf.Variable> | tf.Variable[], opts: AdamWOptions) {
    const entries: [string, tf.Variable][] = Array.isArray(params) ? params.map((v) => [v.name, v]) : [...params];
    const decay = opts.decay ?? decayMatricesOnly;
    for (const [name, variable] of entries) {
      if (!variable.trainable) throw new Error(`AdamW: variable '${name}' is not trainable`);
      const slot: Slot = { name, variable, decays: decay(name, variable), m: null, v: null };
      this.slots.set(variable.name, slot);
      this.byStable.set(name, slot);
    }
    this.lrFn = typeof opts.lr === 'number' ? () => opts.lr as number : opts.lr;
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    for (const [k, v, lo, hi] of [
      ['beta1', this.beta1, 0, 1],
      ['beta2', this.beta2, 0, 1],
    ] as const) {
      if (!(v >= lo && v < hi)) throw new Error(`AdamW: ${k} must be in [${lo}, ${hi}), got ${v}`);
    }
    if (!(this.eps > 0)) throw new Error(`AdamW: eps must be > 0, got ${this.eps}`);
    if (!(this.weightDecay >= 0)) throw new Error(`AdamW: weightDecay must be ≥ 0, got ${this.weightDecay}`);
  }

  /** Number of updates applied so far. */
  get step(): number {
    return this.t;
  }

  /** Learning rate the next update will use. */
  currentLr(): number {
    return this.lrFn(this.t);
  }

  /** Stable names of the parameters that receive weight decay. */
  decayedNames(): string[] {
    return [...this.byStable.values()].filter((s) => s.decays).map((s) => s.name);
  }

  /**
   * Applies one update. Variables without a gradient are left alone (as PyTorch does for
   * `grad is None`). The gradients stay owned by the caller. `gradScale` multiplies every
   * gradient first (global-norm clipping without materialising scaled copies).
   * On wasm and cpu each parameter's update is one fused kernel (kernels/adamw.ts).
   */
  applyGradients(grads: Gradients, opts: { gradScale?: number } = {}): void {
    const gradScale = opts.gradScale ?? 1;
    if (!(gradScale >= 0 && Number.isFinite(gradScale))) throw new Error(`AdamW.applyGradients: gradScale must be finite and ≥ 0, got ${gradScale}`);
    const entries = gradEntries(grads);
    for (const [name] of entries) {
      if (!this.slots.has(name)) throw new Error(`AdamW.applyGradients: gradient for unknown variable '${name}'`);
    }
    const lr = this.lrFn(this.t);
    if (!Number.isFinite(lr) || lr < 0) throw new Error(`AdamW: learning rate at step ${this.t} is ${lr}`);
    this.t += 1;
    const b1 = this.beta1;
    const b2 = this.beta2;
    const bc1 = 1 - Math.pow(b1, this.t);
    const bc2Sqrt = Math.sqrt(1 - Math.pow(b2, this.t));
    const stepSize = lr / bc1;
    const fused = adamwKernelAvailable() && entries.every(([, g]) => g.dtype === 'float32');
    for (const [name, g] of entries) {
      const s = this.slots.get(name)!;
      const p = s.variable;
      if (g.shape.join(',') !== p.shape.join(',')) {
        throw new Error(`AdamW.applyGradients: gradient of '${s.name}' has shape [${g.shape}], variable is [${p.shape}]`);
      }
      const decay = s.decays && this.weightDecay > 0 ? 1 - lr * this.weightDecay : 1;
      if (fused) {
        const [next, m, v] = adamwUpdate(p, g, s.m, s.v, { b1, b2, eps: this.eps, stepSize, bc2Sqrt, decay, gradScale });
        p.assign(next);
        next.dispose();
        s.m?.dispose();
        s.v?.dispose();
        s.m = m;
        s.v = v;
        continue;
      }
      const [m, v, next] = tf.tidy(() => {
        const gs = gradScale === 1 ? g : tf.mul(g, gradScale);
        const m0 = s.m ?? tf.zerosLike(p);
        const v0 = s.v ?? tf.zerosLike(p);
        const m1 = tf.add(tf.mul(m0, b1), tf.mul(gs, 1 - b1));
        const v1 = tf.add(tf.mul(v0, b2), tf.mul(tf.mul(gs, gs), 1 - b2));
        const denom = tf.add(tf.div(tf.sqrt(v1), bc2Sqrt), this.eps);
        const decayed = decay !== 1 ? tf.mul(p, decay) : p;
        return [m1, v1, tf.sub(decayed, tf.mul(tf.div(m1, denom), stepSize))];
      });
      p.assign(next);
      next.dispose();
      s.m?.dispose();
      s.v?.dispose();
      s.m = m;
      s.v = v;
    }
  }

  /** Step count and copies of the moments (the caller disposes the tensors). */
  getState(): AdamWState {
    const tensors: Record<string, tf.Tensor> = {};
    for (const s of this.byStable.values()) {
      if (s.m && s.v) {
        tensors[`${s.name}.exp_avg`] = s.m.clone();
        tensors[`${s.name}.exp_avg_sq`] = s.v.clone();
      }
    }
    return { step: this.t, tensors };
  }

  /** Restores a state from {@link getState}; tensors are copied (the caller keeps ownership). */
  setState(state: AdamWState): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new Error(`AdamW.setState: step must be a non-negative integer, got ${state.step}`);
    const pending = new Map<Slot, { m?: tf.Tensor; v?: tf.Tensor }>();
    for (const [key, t] of Object.entries(state.tensors)) {
      const match = /^(.*)\.(exp_avg|exp_avg_sq)$/.exec(key);
      const slot = match ? this.byStable.get(match[1]) : undefined;
      if (!match || !slot) throw new Error(`AdamW.setState: unknown state tensor '${key}'`);
      if (t.shape.join(',') !== slot.variable.shape.join(',')) {
        throw new Error(`AdamW.setState: '${key}' has shape [${t.shape}], parameter is [${slot.variable.shape}]`);
      }
      const e = pending.get(slot) ?? {};
      if (match[2] === 'exp_avg') e.m = t;
      else e.v = t;
      pending.set(slot, e);
    }
    for (const [slot, e] of pending) {
      if (!e.m || !e.v) throw new Error(`AdamW.setState: '${slot.name}' needs both exp_avg and exp_avg_sq`);
    }
    for (const s of this.byStable.values()) {
      s.m?.dispose();
      s.v?.dispose();
      const e = pending.get(s);
      s.m = e ? tf.tidy(() => tf.cast(e.m!, 'float32').clone()) : null;
      s.v = e ? tf.tidy(() => tf.cast(e.v!, 'float32').clone()) : null;
    }
    this.t = state.step;
  }

  /** Frees the moment tensors. */
  dispose(): void {
    for (const s of this.byStable.values()) {
      s.m?.dispose();
      s.v?.dispose();
      s.m = s.v = null;
    }
  }
}
