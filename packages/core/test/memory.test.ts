import { describe, expect, it } from 'vitest';
import { AdamW, DecoderLM, GradientAccumulator, clipByGlobalNorm, initBackend, tf, type ModelConfig } from '../src/index.js';

const CFG: ModelConfig = { arch: 'llama', vocabSize: 16, dModel: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 24, maxSeqLen: 24 };

describe.each(['cpu', 'wasm'] as const)('no tensor leaks on %s', (backend) => {
  it('KV-cached decoding, forward/hidden and weight exchange leave numTensors unchanged', async () => {
    await initBackend(backend);
    const m = new DecoderLM(CFG, { seed: 1 });
    const ref = m.clone({ trainable: false });
    const start = tf.memory().numTensors;
    for (let round = 0; round < 3; round++) {
      const cache = m.createCache(2);
      // Inside tf.tidy, as a sampler would run it: the cache must keep its tensors alive.
      tf.tidy(() => {
        let mask = tf.tensor2d([[0, 1, 1], [1, 1, 1]]);
        const ids = tf.tensor2d([[0, 3, 4], [5, 6, 7]], [2, 3], 'int32');
        m.forward(ids, { cache, attentionMask: mask, positions: tf.tensor2d([[0, 0, 1], [0, 1, 2]], [2, 3], 'int32') });
        for (let t = 0; t < 4; t++) {
          mask = tf.concat([mask, tf.ones([2, 1])], 1) as tf.Tensor2D;
          m.forward(tf.tensor2d([[t], [t + 1]], [2, 1], 'int32'), { cache, attentionMask: mask });
        }
      });
      expect(cache.length).toBe(7);
      const kv = cache.get(0)!;
      expect(kv.k.isDisposed).toBe(false);
      expect(kv.k.shape).toEqual([2, 2, 7, 4]);
      tf.tidy(() => {
        m.forward(tf.tensor2d([[1], [2]], [2, 1], 'int32'), { cache, attentionMask: tf.ones([2, 8]) as tf.Tensor2D });
        m.hidden(tf.tensor2d([[1, 2]], [1, 2], 'int32'));
        ref.forward(tf.tensor2d([[1]], [1, 1], 'int32'));
      });
      cache.dispose();
      const w = m.getWeights();
      ref.setWeights(w);
      tf.dispose(Object.values(w));
    }
    expect(tf.memory().numTensors).toBe(start);
    m.dispose();
    ref.dispose();
  });

  it('optimizer, clipping and accumulation release everything they create', async () => {
    await initBackend(backend);
    const before = tf.memory().numTensors;
    const m = new DecoderLM(CFG, { seed: 2 });
    const opt = new AdamW(m.namedVariables(), { lr: 1e-3 });
    const acc = new GradientAccumulator();
    const ids = tf.tensor2d([[1, 2, 3, 4]], [1, 4], 'int32');
    for (let i = 0; i < 5; i++) {
      for (let k = 0; k < 2; k++) {
        const { value, grads } = tf.variableGrads(() => tf.mean(m.forward(ids)) as tf.Scalar, m.variables());
        acc.add(grads);
        tf.dispose([value, ...Object.values(grads)]);
      }
      const avg = acc.average();
      const clipped = clipByGlobalNorm(avg, 0.5);
      opt.applyGradients(clipped.grads);
      tf.dispose([...Object.values(avg), ...Object.values(clipped.grads)]);
      acc.reset();
    }
    const state = opt.getState();
    opt.setState(state);
    tf.dispose(Object.values(state.tensors));
    opt.dispose();
    m.dispose();
    ids.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
