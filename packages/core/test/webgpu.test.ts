/**
 * The webgpu backend against wasm, on whatever WebGPU adapter the machine has: in CI that is
 * Mesa's software Vulkan device (lavapipe), installed by .ci/run. Slow there, so a small subset:
 * stories260K greedy decoding equal to wasm, one training step's gradients and update within
 * float32 tolerance of wasm, and an awaited train step without tensor leaks. Skips (with the
 * reason printed) where no adapter exists.
 */
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AdamW,
  DecoderLM,
  generate,
  geluTanh,
  layerNorm,
  rmsNorm,
  globalNormTensor,
  initBackend,
  loadLlama2c,
  probeWebgpuAdapter,
  softwareAdapterReason,
  tf,
  trainStepAsync,
  Rng,
  type ModelConfig,
} from '../src/index.js';
import { adamwUpdate } from '../src/kernels/adamw.js';
import { smokeTest } from '../src/backend.js';

function randn(rng: Rng, n: number, sd = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * sd);
}

const modelsDir = process.env.FALIGN_MODELS_DIR ?? resolve(__dirname, '../../../../shared/models');
const storiesPath = join(modelsDir, 'stories260K', 'stories260K.bin');

const found = await probeWebgpuAdapter();
if (!found.adapter) console.log(`[webgpu.test] skipped: ${found.why}`);

describe('softwareAdapterReason', () => {
  it('flags fallback, CPU and software adapters by any field, and passes a hardware GPU', () => {
    expect(softwareAdapterReason({ isFallbackAdapter: true, info: { description: 'x' } })).toMatch(/fallback/);
    expect(softwareAdapterReason({ info: { adapterType: 'cpu' } })).toMatch(/CPU/);
    // What Dawn 0.6 reports for lavapipe: no isFallbackAdapter, no adapterType.
    const lvp = { info: { vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'llvmpipe: Mesa 25.0.7' } };
    expect(softwareAdapterReason(lvp)).toMatch(/software/);
    expect(softwareAdapterReason({ info: { vendor: 'google', description: 'SwiftShader Device (Subzero)' } })).toMatch(/software/);
    expect(softwareAdapterReason({ isFallbackAdapter: false, info: { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100 80GB HBM3' } })).toBeNull();
  });

  it.skipIf(!found.adapter || existsSync('/dev/dri') || existsSync('/dev/nvidia0'))('flags the adapter of this GPU-less machine', () => {
    expect(softwareAdapterReason(found.adapter!)).not.toBeNull();
  });
});

/** Runs initBackend() with no backend named in a fresh Node process; returns its stdout and stderr. */
function autoChoice(env: Record<string, string>): { chosen: string; log: string[] } {
  const src = resolve(__dirname, '../src/index.ts');
  const childEnv: Record<string, string | undefined> = { ...process.env, ...env };
  delete childEnv.FALIGN_BACKEND;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', `const { initBackend } = await import(${JSON.stringify(src)}); console.log(await initBackend());`], {
    env: childEnv,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return { chosen: r.stdout.trim(), log: r.stderr.split('\n').filter((l) => l.startsWith('[falign]')) };
}

describe.skipIf(!found.adapter || softwareAdapterReason(found.adapter) === null)('automatic choice with only a software adapter', () => {
  it('never picks it: wasm, with one line naming the skipped adapter', () => {
    const { chosen, log } = autoChoice({ FALIGN_WEBGPU_PROBE: 'always' });
    expect(chosen).toBe('wasm');
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(/^\[falign\] tfjs backend: wasm .*webgpu not used: '.+' is a software adapter/);
  });
});

describe('smokeTest (the first tiny op every candidate backend must run)', () => {
  it('passes on wasm and cpu, and names the failure on a backend whose kernels are missing', async () => {
    for (const name of ['wasm', 'cpu'] as const) {
      await initBackend(name);
      expect(await smokeTest()).toBeNull();
    }
    // A backend that starts but cannot run an op (no kernels registered under its name).
    tf.registerBackend('falign-test-broken', () => new (tf.findBackend('cpu')!.constructor as new () => tf.KernelBackend)());
    try {
      await tf.setBackend('falign-test-broken');
      expect(await smokeTest()).toMatch(/^first op failed: .*not registered/);
    } finally {
      tf.removeBackend('falign-test-broken');
      await initBackend('wasm');
    }
  });
});

/** Tiny configs: one per architecture, so both attention paths (learned positions, RoPE + GQA) run. */
const GPT: ModelConfig = { arch: 'gpt2', vocabSize: 16, dModel: 16, nLayers: 2, nHeads: 2, maxSeqLen: 12 };
const LLAMA: ModelConfig = { arch: 'llama', vocabSize: 16, dModel: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, maxSeqLen: 12 };
const BATCH = [
  [1, 5, 3, 9, 2, 7, 7, 4],
  [0, 15, 8, 8, 1, 2, 3, 11],
  [4, 4, 6, 10, 13, 2, 0, 5],
];

const LR = 1e-2;

function lmLoss(model: DecoderLM, ids: number[][]): tf.Scalar {
  return tf.tidy(() => {
    const B = ids.length;
    const T = ids[0].length - 1;
    const inp = tf.tensor2d(ids.map((r) => r.slice(0, T)), [B, T], 'int32');
    const tgt = tf.oneHot(tf.tensor2d(ids.map((r) => r.slice(1)), [B, T], 'int32'), model.config.vocabSize);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(model.forward(inp)), tgt), -1))) as tf.Scalar;
  });
}

/** Loss, gradients and weights after one AdamW step (then a second step for the leak check), read back asynchronously (webgpu has no sync reads in Node). */
async function oneStep(backend: 'wasm' | 'webgpu', cfg: ModelConfig): Promise<{ loss: number; grads: Map<string, Float32Array>; after: Map<string, Float32Array> }> {
  await initBackend(backend);
  const model = new DecoderLM(cfg, { seed: 3 });
  const named = model.namedVariables();
  const { value, grads } = tf.variableGrads(() => lmLoss(model, BATCH), model.variables());
  const g = new Map<string, Float32Array>();
  for (const [k, v] of named) g.set(k, (await grads[v.name].data()) as Float32Array);
  const loss = (await value.data())[0];
  value.dispose();
  Object.values(grads).forEach((t) => t.dispose());
  const opt = new AdamW(named, { lr: LR, weightDecay: 0.1 });
  const before = tf.memory().numTensors;
  await trainStepAsync(model, opt, () => lmLoss(model, BATCH), { clipNorm: 0.5 });
  const afterFirst = tf.memory().numTensors; // optimizer moments now exist
  const after = new Map<string, Float32Array>();
  for (const [k, v] of named) after.set(k, (await v.data()) as Float32Array);
  const r = await trainStepAsync(model, opt, () => lmLoss(model, BATCH), { clipNorm: 0.5 });
  expect(Number.isFinite(r.loss) && Number.isFinite(r.gradNorm)).toBe(true);
  expect(tf.memory().numTensors).toBe(afterFirst); // steady state: no leak per step
  expect(afterFirst).toBeGreaterThan(before);
  opt.dispose();
  model.dispose();
  return { loss, grads: g, after };
}

function maxRelErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-12);
}

describe.skipIf(!found.adapter)('webgpu backend (vs wasm)', () => {
  afterAll(async () => {
    await initBackend('wasm');
  });

  it('explicit FALIGN_BACKEND=webgpu uses the adapter, software or not', async () => {
    expect(await initBackend('webgpu')).toBe('webgpu');
    expect(tf.getBackend()).toBe('webgpu');
  });

  it.skipIf(!existsSync(storiesPath))('stories260K greedy decoding equals wasm', async () => {
    const run = async (backend: 'wasm' | 'webgpu') => {
      await initBackend(backend);
      const { model, tokenizer } = await loadLlama2c(storiesPath, undefined, { trainable: false });
      const bos = tokenizer.bosId ?? 1;
      const out = await generate(model, tokenizer, [[bos], [bos, 403, 251]], { maxNewTokens: 24, temperature: 0, addBos: false });
      model.dispose();
      return out.map((c) => c.tokenIds);
    };
    const wasm = await run('wasm');
    const gpu = await run('webgpu');
    expect(wasm[0].length).toBe(24);
    expect(gpu).toEqual(wasm);
  });

  for (const cfg of [GPT, LLAMA]) {
    it(`${cfg.arch}: one training step's loss, gradients and AdamW update match wasm within float32 tolerance`, async () => {
      const wasm = await oneStep('wasm', cfg);
      const gpu = await oneStep('webgpu', cfg);
      expect(Math.abs(gpu.loss - wasm.loss)).toBeLessThan(1e-5 * Math.abs(wasm.loss) + 1e-6);
      for (const [k, gw] of wasm.grads) {
        expect(maxRelErr(gpu.grads.get(k)!, gw), `grad ${k}`).toBeLessThan(1e-4);
        // Adam divides by √v: where a gradient is ~0 its sign is float noise and the step is ±lr
        // either way, so the update is compared where the gradient is not negligible.
        const big = Math.max(...gw.map(Math.abs)) * 1e-2;
        const [a, b] = [gpu.after.get(k)!, wasm.after.get(k)!];
        let worst = 0;
        gw.forEach((g, i) => {
          if (Math.abs(g) > big) worst = Math.max(worst, Math.abs(a[i] - b[i]));
        });
        expect(worst, `weights ${k}`).toBeLessThan(1e-2 * LR); // a wrong update is off by ~LR
      }
    });
  }

  it('the global gradient norm of 30 tensors is right (tfjs-webgpu addN zeroes results past 7 inputs)', async () => {
    await initBackend('webgpu');
    // Tensor i holds i+1 copies of the value i+1: squared sum Σ (i+1)³ = (n(n+1)/2)².
    const grads: Record<string, tf.Tensor> = {};
    for (let i = 0; i < 30; i++) grads[`g${i}`] = tf.fill([i + 1], i + 1);
    const n = globalNormTensor(grads);
    expect((await n.data())[0]).toBeCloseTo(465, 3);
    tf.dispose([n, ...Object.values(grads)]);
  });

  it('FalignAdamW (three WGSL programs) matches the wasm kernel over two steps, with decay and gradient scale', async () => {
    const rng = new Rng(17);
    const n = 517;
    const data = { p: randn(rng, n), g1: randn(rng, n, 0.1), g2: randn(rng, n, 0.1) };
    const attrs = (t: number, gradScale: number) => ({ b1: 0.9, b2: 0.999, eps: 1e-8, stepSize: 1e-2 / (1 - 0.9 ** t), bc2Sqrt: Math.sqrt(1 - 0.999 ** t), decay: 1 - 1e-3, gradScale });
    const run = async (backend: 'wasm' | 'webgpu') => {
      await initBackend(backend);
      expect(tf.getKernel('FalignAdamW', backend)).toBeDefined();
      const p0 = tf.tensor1d(data.p);
      const [p1, m1, v1] = adamwUpdate(p0, tf.tensor1d(data.g1), null, null, attrs(1, 1));
      const [p2, m2, v2] = adamwUpdate(p1, tf.tensor1d(data.g2), m1, v1, attrs(2, 0.5));
      const out = [await p2.data(), await m2.data(), await v2.data()] as Float32Array[];
      tf.dispose([p0, p1, m1, v1, p2, m2, v2]);
      return out;
    };
    const want = await run('wasm');
    const got = await run('webgpu');
    got.forEach((arr, k) => arr.forEach((x, i) => expect(Math.abs(x - want[k][i])).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want[k][i])))));
  });

  it('FalignGelu / FalignGeluGrad (WGSL) match wasm: values (inference) and gradients', async () => {
    const rng = new Rng(23);
    const data = randn(rng, 7 * 33, 3);
    const u = randn(rng, 7 * 33);
    const run = async (backend: 'wasm' | 'webgpu') => {
      await initBackend(backend);
      expect(tf.getKernel('FalignGelu', backend)).toBeDefined();
      const x = tf.tensor2d(data, [7, 33]);
      const y = geluTanh(x);
      const { value, grads } = tf.valueAndGrads((a: tf.Tensor) => tf.sum(tf.mul(geluTanh(a), tf.tensor2d(u, [7, 33]))))([x]);
      const out = [await y.data(), await value.data(), await grads[0].data()] as Float32Array[];
      tf.dispose([x, y, value, ...grads]);
      return out;
    };
    const want = await run('wasm');
    const got = await run('webgpu');
    got.forEach((arr, k) => arr.forEach((v, i) => expect(Math.abs(v - want[k][i])).toBeLessThanOrEqual(2e-5 * Math.max(1, Math.abs(want[k][i])))));
  });

  for (const rms of [false, true]) {
    it(`${rms ? 'RMSNorm' : 'LayerNorm'} training kernels (WGSL) match wasm: values and gradients`, async () => {
      const rng = new Rng(rms ? 29 : 28);
      const [n, d] = [9, 24];
      const data = { x: randn(rng, n * d, 2), g: randn(rng, d), b: randn(rng, d), u: randn(rng, n * d) };
      const run = async (backend: 'wasm' | 'webgpu') => {
        await initBackend(backend);
        expect(tf.getKernel('FalignNormTrain', backend)).toBeDefined();
        const x = tf.tensor2d(data.x, [n, d]);
        const g = tf.tensor1d(data.g);
        const b = tf.tensor1d(data.b);
        const u = tf.tensor2d(data.u, [n, d]);
        const f = (...a: tf.Tensor[]) => tf.sum(tf.mul(rms ? rmsNorm(a[0], a[1], 1e-5) : layerNorm(a[0], a[1], a[2], 1e-5), u));
        const { value, grads } = tf.valueAndGrads(f)(rms ? [x, g] : [x, g, b]);
        const out = [await value.data(), ...(await Promise.all(grads.map((t) => t.data())))] as Float32Array[];
        tf.dispose([x, g, b, u, value, ...grads]);
        return out;
      };
      const want = await run('wasm');
      const got = await run('webgpu');
      expect(got).toHaveLength(rms ? 3 : 4);
      got.forEach((arr, k) => {
        const scale = Math.max(...Array.from(want[k], Math.abs), 1);
        arr.forEach((v, i) => expect(Math.abs(v - want[k][i])).toBeLessThan(2e-5 * scale));
      });
    });
  }

  it('a synchronous read of a GPU tensor fails with a clear message', async () => {
    await initBackend('webgpu');
    const x = tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])));
    expect(() => x.dataSync()).toThrow(/await t\.data\(\)/);
    x.dispose();
  });
});
