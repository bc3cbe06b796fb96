/**
 * LoraAdapter: low-rank adapters on a decoder's projections, y = x·W + s·(dropout(x)·Aᵀ)·Bᵀ,
 * applied through the decoder's linear hooks (model/linear-hooks.ts) — the base weights are
 * untouched, so the reference policy is the same model with the hooks off ({@link
 * LoraAdapter.reference}), not a second copy.
 *
 * Weights are exchanged in PEFT names and layouts (`base_model.model.<module>.lora_A.weight`
 * [r, in], `….lora_B.weight` [out, r]); internally they are stored transposed ([in, r], [r, out])
 * so the forward and backward passes are plain 2-D matmuls, as everywhere in the decoder.
 */
import { tf } from '../backend.js';
import type { DecoderLM } from '../model/decoder.js';
import { linear, recording } from '../model/ops.js';
import { hasLinearHook, setLinearHook, withoutLinearHooks, type LinearHook } from '../model/linear-hooks.js';
import { Rng } from '../rng.js';
import { loraScaling, resolveLoraConfig, type LoraConfig, type ResolvedLoraConfig } from './config.js';
import { selectTargets, type LoraTarget } from './targets.js';

/** PEFT's state-dict prefix for a causal LM (`PeftModelForCausalLM.base_model.model`). */
export const PEFT_PREFIX = 'base_model.model.';

/** PEFT tensor names of a module's two factors. */
export function peftTensorNames(module: string): { a: string; b: string } {
  return { a: `${PEFT_PREFIX}${module}.lora_A.weight`, b: `${PEFT_PREFIX}${module}.lora_B.weight` };
}

interface Factor {
  target: LoraTarget;
  /** Aᵀ [in, r] and Bᵀ [r, out]. */
  a: tf.Variable;
  b: tf.Variable;
}

let adapterCounter = 0;

/** Options of {@link LoraAdapter.create}. */
export interface LoraCreateOptions {
  /** Whether the adapter variables are trainable (default true). */
  trainable?: boolean;
  /** Initial factors by PEFT name (loading); otherwise PEFT's init (A Kaiming-uniform, B = 0). */
  weights?: Record<string, tf.Tensor>;
  /** Where the weights came from, for error messages. */
  source?: string;
}

/** LoRA adapters attached to one DecoderLM. */
export class LoraAdapter {
  /** The validated settings. */
  readonly config: ResolvedLoraConfig;
  /** s in W + s·B·A. */
  readonly scaling: number;
  /** The adapted projections, in model order. */
  readonly targets: readonly LoraTarget[];
  private readonly factors: Factor[] = [];
  /** Variables of each hooked weight key, with their factors in column order. */
  private readonly byKey = new Map<string, { w: tf.Variable; factors: Factor[]; width: number }>();
  private readonly rng: Rng;
  private attachedFlag = false;
  private disposed = false;
  private refView: DecoderLM | null = null;

  private constructor(
    readonly model: DecoderLM,
    config: ResolvedLoraConfig,
    opts: LoraCreateOptions,
  ) {
    this.config = config;
    this.scaling = loraScaling(config);
    this.targets = selectTargets(model.config, config.targetModules);
    this.rng = new Rng(config.seed);
    const weights = opts.weights;
    if (weights) checkWeightNames(weights, this.targets, config.r, opts.source ?? 'adapter weights');
    const initRng = this.rng.fork(1);
    const prefix = `lora${adapterCounter++}`;
    const trainable = opts.trainable ?? true;
    const vars = model.weightVariables();
    for (const t of this.targets) {
      const names = peftTensorNames(t.module);
      let aInit: tf.Tensor;
      let bInit: tf.Tensor;
      if (weights) {
        aInit = tf.tidy(() => tf.transpose(tf.cast(weights[names.a], 'float32')));
        bInit = tf.tidy(() => tf.transpose(tf.cast(weights[names.b], 'float32')));
      } else {
        // PEFT: kaiming_uniform_(A, a=√5) on A [r, in], i.e. U(−1/√in, 1/√in); B = 0.
        const bound = 1 / Math.sqrt(t.in);
        const buf = new Float32Array(t.in * config.r);
        for (let i = 0; i < buf.length; i++) buf[i] = (2 * initRng.next() - 1) * bound;
        aInit = tf.tensor2d(buf, [t.in, config.r]);
        bInit = tf.zeros([config.r, t.out]);
      }
      const f: Factor = {
        target: t,
        a: tf.variable(aInit, trainable, `${prefix}/${names.a}`, 'float32'),
        b: tf.variable(bInit, trainable, `${prefix}/${names.b}`, 'float32'),
      };
      aInit.dispose();
      bInit.dispose();
      this.factors.push(f);
      let entry = this.byKey.get(t.key);
      if (!entry) {
        const w = vars.get(t.key);
        if (!w) throw new Error(`LoraAdapter: the model has no weight '${t.key}'`);
        entry = { w, factors: [], width: w.shape[1]! };
        this.byKey.set(t.key, entry);
      }
      entry.factors.push(f);
    }
    this.attach();
  }

  /**
   * New adapters on `model`'s projections selected by `config.targetModules`, initialised as
   * PEFT does (so the adapted model starts equal to the base) and attached. The model is usually
   * frozen (`trainable: false`): only {@link variables} are then trained.
   */
  static create(model: DecoderLM, config: LoraConfig, opts: Omit<LoraCreateOptions, 'weights'> = {}): LoraAdapter {
    return new LoraAdapter(model, resolveLoraConfig(config), opts);
  }

  /** Adapters with given factors (PEFT names/layouts; see peft.ts for files), attached to `model`. */
  static fromWeights(model: DecoderLM, config: ResolvedLoraConfig, weights: Record<string, tf.Tensor>, opts: Omit<LoraCreateOptions, 'weights'> = {}): LoraAdapter {
    return new LoraAdapter(model, config, { ...opts, weights });
  }

  /** Whether the adapters currently modify the model's forward pass. */
  get attached(): boolean {
    return this.attachedFlag;
  }

  /** Hooks the adapters into the model's projections (done by create). */
  attach(): void {
    this.assertAlive();
    if (this.attachedFlag) return;
    for (const [key, e] of this.byKey) {
      if (hasLinearHook(e.w)) throw new Error(`LoraAdapter: '${key}' already carries another adapter (detach or dispose it first)`);
    }
    for (const [, e] of this.byKey) setLinearHook(e.w, this.hookFor(e.factors, e.width));
    this.attachedFlag = true;
  }

  /** Removes the hooks: the model is the plain base again (the adapter keeps its weights). */
  detach(): void {
    if (!this.attachedFlag) return;
    for (const [, e] of this.byKey) setLinearHook(e.w, null);
    this.attachedFlag = false;
  }

  /** Adapter variables (A then B per module, model order): what an optimizer trains. */
  variables(): tf.Variable[] {
    this.assertAlive();
    return this.factors.flatMap((f) => [f.a, f.b]);
  }

  /** Adapter variables by PEFT tensor name (stable across runs: optimizer state keys). */
  namedVariables(): Map<string, tf.Variable> {
    this.assertAlive();
    const m = new Map<string, tf.Variable>();
    for (const f of this.factors) {
      const n = peftTensorNames(f.target.module);
      m.set(n.a, f.a);
      m.set(n.b, f.b);
    }
    return m;
  }

  /** State of the dropout-mask RNG (for exact resumes); see {@link setRngState}. */
  getRngState(): number[] {
    return this.rng.getState();
  }

  /** Restores what {@link getRngState} returned. */
  setRngState(s: number[]): void {
    this.rng.setState(s);
  }

  /** Number of adapter parameters. */
  numParams(): number {
    return this.factors.reduce((n, f) => n + f.a.size + f.b.size, 0);
  }

  /** Factors by PEFT name in PEFT layout (A [r, in], B [out, r]); fresh tensors the caller disposes. */
  getWeights(): Record<string, tf.Tensor> {
    this.assertAlive();
    const out: Record<string, tf.Tensor> = {};
    for (const f of this.factors) {
      const n = peftTensorNames(f.target.module);
      out[n.a] = tf.transpose(f.a);
      out[n.b] = tf.transpose(f.b);
    }
    return out;
  }

  /** Assigns every factor from PEFT names/layouts (exact names and shapes; the caller keeps `w`). */
  setWeights(w: Record<string, tf.Tensor>, source = 'setWeights'): void {
    this.assertAlive();
    checkWeightNames(w, this.targets, this.config.r, source);
    for (const f of this.factors) {
      const n = peftTensorNames(f.target.module);
      tf.tidy(() => {
        f.a.assign(tf.transpose(tf.cast(w[n.a], 'float32')));
        f.b.assign(tf.transpose(tf.cast(w[n.b], 'float32')));
      });
    }
  }

  /**
   * The base model with the adapters off, sharing its weights (no copy): the reference policy of
   * a LoRA run. Its forward passes run without hooks; it has no trainable variables and its
   * dispose() does nothing (the base belongs to whoever made it).
   */
  reference(): DecoderLM {
    this.assertAlive();
    this.refView ??= adaptersOff(this.model);
    return this.refView;
  }

  /** Detaches the adapters and frees their variables (the base model is not touched). */
  dispose(): void {
    if (this.disposed) return;
    this.detach();
    for (const f of this.factors) {
      f.a.dispose();
      f.b.dispose();
    }
    this.disposed = true;
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('LoraAdapter: used after dispose()');
  }

  /** The hook of one weight: its factors' outputs side by side (zeros for unadapted parts). */
  private hookFor(factors: Factor[], width: number): LinearHook {
    const s = this.scaling;
    const p = this.config.dropout;
    const delta = (f: Factor, x: tf.Tensor2D): tf.Tensor => {
      // PEFT applies dropout in training mode only: here, while gradients are recorded.
      const xd = p > 0 && recording() ? tf.dropout(x, p, undefined, this.rng.nextUint32()) : x;
      return linear(tf.mul(linear(xd, f.a), s), f.b);
    };
    if (factors.length === 1 && factors[0].target.col === 0 && factors[0].target.out === width) return (x) => delta(factors[0], x);
    return (x) => {
      const n = x.shape[0];
      const blocks: tf.Tensor[] = [];
      let col = 0;
      for (const f of factors) {
        if (f.target.col > col) blocks.push(tf.zeros([n, f.target.col - col]));
        blocks.push(delta(f, x));
        col = f.target.col + f.target.out;
      }
      if (col < width) blocks.push(tf.zeros([n, width - col]));
      return tf.concat(blocks, 1);
    };
  }
}

function checkWeightNames(w: Record<string, tf.Tensor>, targets: readonly LoraTarget[], r: number, source: string): void {
  const expected = new Map<string, number[]>();
  for (const t of targets) {
    const n = peftTensorNames(t.module);
    expected.set(n.a, [r, t.in]);
    expected.set(n.b, [t.out, r]);
  }
  for (const name of Object.keys(w)) {
    if (!expected.has(name)) throw new Error(`${source}: unexpected tensor '${name}' (not a LoRA factor of the targeted modules of this model)`);
  }
  for (const [name, shape] of expected) {
    const t = w[name];
    if (!t) throw new Error(`${source}: missing tensor '${name}' (expected shape [${shape}])`);
    if (t.shape.length !== 2 || t.shape[0] !== shape[0] || t.shape[1] !== shape[1]) {
      throw new Error(`${source}: tensor '${name}' has shape [${t.shape}], expected [${shape}]`);
    }
  }
}

/** A view of `model` whose calls run with every linear hook off (see LoraAdapter.reference). */
function adaptersOff(model: DecoderLM): DecoderLM {
  return new Proxy(model, {
    get(target, prop) {
      if (prop === 'dispose') return () => {};
      if (prop === 'variables') return () => [];
      if (prop === 'namedVariables') return () => new Map();
      if (prop === 'trainable') return false;
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => withoutLinearHooks(() => (v as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
}

/** Runs `f` with every adapter off (synchronously). */
export function withAdaptersOff<T>(f: () => T): T {
  return withoutLinearHooks(f);
}
