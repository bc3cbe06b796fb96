import { beforeAll, describe, expect, it } from 'vitest';
import { AdamW, bradleyTerryLoss, initBackend, ScalarRewardModel, tf, trainStep, type ModelConfig } from '../src/index.js';

const CFG: ModelConfig = { arch: 'llama', vocabSize: 12, dModel: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 24, maxSeqLen: 16 };

beforeAll(async () => {
  await initBackend('cpu');
});

describe('ScalarRewardModel', () => {
  it('scores the last real token regardless of padding side', () => {
    const rm = new ScalarRewardModel(CFG, { seed: 1 });
    const rows = [[1, 5, 7, 2], [3, 9]];
    const alone = rows.map((r) => rm.score(tf.tensor2d([r], [1, r.length], 'int32'), tf.ones([1, r.length]) as tf.Tensor2D).dataSync()[0]);
    const left = rm.score(tf.tensor2d([[1, 5, 7, 2], [0, 0, 3, 9]], [2, 4], 'int32'), tf.tensor2d([[1, 1, 1, 1], [0, 0, 1, 1]])).dataSync();
    const right = rm.score(tf.tensor2d([[1, 5, 7, 2], [3, 9, 0, 0]], [2, 4], 'int32'), tf.tensor2d([[1, 1, 1, 1], [1, 1, 0, 0]])).dataSync();
    for (let i = 0; i < 2; i++) {
      expect(left[i]).toBeCloseTo(alone[i], 5);
      expect(right[i]).toBeCloseTo(alone[i], 5);
    }
    // The score is the head applied to the backbone's last hidden state.
    const h = rm.backbone.hidden(tf.tensor2d([rows[0]], [1, 4], 'int32'));
    const w = rm.getWeights();
    const manual = tf.sum(tf.mul(tf.slice(h, [0, 3, 0], [1, 1, 16]), tf.reshape(w['score.weight'], [1, 1, 16]))).dataSync()[0];
    expect(alone[0]).toBeCloseTo(manual, 5);
    Object.values(w).forEach((t) => t.dispose());
    rm.dispose();
  });

  it('round-trips weights with an HF score.weight [1, D] and clones frozen', () => {
    const a = new ScalarRewardModel(CFG, { seed: 1 });
    const b = new ScalarRewardModel(CFG, { seed: 2 });
    const w = a.getWeights();
    expect(w['score.weight'].shape).toEqual([1, 16]);
    b.setWeights(w);
    const ids = tf.tensor2d([[1, 2, 3]], [1, 3], 'int32');
    const mask = tf.ones([1, 3]) as tf.Tensor2D;
    expect(b.score(ids, mask).dataSync()[0]).toBe(a.score(ids, mask).dataSync()[0]);
    const frozen = a.clone({ trainable: false });
    expect(frozen.variables()).toHaveLength(0);
    expect(frozen.score(ids, mask).dataSync()[0]).toBe(a.score(ids, mask).dataSync()[0]);
    w['score.weight'].dispose();
    w['score.weight'] = tf.zeros([16]);
    expect(() => b.setWeights(w)).toThrow("'score.weight' has shape [16], expected [1,16]");
    Object.values(w).forEach((t) => t.dispose());
    [a, b, frozen].forEach((m) => m.dispose());
  });

  it('bradleyTerryLoss = mean −log σ(c − r) and is stable for large margins', () => {
    const l = bradleyTerryLoss(tf.tensor1d([2, 0, 100]), tf.tensor1d([0, 0, -100])).dataSync()[0];
    const ref = (Math.log1p(Math.exp(-2)) + Math.log(2) + 0) / 3;
    expect(l).toBeCloseTo(ref, 6);
    const worst = bradleyTerryLoss(tf.tensor1d([-100]), tf.tensor1d([100])).dataSync()[0];
    expect(worst).toBeCloseTo(200, 3);
  });

  it('learns a preference with Bradley–Terry on wasm', async () => {
    await initBackend('wasm');
    try {
      // Chosen sequences contain token 3, rejected ones do not.
      const rm = new ScalarRewardModel({ ...CFG, nLayers: 1 }, { seed: 3 });
      const opt = new AdamW(rm.namedVariables(), { lr: 1e-2, weightDecay: 0 });
      const chosen = [[1, 3, 5, 6], [2, 4, 3, 7], [3, 8, 9, 1], [5, 5, 6, 3]];
      const rejected = [[1, 4, 5, 6], [2, 4, 8, 7], [9, 8, 9, 1], [5, 5, 6, 2]];
      const ones = tf.ones([4, 4]) as tf.Tensor2D;
      const lossFn = () =>
        bradleyTerryLoss(rm.score(tf.tensor2d(chosen, [4, 4], 'int32'), ones), rm.score(tf.tensor2d(rejected, [4, 4], 'int32'), ones));
      const first = trainStep(rm, opt, lossFn).loss;
      let last = first;
      for (let i = 0; i < 30; i++) last = trainStep(rm, opt, lossFn).loss;
      expect(first).toBeGreaterThan(0.5);
      expect(last).toBeLessThan(0.1);
      opt.dispose();
      rm.dispose();
      ones.dispose();
    } finally {
      await initBackend('cpu');
    }
  });
});
