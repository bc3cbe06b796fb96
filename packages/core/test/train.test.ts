import { beforeAll, describe, expect, it } from 'vitest';
import {
  AdamW,
  clipByGlobalNorm,
  constantLr,
  DecoderLM,
  GradientAccumulator,
  initBackend,
  linearDecayLr,
  NonFiniteGradientError,
  tf,
  trainStep,
  warmupCosineLr,
  countParams,
  type ModelConfig,
} from '../src/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** Mean next-token cross-entropy of `ids` under `model` (targets: ids shifted left, last dropped). */
function lmLoss(model: DecoderLM, ids: number[][]): tf.Scalar {
  return tf.tidy(() => {
    const B = ids.length;
    const T = ids[0].length - 1;
    const inp = tf.tensor2d(ids.map((r) => r.slice(0, T)), [B, T], 'int32');
    const tgt = tf.oneHot(tf.tensor2d(ids.map((r) => r.slice(1)), [B, T], 'int32'), model.config.vocabSize);
    const logp = tf.logSoftmax(model.forward(inp));
    return tf.neg(tf.mean(tf.sum(tf.mul(logp, tgt), -1))) as tf.Scalar;
  });
}

describe('AdamW', () => {
  it('matches the closed-form AdamW update (decay on matrices only)', () => {
    const W = tf.variable(tf.tensor2d([[1, -2], [0.5, 3]]), true, 'adamw-test/W');
    const b = tf.variable(tf.tensor1d([0.1, -0.2]), true, 'adamw-test/b');
    const lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.5;
    const opt = new AdamW([W, b], { lr, beta1: b1, beta2: b2, eps, weightDecay: wd });
    expect(opt.decayedNames()).toEqual(['adamw-test/W']);
    const gradsSeq = [
      { W: [0.2, -0.4, 1.0, 0.0], b: [1, -1] },
      { W: [-0.1, 0.3, 0.5, 2.0], b: [0.5, 0.25] },
    ];
    // Reference in float64.
    const ref = { W: [1, -2, 0.5, 3], b: [0.1, -0.2] };
    const m = { W: [0, 0, 0, 0], b: [0, 0] };
    const v = { W: [0, 0, 0, 0], b: [0, 0] };
    gradsSeq.forEach((g, step) => {
      const t = step + 1;
      for (const k of ['W', 'b'] as const) {
        for (let i = 0; i < ref[k].length; i++) {
          if (k === 'W') ref[k][i] *= 1 - lr * wd;
          m[k][i] = b1 * m[k][i] + (1 - b1) * g[k][i];
          v[k][i] = b2 * v[k][i] + (1 - b2) * g[k][i] ** 2;
          const mh = m[k][i] / (1 - b1 ** t);
          const vh = v[k][i] / (1 - b2 ** t);
          ref[k][i] -= (lr * mh) / (Math.sqrt(vh) + eps);
        }
      }
      const gw = tf.tensor2d(g.W, [2, 2]);
      const gb = tf.tensor1d(g.b);
      opt.applyGradients(new Map<tf.Variable, tf.Tensor>([[W, gw], [b, gb]]));
      gw.dispose();
      gb.dispose();
    });
    expect(opt.step).toBe(2);
    const w = Array.from(W.dataSync());
    const bb = Array.from(b.dataSync());
    w.forEach((x, i) => expect(x).toBeCloseTo(ref.W[i], 5));
    bb.forEach((x, i) => expect(x).toBeCloseTo(ref.b[i], 5));
    // First step of Adam moves each coordinate by ≈ lr·sign(g) (plus decay): a sanity anchor.
    expect(ref.b[0]).toBeLessThan(0.1 - 0.1);
    opt.dispose();
    W.dispose();
    b.dispose();
  });

  it('resumes bit-exactly from getState/setState', () => {
    const cfg: ModelConfig = { arch: 'gpt2', vocabSize: 11, dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 8 };
    const batch = [[1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]];
    const sched = warmupCosineLr({ peak: 1e-2, warmupSteps: 2, totalSteps: 10 });
    const a = new DecoderLM(cfg, { seed: 1 });
    const optA = new AdamW(a.namedVariables(), { lr: sched, weightDecay: 0.1 });
    for (let i = 0; i < 3; i++) trainStep(a, optA, () => lmLoss(a, batch), { clipNorm: 1 });
    const saved = optA.getState();
    const weights = a.getWeights();
    for (let i = 0; i < 2; i++) trainStep(a, optA, () => lmLoss(a, batch), { clipNorm: 1 });

    const b = new DecoderLM(cfg, { seed: 99 });
    b.setWeights(weights);
    const optB = new AdamW(b.namedVariables(), { lr: sched, weightDecay: 0.1 });
    optB.setState(saved);
    expect(optB.step).toBe(3);
    for (let i = 0; i < 2; i++) trainStep(b, optB, () => lmLoss(b, batch), { clipNorm: 1 });
    const wa = a.getWeights();
    const wb = b.getWeights();
    for (const k of Object.keys(wa)) expect(Array.from(wb[k].dataSync()), k).toEqual(Array.from(wa[k].dataSync()));
    expect(() => optB.setState({ step: 1, tensors: { 'nope.exp_avg': tf.zeros([1]) } })).toThrow("unknown state tensor 'nope.exp_avg'");
    for (const o of [saved.tensors, weights, wa, wb]) Object.values(o).forEach((t) => t.dispose());
    [optA, optB].forEach((o) => o.dispose());
    [a, b].forEach((m) => m.dispose());
  });
});

describe('schedules', () => {
  it('have the closed-form values', () => {
    expect(constantLr(3e-4)(1000)).toBe(3e-4);
    const cos = warmupCosineLr({ peak: 1, warmupSteps: 10, totalSteps: 110, minLr: 0.1 });
    expect(cos(0)).toBe(0);
    expect(cos(5)).toBeCloseTo(0.5, 12);
    expect(cos(10)).toBeCloseTo(1, 12);
    expect(cos(60)).toBeCloseTo(0.1 + 0.9 * 0.5, 12); // halfway: cos(π/2) = 0
    expect(cos(85)).toBeCloseTo(0.1 + 0.9 * 0.5 * (1 + Math.cos(0.75 * Math.PI)), 12);
    expect(cos(110)).toBeCloseTo(0.1, 12);
    expect(cos(500)).toBeCloseTo(0.1, 12);
    const lin = linearDecayLr({ peak: 2, warmupSteps: 4, totalSteps: 14 });
    expect(lin(2)).toBe(1);
    expect(lin(4)).toBe(2);
    expect(lin(9)).toBeCloseTo(1, 12);
    expect(lin(14)).toBe(0);
    expect(lin(20)).toBe(0);
    expect(() => warmupCosineLr({ peak: 1, warmupSteps: 20, totalSteps: 10 })).toThrow('warmupSteps 20 exceeds totalSteps 10');
  });
});

describe('clipByGlobalNorm', () => {
  it('reports the pre-clip norm and scales to maxNorm', () => {
    const g = { a: tf.tensor1d([3, 0]), b: tf.tensor2d([[0, 4]]) };
    const clipped = clipByGlobalNorm(g, 1);
    expect(clipped.norm).toBeCloseTo(5, 6);
    expect(Array.from(clipped.grads.a.dataSync())[0]).toBeCloseTo(0.6, 5);
    expect(Array.from(clipped.grads.b.dataSync())[1]).toBeCloseTo(0.8, 5);
    const loose = clipByGlobalNorm(g, 10);
    expect(Array.from(loose.grads.b.dataSync())).toEqual([0, 4]);
    const bad = { a: tf.tensor1d([NaN, 1]) };
    expect(() => clipByGlobalNorm(bad, 1)).toThrow(NonFiniteGradientError);
    for (const o of [g, clipped.grads, loose.grads, bad]) Object.values(o).forEach((t) => t.dispose());
  });
});

describe('gradients of the decoder', () => {
  it('match central finite differences (cpu)', () => {
    const cfg: ModelConfig = { arch: 'llama', vocabSize: 7, dModel: 8, nLayers: 1, nHeads: 2, nKvHeads: 1, dFF: 12, maxSeqLen: 8 };
    for (const arch of ['llama', 'gpt2'] as const) {
      const m = new DecoderLM(arch === 'llama' ? cfg : { ...cfg, arch, nKvHeads: 2, dFF: 16 }, { seed: 2 });
      // Larger weights make the loss curvature (and the gradient) large enough to test in float32.
      for (const v of m.variables()) if (v.rank === 2) v.assign(tf.tidy(() => tf.mul(v, 10)));
      const batch = [[1, 3, 5, 2, 6], [4, 4, 0, 1, 2]];
      const { grads } = tf.variableGrads(() => lmLoss(m, batch), m.variables());
      const h = 1e-2;
      let checked = 0;
      for (const v of m.variables()) {
        const g = grads[v.name].dataSync();
        const vals = v.dataSync().slice();
        // The coordinate with the largest gradient, and one more.
        let best = 0;
        for (let i = 0; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[best])) best = i;
        for (const i of [best, (best + 3) % vals.length]) {
          const at = (delta: number) => {
            const copy = vals.slice();
            copy[i] += delta;
            v.assign(tf.tensor(copy, v.shape));
            const l = lmLoss(m, batch);
            const r = l.dataSync()[0];
            l.dispose();
            return r;
          };
          const fd = (at(h) - at(-h)) / (2 * h);
          v.assign(tf.tensor(vals, v.shape));
          expect(Math.abs(fd - g[i]), `${v.name}[${i}] fd=${fd} grad=${g[i]}`).toBeLessThan(3e-3 + 0.03 * Math.abs(g[i]));
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(10);
      Object.values(grads).forEach((t) => t.dispose());
      m.dispose();
    }
  });
});

describe('GradientAccumulator', () => {
  it('4 micro-batches of 2 equal one batch of 8 (per-device batch × accumulation steps)', () => {
    const cfg: ModelConfig = { arch: 'gpt2', vocabSize: 13, dModel: 16, nLayers: 2, nHeads: 2, maxSeqLen: 8 };
    const m = new DecoderLM(cfg, { seed: 3 });
    const batch = Array.from({ length: 8 }, (_, r) => Array.from({ length: 7 }, (_, t) => (r * 5 + t * 3 + r * t) % 13));
    const full = tf.variableGrads(() => lmLoss(m, batch), m.variables());
    const acc = new GradientAccumulator();
    const before = tf.memory().numTensors;
    for (let k = 0; k < 4; k++) {
      const { value, grads } = tf.variableGrads(() => lmLoss(m, batch.slice(2 * k, 2 * k + 2)), m.variables());
      acc.add(grads);
      value.dispose();
      Object.values(grads).forEach((t) => t.dispose());
    }
    expect(acc.count).toBe(4);
    const avg = acc.average();
    for (const v of m.variables()) {
      const d = tf.tidy(() => tf.max(tf.abs(tf.sub(avg[v.name], full.grads[v.name]))).dataSync()[0]);
      expect(d, v.name).toBeLessThan(1e-5);
    }
    Object.values(avg).forEach((t) => t.dispose());
    acc.reset();
    expect(tf.memory().numTensors).toBe(before);
    expect(acc.count).toBe(0);
    full.value.dispose();
    Object.values(full.grads).forEach((t) => t.dispose());
    m.dispose();
  });
});

describe('training loop', () => {
  it('keeps tf.memory().numTensors flat across 20 steps (AdamW + clip)', () => {
    const cfg: ModelConfig = { arch: 'llama', vocabSize: 13, dModel: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 24, maxSeqLen: 8 };
    const m = new DecoderLM(cfg, { seed: 4 });
    const opt = new AdamW(m.namedVariables(), { lr: 1e-3 });
    const batch = [[1, 2, 3, 4, 5, 6, 7], [7, 6, 5, 4, 3, 2, 1]];
    trainStep(m, opt, () => lmLoss(m, batch), { clipNorm: 1 }); // creates the moments
    const start = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) trainStep(m, opt, () => lmLoss(m, batch), { clipNorm: 1 });
    expect(tf.memory().numTensors).toBe(start);
    expect(countParams(m)).toBe(m.numParams());
    opt.dispose();
    m.dispose();
  });

  it('trains a small GPT from scratch on wasm to copy a random sequence', async () => {
    await initBackend('wasm');
    try {
      // Sequences "x1..x6 SEP x1..x6": the second half is predictable only by attending back.
      const V = 8;
      const SEP = 7;
      const L = 6;
      const cfg: ModelConfig = { arch: 'gpt2', vocabSize: V, dModel: 32, nLayers: 2, nHeads: 2, maxSeqLen: 2 * L + 1 };
      const m = new DecoderLM(cfg, { seed: 0 });
      const opt = new AdamW(m.namedVariables(), { lr: warmupCosineLr({ peak: 3e-3, warmupSteps: 20, totalSteps: 400, minLr: 3e-4 }) });
      let s = 12345;
      const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) >>> 8) % SEP;
      const makeBatch = (B: number) =>
        Array.from({ length: B }, () => {
          const x = Array.from({ length: L }, rnd);
          return [...x, SEP, ...x];
        });
      // Loss only on the copied half (targets at positions L..2L-1 of the shifted sequence).
      const copyLoss = (batch: number[][]) =>
        tf.tidy(() => {
          const B = batch.length;
          const T = 2 * L;
          const inp = tf.tensor2d(batch.map((r) => r.slice(0, T)), [B, T], 'int32');
          const tgt = tf.oneHot(tf.tensor2d(batch.map((r) => r.slice(1)), [B, T], 'int32'), V);
          const nll = tf.neg(tf.sum(tf.mul(tf.logSoftmax(m.forward(inp)), tgt), -1)); // [B, T]
          return tf.mean(tf.slice(nll, [0, L], [B, L])) as tf.Scalar;
        });
      let loss = Infinity;
      let steps = 0;
      const first = copyLoss(makeBatch(32));
      const initial = first.dataSync()[0];
      first.dispose();
      expect(initial).toBeGreaterThan(1.5); // ≈ ln 7 before training
      while (steps < 400 && loss > 0.1) {
        loss = trainStep(m, opt, () => copyLoss(makeBatch(32)), { clipNorm: 1 }).loss;
        steps++;
      }
      const evalLoss = copyLoss(makeBatch(64));
      const held = evalLoss.dataSync()[0];
      evalLoss.dispose();
      if (process.env.FALIGN_DEBUG) console.error(`copy task: ${steps} steps, train loss ${loss}, held-out ${held}`);
      expect(held, `held-out copy loss after ${steps} steps`).toBeLessThan(0.2);
      opt.dispose();
      m.dispose();
    } finally {
      await initBackend('cpu');
    }
  });
});
