import { beforeAll, describe, expect, it } from 'vitest';
import { DecoderLM, initBackend, tf, type ModelConfig } from '../src/index.js';

const GPT: ModelConfig = { arch: 'gpt2', vocabSize: 23, dModel: 16, nLayers: 2, nHeads: 4, maxSeqLen: 16 };
const LLAMA_GQA: ModelConfig = {
  arch: 'llama',
  vocabSize: 19,
  dModel: 16,
  nLayers: 2,
  nHeads: 4,
  nKvHeads: 2,
  dFF: 24,
  maxSeqLen: 16,
  tieEmbeddings: false,
};
const LLAMA_TIED: ModelConfig = { ...LLAMA_GQA, nKvHeads: 4, tieEmbeddings: true };

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

function randomIds(B: number, T: number, V: number, seed: number): tf.Tensor2D {
  let s = seed;
  const ids: number[] = [];
  for (let i = 0; i < B * T; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    ids.push(s % V);
  }
  return tf.tensor2d(ids, [B, T], 'int32');
}

beforeAll(async () => {
  await initBackend('cpu');
});

describe.each([
  ['gpt2', GPT],
  ['llama GQA untied', LLAMA_GQA],
  ['llama tied', LLAMA_TIED],
])('DecoderLM %s', (_name, cfg) => {
  it('KV-cached decoding (prompt chunk then single steps) matches the full forward', () => {
    const m = new DecoderLM(cfg, { seed: 3 });
    const B = 2;
    const T = 9;
    const ids = randomIds(B, T, cfg.vocabSize, 7);
    const full = m.forward(ids);
    const cache = m.createCache(B);
    const parts: tf.Tensor[] = [m.forward(tf.slice(ids, [0, 0], [B, 4]) as tf.Tensor2D, { cache })];
    expect(cache.length).toBe(4);
    for (let t = 4; t < T; t++) parts.push(m.forward(tf.slice(ids, [0, t], [B, 1]) as tf.Tensor2D, { cache }));
    expect(cache.length).toBe(T);
    const stepped = tf.concat(parts, 1);
    expect(stepped.shape).toEqual([B, T, cfg.vocabSize]);
    expect(maxAbsDiff(stepped, full)).toBeLessThan(1e-5);
    cache.dispose();
    m.dispose();
  });

  it('KV cache alternating chunks and single steps matches the full forward; get() returns the cached keys', () => {
    const m = new DecoderLM(cfg, { seed: 8 });
    const B = 2;
    const T = 11;
    const ids = randomIds(B, T, cfg.vocabSize, 9);
    const full = m.forward(ids);
    const cache = m.createCache(B);
    const parts: tf.Tensor[] = [];
    let t = 0;
    for (const n of [3, 1, 1, 2, 1, 1, 2]) {
      parts.push(m.forward(tf.slice(ids, [0, t], [B, n]) as tf.Tensor2D, { cache }));
      t += n;
      const kv = cache.get(1)!;
      expect(kv.k.shape).toEqual([B, cfg.nKvHeads ?? cfg.nHeads, t, cfg.dModel / cfg.nHeads]);
      expect(kv.v.shape).toEqual(kv.k.shape);
    }
    expect(t).toBe(T);
    expect(maxAbsDiff(tf.concat(parts, 1), full)).toBeLessThan(1e-5);
    // Keys of the last layer from the cache equal those of one prefill of the whole sequence.
    const ref = m.createCache(B);
    m.forward(ids, { cache: ref });
    const L = cfg.nLayers - 1;
    expect(maxAbsDiff(cache.get(L)!.k, ref.get(L)!.k)).toBeLessThan(1e-5);
    expect(maxAbsDiff(cache.get(L)!.v, ref.get(L)!.v)).toBeLessThan(1e-5);
    ref.dispose();
    cache.dispose();
    m.dispose();
  });

  it('left-padded rows with attentionMask and positions equal the unpadded single-row forward', () => {
    const m = new DecoderLM(cfg, { seed: 5 });
    const rowA = [3, 1, 4, 1, 5, 9];
    const rowB = [2, 6, 5];
    const pad = 0;
    const T = rowA.length;
    const padN = T - rowB.length;
    const ids = tf.tensor2d([rowA, [...Array(padN).fill(pad), ...rowB]], [2, T], 'int32');
    const mask = tf.tensor2d([Array(T).fill(1), [...Array(padN).fill(0), ...Array(rowB.length).fill(1)]], [2, T], 'int32');
    // Pad positions are arbitrary: give them junk to prove they do not matter.
    const positions = tf.tensor2d([[0, 1, 2, 3, 4, 5], [7, 7, 7, 0, 1, 2]], [2, T], 'int32');
    const batched = m.forward(ids, { attentionMask: mask as tf.Tensor2D, positions: positions as tf.Tensor2D });
    const aliveB = tf.slice(batched, [1, padN, 0], [1, rowB.length, cfg.vocabSize]);
    const singleB = m.forward(tf.tensor2d([rowB], [1, rowB.length], 'int32'));
    expect(maxAbsDiff(aliveB, singleB)).toBeLessThan(1e-5);
    const singleA = m.forward(tf.tensor2d([rowA], [1, T], 'int32'));
    expect(maxAbsDiff(tf.slice(batched, [0, 0, 0], [1, T, cfg.vocabSize]), singleA)).toBeLessThan(1e-5);

    // Same with a KV cache: prompt, then two generated steps with an extended mask.
    const cache = m.createCache(2);
    m.forward(ids, { cache, attentionMask: mask as tf.Tensor2D, positions: positions as tf.Tensor2D });
    const next = tf.tensor2d([[7], [8]], [2, 1], 'int32');
    const mask2 = tf.concat([mask, tf.ones([2, 1], 'int32')], 1) as tf.Tensor2D;
    const pos2 = tf.tensor2d([[T], [rowB.length]], [2, 1], 'int32');
    const step = m.forward(next, { cache, attentionMask: mask2, positions: pos2 });
    const refB = m.forward(tf.tensor2d([[...rowB, 8]], [1, rowB.length + 1], 'int32'));
    expect(
      maxAbsDiff(tf.slice(step, [1, 0, 0], [1, 1, cfg.vocabSize]), tf.slice(refB, [0, rowB.length, 0], [1, 1, cfg.vocabSize])),
    ).toBeLessThan(1e-5);
    cache.dispose();
    m.dispose();
  });

  it('getWeights → setWeights round trip is bit-exact and forward = head(hidden)', () => {
    const a = new DecoderLM(cfg, { seed: 1 });
    const b = new DecoderLM(cfg, { seed: 2 });
    const ids = randomIds(1, 5, cfg.vocabSize, 3);
    const la = a.forward(ids);
    expect(maxAbsDiff(la, b.forward(ids))).toBeGreaterThan(1e-4);
    const w = a.getWeights();
    b.setWeights(w);
    const w2 = b.getWeights();
    expect(Object.keys(w2).sort()).toEqual(Object.keys(w).sort());
    for (const k of Object.keys(w)) expect(Array.from(w2[k].dataSync())).toEqual(Array.from(w[k].dataSync()));
    expect(maxAbsDiff(la, b.forward(ids))).toBe(0);
    const h = b.hidden(ids);
    expect(h.shape).toEqual([1, 5, cfg.dModel]);
    const viaHead = tf.tidy(() => b.head(tf.reshape(h, [5, cfg.dModel])));
    expect(maxAbsDiff(tf.reshape(viaHead, [1, 5, cfg.vocabSize]), la)).toBe(0);
    Object.values(w).forEach((t) => t.dispose());
    Object.values(w2).forEach((t) => t.dispose());
    a.dispose();
    b.dispose();
  });

  it('inference (no tape) and gradient-recording paths compute the same logits', () => {
    const m = new DecoderLM(cfg, { seed: 6 });
    const ids = randomIds(2, 7, cfg.vocabSize, 4);
    const plain = m.forward(ids);
    let taped: tf.Tensor | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const l = m.forward(ids);
      taped = tf.keep(l.clone());
      return tf.sum(l) as tf.Scalar;
    }, m.variables());
    expect(maxAbsDiff(plain, taped!)).toBeLessThan(1e-5);
    tf.dispose([value, taped!, ...Object.values(grads)]);
    m.dispose();
  });

  it('clone(trainable: false) is a frozen copy with the same logits', () => {
    const m = new DecoderLM(cfg, { seed: 4 });
    const ref = m.clone({ trainable: false });
    expect(ref.variables()).toHaveLength(0);
    expect(m.variables().length).toBeGreaterThan(0);
    expect(ref.numParams()).toBe(m.numParams());
    const ids = randomIds(2, 4, cfg.vocabSize, 9);
    expect(maxAbsDiff(ref.forward(ids), m.forward(ids))).toBe(0);
    // Changing the original must not change the clone.
    m.variables()[0].assign(tf.zerosLike(m.variables()[0]));
    expect(maxAbsDiff(ref.forward(ids), m.forward(ids))).toBeGreaterThan(1e-6);
    // Gradients of a loss through both models reach only the trainable one.
    const { value, grads } = tf.variableGrads(() => tf.add(tf.sum(ref.forward(ids)), tf.sum(m.forward(ids))) as tf.Scalar);
    const mNames = m.variables().map((v) => v.name);
    expect(ref.namedVariables().size).toBe(0);
    expect(Object.keys(grads).sort()).toEqual([...mNames].sort());
    value.dispose();
    Object.values(grads).forEach((g) => g.dispose());
    m.dispose();
    ref.dispose();
  });
});

describe('DecoderLM weights and config', () => {
  it('uses Hugging Face names and layouts', () => {
    const g = new DecoderLM(GPT);
    const gs = g.weightShapes();
    expect(gs['transformer.wte.weight']).toEqual([23, 16]);
    expect(gs['transformer.wpe.weight']).toEqual([16, 16]);
    expect(gs['transformer.h.1.attn.c_attn.weight']).toEqual([16, 48]); // Conv1D [in, out]
    expect(gs['transformer.h.0.mlp.c_proj.weight']).toEqual([64, 16]);
    expect(gs['transformer.ln_f.bias']).toEqual([16]);
    expect(gs['lm_head.weight']).toBeUndefined();
    expect(Object.keys(gs)).toHaveLength(2 + 2 * 12 + 2);
    g.dispose();

    const l = new DecoderLM(LLAMA_GQA);
    const ls = l.weightShapes();
    expect(ls['model.layers.0.self_attn.q_proj.weight']).toEqual([16, 16]);
    expect(ls['model.layers.0.self_attn.k_proj.weight']).toEqual([8, 16]); // nn.Linear [out, in]
    expect(ls['model.layers.1.mlp.gate_proj.weight']).toEqual([24, 16]);
    expect(ls['model.layers.1.mlp.down_proj.weight']).toEqual([16, 24]);
    expect(ls['lm_head.weight']).toEqual([19, 16]);
    expect(Object.keys(ls)).toHaveLength(1 + 2 * 9 + 2);
    // numParams counts each HF tensor once.
    const total = Object.values(ls).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
    expect(l.numParams()).toBe(total);
    l.dispose();
  });

  it('setWeights names the bad tensor and the expected shape', () => {
    const m = new DecoderLM(LLAMA_GQA);
    const w = m.getWeights();
    const good = w['model.layers.0.self_attn.k_proj.weight'];
    w['model.layers.0.self_attn.k_proj.weight'] = tf.zeros([16, 8]);
    expect(() => m.setWeights(w)).toThrow("tensor 'model.layers.0.self_attn.k_proj.weight' has shape [16,8], expected [8,16]");
    w['model.layers.0.self_attn.k_proj.weight'].dispose();
    w['model.layers.0.self_attn.k_proj.weight'] = good;
    const norm = w['model.norm.weight'];
    delete w['model.norm.weight'];
    expect(() => m.setWeights(w)).toThrow("missing tensor 'model.norm.weight'");
    w['model.norm.weight'] = norm;
    w['model.extra'] = tf.zeros([1]);
    expect(() => m.setWeights(w)).toThrow("unexpected tensor 'model.extra'");
    Object.values(w).forEach((t) => t.dispose());
    m.dispose();
  });

  it('fills defaults like llama2.c and HF and rejects bad configs', () => {
    const l = new DecoderLM({ arch: 'llama', vocabSize: 10, dModel: 288, nLayers: 1, nHeads: 6, maxSeqLen: 8 });
    expect(l.config).toMatchObject({ nKvHeads: 6, dFF: 768, normEps: 1e-5, ropeTheta: 10000, tieEmbeddings: false });
    l.dispose();
    const g = new DecoderLM(GPT);
    expect(g.config).toMatchObject({ dFF: 64, tieEmbeddings: true, nKvHeads: 4 });
    g.dispose();
    expect(() => new DecoderLM({ ...GPT, nHeads: 5 })).toThrow('not divisible by nHeads 5');
    expect(() => new DecoderLM({ ...LLAMA_GQA, nKvHeads: 3 })).toThrow('nKvHeads');
    expect(() => new DecoderLM({ ...GPT, dModel: 0 })).toThrow('ModelConfig.dModel');
  });

  it('seeded init is reproducible and GPT-2 style', () => {
    const a = new DecoderLM(GPT, { seed: 11 });
    const b = new DecoderLM(GPT, { seed: 11 });
    const wa = a.getWeights();
    const wb = b.getWeights();
    for (const k of Object.keys(wa)) expect(Array.from(wa[k].dataSync())).toEqual(Array.from(wb[k].dataSync()));
    const std = (t: tf.Tensor) => tf.tidy(() => Math.sqrt(tf.moments(t).variance.dataSync()[0]));
    expect(std(wa['transformer.wte.weight'])).toBeCloseTo(0.02, 2);
    expect(std(wa['transformer.h.0.mlp.c_proj.weight'])).toBeCloseTo(0.02 / Math.sqrt(4), 2);
    expect(Array.from(wa['transformer.h.0.ln_1.weight'].dataSync())).toEqual(Array(16).fill(1));
    [wa, wb].forEach((w) => Object.values(w).forEach((t) => t.dispose()));
    a.dispose();
    b.dispose();
  });

  it('rejects bad inputs with clear errors', () => {
    const m = new DecoderLM(GPT);
    expect(() => m.forward(tf.tensor2d([[1, 2]], [1, 2], 'float32'))).toThrow('ids must be int32');
    expect(() => m.forward(tf.zeros([1, 17], 'int32') as tf.Tensor2D)).toThrow('exceeds maxSeqLen 16');
    expect(() => m.forward(tf.zeros([1, 3], 'int32') as tf.Tensor2D, { attentionMask: tf.ones([1, 2]) as tf.Tensor2D })).toThrow(
      'attentionMask must be [1, 3]',
    );
    const cache = m.createCache(2);
    expect(() => m.forward(tf.zeros([1, 3], 'int32') as tf.Tensor2D, { cache })).toThrow('cache was created for batch 2');
    cache.dispose();
    m.dispose();
    expect(() => m.forward(tf.zeros([1, 3], 'int32') as tf.Tensor2D)).toThrow('used after dispose');
  });
});
