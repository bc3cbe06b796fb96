/**
 * LayerNorm / RMSNorm for training as two kernels (wasm and cpu): `FalignNormTrain` returns the
 * output plus the per-row statistics the backward pass needs, `FalignNormGrad` returns dx, dγ
 * (and dβ). The op-by-op path records ~9 forward and ~12 backward ops per norm on the tape; each
 * is a dispatch and a buffer. On wasm (rows a multiple of 4 long) both run in WebAssembly SIMD
 * (assembly/norm.ts, float32 lanes); elsewhere in JS with float64 row statistics and reductions.
 *
 *   LayerNorm: x̂ = (x − μ)·r, r = 1/√(var + eps), y = x̂·γ + β
 *              dx = r·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = dy·γ, dγ = Σ dy·x̂, dβ = Σ dy
 *   RMSNorm:   x̂ = x·r, r = 1/√(mean(x²) + eps), y = x̂·w; dx = r·(dx̂ − x̂·mean(dx̂·x̂)), dw = Σ dy·x̂
 */
import * as tf from '@tensorflow/tfjs-core';
import { fusedIo } from './fused.js';
import { fusedEnabled } from './switch.js';
import { simdNorm } from './simd/load.js';

type Info = tf.TensorInfo;

/** Heap byte offset of a tensor on the wasm backend. */
function offsets(backend: unknown): (t: Info) => number {
  const heap = backend as { dataIdMap: { get(d: object): { memoryOffset: number } } };
  return (t) => heap.dataIdMap.get(t.dataId).memoryOffset;
}

function normTrainKernel(name: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const io = fusedIo(name, backend, inputs);
    const { x, gamma, beta } = inputs as { x: Info; gamma: Info; beta?: Info };
    const { eps, rms } = attrs as unknown as { eps: number; rms: boolean };
    const D = x.shape[x.shape.length - 1];
    const N = tf.util.sizeFromShape(x.shape) / D;
    const yInfo = io.alloc(x.shape, 'float32');
    const muInfo = io.alloc([N], 'float32');
    const rInfo = io.alloc([N], 'float32');
    const simd = name === 'wasm' && D % 4 === 0 ? simdNorm(backend as object) : null;
    if (simd) {
      const off = offsets(backend);
      simd.normForward(off(x), off(gamma), beta ? off(beta) : 0, off(yInfo), off(muInfo), off(rInfo), N, D, eps, rms ? 1 : 0);
      return [yInfo, muInfo, rInfo];
    }
    const X = io.view(x) as Float32Array;
    const Y = io.view(yInfo) as Float32Array;
    const MU = io.view(muInfo) as Float32Array;
    const R = io.view(rInfo) as Float32Array;
    const G = io.view(gamma) as Float32Array;
    const Bt = beta ? (io.view(beta) as Float32Array) : null;
    for (let n = 0; n < N; n++) {
      const o = n * D;
      let mean = 0;
      if (!rms) {
        for (let j = 0; j < D; j++) mean += X[o + j];
        mean /= D;
      }
      let sq = 0;
      for (let j = 0; j < D; j++) {
        const d = X[o + j] - mean;
        sq += d * d;
      }
      const r = 1 / Math.sqrt(sq / D + eps);
      MU[n] = mean;
      R[n] = r;
      if (Bt) for (let j = 0; j < D; j++) Y[o + j] = (X[o + j] - mean) * r * G[j] + Bt[j];
      else for (let j = 0; j < D; j++) Y[o + j] = (X[o + j] - mean) * r * G[j];
    }
    return [yInfo, muInfo, rInfo];
  };
}

function normGradKernel(name: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const io = fusedIo(name, backend, inputs);
    const { dy, x, mu, r, gamma } = inputs as { dy: Info; x: Info; mu: Info; r: Info; gamma: Info };
    const { rms, bias } = attrs as unknown as { rms: boolean; bias: boolean };
    const D = x.shape[x.shape.length - 1];
    const N = tf.util.sizeFromShape(x.shape) / D;
    const dxInfo = io.alloc(x.shape, 'float32');
    const dgInfo = io.alloc([D], 'float32');
    const dbInfo = bias ? io.alloc([D], 'float32') : null;
    const simd = name === 'wasm' && D % 4 === 0 ? simdNorm(backend as object) : null;
    if (simd) {
      const off = offsets(backend);
      simd.normBackward(off(dy), off(x), off(mu), off(r), off(gamma), off(dxInfo), off(dgInfo), dbInfo ? off(dbInfo) : 0, N, D, rms ? 1 : 0);
      return dbInfo ? [dxInfo, dgInfo, dbInfo] : [dxInfo, dgInfo];
    }
    const DY = io.view(dy) as Float32Array;
    const X = io.view(x) as Float32Array;
    const MU = io.view(mu) as Float32Array;
    const R = io.view(r) as Float32Array;
    const G = io.view(gamma) as Float32Array;
    const DX = io.view(dxInfo) as Float32Array;
    const dg = new Float64Array(D);
    const db = new Float64Array(D);
    const xh = new Float64Array(D);
    for (let n = 0; n < N; n++) {
      const o = n * D;
      const mean = rms ? 0 : MU[n];
      const rn = R[n];
      let sumG = 0; // Σ dx̂
      let sumGX = 0; // Σ dx̂·x̂
      for (let j = 0; j < D; j++) {
        const h = (X[o + j] - mean) * rn;
        xh[j] = h;
        const d = DY[o + j];
        const g = d * G[j];
        sumG += g;
        sumGX += g * h;
        dg[j] += d * h;
        db[j] += d;
      }
      const mG = rms ? 0 : sumG / D;
      const mGX = sumGX / D;
      for (let j = 0; j < D; j++) DX[o + j] = rn * (DY[o + j] * G[j] - mG - xh[j] * mGX);
    }
    (io.view(dgInfo) as Float32Array).set(dg);
    if (dbInfo) (io.view(dbInfo) as Float32Array).set(db);
    return dbInfo ? [dxInfo, dgInfo, dbInfo] : [dxInfo, dgInfo];
  };
}

const BACKENDS = ['wasm', 'cpu'];
let registered = false;

/** Registers FalignNormTrain / FalignNormGrad for wasm and cpu (idempotent). */
export function registerNormTrainKernels(): void {
  if (registered) return;
  registered = true;
  for (const backendName of BACKENDS) {
    for (const [kernelName, make] of [
      ['FalignNormTrain', normTrainKernel],
      ['FalignNormGrad', normGradKernel],
    ] as const) {
      if (tf.getKernel(kernelName, backendName) === undefined) tf.registerKernel({ kernelName, backendName, kernelFunc: make(backendName) });
    }
  }
}

/** Whether the training norm kernels run on the active backend (wasm, cpu; webgpu: kernels/webgpu-kernels.ts). */
export function normTrainAvailable(...ts: tf.Tensor[]): boolean {
  const name = tf.engine().backendName;
  return fusedEnabled() && name !== null && tf.getKernel('FalignNormTrain', name) !== undefined && ts.every((t) => t.dtype === 'float32');
}

/** [y, μ [N], r [N]] of a LayerNorm (beta given) or RMSNorm over the last axis of 2-D `x`. */
export function normTrain(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor | null, eps: number): [tf.Tensor, tf.Tensor, tf.Tensor] {
  const inputs: Record<string, tf.Tensor> = { x, gamma };
  if (beta) inputs.beta = beta;
  return tf.engine().runKernel('FalignNormTrain', inputs as tf.NamedTensorMap, { eps, rms: beta === null } as unknown as tf.NamedAttrMap) as [tf.Tensor, tf.Tensor, tf.Tensor];
}

/** [dx, dγ] (+ dβ when `bias`) of {@link normTrain}. */
export function normGrad(dy: tf.Tensor, x: tf.Tensor, mu: tf.Tensor, r: tf.Tensor, gamma: tf.Tensor, rms: boolean, bias: boolean): tf.Tensor[] {
  return tf.engine().runKernel('FalignNormGrad', { dy, x, mu, r, gamma } as tf.NamedTensorMap, { rms, bias } as unknown as tf.NamedAttrMap) as tf.Tensor[];
}
