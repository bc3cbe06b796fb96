/**
 * Numerical parity with Hugging Face layouts: tiny random checkpoints made by
 * scripts/make-hf-fixtures.py, whose independent NumPy forward passes wrote the reference logits,
 * greedy continuations and per-token log-probs next to them.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, loadPolicy, parseSafetensors, tf, type Policy } from '@falign/core';

const FIXTURES = resolve(__dirname, 'fixtures/hf');
const NAMES = ['llama', 'qwen2', 'mistral', 'qwen3', 'gpt2'] as const;

interface Reference {
  architecture: string;
  dtype: string;
  shards: number;
  sequences: number[][];
  token_logprobs: number[][];
  greedy: number[][];
  greedy_prompt_len: number;
}

function reference(name: string): { ref: Reference; logits: { data: Float32Array; shape: number[] }[] } {
  const dir = join(FIXTURES, name);
  const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
  const st = parseSafetensors(readFileSync(join(dir, 'reference.safetensors')));
  const logits = ref.sequences.map((_, i) => {
    const t = st.tensors[`logits.${i}`];
    return { data: t.data as Float32Array, shape: t.shape };
  });
  return { ref, logits };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

beforeAll(async () => {
  await initBackend((process.env.FALIGN_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm');
});

describe.each(NAMES)('hf:%s parity with the NumPy reference', (name) => {
  let policy: Policy;
  const { ref, logits } = reference(name);
  beforeAll(async () => {
    policy = await loadPolicy(`hf:${join(FIXTURES, name)}`, { trainable: false });
  });

  it(`logits match within 1e-4 (${ref.architecture}, ${ref.dtype}, ${ref.shards} shard(s))`, () => {
    let worst = 0;
    ref.sequences.forEach((seq, i) => {
      const out = tf.tidy(() => policy.model.forward(tf.tensor2d([seq], [1, seq.length], 'int32')));
      expect(out.shape).toEqual([1, ...logits[i].shape]);
      worst = Math.max(worst, maxAbsDiff(out.dataSync(), logits[i].data));
      out.dispose();
    });
    console.log(`[hf parity] ${name} (${ref.architecture}, ${ref.dtype}): max |Δlogit| = ${worst.toExponential(2)}`);
    expect(worst).toBeLessThanOrEqual(1e-4);
  });

  it('KV-cached decoding gives the same logits, without leaking tensors', () => {
    const seq = ref.sequences[0];
    const V = logits[0].shape[1];
    const run = () => {
      const cache = policy.model.createCache(1);
      let worst = 0;
      const first = tf.tidy(() => policy.model.forward(tf.tensor2d([seq.slice(0, 3)], [1, 3], 'int32'), { cache }));
      worst = Math.max(worst, maxAbsDiff(first.dataSync(), logits[0].data.subarray(0, 3 * V)));
      first.dispose();
      for (let t = 3; t < seq.length; t++) {
        const step = tf.tidy(() => policy.model.forward(tf.tensor2d([[seq[t]]], [1, 1], 'int32'), { cache }));
        worst = Math.max(worst, maxAbsDiff(step.dataSync(), logits[0].data.subarray(t * V, (t + 1) * V)));
        step.dispose();
      }
      cache.dispose();
      return worst;
    };
    expect(run()).toBeLessThanOrEqual(1e-4);
    const before = tf.memory().numTensors;
    run();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('greedy continuations equal the reference (up to the first stop token)', async () => {
    const stops = new Set(policy.tokenizer.eosIds ?? [policy.tokenizer.eosId]);
    const prompts = ref.sequences.map((s) => s.slice(0, ref.greedy_prompt_len));
    const out = await policy.generate(prompts, { maxNewTokens: ref.greedy[0].length, temperature: 0 });
    out.forEach((c, i) => {
      const want: number[] = [];
      for (const id of ref.greedy[i]) {
        want.push(id);
        if (stops.has(id)) break;
      }
      expect(c.tokenIds).toEqual(want);
    });
  });

  it('per-token log-probs match the reference (batched, padded)', async () => {
    const { logp, mask } = policy.tokenLogprobs({
      promptTokenIds: ref.sequences.map((s) => s.slice(0, 1)),
      completionTokenIds: ref.sequences.map((s) => s.slice(1)),
    });
    const got = (await logp.array()) as number[][];
    tf.dispose([logp, mask]);
    ref.token_logprobs.forEach((want, i) => {
      expect(maxAbsDiff(got[i].slice(0, want.length), want)).toBeLessThanOrEqual(1e-4);
    });
  });
});
