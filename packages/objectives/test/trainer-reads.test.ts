/**
 * Deferred host reads (the webgpu-safe path of the trainers) on wasm: the losses give the same
 * numbers and the same errors whether their reads happen at once or at a flush, and no trainer
 * leaks tensors across steps.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { DeferredReads, initBackend, tf, withDeferredReads } from '@falign/core';
import {
  HybridTrainer,
  OfflineTrainer,
  OnPolicyTrainer,
  createKldoState,
  fgrpoTerms,
  grpoTerms,
  kldoLoss,
  type GrpoBatch,
  type GrpoTerms,
  type RewardSpec,
} from '../src/index.js';
import { importanceWeightsTensor } from '../src/losses/fgrpo.js';
import { toyPairs, toyPolicy, toyPrompts } from './helpers/toy.js';

beforeAll(async () => {
  await initBackend('wasm');
});

/** Runs `fn` inside a collector and flushes it; returns what `fn` returned. */
async function deferred<T>(fn: () => T): Promise<T> {
  const reads = new DeferredReads();
  try {
    const out = withDeferredReads(reads, fn);
    await reads.flush();
    return out;
  } finally {
    reads.dispose();
  }
}

describe('DeferredReads', () => {
  it('runs callbacks in scheduling order after one flush, and frees its copies even when a callback throws', async () => {
    const before = tf.memory().numTensors;
    const reads = new DeferredReads();
    const seen: string[] = [];
    tf.tidy(() => {
      reads.read(tf.tensor1d([1, 2]), (v) => seen.push(`a${Array.from(v)}`));
      reads.after(() => seen.push('after-a'));
      reads.read(tf.scalar(7), (v) => seen.push(`b${v[0]}`));
    }); // the tidy frees the originals: the queue holds its own references
    expect(seen).toEqual([]);
    await reads.flush();
    expect(seen).toEqual(['a1,2', 'after-a', 'b7']);
    expect(tf.memory().numTensors).toBe(before);

    const x = tf.scalar(1);
    reads.read(x, () => {
      throw new Error('boom');
    });
    await expect(reads.flush()).rejects.toThrow('boom');
    x.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(reads.size).toBe(0);
  });
});

describe('losses give the same numbers with deferred reads', () => {
  const logp = [[-1, -2, -0.5], [-0.2, -3, -1], [-0.7, -0.1, -2], [-1.5, -0.4, -0.9]];
  const old = [[-1.1, -1.8, -0.5], [-0.25, -2.5, -1.2], [-0.6, -0.3, -2], [-1.6, -0.4, -0.8]];
  const ref = [[-0.9, -2.1, -0.4], [-0.3, -2.9, -1.1], [-0.8, -0.2, -1.9], [-1.4, -0.5, -1]];
  const mask = [[1, 1, 0], [1, 1, 1], [1, 0, 0], [1, 1, 1]];
  const batch = (): GrpoBatch => ({
    tokenLogp: tf.tensor2d(logp),
    oldTokenLogp: tf.tensor2d(old),
    refTokenLogp: tf.tensor2d(ref),
    mask: tf.tensor2d(mask),
    rewards: [1, 0, 0.5, 2],
    groupSize: 2,
  });

  it.each(['grpo', 'bnpo', 'dapo', 'dr_grpo'] as const)('grpoTerms %s: loss, clip fractions, kl and active tokens', async (lossType) => {
    const opts = { lossType, betaKl: 0.05, epsLow: 0.1 };
    let now!: GrpoTerms;
    const nowLoss = tf.tidy(() => (now = grpoTerms(batch(), opts)).loss);
    let later!: GrpoTerms;
    // The object is filled in at the flush: keep the reference, not a copy.
    const laterLoss = await deferred(() => tf.tidy(() => (later = grpoTerms(batch(), opts)).loss));
    expect(laterLoss.dataSync()[0]).toBe(nowLoss.dataSync()[0]);
    tf.dispose([nowLoss, laterLoss]);
    expect(now.activeTokens).toBe(9);
    expect(later.activeTokens).toBe(9);
    expect(later.clip).toEqual(now.clip);
    expect(later.kl).toBe(now.kl);
    expect(now.clip.region).toBeGreaterThan(0); // ε = 0.1 clips some tokens: the fractions are exercised
  });

  it('input errors are the same, thrown at the flush', async () => {
    const bad = [[-1, NaN, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]];
    await expect(deferred(() => tf.tidy(() => grpoTerms({ ...batch(), tokenLogp: tf.tensor2d(bad) }).loss))).rejects.toThrow(/grpoLoss: tokenLogp contains NaN at flat index 1/);
    await expect(deferred(() => tf.tidy(() => grpoTerms({ ...batch(), mask: tf.tensor2d([[1, 0.5, 0], [1, 1, 1], [1, 1, 1], [1, 1, 1]]) }).loss))).rejects.toThrow(/mask must hold only 0 and 1, found 0.5 at flat index 1/);
    const seq = [-1, -2, -3, -4];
    await expect(
      deferred(() => tf.tidy(() => fgrpoTerms({ logp: tf.tensor1d([NaN, 0, 0, 0]), refLogp: tf.tensor1d(seq), oldLogp: tf.tensor1d(seq), rewards: [1, 0, 1, 0], groupSize: 2 }, { divergence: 'kl', beta: 0.1 }).loss)),
    ).rejects.toThrow(/fgrpoLoss: logp contains NaN at flat index 0/);
  });

  it('importance weights on the device (the webgpu path): softmax of ±R − ℓold per side, times |S|, capped', () => {
    // Aligned side {0, 1}: logits 1 − (−1) = 2 and 0 − (−1.5) = 1.5, softmax σ(±0.5), times |S| = 2;
    // the cap 1.2 truncates the first. Unaligned side {2}: 1. a = 0: 0.
    const w = tf.tidy(() => importanceWeightsTensor([1, 1, -1, 0], 4, 1.2, [1, 0, 0, 0.5], tf.tensor1d([-1, -1.5, -1, -1])).arraySync());
    const s = 1 / (1 + Math.exp(-0.5));
    [1.2, 2 * (1 - s), 1, 0].forEach((want, i) => expect(w[i]).toBeCloseTo(want, 6));
  });

  it('KLDO moving average: same loss, gradient and state with deferred reads (wasm keeps its float64 update)', async () => {
    const run = async (defer: boolean) => {
      const state = createKldoState();
      const x = tf.variable(tf.tensor1d([0.3, -0.2, 0.5]));
      const out: number[] = [];
      for (let k = 0; k < 2; k++) {
        const f = () => kldoLoss({ posLogp: tf.slice(x, 0, 1), posRefLogp: tf.tensor1d([0]), negLogp: tf.slice(x, 1, 2), negRefLogp: tf.tensor1d([0.1, 0]) }, { beta: 0.5, movingAverage: { state } });
        const { value, grads } = defer ? await deferred(() => tf.variableGrads(f, [x])) : tf.variableGrads(f, [x]);
        out.push(value.dataSync()[0], ...grads[x.name].dataSync(), state.logMovingAverage!);
        tf.dispose([value, ...Object.values(grads)]);
        x.assign(tf.add(x, 0.1));
      }
      x.dispose();
      return out;
    };
    expect(await run(true)).toEqual(await run(false));
  });
});

describe('no tensor leaks across trainer steps', () => {
  const digit: RewardSpec = { name: 'digit', fn: async (s) => s.map((x) => (/^[0-3]/.test(x.completion) ? Number(x.completion[0]) : 0)) };
  const onPolicy = { numGenerations: 4, promptsPerStep: 2, gradAccumSteps: 2, maxNewTokens: 2, lr: 1e-2, seed: 1, log: false };
  const cases: [string, () => { train(o: { steps: number }): Promise<unknown>; dispose(): void }, () => void][] = [];
  const make = (name: string, build: (p: ReturnType<typeof toyPolicy>) => { train(o: { steps: number }): Promise<unknown>; dispose(): void }) => {
    let p: ReturnType<typeof toyPolicy>;
    cases.push([name, () => build((p = toyPolicy())), () => p.model.dispose()]);
  };
  make('f-GRPO (importance weights, μ = 2)', (policy) => new OnPolicyTrainer({ policy, prompts: toyPrompts(), rewards: [digit], config: { ...onPolicy, algorithm: 'fgrpo', numIterations: 2, weighting: { kind: 'importance' } } }));
  make('GRPO (k3, bnpo)', (policy) => new OnPolicyTrainer({ policy, prompts: toyPrompts(), rewards: [digit], config: { ...onPolicy, algorithm: 'grpo', grpo: { betaKl: 0.04, lossType: 'bnpo' } } }));
  for (const algorithm of ['fdo', 'kldo', 'dpo'] as const) {
    make(`offline ${algorithm}`, (policy) => new OfflineTrainer({ policy, data: toyPairs(), config: { algorithm, beta: 0.5, batchSize: 4, gradAccumSteps: 2, kldoMovingAverage: true, lr: 1e-2, seed: 2, log: false } }));
  }
  make('f-HAL (λ = 0.5)', (policy) => new HybridTrainer({ policy, prompts: toyPrompts(), rewards: [digit], offline: toyPairs(), config: { ...onPolicy, lambda: 0.5, offlineBatchSize: 4 } }));

  it.each(cases)('%s: tf.memory().numTensors is the same after steps 2 and 4', async (_name, build, cleanup) => {
    const t = build();
    await t.train({ steps: 2 }); // the first steps create the optimizer moments
    const n = tf.memory().numTensors;
    await t.train({ steps: 2 });
    expect(tf.memory().numTensors).toBe(n);
    t.dispose();
    cleanup();
  });
});
