/**
 * A short f-GRPO run on the webgpu backend against the same run on wasm: sample groups with the
 * KV-cache sampler, reward them, score old/reference log-probs, and take two f-GRPO steps with
 * AdamW, every read awaited (webgpu in Node has no synchronous reads). Skips with the reason
 * printed where Dawn has no adapter; in CI the adapter is Mesa's lavapipe (see .ci/run).
 */
import { describe, expect, it } from 'vitest';
import {
  AdamW,
  CharTokenizer,
  DecoderLM,
  generate,
  initBackend,
  probeWebgpuAdapter,
  sequenceLogprobs,
  tf,
  trainStepAsync,
  type ModelConfig,
} from '@falign/core';
import { fgrpoLoss } from '../src/index.js';

const found = await probeWebgpuAdapter();
if (!found.adapter) console.log(`[webgpu-fgrpo.test] skipped: ${found.why}`);

const CFG: ModelConfig = { arch: 'gpt2', vocabSize: 8, dModel: 16, nLayers: 2, nHeads: 2, maxSeqLen: 16 };
const ALPHABET = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];
const PROMPTS = [[1, 2], [3, 4, 5]];
const G = 4;

/** Reward: how many of the completion's tokens are 'a' (id 1). */
const reward = (ids: number[]) => ids.filter((t) => t === 1).length;

async function run(backend: 'wasm' | 'webgpu'): Promise<{ completions: number[][]; losses: number[]; weights: Float32Array }> {
  await initBackend(backend);
  const tok = new CharTokenizer(ALPHABET, { pad: '<pad>' });
  const policy = new DecoderLM(CFG, { seed: 5 });
  const ref = new DecoderLM(CFG, { seed: 5, trainable: false }); // same seed: the policy's initial weights
  const opt = new AdamW(policy.namedVariables(), { lr: 1e-2 });
  const completions: number[][] = [];
  const losses: number[] = [];
  for (let step = 0; step < 2; step++) {
    const prompts = PROMPTS.flatMap((p) => Array.from({ length: G }, () => p));
    const out = await generate(policy, tok, prompts, { maxNewTokens: 6, temperature: 1, seed: 10 + step, addBos: false });
    const batch = { promptTokenIds: prompts, completionTokenIds: out.map((c) => c.tokenIds) };
    completions.push(...batch.completionTokenIds);
    const rewards = batch.completionTokenIds.map(reward);
    // Old and reference log-probs are constants of the step: computed once, outside the gradient.
    const oldLogp = sequenceLogprobs(policy, batch);
    const refLogp = sequenceLogprobs(ref, batch);
    const r = await trainStepAsync(
      policy,
      opt,
      () => fgrpoLoss({ logp: sequenceLogprobs(policy, batch), oldLogp, refLogp, rewards, groupSize: G }, { divergence: 'kl', beta: 0.1, validate: false }),
      { clipNorm: 1 },
    );
    tf.dispose([oldLogp, refLogp]);
    losses.push(r.loss);
  }
  const w = (await policy.variables()[0].data()) as Float32Array;
  opt.dispose();
  ref.dispose();
  policy.dispose();
  return { completions, losses, weights: w };
}

describe.skipIf(!found.adapter)('f-GRPO on webgpu (vs wasm)', () => {
  it('two steps sample the same completions, give the same losses and the same weights', async () => {
    const wasm = await run('wasm');
    const gpu = await run('webgpu');
    await initBackend('wasm');
    expect(gpu.completions).toEqual(wasm.completions);
    expect(wasm.losses.some((l) => l !== 0)).toBe(true); // the rewards gave a signal
    gpu.losses.forEach((l, i) => expect(Math.abs(l - wasm.losses[i])).toBeLessThan(1e-5 * Math.abs(wasm.losses[i]) + 1e-6));
    let worst = 0;
    gpu.weights.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - wasm.weights[i]))));
    expect(worst).toBeLessThan(1e-4); // lr 1e-2: a wrong update is off by ~1e-2
  });
});
