/**
 * Patches for tfjs-backend-wasm 4.22 defects (see docs/platform.md):
 *  - `UnsortedSegmentSum` is not registered, so `tf.gather` has no gradient on wasm. A plain JS
 *    kernel is enough: it only runs in the backward pass of embedding lookups.
 *  - `GatherV2` with `batchDims > 0` silently returns wrong values (tfjs issue 8658). The wrapped
 *    kernel keeps the fast native path for `batchDims = 0` and computes batched gathers in JS.
 */
import * as tf from '@tensorflow/tfjs-core';

type WasmBackendLike = tf.KernelBackend & {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): tf.backend_util.TypedArray;
};

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

/** Registers the wasm patches (idempotent). Called by initBackend once wasm is active. */
export function installWasmFixes(): void {
  if (installed) return;
  installed = true;
  if (tf.getKernel('UnsortedSegmentSum', 'wasm') === undefined) {
    tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum });
  }
  const native = tf.getKernel('GatherV2', 'wasm');
  if (native !== undefined) {
    tf.unregisterKernel('GatherV2', 'wasm');
    tf.registerKernel({
      kernelName: 'GatherV2',
      backendName: 'wasm',
      setupFunc: native.setupFunc,
      disposeFunc: native.disposeFunc,
      kernelFunc: (args) => {
        const { axis, batchDims } = args.attrs as { axis: number; batchDims: number };
        if (!batchDims) return native.kernelFunc(args);
        const { x, indices } = args.inputs as { x: tf.TensorInfo; indices: tf.TensorInfo };
        const ax = tf.util.parseAxisParam(axis, x.shape)[0];
        return batchedGather(args.backend as WasmBackendLike, x, indices, ax, batchDims);
      },
    });
  }
}
