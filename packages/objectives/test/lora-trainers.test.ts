import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DecoderLM, LoraAdapter, initBackend, tf, tokenLogprobs } from '@falign/core';
import { HybridTrainer, OfflineTrainer, OnPolicyTrainer, type PolicyLike, type StepMetrics } from '../src/index.js';
import { larger, toyPairs, toyPolicy, toyPrompts } from './helpers/toy.js';

let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = await mkdtemp(join(tmpdir(), 'falign-lora-trainers-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A frozen Llama toy base (GQA) with r-2 adapters on every projection. */
function loraPolicy(seed = 1, dropout = 0): PolicyLike & { adapter: LoraAdapter } {
  const p = toyPolicy(seed);
  const config = p.model.config;
  p.model.dispose();
  const model = new DecoderLM({ arch: 'llama', vocabSize: config.vocabSize, dModel: 16, nLayers: 1, nHeads: 2, nKvHeads: 1, dFF: 24, maxSeqLen: config.maxSeqLen }, { seed, trainable: false });
  const adapter = LoraAdapter.create(model, { r: 2, alpha: 4, dropout, targetModules: 'all-linear', seed });
  return { model, tokenizer: p.tokenizer, adapter };
}

function snapshot(model: DecoderLM): Record<string, number[]> {
  const w = model.getWeights();
  const out = Object.fromEntries(Object.entries(w).map(([k, t]) => [k, Array.from(t.dataSync())]));
  tf.dispose(Object.values(w));
  return out;
}

const score = { promptTokenIds: [[1, 2, 3]], completionTokenIds: [[0, 4, 1]] };
function logps(model: DecoderLM): number[] {
  const s = tokenLogprobs(model, score);
  const v = Array.from(s.logp.dataSync());
  tf.dispose([s.logp, s.mask]);
  return v;
}

const onPolicy = { numGenerations: 4, promptsPerStep: 2, maxNewTokens: 2, lr: 5e-2, seed: 3, log: false };
const trainers: [string, (p: PolicyLike) => OnPolicyTrainer | OfflineTrainer | HybridTrainer][] = [
  ['f-GRPO', (policy) => new OnPolicyTrainer({ policy, prompts: toyPrompts(), rewards: [larger], config: { ...onPolicy, algorithm: 'fgrpo', divergence: 'pearson' } })],
  ['GRPO', (policy) => new OnPolicyTrainer({ policy, prompts: toyPrompts(), rewards: [larger], config: { ...onPolicy, algorithm: 'grpo', grpo: { betaKl: 0.04 } } })],
  ['f-HAL', (policy) => new HybridTrainer({ policy, prompts: toyPrompts(), rewards: [larger], offline: toyPairs(), config: { ...onPolicy, lambda: 0.5, offlineBatchSize: 4 } })],
  ['FDO', (policy) => new OfflineTrainer({ policy, data: toyPairs(), config: { algorithm: 'fdo', divergence: 'kl', beta: 0.5, batchSize: 4, lr: 5e-2, log: false } })],
  ['DPO', (policy) => new OfflineTrainer({ policy, data: toyPairs(), config: { algorithm: 'dpo', beta: 0.5, batchSize: 4, lr: 5e-2, log: false } })],
];

describe.each(trainers)('LoRA %s', (_name, make) => {
  it('trains only the adapter: base byte-identical, adapter moved, reference = base without adapters, no leaks', async () => {
    const p = loraPolicy();
    const base0 = snapshot(p.model);
    const ref0 = logps(p.model); // fresh adapter: equal to the base
    const t = make(p);
    expect(t.reference).not.toBe(p.model);
    await t.train({ steps: 1 });
    const n = tf.memory().numTensors;
    const ms: StepMetrics[] = await t.train({ steps: 2 });
    expect(tf.memory().numTensors).toBe(n);
    for (const m of ms) expect(Number.isFinite(m.loss as number)).toBe(true);
    expect(snapshot(p.model)).toEqual(base0);
    const adapted = logps(p.model);
    expect(adapted).not.toEqual(ref0);
    expect(logps(t.reference)).toEqual(ref0);
    t.dispose();
    // The trainer does not own the free reference: the base and the adapter still work.
    expect(logps(p.model)).toEqual(adapted);
    p.adapter.dispose();
    p.model.dispose();
  });
});

describe('LoRA checkpoints', () => {
  it('resume of a LoRA f-GRPO run (with adapter dropout) reproduces the uninterrupted run', async () => {
    const cfg = { ...onPolicy, algorithm: 'fgrpo' as const, divergence: 'hellinger', numIterations: 2 };
    const strip = (ms: StepMetrics[]) => ms.map((m) => Object.fromEntries(Object.entries(m).filter(([k]) => !k.startsWith('time/'))));
    const pa = loraPolicy(1, 0.2);
    const a = new OnPolicyTrainer({ policy: pa, prompts: toyPrompts(), rewards: [larger], config: cfg });
    const want = await a.train({ steps: 3 });
    a.dispose();
    pa.adapter.dispose();
    pa.model.dispose();

    const pb = loraPolicy(1, 0.2);
    const b = new OnPolicyTrainer({ policy: pb, prompts: toyPrompts(), rewards: [larger], config: cfg });
    await b.train({ steps: 1 });
    const ck = await b.saveCheckpoint(join(root, 'lora-1'));
    b.dispose();
    pb.adapter.dispose();
    pb.model.dispose();

    const pc = loraPolicy(7, 0.2); // another base, adapter init and dropout seed: the checkpoint must overwrite them
    const c = new OnPolicyTrainer({ policy: pc, prompts: toyPrompts(), rewards: [larger], config: cfg });
    await c.resume(ck);
    expect(strip(await c.train({ steps: 2 }))).toEqual(strip(want.slice(1)));
    c.dispose();
    pc.adapter.dispose();
    pc.model.dispose();

    // A full-weights trainer cannot resume a LoRA checkpoint by mistake.
    const pl = loraPolicy();
    pl.adapter.dispose();
    const pf = { model: pl.model.clone({ trainable: true }), tokenizer: pl.tokenizer };
    pl.model.dispose();
    const f = new OnPolicyTrainer({ policy: pf, prompts: toyPrompts(), rewards: [larger], config: cfg });
    await expect(f.resume(ck)).rejects.toThrow(/it is a LoRA run/);
    f.dispose();
    pf.model.dispose();
  });
});
