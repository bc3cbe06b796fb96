/**
 * DecoderLM: a GPT-2 / Llama decoder-only language model on tfjs, in one readable file.
 *
 *   ids ─ embed (+ learned positions for gpt2) ─┬─ nLayers × [ x += attn(norm(x)); x += mlp(norm(x)) ]
 *                                               └─ final norm ─ hidden() ─ head ─ forward() logits
 *
 * Internally every projection is stored [in, out] (fused QKV and gate/up for llama) and applied
 * with `linear` from ops.ts so all matmuls are plain 2-D ones — the fast path on wasm. Weights are
 * exchanged in Hugging Face names and layouts through getWeights/setWeights (see params.ts).
 */
import { tf } from '../backend.js';
import { Rng } from '../rng.js';
import type { ModelConfig } from '../types.js';
import { resolveConfig } from './config.js';
import { KVCache } from './kv-cache.js';
import { geluTanh, layerNorm, recording, rmsNorm, silu } from './ops.js';
// linear with adapter hooks (LoRA) and a dx-only backward pass for frozen weights.
import { hasLinearHook, linear, markConstant } from './linear-hooks.js';
import {
  decodeLayerAvailable,
  gpt2DecodeLayer,
  llamaDecodeLayer,
  registerDecodeLayerKernel,
  type Gpt2BlockWeights,
  type LlamaBlockWeights,
} from '../kernels/decode-layer.js';
import {
  fusedAddNorm,
  fusedAvailable,
  fusedDecodeAttn,
  fusedEmbed,
  fusedNorm,
  registerFusedKernels,
} from '../kernels/fused.js';
import { hfShape, paramSpecs, type ParamSpec } from './params.js';
import { causalBias, attend, groupedBias, RopeTables } from './attention.js';

export { KVCache };

registerFusedKernels();
registerDecodeLayerKernel();

/** Options of {@link DecoderLM.forward} / {@link DecoderLM.hidden}. */
export interface ForwardOptions {
  /**
   * Past keys/values; the new ones are appended to it (for inference: the cache replaces and
   * disposes its tensors as it grows, so do not use one under tf.variableGrads).
   */
  cache?: KVCache;
  /** int32 [B, T] position of each token (default Tpast..Tpast+T-1). */
  positions?: tf.Tensor2D;
  /** [B, Tpast+T]: 1 = attend to this key, 0 = padding key. Causal masking always applies too. */
  attentionMask?: tf.Tensor2D;
}

/** Options of the DecoderLM constructor. */
export interface DecoderOptions {
  /** Seed of the weight initialisation (default 0). */
  seed?: number;
  /** Whether the weights are trainable (default true). Frozen models expose no variables(). */
  trainable?: boolean;
  /** 'zeros' skips the random initialisation (weights about to be loaded); default 'random'. */
  init?: 'random' | 'zeros';
}

let instanceCounter = 0;
const FROM_TENSORS = Symbol('fromTensors');

/** GPT-2 (LayerNorm, learned positions, GELU) or Llama (RMSNorm, RoPE, SwiGLU, GQA) decoder. */
export class DecoderLM {
  /** The config with every default filled in. */
  readonly config: Required<ModelConfig>;
  /** Whether the weights are trainable tf.Variables seen by variableGrads/optimizers. */
  readonly trainable: boolean;
  private readonly specs: ParamSpec[];
  private readonly params = new Map<string, tf.Variable>();
  private readonly rope: RopeTables | null;
  private readonly headDim: number;
  /** Inference-time transpose of a tied embedding ([D, V]) and the weight data it was made from. */
  private headT: { src: object; t: tf.Tensor } | null = null;
  private disposed = false;

  constructor(config: ModelConfig, opts: DecoderOptions & { [FROM_TENSORS]?: Map<string, tf.Tensor> } = {}) {
    this.config = resolveConfig(config);
    this.trainable = opts.trainable ?? true;
    this.specs = paramSpecs(this.config);
    this.headDim = this.config.headDim;
    const prefix = `falign${instanceCounter++}`;
    const given = opts[FROM_TENSORS];
    const rng = new Rng(opts.seed ?? 0);
    const std = 0.02;
    const residualStd = 0.02 / Math.sqrt(2 * this.config.nLayers);
    for (const s of this.specs) {
      let init: tf.Tensor;
      const src = given?.get(s.key);
      if (src) init = src;
      else if (s.init === 'zeros' || opts.init === 'zeros') init = tf.zeros(s.shape);
      else if (s.init === 'ones') init = tf.ones(s.shape);
      else {
        const sd = s.init === 'residual' ? residualStd : std;
        const n = s.shape.reduce((a, b) => a * b, 1);
        const buf = new Float32Array(n);
        for (let i = 0; i < n; i++) buf[i] = rng.normal() * sd;
        init = tf.tensor(buf, s.shape, 'float32');
      }
      this.params.set(s.key, tf.variable(init, this.trainable, `${prefix}/${s.key}`, 'float32'));
      if (!src) init.dispose();
    }
    this.rope =
      this.config.arch === 'llama'
        ? new RopeTables(this.config.maxSeqLen, this.headDim, this.config.ropeTheta, this.config.ropeScaling)
        : null;
    // Made eagerly so that the tensor count stays constant across inference calls (it is only
    // replaced, one for one, when the weights change).
    if (this.config.tieEmbeddings) this.tiedHeadWeight();
  }

  /** Trainable variables in a stable order (empty for a frozen model). */
  variables(): tf.Variable[] {
    this.assertAlive();
    return this.trainable ? [...this.params.values()] : [];
  }

  /**
   * Trainable variables by stable internal key (HF names, except the fused llama projections
   * `...self_attn.qkv` and `...mlp.gate_up`), in the order of variables(); empty when frozen.
   * Owned by the model: do not dispose. For optimizer state names and weight-decay masks.
   */
  namedVariables(): Map<string, tf.Variable> {
    this.assertAlive();
    return this.trainable ? new Map(this.params) : new Map();
  }

  /**
   * Every weight variable by internal key, trainable or not (owned by the model: do not dispose).
   * For adapters (lora/), which hook the projections of a frozen model.
   */
  weightVariables(): Map<string, tf.Variable> {
    this.assertAlive();
    return new Map(this.params);
  }

  /** Number of parameters (trainable or not). */
  numParams(): number {
    let n = 0;
    for (const v of this.params.values()) n += v.size;
    return n;
  }

  /** Creates an empty KV cache for `batchSize` rows. */
  createCache(batchSize: number): KVCache {
    return new KVCache(this.config.nLayers, batchSize);
  }

  /**
   * All weights by Hugging Face name in Hugging Face layout (nn.Linear [out, in]; GPT-2 Conv1D
   * [in, out]). Returns fresh tensors: the caller owns and disposes them. A tied head has no
   * `lm_head.weight` entry.
   */
  getWeights(): Record<string, tf.Tensor> {
    this.assertAlive();
    const out: Record<string, tf.Tensor> = {};
    for (const s of this.specs) {
      const v = this.params.get(s.key)!;
      if (s.parts.length === 1 && (s.shape.length === 1 || !s.parts[0].transposed)) {
        out[s.parts[0].name] = v.clone();
        continue;
      }
      let col = 0;
      for (const part of s.parts) {
        const start = col;
        out[part.name] = tf.tidy(() => {
          if (s.shape.length === 1) return tf.slice(v, [start], [part.cols]);
          const block = s.parts.length === 1 ? v : tf.slice(v, [0, start], [s.shape[0], part.cols]);
          return part.transposed ? tf.transpose(block) : block.clone();
        });
        col += part.cols;
      }
    }
    return out;
  }

  /** Expected weight names and HF shapes (what getWeights returns / setWeights accepts). */
  weightShapes(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const s of this.specs) for (const p of s.parts) out[p.name] = hfShape(s, p);
    return out;
  }

  /**
   * Assigns all weights from Hugging Face names/layouts. Every expected name must be present with
   * its exact shape; unknown names are an error too. The caller keeps ownership of `w`.
   * `partial: true` assigns a subset (for loading tensor by tensor): only the internal parameters
   * whose HF parts are all present are assigned, and a parameter with only some parts is an error.
   */
  setWeights(w: Record<string, tf.Tensor>, opts: { partial?: boolean } = {}): void {
    this.assertAlive();
    const all = this.weightShapes();
    const specs = opts.partial ? this.specs.filter((s) => s.parts.some((p) => p.name in w)) : this.specs;
    const expected: Record<string, number[]> = {};
    for (const s of specs) for (const p of s.parts) expected[p.name] = all[p.name];
    for (const name of Object.keys(w)) {
      if (!(name in expected)) {
        const hint = name === 'lm_head.weight' && this.config.tieEmbeddings ? ' (the head is tied to the embedding)' : '';
        throw new Error(`setWeights: unexpected tensor '${name}'${hint}`);
      }
    }
    for (const [name, shape] of Object.entries(expected)) {
      const t = w[name];
      if (t === undefined) throw new Error(`setWeights: missing tensor '${name}' (expected shape [${shape}])`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`setWeights: tensor '${name}' has shape [${t.shape}], expected [${shape}]`);
      }
    }
    for (const s of specs) {
      const v = this.params.get(s.key)!;
      tf.tidy(() => {
        const blocks = s.parts.map((p) => {
          const t = tf.cast(w[p.name], 'float32');
          return p.transposed ? tf.transpose(t) : t;
        });
        v.assign(blocks.length === 1 ? blocks[0] : tf.concat(blocks, s.shape.length === 1 ? 0 : 1));
      });
    }
  }

  /** A copy with the same weights; `trainable: false` gives a frozen reference model. */
  clone(opts: { trainable?: boolean } = {}): DecoderLM {
    this.assertAlive();
    return new DecoderLM(this.config, {
      trainable: opts.trainable ?? this.trainable,
      [FROM_TENSORS]: new Map<string, tf.Tensor>(this.params),
    });
  }

  /** Frees all weights. */
  dispose(): void {
    if (this.disposed) return;
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
    this.headT?.t.dispose();
    this.headT = null;
    this.rope?.dispose();
    this.disposed = true;
  }

  /** Logits [B, T, V] (float32) for int32 ids [B, T]. */
  forward(ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, T] = ids.shape;
      const h = this.body(ids, opts);
      return tf.reshape(this.head(h), [B, T, this.config.vocabSize]) as tf.Tensor3D;
    });
  }

  /** Final-normed hidden states [B, T, D] (forward = head(hidden)); for reward models. */
  hidden(ids: tf.Tensor2D, opts: ForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => {
      const [B, T] = ids.shape;
      return tf.reshape(this.body(ids, opts), [B, T, this.config.dModel]) as tf.Tensor3D;
    });
  }

  /** Output projection of 2-D hidden states [N, D] → logits [N, V]. */
  head(h: tf.Tensor): tf.Tensor {
    const c = this.config;
    if (!c.tieEmbeddings) return linear(h, this.p('lm_head.weight'));
    // A frozen model's head needs no gradient: its cached transpose is a constant (no [D, V] dW).
    if (!recording() || !this.trainable) return linear(h, this.tiedHeadWeight());
    const emb = this.p(c.arch === 'gpt2' ? 'transformer.wte.weight' : 'model.embed_tokens.weight');
    return linear(h, tf.transpose(emb));
  }

  /** The tied embedding transposed to [D, V], cached while the embedding's data is unchanged. */
  private tiedHeadWeight(): tf.Tensor {
    const emb = this.p(this.config.arch === 'gpt2' ? 'transformer.wte.weight' : 'model.embed_tokens.weight');
    if (this.headT === null || this.headT.src !== emb.dataId) {
      const t = tf.keep(tf.transpose(emb));
      markConstant(t);
      this.headT?.t.dispose();
      this.headT = { src: emb.dataId, t };
    }
    return this.headT.t;
  }

  /** The fused q/k/v bias of a layer (Qwen2), or undefined. */
  private qkvBias(pre: string): tf.Variable | undefined {
    return this.config.qkvBias ? this.p(`${pre}.self_attn.qkv_bias`) : undefined;
  }

  /** Per-head RMSNorm of queries or keys [B, T, n, hd] (Qwen3), identity without qkNorm. */
  private qkNormed(pre: string, which: 'q' | 'k', x: tf.Tensor): tf.Tensor {
    if (!this.config.qkNorm) return x;
    const hd = this.headDim;
    return tf.reshape(rmsNorm(tf.reshape(x, [-1, hd]), this.p(`${pre}.self_attn.${which}_norm.weight`), this.config.normEps), x.shape);
  }

  private p(key: string): tf.Variable {
    const v = this.params.get(key);
    if (v === undefined) throw new Error(`DecoderLM: no parameter '${key}'`);
    return v;
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('DecoderLM: used after dispose()');
  }

  private validate(ids: tf.Tensor2D, opts: ForwardOptions): { B: number; T: number; past: number } {
    this.assertAlive();
    if (ids.rank !== 2) throw new Error(`DecoderLM.forward: ids must be [B, T], got shape [${ids.shape}]`);
    if (ids.dtype !== 'int32') throw new Error(`DecoderLM.forward: ids must be int32, got ${ids.dtype}`);
    const [B, T] = ids.shape;
    if (T === 0) throw new Error('DecoderLM.forward: ids has no positions (T = 0)');
    const past = opts.cache?.length ?? 0;
    if (opts.cache) {
      if (opts.cache.batchSize !== B) throw new Error(`DecoderLM.forward: cache was created for batch ${opts.cache.batchSize}, ids have batch ${B}`);
      if (opts.cache.nLayers !== this.config.nLayers) throw new Error(`DecoderLM.forward: cache has ${opts.cache.nLayers} layers, model has ${this.config.nLayers}`);
    }
    if (opts.positions) {
      const ps = opts.positions.shape;
      if (ps.length !== 2 || ps[0] !== B || ps[1] !== T) throw new Error(`DecoderLM.forward: positions must be [${B}, ${T}], got [${ps}]`);
      if (opts.positions.dtype !== 'int32') throw new Error(`DecoderLM.forward: positions must be int32, got ${opts.positions.dtype}`);
    } else if (past + T > this.config.maxSeqLen) {
      throw new Error(`DecoderLM.forward: sequence length ${past + T} exceeds maxSeqLen ${this.config.maxSeqLen}`);
    }
    if (opts.attentionMask) {
      const ms = opts.attentionMask.shape;
      if (ms.length !== 2 || ms[0] !== B || ms[1] !== past + T) {
        throw new Error(`DecoderLM.forward: attentionMask must be [${B}, ${past + T}] (batch, past + new positions), got [${ms}]`);
      }
    }
    return { B, T, past };
  }

  /** Hidden states [B·T, D] after the final norm: fused kernels at inference where available. */
  private body(ids: tf.Tensor2D, opts: ForwardOptions): tf.Tensor {
    // q/k norms sit between the projection and RoPE, inside the fused decode kernel's span.
    return !recording() && fusedAvailable() && !this.config.qkNorm ? this.runFused(ids, opts) : this.run(ids, opts);
  }

  /**
   * The decoder body at inference with the fused kernels of kernels/fused.ts (same math as
   * {@link run}): embeddings in one kernel, residual adds fused into one kernel per norm, and for
   * one-token steps a single attention kernel that appends to the cache's buffers in place.
   */
  private runFused(ids: tf.Tensor2D, opts: ForwardOptions): tf.Tensor {
    const { B, T, past } = this.validate(ids, opts);
    const c = this.config;
    const hd = this.headDim;
    const H = c.nHeads;
    const Hkv = c.nKvHeads;
    const eps = c.normEps;
    const cache = opts.cache;
    const gpt = c.arch === 'gpt2';
    const flatIds = tf.reshape(ids, [B * T]);
    const flatPos = opts.positions ? tf.reshape(opts.positions, [B * T]) : null;
    const decode = T === 1;

    let attention: (layer: number, qkv: tf.Tensor) => tf.Tensor;
    if (decode) {
      const m = opts.attentionMask;
      const mask = m ? (m.dtype === 'float32' || m.dtype === 'int32' ? m : tf.cast(m, 'float32')) : null;
      const rope = this.rope ? { ...this.rope.tables(), pos: flatPos } : null;
      attention = (layer, qkv) => {
        // The kernel appends the new key/value in place: to the cache's buffers, or to scratch.
        const buf = cache ? cache.buffer(layer, past + 1, [B, Hkv, hd]) : { k: tf.zeros([B, Hkv, 1, hd]), v: tf.zeros([B, Hkv, 1, hd]) };
        const a = fusedDecodeAttn(qkv, buf.k, buf.v, mask, rope, { H, Hkv, hd, past });
        cache?.wrote(layer, past + 1);
        return a;
      };
    } else {
      const bias = groupedBias(causalBias(B, T, past, opts.attentionMask), H / Hkv);
      const toHeads = (x: tf.Tensor, n: number) => tf.transpose(tf.reshape(x, [B, T, n, hd]), [0, 2, 1, 3]);
      const fromHeads = (x: tf.Tensor) => tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [B * T, H * hd]);
      const withCache = (layer: number, k: tf.Tensor, v: tf.Tensor) => {
        if (!cache) return { k, v };
        const prev = cache.get(layer);
        const kAll = (prev ? tf.concat([prev.k, k], 2) : k) as tf.Tensor4D;
        const vAll = (prev ? tf.concat([prev.v, v], 2) : v) as tf.Tensor4D;
        cache.set(layer, kAll, vAll);
        return { k: kAll, v: vAll };
      };
      const rope = this.rope;
      const cs = rope ? rope.at(B, T, past, opts.positions) : null;
      attention = (layer, qkv) => {
        const [q, k, v] = tf.split(qkv, [H * hd, Hkv * hd, Hkv * hd], 1);
        let qh: tf.Tensor;
        let kh: tf.Tensor;
        if (rope && cs) {
          qh = tf.transpose(rope.apply(tf.reshape(q, [B, T, H, hd]), cs.cos, cs.sin), [0, 2, 1, 3]);
          kh = tf.transpose(rope.apply(tf.reshape(k, [B, T, Hkv, hd]), cs.cos, cs.sin), [0, 2, 1, 3]);
        } else {
          qh = toHeads(q, H);
          kh = toHeads(k, Hkv);
        }
        const kv = withCache(layer, kh, toHeads(v, Hkv));
        return fromHeads(attend(qh, kv.k, kv.v, bias));
      };
    }

    const norm = (x: tf.Tensor, pending: tf.Tensor | null, g: string, b: string | null): [tf.Tensor, tf.Tensor] => {
      const gamma = this.p(g);
      const beta = b === null ? null : this.p(b);
      return pending ? fusedAddNorm(x, pending, gamma, beta, eps) : [x, fusedNorm(x, gamma, beta, eps)];
    };
    let x: tf.Tensor;
    let pending: tf.Tensor | null = null;
    let h: tf.Tensor;
    if (gpt) {
      x = fusedEmbed(flatIds, this.p('transformer.wte.weight'), this.p('transformer.wpe.weight'), flatPos, past, T);
      const decodeMask = decode ? (opts.attentionMask ?? null) : null;
      for (let i = 0; i < c.nLayers; i++) {
        const pre = `transformer.h.${i}`;
        // One dispatch per block when decoding (kernels/decode-layer.ts); not with adapter hooks.
        if (decode && decodeLayerAvailable(decodeMask) && !this.blockHooked(pre)) {
          const buf = cache ? cache.buffer(i, past + 1, [B, Hkv, hd]) : { k: tf.zeros([B, Hkv, 1, hd]), v: tf.zeros([B, Hkv, 1, hd]) };
          [x, pending] = gpt2DecodeLayer(x, pending, this.gpt2Block(pre), buf.k, buf.v, decodeMask, { eps, H, Hkv, hd, past });
          cache?.wrote(i, past + 1);
          continue;
        }
        [x, h] = norm(x, pending, `${pre}.ln_1.weight`, `${pre}.ln_1.bias`);
        const a = attention(i, linear(h, this.p(`${pre}.attn.c_attn.weight`), this.p(`${pre}.attn.c_attn.bias`)));
        [x, h] = norm(x, linear(a, this.p(`${pre}.attn.c_proj.weight`), this.p(`${pre}.attn.c_proj.bias`)), `${pre}.ln_2.weight`, `${pre}.ln_2.bias`);
        const m = geluTanh(linear(h, this.p(`${pre}.mlp.c_fc.weight`), this.p(`${pre}.mlp.c_fc.bias`)));
        pending = linear(m, this.p(`${pre}.mlp.c_proj.weight`), this.p(`${pre}.mlp.c_proj.bias`));
      }
      if (cache) cache.advance(T);
      return norm(x, pending, 'transformer.ln_f.weight', 'transformer.ln_f.bias')[1];
    }
    x = fusedEmbed(flatIds, this.p('model.embed_tokens.weight'), null, null, past, T);
    const decodeMask = decode ? (opts.attentionMask ?? null) : null;
    for (let i = 0; i < c.nLayers; i++) {
      const pre = `model.layers.${i}`;
      // One dispatch per block when decoding (kernels/decode-layer.ts); not with adapter hooks.
      if (decode && this.rope && decodeLayerAvailable(decodeMask) && !this.blockHooked(pre)) {
        const buf = cache ? cache.buffer(i, past + 1, [B, Hkv, hd]) : { k: tf.zeros([B, Hkv, 1, hd]), v: tf.zeros([B, Hkv, 1, hd]) };
        const rope = { ...this.rope.tables(), pos: flatPos };
        [x, pending] = llamaDecodeLayer(x, pending, this.llamaBlock(pre), buf.k, buf.v, decodeMask, rope, { eps, H, Hkv, hd, past });
        cache?.wrote(i, past + 1);
        continue;
      }
      [x, h] = norm(x, pending, `${pre}.input_layernorm.weight`, null);
      const a = attention(i, linear(h, this.p(`${pre}.self_attn.qkv`), this.qkvBias(pre)));
      [x, h] = norm(x, linear(a, this.p(`${pre}.self_attn.o_proj.weight`)), `${pre}.post_attention_layernorm.weight`, null);
      const [g, u] = tf.split(linear(h, this.p(`${pre}.mlp.gate_up`)), 2, 1);
      pending = linear(tf.mul(silu(g), u), this.p(`${pre}.mlp.down_proj.weight`));
    }
    if (cache) cache.advance(T);
    return norm(x, pending, 'model.norm.weight', null)[1];
  }

  /** Weights of GPT-2 block `pre` for the one-dispatch decoding kernel. */
  private gpt2Block(pre: string): Gpt2BlockWeights {
    return {
      ln1g: this.p(`${pre}.ln_1.weight`),
      ln1b: this.p(`${pre}.ln_1.bias`),
      attnW: this.p(`${pre}.attn.c_attn.weight`),
      attnB: this.p(`${pre}.attn.c_attn.bias`),
      projW: this.p(`${pre}.attn.c_proj.weight`),
      projB: this.p(`${pre}.attn.c_proj.bias`),
      ln2g: this.p(`${pre}.ln_2.weight`),
      ln2b: this.p(`${pre}.ln_2.bias`),
      fcW: this.p(`${pre}.mlp.c_fc.weight`),
      fcB: this.p(`${pre}.mlp.c_fc.bias`),
      mlpW: this.p(`${pre}.mlp.c_proj.weight`),
      mlpB: this.p(`${pre}.mlp.c_proj.bias`),
    };
  }

  /** Weights of Llama block `pre` for the one-dispatch decoding kernel. */
  private llamaBlock(pre: string): LlamaBlockWeights {
    return {
      ln1: this.p(`${pre}.input_layernorm.weight`),
      qkvW: this.p(`${pre}.self_attn.qkv`),
      qkvB: this.qkvBias(pre),
      oW: this.p(`${pre}.self_attn.o_proj.weight`),
      ln2: this.p(`${pre}.post_attention_layernorm.weight`),
      guW: this.p(`${pre}.mlp.gate_up`),
      downW: this.p(`${pre}.mlp.down_proj.weight`),
    };
  }

  /** Whether any projection of block `pre` (GPT-2 or Llama) has a linear hook (an adapter). */
  private blockHooked(pre: string): boolean {
    const names =
      this.config.arch === 'gpt2'
        ? ['attn.c_attn.weight', 'attn.c_proj.weight', 'mlp.c_fc.weight', 'mlp.c_proj.weight']
        : ['self_attn.qkv', 'self_attn.o_proj.weight', 'mlp.gate_up', 'mlp.down_proj.weight'];
    return names.some((n) => hasLinearHook(this.p(`${pre}.${n}`)));
  }

  /** The decoder body: hidden states [B·T, D] after the final norm. */
  private run(ids: tf.Tensor2D, opts: ForwardOptions): tf.Tensor {
    const { B, T, past } = this.validate(ids, opts);
    const c = this.config;
    const D = c.dModel;
    const hd = this.headDim;
    const H = c.nHeads;
    const Hkv = c.nKvHeads;
    const flatIds = tf.reshape(ids, [B * T]);
    const bias = groupedBias(causalBias(B, T, past, opts.attentionMask), H / Hkv);
    const cache = opts.cache;

    // Splits a fused [N, n·hd] projection slice into heads: [B, n, T, hd] (and back). With one
    // position (decoding) the transpose moves nothing, so a reshape does (one kernel less each).
    const toHeads = (x: tf.Tensor, n: number) =>
      T === 1 ? tf.reshape(x, [B, n, 1, hd]) : tf.transpose(tf.reshape(x, [B, T, n, hd]), [0, 2, 1, 3]);
    const fromHeads = (x: tf.Tensor) => (T === 1 ? tf.reshape(x, [B, H * hd]) : tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [B * T, H * hd]));
    const bthdToHeads = (x: tf.Tensor) => (T === 1 ? tf.reshape(x, [B, x.shape[2]!, 1, hd]) : tf.transpose(x, [0, 2, 1, 3]));
    const withCache = (layer: number, k: tf.Tensor, v: tf.Tensor) => {
      if (!cache) return { k, v };
      const prev = cache.get(layer);
      const kAll = (prev ? tf.concat([prev.k, k], 2) : k) as tf.Tensor4D;
      const vAll = (prev ? tf.concat([prev.v, v], 2) : v) as tf.Tensor4D;
      cache.set(layer, kAll, vAll);
      return { k: kAll, v: vAll };
    };

    let x: tf.Tensor;
    if (c.arch === 'gpt2') {
      const tok = tf.gather(this.p('transformer.wte.weight'), flatIds);
      const wpe = this.p('transformer.wpe.weight');
      if (opts.positions) {
        x = tf.add(tok, tf.gather(wpe, tf.reshape(opts.positions, [B * T])));
      } else {
        const pos = tf.slice(wpe, [past, 0], [T, D]);
        x = tf.reshape(tf.add(tf.reshape(tok, [B, T, D]), pos), [B * T, D]);
      }
      for (let i = 0; i < c.nLayers; i++) {
        const pre = `transformer.h.${i}`;
        const h1 = layerNorm(x, this.p(`${pre}.ln_1.weight`), this.p(`${pre}.ln_1.bias`), c.normEps);
        const qkv = linear(h1, this.p(`${pre}.attn.c_attn.weight`), this.p(`${pre}.attn.c_attn.bias`));
        const [q, k, v] = tf.split(qkv, 3, 1);
        const kv = withCache(i, toHeads(k, H), toHeads(v, H));
        const a = fromHeads(attend(toHeads(q, H), kv.k, kv.v, bias));
        x = tf.add(x, linear(a, this.p(`${pre}.attn.c_proj.weight`), this.p(`${pre}.attn.c_proj.bias`)));
        const h2 = layerNorm(x, this.p(`${pre}.ln_2.weight`), this.p(`${pre}.ln_2.bias`), c.normEps);
        const m = geluTanh(linear(h2, this.p(`${pre}.mlp.c_fc.weight`), this.p(`${pre}.mlp.c_fc.bias`)));
        x = tf.add(x, linear(m, this.p(`${pre}.mlp.c_proj.weight`), this.p(`${pre}.mlp.c_proj.bias`)));
      }
      if (cache) cache.advance(T);
      return layerNorm(x, this.p('transformer.ln_f.weight'), this.p('transformer.ln_f.bias'), c.normEps);
    }

    const rope = this.rope!;
    const { cos, sin } = rope.at(B, T, past, opts.positions); // [B|1, T, 1, hd]
    x = tf.gather(this.p('model.embed_tokens.weight'), flatIds);
    for (let i = 0; i < c.nLayers; i++) {
      const pre = `model.layers.${i}`;
      const h1 = rmsNorm(x, this.p(`${pre}.input_layernorm.weight`), c.normEps);
      const qkv = linear(h1, this.p(`${pre}.self_attn.qkv`), this.qkvBias(pre));
      const [q, k, v] = tf.split(qkv, [H * hd, Hkv * hd, Hkv * hd], 1);
      const qr = rope.apply(this.qkNormed(pre, 'q', tf.reshape(q, [B, T, H, hd])), cos, sin);
      const kr = rope.apply(this.qkNormed(pre, 'k', tf.reshape(k, [B, T, Hkv, hd])), cos, sin);
      const kv = withCache(i, bthdToHeads(kr), toHeads(v, Hkv));
      const a = fromHeads(attend(bthdToHeads(qr), kv.k, kv.v, bias));
      x = tf.add(x, linear(a, this.p(`${pre}.self_attn.o_proj.weight`)));
      const h2 = rmsNorm(x, this.p(`${pre}.post_attention_layernorm.weight`), c.normEps);
      const gu = linear(h2, this.p(`${pre}.mlp.gate_up`));
      const [g, u] = tf.split(gu, 2, 1);
      x = tf.add(x, linear(tf.mul(silu(g), u), this.p(`${pre}.mlp.down_proj.weight`)));
    }
    if (cache) cache.advance(T);
    return rmsNorm(x, this.p('model.norm.weight'), c.normEps);
  }
}
