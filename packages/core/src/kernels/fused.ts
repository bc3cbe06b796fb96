/**
 * Fused inference kernels for the decoder, written in plain JS on the backends' memory (wasm heap
 * views, cpu typed arrays). One-token decoding runs many small ops per step (≈5 µs dispatch each
 * on a quiet machine, more under load), and attention against the cache used to copy the whole
 * cache every step (concat); these kernels replace such chains by one JS loop each:
 *
 *  - `FalignNorm`: optional residual add, then LayerNorm (gamma, beta) or RMSNorm (weight); returns
 *    [sum, normed] with a residual input, else [normed]. Replaces 8–10 ops.
 *  - `FalignEmbed`: token embedding rows (+ learned position rows). Replaces 3–5 ops.
 *  - `FalignDecodeAttn`: attention of one new position per row against the KV cache: splits the
 *    fused QKV row into heads, applies rotary embeddings (llama), writes the new key/value in place
 *    into the cache's capacity buffers (see kv-cache.ts) and computes softmax(q·kᵀ/√hd + mask)·v.
 *    Replaces ~17 ops, the per-step mask construction and the copy of the whole cache.
 *
 * Activations (GELU, SiLU) stay native: exp in JS costs more than six SIMD kernels' dispatch.
 *
 * Inference only: no gradients are registered, so DecoderLM uses them only while no tape records.
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdAttention, simdNorm, type SimdAttention } from './simd/load.js';
import { fusedEnabled } from './switch.js';

type Arr = Float32Array | Int32Array | Uint8Array;
type Info = tf.TensorInfo;

/** Allocation and typed-array views on a backend's own memory (wasm heap, cpu arrays). */
export interface Io {
  alloc(shape: number[], dtype: tf.DataType): Info;
  view(t: Info): Arr;
}

/**
 * Backend io for a kernel call. Inputs still on another backend are moved here first (a move
 * allocates, which on wasm may grow and detach the heap), so that views taken afterwards stay valid.
 */
export function fusedIo(backendName: string, backend: unknown, inputs: tf.NamedTensorInfoMap): Io {
  const m = io(backendName, backend);
  for (const t of Object.values(inputs)) if (t) m.view(t);
  return m;
}

type WasmLike = {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): Arr;
};
type CpuLike = {
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Arr): Info;
  data: { get(dataId: object): { values?: unknown } };
};

function io(backendName: string, backend: unknown): Io {
  if (backendName === 'wasm') {
    const be = backend as WasmLike;
    return { alloc: (shape, dtype) => be.makeOutput(shape, dtype), view: (t) => be.typedArrayFromHeap(t) };
  }
  const be = backend as CpuLike;
  return {
    alloc: (shape, dtype) =>
      be.makeTensorInfo(shape, dtype, dtype === 'int32' ? new Int32Array(tf.util.sizeFromShape(shape)) : new Float32Array(tf.util.sizeFromShape(shape))),
    view: (t) => {
      const v = be.data.get(t.dataId).values;
      if (!(v instanceof Float32Array || v instanceof Int32Array || v instanceof Uint8Array)) throw new Error('fused kernel: unsupported tensor storage');
      return v;
    },
  };
}

/** Additive score of a masked key (same as attention.ts MASK_VALUE). */
const MASK_VALUE = -1e9;

function normKernel(name: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const m = fusedIo(name, backend, inputs);
    const { x, r, gamma, beta } = inputs as { x: Info; r?: Info; gamma: Info; beta?: Info };
    const { eps, rms } = attrs as unknown as { eps: number; rms: boolean };
    const D = x.shape[x.shape.length - 1];
    const N = tf.util.sizeFromShape(x.shape) / D;
    const sumInfo = r ? m.alloc(x.shape, 'float32') : null;
    const yInfo = m.alloc(x.shape, 'float32');
    const simd = name === 'wasm' && D % 4 === 0 && fusedEnabled() ? simdNorm(backend as object) : null;
    if (simd) {
      const heap = backend as WasmHeap;
      const off = (t: Info) => heap.dataIdMap.get(t.dataId).memoryOffset;
      simd.residualNorm(off(x), r ? off(r) : 0, sumInfo ? off(sumInfo) : 0, off(gamma), beta ? off(beta) : 0, off(yInfo), N, D, eps, rms ? 1 : 0);
      return sumInfo ? [sumInfo, yInfo] : yInfo;
    }
    // Views after every allocation (a wasm allocation may grow and move the heap).
    const xs = m.view(x);
    const s = sumInfo ? m.view(sumInfo) : xs;
    if (r) {
      const rs = m.view(r);
      for (let i = 0; i < xs.length; i++) s[i] = xs[i] + rs[i];
    }
    const y = m.view(yInfo);
    const g = m.view(gamma);
    const b = beta ? m.view(beta) : null;
    for (let n = 0; n < N; n++) {
      const o = n * D;
      let mean = 0;
      if (!rms) {
        for (let j = 0; j < D; j++) mean += s[o + j];
        mean /= D;
      }
      let sq = 0;
      for (let j = 0; j < D; j++) {
        const d = s[o + j] - mean;
        sq += d * d;
      }
      const inv = 1 / Math.sqrt(sq / D + eps);
      if (b) for (let j = 0; j < D; j++) y[o + j] = (s[o + j] - mean) * inv * g[j] + b[j];
      else for (let j = 0; j < D; j++) y[o + j] = Math.fround((s[o + j] - mean) * inv) * g[j];
    }
    return sumInfo ? [sumInfo, yInfo] : yInfo;
  };
}

function embedKernel(name: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const m = fusedIo(name, backend, inputs);
    const { ids, wte, wpe, pos } = inputs as { ids: Info; wte: Info; wpe?: Info; pos?: Info };
    const { past, T } = attrs as unknown as { past: number; T: number };
    const [V, D] = wte.shape;
    const N = tf.util.sizeFromShape(ids.shape);
    const out = m.alloc([N, D], 'float32');
    const iv = m.view(ids);
    const e = m.view(wte);
    const pe = wpe ? m.view(wpe) : null;
    const pv = pos ? m.view(pos) : null;
    const P = wpe ? wpe.shape[0] : 0;
    const y = m.view(out);
    for (let n = 0; n < N; n++) {
      const id = iv[n];
      if (!(id >= 0 && id < V)) throw new Error(`embedding: token id ${id} is not in [0, ${V - 1}]`);
      const o = n * D;
      const eo = id * D;
      if (pe) {
        const p = pv ? pv[n] : past + (n % T);
        if (!(p >= 0 && p < P)) throw new Error(`embedding: position ${p} is not in [0, ${P - 1}]`);
        const po = p * D;
        for (let j = 0; j < D; j++) y[o + j] = e[eo + j] + pe[po + j];
      } else {
        for (let j = 0; j < D; j++) y[o + j] = e[eo + j];
      }
    }
    return out;
  };
}

/** Dot product of `hd` (a multiple of 4) floats, four accumulators (≈2× a plain loop in V8). */
function dot4(a: Float32Array, ao: number, b: Float32Array, bo: number, hd: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let j = 0; j < hd; j += 4) {
    s0 += a[ao + j] * b[bo + j];
    s1 += a[ao + j + 1] * b[bo + j + 1];
    s2 += a[ao + j + 2] * b[bo + j + 2];
    s3 += a[ao + j + 3] * b[bo + j + 3];
  }
  return s0 + s1 + s2 + s3;
}

function dot1(a: Float32Array, ao: number, b: Float32Array, bo: number, hd: number): number {
  let s = 0;
  for (let j = 0; j < hd; j++) s += a[ao + j] * b[bo + j];
  return s;
}

/** acc += w · b[bo : bo + hd]. */
function axpy4(acc: Float64Array, w: number, b: Float32Array, bo: number, hd: number): void {
  for (let j = 0; j < hd; j += 4) {
    acc[j] += w * b[bo + j];
    acc[j + 1] += w * b[bo + j + 1];
    acc[j + 2] += w * b[bo + j + 2];
    acc[j + 3] += w * b[bo + j + 3];
  }
}

function axpy1(acc: Float64Array, w: number, b: Float32Array, bo: number, hd: number): void {
  for (let j = 0; j < hd; j++) acc[j] += w * b[bo + j];
}

/** Shapes of one decode step's fused `[B, (H + 2·Hkv)·hd]` qkv rows and `[B, Hkv, C, hd]` caches. */
interface DecodeDims {
  H: number;
  Hkv: number;
  hd: number;
  past: number;
  C: number;
  W: number;
}

/**
 * x·cos + rotate_half(x)·sin of one head vector, in float32 steps as the op-by-op path computes it:
 * reads `x[so..so+hd)`, writes `dst[d0..d0+hd)` with the table row starting at `co`.
 */
type Rope = (so: number, dst: Float32Array, d0: number, co: number) => void;

function ropeOf(x: Float32Array, cs: Float32Array, sn: Float32Array, hd: number): Rope {
  const half = hd / 2;
  return (so, dst, d0, co) => {
    for (let j = 0; j < hd; j++) {
      const rot = j < half ? -x[so + j + half] : x[so + j - half];
      dst[d0 + j] = Math.fround(x[so + j] * cs[co + j]) + Math.fround(rot * sn[co + j]);
    }
  };
}

/**
 * Appends row `b`'s new key (rotated when `rope` is given) and value at cache row `past`, and
 * returns the rotary table offset of its position (0 without rotary embedding).
 */
function appendKv(x: Float32Array, K: Float32Array, Vc: Float32Array, rope: Rope | null, positions: number, p: number, b: number, d: DecodeDims): number {
  const { H, Hkv, hd, past, C, W } = d;
  if (rope && !(p >= 0 && p < positions)) throw new Error(`rotary embedding: position ${p} is not in [0, ${positions - 1}]`);
  const row = b * W;
  const co = p * hd;
  for (let g = 0; g < Hkv; g++) {
    const at = ((b * Hkv + g) * C + past) * hd;
    const ko = row + H * hd + g * hd;
    const vo = row + (H + Hkv) * hd + g * hd;
    if (rope) rope(ko, K, at, co);
    else K.set(x.subarray(ko, ko + hd), at);
    Vc.set(x.subarray(vo, vo + hd), at);
  }
  return co;
}

function decodeAttnKernel(name: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const m = fusedIo(name, backend, inputs);
    const { qkv, kBuf, vBuf, mask, cos, sin, pos } = inputs as {
      qkv: Info;
      kBuf: Info;
      vBuf: Info;
      mask?: Info;
      cos?: Info;
      sin?: Info;
      pos?: Info;
    };
    const { H, Hkv, hd, past } = attrs as unknown as { H: number; Hkv: number; hd: number; past: number };
    const B = qkv.shape[0];
    const S = past + 1;
    const C = kBuf.shape[2];
    if (C < S) throw new Error(`FalignDecodeAttn: cache buffer has ${C} rows, needs ${S}`);
    const rep = H / Hkv;
    const scale = 1 / Math.sqrt(hd);
    const W = (H + 2 * Hkv) * hd;
    const simd = name === 'wasm' && hd % 4 === 0 && fusedEnabled() && (mask === undefined || mask.dtype !== 'bool') ? simdAttention(backend as object) : null;
    if (simd) return decodeAttnSimd(simd, backend as WasmHeap, m, inputs, { H, Hkv, hd, past, B, S, C, W, scale });
    const outInfo = m.alloc([B, H * hd], 'float32');
    const x = m.view(qkv) as Float32Array;
    const out = m.view(outInfo) as Float32Array;
    // The cache buffers are written in place (row `past`): they belong to the KV cache alone.
    const K = m.view(kBuf) as Float32Array;
    const Vc = m.view(vBuf) as Float32Array;
    const mk = mask ? m.view(mask) : null;
    const cs = cos ? (m.view(cos) as Float32Array) : null;
    const sn = sin ? (m.view(sin) as Float32Array) : null;
    const ps = pos ? m.view(pos) : null;
    const dot = hd % 4 === 0 ? dot4 : dot1;
    const axpy = hd % 4 === 0 ? axpy4 : axpy1;
    // Rotated queries of one row (llama), else the queries are read in place from qkv.
    const qr = cs ? new Float32Array(H * hd) : null;
    const scores = new Float64Array(S);
    const acc = new Float64Array(hd);
    const rope = cs && sn ? ropeOf(x, cs, sn, hd) : null;
    const positions = cos ? cos.shape[0] : 0;
    const dims = { H, Hkv, hd, past, C, W };
    for (let b = 0; b < B; b++) {
      const row = b * W;
      // Append the new key (rotated for llama) and value at row `past`.
      const co = appendKv(x, K, Vc, rope, positions, ps ? ps[b] : past, b, dims);
      if (qr) for (let h = 0; h < H; h++) rope!(row + h * hd, qr, h * hd, co);
      const qa = qr ?? x;
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / rep);
        const qo = qr ? h * hd : row + h * hd;
        const base = (b * Hkv + g) * C * hd;
        let mx = -Infinity;
        for (let s = 0; s < S; s++) {
          let sc = Math.fround(dot(qa, qo, K, base + s * hd, hd) * scale);
          if (mk) sc = Math.fround(sc + (1 - mk[b * S + s]) * MASK_VALUE);
          scores[s] = sc;
          if (sc > mx) mx = sc;
        }
        let z = 0;
        for (let s = 0; s < S; s++) {
          const e = Math.exp(scores[s] - mx);
          scores[s] = e;
          z += e;
        }
        const iz = 1 / z;
        acc.fill(0);
        for (let s = 0; s < S; s++) if (scores[s] !== 0) axpy(acc, scores[s] * iz, Vc, base + s * hd, hd);
        const oo = b * H * hd + h * hd;
        for (let j = 0; j < hd; j++) out[oo + j] = acc[j];
      }
    }
    return outInfo;
  };
}

type WasmHeap = WasmLike & { dataIdMap: { get(dataId: object): { memoryOffset: number } }; disposeData(dataId: object, force?: boolean): boolean };

/**
 * The wasm path of FalignDecodeAttn: the new key/value (and rotated queries) are written in JS,
 * scores, softmax and the weighted sum of values run in the SIMD module on the heap in place.
 */
function decodeAttnSimd(
  simd: SimdAttention,
  be: WasmHeap,
  m: Io,
  inputs: tf.NamedTensorInfoMap,
  d: { H: number; Hkv: number; hd: number; past: number; B: number; S: number; C: number; W: number; scale: number },
): Info {
  const { qkv, kBuf, vBuf, mask, cos, sin, pos } = inputs as { qkv: Info; kBuf: Info; vBuf: Info; mask?: Info; cos?: Info; sin?: Info; pos?: Info };
  const { H, Hkv, hd, past, B, S, C, W, scale } = d;
  const outInfo = m.alloc([B, H * hd], 'float32');
  const scoresInfo = m.alloc([S], 'float32');
  const qrInfo = cos ? m.alloc([B, H * hd], 'float32') : null;
  // Views after every allocation (a wasm allocation may grow and move the heap).
  const x = m.view(qkv) as Float32Array;
  const K = m.view(kBuf) as Float32Array;
  const Vc = m.view(vBuf) as Float32Array;
  const cs = cos ? (m.view(cos) as Float32Array) : null;
  const sn = sin ? (m.view(sin) as Float32Array) : null;
  const ps = pos ? m.view(pos) : null;
  const qr = qrInfo ? (m.view(qrInfo) as Float32Array) : null;
  const rope = cs && sn ? ropeOf(x, cs, sn, hd) : null;
  const positions = cos ? cos.shape[0] : 0;
  const dims = { H, Hkv, hd, past, C, W };
  for (let b = 0; b < B; b++) {
    const row = b * W;
    const co = appendKv(x, K, Vc, rope, positions, ps ? ps[b] : past, b, dims);
    if (qr) for (let h = 0; h < H; h++) rope!(row + h * hd, qr, (b * H + h) * hd, co);
  }
  const off = (t: Info) => be.dataIdMap.get(t.dataId).memoryOffset;
  const maskKind = mask ? (mask.dtype === 'int32' ? 2 : 1) : 0;
  try {
    simd.decodeAttention(
      qrInfo ? off(qrInfo) : off(qkv),
      qrInfo ? H * hd : W,
      off(kBuf),
      off(vBuf),
      C,
      Hkv,
      H,
      B,
      S,
      hd,
      mask ? off(mask) : 0,
      maskKind,
      off(outInfo),
      off(scoresInfo),
      scale,
    );
  } finally {
    be.disposeData(scoresInfo.dataId, true);
    if (qrInfo) be.disposeData(qrInfo.dataId, true);
  }
  return outInfo;
}

const KERNELS: Record<string, (backendName: string) => tf.KernelFunc> = {
  FalignNorm: normKernel,
  FalignEmbed: embedKernel,
  FalignDecodeAttn: decodeAttnKernel,
};

const BACKENDS = ['wasm', 'cpu'];
let registered = false;

/** Registers the fused kernels for the wasm and cpu backends (idempotent). */
export function registerFusedKernels(): void {
  if (registered) return;
  registered = true;
  for (const backendName of BACKENDS) {
    for (const [kernelName, make] of Object.entries(KERNELS)) {
      if (tf.getKernel(kernelName, backendName) === undefined) {
        tf.registerKernel({ kernelName, backendName, kernelFunc: make(backendName) });
      }
    }
  }
}

/** Whether the fused kernels run on the active backend. */
export function fusedAvailable(): boolean {
  const name = tf.engine().backendName;
  return name !== null && BACKENDS.includes(name);
}

type T = tf.Tensor;
const run = (name: string, inputs: Record<string, T>, attrs: Record<string, unknown> = {}) =>
  tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap);

/** LayerNorm (beta given) or RMSNorm of `x` over the last axis. */
export function fusedNorm(x: T, gamma: T, beta: T | null, eps: number): T {
  const inputs: Record<string, T> = { x, gamma };
  if (beta) inputs.beta = beta;
  return run('FalignNorm', inputs, { eps, rms: beta === null }) as T;
}

/** `[x + r, norm(x + r)]`. */
export function fusedAddNorm(x: T, r: T, gamma: T, beta: T | null, eps: number): [T, T] {
  const inputs: Record<string, T> = { x, r, gamma };
  if (beta) inputs.beta = beta;
  return run('FalignNorm', inputs, { eps, rms: beta === null }) as [T, T];
}

/** Rows of `wte` for flat int32 `ids` [N] (+ rows of `wpe` at `pos` [N] or past + n mod T). */
export function fusedEmbed(ids: T, wte: T, wpe: T | null, pos: T | null, past: number, T: number): T {
  const inputs: Record<string, T> = { ids, wte };
  if (wpe) inputs.wpe = wpe;
  if (pos) inputs.pos = pos;
  return run('FalignEmbed', inputs, { past, T }) as T;
}

/**
 * One-position attention: writes the new key/value at row `past` of the capacity buffers kBuf/vBuf
 * [B, Hkv, capacity, hd] in place and returns softmax(q·kᵀ/√hd + mask)·v over rows 0..past.
 */
export function fusedDecodeAttn(
  qkv: T,
  kBuf: T,
  vBuf: T,
  mask: T | null,
  rope: { cos: T; sin: T; pos: T | null } | null,
  dims: { H: number; Hkv: number; hd: number; past: number },
): T {
  const inputs: Record<string, T> = { qkv, kBuf, vBuf };
  if (mask) inputs.mask = mask;
  if (rope) {
    inputs.cos = rope.cos;
    inputs.sin = rope.sin;
    if (rope.pos) inputs.pos = rope.pos;
  }
  return run('FalignDecodeAttn', inputs, dims) as T;
}
