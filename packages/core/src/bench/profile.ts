/**
 * Kernel profile of the reference workload (`npm run profile:core`, or packages/core/scripts/profile):
 * time per tfjs kernel for one training step (forward + backward + clip + AdamW, batch 16 × 64)
 * and for one KV-cache sampling step (16 rows, one new token after a 40-token context), on the
 * backend named by FALIGN_BACKEND (default wasm). Kernel times come from tf.profile; what is left
 * of the wall time is JS overhead (tape, dispatch, tidy, sampling on the host).
 *
 * Then A/Bs, interleaved: the fused kernels against the op-by-op paths (FALIGN_FUSED=0), and the
 * SIMD GEMM against XNNPACK products (FALIGN_SIMD_GEMM=0).
 *
 * Env: PROFILE_REPEATS (profiled repeats, medians per kernel; default 3), PROFILE_SHAPES=1 (one row
 * per kernel and input shapes). Prints two tables, then
 * one JSON line.
 */
import { loadavg } from 'node:os';
import { initBackend, tf } from '../backend.js';
import { DecoderLM } from '../model/decoder.js';
import { Rng } from '../rng.js';
import { AdamW } from '../train/adamw.js';
import { trainStepAsync } from '../train/step.js';
import { generate } from '../sampling/generate.js';
import { B, lmLoss, randomIds, REFERENCE, referenceTokenizer, T } from './workload.js';

/** Kernel rows, and the wall and CPU time of an unprofiled run of the same step. */
export interface Profile {
  rows: KernelRow[];
  wallMs: number;
  cpuMs: number;
}

/** One row of a profile table: a kernel and its time per profiled step. */
export interface KernelRow {
  kernel: string;
  calls: number;
  ms: number;
}

/**
 * Kernel rows (sorted by time) of one profiled run of `f`, and the wall time of one unprofiled run
 * (profiling itself costs time per kernel). tf.profile also lists op scopes (custom gradients,
 * `fusedMatMul__op`) around the kernels they launch; only registered kernels are kept, so nothing
 * is counted twice.
 */
export async function profileKernels(f: () => void | Promise<void>, byShape = false): Promise<Profile> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await f();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const cpuMs = (c.user + c.system) / 1000;
  const backend = tf.getBackend();
  const info = await tf.profile(async () => {
    await f();
    return [];
  });
  const by = new Map<string, KernelRow>();
  for (const k of info.kernels) {
    if (tf.getKernel(k.name, backend) === undefined) continue;
    const key = byShape ? `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join('')}` : k.name;
    const r = by.get(key) ?? { kernel: key, calls: 0, ms: 0 };
    r.calls += 1;
    r.ms += k.kernelTimeMs as number;
    by.set(key, r);
  }
  return { rows: [...by.values()].sort((a, b) => b.ms - a.ms), wallMs, cpuMs };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Per-kernel medians over repeats (calls from the first run). */
function merge(runs: Profile[]): Profile {
  const names = new Set(runs.flatMap((r) => r.rows.map((x) => x.kernel)));
  const rows = [...names].map((kernel) => {
    const got = runs.map((r) => r.rows.find((x) => x.kernel === kernel));
    return { kernel, calls: got[0]?.calls ?? 0, ms: median(got.map((g) => g?.ms ?? 0)) };
  });
  return { rows: rows.sort((a, b) => b.ms - a.ms), wallMs: median(runs.map((r) => r.wallMs)), cpuMs: median(runs.map((r) => r.cpuMs)) };
}

/**
 * A fixed-width table: kernel, calls, ms, share of the step's wall time (kernel times are wall
 * times too); then the kernel total and what is left (JS: engine, tape, tidy, host work). The
 * step's CPU time is printed beside: on a loaded machine wall times include time spent waiting.
 */
export function formatTable(title: string, p: Profile, top = 18): string {
  const total = p.rows.reduce((a, r) => a + r.ms, 0);
  const calls = p.rows.reduce((a, r) => a + r.calls, 0);
  const pct = (ms: number) => `${((100 * ms) / p.wallMs).toFixed(1)}%`;
  const line = (k: string, c: string, ms: string, share: string) => `  ${k.padEnd(Math.max(24, ...p.rows.slice(0, top).map((r) => r.kernel.length)))} ${c.padStart(6)} ${ms.padStart(9)} ${share.padStart(7)}`;
  const out = [`${title}: ${p.wallMs.toFixed(1)} ms wall (${p.cpuMs.toFixed(1)} ms CPU), ${calls} kernel calls`, line('kernel', 'calls', 'ms', 'share')];
  for (const r of p.rows.slice(0, top)) out.push(line(r.kernel, String(r.calls), r.ms.toFixed(2), pct(r.ms)));
  const rest = p.rows.slice(top);
  if (rest.length) {
    const ms = rest.reduce((a, r) => a + r.ms, 0);
    out.push(line(`(${rest.length} others)`, String(rest.reduce((a, r) => a + r.calls, 0)), ms.toFixed(2), pct(ms)));
  }
  out.push(line('all kernels', String(calls), total.toFixed(2), pct(total)));
  out.push(line('JS outside kernels', '', (p.wallMs - total).toFixed(2), pct(p.wallMs - total)));
  return out.join('\n');
}

async function main(): Promise<void> {
  const backend = await initBackend((process.env.FALIGN_BACKEND as 'wasm' | undefined) ?? 'wasm');
  const repeats = Number(process.env.PROFILE_REPEATS ?? 3);
  const byShape = process.env.PROFILE_SHAPES === '1';
  console.log(`falign kernel profile — backend ${backend}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  console.log(`reference model ${JSON.stringify(REFERENCE)}; medians of ${repeats} profiled runs after warm-up`);

  const rng = new Rng(1);
  const model = new DecoderLM(REFERENCE, { seed: 1 });
  const opt = new AdamW(model.namedVariables(), { lr: 3e-4 });
  // Awaited read: the same script profiles webgpu (no synchronous reads there).
  const step = async () => {
    const batch = randomIds(rng, B, T + 1, REFERENCE.vocabSize);
    await trainStepAsync(model, opt, () => lmLoss(model, batch), { clipNorm: 1 });
  };
  for (let i = 0; i < 2; i++) await step();
  const trainRuns = [];
  for (let i = 0; i < repeats; i++) trainRuns.push(await profileKernels(step, byShape));
  const train = merge(trainRuns);
  console.log(formatTable(`training step (${B}×${T} tokens)`, train));

  // One decoding step at a typical context: 16 rows, cache of 40 positions, one new token each.
  const ctx = 40;
  const infer = new DecoderLM(REFERENCE, { seed: 2, trainable: false });
  const cache = infer.createCache(B);
  const mask = (s: number) => tf.ones([B, s]) as tf.Tensor2D;
  tf.tidy(() => {
    infer.forward(tf.tensor2d(randomIds(rng, B, ctx, REFERENCE.vocabSize), [B, ctx], 'int32'), { cache, attentionMask: mask(ctx) });
  });
  const decode = async () => {
    const logits = tf.tidy(() => {
      const ids = tf.tensor2d(randomIds(rng, B, 1, REFERENCE.vocabSize), [B, 1], 'int32');
      const pos = tf.fill([B, 1], cache.length, 'int32') as tf.Tensor2D;
      return infer.forward(ids, { cache, positions: pos, attentionMask: mask(cache.length + 1) });
    });
    await logits.data();
    logits.dispose();
  };
  await decode();
  const runs = [];
  for (let i = 0; i < repeats; i++) runs.push(await profileKernels(decode, byShape));
  const sample = merge(runs);
  console.log(formatTable(`KV sampling step (${B} rows, 1 token, context ${ctx}+)`, sample));

  // A/B in one process, interleaved so that load changes hit both: `env`=0 (FALIGN_FUSED: the
  // op-by-op paths; FALIGN_SIMD_GEMM: XNNPACK products) against the default; CPU time per step is
  // steadier than wall time under load.
  const ab = async (f: () => void | Promise<void>, env = 'FALIGN_FUSED') => {
    const m = { off: { wall: [] as number[], cpu: [] as number[] }, on: { wall: [] as number[], cpu: [] as number[] } };
    const saved = process.env[env];
    try {
      for (let i = 0; i < 2 * repeats + 2; i++) {
        const mode = i % 2 === 0 ? 'off' : 'on';
        process.env[env] = mode === 'off' ? '0' : '1';
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        await f();
        const c = process.cpuUsage(c0);
        if (i >= 2) {
          m[mode].wall.push(performance.now() - t0);
          m[mode].cpu.push((c.user + c.system) / 1000);
        }
      }
    } finally {
      if (saved === undefined) delete process.env[env];
      else process.env[env] = saved;
    }
    const med = (x: { wall: number[]; cpu: number[] }) => ({ wall: median(x.wall), cpu: median(x.cpu) });
    return { off: med(m.off), on: med(m.on) };
  };
  const trainAb = await ab(step);
  const gemmAb = await ab(step, 'FALIGN_SIMD_GEMM');
  // Sampling end to end (prefill, decoding steps, host-side sampling) rather than one step on a
  // long-lived cache: that is what bench:core measures.
  const gen = new DecoderLM(REFERENCE, { seed: 3, trainable: false });
  const tok = referenceTokenizer();
  const prompts = randomIds(rng, B, 8, REFERENCE.vocabSize, 1);
  const decodeAb = await ab(async () => {
    await generate(gen, tok, prompts, { maxNewTokens: 32, temperature: 1, seed: 1, addBos: false });
  });
  gen.dispose();
  type Ab = Awaited<ReturnType<typeof ab>>;
  const fmtAb = (name: string, r: Ab, off = 'op-by-op', on = 'fused') =>
    `  ${name.padEnd(22)} ${off} ${r.off.wall.toFixed(2)} ms wall / ${r.off.cpu.toFixed(2)} ms CPU; ${on} ${r.on.wall.toFixed(2)} ms wall / ${r.on.cpu.toFixed(2)} ms CPU: ${(r.off.wall / r.on.wall).toFixed(2)}× faster (wall)`;
  console.log(`A/B (FALIGN_FUSED=0 vs default, interleaved, medians of ${repeats}; CPU counts every thread):`);
  console.log(fmtAb('training step', trainAb));
  console.log(fmtAb('sampling 16×32 tokens', decodeAb));
  console.log(`A/B (FALIGN_SIMD_GEMM=0 vs default: products by XNNPACK vs assembly/gemm.ts):`);
  console.log(fmtAb('training step', gemmAb, 'XNNPACK', 'SIMD GEMM'));
  cache.dispose();
  infer.dispose();
  opt.dispose();
  model.dispose();
  console.log(JSON.stringify({ backend, train, sample, ab: { train: trainAb, decode: decodeAb, trainSimdGemm: gemmAb } }));
}

main().catch((err: unknown) => {
  console.error(`profile: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
