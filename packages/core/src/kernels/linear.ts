/**
 * Linear layers as single kernels on wasm: `FalignLinear` (y = x·W + b) and `FalignLinearGrad`
 * (dx = dy·Wᵀ, dW = xᵀ·dy, db = Σ_rows dy), run directly on TensorInfos: one engine dispatch
 * replaces 4 (forward: matMul's reshapes to 3-D and back) or ~14 (backward: transposes, matmuls,
 * reshapes, the row-sum product) — the engine's per-op bookkeeping costs more than these small
 * products on the reference workload. The products are falign's SIMD GEMM (assembly/gemm.ts):
 * XNNPACK packs its right operand on every call (weights change every step; dW's right operand
 * is a 1024-row activation), which cost as much as the product; the SIMD kernel reads both
 * operands in place and dW = xᵀ·dy needs no transpose. Without it (FALIGN_SIMD_GEMM=0) they are
 * tfjs-wasm's XNNPACK kernels, large ones optionally split across two threads
 * (kernels/gemm-pool.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedEnabled } from './switch.js';
import { parallelMatmul } from './gemm-pool.js';
import { simdGemm, type SimdGemm } from './simd/load.js';
import { gemmNNThreaded, gemmTNThreaded, type Heap } from './gemm-threads.js';

type Info = tf.TensorInfo;
type WasmBackend = tf.KernelBackend & {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): Float32Array;
  disposeData(dataId: object, force?: boolean): boolean;
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
  wasm: { HEAPF32: Float32Array };
};

/** Same data, another shape (no copy, no engine involvement). */
const as = (t: Info, shape: number[]): Info => ({ dataId: t.dataId, shape, dtype: t.dtype });

function call(name: string, backend: WasmBackend, inputs: Record<string, Info | null>, attrs: Record<string, unknown>): Info {
  const k = tf.getKernel(name, 'wasm');
  if (!k) throw new Error(`FalignLinear: wasm kernel ${name} is not registered`);
  return k.kernelFunc({ inputs: inputs as tf.NamedTensorInfoMap, backend, attrs: attrs as unknown as tf.NamedAttrMap }) as Info;
}

/** One-thread product of a [m, k] and b [k, n] by tfjs-wasm's kernel. */
const matmul1 = (be: WasmBackend, a: Info, b: Info): Info => {
  const [m, k] = a.shape;
  const n = b.shape[1];
  const out = call('BatchMatMul', be, { a: as(a, [1, m, k]), b: as(b, [1, k, n]) }, { transposeA: false, transposeB: false });
  return as(out, [m, n]);
};

/**
 * falign's SIMD GEMM module (assembly/gemm.ts) for this backend, or null: absent, or turned off by
 * FALIGN_SIMD_GEMM=0 (read per call, for A/B runs and as an escape hatch; the XNNPACK path, with
 * the optional two-thread split of kernels/gemm-pool.ts, is used then).
 */
const gemmOf = (be: WasmBackend): SimdGemm | null => (process.env.FALIGN_SIMD_GEMM === '0' ? null : simdGemm(be));
const offsetOf = (be: WasmBackend, t: Info): number => be.dataIdMap.get(t.dataId).memoryOffset;
/** The whole heap as floats, read when used (an allocation may grow and move it). */
const heapOf = (be: WasmBackend): Heap => ({ f32: () => be.wasm.HEAPF32 });

/** a [m, k] · b [k, n] (+ bias [n]) by the SIMD kernel: no packing of b per call as XNNPACK does. */
function simdMatmul(be: WasmBackend, g: SimdGemm, a: Info, b: Info, bias: Info | null): Info {
  const [m, k] = a.shape;
  const n = b.shape[1];
  const out = be.makeOutput([m, n], 'float32');
  gemmNNThreaded(g, heapOf(be), offsetOf(be, a), offsetOf(be, b), offsetOf(be, out), bias ? offsetOf(be, bias) : 0, k, m, n);
  return out;
}

/**
 * Whether the SIMD kernel takes a [m, k] · [k, n] product. Not for fewer than 8 rows (one-row
 * decoding runs in its scalar edge code: 15× slower than XNNPACK, measured) nor for a right
 * operand over 2^20 floats: it reads B in place, 32 bytes per row and tile, and a B that wide
 * (an LM head, 576 × 49152) costs TLB misses (24–28 GFLOP/s against XNNPACK's 42 on its packed
 * copy). Such weights are usually fixed (inference, frozen LoRA bases), so XNNPACK's cached
 * packing is paid once.
 */
const simdTakes = (m: number, k: number, n: number): boolean => m >= 8 && n >= 8 && k * n <= 1 << 20;

/** a · b: the SIMD kernel, else XNNPACK with large products split across two threads (kernels/gemm-pool.ts). */
const matmul = (be: WasmBackend, a: Info, b: Info): Info => {
  const g = gemmOf(be);
  if (g && simdTakes(a.shape[0], a.shape[1], b.shape[1])) return simdMatmul(be, g, a, b, null);
  return parallelMatmul(be, a, b, null, (rows) => matmul1(be, rows, b));
};

/** a · b + bias on one thread (tfjs-wasm's fused kernel). */
const matmulBias1 = (be: WasmBackend, x: Info, w: Info, bias: Info): Info => {
  const [n, k] = x.shape;
  const m = w.shape[1];
  const out = call(
    '_FusedMatMul',
    be,
    { a: as(x, [1, n, k]), b: as(w, [1, k, m]), bias, preluActivationWeights: null },
    { transposeA: false, transposeB: false, activation: 'linear', leakyreluAlpha: 0 },
  );
  return as(out, [n, m]);
};

const transpose = (be: WasmBackend, x: Info): Info => call('Transpose', be, { x }, { perm: [1, 0] });

const free = (be: WasmBackend, ...ts: Info[]) => ts.forEach((t) => be.disposeData(t.dataId, true));

/** x [N, K] · w [K, M] (+ bias [M]) → [N, M]. */
function linearKernel({ inputs, backend }: Parameters<tf.KernelFunc>[0]): Info {
  const be = backend as WasmBackend;
  const { x, w, bias } = inputs as { x: Info; w: Info; bias?: Info };
  if (!bias) return matmul(be, x, w);
  const g = gemmOf(be);
  if (g && simdTakes(x.shape[0], x.shape[1], w.shape[1])) return simdMatmul(be, g, x, w, bias);
  return parallelMatmul(be, x, w, bias, (rows) => matmulBias1(be, rows, w, bias));
}

/** [dx, dW] (+ db with attr `bias`) of y = x·W (+ b), for dy [N, M], x [N, K], w [K, M]. */
function linearGradKernel({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): Info[] {
  const be = backend as WasmBackend;
  const { dy, x, w } = inputs as { dy: Info; x: Info; w: Info };
  const withBias = (attrs as unknown as { bias: boolean }).bias;
  const [n, k] = x.shape;
  const m = w.shape[1];
  const wT = transpose(be, w);
  const dx = matmul(be, dy, wT);
  free(be, wT);
  // dW [k, m] = xᵀ·dy needs at least one 4 × 8 tile (else its scalar edge code would run).
  const simd = k >= 4 && m >= 8 ? gemmOf(be) : null;
  if (simd) {
    // dW = xᵀ·dy and db = Σ_rows dy straight from x and dy (assembly/gemm.ts): no transpose, and
    // none of XNNPACK's per-call packing of the 1024-row right operand, which cost more than the
    // product itself.
    const dW = be.makeOutput([k, m], 'float32');
    const db = withBias ? be.makeOutput([m], 'float32') : null;
    gemmTNThreaded(simd, heapOf(be), offsetOf(be, x), offsetOf(be, dy), offsetOf(be, dW), n, k, m);
    if (!db) return [dx, dW];
    simd.colSum(offsetOf(be, dy), offsetOf(be, db), n, m);
    return [dx, dW, db];
  }
  // Transpose whichever of x / dy is narrower (large activation transposes are the slow part).
  let dW: Info;
  if (k <= m) {
    const xT = transpose(be, x);
    dW = matmul(be, xT, dy);
    free(be, xT);
  } else {
    const dyT = transpose(be, dy);
    const t = matmul(be, dyT, x);
    dW = transpose(be, t);
    free(be, dyT, t);
  }
  if (!withBias) return [dx, dW];
  const ones = be.makeOutput([1, n], 'float32');
  be.typedArrayFromHeap(ones).fill(1);
  const db = matmul(be, ones, dy);
  free(be, ones);
  return [dx, dW, as(db, [m])];
}

let registered = false;

/** Registers FalignLinear / FalignLinearGrad for wasm (idempotent). */
export function registerLinearKernels(): void {
  if (registered) return;
  registered = true;
  for (const [kernelName, kernelFunc] of [
    ['FalignLinear', linearKernel],
    ['FalignLinearGrad', linearGradKernel],
  ] as const) {
    if (tf.getKernel(kernelName, 'wasm') === undefined) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as tf.KernelFunc });
  }
}

/** Whether the single-kernel linear layer runs on the active backend (wasm, float32). */
export function linearKernelAvailable(...ts: tf.Tensor[]): boolean {
  return fusedEnabled() && tf.engine().backendName === 'wasm' && ts.every((t) => t.dtype === 'float32');
}

/** x [N, K] · w [K, M] (+ b) as one kernel. */
export function linearKernel2d(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor2D {
  const inputs: Record<string, tf.Tensor> = { x, w };
  if (b) inputs.bias = b;
  return tf.engine().runKernel('FalignLinear', inputs as tf.NamedTensorMap, {}) as tf.Tensor2D;
}

/** [dx, dW] or [dx, dW, db] of a linear layer as one kernel. */
export function linearGradKernel2d(dy: tf.Tensor, x: tf.Tensor, w: tf.Tensor, bias: boolean): tf.Tensor[] {
  return tf.engine().runKernel('FalignLinearGrad', { dy, x, w } as tf.NamedTensorMap, { bias } as unknown as tf.NamedAttrMap) as tf.Tensor[];
}
