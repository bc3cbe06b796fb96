/**
 * GPT-2's tanh GELU as single kernels on wasm, written as x·σ(x(A + B·x²)) (model/ops.ts):
 * `FalignGelu` (y, and σ for the backward pass) and `FalignGeluGrad` (dy·(σ + x·σ(1−σ)·(A + 3B·x²))).
 * The arithmetic around tfjs-wasm's Sigmoid is one WebAssembly SIMD pass (assembly/gelu.ts) that
 * rounds each step as the op-by-op path does (identical results); without the SIMD module it
 * chains tfjs-wasm's own elementwise kernels on TensorInfos. Either way the op path's 6 (forward)
 * and 9 (backward) engine dispatches become one.
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedEnabled } from './switch.js';
import { simdGelu } from './simd/load.js';

type Info = tf.TensorInfo;
type WasmBackend = tf.KernelBackend & {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): Float32Array;
  disposeData(dataId: object, force?: boolean): boolean;
  dataIdMap: { get(dataId: object): { memoryOffset: number } };
};

const offsetOf = (be: WasmBackend, t: Info): number => be.dataIdMap.get(t.dataId).memoryOffset;
const sizeOf = (t: Info): number => t.shape.reduce((a, b) => a * b, 1);

/** GELU constants: A = 2·√(2/π), B = A·0.044715 (see model/ops.ts). */
export const GELU_A = 2 * Math.sqrt(2 / Math.PI);
export const GELU_B = GELU_A * 0.044715;

/** Scalar constants living in one wasm backend's heap (made once, never freed: a few bytes). */
const scalars = new WeakMap<object, Map<number, Info>>();

function scalar(be: WasmBackend, v: number): Info {
  let m = scalars.get(be);
  if (!m) scalars.set(be, (m = new Map()));
  let s = m.get(v);
  if (!s) {
    s = be.makeOutput([], 'float32');
    be.typedArrayFromHeap(s)[0] = v;
    m.set(v, s);
  }
  return s;
}

function op(be: WasmBackend, name: string, inputs: Record<string, Info>): Info {
  return tf.getKernel(name, 'wasm')!.kernelFunc({ inputs, backend: be, attrs: {} }) as Info;
}

const free = (be: WasmBackend, ...ts: Info[]) => ts.forEach((t) => be.disposeData(t.dataId, true));

/** [y, σ] (or [y] without attr `gate`) with y = x·σ(x(A + B·x²)). */
function geluKernel({ inputs, backend, attrs }: Parameters<tf.KernelFunc>[0]): Info[] {
  const be = backend as WasmBackend;
  const { x } = inputs as { x: Info };
  const simd = simdGelu(be);
  let u: Info;
  if (simd) {
    u = be.makeOutput(x.shape, 'float32');
    simd.geluArg(offsetOf(be, x), offsetOf(be, u), sizeOf(x), GELU_A, GELU_B);
  } else {
    const x2 = op(be, 'Multiply', { a: x, b: x });
    const t1 = op(be, 'Multiply', { a: x2, b: scalar(be, GELU_B) });
    const t2 = op(be, 'Add', { a: t1, b: scalar(be, GELU_A) });
    u = op(be, 'Multiply', { a: x, b: t2 });
    free(be, x2, t1, t2);
  }
  const s = op(be, 'Sigmoid', { x: u });
  const y = op(be, 'Multiply', { a: x, b: s });
  free(be, u);
  if ((attrs as unknown as { gate: boolean }).gate) return [y, s];
  free(be, s);
  return [y];
}

/** dx = dy·(σ + x·σ(1−σ)·(A + 3B·x²)). */
function geluGradKernel({ inputs, backend }: Parameters<tf.KernelFunc>[0]): Info {
  const be = backend as WasmBackend;
  const { dy, x, s } = inputs as { dy: Info; x: Info; s: Info };
  const simd = simdGelu(be);
  if (simd) {
    const dx = be.makeOutput(x.shape, 'float32');
    simd.geluGrad(offsetOf(be, dy), offsetOf(be, x), offsetOf(be, s), offsetOf(be, dx), sizeOf(x), GELU_A, 3 * GELU_B);
    return dx;
  }
  const x2 = op(be, 'Multiply', { a: x, b: x });
  const t1 = op(be, 'Multiply', { a: x2, b: scalar(be, 3 * GELU_B) });
  const du = op(be, 'Add', { a: t1, b: scalar(be, GELU_A) });
  const oneMinus = op(be, 'Sub', { a: scalar(be, 1), b: s });
  const ss = op(be, 'Multiply', { a: s, b: oneMinus });
  const xss = op(be, 'Multiply', { a: x, b: ss });
  const t2 = op(be, 'Multiply', { a: xss, b: du });
  const d = op(be, 'Add', { a: s, b: t2 });
  const dx = op(be, 'Multiply', { a: dy, b: d });
  free(be, x2, t1, du, oneMinus, ss, xss, t2, d);
  return dx;
}

let registered = false;

/** Registers FalignGelu / FalignGeluGrad for wasm (idempotent). */
export function registerGeluKernels(): void {
  if (registered) return;
  registered = true;
  for (const [kernelName, kernelFunc] of [
    ['FalignGelu', geluKernel],
    ['FalignGeluGrad', geluGradKernel],
  ] as const) {
    if (tf.getKernel(kernelName, 'wasm') === undefined) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as tf.KernelFunc });
  }
}

/** Whether the GELU kernels run on the active backend (wasm here; webgpu: kernels/webgpu-kernels.ts). */
export function geluKernelAvailable(x: tf.Tensor): boolean {
  const name = tf.engine().backendName;
  return fusedEnabled() && x.dtype === 'float32' && name !== null && tf.getKernel('FalignGelu', name) !== undefined;
}

/** [y, σ] of the tanh GELU as one kernel (σ is what the backward pass needs). */
export function geluWithGate(x: tf.Tensor): [tf.Tensor, tf.Tensor] {
  return tf.engine().runKernel('FalignGelu', { x } as tf.NamedTensorMap, { gate: true } as unknown as tf.NamedAttrMap) as [tf.Tensor, tf.Tensor];
}

/** The tanh GELU as one kernel. */
export function geluOnly(x: tf.Tensor): tf.Tensor {
  return (tf.engine().runKernel('FalignGelu', { x } as tf.NamedTensorMap, { gate: false } as unknown as tf.NamedAttrMap) as tf.Tensor[])[0];
}

/** dx of the tanh GELU as one kernel. */
export function geluGrad(dy: tf.Tensor, x: tf.Tensor, s: tf.Tensor): tf.Tensor {
  return tf.engine().runKernel('FalignGeluGrad', { dy, x, s } as tf.NamedTensorMap, {}) as tf.Tensor;
}
