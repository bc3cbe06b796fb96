/**
 * falign's WGSL kernels through tfjs-backend-webgpu's custom-program hook (`runWebGPUProgram`).
 * `FalignAdamW`: three programs per parameter (m', v', then p') instead of ~12 elementwise
 * launches; `FalignGelu` / `FalignGeluGrad`: 2 and 1 programs instead of 6 and 9;
 * `FalignNormTrain` / `FalignNormGrad`: 3 and 3–4 instead of ~9 and ~12. Each launch costs about
 * as much as a small kernel's work on a GPU (docs/platform.md: 0.5–1.5 ms through this stack),
 * and AdamW over every parameter was several hundred ms of a step. Same formulas and (for AdamW)
 * operation order as the wasm kernels.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { AdamWAttrs } from './adamw.js';

type Info = tf.TensorInfo;
type Uniform = { type: 'float32' | 'int32'; data: number[] };

/** The subset of tfjs-backend-webgpu's program interface these programs use. */
interface Program {
  variableNames: string[];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  size: boolean;
  uniforms?: string;
  getUserCode(): string;
}

interface WebgpuUtil {
  flatDispatchLayout(shape: number[]): { x: number[] };
  computeDispatch(layout: { x: number[] }, shape: number[], workgroupSize: [number, number, number]): [number, number, number];
}

type WebgpuBackend = { runWebGPUProgram(p: Program, inputs: Info[], dtype: tf.DataType, uniforms?: Uniform[]): Info };

function program(util: WebgpuUtil, shape: number[], key: string, inputs: string[], uniforms: string, body: string, family = 'adamw'): Program {
  const layout = util.flatDispatchLayout(shape);
  const workgroupSize: [number, number, number] = [128, 1, 1];
  return {
    variableNames: inputs,
    outputShape: shape,
    shaderKey: `falign_${family}_${key}`,
    dispatchLayout: layout,
    dispatch: util.computeDispatch(layout, shape, workgroupSize),
    workgroupSize,
    size: true,
    ...(uniforms ? { uniforms } : {}),
    // `main(index)` is tfjs's entry-point header (getMainHeaderString) for flat programs.
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${body}
        }
      }`,
  };
}

const f32 = (data: number[]): Uniform => ({ type: 'float32', data });

/** GELU constants of model/ops.ts, written as WGSL literals. */
const GELU_A = 2 * Math.sqrt(2 / Math.PI);
const GELU_B = GELU_A * 0.044715;
const wgsl = (v: number) => v.toPrecision(9);

/**
 * `FalignGelu` / `FalignGeluGrad` on webgpu (see kernels/gelu.ts for the math): σ, y and the
 * backward each one program, instead of 6 and 9 elementwise launches.
 */
function registerWebgpuGelu(util: WebgpuUtil): void {
  if (tf.getKernel('FalignGelu', 'webgpu') !== undefined) return;
  const gate = `let x = getXByOutputIndex(index); let u = x * (${wgsl(GELU_A)} + ${wgsl(GELU_B)} * (x * x));`;
  tf.registerKernel({
    kernelName: 'FalignGelu',
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const be = backend as unknown as WebgpuBackend;
      const { x } = inputs as { x: Info };
      const s = be.runWebGPUProgram(program(util, x.shape, 'gelu_gate', ['X'], '', `${gate} setOutputAtIndex(index, 1.0 / (1.0 + exp(-u)));`, 'gelu'), [x], 'float32');
      const y = be.runWebGPUProgram(program(util, x.shape, 'gelu_y', ['X', 'S'], '', 'setOutputAtIndex(index, getXByOutputIndex(index) * getSByOutputIndex(index));', 'gelu'), [x, s], 'float32');
      if ((attrs as unknown as { gate: boolean }).gate) return [y, s];
      (be as unknown as { disposeData(id: object): void }).disposeData(s.dataId);
      return [y];
    },
  });
  tf.registerKernel({
    kernelName: 'FalignGeluGrad',
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend }) => {
      const be = backend as unknown as WebgpuBackend;
      const { dy, x, s } = inputs as { dy: Info; x: Info; s: Info };
      const body = `let x = getXByOutputIndex(index); let s = getSByOutputIndex(index);
        let du = x * x * ${wgsl(3 * GELU_B)} + ${wgsl(GELU_A)};
        setOutputAtIndex(index, getDyByOutputIndex(index) * (s + x * (s * (1.0 - s)) * du));`;
      return be.runWebGPUProgram(program(util, x.shape, 'gelu_grad', ['Dy', 'X', 'S'], '', body, 'gelu'), [dy, x, s], 'float32');
    },
  });
}

const i32 = (data: number[]): Uniform => ({ type: 'int32', data });

/**
 * `FalignNormTrain` / `FalignNormGrad` on webgpu (see kernels/norm-train.ts for the math): one
 * thread per row for the row statistics, one per element for the outputs, one per column for
 * dγ/dβ — 3 programs forward and 3–4 backward instead of ~9 and ~12 elementwise launches.
 */
function registerWebgpuNorm(util: WebgpuUtil): void {
  if (tf.getKernel('FalignNormTrain', 'webgpu') !== undefined) return;
  const dims = (x: Info) => {
    const D = x.shape[x.shape.length - 1];
    return { D, N: tf.util.sizeFromShape(x.shape) / D };
  };
  tf.registerKernel({
    kernelName: 'FalignNormTrain',
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const be = backend as unknown as WebgpuBackend;
      const { x, gamma, beta } = inputs as { x: Info; gamma: Info; beta?: Info };
      const { eps, rms } = attrs as unknown as { eps: number; rms: boolean };
      const { D, N } = dims(x);
      const mu = be.runWebGPUProgram(
        program(util, [N], `mu${rms ? '_rms' : ''}`, ['X'], 'd : i32,', rms
          ? // X must be referenced: tfjs binds every input, and an auto layout drops unused ones.
            'let unused = X[index * uniforms.d]; setOutputAtIndex(index, 0.0);'
          : 'var s = 0.0; for (var j = 0; j < uniforms.d; j++) { s += X[index * uniforms.d + j]; } setOutputAtIndex(index, s / f32(uniforms.d));', 'norm'),
        [x], 'float32', [i32([D])]);
      const r = be.runWebGPUProgram(
        program(util, [N], 'r', ['X', 'Mu'], 'd : i32, eps : f32,',
          'let m = Mu[index]; var q = 0.0; for (var j = 0; j < uniforms.d; j++) { let v = X[index * uniforms.d + j] - m; q += v * v; } setOutputAtIndex(index, 1.0 / sqrt(q / f32(uniforms.d) + uniforms.eps));', 'norm'),
        [x, mu], 'float32', [i32([D]), f32([eps])]);
      const names = beta ? ['X', 'Mu', 'R', 'G', 'Bt'] : ['X', 'Mu', 'R', 'G'];
      const y = be.runWebGPUProgram(
        program(util, x.shape, `y${beta ? '_b' : ''}`, names, 'd : i32,',
          `let row = index / uniforms.d; let col = index % uniforms.d; setOutputAtIndex(index, (X[index] - Mu[row]) * R[row] * G[col]${beta ? ' + Bt[col]' : ''});`, 'norm'),
        beta ? [x, mu, r, gamma, beta] : [x, mu, r, gamma], 'float32', [i32([D])]);
      return [y, mu, r];
    },
  });
  tf.registerKernel({
    kernelName: 'FalignNormGrad',
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const be = backend as unknown as WebgpuBackend;
      const { dy, x, mu, r, gamma } = inputs as { dy: Info; x: Info; mu: Info; r: Info; gamma: Info };
      const { rms, bias } = attrs as unknown as { rms: boolean; bias: boolean };
      const { D, N } = dims(x);
      // Per row: mean(dx̂) (0 for RMSNorm) at 2·row, mean(dx̂·x̂) at 2·row + 1.
      const st = be.runWebGPUProgram(
        program(util, [N, 2], `rows${rms ? '_rms' : ''}`, ['Dy', 'X', 'Mu', 'R', 'G'], 'd : i32,', `
          let row = index / 2; let which = index % 2;
          var s = 0.0;
          for (var j = 0; j < uniforms.d; j++) {
            let g = Dy[row * uniforms.d + j] * G[j];
            if (which == 0) { s += g; } else { s += g * (X[row * uniforms.d + j] - Mu[row]) * R[row]; }
          }
          ${rms ? 'if (which == 0) { s = 0.0; }' : ''}
          setOutputAtIndex(index, s / f32(uniforms.d));`, 'norm'),
        [dy, x, mu, r, gamma], 'float32', [i32([D])]);
      const dx = be.runWebGPUProgram(
        program(util, x.shape, 'dx', ['Dy', 'X', 'Mu', 'R', 'G', 'St'], 'd : i32,', `
          let row = index / uniforms.d; let col = index % uniforms.d;
          let xh = (X[index] - Mu[row]) * R[row];
          setOutputAtIndex(index, R[row] * (Dy[index] * G[col] - St[2 * row] - xh * St[2 * row + 1]));`, 'norm'),
        [dy, x, mu, r, gamma, st], 'float32', [i32([D])]);
      (be as unknown as { disposeData(id: object): void }).disposeData(st.dataId);
      const dg = be.runWebGPUProgram(
        program(util, [D], 'dgamma', ['Dy', 'X', 'Mu', 'R'], 'n : i32,', `
          let d = uniforms.size; var s = 0.0;
          for (var row = 0; row < uniforms.n; row++) { s += Dy[row * d + index] * (X[row * d + index] - Mu[row]) * R[row]; }
          setOutputAtIndex(index, s);`, 'norm'),
        [dy, x, mu, r], 'float32', [i32([N])]);
      if (!bias) return [dx, dg];
      const db = be.runWebGPUProgram(
        program(util, [D], 'dbeta', ['Dy'], 'n : i32,', `
          let d = uniforms.size; var s = 0.0;
          for (var row = 0; row < uniforms.n; row++) { s += Dy[row * d + index]; }
          setOutputAtIndex(index, s);`, 'norm'),
        [dy], 'float32', [i32([N])]);
      return [dx, dg, db];
    },
  });
}

/** Registers falign's WGSL kernels (AdamW, GELU, norms) given tfjs-backend-webgpu's `webgpu_util` (idempotent). */
export function registerWebgpuKernels(util: WebgpuUtil): void {
  registerWebgpuGelu(util);
  registerWebgpuNorm(util);
  registerWebgpuAdamW(util);
}

function registerWebgpuAdamW(util: WebgpuUtil): void {
  if (tf.getKernel('FalignAdamW', 'webgpu') !== undefined) return;
  const kernelFunc: tf.KernelFunc = ({ inputs, backend, attrs }) => {
    const be = backend as unknown as WebgpuBackend;
    const { p, g, m, v } = inputs as { p: Info; g: Info; m?: Info; v?: Info };
    const a = attrs as unknown as AdamWAttrs;
    const shape = p.shape;
    const moments = m !== undefined && v !== undefined;
    const mProg = program(util, shape, `m${moments ? 1 : 0}`, moments ? ['G', 'M'] : ['G'], 'gs : f32, b1 : f32, c1 : f32,', moments
      ? 'let gi = getGByOutputIndex(index) * uniforms.gs; setOutputAtIndex(index, getMByOutputIndex(index) * uniforms.b1 + gi * uniforms.c1);'
      : 'let gi = getGByOutputIndex(index) * uniforms.gs; setOutputAtIndex(index, 0.0 * uniforms.b1 + gi * uniforms.c1);');
    const vProg = program(util, shape, `v${moments ? 1 : 0}`, moments ? ['G', 'V'] : ['G'], 'gs : f32, b2 : f32, c2 : f32,', moments
      ? 'let gi = getGByOutputIndex(index) * uniforms.gs; setOutputAtIndex(index, getVByOutputIndex(index) * uniforms.b2 + (gi * gi) * uniforms.c2);'
      : 'let gi = getGByOutputIndex(index) * uniforms.gs; setOutputAtIndex(index, 0.0 * uniforms.b2 + (gi * gi) * uniforms.c2);');
    const pProg = program(util, shape, 'p', ['P', 'M', 'V'], 'decay : f32, bc : f32, eps : f32, ss : f32,',
      'let denom = sqrt(getVByOutputIndex(index)) / uniforms.bc + uniforms.eps; setOutputAtIndex(index, getPByOutputIndex(index) * uniforms.decay - (getMByOutputIndex(index) / denom) * uniforms.ss);');
    const mOut = be.runWebGPUProgram(mProg, moments ? [g, m!] : [g], 'float32', [f32([a.gradScale]), f32([a.b1]), f32([1 - a.b1])]);
    const vOut = be.runWebGPUProgram(vProg, moments ? [g, v!] : [g], 'float32', [f32([a.gradScale]), f32([a.b2]), f32([1 - a.b2])]);
    const pOut = be.runWebGPUProgram(pProg, [p, mOut, vOut], 'float32', [f32([a.decay]), f32([a.bc2Sqrt]), f32([a.eps]), f32([a.stepSize])]);
    return [pOut, mOut, vOut];
  };
  tf.registerKernel({ kernelName: 'FalignAdamW', backendName: 'webgpu', kernelFunc });
}
