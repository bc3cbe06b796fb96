/**
 * Differentiable building blocks of the decoder, written for tfjs-backend-wasm's fast paths:
 * only plain (non-transposed, 2-D) matMul reaches XNNPACK there, so every matmul here — forward
 * and backward — is reshaped to 2-D and transposed explicitly.
 */
import { tf } from '../backend.js';
import { linearGradKernel2d, linearKernel2d, linearKernelAvailable, registerLinearKernels } from '../kernels/linear.js';
import { normGrad, normTrain, normTrainAvailable, registerNormTrainKernels } from '../kernels/norm-train.js';
import { geluGrad, geluKernelAvailable, geluOnly, geluWithGate, registerGeluKernels } from '../kernels/gelu.js';

registerLinearKernels();
registerNormTrainKernels();
registerGeluKernels();

type T = tf.Tensor;

/**
 * Whether gradients are being recorded (inside tf.grad / variableGrads). Outside, the custom-
 * gradient wrappers are skipped: they only add bookkeeping (one scope and saved tensors per
 * call), which dominates small inference steps such as one-token decoding.
 */
export function recording(): boolean {
  return tf.engine().isTapeOn();
}

/**
 * dW = xᵀ·dy with an explicit transpose of whichever of x [N, in] / dy [N, out] is smaller
 * (large activation transposes are slow on wasm): xᵀ·dy, or (dyᵀ·x)ᵀ when out < in.
 */
function weightGrad(x: tf.Tensor2D, dy: tf.Tensor2D): T {
  return x.shape[1] <= dy.shape[1] ? tf.matMul(tf.transpose(x), dy) : tf.transpose(tf.matMul(tf.transpose(dy), x));
}

/** `x·W` for 2-D `x` [N, in] and `W` [in, out] with an explicit-transpose backward pass. */
const linear2d = tf.customGrad((...args: (T | tf.GradSaveFunc)[]) => {
  const [x, w, save] = args as [T, T, tf.GradSaveFunc];
  const y = tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D);
  save([x, w]);
  return {
    value: y,
    gradFunc: (dy: T, saved: T[]) => {
      const [xs, ws] = saved as tf.Tensor2D[];
      const d = dy as tf.Tensor2D;
      return [tf.matMul(d, tf.transpose(ws)), weightGrad(xs, d)];
    },
  };
});

/** Column sums of a 2-D tensor as a plain matmul (ones·x): far faster on wasm than sum(x, 0). */
export function sumRows(x: T): T {
  const [n, d] = x.shape as [number, number];
  return tf.reshape(tf.matMul(tf.ones([1, n]), x as tf.Tensor2D), [d]);
}

/** `x·W + b` for 2-D `x` (one fused matmul + bias) with an explicit-transpose backward pass. */
const linear2dBias = tf.customGrad((...args: (T | tf.GradSaveFunc)[]) => {
  const [x, w, b, save] = args as [T, T, T, tf.GradSaveFunc];
  const y = tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: b });
  save([x, w]);
  return {
    value: y,
    gradFunc: (dy: T, saved: T[]) => {
      const [xs, ws] = saved as tf.Tensor2D[];
      const d = dy as tf.Tensor2D;
      return [tf.matMul(d, tf.transpose(ws)), weightGrad(xs, d), sumRows(d)];
    },
  };
});

/** `x·W` as one wasm kernel forward and backward (kernels/linear.ts). */
const linear2dKernel = tf.customGrad((...args: (T | tf.GradSaveFunc)[]) => {
  const [x, w, save] = args as [T, T, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: linearKernel2d(x, w),
    gradFunc: (dy: T, saved: T[]) => linearGradKernel2d(dy, saved[0], saved[1], false),
  };
});

/** `x·W + b` as one wasm kernel forward and backward (kernels/linear.ts). */
const linear2dBiasKernel = tf.customGrad((...args: (T | tf.GradSaveFunc)[]) => {
  const [x, w, b, save] = args as [T, T, T, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: linearKernel2d(x, w, b),
    gradFunc: (dy: T, saved: T[]) => linearGradKernel2d(dy, saved[0], saved[1], true),
  };
});

/**
 * Linear map over the last axis: `x` [..., in], `w` [in, out], optional `b` [out] → [..., out].
 * Differentiable in all inputs. On wasm forward and backward are single kernels.
 */
export function linear(x: T, w: T, b?: T): T {
  const inDim = x.shape[x.shape.length - 1];
  if (w.shape[0] !== inDim) throw new Error(`linear: x has ${inDim} features but weight is [${w.shape}]`);
  const lead = x.shape.slice(0, -1);
  const x2 = (x.rank === 2 ? x : tf.reshape(x, [-1, inDim])) as tf.Tensor2D;
  const fast = linearKernelAvailable(x2, w, ...(b ? [b] : []));
  let y2: T;
  if (!recording()) {
    if (fast) y2 = linearKernel2d(x2, w, b);
    else y2 = b === undefined ? tf.matMul(x2, w as tf.Tensor2D) : tf.fused.matMul({ a: x2, b: w as tf.Tensor2D, bias: b });
  } else if (fast) y2 = b === undefined ? linear2dKernel(x2, w) : linear2dBiasKernel(x2, w, b);
  else y2 = b === undefined ? linear2d(x2, w) : linear2dBias(x2, w, b);
  return x.rank === 2 ? y2 : tf.reshape(y2, [...lead, w.shape[1]!]);
}

/** Runs a last-axis op on a 2-D view of `x` and restores the shape. */
function on2d(x: T, f: (x2: T) => T): T {
  if (x.rank === 2) return f(x);
  const d = x.shape[x.shape.length - 1]!;
  return tf.reshape(f(tf.reshape(x, [-1, d])), x.shape);
}

function layerNormParts(x: T, eps: number): { xhat: T; rstd: T } {
  const xc = tf.sub(x, tf.mean(x, -1, true));
  const rstd = tf.rsqrt(tf.add(tf.mean(tf.mul(xc, xc), -1, true), eps));
  return { xhat: tf.mul(xc, rstd), rstd };
}

function rmsNormParts(x: T, eps: number): { xhat: T; r: T } {
  const r = tf.rsqrt(tf.add(tf.mean(tf.mul(x, x), -1, true), eps));
  return { xhat: tf.mul(x, r), r };
}

const layerNorm2d = (eps: number) =>
  tf.customGrad((...args: (T | tf.GradSaveFunc)[]) => {
    const [x, gamma, beta, save] = args as [T, T, T, tf.GradSaveFunc];
    const { xhat, rstd } = layerNormParts(x, eps);
    save([xhat, rstd, gamma]);
    return {
      value: tf.add(tf.mul(xhat, gamma), beta),
      gradFunc: (dy: T, saved: T[]) => {
        const [xh, rs, g] = saved;
        const dxhat = tf.mul(dy, g);
        const inner = tf.sub(tf.sub(dxhat, tf.mean(dxhat, -1, true)), tf.mul(xh, tf.mean(tf.mul(dxhat, xh), -1, true)));
        return [tf.mul(inner, rs), sumRows(tf.mul(dy, xh)), sumRows(dy)];
      },
    };
  });

const rmsNorm2d = (eps: number) =>
  tf.customGrad((...args: (T | tf.GradSaveFunc)[]) => {
    const [x, weight, save] = args as [T, T, tf.GradSaveFunc];
    const { xhat, r } = rmsNormParts(x, eps);
    save([xhat, r, weight]);
    return {
      value: tf.mul(xhat, weight),
      gradFunc: (dy: T, saved: T[]) => {
        const [xh, rr, w] = saved;
        const dxhat = tf.mul(dy, w);
        const dx = tf.mul(tf.sub(dxhat, tf.mul(xh, tf.mean(tf.mul(dxhat, xh), -1, true))), rr);
        return [dx, sumRows(tf.mul(dy, xh))];
      },
    };
  });

/** LayerNorm (with beta) or RMSNorm as two kernels, forward and backward (kernels/norm-train.ts). */
const normKernel2d = (eps: number, withBeta: boolean) =>
  tf.customGrad((...args: (T | tf.GradSaveFunc)[]) => {
    const x = args[0] as T;
    const gamma = args[1] as T;
    const beta = withBeta ? (args[2] as T) : null;
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const [y, mu, r] = normTrain(x, gamma, beta, eps);
    save([x, mu, r, gamma]);
    return {
      value: y,
      gradFunc: (dy: T, saved: T[]) => {
        const [xs, ms, rs, g] = saved;
        return normGrad(dy, xs, ms, rs, g, !withBeta, withBeta);
      },
    };
  });

const kernelNormCache = new Map<string, ReturnType<typeof normKernel2d>>();

function kernelNorm(eps: number, withBeta: boolean): ReturnType<typeof normKernel2d> {
  const key = `${eps}/${withBeta}`;
  let f = kernelNormCache.get(key);
  if (!f) kernelNormCache.set(key, (f = normKernel2d(eps, withBeta)));
  return f;
}

const lnCache = new Map<number, ReturnType<typeof layerNorm2d>>();
const rmsCache = new Map<number, ReturnType<typeof rmsNorm2d>>();

/**
 * LayerNorm over the last axis (biased variance, like PyTorch), with a hand-written backward pass:
 * two kernels on wasm/cpu, ops elsewhere.
 */
export function layerNorm(x: T, gamma: T, beta: T, eps: number): T {
  if (!recording()) return tf.add(tf.mul(layerNormParts(x, eps).xhat, gamma), beta);
  if (normTrainAvailable(x, gamma, beta)) return on2d(x, (x2) => kernelNorm(eps, true)(x2, gamma, beta));
  let f = lnCache.get(eps);
  if (!f) lnCache.set(eps, (f = layerNorm2d(eps)));
  return on2d(x, (x2) => f(x2, gamma, beta));
}

/** RMSNorm over the last axis (HF LlamaRMSNorm: x · rsqrt(mean(x²) + eps) · w). */
export function rmsNorm(x: T, weight: T, eps: number): T {
  if (!recording()) return tf.mul(rmsNormParts(x, eps).xhat, weight);
  if (normTrainAvailable(x, weight)) return on2d(x, (x2) => kernelNorm(eps, false)(x2, weight));
  let f = rmsCache.get(eps);
  if (!f) rmsCache.set(eps, (f = rmsNorm2d(eps)));
  return on2d(x, (x2) => f(x2, weight));
}

// gelu_new(x) = ½x(1 + tanh(c(x + 0.044715x³))) = x·σ(x(A + B·x²)) with A = 2c, B = 2c·0.044715:
// the same function, but sigmoid is cheaper than tanh on wasm, and the backward pass is one
// closed-form expression instead of autodiff through a dozen ops.
const GELU_A = 2 * Math.sqrt(2 / Math.PI);
const GELU_B = GELU_A * 0.044715;

function geluGate(x: T, x2: T): T {
  return tf.sigmoid(tf.mul(x, tf.add(tf.mul(x2, GELU_B), GELU_A)));
}

const geluCustom = tf.customGrad((...args: (T | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [T, tf.GradSaveFunc];
  const x2 = tf.mul(x, x);
  const s = geluGate(x, x2);
  save([x, x2, s]);
  return {
    value: tf.mul(x, s),
    gradFunc: (dy: T, saved: T[]) => {
      const [xs, xx, ss] = saved;
      // d/dx x·σ(u) = σ + x·σ(1−σ)·u',  u' = A + 3B·x²
      const du = tf.add(tf.mul(xx, 3 * GELU_B), GELU_A);
      const d = tf.add(ss, tf.mul(tf.mul(xs, tf.mul(ss, tf.sub(1, ss))), du));
      return tf.mul(dy, d);
    },
  };
});

/** The same GELU as two wasm kernels, forward and backward (kernels/gelu.ts). */
const geluKernelCustom = tf.customGrad((...args: (T | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [T, tf.GradSaveFunc];
  const [y, s] = geluWithGate(x);
  save([x, s]);
  return { value: y, gradFunc: (dy: T, saved: T[]) => geluGrad(dy, saved[0], saved[1]) };
});

/** GPT-2's tanh-approximated GELU (HF `gelu_new`). */
export function geluTanh(x: T): T {
  const fast = geluKernelAvailable(x);
  if (!recording()) return fast ? geluOnly(x) : tf.mul(x, geluGate(x, tf.mul(x, x)));
  return fast ? geluKernelCustom(x) : geluCustom(x);
}

/** SiLU (swish): x·σ(x). */
export function silu(x: T): T {
  return tf.mul(x, tf.sigmoid(x));
}
