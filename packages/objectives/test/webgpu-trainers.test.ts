/**
 * The trainer classes on the webgpu backend against the same runs on wasm: every host read in
 * their hot path is awaited or deferred (webgpu in Node has no synchronous read), so a step must
 * run there and give the same numbers within float32 tolerance. Small on purpose: in CI the
 * adapter is Mesa's software Vulkan (lavapipe, see .ci/run), ~30× slower than wasm. Skips with
 * the reason printed where Dawn has no adapter.
 *
 * Gradients are captured by a test subclass that evaluates the trainer's own micro-batch loss
 * closures (the real hot path) before handing them to BaseTrainer.update.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeferredReads, initBackend, loadCheckpoint, probeWebgpuAdapter, tf, withDeferredReads } from '@falign/core';
import { OfflineTrainer, OnPolicyTrainer, fgrpoTerms, type MicroBatch, type StepMetrics } from '../src/index.js';
import { importanceWeightsTensor } from '../src/losses/fgrpo.js';
import { toyPairs, toyPolicy, toyPrompts } from './helpers/toy.js';
import type { RewardSpec } from '../src/index.js';

/** A graded reward (the first character's digit value, 0 otherwise): groups rarely tie, so steps have a gradient. */
const digitValue: RewardSpec = { name: 'digit', fn: async (s) => s.map((x) => (/^[0-3]/.test(x.completion) ? Number(x.completion[0]) : 0)) };

const found = await probeWebgpuAdapter();
if (!found.adapter) console.log(`[webgpu-trainers.test] skipped: ${found.why}`);

/** Gradients in the order of the model's variables (names differ between model instances). */
type Grads = Float32Array[];

/** Gradients of the summed micro-batch losses, read with awaited reads (works on every backend). */
async function gradsOf(micro: readonly MicroBatch[], vars: tf.Variable[]): Promise<Grads> {
  const out: Grads = [];
  for (const mb of micro) {
    const reads = new DeferredReads();
    const { value, grads } = withDeferredReads(reads, () => tf.variableGrads(mb.loss, vars));
    await reads.flush();
    value.dispose();
    for (const [i, v] of vars.entries()) {
      const d = (await grads[v.name].data()) as Float32Array;
      out[i] = out[i] ? out[i].map((x, j) => x + d[j]) : Float32Array.from(d);
    }
    tf.dispose(Object.values(grads));
  }
  return out;
}

// Record the gradients of each step's micro-batches, then train as usual. Running the closures
// twice adds each micro-batch's logged sums twice (their means are unchanged) and, for KLDO, moves
// its moving average twice: the same on both backends, so the runs stay comparable.
class CapturingOnPolicy extends OnPolicyTrainer {
  grads: Grads[] = [];
  protected override async update(micro: readonly MicroBatch[]) {
    this.grads.push(await gradsOf(micro, this.policy.model.variables()));
    return super.update(micro);
  }
}

class CapturingOffline extends OfflineTrainer {
  grads: Grads[] = [];
  protected override async update(micro: readonly MicroBatch[]) {
    this.grads.push(await gradsOf(micro, this.policy.model.variables()));
    return super.update(micro);
  }
}

interface RunResult {
  metrics: StepMetrics[];
  grads: Grads[];
  weights: Float32Array[];
}

/** Reads the weights, frees the run, and checks that it left no tensor behind. */
async function finish(t: { grads: Grads[]; dispose(): void }, model: { variables(): tf.Variable[]; dispose(): void }, metrics: StepMetrics[], tensorsBefore: number): Promise<RunResult> {
  const weights = await Promise.all(model.variables().map(async (v) => (await v.data()) as Float32Array));
  t.dispose();
  model.dispose();
  expect(tf.memory().numTensors).toBe(tensorsBefore);
  return { metrics, grads: t.grads, weights };
}

/** Two steps (a fresh rollout each); also checks that the run leaks no tensor on that backend. */
async function onPolicyRun(backend: 'wasm' | 'webgpu', algorithm: 'fgrpo' | 'grpo'): Promise<RunResult> {
  await initBackend(backend);
  expect(tf.getBackend()).toBe(backend);
  const tensorsBefore = tf.memory().numTensors;
  const p = toyPolicy();
  const t = new CapturingOnPolicy({
    policy: p,
    prompts: toyPrompts(),
    rewards: [digitValue],
    config: {
      algorithm,
      divergence: 'kl',
      // GRPO with the k3 penalty and 'bnpo' (the active-token count enters the loss as a tensor).
      grpo: { betaKl: 0.04, lossType: 'bnpo' },
      numGenerations: 4,
      promptsPerStep: 2,
      maxNewTokens: 2,
      lr: 1e-2,
      seed: 3,
      log: false,
    },
  });
  const metrics = await t.train({ steps: 2 });
  return finish(t, p.model, metrics, tensorsBefore);
}

/** Two steps of 2 micro-batches; with `saveTo`, also a trainer checkpoint (its reads awaited: webgpu-safe). */
async function offlineRun(backend: 'wasm' | 'webgpu', algorithm: 'fdo' | 'kldo' | 'dpo', saveTo?: string): Promise<RunResult> {
  await initBackend(backend);
  expect(tf.getBackend()).toBe(backend);
  const tensorsBefore = tf.memory().numTensors;
  const p = toyPolicy();
  const t = new CapturingOffline({
    policy: p,
    data: toyPairs(),
    config: { algorithm, divergence: 'jensen_shannon', beta: 0.5, batchSize: 4, gradAccumSteps: 2, kldoMovingAverage: algorithm === 'kldo', lr: 1e-2, seed: 2, log: false },
  });
  const metrics = await t.train({ steps: 2 });
  if (saveTo) await t.saveCheckpoint(saveTo);
  return finish(t, p.model, metrics, tensorsBefore);
}

/** Largest |a − b| over all entries, and the largest |b| (for a relative bound). */
function worstDiff(a: Float32Array[], b: Float32Array[]): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  expect(a).toHaveLength(b.length);
  for (const [k, y] of b.entries()) {
    const x = a[k];
    expect(x.length).toBe(y.length);
    y.forEach((v, i) => {
      diff = Math.max(diff, Math.abs(x[i] - v));
      scale = Math.max(scale, Math.abs(v));
    });
  }
  return { diff, scale };
}

function expectClose(gpu: RunResult, wasm: RunResult, keys: string[]): void {
  expect(gpu.grads).toHaveLength(wasm.grads.length);
  gpu.grads.forEach((g, s) => {
    const { diff, scale } = worstDiff(g, wasm.grads[s]);
    expect(scale).toBeGreaterThan(0); // a real gradient, not an all-zero step
    expect(diff).toBeLessThan(1e-4 * scale + 1e-6);
  });
  const w = worstDiff(gpu.weights, wasm.weights);
  expect(w.diff).toBeLessThan(1e-4); // lr 1e-2: a wrong update is off by ~1e-2
  gpu.metrics.forEach((m, s) => {
    for (const k of keys) {
      const want = wasm.metrics[s][k] as number;
      expect(m[k], `step ${s + 1} ${k}`).toBeTypeOf('number');
      expect(Math.abs((m[k] as number) - want), `step ${s + 1} ${k}`).toBeLessThan(1e-4 * Math.abs(want) + 1e-5);
    }
  });
}

describe.skipIf(!found.adapter)('trainers on webgpu (vs wasm)', () => {
  it.each(['fgrpo', 'grpo'] as const)('OnPolicyTrainer %s: two steps with the same gradients, losses, logged statistics and weights', async (algorithm) => {
    const wasm = await onPolicyRun('wasm', algorithm);
    const gpu = await onPolicyRun('webgpu', algorithm);
    await initBackend('wasm');
    expect(wasm.metrics.some((m) => m.loss !== 0)).toBe(true); // the rewards gave a signal
    // Same sampled completions (same seed) is a precondition of comparing the rest.
    expect(gpu.metrics.map((m) => m['completions/mean_length'])).toEqual(wasm.metrics.map((m) => m['completions/mean_length']));
    expect(gpu.metrics.map((m) => m.reward)).toEqual(wasm.metrics.map((m) => m.reward));
    expectClose(gpu, wasm, ['loss', 'grad_norm', 'kl', 'entropy', ...(algorithm === 'grpo' ? ['clip_ratio/region_mean'] : [])]);
  });

  it.each(['fdo', 'kldo', 'dpo'] as const)('OfflineTrainer %s (2 micro-batches a step): same gradients, losses, implicit rewards and weights', async (algorithm) => {
    const dir = await mkdtemp(join(tmpdir(), 'falign-webgpu-trainers-'));
    const wasm = await offlineRun('wasm', algorithm);
    const gpu = await offlineRun('webgpu', algorithm, dir);
    await initBackend('wasm');
    // The checkpoint written on webgpu holds exactly the weights the run ended with.
    const saved = await loadCheckpoint(dir);
    const savedWeights = await Promise.all(saved.model.variables().map(async (v) => (await v.data()) as Float32Array));
    saved.model.dispose();
    await rm(dir, { recursive: true, force: true });
    expect(savedWeights).toEqual(gpu.weights);
    // Not rewards/accuracies: at step 1 policy = reference, the margins are rounding noise (~1e-7)
    // and their signs differ between backends.
    expectClose(gpu, wasm, ['loss', 'grad_norm', 'rewards/chosen', 'rewards/rejected', 'rewards/margins']);
  });

  it('importance weights computed on the device (no synchronous read) equal the host weights', async () => {
    const advantages = [1, -1, 0.5, -0.5, 0, 2, -2, 0];
    const rewards = [1, 0, 0.7, 0.2, 0.5, 3, -1, null];
    const old = [-1.5, -2, -0.25, -3, -1, -0.5, -4, -2];
    await initBackend('wasm');
    const hostLoss = tf.tidy(() => {
      const lp = tf.tensor1d(old.map((x) => x + 0.1));
      const terms = fgrpoTerms({ logp: lp, refLogp: tf.tensor1d(old), oldLogp: tf.tensor1d(old), advantages, rewards, groupSize: 4 }, { divergence: 'kl', beta: 0.1, weighting: { kind: 'importance', truncate: 1.5 } });
      return terms.perSample.arraySync();
    });
    await initBackend('webgpu');
    const w = importanceWeightsTensor(advantages, 4, 1.5, rewards, tf.tensor1d(old));
    const reads = new DeferredReads();
    const terms = withDeferredReads(reads, () => {
      const lp = tf.tensor1d(old.map((x) => x + 0.1));
      return fgrpoTerms({ logp: lp, refLogp: tf.tensor1d(old), oldLogp: tf.tensor1d(old), advantages, rewards, groupSize: 4 }, { divergence: 'kl', beta: 0.1, weighting: { kind: 'importance', truncate: 1.5 } });
    });
    await reads.flush();
    const gpuTerms = Array.from(await terms.perSample.data());
    const wv = Array.from(await w.data());
    tf.dispose([w, terms.loss, terms.perSample, terms.statistic]);
    await initBackend('wasm');
    gpuTerms.forEach((v, i) => expect(Math.abs(v - hostLoss[i])).toBeLessThan(1e-5));
    expect(wv[4]).toBe(0); // a = 0: no weight
    expect(wv.every((x) => x <= 1.5 + 1e-6)).toBe(true); // the cap
  });
});
