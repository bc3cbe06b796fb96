/**
 * Hugging Face model benchmark (`npm run bench:hf`): a SmolLM2-135M-shaped Llama (30 layers,
 * d 576, 9 heads / 3 KV heads, d_ff 1536, vocab 49,152, tied embeddings; random BF16 weights) is
 * written to a temp directory in HF layout, with SmolLM2's real tokenizer files from
 * `$FALIGN_MODELS_DIR/hf/smollm2-135m-instruct`, then opened through `loadPolicy('hf:DIR')` and
 * measured: load time, peak RSS, prompt scoring tok/s, KV-cache sampling tok/s (8 × 128 new
 * tokens), LoRA (r 16, all projections) training tok/s.
 *
 * Env: FALIGN_BACKEND (default wasm; webgpu is measured only when asked for and a GPU is there),
 * FALIGN_MODELS_DIR, BENCH_HF_LAYERS (fewer layers for a quick look; default 30),
 * BENCH_HF_TRAIN_STEPS (default 2), BENCH_HF_SCORE_ROWS (rows per scoring call, default 2),
 * BENCH_HF_TRAIN_ROWS (64-token rows per LoRA step, default 2: 4 rows grow the wasm heap past
 * 2 GiB, where tfjs-backend-wasm fails). Prints human lines, then one JSON line.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backendName, initBackend, tf } from '../backend.js';
import { resolveConfig } from '../model/config.js';
import { hfShape, paramSpecs } from '../model/params.js';
import { LoraAdapter } from '../lora/adapter.js';
import { loadPolicy } from '../policy.js';
import { Rng } from '../rng.js';
import { generate } from '../sampling/generate.js';
import { tokenLogprobs } from '../scoring/logprobs.js';
import { AdamW } from '../train/adamw.js';
import type { BackendName, ModelConfig } from '../types.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..', '..', '..');

const LAYERS = Number(process.env.BENCH_HF_LAYERS ?? 30);
const TRAIN_STEPS = Number(process.env.BENCH_HF_TRAIN_STEPS ?? 2);
const SCORE_ROWS = Number(process.env.BENCH_HF_SCORE_ROWS ?? 2);
const TRAIN_ROWS = Number(process.env.BENCH_HF_TRAIN_ROWS ?? 2);

/** SmolLM2-135M's config.json (HuggingFaceTB/SmolLM2-135M), layers overridable for quick runs. */
export function smolConfigJson(layers = 30): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: 576,
    intermediate_size: 1536,
    num_attention_heads: 9,
    num_key_value_heads: 3,
    num_hidden_layers: layers,
    vocab_size: 49152,
    max_position_embeddings: 8192,
    rms_norm_eps: 1e-5,
    rope_theta: 100000,
    rope_scaling: null,
    tie_word_embeddings: true,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'bfloat16',
  };
}

const SMOL: ModelConfig = { arch: 'llama', vocabSize: 49152, dModel: 576, nLayers: LAYERS, nHeads: 9, nKvHeads: 3, dFF: 1536, maxSeqLen: 8192, ropeTheta: 100000, tieEmbeddings: true };

/** float32 → bfloat16 bits, round to nearest even (as torch's .to(bfloat16)). */
function toBf16(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < u.length; i++) {
    const v = u[i];
    out[i] = (v + 0x7fff + ((v >>> 16) & 1)) >>> 16;
  }
  return out;
}

/**
 * Writes model.safetensors (BF16, HF names and layouts, random weights: N(0, 0.02)-like uniform
 * for matrices, ones for norms) tensor by tensor, so memory stays at one tensor.
 */
function writeRandomWeights(dir: string, layers: number): number {
  const c = resolveConfig({ ...SMOL, nLayers: layers });
  const entries: { name: string; shape: number[]; ones: boolean }[] = [];
  for (const s of paramSpecs(c)) for (const p of s.parts) entries.push({ name: p.name, shape: hfShape(s, p), ones: s.init === 'ones' });
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const e of entries) {
    const bytes = e.shape.reduce((a, b) => a * b, 1) * 2;
    header[e.name] = { dtype: 'BF16', shape: e.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const fd = openSync(join(dir, 'model.safetensors'), 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json, 'utf8'));
    const rng = new Rng(1);
    const bound = 0.02 * Math.sqrt(3);
    for (const e of entries) {
      const n = e.shape.reduce((a, b) => a * b, 1);
      const buf = new Float32Array(n);
      if (e.ones) buf.fill(1);
      else for (let i = 0; i < n; i++) buf[i] = (2 * rng.next() - 1) * bound;
      const bf = toBf16(buf);
      writeSync(fd, new Uint8Array(bf.buffer));
    }
  } finally {
    closeSync(fd);
  }
  return entries.reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1), 0);
}

/** The HF directory: config, weights (in a child process, so its memory is not counted), tokenizer. */
function writeHfDir(dir: string, tokDir: string): void {
  writeFileSync(join(dir, 'config.json'), JSON.stringify(smolConfigJson(LAYERS), null, 2));
  for (const f of ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt']) {
    if (existsSync(join(tokDir, f))) copyFileSync(join(tokDir, f), join(dir, f));
  }
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--write-weights', dir, String(LAYERS)], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`writing the random weights failed (exit ${r.status})`);
}

const mib = (b: number) => b / 2 ** 20;
const peakRssMib = () => process.resourceUsage().maxRSS / 1024;

function randomIds(rng: Rng, rows: number, cols: number, lo: number, hi: number): number[][] {
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => lo + rng.nextInt(hi - lo)));
}

async function main(): Promise<void> {
  const modelsDir = process.env.FALIGN_MODELS_DIR ?? join(repoRoot, '..', 'shared', 'models');
  const tokDir = join(modelsDir, 'hf', 'smollm2-135m-instruct');
  if (!existsSync(join(tokDir, 'tokenizer.json'))) throw new Error(`${tokDir}/tokenizer.json not found: set FALIGN_MODELS_DIR to the shared models directory`);
  const wanted = (process.env.FALIGN_BACKEND ?? 'wasm') as BackendName;
  const backend = await initBackend(wanted);
  const lines: string[] = [];
  const say = (s: string) => {
    lines.push(s);
    process.stdout.write(`${s}\n`);
  };
  say(`bench:hf — SmolLM2-135M-shaped Llama (${LAYERS} layers, d 576, 9/3 heads, d_ff 1536, vocab 49152, tied), random BF16 weights`);
  say(`backend: ${backendName()} (asked: ${wanted}); load average ${loadavg()[0].toFixed(2)} on this machine`);
  if (backend !== 'webgpu') say('webgpu: not measured (no GPU in this session; run with FALIGN_BACKEND=webgpu where one is present)');

  const dir = mkdtempSync(join(tmpdir(), 'falign-hf-bench-'));
  const result: Record<string, number | string> = { backend, layers: LAYERS };
  try {
    let t = performance.now();
    writeHfDir(dir, tokDir);
    say(`wrote ${dir} in ${((performance.now() - t) / 1000).toFixed(1)} s (weights in a child process)`);
    const rssBefore = mib(process.memoryUsage().rss);

    t = performance.now();
    const policy = await loadPolicy(`hf:${dir}`, { trainable: false });
    const loadS = (performance.now() - t) / 1000;
    const model = policy.model;
    const params = model.numParams();
    result.params = params;
    result.loadSeconds = loadS;
    result.peakRssAfterLoadMiB = peakRssMib();
    say(`load hf:DIR: ${loadS.toFixed(2)} s for ${(params / 1e6).toFixed(1)}M params (${mib(params * 4).toFixed(0)} MiB float32); RSS ${rssBefore.toFixed(0)} → ${mib(process.memoryUsage().rss).toFixed(0)} MiB, peak ${peakRssMib().toFixed(0)} MiB`);

    const rng = new Rng(7);
    const V = model.config.vocabSize;
    // Prompt scoring: 8 rows × 128 tokens (1 prompt token + 127 scored), one forward pass.
    const scoreBatch = (rows: number, len: number) => ({ promptTokenIds: randomIds(rng, rows, 1, 3, V), completionTokenIds: randomIds(rng, rows, len - 1, 3, V) });
    const score = (b: ReturnType<typeof scoreBatch>) => {
      const s = tokenLogprobs(model, b);
      s.logp.dataSync();
      tf.dispose([s.logp, s.mask]);
    };
    score(scoreBatch(2, 16)); // warm-up: kernels and scratch buffers
    // tokenLogprobs materialises several [rows, vocab] float32 tensors (logits, log-softmax,
    // one-hot targets): 8 × 128 rows of a 49k vocabulary at once exhaust the wasm heap next to
    // the model, so the 8 rows are scored SCORE_ROWS at a time.
    const sb = scoreBatch(8, 128);
    t = performance.now();
    for (let i = 0; i < 8; i += SCORE_ROWS) {
      score({ promptTokenIds: sb.promptTokenIds.slice(i, i + SCORE_ROWS), completionTokenIds: sb.completionTokenIds.slice(i, i + SCORE_ROWS) });
    }
    const scoreS = (performance.now() - t) / 1000;
    result.scoringTokPerS = (8 * 128) / scoreS;
    result.scoreRowsPerCall = SCORE_ROWS;
    say(`prompt scoring (8 × 128 tokens, ${SCORE_ROWS} rows per call): ${scoreS.toFixed(2)} s → ${result.scoringTokPerS.toFixed(0)} tok/s`);

    // KV-cache sampling: 8 prompts of 16 tokens, 128 new tokens each (no stop token can end it early).
    const prompts = randomIds(rng, 8, 16, 3, V);
    await generate(model, policy.tokenizer, prompts.slice(0, 2), { maxNewTokens: 4, temperature: 1, seed: 1, stopTokens: [] });
    t = performance.now();
    const outs = await generate(model, policy.tokenizer, prompts, { maxNewTokens: 128, temperature: 1, seed: 2, batchSize: 8, addBos: false });
    const genS = (performance.now() - t) / 1000;
    const newTokens = outs.reduce((a, c) => a + c.tokenIds.length, 0);
    result.samplingTokPerS = newTokens / genS;
    result.sampledTokens = newTokens;
    say(`KV sampling (8 × 128 new tokens requested, ${newTokens} generated): ${genS.toFixed(2)} s → ${result.samplingTokPerS.toFixed(1)} tok/s`);

    // LoRA r 16 on every projection, AdamW on the adapter only; TRAIN_ROWS rows × 64 tokens per step.
    const adapter = LoraAdapter.create(model, { r: 16, alpha: 32, targetModules: 'all-linear', seed: 1 });
    const opt = new AdamW(adapter.namedVariables(), { lr: 1e-4 });
    const tb = scoreBatch(TRAIN_ROWS, 64);
    const step = () => {
      const { value, grads } = tf.variableGrads(() => {
        const s = tokenLogprobs(model, tb);
        return tf.neg(tf.div(tf.sum(s.logp), tf.sum(s.mask))) as tf.Scalar;
      }, adapter.variables());
      value.dataSync();
      opt.applyGradients(grads);
      tf.dispose([value, ...Object.values(grads)]);
    };
    step(); // warm-up
    t = performance.now();
    for (let i = 0; i < TRAIN_STEPS; i++) step();
    const trainS = (performance.now() - t) / 1000 / TRAIN_STEPS;
    result.loraParams = adapter.numParams();
    result.loraTrainTokPerS = (TRAIN_ROWS * 64) / trainS;
    result.peakRssMiB = peakRssMib();
    say(`LoRA r16 training (${(adapter.numParams() / 1e6).toFixed(2)}M adapter params, ${TRAIN_ROWS} × 64 tokens/step, ${TRAIN_STEPS} steps): ${trainS.toFixed(2)} s/step → ${result.loraTrainTokPerS.toFixed(1)} tok/s`);
    say(`ratios: sampling/scoring ${(result.samplingTokPerS / result.scoringTokPerS).toFixed(3)}, LoRA training/scoring ${(result.loraTrainTokPerS / result.scoringTokPerS).toFixed(3)}`);
    say(`peak RSS: ${result.peakRssMiB.toFixed(0)} MiB`);
    opt.dispose();
    adapter.dispose();
    policy.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify({ bench: 'hf', ...result })}\n`);
}

if (process.argv[2] === '--write-weights') {
  const n = writeRandomWeights(process.argv[3], Number(process.argv[4]));
  process.stdout.write(`  ${(n / 1e6).toFixed(1)}M parameters written as BF16\n`);
} else {
  main().catch((e) => {
    process.stderr.write(`bench:hf: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
}
