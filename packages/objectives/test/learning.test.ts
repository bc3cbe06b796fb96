/**
 * Tests that learn: a ~3.5k-parameter GPT-2 on "a,b=" → larger digit (digits 0–3). Greedy
 * accuracy starts at 0 (always-'3' would give 7/16 = 0.44); every objective must push it clearly
 * above that and raise the mean training reward, within a fixed number of steps (wasm backend).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend, tf } from '@falign/core';
import { HybridTrainer, OfflineTrainer, OnPolicyTrainer, PAPER_DIVERGENCES, type RewardSpec, type StepMetrics } from '../src/index.js';
import { greedyAccuracy, larger, toyPairs, toyPolicy, toyPrompts } from './helpers/toy.js';

beforeAll(async () => {
  await initBackend('wasm');
});

const common = { numGenerations: 8, promptsPerStep: 8, maxNewTokens: 1, lr: 1e-2, seed: 3, log: false } as const;
const meanReward = (ms: StepMetrics[]) => ms.reduce((a, m) => a + (m.reward as number), 0) / ms.length;

describe('on-policy objectives learn the toy task', () => {
  it('f-GRPO with each of the six paper divergences', async () => {
    for (const divergence of PAPER_DIVERGENCES) {
      const policy = toyPolicy();
      const trainer = new OnPolicyTrainer({ policy, prompts: toyPrompts(), rewards: [larger], config: { ...common, algorithm: 'fgrpo', divergence, beta: 0.1 } });
      expect(await greedyAccuracy(policy)).toBe(0);
      const ms = await trainer.train({ steps: 30 });
      const acc = await greedyAccuracy(policy);
      expect(acc, divergence).toBeGreaterThanOrEqual(0.5);
      expect(meanReward(ms.slice(-5)), divergence).toBeGreaterThan(meanReward(ms.slice(0, 5)) + 0.3);
      trainer.dispose();
      policy.model.dispose();
    }
  });

  it('GRPO (dapo aggregation, μ = 2, β_kl = 0.04)', async () => {
    const policy = toyPolicy();
    const trainer = new OnPolicyTrainer({
      policy,
      prompts: toyPrompts(),
      rewards: [larger],
      config: { ...common, algorithm: 'grpo', numIterations: 2, grpo: { betaKl: 0.04 } },
    });
    const ms = await trainer.train({ steps: 30 });
    expect(await greedyAccuracy(policy)).toBeGreaterThanOrEqual(0.5);
    expect(meanReward(ms.slice(-5))).toBeGreaterThan(meanReward(ms.slice(0, 5)) + 0.3);
    expect(ms[1].iteration).toBe(1); // the second step reuses the first batch
    expect(ms[1]['time/sampling']).toBe(0);
    expect(typeof ms[1]['clip_ratio/region_mean']).toBe('number');
    trainer.dispose();
    policy.model.dispose();
  });

  it('control: GRPO on a random reward (independent of the completion) does not learn the task', async () => {
    // Same budget and settings as the runs above; coin-flip rewards with mean 0.5 give every
    // group an advantage signal, so the update is as large, but it carries no information.
    let state = 12345;
    const coin: RewardSpec = {
      name: 'coin',
      fn: async (s) =>
        s.map(() => {
          state = (Math.imul(state, 1103515245) + 12345) >>> 0;
          return state >>> 31;
        }),
    };
    const policy = toyPolicy();
    const trainer = new OnPolicyTrainer({ policy, prompts: toyPrompts(), rewards: [coin, { ...larger, weight: 0 }], config: { ...common, algorithm: 'grpo' } });
    const ms = await trainer.train({ steps: 30 });
    const task = (xs: StepMetrics[]) => xs.reduce((a, m) => a + (m['rewards/larger/mean'] as number), 0) / xs.length;
    expect(await greedyAccuracy(policy)).toBeLessThan(0.5);
    expect(task(ms.slice(-5))).toBeLessThan(task(ms.slice(0, 5)) + 0.3);
    expect(meanReward(ms)).toBeGreaterThan(0.3); // the coin did pay out
    trainer.dispose();
    policy.model.dispose();
  });

  it('f-HAL (λ = 0.5, Pearson) with an offline set of right/wrong answers; memory stays flat', async () => {
    const policy = toyPolicy();
    const trainer = new HybridTrainer({
      policy,
      prompts: toyPrompts(),
      rewards: [larger],
      offline: toyPairs(),
      config: { ...common, divergence: 'pearson', beta: 0.1, lambda: 0.5, offlineBatchSize: 8 },
    });
    const ms: StepMetrics[] = [];
    ms.push(...(await trainer.train({ steps: 2 })));
    const tensors = tf.memory().numTensors;
    ms.push(...(await trainer.train({ steps: 28 })));
    expect(tf.memory().numTensors).toBe(tensors);
    expect(await greedyAccuracy(policy)).toBeGreaterThanOrEqual(0.5);
    expect(meanReward(ms.slice(-5))).toBeGreaterThan(meanReward(ms.slice(0, 5)) + 0.3);
    expect(ms[29]['offline/rewards/margins'] as number).toBeGreaterThan(0);
    trainer.dispose();
    policy.model.dispose();
  });
});

describe('offline objectives learn the toy task', () => {
  it.each([
    ['fdo', { divergence: 'jensen_shannon' }],
    ['dpo', {}],
  ] as const)('%s raises greedy accuracy and the preference accuracy', async (algorithm, extra) => {
    const policy = toyPolicy();
    const trainer = new OfflineTrainer({ policy, data: toyPairs(), config: { algorithm, beta: 0.5, batchSize: 8, lr: 2e-2, seed: 1, log: false, ...extra } });
    const ms = await trainer.train({ steps: 80 });
    expect(await greedyAccuracy(policy)).toBeGreaterThanOrEqual(0.5);
    const late = ms.slice(-10);
    expect(late.reduce((a, m) => a + (m['rewards/accuracies'] as number), 0) / late.length).toBeGreaterThanOrEqual(0.8);
    expect(late.reduce((a, m) => a + (m.loss as number), 0) / late.length).toBeLessThan(ms[0].loss as number);
    trainer.dispose();
    policy.model.dispose();
  });
});
