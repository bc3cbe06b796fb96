import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CharTokenizer,
  DecoderLM,
  Rng,
  drawFrom,
  generate,
  initBackend,
  loadLlama2c,
  samplingProbs,
  sampleToken,
  tf,
} from '@falign/core';
import type { Llama2cTokenizer } from '@falign/core';

const modelsDir = process.env.FALIGN_MODELS_DIR ?? resolve(__dirname, '../../../../shared/models');
const storiesDir = join(modelsDir, 'stories260K');

function readExampleIds(): number[] {
  const md = readFileSync(join(storiesDir, 'EXAMPLE.md'), 'utf8');
  return JSON.parse([...md.matchAll(/```\n([\s\S]*?)\n```/g)][0][1]) as number[];
}

function softmax(x: number[], T = 1): number[] {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp((v - m) / T));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

describe('sampling distribution (pure)', () => {
  const logits = [2, 1, 0, -1, 0.5];

  it('temperature scales the softmax', () => {
    expect(Array.from(samplingProbs(logits, { temperature: 1, topK: 0, topP: 1 }))).toEqual(softmax(logits).map((p) => expect.closeTo(p, 12)));
    expect(Array.from(samplingProbs(logits, { temperature: 0.5, topK: 0, topP: 1 }))).toEqual(softmax(logits, 0.5).map((p) => expect.closeTo(p, 12)));
  });

  it('top-k keeps the k largest and renormalises', () => {
    const p = softmax(logits);
    const z = p[0] + p[1];
    const got = Array.from(samplingProbs(logits, { temperature: 1, topK: 2, topP: 1 }));
    expect(got).toEqual([p[0] / z, p[1] / z, 0, 0, 0].map((v) => expect.closeTo(v, 12)));
  });

  it('top-p keeps the smallest prefix whose mass reaches p (mass before a kept token < p)', () => {
    const p = softmax(logits); // ≈ [0.539, 0.198, 0.073, 0.027, 0.120]; order 0, 1, 4, 2, 3
    // p = 0.5: token 0 alone already reaches it.
    expect(Array.from(samplingProbs(logits, { temperature: 1, topK: 0, topP: 0.5 }))).toEqual([1, 0, 0, 0, 0]);
    // p = 0.8: 0.539 + 0.198 = 0.737 < 0.8 so token 4 (0.120) joins too.
    const z = p[0] + p[1] + p[4];
    expect(Array.from(samplingProbs(logits, { temperature: 1, topK: 0, topP: 0.8 }))).toEqual(
      [p[0] / z, p[1] / z, 0, 0, p[4] / z].map((v) => expect.closeTo(v, 12)),
    );
    // top-k then top-p over the renormalised top-k distribution: top-2 gives [0.731, 0.269]; p = 0.7 keeps one.
    expect(Array.from(samplingProbs(logits, { temperature: 1, topK: 2, topP: 0.7 }))).toEqual([1, 0, 0, 0, 0]);
    expect(Array.from(samplingProbs(logits, { temperature: 1, topK: 2, topP: 0.75 }))).toEqual(
      [p[0] / (p[0] + p[1]), p[1] / (p[0] + p[1]), 0, 0, 0].map((v) => expect.closeTo(v, 12)),
    );
  });

  it('draws match the probabilities empirically', () => {
    const probs = samplingProbs(logits, { temperature: 1.3, topK: 4, topP: 0.95 });
    const rng = new Rng(7);
    const n = 40_000;
    const counts = new Array<number>(5).fill(0);
    for (let i = 0; i < n; i++) counts[drawFrom(probs, rng)]++;
    for (let i = 0; i < 5; i++) {
      const sd = Math.sqrt((n * probs[i] * (1 - probs[i])) || 1);
      expect(Math.abs(counts[i] - n * probs[i])).toBeLessThan(5 * sd);
    }
    expect(counts[3]).toBe(0); // outside the top 4
  });

  it('reports the log-prob of the distribution actually sampled from; greedy uses temperature 1', () => {
    const rng = new Rng(1);
    const g = sampleToken(logits, { temperature: 0, topK: 0, topP: 1 }, rng);
    expect(g.id).toBe(0);
    expect(g.logprob).toBeCloseTo(Math.log(softmax(logits)[0]), 12);
    const s = sampleToken(logits, { temperature: 1, topK: 2, topP: 1 }, rng);
    const p = softmax(logits);
    expect(s.logprob).toBeCloseTo(Math.log(p[s.id] / (p[0] + p[1])), 12);
    expect(() => sampleToken([0, NaN], { temperature: 1, topK: 0, topP: 1 }, rng)).toThrow(/NaN/);
  });
});

describe('generate on stories260K', () => {
  let model: DecoderLM;
  let tokenizer: Llama2cTokenizer;
  const example = readExampleIds();

  beforeAll(async () => {
    await initBackend((process.env.FALIGN_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm');
    ({ model, tokenizer } = await loadLlama2c(join(storiesDir, 'stories260K.bin')));
  });
  afterAll(() => model.dispose());

  const prompts = ['Once upon a time', 'Lily', 'The big red ball was', ''];

  it('batched greedy with different prompt lengths equals one-by-one', async () => {
    const batched = await generate(model, tokenizer, prompts, { maxNewTokens: 24, temperature: 0 });
    for (let i = 0; i < prompts.length; i++) {
      const [single] = await generate(model, tokenizer, [prompts[i]], { maxNewTokens: 24, temperature: 0 });
      expect(batched[i].tokenIds).toEqual(single.tokenIds);
      expect(batched[i].text).toBe(single.text);
      batched[i].tokenLogprobs.forEach((lp, t) => expect(lp).toBeCloseTo(single.tokenLogprobs[t], 4));
    }
    // The BOS-only row continues EXAMPLE.md's story.
    expect(batched[3].tokenIds).toEqual(example.slice(1, 25));
  });

  it('is reproducible from its seed and independent of batchSize (per-row streams)', async () => {
    const opts = { maxNewTokens: 20, temperature: 1, topK: 40, topP: 0.9, numSamples: 3, seed: 42 };
    const a = await generate(model, tokenizer, prompts, opts);
    const b = await generate(model, tokenizer, prompts, opts);
    const c = await generate(model, tokenizer, prompts, { ...opts, batchSize: 5 });
    const d = await generate(model, tokenizer, prompts, { ...opts, seed: 43 });
    expect(a.map((x) => x.tokenIds)).toEqual(b.map((x) => x.tokenIds));
    expect(c.map((x) => x.tokenIds)).toEqual(a.map((x) => x.tokenIds));
    expect(d.map((x) => x.tokenIds)).not.toEqual(a.map((x) => x.tokenIds));
    expect(a.map((x) => x.promptIndex)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]);
    // Samples of one prompt differ from one another.
    expect(new Set(a.slice(0, 3).map((x) => x.text)).size).toBeGreaterThan(1);
  });

  it('stops at stop strings: text cut before it, ids up to the token that completed it', async () => {
    const [c] = await generate(model, tokenizer, [''], { maxNewTokens: 100, temperature: 0, stopStrings: ['Lily', 'zzz'] });
    const at = example.indexOf(317); // " Lily"
    expect(c.text).toBe('Once upon a time, there was a little girl named ');
    expect(c.tokenIds).toEqual(example.slice(1, at + 1));
    expect(c.finishReason).toBe('stop');
    // A stop string completed in the middle of a token: "upo" ends inside " upon".
    const [d] = await generate(model, tokenizer, [''], { maxNewTokens: 100, temperature: 0, stopStrings: ['upo'] });
    expect(d.text).toBe('Once ');
    expect(d.tokenIds).toEqual(example.slice(1, 3));
  });

  it('stops at stop tokens, keeping the token (scored) but not its text', async () => {
    const [c] = await generate(model, tokenizer, [''], { maxNewTokens: 100, temperature: 0, stopTokens: [426] });
    const at = example.indexOf(426);
    expect(c.tokenIds).toEqual(example.slice(1, at + 1));
    expect(c.tokenLogprobs.length).toBe(c.tokenIds.length);
    expect(c.text).toBe(tokenizer.decode(example.slice(0, at)));
    expect(c.finishReason).toBe('stop');
  });

  it('rows finishing at different times (cache compaction) match unbatched runs, without leaking tensors', async () => {
    const opts = { maxNewTokens: 30, temperature: 1, numSamples: 6, seed: 5, stopTokens: [426] };
    const before = tf.memory().numTensors;
    const all = await generate(model, tokenizer, ['Lily'], opts);
    expect(tf.memory().numTensors).toBe(before);
    const lengths = new Set(all.map((c) => c.tokenIds.length));
    expect(lengths.size).toBeGreaterThan(1);
    const one = await generate(model, tokenizer, ['Lily'], { ...opts, batchSize: 1 });
    expect(all.map((c) => c.tokenIds)).toEqual(one.map((c) => c.tokenIds));
  });

  it('returns the first-step logits of the prompt', async () => {
    const [c] = await generate(model, tokenizer, ['Lily'], { maxNewTokens: 2, temperature: 0, returnFirstLogits: true });
    const ref = tf.tidy(() => {
      const ids = tokenizer.encode('Lily', { bos: true });
      const out = model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'));
      return tf.slice(out, [0, ids.length - 1, 0], [1, 1, 512]).dataSync();
    });
    expect(c.firstLogits!.length).toBe(512);
    Array.from(c.firstLogits!).forEach((v, i) => expect(v).toBeCloseTo(ref[i], 4));
  });

  it('rejects bad options by field', async () => {
    await expect(generate(model, tokenizer, ['a'], { maxNewTokens: 2, topP: 0 })).rejects.toThrow(/topP/);
    await expect(generate(model, tokenizer, ['a'], { maxNewTokens: -1 })).rejects.toThrow(/maxNewTokens/);
    await expect(generate(model, tokenizer, [[1, 999]], { maxNewTokens: 1 })).rejects.toThrow(/prompt 0 has token id 999/);
  });
});

describe('generate respects maxSeqLen', () => {
  it('caps prompt + completion at maxSeqLen with finishReason length', async () => {
    await initBackend((process.env.FALIGN_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm');
    const tok = new CharTokenizer(['a', 'b', 'c'], { pad: '<pad>', bos: '<s>', eos: '</s>' });
    const model = new DecoderLM({ arch: 'gpt2', vocabSize: tok.vocabSize, dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 8 }, { seed: 3 });
    const out = await generate(model, tok, ['abcab', 'a'], { maxNewTokens: 10, temperature: 1, seed: 1, stopTokens: [] });
    // The gpt2 tiny model may emit EOS; a row that did not must have stopped at the length cap.
    for (const c of out) {
      expect(c.promptTokenIds.length + c.tokenIds.length).toBeLessThanOrEqual(8);
      if (c.finishReason === 'length') expect(c.promptTokenIds.length + c.tokenIds.length).toBe(8);
    }
    await expect(generate(model, tok, ['abcabcabc'], { maxNewTokens: 1 })).rejects.toThrow(/maxSeqLen 8/);
    model.dispose();
  });
});
