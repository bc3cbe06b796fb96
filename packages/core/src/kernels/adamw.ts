/**
 * `FalignAdamW`: one AdamW update of one parameter as a single kernel (wasm and cpu backends),
 * in place of the ~12 elementwise ops (each a dispatch and a fresh buffer) of the op-by-op path
 * in train/adamw.ts. Inputs p, g and (after the first step) m, v; outputs [p', m', v'].
 * Every intermediate is rounded to float32 as the op path rounds it, so both paths agree to within
 * an ulp (tested). The gradient may be pre-scaled (clipping) by the `gradScale` attribute. On wasm
 * the loop is WebAssembly SIMD (assembly/optim.ts) on the heap in place.
 * `FalignSumSquares`: Σ x² over many tensors in one kernel (the global gradient norm).
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedIo } from './fused.js';
import { fusedEnabled } from './switch.js';
import { simdOptim } from './simd/load.js';

type Info = tf.TensorInfo;

/** Attributes of {@link adamwUpdate}. */
export interface AdamWAttrs {
  b1: number;
  b2: number;
  eps: number;
  /** lr / (1 − b1^t). */
  stepSize: number;
  /** √(1 − b2^t). */
  bc2Sqrt: number;
  /** 1 − lr·wd for decayed parameters, else 1. */
  decay: number;
  /** Multiplies the gradient first (global-norm clipping); 1 for none. */
  gradScale: number;
}

const f = Math.fround;

function adamwKernel(name: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const io = fusedIo(name, backend, inputs);
    const { p, g, m, v } = inputs as { p: Info; g: Info; m?: Info; v?: Info };
    const a = attrs as unknown as AdamWAttrs;
    const pOut = io.alloc(p.shape, 'float32');
    const mOut = io.alloc(p.shape, 'float32');
    const vOut = io.alloc(p.shape, 'float32');
    // Views after every allocation (a wasm allocation may grow and move the heap).
    const P = io.view(p) as Float32Array;
    const G = io.view(g) as Float32Array;
    const M = m ? (io.view(m) as Float32Array) : null;
    const V = v ? (io.view(v) as Float32Array) : null;
    const po = io.view(pOut) as Float32Array;
    const mo = io.view(mOut) as Float32Array;
    const vo = io.view(vOut) as Float32Array;
    const { b1, b2, eps, stepSize, bc2Sqrt, decay, gradScale } = a;
    const simd = name === 'wasm' ? simdOptim(backend as object) : null;
    if (simd) {
      const heap = backend as unknown as { dataIdMap: { get(d: object): { memoryOffset: number } } };
      const off = (t: Info) => heap.dataIdMap.get(t.dataId).memoryOffset;
      simd.adamw(off(p), off(g), m ? off(m) : 0, v ? off(v) : 0, m && v ? 1 : 0, off(pOut), off(mOut), off(vOut), P.length, b1, b2, 1 - b1, 1 - b2, eps, stepSize, bc2Sqrt, decay, gradScale);
      return [pOut, mOut, vOut];
    }
    const c1 = f(1 - b1);
    const c2 = f(1 - b2);
    const fb1 = f(b1);
    const fb2 = f(b2);
    const fss = f(stepSize);
    const fbc = f(bc2Sqrt);
    const feps = f(eps);
    const fdec = f(decay);
    const fgs = f(gradScale);
    const n = P.length;
    for (let i = 0; i < n; i++) {
      const gi = fgs === 1 ? G[i] : f(G[i] * fgs);
      const m1 = f(f((M ? M[i] : 0) * fb1) + f(gi * c1));
      const v1 = f(f((V ? V[i] : 0) * fb2) + f(f(gi * gi) * c2));
      const denom = f(f(f(Math.sqrt(v1)) / fbc) + feps);
      const pd = fdec === 1 ? P[i] : f(P[i] * fdec);
      po[i] = f(pd - f(f(m1 / denom) * fss));
      mo[i] = m1;
      vo[i] = v1;
    }
    return [pOut, mOut, vOut];
  };
}

type WasmCalls = tf.KernelBackend & { disposeData(dataId: object, force?: boolean): boolean; typedArrayFromHeap(t: Info): Float32Array };

/** One native wasm kernel called directly on TensorInfos (no engine dispatch). */
function callWasm(name: string, backend: WasmCalls, inputs: Record<string, Info>, attrs: Record<string, unknown>): Info {
  return tf.getKernel(name, 'wasm')!.kernelFunc({ inputs, backend, attrs: attrs as unknown as tf.NamedAttrMap }) as Info;
}

/**
 * Σ x² over every element of every input as a float32 scalar. On wasm each input is squared and
 * summed by the native SIMD kernels, called directly; elsewhere a float64 JS loop.
 */
function sumSquaresKernel(name: string): tf.KernelFunc {
  return ({ inputs, backend }) => {
    if (name === 'wasm') {
      const be = backend as WasmCalls;
      let total = 0;
      for (const t of Object.values(inputs)) {
        if (!t) continue;
        const sq = callWasm('Square', be, { x: t }, {});
        const s = callWasm('Sum', be, { x: sq }, { axis: t.shape.map((_, i) => i), keepDims: false });
        total += be.typedArrayFromHeap(s)[0];
        be.disposeData(sq.dataId, true);
        be.disposeData(s.dataId, true);
      }
      const io = fusedIo(name, backend, {});
      const out = io.alloc([], 'float32');
      (io.view(out) as Float32Array)[0] = total;
      return out;
    }
    const io = fusedIo(name, backend, inputs);
    const out = io.alloc([], 'float32');
    let s = 0;
    for (const t of Object.values(inputs)) {
      if (!t) continue;
      const x = io.view(t);
      let a0 = 0;
      let a1 = 0;
      const n = x.length;
      let i = 0;
      for (; i + 1 < n; i += 2) {
        a0 += x[i] * x[i];
        a1 += x[i + 1] * x[i + 1];
      }
      if (i < n) a0 += x[i] * x[i];
      s += a0 + a1;
    }
    (io.view(out) as Float32Array)[0] = s;
    return out;
  };
}

const BACKENDS = ['wasm', 'cpu'];
let registered = false;

/** Registers FalignAdamW and FalignSumSquares for wasm and cpu (idempotent). */
export function registerAdamWKernel(): void {
  if (registered) return;
  registered = true;
  for (const backendName of BACKENDS) {
    for (const [kernelName, make] of [['FalignAdamW', adamwKernel], ['FalignSumSquares', sumSquaresKernel]] as const) {
      if (tf.getKernel(kernelName, backendName) === undefined) tf.registerKernel({ kernelName, backendName, kernelFunc: make(backendName) });
    }
  }
}

/**
 * Σ x² over all of `xs` as one scalar: a single kernel on wasm/cpu (float64 accumulation), else
 * per-tensor sums added in groups (see train/clip.ts for why not one addN).
 */
export function sumOfSquares(xs: tf.Tensor[], fallback: (xs: tf.Tensor[]) => tf.Tensor): tf.Scalar {
  if (xs.length === 0) return tf.scalar(0);
  if (kernelHere('FalignSumSquares') && xs.every((x) => x.dtype === 'float32')) {
    const inputs: Record<string, tf.Tensor> = {};
    xs.forEach((x, i) => (inputs[`x${i}`] = x));
    return tf.engine().runKernel('FalignSumSquares', inputs as tf.NamedTensorMap, {}) as tf.Scalar;
  }
  return fallback(xs) as tf.Scalar;
}

/** Whether the fused AdamW kernel runs on the active backend. */
export function adamwKernelAvailable(): boolean {
  return kernelHere('FalignAdamW');
}

/** Whether `kernel` is registered for the active backend (and fused kernels are on). */
function kernelHere(kernel: string): boolean {
  const name = tf.engine().backendName;
  return fusedEnabled() && name !== null && tf.getKernel(kernel, name) !== undefined;
}

/** One fused AdamW update: returns [p', m', v'] (new tensors; `m`/`v` null on the first step). */
export function adamwUpdate(p: tf.Tensor, g: tf.Tensor, m: tf.Tensor | null, v: tf.Tensor | null, attrs: AdamWAttrs): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const inputs: Record<string, tf.Tensor> = { p, g };
  if (m && v) {
    inputs.m = m;
    inputs.v = v;
  }
  return tf.engine().runKernel('FalignAdamW', inputs as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as [tf.Tensor, tf.Tensor, tf.Tensor];
}
