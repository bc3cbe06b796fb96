/**
 * Instantiates falign's WebAssembly SIMD kernels (compiled from packages/core/assembly by
 * scripts/build-simd.mjs) against tfjs-wasm's own memory, so they read and write tensors in place
 * by their heap offsets. One instance per wasm backend; null where that is impossible (no SIMD,
 * an unexpected tfjs-wasm build), and callers then keep their JS path.
 */
import { WASM_BASE64 as ATTENTION } from './attention-wasm.js';
import { WASM_BASE64 as OPTIM } from './optim-wasm.js';
import { WASM_BASE64 as NORM } from './norm-wasm.js';
import { WASM_BASE64 as GEMM } from './gemm-wasm.js';
import { WASM_BASE64 as GELU } from './gelu-wasm.js';

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

/** Exports of assembly/gemm.ts. */
export interface SimdGemm {
  /** C [M, N] = Aᵀ·B for A [K, M], B [K, N] (row-major, byte offsets). */
  gemmTN(a: number, b: number, c: number, K: number, M: number, N: number): void;
  /**
   * C [M, N] = Aᵀ·B for A the first M columns of a row-major [K, lda] matrix at `a` (byte offset
   * of its first column): a block of rows of gemmTN's C, bit-identical to those rows of it.
   */
  gemmTNCols(a: number, b: number, c: number, K: number, M: number, N: number, lda: number): void;
  /** C [M, N] = A·B (+ bias [N], 0 for none) for A [M, K], B [K, N]. */
  gemmNN(a: number, b: number, c: number, bias: number, K: number, M: number, N: number): void;
  /** C[e] [M, N] = A[e]·B[e] for `batch` consecutive entries of A [M, K] and B [K, N] (one B when sharedB = 1). */
  gemmNNBatched(a: number, b: number, c: number, batch: number, K: number, M: number, N: number, sharedB: number): void;
  /** out [N] = column sums of B [K, N]. */
  colSum(b: number, out: number, K: number, N: number): void;
}

/** Exports of assembly/gelu.ts. */
export interface SimdGelu {
  /** u = x·(x²·B + A). */
  geluArg(x: number, u: number, n: number, A: number, B: number): void;
  /** dx = dy·(s + (x·(s·(1 − s)))·(x²·B3 + A)). */
  geluGrad(dy: number, x: number, s: number, dx: number, n: number, A: number, B3: number): void;
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

/** Raw exports of assembly/gemm.ts (every product takes a scratch pointer last). */
interface GemmExports {
  scratchBytes(): number;
  gemmTN(a: number, b: number, c: number, K: number, M: number, N: number, scratch: number): void;
  gemmTNCols(a: number, b: number, c: number, K: number, M: number, N: number, lda: number, scratch: number): void;
  gemmNN(a: number, b: number, c: number, bias: number, K: number, M: number, N: number, scratch: number): void;
  gemmNNBatched(a: number, b: number, c: number, batch: number, K: number, M: number, N: number, sharedB: number, scratch: number): void;
  colSum(b: number, out: number, K: number, N: number): void;
}

const gemms = new WeakMap<object, SimdGemm | null>();

/**
 * The GEMM module bound to `backend`'s heap, or null; its products use one scratch panel
 * (4 KiB, allocated once per backend with tfjs-wasm's malloc and never freed).
 */
export function simdGemm(backend: object): SimdGemm | null {
  if (gemms.has(backend)) return gemms.get(backend)!;
  const ex = instantiate<GemmExports>('gemm', GEMM, backend);
  const malloc = (backend as { wasm?: { _malloc?: (n: number) => number } }).wasm?._malloc;
  let g: SimdGemm | null = null;
  if (ex && malloc) {
    const s = malloc(ex.scratchBytes()) >>> 0;
    g = {
      gemmTN: (a, b, c, K, M, N) => ex.gemmTN(a, b, c, K, M, N, s),
      gemmTNCols: (a, b, c, K, M, N, lda) => ex.gemmTNCols(a, b, c, K, M, N, lda, s),
      gemmNN: (a, b, c, bias, K, M, N) => ex.gemmNN(a, b, c, bias, K, M, N, s),
      gemmNNBatched: (a, b, c, batch, K, M, N, sharedB) => ex.gemmNNBatched(a, b, c, batch, K, M, N, sharedB, s),
      colSum: (b, out, K, N) => ex.colSum(b, out, K, N),
    };
  }
  gemms.set(backend, g);
  return g;
}

/** The GELU module bound to `backend`'s heap, or null. */
export function simdGelu(backend: object): SimdGelu | null {
  return instantiate<SimdGelu>('gelu', GELU, backend);
}
