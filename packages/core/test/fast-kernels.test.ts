/**
 * The fused training kernels (kernels/adamw.ts, ...) against the op-by-op formulas they replace,
 * on wasm and cpu: values, tensor hygiene.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AdamW, CharTokenizer, DecoderLM, generate, geluTanh, globalNorm, initBackend, layerNorm, linear, rmsNorm, Rng, tf } from '../src/index.js';
import { adamwUpdate } from '../src/kernels/adamw.js';
import { fusedAddNorm, fusedDecodeAttn, fusedNorm } from '../src/kernels/fused.js';
import { setLinearHook } from '../src/model/linear-hooks.js';
import { simdAttention } from '../src/kernels/simd/load.js';
import { WASM_BASE64 as ATTENTION_WASM } from '../src/kernels/simd/attention-wasm.js';
import { gemmPoolCounts, gemmThreads, startGemmPool, stopGemmPool } from '../src/kernels/gemm-pool.js';
import { gemmThreadCounts, setSplitPolicy, simdGemmThreads, startGemmThreads, stopGemmThreads } from '../src/kernels/gemm-threads.js';

function randn(rng: Rng, n: number, sd = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * sd);
}

/** The op-by-op AdamW update of train/adamw.ts (the path other backends take). */
function opAdamW(p: tf.Tensor, g: tf.Tensor, m0: tf.Tensor, v0: tf.Tensor, a: { b1: number; b2: number; eps: number; stepSize: number; bc2Sqrt: number; decay: number; gradScale: number }) {
  return tf.tidy(() => {
    const gs = a.gradScale === 1 ? g : tf.mul(g, a.gradScale);
    const m1 = tf.add(tf.mul(m0, a.b1), tf.mul(gs, 1 - a.b1));
    const v1 = tf.add(tf.mul(v0, a.b2), tf.mul(tf.mul(gs, gs), 1 - a.b2));
    const denom = tf.add(tf.div(tf.sqrt(v1), a.bc2Sqrt), a.eps);
    const decayed = a.decay !== 1 ? tf.mul(p, a.decay) : p;
    return [tf.sub(decayed, tf.mul(tf.div(m1, denom), a.stepSize)), m1, v1];
  });
}

describe.each(['wasm', 'cpu'] as const)('FalignAdamW on %s', (backend) => {
  it('equals the op-by-op update to within an ulp over three steps, with decay and gradient scale', async () => {
    await initBackend(backend);
    const rng = new Rng(7);
    const n = 1003; // not a multiple of 4: the SIMD loop and its scalar tail
    let p: tf.Tensor = tf.tensor1d(randn(rng, n));
    let m: tf.Tensor = tf.zeros([n]);
    let v: tf.Tensor = tf.zeros([n]);
    let pf: tf.Tensor = p.clone();
    let mf: tf.Tensor | null = null;
    let vf: tf.Tensor | null = null;
    const before = tf.memory().numTensors;
    for (let t = 1; t <= 3; t++) {
      const g = tf.tensor1d(randn(rng, n, 0.1));
      const attrs = { b1: 0.9, b2: 0.999, eps: 1e-8, stepSize: 1e-3 / (1 - 0.9 ** t), bc2Sqrt: Math.sqrt(1 - 0.999 ** t), decay: 1 - 1e-3 * 0.1, gradScale: t === 2 ? 0.37 : 1 };
      const [p1, m1, v1] = opAdamW(p, g, m, v, attrs);
      const [p2, m2, v2] = adamwUpdate(pf, g, mf, vf, attrs);
      for (const [a, b] of [[p1, p2], [m1, m2], [v1, v2]]) {
        const x = a.dataSync();
        const y = b.dataSync();
        for (let i = 0; i < n; i++) expect(Math.abs(x[i] - y[i])).toBeLessThanOrEqual(2 ** -23 * Math.max(Math.abs(x[i]), 1e-30) * 2);
      }
      tf.dispose([p, m, v, pf, g]);
      mf?.dispose();
      vf?.dispose();
      [p, m, v, pf, mf, vf] = [p1, m1, v1, p2, m2, v2];
    }
    tf.dispose([p, m, v, pf, mf!, vf!]);
    expect(tf.memory().numTensors).toBe(before - 4); // the four made before the loop are gone too
  });

  it('AdamW with gradScale equals AdamW on pre-scaled gradients', async () => {
    await initBackend(backend);
    const rng = new Rng(3);
    const mk = (name: string) => tf.variable(tf.tensor2d(randn(rng, 12), [3, 4]), true, `${backend}-gs-${name}`);
    const [a, b] = [mk('a'), mk('b')];
    b.assign(a);
    const oa = new AdamW([a], { lr: 0.01, weightDecay: 0.5 });
    const ob = new AdamW([b], { lr: 0.01, weightDecay: 0.5 });
    for (let t = 0; t < 2; t++) {
      const g = tf.tensor2d(randn(rng, 12), [3, 4]);
      const scaled = tf.mul(g, 0.25);
      oa.applyGradients({ [a.name]: g }, { gradScale: 0.25 });
      ob.applyGradients({ [b.name]: scaled });
      tf.dispose([g, scaled]);
    }
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    expect(() => oa.applyGradients({ [a.name]: tf.zeros([3, 4]) }, { gradScale: NaN })).toThrow(/gradScale/);
    [oa, ob, a, b].forEach((x) => x.dispose());
  });
});

describe.each(['wasm', 'cpu'] as const)('FalignSumSquares on %s (global gradient norm)', (backend) => {
  it('equals Σ x² in float64 over many tensors of different shapes', async () => {
    await initBackend(backend);
    const rng = new Rng(11);
    const arrays = Array.from({ length: 30 }, (_, i) => randn(rng, 1 + ((i * 7) % 13)));
    const grads: Record<string, tf.Tensor> = {};
    arrays.forEach((a, i) => (grads[`g${i}`] = tf.tensor1d(a)));
    let want = 0;
    for (const a of arrays) for (const x of a) want += x * x;
    const before = tf.memory().numTensors;
    expect(globalNorm(grads)).toBeCloseTo(Math.sqrt(want), 5);
    expect(globalNorm({})).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(grads));
  });
});

describe('FalignLinear / FalignLinearGrad (wasm) against the cpu op path', () => {
  /** y and the gradients of Σ y·u w.r.t. x, w (and b) for random data, as plain arrays. */
  const run = (n: number, k: number, m: number, bias: boolean) => {
    const rng = new Rng(n * 1000 + k * 10 + m);
    const x = tf.tensor2d(randn(rng, n * k), [n, k]);
    const w = tf.tensor2d(randn(rng, k * m), [k, m]);
    const b = tf.tensor1d(randn(rng, m));
    const u = tf.tensor2d(randn(rng, n * m), [n, m]);
    const f = (...a: tf.Tensor[]) => tf.sum(tf.mul(bias ? linear(a[0], a[1], a[2]) : linear(a[0], a[1]), u));
    const y = tf.tidy(() => (bias ? linear(x, w, b) : linear(x, w)).dataSync());
    const g = tf.tidy(() => tf.grads(f)(bias ? [x, w, b] : [x, w]).map((t) => Array.from(t.dataSync())));
    tf.dispose([x, w, b, u]);
    return { y: Array.from(y), g };
  };
  const close = (a: number[], b: number[]) => {
    const scale = Math.max(...b.map(Math.abs), 1e-6);
    a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThan(1e-5 * scale));
  };

  for (const [n, k, m, bias] of [
    [37, 16, 48, true],
    [64, 48, 16, true],
    [20, 24, 24, false],
    // SIMD GEMM edges: rows and columns that fill no 4 × 8 tile, and a sum over more than one
    // 256-row chunk (dW = xᵀ·dy sums over the 300 rows).
    [300, 13, 21, true],
    [9, 300, 35, false],
  ] as const) {
    it(`[${n}×${k}]·[${k}×${m}]${bias ? ' + b' : ''}: values and gradients equal cpu; no tensors leak`, async () => {
      await initBackend('cpu');
      const cpu = run(n, k, m, bias);
      await initBackend('wasm');
      const before = tf.memory().numTensors;
      const wasm = run(n, k, m, bias);
      expect(tf.memory().numTensors).toBe(before);
      close(wasm.y, cpu.y);
      wasm.g.forEach((g, i) => close(g, cpu.g[i]));
      expect(wasm.g).toHaveLength(bias ? 3 : 2);
    });
  }

  it('gradients agree with central finite differences (float64 reference on a small case)', async () => {
    await initBackend('wasm');
    const rng = new Rng(5);
    const [n, k, m] = [3, 4, 5];
    const X = randn(rng, n * k);
    const W = randn(rng, k * m);
    const Bv = randn(rng, m);
    const U = randn(rng, n * m);
    // L(x, w, b) = Σ_ij (x·w + b)_ij · u_ij, so dL/dw_pj = Σ_i x_ip u_ij, dL/dx_ip = Σ_j w_pj u_ij, dL/db_j = Σ_i u_ij.
    const loss = (x: Float32Array, w: Float32Array, b: Float32Array) => {
      let s = 0;
      for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) {
        let y = b[j];
        for (let p = 0; p < k; p++) y += x[i * k + p] * w[p * m + j];
        s += y * U[i * m + j];
      }
      return s;
    };
    const [gx, gw, gb] = tf.tidy(() =>
      tf.grads((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(linear(x, w, b), tf.tensor2d(U, [n, m]))))([
        tf.tensor2d(X, [n, k]),
        tf.tensor2d(W, [k, m]),
        tf.tensor1d(Bv),
      ]).map((t) => t.dataSync()),
    );
    const h = 1e-2; // the loss is linear in each argument, so differences are exact up to rounding
    const fd = (arr: Float32Array, i: number, which: number) => {
      const plus = Float32Array.from(arr);
      const minus = Float32Array.from(arr);
      plus[i] += h;
      minus[i] -= h;
      const args = (a: Float32Array) => (which === 0 ? loss(a, W, Bv) : which === 1 ? loss(X, a, Bv) : loss(X, W, a));
      return (args(plus) - args(minus)) / (2 * h);
    };
    X.forEach((_, i) => expect(gx[i]).toBeCloseTo(fd(X, i, 0), 3));
    W.forEach((_, i) => expect(gw[i]).toBeCloseTo(fd(W, i, 1), 3));
    Bv.forEach((_, i) => expect(gb[i]).toBeCloseTo(fd(Bv, i, 2), 3));
  });
});

describe.each(['wasm', 'cpu'] as const)('training LayerNorm / RMSNorm kernels on %s', (backend) => {
  /** Plain-op norms, differentiated by tfjs autodiff: the reference. */
  const refLn = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, eps: number) => {
    const xc = tf.sub(x, tf.mean(x, -1, true));
    return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(tf.mean(tf.square(xc), -1, true), eps))), g), b);
  };
  const refRms = (x: tf.Tensor, w: tf.Tensor, eps: number) => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), w);

  for (const rms of [false, true]) {
    it(`${rms ? 'RMSNorm' : 'LayerNorm'}: values and gradients match autodiff through plain ops; no leaks`, async () => {
      const rng = new Rng(rms ? 21 : 22);
      const [n, d] = [3 * 7, 24];
      const data = { x: randn(rng, n * d, 2), g: randn(rng, d), b: randn(rng, d), u: randn(rng, n * d) };
      const eps = 1e-5;
      const go = (useRef: boolean) =>
        tf.tidy(() => {
          const x = tf.tensor3d(data.x, [3, 7, d]);
          const g = tf.tensor1d(data.g);
          const b = tf.tensor1d(data.b);
          const u = tf.tensor3d(data.u, [3, 7, d]);
          const f = (...a: tf.Tensor[]) => {
            const y = rms ? (useRef ? refRms(a[0], a[1], eps) : rmsNorm(a[0], a[1], eps)) : useRef ? refLn(a[0], a[1], a[2], eps) : layerNorm(a[0], a[1], a[2], eps);
            return tf.sum(tf.mul(y, u));
          };
          const args = rms ? [x, g] : [x, g, b];
          const { value, grads } = tf.valueAndGrads(f)(args);
          return [value, ...grads].map((t) => Array.from(t.dataSync()));
        });
      await initBackend('cpu');
      const want = go(true);
      await initBackend(backend);
      const before = tf.memory().numTensors;
      const got = go(false);
      expect(tf.memory().numTensors).toBe(before);
      got.forEach((arr, k) => {
        const scale = Math.max(...want[k].map(Math.abs), 1);
        arr.forEach((v, i) => expect(Math.abs(v - want[k][i])).toBeLessThan(2e-5 * scale));
      });
    });
  }
});

describe('SIMD GEMM (assembly/gemm.ts) on wasm', () => {
  it('batched products (attention shapes, a shared right operand, ragged edges, long sums) equal cpu; the XNNPACK path agrees', async () => {
    const cases: [number[], number[]][] = [
      [[4, 4, 64, 32], [4, 4, 32, 64]],
      [[4, 4, 64, 64], [4, 4, 64, 32]],
      [[3, 13, 21], [3, 21, 37]],
      [[5, 9, 300], [300, 11]],
      [[2, 40, 7], [1, 7, 30]],
    ];
    const run = () =>
      cases.map(([sa, sb], i) =>
        tf.tidy(() => {
          const rng = new Rng(i + 1);
          const n = (s: number[]) => tf.tensor(randn(rng, s.reduce((x, y) => x * y, 1)), s);
          return Array.from(tf.matMul(n(sa), n(sb)).dataSync());
        }),
      );
    await initBackend('cpu');
    const cpu = run();
    await initBackend('wasm');
    const before = tf.memory().numTensors;
    const simd = run();
    expect(tf.memory().numTensors).toBe(before);
    const saved = process.env.FALIGN_SIMD_GEMM;
    process.env.FALIGN_SIMD_GEMM = '0';
    let xnn: number[][];
    try {
      xnn = run();
    } finally {
      if (saved === undefined) delete process.env.FALIGN_SIMD_GEMM;
      else process.env.FALIGN_SIMD_GEMM = saved;
    }
    for (const [i, c] of cpu.entries()) {
      const scale = Math.max(...c.map(Math.abs));
      for (const out of [simd[i], xnn[i]]) {
        expect(out).toHaveLength(c.length);
        out.forEach((v, j) => expect(Math.abs(v - c[j]), `case ${i} element ${j}`).toBeLessThan(2e-6 * scale * Math.sqrt(cases[i][0].at(-1)!)));
      }
    }
  });

  it('linear layers give the same values and gradients with and without the SIMD GEMM (float32 tolerance)', async () => {
    await initBackend('wasm');
    const rng = new Rng(17);
    const [n, k, m] = [1024, 128, 384]; // the reference workload's QKV projection
    const x = tf.tensor2d(randn(rng, n * k), [n, k]);
    const w = tf.tensor2d(randn(rng, k * m, 0.1), [k, m]);
    const b = tf.tensor1d(randn(rng, m));
    const u = tf.tensor2d(randn(rng, n * m), [n, m]);
    const run = () =>
      tf.tidy(() => {
        const { value, grads } = tf.valueAndGrads((...a: tf.Tensor[]) => tf.sum(tf.mul(linear(a[0], a[1], a[2]), u)))([x, w, b]);
        return [linear(x, w, b), value, ...grads].map((t) => Array.from(t.dataSync()));
      });
    const simd = run();
    const saved = process.env.FALIGN_SIMD_GEMM;
    process.env.FALIGN_SIMD_GEMM = '0';
    let xnn: number[][];
    try {
      xnn = run();
    } finally {
      if (saved === undefined) delete process.env.FALIGN_SIMD_GEMM;
      else process.env.FALIGN_SIMD_GEMM = saved;
    }
    expect(simd.map((a) => a.length)).toEqual([n * m, 1, n * k, k * m, m]);
    simd.forEach((arr, i) => {
      const scale = xnn[i].reduce((s, v) => Math.max(s, Math.abs(v)), 0);
      const err = arr.reduce((s, v, j) => Math.max(s, Math.abs(v - xnn[i][j])), 0);
      expect(err, `output ${i}`).toBeLessThan(1e-5 * scale);
    });
    tf.dispose([x, w, b, u]);
  });
});

describe('two-thread SIMD products (kernels/gemm-threads.ts)', () => {
  afterAll(async () => {
    setSplitPolicy('auto');
    await stopGemmThreads();
  });

  /** Elements where a and b differ (a cheap failure message before toEqual's diff of ~10^5 floats). */
  const mismatches = (a: Float32Array, b: Float32Array): number => a.reduce((s, v, i) => s + (Object.is(v, b[i]) ? 0 : 1), Math.abs(a.length - b.length));

  /** Runs `f` with FALIGN_THREADS set to `threads` and the split policy `policy`, restoring both. */
  function withThreads<T>(threads: string, policy: 'always' | 'never' | 'auto', f: () => T): T {
    const saved = process.env.FALIGN_THREADS;
    const old = setSplitPolicy(policy);
    process.env.FALIGN_THREADS = threads;
    try {
      return f();
    } finally {
      setSplitPolicy(old);
      if (saved === undefined) delete process.env.FALIGN_THREADS;
      else process.env.FALIGN_THREADS = saved;
    }
  }

  // [tokens, in, out] of a linear layer: the reference workload's products (forward n×k·k×m, dx
  // n×m·m×k, dW = xᵀ·dy with the 1024 tokens summed), and odd edges: rows that are no multiple of
  // 4 (scalar edge rows in both threads' parts, a worker part starting mid-tile in A's columns),
  // columns that are no multiple of 8, and a sum longer than one KC = 256 chunk in each product.
  it.each([
    [1024, 128, 128],
    [1024, 128, 512],
    [1024, 512, 128],
    [1022, 130, 136],
    [1001, 133, 141],
    [333, 301, 259],
  ])('[%i tokens, %i → %i]: forward, dx, dW and db split across two threads equal one thread exactly', async (n, k, m) => {
    await initBackend('wasm');
    expect(await withThreads('2', 'always', () => startGemmThreads())).toBe(true);
    const rng = new Rng(23 + n + k + m);
    const x = tf.tensor2d(randn(rng, n * k), [n, k]);
    const w = tf.tensor2d(randn(rng, k * m, 0.1), [k, m]);
    const b = tf.tensor1d(randn(rng, m));
    const u = tf.tensor2d(randn(rng, n * m), [n, m]);
    const run = () =>
      tf.tidy(() => {
        const { value, grads } = tf.valueAndGrads((...a: tf.Tensor[]) => tf.sum(tf.mul(linear(a[0], a[1], a[2]), u)))([x, w, b]);
        return [linear(x, w, b), value, ...grads].map((t) => t.dataSync() as Float32Array);
      });
    const numTensors = tf.memory().numTensors;
    const before = gemmThreadCounts();
    const split = withThreads('2', 'always', run);
    // Every product here is above the split threshold: forward (twice), dx and dW all split.
    expect(gemmThreadCounts().split - before.split).toBe(4);
    const one = withThreads('1', 'auto', run);
    expect(gemmThreadCounts().split - before.split).toBe(4); // FALIGN_THREADS=1: none split
    expect(tf.memory().numTensors).toBe(numTensors);
    expect(split.map((a) => a.length)).toEqual([n * m, 1, n * k, k * m, m]);
    split.forEach((arr, i) => {
      expect(mismatches(arr, one[i]), `output ${i}: elements that differ`).toBe(0);
      expect(arr, `output ${i}`).toEqual(one[i]);
    });
    tf.dispose([x, w, b, u]);
  });

  it('three AdamW steps of a DecoderLM give bit-identical weights with FALIGN_THREADS=1 and 2', async () => {
    await initBackend('wasm');
    expect(await withThreads('2', 'always', () => startGemmThreads())).toBe(true);
    // dModel 128 over 8 × 128 tokens: the attention and MLP products (1024 × 128 × 384, × 512,
    // 1024 × 512 × 128 and their dx / dW) are above the split threshold.
    const cfg = { arch: 'gpt2' as const, vocabSize: 48, dModel: 128, nLayers: 2, nHeads: 4, maxSeqLen: 128 };
    const [B, S] = [8, 128];
    const rng = new Rng(5);
    const ids = tf.tensor2d(Int32Array.from({ length: B * S }, () => rng.nextInt(cfg.vocabSize)), [B, S], 'int32');
    const targets = tf.tidy(() => tf.oneHot(tf.concat([tf.slice(ids, [0, 1], [B, S - 1]), tf.zeros([B, 1], 'int32')], 1) as tf.Tensor2D, cfg.vocabSize));
    const train = (): Float32Array[] => {
      const model = new DecoderLM(cfg, { seed: 11 });
      const opt = new AdamW(model.namedVariables(), { lr: 1e-2 });
      for (let step = 0; step < 3; step++) {
        const { value, grads } = tf.variableGrads(() => tf.tidy(() => tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(model.forward(ids)), targets), -1))) as tf.Scalar));
        opt.applyGradients(grads);
        value.dispose();
        Object.values(grads).forEach((g) => g.dispose());
      }
      const weights = model.variables().map((v) => v.dataSync() as Float32Array);
      opt.dispose();
      model.dispose();
      return weights;
    };
    const numTensors = tf.memory().numTensors;
    const before = gemmThreadCounts();
    const two = withThreads('2', 'always', train);
    expect(gemmThreadCounts().split).toBeGreaterThan(before.split);
    // The default policy (timed per shape) too: whatever it picks, the numbers are the same.
    const auto = withThreads('2', 'auto', train);
    const one = withThreads('1', 'auto', train);
    expect(tf.memory().numTensors).toBe(numTensors);
    expect(two.length).toBe(one.length);
    for (const [label, run] of [['always split', two], ['auto', auto]] as const) {
      run.forEach((w, i) => {
        expect(mismatches(w, one[i]), `${label}, variable ${i}: elements that differ`).toBe(0);
        expect(w, `${label}, variable ${i}`).toEqual(one[i]);
      });
    }
    tf.dispose([ids, targets]);
  });

  it('threads default to 2 where there are 2 cores; FALIGN_THREADS=1 turns the split off', () => {
    const saved = process.env.FALIGN_THREADS;
    try {
      delete process.env.FALIGN_THREADS;
      expect(simdGemmThreads()).toBe(Math.min(2, availableParallelism()));
      process.env.FALIGN_THREADS = '8';
      expect(simdGemmThreads()).toBe(Math.min(2, availableParallelism()));
    } finally {
      if (saved === undefined) delete process.env.FALIGN_THREADS;
      else process.env.FALIGN_THREADS = saved;
    }
  });

  it('FALIGN_THREADS=1 keeps products on one thread; a bad value is rejected', async () => {
    const saved = process.env.FALIGN_THREADS;
    try {
      process.env.FALIGN_THREADS = '1';
      expect(simdGemmThreads()).toBe(1);
      process.env.FALIGN_THREADS = '0';
      expect(() => simdGemmThreads()).toThrow(/FALIGN_THREADS must be a positive integer, got '0'/);
    } finally {
      if (saved === undefined) delete process.env.FALIGN_THREADS;
      else process.env.FALIGN_THREADS = saved;
    }
  });
});

describe('two-thread products (kernels/gemm-pool.ts)', () => {
  // The split applies to the XNNPACK path only (the SIMD GEMM runs on the calling thread).
  const savedSimd = process.env.FALIGN_SIMD_GEMM;
  beforeAll(() => {
    process.env.FALIGN_SIMD_GEMM = '0';
  });
  afterAll(async () => {
    if (savedSimd === undefined) delete process.env.FALIGN_SIMD_GEMM;
    else process.env.FALIGN_SIMD_GEMM = savedSimd;
    await stopGemmPool();
  });

  it('splits large products across a worker and gets exactly the one-thread result, forward and backward', async () => {
    await initBackend('wasm');
    const saved = process.env.FALIGN_THREADS;
    process.env.FALIGN_THREADS = '2';
    try {
      expect(await startGemmPool()).toBe(true);
      const rng = new Rng(9);
      const [n, k, m] = [64, 256, 512]; // 8.4M multiply-adds: above the split threshold
      const x = tf.tensor2d(randn(rng, n * k), [n, k]);
      const w = tf.tensor2d(randn(rng, k * m), [k, m]);
      const b = tf.tensor1d(randn(rng, m));
      const u = tf.tensor2d(randn(rng, n * m), [n, m]);
      const run = () =>
        tf.tidy(() => {
          const { value, grads } = tf.valueAndGrads((...a: tf.Tensor[]) => tf.sum(tf.mul(linear(a[0], a[1], a[2]), u)))([x, w, b]);
          return [tf.tidy(() => linear(x, w, b)), value, ...grads].map((t) => Array.from(t.dataSync()));
        });
      const before = gemmPoolCounts();
      const split = [run(), run(), run()];
      const after = gemmPoolCounts();
      expect(after.split).toBeGreaterThan(before.split); // the worker took part
      process.env.FALIGN_THREADS = '1';
      const one = run();
      for (const r of split) r.forEach((arr, i) => expect(arr).toEqual(one[i]));
      tf.dispose([x, w, b, u]);
    } finally {
      if (saved === undefined) delete process.env.FALIGN_THREADS;
      else process.env.FALIGN_THREADS = saved;
    }
  });

  it('rejects a bad FALIGN_THREADS', () => {
    const saved = process.env.FALIGN_THREADS;
    process.env.FALIGN_THREADS = 'two';
    try {
      expect(() => gemmThreads()).toThrow(/FALIGN_THREADS/);
    } finally {
      if (saved === undefined) delete process.env.FALIGN_THREADS;
      else process.env.FALIGN_THREADS = saved;
    }
  });
});

describe('GELU kernels (wasm) against the op path on cpu', () => {
  it('values and gradients are equal to float32 rounding, inference and training; no leaks', async () => {
    const rng = new Rng(31);
    const data = randn(rng, 6 * 40, 3);
    const u = randn(rng, 6 * 40);
    const go = () =>
      tf.tidy(() => {
        const x = tf.tensor2d(data, [6, 40]);
        const y = geluTanh(x).dataSync(); // no tape: the inference path
        const { value, grads } = tf.valueAndGrads((a: tf.Tensor) => tf.sum(tf.mul(geluTanh(a), tf.tensor2d(u, [6, 40]))))([x]);
        return [Array.from(y), Array.from(value.dataSync()), Array.from(grads[0].dataSync())];
      });
    await initBackend('cpu');
    const want = go();
    await initBackend('wasm');
    const before = tf.memory().numTensors;
    const got = go();
    expect(tf.memory().numTensors).toBe(before);
    got.forEach((arr, k) => arr.forEach((v, i) => expect(Math.abs(v - want[k][i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want[k][i])))));
    // gelu(0) = 0, gelu'(0) = 1/2; gelu(x) → x for large x.
    expect(tf.tidy(() => Array.from(geluTanh(tf.tensor1d([0, 10])).dataSync()))).toEqual([0, expect.closeTo(10, 5)]);
  });
});

describe('SIMD GELU (assembly/gelu.ts) on wasm', () => {
  it('values and gradients are identical to the op-by-op path on wasm (same float32 roundings; a 3-element tail)', async () => {
    await initBackend('wasm');
    const rng = new Rng(41);
    const [r, c] = [7, 37]; // 259 elements: 64 f32x4 lanes and a scalar tail of 3
    const data = randn(rng, r * c, 3);
    const u = randn(rng, r * c);
    const go = () =>
      tf.tidy(() => {
        const x = tf.tensor2d(data, [r, c]);
        const { value, grads } = tf.valueAndGrads((a: tf.Tensor) => tf.sum(tf.mul(geluTanh(a), tf.tensor2d(u, [r, c]))))([x]);
        return [Array.from(geluTanh(x).dataSync()), Array.from(value.dataSync()), Array.from(grads[0].dataSync())];
      });
    const fused = go();
    const saved = process.env.FALIGN_FUSED;
    process.env.FALIGN_FUSED = '0';
    let ops: number[][];
    try {
      ops = go();
    } finally {
      if (saved === undefined) delete process.env.FALIGN_FUSED;
      else process.env.FALIGN_FUSED = saved;
    }
    expect(fused[0]).toEqual(ops[0]);
    expect(fused[2]).toEqual(ops[2]);
  });
});

describe('SIMD decode attention (assembly/attention.ts) against the JS kernel', () => {
  for (const [label, H, Hkv, rope, maskDtype] of [
    ['gpt2-like, float32 mask', 4, 4, false, 'float32'],
    ['llama-like GQA with RoPE, int32 mask', 4, 2, true, 'int32'],
    ['no mask', 2, 2, false, null],
  ] as const) {
    it(`${label}: same output and the same cache writes (float32 tolerance)`, async () => {
      await initBackend('wasm');
      const rng = new Rng(41);
      const [B, hd, past, C] = [5, 8, 9, 16];
      const S = past + 1;
      const qkvData = randn(rng, B * (H + 2 * Hkv) * hd);
      const kData = randn(rng, B * Hkv * C * hd);
      const vData = randn(rng, B * Hkv * C * hd);
      const maskData = Array.from({ length: B * S }, (_, i) => (i % 7 === 3 ? 0 : 1));
      const tables = { cos: tf.tensor2d(randn(rng, 32 * hd), [32, hd]), sin: tf.tensor2d(randn(rng, 32 * hd), [32, hd]) };
      const run = (fused: boolean) => {
        process.env.FALIGN_FUSED = fused ? '1' : '0';
        try {
          return tf.tidy(() => {
            const k = tf.tensor4d(kData, [B, Hkv, C, hd]);
            const v = tf.tensor4d(vData, [B, Hkv, C, hd]);
            const mask = maskDtype ? tf.tensor2d(maskData, [B, S], maskDtype) : null;
            const pos = tf.tensor1d(Array.from({ length: B }, (_, b) => past + b), 'int32');
            const out = fusedDecodeAttn(tf.tensor2d(qkvData, [B, (H + 2 * Hkv) * hd]), k, v, mask, rope ? { ...tables, pos } : null, { H, Hkv, hd, past });
            return [out, k, v].map((t) => Array.from(t.dataSync()));
          });
        } finally {
          delete process.env.FALIGN_FUSED;
        }
      };
      const js = run(false);
      const before = tf.memory().numTensors;
      const simd = run(true);
      expect(tf.memory().numTensors).toBe(before);
      js.forEach((arr, k) => arr.forEach((x, i) => expect(Math.abs(simd[k][i] - x)).toBeLessThan(2e-6 * Math.max(1, Math.abs(x)))));
      // The kernel wrote the new key row: the cache changed exactly at row `past`.
      expect(simd[1]).not.toEqual(Array.from(kData));
      tf.dispose([tables.cos, tables.sin]);
    });
  }

  it('the committed SIMD module has no data segments and instantiates against tfjs-wasm memory', async () => {
    await initBackend('wasm');
    const mod = new WebAssembly.Module(Buffer.from(ATTENTION_WASM, 'base64'));
    expect(WebAssembly.Module.imports(mod)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    expect(simdAttention(tf.backend())).not.toBeNull();
  });
});

describe('generated SIMD modules', () => {
  // A full recompile (node packages/core/scripts/build-simd.mjs --check) takes seconds per module;
  // the source hash recorded at generation catches an edited source that was not rebuilt.
  it('each src/kernels/simd/*-wasm.ts was generated from the current assembly/*.ts and carries only a memory import', async () => {
    const dir = resolve(__dirname, '../assembly');
    const names = readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, ''));
    expect(names.sort()).toEqual(['attention', 'gelu', 'gemm', 'norm', 'optim']);
    for (const name of names) {
      const mod = (await import(`../src/kernels/simd/${name}-wasm.ts`)) as { SOURCE_SHA256: string; WASM_BASE64: string };
      const sha = createHash('sha256').update(readFileSync(resolve(dir, `${name}.ts`))).digest('hex');
      expect(mod.SOURCE_SHA256, `${name}: run node packages/core/scripts/build-simd.mjs`).toBe(sha);
      const wasm = new WebAssembly.Module(Buffer.from(mod.WASM_BASE64, 'base64'));
      expect(WebAssembly.Module.imports(wasm)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    }
  });
});

describe.each([
  ['gpt2', { arch: 'gpt2' as const, vocabSize: 32, dModel: 32, nLayers: 2, nHeads: 4, maxSeqLen: 24 }, 'transformer.h.1.mlp.c_fc.weight', 128],
  ['llama (GQA, RoPE)', { arch: 'llama' as const, vocabSize: 32, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, maxSeqLen: 24 }, 'model.layers.1.mlp.down_proj.weight', 32],
] as const)('one-dispatch %s decoding block (kernels/decode-layer.ts)', (_name, cfg, hooked, outDim) => {
  it('KV-cache decoding gives the same logits as the per-op fused path and the op-by-op path; adapters respected; no leaks', async () => {
    await initBackend('wasm');
    const model = new DecoderLM(cfg, { seed: 8 });
    const B = 3;
    const prompt = tf.tensor2d([[1, 5, 9, 2], [0, 0, 7, 3], [4, 4, 4, 4]], [B, 4], 'int32');
    const pmask = tf.tensor2d([[1, 1, 1, 1], [0, 0, 1, 1], [1, 1, 1, 1]], [B, 4], 'float32');
    const decode = (mode: 'layer' | 'ops' | 'off') => {
      // 'ops': fused kernels on, block kernel off (a bool mask is cast first, so it is not taken)
      process.env.FALIGN_FUSED = mode === 'off' ? '0' : '1';
      try {
        const cache = model.createCache(B);
        const out: number[][] = [];
        tf.tidy(() => {
          model.forward(prompt, { cache, attentionMask: pmask });
        });
        for (let t = 0; t < 5; t++) {
          const logits = tf.tidy(() => {
            const mask = tf.concat([pmask, tf.ones([B, t + 1])], 1);
            const m = mode === 'ops' ? tf.cast(mask, 'bool') : mask;
            return model.forward(tf.tensor2d([[t + 1], [t + 2], [t + 3]], [B, 1], 'int32'), { cache, attentionMask: m as tf.Tensor2D });
          });
          out.push(Array.from(logits.dataSync()));
          logits.dispose();
        }
        cache.dispose();
        return out;
      } finally {
        delete process.env.FALIGN_FUSED;
      }
    };
    const before = tf.memory().numTensors;
    const layer = decode('layer');
    expect(tf.memory().numTensors).toBe(before);
    const ops = decode('ops');
    const off = decode('off');
    expect(layer).toEqual(ops); // the same kernels, chained directly: bit-identical
    layer.forEach((row, t) => row.forEach((v, i) => expect(Math.abs(v - off[t][i])).toBeLessThan(1e-4)));
    // An adapter hook on one projection: the block kernel steps aside and the hook applies.
    const w = model.namedVariables().get(hooked);
    const bump = tf.keep(tf.fill([1, outDim], 0.25));
    setLinearHook(w!, (x) => tf.tile(bump, [x.shape[0], 1]));
    try {
      const hooked = decode('layer');
      const hookedOff = decode('off');
      expect(hooked).not.toEqual(layer);
      hooked.forEach((row, t) => row.forEach((v, i) => expect(Math.abs(v - hookedOff[t][i])).toBeLessThan(1e-4)));
    } finally {
      setLinearHook(w!, null);
      bump.dispose();
    }
    tf.dispose([prompt, pmask]);
    model.dispose();
  });
});

describe('SIMD inference norm (FalignNorm on wasm) against its JS loop', () => {
  for (const [label, rms, residual] of [
    ['LayerNorm + residual', false, true],
    ['LayerNorm', false, false],
    ['RMSNorm + residual', true, true],
    ['RMSNorm', true, false],
  ] as const) {
    it(`${label}: same sum and output within float32 rounding; no leaks`, async () => {
      await initBackend('wasm');
      const rng = new Rng(rms ? 51 : 52);
      const [n, d] = [6, 20];
      const data = { x: randn(rng, n * d, 3), r: randn(rng, n * d), g: randn(rng, d), b: randn(rng, d) };
      const go = (fused: boolean) => {
        process.env.FALIGN_FUSED = fused ? '1' : '0';
        try {
          return tf.tidy(() => {
            const x = tf.tensor2d(data.x, [n, d]);
            const g = tf.tensor1d(data.g);
            const b = rms ? null : tf.tensor1d(data.b);
            const out = residual ? fusedAddNorm(x, tf.tensor2d(data.r, [n, d]), g, b, 1e-5) : [fusedNorm(x, g, b, 1e-5)];
            return out.map((t) => Array.from(t.dataSync()));
          });
        } finally {
          delete process.env.FALIGN_FUSED;
        }
      };
      const js = go(false);
      const before = tf.memory().numTensors;
      const simd = go(true);
      expect(tf.memory().numTensors).toBe(before);
      simd.forEach((arr, k) => arr.forEach((v, i) => expect(Math.abs(v - js[k][i])).toBeLessThan(2e-6 * Math.max(1, Math.abs(js[k][i])))));
    });
  }
});

describe('wasm Slice / SplitV on heap views (kernels/wasm-fixes.ts) equal cpu', () => {
  it('random shapes, ranges, axes and dtypes (property test)', async () => {
    const cases = fc.sample(
      fc
        .array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 })
        .chain((shape) =>
          fc.record({
            shape: fc.constant(shape),
            begin: fc.tuple(...shape.map((d) => fc.integer({ min: 0, max: d - 1 }))),
            frac: fc.tuple(...shape.map(() => fc.double({ min: 0, max: 1, noNaN: true }))),
            axis: fc.integer({ min: 0, max: shape.length - 1 }),
            dtype: fc.constantFrom('float32' as const, 'int32' as const, 'bool' as const),
          }),
        ),
      { numRuns: 60, seed: 12 },
    );
    const run = () =>
      cases.map(({ shape, begin, frac, axis, dtype }) =>
        tf.tidy(() => {
          const n = shape.reduce((a, b) => a * b, 1);
          const values = Array.from({ length: n }, (_, i) => (dtype === 'bool' ? Number(i % 3 === 0) : dtype === 'int32' ? i * 7 - 11 : i * 0.5 - 3));
          const x = tf.tensor(values, shape, dtype);
          const size = shape.map((d, i) => Math.max(1, Math.round(frac[i] * (d - begin[i]))));
          const sliced = Array.from(tf.slice(x, begin, size).dataSync());
          const parts = tf.split(x, [1, shape[axis] - 1].filter((s) => s > 0), axis).map((t) => Array.from(t.dataSync()));
          return { sliced, parts };
        }),
      );
    await initBackend('cpu');
    const want = run();
    await initBackend('wasm');
    const before = tf.memory().numTensors;
    const got = run();
    expect(tf.memory().numTensors).toBe(before);
    expect(got).toEqual(want);
  });
});

describe('wasm GatherV2 with batchDims = 0 on heap views (kernels/wasm-fixes.ts) equals cpu', () => {
  it('random shapes, axes, index lists (repeats, any order) and dtypes (property test); bad indices throw', async () => {
    const cases = fc.sample(
      fc
        .array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 3 })
        .chain((shape) =>
          fc.integer({ min: 0, max: shape.length - 1 }).chain((axis) =>
            fc.record({
              shape: fc.constant(shape),
              axis: fc.constant(axis),
              idx: fc.array(fc.integer({ min: 0, max: shape[axis] - 1 }), { minLength: 1, maxLength: 30 }),
              dtype: fc.constantFrom('float32' as const, 'int32' as const, 'bool' as const),
            }),
          ),
        ),
      { numRuns: 60, seed: 21 },
    );
    const run = () =>
      cases.map(({ shape, axis, idx, dtype }) =>
        tf.tidy(() => {
          const n = shape.reduce((a, b) => a * b, 1);
          const values = Array.from({ length: n }, (_, i) => (dtype === 'bool' ? Number(i % 3 === 0) : dtype === 'int32' ? i * 7 - 11 : i * 0.5 - 3));
          const g = tf.gather(tf.tensor(values, shape, dtype), tf.tensor1d(idx, 'int32'), axis);
          return { shape: g.shape, values: Array.from(g.dataSync()) };
        }),
      );
    await initBackend('cpu');
    const want = run();
    await initBackend('wasm');
    const before = tf.memory().numTensors;
    const got = run();
    expect(tf.memory().numTensors).toBe(before);
    expect(got).toEqual(want);
    // The reference model's embedding lookup: a [64, 128] table, 1024 token ids (rows of 128 ≥ 16: TypedArray.set).
    const table = tf.tensor2d(Float32Array.from({ length: 64 * 128 }, (_, i) => i), [64, 128]);
    const ids = Array.from({ length: 1024 }, (_, i) => (i * 37) % 64);
    const rows = tf.tidy(() => tf.gather(table, tf.tensor1d(ids, 'int32')).dataSync());
    ids.forEach((id, i) => expect(rows[i * 128 + 5]).toBe(id * 128 + 5));
    expect(() => tf.tidy(() => tf.gather(table, tf.tensor1d([3, 64], 'int32')))).toThrow(/GatherV2: the index value 64 \(indices\[1\]\) is not in \[0, 63\]/);
    table.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('generate() without left padding (no positions or mask passed)', () => {
  it('rows give the same tokens and log-probs as the same rows inside a padded batch', async () => {
    await initBackend('wasm');
    for (const arch of ['gpt2', 'llama'] as const) {
      const model = new DecoderLM({ arch, vocabSize: 16, dModel: 16, nLayers: 2, nHeads: 2, maxSeqLen: 24 }, { seed: 4, trainable: false });
      const tok = new CharTokenizer('abcdefghijklmno'.split(''), { pad: '<pad>' });
      const equal = [[1, 2, 3, 4], [5, 6, 7, 8]];
      const opts = { maxNewTokens: 6, temperature: 1, seed: 3, addBos: false };
      const alone = await generate(model, tok, equal, opts);
      const mixed = await generate(model, tok, [...equal, [9, 10]], opts); // the third row pads the batch
      expect(mixed.slice(0, 2).map((c) => c.tokenIds)).toEqual(alone.map((c) => c.tokenIds));
      mixed.slice(0, 2).forEach((c, i) => c.tokenLogprobs!.forEach((lp, j) => expect(lp).toBeCloseTo(alone[i].tokenLogprobs![j], 5)));
      model.dispose();
    }
  });
});
