import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@falign/core';
import { HybridTrainer, OfflineTrainer, OnPolicyTrainer, zeroSignalWarnings, type RewardSpec, type StepMetrics } from '../src/index.js';
import { larger, toyPairs, toyPolicy, toyPrompts } from './helpers/toy.js';

let root: string;
beforeAll(async () => {
  await initBackend('wasm');
  root = await mkdtemp(join(tmpdir(), 'falign-objectives-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Metrics without wall-clock timings, for exact comparison. */
const strip = (ms: StepMetrics[]) => ms.map((m) => Object.fromEntries(Object.entries(m).filter(([k]) => !k.startsWith('time/'))));
const readLines = async (dir: string) => (await readFile(join(dir, 'metrics.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as StepMetrics);

const lengthReward: RewardSpec = { name: 'len', weight: 0.5, fn: async (s) => s.map((x) => x.completion.length / 3) };

describe('checkpoint and resume reproduce an uninterrupted run', () => {
  const onPolicyConfig = (runDir: string) => ({
    algorithm: 'fgrpo' as const,
    divergence: 'hellinger',
    numGenerations: 4,
    promptsPerStep: 4,
    numIterations: 2, // the checkpoint at step 3 falls in the middle of a reused batch
    gradAccumSteps: 2,
    maxNewTokens: 3,
    lr: 1e-2,
    seed: 5,
    runDir,
    log: false,
  });

  it('OnPolicyTrainer (f-GRPO, μ = 2, accumulation 2, two reward functions): steps 4–5 identical', async () => {
    const straightDir = join(root, 'straight');
    const p1 = toyPolicy();
    const straight = new OnPolicyTrainer({ policy: p1, prompts: toyPrompts(), rewards: [larger, lengthReward], config: onPolicyConfig(straightDir) });
    const want = await straight.train({ steps: 5 });
    straight.dispose();
    p1.model.dispose();

    const runDir = join(root, 'crashed');
    const p2 = toyPolicy();
    const first = new OnPolicyTrainer({ policy: p2, prompts: toyPrompts(), rewards: [larger, lengthReward], config: { ...onPolicyConfig(runDir), checkpointEvery: 3 } });
    await first.train({ steps: 4 }); // checkpoint at 3, then one more step whose line must be dropped
    first.dispose(); // "crash": the trainer and its state are gone
    p2.model.dispose();

    const p3 = toyPolicy(99); // different initial weights: the checkpoint must overwrite them
    const resumed = new OnPolicyTrainer({ policy: p3, prompts: toyPrompts(), rewards: [larger, lengthReward], config: onPolicyConfig(runDir) });
    await resumed.resume(join(runDir, 'checkpoints', 'step-3'));
    expect(resumed.stepCount).toBe(3);
    const got = await resumed.train({ steps: 2 });
    expect(strip(got)).toEqual(strip(want.slice(3)));
    expect(got[0].iteration).toBe(1); // resumed inside the reused batch
    const lines = await readLines(runDir);
    expect(lines.map((l) => l.step)).toEqual([1, 2, 3, 4, 5]);
    expect(strip(lines)).toEqual(strip(await readLines(straightDir)));
    expect(lines[0]['rewards/len/mean']).toBeTypeOf('number');
    resumed.dispose();
    p3.model.dispose();
  });

  it('OfflineTrainer (KLDO with the moving-average denominator) and HybridTrainer resume exactly', async () => {
    const offlineCfg = { algorithm: 'kldo' as const, beta: 0.5, batchSize: 6, lr: 1e-2, seed: 2, kldoMovingAverage: true, log: false };
    const run = async (n: number, resumeFrom?: string, save?: string) => {
      const p = toyPolicy();
      const t = new OfflineTrainer({ policy: p, data: toyPairs(), config: offlineCfg });
      if (resumeFrom) await t.resume(resumeFrom);
      const ms = await t.train({ steps: n });
      if (save) await t.saveCheckpoint(save);
      t.dispose();
      p.model.dispose();
      return ms;
    };
    const want = await run(4);
    const ck = join(root, 'kldo-2');
    await run(2, undefined, ck);
    expect(strip(await run(2, ck))).toEqual(strip(want.slice(2)));

    const hybridInit = (p: ReturnType<typeof toyPolicy>) => ({
      policy: p,
      prompts: toyPrompts(),
      rewards: [larger],
      offline: toyPairs(),
      config: { numGenerations: 4, promptsPerStep: 2, maxNewTokens: 1, lr: 1e-2, seed: 4, lambda: 0.5, offlineBatchSize: 4, log: false },
    });
    const pa = toyPolicy();
    const a = new HybridTrainer(hybridInit(pa));
    const wantH = await a.train({ steps: 3 });
    a.dispose();
    pa.model.dispose();
    const pb = toyPolicy();
    const b = new HybridTrainer(hybridInit(pb));
    await b.train({ steps: 1 });
    const hck = await b.saveCheckpoint(join(root, 'hybrid-1'));
    b.dispose();
    pb.model.dispose();
    const pc = toyPolicy();
    const c = new HybridTrainer(hybridInit(pc));
    await c.resume(hck);
    expect(strip(await c.train({ steps: 2 }))).toEqual(strip(wantH.slice(1)));
    c.dispose();
    pc.model.dispose();
  });

  it('refuses a checkpoint of another trainer kind', async () => {
    const p = toyPolicy();
    const t = new OfflineTrainer({ policy: p, data: toyPairs(), config: { algorithm: 'dpo', beta: 0.1, batchSize: 2, lr: 1e-3, log: false } });
    await expect(t.resume(join(root, 'crashed', 'checkpoints', 'step-3'))).rejects.toThrow(/checkpoint of a 'OnPolicyTrainer' trainer, cannot resume a 'OfflineTrainer'/);
    t.dispose();
    p.model.dispose();
  });
});

describe('gradient accumulation', () => {
  it.each([
    ['fgrpo', {}],
    ['grpo', { grpo: { lossType: 'dapo' } }],
    ['grpo', { grpo: { lossType: 'grpo' } }],
  ] as const)('%s %j: 1 × 4 prompts and 2 × 2 prompts give the same loss, gradient norm and next step', async (algorithm, extra) => {
    const results: StepMetrics[][] = [];
    for (const gradAccumSteps of [1, 2]) {
      const p = toyPolicy();
      const t = new OnPolicyTrainer({
        policy: p,
        prompts: toyPrompts(),
        rewards: [larger],
        config: { algorithm, numGenerations: 4, promptsPerStep: 4, gradAccumSteps, maxNewTokens: 2, lr: 1e-2, seed: 8, log: false, ...extra },
      });
      results.push(await t.train({ steps: 2 }));
      t.dispose();
      p.model.dispose();
    }
    for (const k of [0, 1]) {
      expect(results[1][k].loss as number).toBeCloseTo(results[0][k].loss as number, 5);
      expect(results[1][k].grad_norm as number).toBeCloseTo(results[0][k].grad_norm as number, 5);
      expect(results[1][k].reward).toBe(results[0][k].reward);
    }
  });
});

describe('safety nets and warnings', () => {
  const base = { algorithm: 'fgrpo' as const, numGenerations: 4, promptsPerStep: 2, maxNewTokens: 1, lr: 1e-2, log: false };

  it('warns when every group has zero reward variance (and when every completion is truncated)', async () => {
    const p = toyPolicy();
    const constant: RewardSpec = { name: 'const', fn: async (s) => s.map(() => 1) };
    const t = new OnPolicyTrainer({ policy: p, prompts: toyPrompts(), rewards: [constant], config: base });
    const [m] = await t.train({ steps: 1 });
    expect(m.frac_reward_zero_std).toBe(1);
    expect((m.warnings as string[]).join('\n')).toMatch(/zero reward variance/);
    expect(zeroSignalWarnings(0.5, 1)).toEqual([expect.stringMatching(/every completion hit maxNewTokens \(clipped_ratio = 1\)/)]);
    expect(zeroSignalWarnings(0.5, 0.9)).toEqual([]);
    expect(m.grad_norm).toBe(0);
    t.dispose();
    p.model.dispose();
  });

  it('a reward function returning NaN stops the run with an error naming it and the step', async () => {
    const p = toyPolicy();
    const bad: RewardSpec = { name: 'broken', fn: async (s) => s.map((_, i) => (i === 2 ? NaN : 0)) };
    const t = new OnPolicyTrainer({ policy: p, prompts: toyPrompts(), rewards: [bad], config: base });
    await expect(t.step()).rejects.toThrow(/OnPolicyTrainer step 1: reward function 'broken' returned NaN for sample 2/);
    t.dispose();
    p.model.dispose();
  });

  it('NaN log-probs stop the run with an error naming the step (sampler and loss guards)', async () => {
    const p = toyPolicy();
    const t = new OnPolicyTrainer({ policy: p, prompts: toyPrompts(), rewards: [larger], config: { ...base, numIterations: 2 } });
    await t.step(); // step 1 samples a batch that step 2 reuses
    const w = p.model.getWeights();
    const name = Object.keys(w).find((k) => k.includes('ln_f.weight'))!;
    const nan = tf.fill(w[name].shape, NaN);
    p.model.setWeights({ ...w, [name]: nan });
    // Step 2 reuses the batch, so the loss's input check is what catches it.
    await expect(t.step()).rejects.toThrow(/OnPolicyTrainer step 2: fgrpoLoss: logp contains NaN/);
    expect(t.stepCount).toBe(1);
    const ref = t.reference.getWeights();
    expect(tf.tidy(() => tf.any(tf.isNaN(ref[name])).dataSync()[0])).toBe(0);
    // A fresh batch is refused by the sampler before any reward or update.
    const t2 = new OnPolicyTrainer({ policy: p, prompts: toyPrompts(), rewards: [larger], config: base });
    await expect(t2.step()).rejects.toThrow(/OnPolicyTrainer step 1: sampling: logits/);
    tf.dispose([...Object.values(w), nan, ...Object.values(ref)]);
    t.dispose();
    t2.dispose();
    p.model.dispose();
  });

  it('bad configuration → clear errors', () => {
    const p = toyPolicy();
    const mk = (config: object) => () => new OnPolicyTrainer({ policy: p, prompts: toyPrompts(), rewards: [larger], config: { ...base, ...config } as never });
    expect(mk({ numGenerations: 1 })).toThrow(/numGenerations must be ≥ 2/);
    expect(mk({ promptsPerStep: 3, gradAccumSteps: 2 })).toThrow(/promptsPerStep \(3\) must be a multiple of gradAccumSteps \(2\)/);
    expect(mk({ divergence: 'chi9' })).toThrow(/unknown divergence 'chi9'/);
    expect(mk({ checkpointEvery: 2 })).toThrow(/checkpointEvery needs a runDir/);
    expect(() => new OnPolicyTrainer({ policy: p, prompts: toyPrompts(), rewards: [larger, larger], config: base })).toThrow(/'larger' is used twice/);
    expect(() => new OfflineTrainer({ policy: p, data: [{ prompt: '1,2=', completion: '2', aligned: true }], config: { algorithm: 'dpo', beta: 0.1, batchSize: 1, lr: 1e-3 } })).toThrow(
      /dpo needs \{ prompt, chosen, rejected \} pairs/,
    );
    p.model.dispose();
  });
});

describe('grad_clipped metric', () => {
  it('is 1 exactly when max-norm clipping shortened the step (0 disables clipping)', async () => {
    const run = async (clipNorm: number) => {
      const policy = toyPolicy();
      const t = new OnPolicyTrainer({
        policy,
        prompts: toyPrompts(),
        rewards: [larger],
        config: { algorithm: 'fgrpo', divergence: 'pearson', numGenerations: 4, promptsPerStep: 4, maxNewTokens: 1, lr: 1e-2, seed: 2, clipNorm, log: false },
      });
      const ms = await t.train({ steps: 3 });
      t.dispose();
      policy.model.dispose();
      return ms;
    };
    const tight = await run(1e-6);
    const off = await run(0);
    for (const m of tight) expect(m.grad_clipped).toBe((m.grad_norm as number) > 1e-6 ? 1 : 0);
    expect(tight.some((m) => m.grad_clipped === 1)).toBe(true);
    for (const m of off) expect(m.grad_clipped).toBe(0);
    // The unclipped gradient norm is reported either way: same first step, same norm.
    expect(off[0].grad_norm).toBeCloseTo(tight[0].grad_norm as number, 6);
  });
});
