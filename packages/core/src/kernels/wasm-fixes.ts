/**
 * Patches for tfjs-backend-wasm 4.22 defects and slow paths (see docs/platform.md):
 *  - `UnsortedSegmentSum` is not registered, so `tf.gather` has no gradient on wasm. A plain JS
 *    kernel is enough: it only runs in the backward pass of embedding lookups.
 *  - `GatherV2` with `batchDims > 0` silently returns wrong values (tfjs issue 8658), and with
 *    `batchDims = 0` it copies one element at a time (2.9 ms for a 1024-token embedding lookup).
 *    The wrapped kernel copies whole slices from heap views (batchDims = 0) and computes batched
 *    gathers in JS.
 *  - `BatchMatMul` with a batch dimension runs a scalar loop (≈1 GFLOP/s) while a single
 *    non-transposed matrix product goes through XNNPACK (≈10× faster). The wrapped kernel runs a
 *    non-transposed batched product with falign's SIMD GEMM (assembly/gemm.ts) over all entries,
 *    or (FALIGN_SIMD_GEMM=0) as one native 2-D product per batch entry on views of the input and
 *    output memory (no copies). Attention's q·kᵀ / p·v are exactly this shape.
 *  - A 2-D `Transpose` is ~10× slower than 4-D ones that move whole rows or small blocks. The
 *    wrapped kernel transposes [R, C] as blocks: [R/b, b, C/b, b] → swap block axes → transpose
 *    each b×b block → reorder, three fast native passes (used by every linear layer's backward).
 *  - `Slice` / `SplitV` copy the whole input out of the heap before slicing it in JS; the wrapped
 *    kernels copy only the selected rows from a heap view (the QKV split of every attention layer).
 */
import * as tf from '@tensorflow/tfjs-core';
import { simdGemm } from './simd/load.js';

type WasmBackendLike = tf.KernelBackend & {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): tf.backend_util.TypedArray;
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } };
  dataIdNextNumber: number;
  wasm: {
    cwrap(name: string, ret: null, args: string[]): (...a: unknown[]) => void;
    tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
  };
};

type NativeBmm = (aId: number, aShape: Uint8Array, aRank: number, bId: number, bShape: Uint8Array, bRank: number, tA: boolean, tB: boolean, outId: number) => void;
let nativeBmm: NativeBmm | null = null;

function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}

/**
 * Non-transposed batched matmul as per-batch native 2-D products on memory views. Returns null
 * when the fast path does not apply (the caller then uses the native kernel).
 */
function batchedMatMulViaViews(be: WasmBackendLike, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 3 || b.shape.length < 2) return null;
  const M = a.shape[a.shape.length - 2];
  const K = a.shape[a.shape.length - 1];
  const N = b.shape[b.shape.length - 1];
  if (b.shape[b.shape.length - 2] !== K) return null;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = tf.util.sizeFromShape(outerA);
  const batchB = tf.util.sizeFromShape(outerB);
  // Only plain equal batches or a shared right operand; other broadcasts use the native kernel.
  if (!(batchB === 1 || outerA.join(',') === outerB.join(','))) return null;
  // Creating an XNNPACK operator per batch entry costs more than tiny products (e.g. one-token
  // decoding, M = 1), which the native loop handles fine.
  if (batchA <= 1 || M < 8 || M * K * N < 8192) return null;
  // (N ≥ 8: narrower products would run in the kernel's scalar edge code; see linear.ts.)
  const simd = process.env.FALIGN_SIMD_GEMM === '0' || N < 8 || K * N > 1 << 20 ? null : simdGemm(be);
  if (simd) {
    // falign's SIMD GEMM over all entries in one call: no XNNPACK operator (and packing of B)
    // per entry and call, 3-4× faster on attention's 64 × [64×64]·[64×32] (measured).
    const out = be.makeOutput([...outerA, M, N], 'float32');
    const off = (t: tf.TensorInfo) => be.dataIdMap.get(t.dataId).memoryOffset;
    simd.gemmNNBatched(off(a), off(b), off(out), batchA, K, M, N, batchB === 1 ? 1 : 0);
    return out;
  }
  nativeBmm ??= be.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']) as NativeBmm;
  const out = be.makeOutput([...outerA, M, N], 'float32');
  const aOff = be.dataIdMap.get(a.dataId).memoryOffset;
  const bOff = be.dataIdMap.get(b.dataId).memoryOffset;
  const oOff = be.dataIdMap.get(out.dataId).memoryOffset;
  const aShape = shapeBytes([1, M, K]);
  const bShape = shapeBytes([1, K, N]);
  const views: number[] = [];
  const view = (offset: number, size: number) => {
    const id = be.dataIdNextNumber++;
    be.wasm.tfjs.registerTensor(id, size, offset);
    views.push(id);
    return id;
  };
  try {
    const bShared = batchB === 1 ? view(bOff, K * N) : -1;
    for (let i = 0; i < batchA; i++) {
      const aId = view(aOff + 4 * i * M * K, M * K);
      const bId = bShared >= 0 ? bShared : view(bOff + 4 * i * K * N, K * N);
      const oId = view(oOff + 4 * i * M * N, M * N);
      nativeBmm(aId, aShape, 3, bId, bShape, 3, false, false, oId);
    }
  } finally {
    // Views own no memory: drop them on the C++ side only (this also frees any XNNPACK operator
    // cached for a view id), never through disposeData, which would free the parent's buffer.
    for (const id of views) be.wasm.tfjs.disposeData(id);
  }
  return out;
}

/**
 * Slice on heap views: tfjs-wasm's `Slice` (and `SplitV`, which calls it) first copies the whole
 * input out of the heap (`readSync`) and then loops in JS; here rows of the last axis are copied
 * straight from a view. Returns null for string tensors (the native kernel handles those).
 */
function sliceViaViews(be: WasmBackendLike, x: tf.TensorInfo, begin: number[], size: number[]): tf.TensorInfo | null {
  if (x.dtype === 'string') return null;
  const [b, sz] = tf.slice_util.parseSliceParams(x as unknown as tf.Tensor, begin, size);
  const out = be.makeOutput(sz, x.dtype);
  const n = tf.util.sizeFromShape(sz);
  if (n === 0) return out;
  // Views after the allocation (it may grow and move the heap).
  const xv = be.typedArrayFromHeap(x);
  const ov = be.typedArrayFromHeap(out);
  const strides = tf.util.computeStrides(x.shape);
  if (tf.slice_util.isSliceContinous(x.shape, b, sz)) {
    const off = tf.slice_util.computeFlatOffset(b, strides);
    ov.set(xv.subarray(off, off + n));
    return out;
  }
  const rank = x.shape.length;
  const last = sz[rank - 1];
  const rows = n / last;
  const idx = new Array<number>(rank - 1).fill(0);
  for (let r = 0; r < rows; r++) {
    let off = b[rank - 1];
    for (let d = 0; d < rank - 1; d++) off += (b[d] + idx[d]) * strides[d];
    ov.set(xv.subarray(off, off + last), r * last);
    for (let d = rank - 2; d >= 0; d--) {
      if (++idx[d] < sz[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

let installed = false;

function numeric(values: tf.backend_util.BackendValues, what: string): ArrayLike<number> {
  if (Array.isArray(values)) throw new Error(`wasm fix: ${what} must be numeric, got string tensor`);
  return values as ArrayLike<number>;
}

const unsortedSegmentSum: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as WasmBackendLike;
  const { x, segmentIds } = inputs as { x: tf.TensorInfo; segmentIds: tf.TensorInfo };
  const numSegments = (attrs as { numSegments: number }).numSegments;
  const idsRank = segmentIds.shape.length;
  if (x.shape.slice(0, idsRank).join(',') !== segmentIds.shape.join(',')) {
    throw new Error(`UnsortedSegmentSum: segmentIds shape [${segmentIds.shape}] must prefix x shape [${x.shape}]`);
  }
  const inner = tf.util.sizeFromShape(x.shape.slice(idsRank));
  const outShape = [numSegments, ...x.shape.slice(idsRank)];
  const out = be.makeOutput(outShape, x.dtype);
  const o = be.typedArrayFromHeap(out);
  o.fill(0);
  const xv = numeric(be.readSync(x.dataId), 'x');
  const ids = numeric(be.readSync(segmentIds.dataId), 'segmentIds');
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i];
    if (s < 0 || s >= numSegments) continue; // TF semantics: out-of-range ids are dropped
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) o[dst + j] += xv[src + j];
  }
  return out;
};

/** Gather with batch dimensions, done in JS (correct where the native kernel is not). */
function batchedGather(
  be: WasmBackendLike,
  x: tf.TensorInfo,
  indices: tf.TensorInfo,
  axis: number,
  batchDims: number,
): tf.TensorInfo {
  const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(
    x as unknown as tf.Tensor,
    indices as unknown as tf.Tensor,
    axis,
    batchDims,
  );
  const out = be.makeOutput(info.outputShape, x.dtype);
  const o = be.typedArrayFromHeap(out);
  const xv = numeric(be.readSync(x.dataId), 'x');
  const iv = numeric(be.readSync(indices.dataId), 'indices');
  const nIdx = iv.length / info.batchSize;
  const { batchSize, outerSize, dimSize, sliceSize } = info;
  for (let b = 0; b < batchSize; b++) {
    for (let outer = 0; outer < outerSize; outer++) {
      for (let i = 0; i < nIdx; i++) {
        const idx = iv[b * nIdx + i];
        if (idx < 0 || idx >= dimSize) throw new Error(`GatherV2: the index value ${idx} is not in [0, ${dimSize - 1}]`);
        const src = ((b * outerSize + outer) * dimSize + idx) * sliceSize;
        const dst = ((b * outerSize + outer) * nIdx + i) * sliceSize;
        for (let j = 0; j < sliceSize; j++) o[dst + j] = xv[src + j];
      }
    }
  }
  return out;
}

/**
 * `batchDims = 0` gather on heap views: whole slices copied with TypedArray.set. tfjs-wasm's
 * native gather moves one element at a time (2.9 ms for the reference model's 1024-token
 * embedding lookup, [64, 128] table; this: ~0.05 ms). Returns null for string tensors.
 */
function gatherViaViews(be: WasmBackendLike, x: tf.TensorInfo, indices: tf.TensorInfo, axis: number): tf.TensorInfo | null {
  if (x.dtype === 'string' || indices.dtype !== 'int32') return null;
  const info = tf.backend_util.segment_util.collectGatherOpShapeInfo(x as unknown as tf.Tensor, indices as unknown as tf.Tensor, axis, 0);
  const out = be.makeOutput(info.outputShape, x.dtype);
  const { outerSize, dimSize, sliceSize } = info;
  // Views after the allocation (it may grow and move the heap).
  const o = be.typedArrayFromHeap(out);
  const xv = be.typedArrayFromHeap(x);
  const iv = be.typedArrayFromHeap(indices);
  const nIdx = iv.length;
  for (let outer = 0; outer < outerSize; outer++) {
    for (let i = 0; i < nIdx; i++) {
      const idx = iv[i];
      if (idx < 0 || idx >= dimSize) {
        be.disposeData(out.dataId, true);
        throw new Error(`GatherV2: the index value ${idx} (indices[${i}]) is not in [0, ${dimSize - 1}]`);
      }
      const src = (outer * dimSize + idx) * sliceSize;
      const dst = (outer * nIdx + i) * sliceSize;
      if (sliceSize >= 16) o.set(xv.subarray(src, src + sliceSize), dst);
      else for (let j = 0; j < sliceSize; j++) o[dst + j] = xv[src + j];
    }
  }
  return out;
}

/** Largest block size dividing both sides, or 0 when a blocked transpose does not apply or pay. */
function transposeBlock(rows: number, cols: number): number {
  if (rows * cols < 4096) return 0;
  for (const b of [64, 32, 16, 8]) if (rows % b === 0 && cols % b === 0) return b;
  return 0;
}

/** 2-D transpose as three block-wise native transposes (see the header); null when not applicable. */
function blockedTranspose2d(native: tf.KernelFunc, be: WasmBackendLike, x: tf.TensorInfo): tf.TensorInfo | null {
  const [R, C] = x.shape;
  const b = transposeBlock(R, C);
  if (b === 0) return null;
  const run = (t: tf.TensorInfo, shape: number[], perm: number[]) =>
    native({ inputs: { x: { dataId: t.dataId, shape, dtype: t.dtype } }, attrs: { perm }, backend: be }) as tf.TensorInfo;
  const t1 = run(x, [R / b, b, C / b, b], [0, 2, 1, 3]); // [R/b, C/b, b(r), b(c)]
  const t2 = run(t1, [R / b, C / b, b, b], [0, 1, 3, 2]); // [R/b, C/b, b(c), b(r)]
  be.disposeData(t1.dataId);
  const t3 = run(t2, [R / b, C / b, b, b], [1, 2, 0, 3]); // [C/b, b(c), R/b, b(r)] = [C, R]
  be.disposeData(t2.dataId);
  return { dataId: t3.dataId, shape: [C, R], dtype: x.dtype };
}

/**
 * Replaces the wasm kernel `name` by `patched(args, native)`, keeping its setup and dispose: the
 * patch takes the fast path where it applies and hands the rest to `native`. No-op when the
 * kernel is not registered.
 */
function patchWasmKernel(name: string, patched: (args: Parameters<tf.KernelFunc>[0], native: tf.KernelFunc) => ReturnType<tf.KernelFunc>): void {
  const kernel = tf.getKernel(name, 'wasm');
  if (kernel === undefined) return;
  const native = kernel.kernelFunc;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({ kernelName: name, backendName: 'wasm', setupFunc: kernel.setupFunc, disposeFunc: kernel.disposeFunc, kernelFunc: (args) => patched(args, native) });
}

/** Registers the wasm patches (idempotent). Called by initBackend once wasm is active. */
export function installWasmFixes(): void {
  if (installed) return;
  installed = true;
  patchWasmKernel('Slice', (args, native) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { begin, size } = args.attrs as unknown as { begin: number[]; size: number[] };
    return sliceViaViews(args.backend as WasmBackendLike, x, begin, size) ?? native(args);
  });
  patchWasmKernel('SplitV', (args, native) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return native(args);
    const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, ax);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[ax] = s;
      const out = sliceViaViews(args.backend as WasmBackendLike, x, [...begin], size)!;
      begin[ax] += s;
      return out;
    });
  });
  if (tf.getKernel('UnsortedSegmentSum', 'wasm') === undefined) {
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum });
  }
  patchWasmKernel('BatchMatMul', (args, native) => {
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) {
      const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
      const fast = batchedMatMulViaViews(args.backend as WasmBackendLike, a, b);
      if (fast !== null) return fast;
    }
    return native(args);
  });
  patchWasmKernel('Transpose', (args, native) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    const { perm } = args.attrs as { perm: number[] };
    if (x.shape.length === 2 && perm[0] === 1 && perm[1] === 0 && x.dtype !== 'string') {
      const fast = blockedTranspose2d(native, args.backend as WasmBackendLike, x);
      if (fast !== null) return fast;
    }
    return native(args);
  });
  patchWasmKernel('GatherV2', (args, native) => {
    const { axis, batchDims } = args.attrs as { axis: number; batchDims: number };
    const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    if (!batchDims) return gatherViaViews(args.backend as WasmBackendLike, x, indices, ax) ?? native(args);
    return batchedGather(args.backend as WasmBackendLike, x, indices, ax, batchDims);
  });
}
