/**
 * Instantiates falign's WebAssembly SIMD kernels (compiled from packages/core/assembly by
 * scripts/build-simd.mjs) against tfjs-wasm's own memory, so they read and write tensors in place
 * by their heap offsets. One instance per wasm backend; null where that is impossible (no SIMD,
 * an unexpected tfjs-wasm build), and callers then keep their JS path.
 */
import { WASM_BASE64 as ATTENTION } from './attention-wasm.js';
import { WASM_BASE64 as OPTIM } from './optim-wasm.js';
import { WASM_BASE64 as NORM } from './norm-wasm.js';

/** Exports of assembly/attention.ts (pointers are byte offsets into tfjs-wasm's heap). */
export interface SimdAttention {
  decodeAttention(
    q: number,
    qRowStride: number,
    K: number,
    V: number,
    C: number,
    Hkv: number,
    H: number,
    B: number,
    S: number,
    hd: number,
    mask: number,
    maskKind: number,
    out: number,
    scores: number,
    scale: number,
  ): void;
}

/** Exports of assembly/optim.ts. */
export interface SimdOptim {
  adamw(
    p: number,
    g: number,
    m: number,
    v: number,
    hasMoments: number,
    po: number,
    mo: number,
    vo: number,
    n: number,
    b1: number,
    b2: number,
    c1: number,
    c2: number,
    eps: number,
    stepSize: number,
    bc2Sqrt: number,
    decay: number,
    gradScale: number,
  ): void;
}

/** Exports of assembly/norm.ts (0 for an absent optional pointer). */
export interface SimdNorm {
  normForward(x: number, gamma: number, beta: number, y: number, mu: number, rstd: number, N: number, D: number, eps: number, rms: number): void;
  normBackward(dy: number, x: number, mu: number, rstd: number, gamma: number, dx: number, dgamma: number, dbeta: number, N: number, D: number, rms: number): void;
  residualNorm(x: number, r: number, sum: number, gamma: number, beta: number, y: number, N: number, D: number, eps: number, rms: number): void;
}

const instances = new Map<string, WeakMap<object, unknown>>();

function instantiate<E>(name: string, base64: string, backend: object): E | null {
  let byBackend = instances.get(name);
  if (!byBackend) instances.set(name, (byBackend = new WeakMap()));
  if (byBackend.has(backend)) return byBackend.get(backend) as E | null;
  let ex: E | null = null;
  try {
    const memory = (backend as { wasm?: { asm?: { memory?: unknown } } }).wasm?.asm?.memory;
    if (memory instanceof WebAssembly.Memory) {
      const mod = new WebAssembly.Module(Buffer.from(base64, 'base64'));
      ex = new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as E;
    }
  } catch {
    ex = null;
  }
  byBackend.set(backend, ex);
  return ex;
}

/** The attention module bound to `backend`'s heap, or null. */
export function simdAttention(backend: object): SimdAttention | null {
  return instantiate<SimdAttention>('attention', ATTENTION, backend);
}

/** The optimizer module bound to `backend`'s heap, or null. */
export function simdOptim(backend: object): SimdOptim | null {
  return instantiate<SimdOptim>('optim', OPTIM, backend);
}

/** The norm module bound to `backend`'s heap, or null. */
export function simdNorm(backend: object): SimdNorm | null {
  return instantiate<SimdNorm>('norm', NORM, backend);
}
