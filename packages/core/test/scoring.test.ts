import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecoderLM, generate, initBackend, loadLlama2c, sequenceLogprobs, tf, tokenLogprobs } from '@falign/core';
import type { Completion, Llama2cTokenizer, ScoreBatch } from '@falign/core';

const modelsDir = process.env.FALIGN_MODELS_DIR ?? resolve(__dirname, '../../../../shared/models');
const binPath = join(modelsDir, 'stories260K', 'stories260K.bin');

const toBatch = (cs: Completion[]): ScoreBatch => ({
  promptTokenIds: cs.map((c) => c.promptTokenIds),
  completionTokenIds: cs.map((c) => c.tokenIds),
});

beforeAll(async () => {
  await initBackend((process.env.FALIGN_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm');
});

describe('tokenLogprobs on stories260K agrees with the sampler', () => {
  let model: DecoderLM;
  let tokenizer: Llama2cTokenizer;
  beforeAll(async () => {
    ({ model, tokenizer } = await loadLlama2c(binPath));
  });
  afterAll(() => model.dispose());

  for (const temperature of [1, 0.7]) {
    it(`at temperature ${temperature} (no top-k/top-p) to 1e-4`, async () => {
      const cs = await generate(model, tokenizer, ['Once upon a time', 'Tom had a'], {
        maxNewTokens: 16,
        temperature,
        numSamples: 3,
        seed: 11,
      });
      const before = tf.memory().numTensors;
      const { logp, mask } = tokenLogprobs(model, toBatch(cs), { temperature });
      const lp = (await logp.array()) as number[][];
      const m = (await mask.array()) as number[][];
      logp.dispose();
      mask.dispose();
      expect(tf.memory().numTensors).toBe(before);
      cs.forEach((c, n) => {
        c.tokenLogprobs.forEach((v, t) => {
          expect(m[n][t]).toBe(1);
          expect(Math.abs(lp[n][t] - v)).toBeLessThan(1e-4);
        });
        for (let t = c.tokenIds.length; t < lp[n].length; t++) {
          expect(m[n][t]).toBe(0);
          expect(lp[n][t]).toBe(0);
        }
      });
    });
  }

  it('greedy tokenLogprobs are the temperature-1 log-probs', async () => {
    const cs = await generate(model, tokenizer, ['Lily'], { maxNewTokens: 10, temperature: 0 });
    const lp = tf.tidy(() => tokenLogprobs(model, toBatch(cs)).logp.arraySync() as number[][]);
    cs[0].tokenLogprobs.forEach((v, t) => expect(Math.abs(lp[0][t] - v)).toBeLessThan(1e-4));
  });

  it('padding does not change a row', () => {
    const batch: ScoreBatch = {
      promptTokenIds: [[1, 403], [1], [1, 317, 413, 280]],
      completionTokenIds: [[407, 261, 378], [403, 407, 261, 378, 432, 383, 286], []],
    };
    const all = tf.tidy(() => tokenLogprobs(model, batch).logp.arraySync() as number[][]);
    for (let n = 0; n < 3; n++) {
      const one = tf.tidy(
        () => tokenLogprobs(model, { promptTokenIds: [batch.promptTokenIds[n]], completionTokenIds: [batch.completionTokenIds[n]] }).logp.arraySync() as number[][],
      );
      batch.completionTokenIds[n].forEach((_, t) => expect(all[n][t]).toBeCloseTo(one[0][t], 5));
    }
    // Rows 0 and 1 score the same story tokens 407, 261, 378 after the same context [1, 403].
    for (let t = 0; t < 3; t++) expect(all[0][t]).toBeCloseTo(all[1][t + 1], 5);
    expect(all[2].every((v) => v === 0)).toBe(true);
  });
});

describe('tokenLogprobs on a tiny random model', () => {
  const config = { arch: 'gpt2' as const, vocabSize: 11, dModel: 8, nLayers: 2, nHeads: 2, maxSeqLen: 16 };
  let model: DecoderLM;
  beforeAll(() => {
    model = new DecoderLM(config, { seed: 9 });
  });
  afterAll(() => model.dispose());

  const batch: ScoreBatch = { promptTokenIds: [[1, 2, 3], [4]], completionTokenIds: [[5, 6], [7, 8, 9, 10]] };

  it('entropy and log-probs match a hand computation from full-sequence logits', () => {
    const { logp, entropy, mask } = tokenLogprobs(model, batch, { withEntropy: true, temperature: 2 });
    const lp = logp.arraySync();
    const ent = entropy!.arraySync();
    tf.dispose([logp, entropy!, mask]);
    batch.promptTokenIds.forEach((p, n) => {
      const seq = [...p, ...batch.completionTokenIds[n]];
      const logits = tf.tidy(() => model.forward(tf.tensor2d([seq], [1, seq.length], 'int32')).arraySync()[0]);
      batch.completionTokenIds[n].forEach((y, t) => {
        const z = logits[p.length - 1 + t].map((v) => v / 2);
        const m = Math.max(...z);
        const lse = m + Math.log(z.reduce((a, v) => a + Math.exp(v - m), 0));
        const logq = z.map((v) => v - lse);
        expect(lp[n][t]).toBeCloseTo(logq[y], 5);
        expect(ent[n][t]).toBeCloseTo(-logq.reduce((a, l) => a + Math.exp(l) * l, 0), 5);
      });
    });
  });

  it('sequenceLogprobs sums or averages over the mask', () => {
    const lp = tf.tidy(() => tokenLogprobs(model, batch).logp.arraySync());
    const sum = tf.tidy(() => sequenceLogprobs(model, batch).arraySync());
    const mean = tf.tidy(() => sequenceLogprobs(model, batch, { lengthNormalize: true }).arraySync());
    expect(sum[0]).toBeCloseTo(lp[0][0] + lp[0][1], 5);
    expect(sum[1]).toBeCloseTo(lp[1].reduce((a, b) => a + b, 0), 5);
    expect(mean[1]).toBeCloseTo(sum[1] / 4, 5);
  });

  it('is differentiable: gradients match finite differences', () => {
    const f = () => tf.sum(sequenceLogprobs(model, batch)) as tf.Scalar;
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(f);
    const vars = model.variables();
    const checks: [tf.Variable, number][] = [
      [vars[0], 5 * 8 + 3], // an embedding of a scored token
      [vars[Math.floor(vars.length / 2)], 7],
      [vars[vars.length - 3], 1],
    ];
    // Small: with std-0.02 init the residual stream is tiny, so LayerNorm makes f strongly curved.
    const eps = 1e-3;
    for (const [v, i] of checks) {
      const g = grads[v.name].dataSync()[i];
      const orig = v.dataSync().slice();
      const at = (delta: number) => {
        const w = orig.slice();
        w[i] += delta;
        const t = tf.tensor(w, v.shape);
        v.assign(t);
        t.dispose();
        return tf.tidy(() => f().dataSync()[0]);
      };
      const fd = (at(eps) - at(-eps)) / (2 * eps);
      const t = tf.tensor(orig, v.shape);
      v.assign(t);
      t.dispose();
      expect(Math.abs(g - fd)).toBeLessThan(2e-2 * Math.max(1, Math.abs(fd)));
    }
    value.dispose();
    tf.dispose(Object.values(grads));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects malformed batches by row', () => {
    expect(() => tokenLogprobs(model, { promptTokenIds: [[]], completionTokenIds: [[1]] })).toThrow(/row 0 has an empty prompt/);
    expect(() => tokenLogprobs(model, { promptTokenIds: [[1]], completionTokenIds: [[11]] })).toThrow(/row 0 has token id 11/);
    expect(() => tokenLogprobs(model, { promptTokenIds: [[1]], completionTokenIds: [] })).toThrow(/same length/);
    expect(() => tokenLogprobs(model, { promptTokenIds: [[1]], completionTokenIds: [new Array(17).fill(2)] })).toThrow(/needs 17 positions, more than the model's maxSeqLen 16/);
  });
});
