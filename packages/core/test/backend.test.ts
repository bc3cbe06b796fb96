import { describe, expect, it } from 'vitest';
import { DecoderLM, initBackend, backendName, tf, type ModelConfig } from '../src/index.js';

/** Runs `f` on a backend and returns its result as plain arrays (so backends can be compared). */
async function on<T>(name: 'cpu' | 'wasm', f: () => T): Promise<T> {
  await initBackend(name);
  expect(tf.getBackend()).toBe(name);
  return f();
}

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-12);
}

describe('initBackend', () => {
  it('initialises named backends, is idempotent and reports the name', async () => {
    expect(await initBackend('wasm')).toBe('wasm');
    expect(await initBackend('wasm')).toBe('wasm');
    expect(backendName()).toBe('wasm');
    expect(await initBackend('cpu')).toBe('cpu');
    expect(backendName()).toBe('cpu');
  });

  it('fails clearly for unknown or unavailable backends', async () => {
    await expect(initBackend('nope' as never)).rejects.toThrow("unknown tfjs backend 'nope'");
    // tfjs-node is an optional dependency that is not installed here.
    let nodeInstalled = true;
    try {
      await import('@tensorflow/tfjs-node' as string);
    } catch {
      nodeInstalled = false;
    }
    if (!nodeInstalled) await expect(initBackend('tensorflow')).rejects.toThrow("tfjs backend 'tensorflow' failed to initialise");
  });

  it('has gradients registered (tfjs-core alone ships none)', async () => {
    await initBackend('cpu');
    const x = tf.tensor1d([1, 2, 3]);
    const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(v, tf.mul(v, v))))(x);
    expect(Array.from(g.dataSync())).toEqual([3, 12, 27]);
  });
});

describe('wasm fixes', () => {
  it('tf.gather has a gradient on wasm equal to cpu (duplicate indices accumulate)', async () => {
    const run = () =>
      tf.tidy(() => {
        const table = tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8]]);
        const idx = tf.tensor1d([2, 0, 2, 3, 2], 'int32');
        const w = tf.tensor2d([[1, -1], [2, 0.5], [3, 1], [4, 2], [5, -3]]);
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, idx), w)))(table);
        return Array.from(g.dataSync());
      });
    const cpu = await on('cpu', run);
    const wasm = await on('wasm', run);
    expect(cpu).toEqual([2, 0.5, 0, 0, 9, -3, 4, 2]);
    expect(wasm).toEqual(cpu);
  });

  it('batched gather (batchDims = 1) on wasm equals cpu', async () => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor3d(Array.from({ length: 2 * 3 * 4 }, (_, i) => i), [2, 3, 4]);
        const idx = tf.tensor2d([[2, 0, 1], [1, 1, 0]], [2, 3], 'int32');
        return {
          axis1: Array.from(tf.gather(x, idx, 1, 1).dataSync()),
          axis2: Array.from(tf.gather(x, tf.tensor2d([[3, 0], [1, 2]], [2, 2], 'int32'), 2, 1).dataSync()),
        };
      });
    const cpu = await on('cpu', run);
    const wasm = await on('wasm', run);
    expect(cpu.axis1.slice(0, 4)).toEqual([8, 9, 10, 11]);
    expect(wasm).toEqual(cpu);
  });

  it('batched matmul (per-batch XNNPACK path) equals cpu, incl. shared right operand and transposes', async () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[3, 2, 5, 7], [3, 2, 7, 4], false, false],
      [[6, 5, 7], [7, 3], false, false],
      [[4, 5, 7], [1, 7, 3], false, false],
      [[2, 3, 7, 5], [2, 3, 4, 7], true, true],
      [[1, 5, 7], [1, 7, 2], false, false],
    ];
    const run = () =>
      cases.map(([sa, sb, ta, tb], i) =>
        tf.tidy(() => {
          const n = (s: number[], salt: number) =>
            tf.tensor(Array.from({ length: s.reduce((x, y) => x * y, 1) }, (_, j) => Math.sin(j * 0.37 + salt + i)), s);
          return Array.from(tf.matMul(n(sa, 1), n(sb, 2), ta, tb).dataSync());
        }),
      );
    const cpu = await on('cpu', run);
    const wasm = await on('wasm', run);
    cpu.forEach((c, i) => expect(relErr(wasm[i], c), `case ${i}`).toBeLessThan(1e-5));
  });

  it('2-D transposes (blocked path on wasm) equal cpu bit for bit', async () => {
    const shapes: [number, number][] = [[1024, 128], [64, 128], [96, 40], [7, 5], [4096, 8], [128, 1024]];
    const run = () =>
      shapes.map(([r, c]) =>
        tf.tidy(() => {
          const x = tf.tensor2d(Array.from({ length: r * c }, (_, i) => i), [r, c]);
          return Array.from(tf.transpose(x).dataSync());
        }),
      );
    const cpu = await on('cpu', run);
    const wasm = await on('wasm', run);
    expect(cpu[3].slice(0, 6)).toEqual([0, 5, 10, 15, 20, 25]);
    wasm.forEach((w, i) => expect(w, `shape ${shapes[i]}`).toEqual(cpu[i]));
  });

  it.each<[string, ModelConfig]>([
    ['gpt2', { arch: 'gpt2', vocabSize: 29, dModel: 32, nLayers: 2, nHeads: 4, maxSeqLen: 16 }],
    ['llama GQA', { arch: 'llama', vocabSize: 29, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 40, maxSeqLen: 16 }],
  ])('%s: forward + backward on wasm matches cpu', async (_n, cfg) => {
    await initBackend('cpu');
    const model = new DecoderLM(cfg, { seed: 1 });
    const ids = [
      [1, 5, 7, 2, 9, 11, 3, 4],
      [0, 0, 6, 2, 8, 8, 1, 28],
    ];
    const mask = [Array(8).fill(1), [0, 0, 1, 1, 1, 1, 1, 1]];
    const run = () => {
      const { value, grads } = tf.variableGrads(() =>
        tf.tidy(() => {
          const logits = model.forward(tf.tensor2d(ids, [2, 8], 'int32'), { attentionMask: tf.tensor2d(mask) });
          const logp = tf.logSoftmax(logits);
          const tgt = tf.oneHot(tf.tensor2d(ids.map((r) => [...r.slice(1), 0]), [2, 8], 'int32'), cfg.vocabSize);
          return tf.neg(tf.mean(tf.sum(tf.mul(logp, tgt), -1))) as tf.Scalar;
        }),
      );
      const out: Record<string, number[]> = { loss: Array.from(value.dataSync()) };
      for (const v of model.variables()) out[v.name] = Array.from(grads[v.name].dataSync());
      value.dispose();
      Object.values(grads).forEach((g) => g.dispose());
      return out;
    };
    const cpu = await on('cpu', run);
    const wasm = await on('wasm', run);
    expect(Object.keys(wasm)).toEqual(Object.keys(cpu));
    for (const k of Object.keys(cpu)) {
      expect(relErr(wasm[k], cpu[k]), k).toBeLessThan(1e-4);
      expect(cpu[k].some((x) => x !== 0), `${k} has a nonzero gradient`).toBe(true);
    }
    model.dispose();
  });

  it.each<[string, ModelConfig]>([
    ['gpt2', { arch: 'gpt2', vocabSize: 29, dModel: 32, nLayers: 2, nHeads: 4, maxSeqLen: 16 }],
    ['llama GQA', { arch: 'llama', vocabSize: 29, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 40, maxSeqLen: 16 }],
  ])('%s: fused KV decoding (padding mask, positions) on wasm equals the taped cpu forward', async (_n, cfg) => {
    await initBackend('cpu');
    const model = new DecoderLM(cfg, { seed: 2 });
    const ids = [
      [3, 5, 7, 2, 9, 11, 3, 4, 6],
      [0, 0, 6, 2, 8, 8, 1, 28, 13],
    ];
    const pad = [0, 2];
    const B = 2;
    const T = ids[0].length;
    const P = 4; // prompt chunk, then one-token steps
    const mask = pad.map((p) => Array.from({ length: T }, (_, t) => (t < p ? 0 : 1)));
    const pos = pad.map((p) => Array.from({ length: T }, (_, t) => Math.max(0, t - p)));
    // Reference: full forward under the tape (the unfused op-by-op path).
    const ref = await on('cpu', () => {
      let out: number[] = [];
      tf.variableGrads(() => {
        const l = model.forward(tf.tensor2d(ids, [B, T], 'int32'), { attentionMask: tf.tensor2d(mask), positions: tf.tensor2d(pos, [B, T], 'int32') });
        out = Array.from(l.dataSync());
        return tf.sum(l) as tf.Scalar;
      }).value.dispose();
      return out;
    });
    const cols = (m: number[][], a: number, b: number) => m.map((r) => r.slice(a, b));
    const wasm = await on('wasm', () =>
      tf.tidy(() => {
        const cache = model.createCache(B);
        const parts = [
          model.forward(tf.tensor2d(cols(ids, 0, P), [B, P], 'int32'), {
            cache,
            attentionMask: tf.tensor2d(cols(mask, 0, P)),
            positions: tf.tensor2d(cols(pos, 0, P), [B, P], 'int32'),
          }),
        ];
        for (let t = P; t < T; t++) {
          parts.push(
            model.forward(tf.tensor2d(cols(ids, t, t + 1), [B, 1], 'int32'), {
              cache,
              attentionMask: tf.tensor2d(cols(mask, 0, t + 1)),
              positions: tf.tensor2d(cols(pos, t, t + 1), [B, 1], 'int32'),
            }),
          );
        }
        const out = Array.from(tf.concat(parts, 1).dataSync());
        cache.dispose();
        return out;
      }),
    );
    // Rows with padding: only the real positions are compared.
    const real = ref.map((_, i) => Math.floor(i / cfg.vocabSize) % T >= pad[Math.floor(i / (cfg.vocabSize * T))]);
    expect(relErr(wasm.filter((_, i) => real[i]), ref.filter((_, i) => real[i]))).toBeLessThan(1e-5);
    model.dispose();
  });
});
