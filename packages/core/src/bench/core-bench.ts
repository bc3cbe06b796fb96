/**
 * Core benchmark (`npm run bench:core`): training and KV-cache sampling throughput of the
 * reference workload in docs/platform.md (GPT-2 style, vocab 64, d 128, 4 layers, 4 heads,
 * context 64, batch 16), stories260K sampling, and — when `/usr/bin/python3` has torch — the same
 * workload in PyTorch (scripts/bench_core_torch.py) for ratios.
 *
 * Env: FALIGN_BACKEND (default wasm), FALIGN_MODELS_DIR (default <repo>/../shared/models),
 * BENCH_STEPS (measured training steps, default 8). Prints human lines, then one JSON line.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, tf } from '../backend.js';
import { DecoderLM } from '../model/decoder.js';
import { AdamW } from '../train/adamw.js';
import { trainStep } from '../train/step.js';
import { Rng } from '../rng.js';
import { generate } from '../sampling/generate.js';
import { CharTokenizer } from '../tokenizers/char.js';
import { loadLlama2c } from '../checkpoints/llama2c.js';
import type { ModelConfig, Tokenizer } from '../types.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..', '..', '..');

/** The reference workload; maxSeqLen leaves room for an 8-token prompt + 64 new tokens. */
export const REFERENCE: ModelConfig = { arch: 'gpt2', vocabSize: 64, dModel: 128, nLayers: 4, nHeads: 4, maxSeqLen: 72 };
const B = 16;
const T = 64;
const PROMPT_LEN = 8;
const NEW_TOKENS = 64;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function randomIds(rng: Rng, rows: number, cols: number, vocab: number, from = 0): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => from + rng.nextInt(vocab - from)));
}

/** Mean next-token cross-entropy of a [B, T+1] batch. */
function lmLoss(model: DecoderLM, batch: number[][]): tf.Scalar {
  return tf.tidy(() => {
    const n = batch.length;
    const t = batch[0].length - 1;
    const inp = tf.tensor2d(batch.map((r) => r.slice(0, t)), [n, t], 'int32');
    const tgt = tf.oneHot(tf.tensor2d(batch.map((r) => r.slice(1)), [n, t], 'int32'), model.config.vocabSize);
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(model.forward(inp)), tgt), -1))) as tf.Scalar;
  });
}

/** CPU time (user + system) of this process in ms: less sensitive than wall time to other load. */
function cpuMs(since: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since);
  return (c.user + c.system) / 1000;
}

function benchTraining(steps: number): { tokPerS: number; stepMs: number; cpuTokPerS: number; loss: number } {
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
    loss = trainStep(model, opt, () => lmLoss(model, batch), { clipNorm: 1 }).loss;
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

function torchBench(): Record<string, number> | null {
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
  return JSON.parse(line) as Record<string, number>;
}

async function main(): Promise<void> {
  const backend = await initBackend((process.env.FALIGN_BACKEND as 'wasm' | undefined) ?? 'wasm');
  const steps = Number(process.env.BENCH_STEPS ?? 8);
  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`falign core benchmark — backend ${backend}, load average ${load} (timings are only meaningful on a quiet machine)`);
  console.log(`reference model: ${JSON.stringify(REFERENCE)}, batch ${B} × ${T}`);
  console.log('targets on the 2-core machine (wasm): training ≥ 2,500 tok/s, KV sampling ≥ 4,000 tok/s (docs/platform.md prototype: 1,820 / 3,460)');
  const result: Record<string, number | string | null> = { backend, load };

  const train = benchTraining(steps);
  console.log(
    `training:            ${train.tokPerS.toFixed(0)} tok/s  (median step ${train.stepMs.toFixed(0)} ms over ${steps} steps; per CPU-second ${train.cpuTokPerS.toFixed(0)} tok/s; loss ${train.loss.toFixed(3)})`,
  );
  result.train_tok_s = train.tokPerS;
  result.train_tok_per_cpu_s = train.cpuTokPerS;

  const alphabet = Array.from({ length: REFERENCE.vocabSize - 1 }, (_, i) => String.fromCharCode(0x21 + i));
  const charTok = new CharTokenizer(alphabet, { pad: '<pad>' }); // no EOS: every row runs 64 tokens
  const model = new DecoderLM(REFERENCE, { seed: 2 });
  const prompts = randomIds(new Rng(3), B, PROMPT_LEN, REFERENCE.vocabSize, 1);
  const sample = await benchSampling(model, charTok, prompts, NEW_TOKENS, 3);
  model.dispose();
  console.log(
    `KV sampling 16×64:   ${sample.tokPerS.toFixed(0)} tok/s  (${sample.ms.toFixed(0)} ms for ${sample.tokens} tokens; per CPU-second ${sample.cpuTokPerS.toFixed(0)} tok/s)`,
  );
  result.sample_tok_s = sample.tokPerS;
  result.sample_tok_per_cpu_s = sample.cpuTokPerS;

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

  const torch = torchBench();
  if (torch) {
    console.log(`PyTorch (1 thread, OpenBLAS 2): training ${torch.train_tok_s.toFixed(0)} tok/s, KV sampling ${torch.sample_tok_s.toFixed(0)} tok/s`);
    console.log(
      `ratio falign/torch:  training ${(train.tokPerS / torch.train_tok_s).toFixed(3)}, sampling ${(sample.tokPerS / torch.sample_tok_s).toFixed(3)}`,
    );
    result.torch_train_tok_s = torch.train_tok_s;
    result.torch_sample_tok_s = torch.sample_tok_s;
  } else {
    console.log('PyTorch: skipped (/usr/bin/python3 cannot import torch)');
  }
  console.log(JSON.stringify(result));
}

main().catch((err: unknown) => {
  console.error(`bench:core: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
