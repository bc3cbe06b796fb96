/**
 * Core benchmark (`npm run bench:core`): training and KV-cache sampling throughput of the
 * reference workload in docs/platform.md (GPT-2 style, vocab 64, d 128, 4 layers, 4 heads,
 * context 64, batch 16), stories260K sampling, and — when `/usr/bin/python3` has torch — the same
 * workload in PyTorch (scripts/bench_core_torch.py) for ratios.
 *
 * Env: FALIGN_BACKEND (default wasm), FALIGN_MODELS_DIR (default <repo>/../shared/models),
 * BENCH_STEPS (measured training steps, default 8), BENCH_ROUNDS (falign/PyTorch rounds, default 3:
 * interleaved so that load changes hit both sides; ratios per round, then medians). A ratio is refused
 * when PyTorch runs a reference BLAS (its 512³ GEMM speed and loaded libraries are checked).
 * Prints human lines, then one JSON line.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, tf } from '../backend.js';
import { DecoderLM } from '../model/decoder.js';
import { AdamW } from '../train/adamw.js';
import { trainStepAsync } from '../train/step.js';
import { Rng } from '../rng.js';
import { generate } from '../sampling/generate.js';
import { referenceBlasProblem } from './reference-blas.js';
import { B, lmLoss, NEW_TOKENS, PROMPT_LEN, randomIds, REFERENCE, referenceTokenizer, T } from './workload.js';
import { loadLlama2c } from '../checkpoints/llama2c.js';
import type { Tokenizer } from '../types.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..', '..', '..');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** CPU time (user + system) of this process in ms: less sensitive than wall time to other load. */
function cpuMs(since: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1000;
}

/** Training throughput; the step's one read is awaited, so this runs on every backend (webgpu too). */
async function benchTraining(steps: number): Promise<{ tokPerS: number; stepMs: number; cpuTokPerS: number; loss: number }> {
  const rng = new Rng(1);
  const model = new DecoderLM(REFERENCE, { seed: 1 });
  const opt = new AdamW(model.namedVariables(), { lr: 3e-4 });
  const times: number[] = [];
  const cpu: number[] = [];
  let loss = NaN;
  for (let i = 0; i < steps + 3; i++) {
    const batch = randomIds(rng, B, T + 1, REFERENCE.vocabSize);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    loss = (await trainStepAsync(model, opt, () => lmLoss(model, batch), { clipNorm: 1 })).loss;
    if (i >= 3) {
      times.push(performance.now() - t0);
      cpu.push(cpuMs(c0));
    }
  }
  opt.dispose();
  model.dispose();
  const stepMs = median(times);
  return { tokPerS: (B * T * 1000) / stepMs, stepMs, cpuTokPerS: (B * T * 1000) / median(cpu), loss };
}

async function benchSampling(
  model: DecoderLM,
  tokenizer: Tokenizer,
  prompts: number[][],
  maxNewTokens: number,
  repeats: number,
): Promise<{ tokPerS: number; ms: number; tokens: number; cpuTokPerS: number }> {
  const runs: { ms: number; cpu: number; tokens: number }[] = [];
  for (let i = 0; i < repeats + 1; i++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const out = await generate(model, tokenizer, prompts, { maxNewTokens, temperature: 1, seed: i, addBos: false });
    const ms = performance.now() - t0;
    const cpu = cpuMs(c0);
    if (i > 0) runs.push({ ms, cpu, tokens: out.reduce((a, c) => a + c.tokenIds.length, 0) });
  }
  const ms = median(runs.map((r) => r.ms));
  const tokens = median(runs.map((r) => r.tokens));
  return { tokPerS: (tokens * 1000) / ms, ms, tokens, cpuTokPerS: (tokens * 1000) / median(runs.map((r) => r.cpu)) };
}

interface TorchResult {
  train_tok_s: number;
  sample_tok_s: number;
  train_tok_per_cpu_s: number;
  sample_tok_per_cpu_s: number;
  gemm_gflops: number;
  blas: string[];
  torch: string;
}

function torchBench(): TorchResult | null {
  const py = '/usr/bin/python3';
  try {
    execFileSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
  } catch {
    return null;
  }
  const script = join(repoRoot, 'scripts', 'bench_core_torch.py');
  const out = execFileSync(py, [script], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: '2' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = out.trim().split('\n').pop()!;
  return JSON.parse(line) as TorchResult;
}

function loadLine(): string {
  return loadavg().map((x) => x.toFixed(2)).join(' ');
}

async function main(): Promise<void> {
  const backend = await initBackend((process.env.FALIGN_BACKEND as 'wasm' | undefined) ?? 'wasm');
  const steps = Number(process.env.BENCH_STEPS ?? 8);
  const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
  const loadStart = loadLine();
  console.log(`falign core benchmark — backend ${backend}, load average ${loadStart} (1/5/15 min; timings are only meaningful on a quiet machine)`);
  console.log(`reference model: ${JSON.stringify(REFERENCE)}, batch ${B} × ${T}; ${rounds} rounds, each falign then PyTorch (ratios per round, then medians)`);
  const result: Record<string, unknown> = { backend, load_start: loadStart, rounds: [] as unknown[] };
  const rows: {
    train: number;
    sample: number;
    trainCpu: number;
    sampleCpu: number;
    torch: TorchResult | null;
    load: string;
  }[] = [];
  let torchMissing = false;
  let blasProblem: string | null = null;
  const charTok = referenceTokenizer(); // no EOS: every row runs 64 tokens
  for (let r = 0; r < rounds; r++) {
    const train = await benchTraining(steps);
    const model = new DecoderLM(REFERENCE, { seed: 2 });
    const prompts = randomIds(new Rng(3), B, PROMPT_LEN, REFERENCE.vocabSize, 1);
    const sample = await benchSampling(model, charTok, prompts, NEW_TOKENS, 3);
    model.dispose();
    const torch = torchMissing ? null : torchBench();
    if (torch === null) torchMissing = true;
    else blasProblem ??= referenceBlasProblem(torch);
    const load = loadLine();
    rows.push({ train: train.tokPerS, sample: sample.tokPerS, trainCpu: train.cpuTokPerS, sampleCpu: sample.cpuTokPerS, torch, load });
    const t = torch ? `; PyTorch training ${torch.train_tok_s.toFixed(0)}, KV sampling ${torch.sample_tok_s.toFixed(0)} tok/s, GEMM 512³ ${torch.gemm_gflops.toFixed(1)} GFLOP/s` : '';
    console.log(
      `round ${r + 1}: training ${train.tokPerS.toFixed(0)} tok/s (step ${train.stepMs.toFixed(0)} ms, per CPU-s ${train.cpuTokPerS.toFixed(0)}), KV sampling 16×64 ${sample.tokPerS.toFixed(0)} tok/s (per CPU-s ${sample.cpuTokPerS.toFixed(0)})${t}; load ${load}`,
    );
    (result.rounds as unknown[]).push({ train_tok_s: train.tokPerS, train_tok_per_cpu_s: train.cpuTokPerS, sample_tok_s: sample.tokPerS, sample_tok_per_cpu_s: sample.cpuTokPerS, torch, load });
  }

  const trainMed = median(rows.map((x) => x.train));
  const sampleMed = median(rows.map((x) => x.sample));
  console.log(`falign (median of ${rounds}): training ${trainMed.toFixed(0)} tok/s, KV sampling 16×64 ${sampleMed.toFixed(0)} tok/s`);
  result.train_tok_s = trainMed;
  result.sample_tok_s = sampleMed;

  const modelsDir = process.env.FALIGN_MODELS_DIR ?? join(repoRoot, '..', 'shared', 'models');
  const storiesPath = join(modelsDir, 'stories260K', 'stories260K.bin');
  if (existsSync(storiesPath)) {
    const { model: stories, tokenizer } = await loadLlama2c(storiesPath, undefined, { trainable: false });
    const bos = tokenizer.bosId ?? 1;
    const s = await benchSampling(stories, tokenizer, Array.from({ length: B }, () => [bos]), 128, 2);
    stories.dispose();
    console.log(`stories260K 16×≤128: ${s.tokPerS.toFixed(0)} tok/s  (${s.ms.toFixed(0)} ms for ${s.tokens} tokens; per CPU-second ${s.cpuTokPerS.toFixed(0)} tok/s)`);
    result.stories_tok_s = s.tokPerS;
  } else {
    console.log(`stories260K: skipped (${storiesPath} not found; set FALIGN_MODELS_DIR)`);
    result.stories_tok_s = null;
  }

  if (torchMissing) {
    console.log('PyTorch: skipped (/usr/bin/python3 cannot import torch)');
  } else if (blasProblem !== null) {
    console.log(`ratio falign/torch: refused — ${blasProblem}`);
    result.ratio_refused = blasProblem;
  } else {
    const t = rows.map((x) => x.torch!);
    const tr = rows.map((x, i) => x.train / t[i].train_tok_s);
    const sr = rows.map((x, i) => x.sample / t[i].sample_tok_s);
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(3)).join(', ');
    console.log(
      `PyTorch (1 thread, OpenBLAS 2; median of ${rounds}): training ${median(t.map((x) => x.train_tok_s)).toFixed(0)} tok/s, KV sampling ${median(t.map((x) => x.sample_tok_s)).toFixed(0)} tok/s, GEMM 512³ ${median(t.map((x) => x.gemm_gflops)).toFixed(1)} GFLOP/s`,
    );
    console.log(`ratio falign/torch:  training ${median(tr).toFixed(3)} (rounds ${fmt(tr)}), KV sampling ${median(sr).toFixed(3)} (rounds ${fmt(sr)})`);
    // Per CPU-second of every thread: steadier on a loaded machine, and it counts PyTorch's second
    // BLAS thread (and falign's product worker) as the cost it is.
    const trc = rows.map((x, i) => x.trainCpu / t[i].train_tok_per_cpu_s);
    const src = rows.map((x, i) => x.sampleCpu / t[i].sample_tok_per_cpu_s);
    console.log(`per CPU-second:      training ${median(trc).toFixed(3)} (rounds ${fmt(trc)}), KV sampling ${median(src).toFixed(3)} (rounds ${fmt(src)})`);
    result.train_ratio = median(tr);
    result.sample_ratio = median(sr);
    result.train_ratio_per_cpu = median(trc);
    result.sample_ratio_per_cpu = median(src);
  }
  result.load_end = loadLine();
  console.log(`load average at the end: ${result.load_end}`);
  console.log(JSON.stringify(result));
}
main().catch((err: unknown) => {
  console.error(`bench:core: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
