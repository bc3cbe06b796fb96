/**
 * `FalignGpt2DecodeLayer` / `FalignLlamaDecodeLayer`: one decoder block for one new position per
 * row (KV-cache decoding) as a single engine dispatch on wasm. It chains the kernels the op-by-op fused path runs —
 * FalignNorm (residual add + LayerNorm), FalignLinear, FalignDecodeAttn, FalignGelu — by calling
 * their kernel functions directly on TensorInfos, so the arithmetic is identical and only the
 * engine's per-op bookkeeping (≈10–20 µs per op, 8 ops per block) is saved.
 *
 * Inputs: x [B, D], optional pending [B, D] (the previous block's MLP output, added first), the
 * block's weights, the cache's capacity buffers kBuf/vBuf, optional mask [B, past + 1].
 * Outputs: [x', pending'] with x' = x (+ pending) + attn(…) and pending' = mlp(norm(x')).
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedEnabled } from './switch.js';

type Info = tf.TensorInfo;
type WasmBackend = tf.KernelBackend & { disposeData(dataId: object, force?: boolean): boolean };

/** Weights of one GPT-2 block in falign's [in, out] layout. */
export interface Gpt2BlockWeights {
  ln1g: tf.Tensor;
  ln1b: tf.Tensor;
  attnW: tf.Tensor;
  attnB: tf.Tensor;
  projW: tf.Tensor;
  projB: tf.Tensor;
  ln2g: tf.Tensor;
  ln2b: tf.Tensor;
  fcW: tf.Tensor;
  fcB: tf.Tensor;
  mlpW: tf.Tensor;
  mlpB: tf.Tensor;
}

function run(name: string, be: WasmBackend, inputs: Record<string, Info | undefined>, attrs: Record<string, unknown>): Info | Info[] {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`FalignGpt2DecodeLayer: kernel ${name} is not registered for wasm`);
  const clean: Record<string, Info> = {};
  for (const [key, v] of Object.entries(inputs)) if (v) clean[key] = v;
  return k.kernelFunc({ inputs: clean, backend: be, attrs: attrs as unknown as tf.NamedAttrMap }) as Info | Info[];
}

const one = (r: Info | Info[]): Info => (Array.isArray(r) ? r[0] : r);

function layerKernel({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): Info[] {
  const be = backend as WasmBackend;
  const i = inputs as Record<string, Info | undefined>;
  const { eps, H, Hkv, hd, past } = attrs as unknown as { eps: number; H: number; Hkv: number; hd: number; past: number };
  const free = (...ts: Info[]) => ts.forEach((t) => be.disposeData(t.dataId, true));
  const normAttrs = { eps, rms: false };
  let xs: Info;
  let h: Info;
  if (i.pending) {
    [xs, h] = run('FalignNorm', be, { x: i.x, r: i.pending, gamma: i.ln1g, beta: i.ln1b }, normAttrs) as Info[];
  } else {
    xs = i.x!;
    h = one(run('FalignNorm', be, { x: i.x, gamma: i.ln1g, beta: i.ln1b }, normAttrs));
  }
  const qkv = one(run('FalignLinear', be, { x: h, w: i.attnW, bias: i.attnB }, {}));
  free(h);
  const a = one(run('FalignDecodeAttn', be, { qkv, kBuf: i.kBuf, vBuf: i.vBuf, mask: i.mask }, { H, Hkv, hd, past }));
  free(qkv);
  const proj = one(run('FalignLinear', be, { x: a, w: i.projW, bias: i.projB }, {}));
  free(a);
  const [x2, h2] = run('FalignNorm', be, { x: xs, r: proj, gamma: i.ln2g, beta: i.ln2b }, normAttrs) as Info[];
  free(proj);
  if (i.pending) free(xs);
  const f = one(run('FalignLinear', be, { x: h2, w: i.fcW, bias: i.fcB }, {}));
  free(h2);
  const g = one(run('FalignGelu', be, { x: f }, { gate: false }));
  free(f);
  const p2 = one(run('FalignLinear', be, { x: g, w: i.mlpW, bias: i.mlpB }, {}));
  free(g);
  return [x2, p2];
}

/** Weights of one Llama block in falign's [in, out] layout (fused QKV and gate/up). */
export interface LlamaBlockWeights {
  ln1: tf.Tensor;
  qkvW: tf.Tensor;
  qkvB?: tf.Tensor;
  oW: tf.Tensor;
  ln2: tf.Tensor;
  guW: tf.Tensor;
  downW: tf.Tensor;
}

function llamaLayerKernel({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): Info[] {
  const be = backend as WasmBackend;
  const i = inputs as Record<string, Info | undefined>;
  const { eps, H, Hkv, hd, past } = attrs as unknown as { eps: number; H: number; Hkv: number; hd: number; past: number };
  const free = (...ts: Info[]) => ts.forEach((t) => be.disposeData(t.dataId, true));
  const normAttrs = { eps, rms: true };
  let xs: Info;
  let h: Info;
  if (i.pending) {
    [xs, h] = run('FalignNorm', be, { x: i.x, r: i.pending, gamma: i.ln1 }, normAttrs) as Info[];
  } else {
    xs = i.x!;
    h = one(run('FalignNorm', be, { x: i.x, gamma: i.ln1 }, normAttrs));
  }
  const qkv = one(run('FalignLinear', be, { x: h, w: i.qkvW, bias: i.qkvB }, {}));
  free(h);
  const a = one(run('FalignDecodeAttn', be, { qkv, kBuf: i.kBuf, vBuf: i.vBuf, mask: i.mask, cos: i.cos, sin: i.sin, pos: i.pos }, { H, Hkv, hd, past }));
  free(qkv);
  const o = one(run('FalignLinear', be, { x: a, w: i.oW }, {}));
  free(a);
  const [x2, h2] = run('FalignNorm', be, { x: xs, r: o, gamma: i.ln2 }, normAttrs) as Info[];
  free(o);
  if (i.pending) free(xs);
  const gu = one(run('FalignLinear', be, { x: h2, w: i.guW }, {}));
  free(h2);
  // SwiGLU with the op path's native kernels: silu(g)·u = (g·σ(g))·u on the two column halves.
  const [rows, twoI] = gu.shape;
  const I = twoI / 2;
  const g = one(run('Slice', be, { x: gu }, { begin: [0, 0], size: [rows, I] }));
  const u = one(run('Slice', be, { x: gu }, { begin: [0, I], size: [rows, I] }));
  free(gu);
  const sg = one(run('Sigmoid', be, { x: g }, {}));
  const silu = one(run('Multiply', be, { a: g, b: sg }, {}));
  free(g, sg);
  const act = one(run('Multiply', be, { a: silu, b: u }, {}));
  free(silu, u);
  const p2 = one(run('FalignLinear', be, { x: act, w: i.downW }, {}));
  free(act);
  return [x2, p2];
}

let registered = false;

/** Registers FalignGpt2DecodeLayer for wasm (idempotent). */
export function registerDecodeLayerKernel(): void {
  if (registered) return;
  registered = true;
  for (const [kernelName, kernelFunc] of [
    ['FalignGpt2DecodeLayer', layerKernel],
    ['FalignLlamaDecodeLayer', llamaLayerKernel],
  ] as const) {
    if (tf.getKernel(kernelName, 'wasm') === undefined) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as tf.KernelFunc });
  }
}

/** Whether the one-dispatch decoding block runs on the active backend (wasm, float32 mask or none). */
export function decodeLayerAvailable(mask: tf.Tensor | null): boolean {
  return fusedEnabled() && tf.engine().backendName === 'wasm' && (mask === null || mask.dtype === 'float32' || mask.dtype === 'int32');
}

/** [x', pending'] of one GPT-2 block for one position per row (see the module comment). */
export function gpt2DecodeLayer(
  x: tf.Tensor,
  pending: tf.Tensor | null,
  w: Gpt2BlockWeights,
  kBuf: tf.Tensor,
  vBuf: tf.Tensor,
  mask: tf.Tensor | null,
  dims: { eps: number; H: number; Hkv: number; hd: number; past: number },
): [tf.Tensor, tf.Tensor] {
  const inputs: Record<string, tf.Tensor> = { x, kBuf, vBuf, ...w };
  if (pending) inputs.pending = pending;
  if (mask) inputs.mask = mask;
  return tf.engine().runKernel('FalignGpt2DecodeLayer', inputs as tf.NamedTensorMap, dims as unknown as tf.NamedAttrMap) as [tf.Tensor, tf.Tensor];
}

/**
 * [x', pending'] of one Llama block for one position per row: RMSNorm, fused QKV (optional bias),
 * rotary attention with grouped KV heads (cos/sin tables and optional positions `pos` [B]), output
 * projection, RMSNorm, gate/up, SwiGLU, down projection — one dispatch.
 */
export function llamaDecodeLayer(
  x: tf.Tensor,
  pending: tf.Tensor | null,
  w: LlamaBlockWeights,
  kBuf: tf.Tensor,
  vBuf: tf.Tensor,
  mask: tf.Tensor | null,
  rope: { cos: tf.Tensor; sin: tf.Tensor; pos: tf.Tensor | null },
  dims: { eps: number; H: number; Hkv: number; hd: number; past: number },
): [tf.Tensor, tf.Tensor] {
  const inputs: Record<string, tf.Tensor> = { x, kBuf, vBuf, ln1: w.ln1, qkvW: w.qkvW, oW: w.oW, ln2: w.ln2, guW: w.guW, downW: w.downW, cos: rope.cos, sin: rope.sin };
  if (w.qkvB) inputs.qkvB = w.qkvB;
  if (pending) inputs.pending = pending;
  if (mask) inputs.mask = mask;
  if (rope.pos) inputs.pos = rope.pos;
  return tf.engine().runKernel('FalignLlamaDecodeLayer', inputs as tf.NamedTensorMap, dims as unknown as tf.NamedAttrMap) as [tf.Tensor, tf.Tensor];
}
