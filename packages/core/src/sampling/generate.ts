/**
 * Batched sampling with a KV cache: prompts are left-padded into one batch and prefilled in one
 * forward pass (attention mask + explicit positions), then every live row advances one token per
 * step. The per-step sampling math runs in JS on one host copy of the last-step logits of the
 * batch (see distribution.ts). When at least half the rows of a batch have finished, the cache is
 * compacted to the live rows so finished completions stop costing compute.
 *
 * Randomness: row r of the request (prompt i, sample j → r = i·numSamples + j) draws from
 * `new Rng(seed).fork(r)`, so results do not depend on `batchSize` or on which rows share a batch.
 */
import { tf } from '../backend.js';
import type { DecoderLM, ForwardOptions } from '../model/decoder.js';
import type { KVCache } from '../model/kv-cache.js';
import { Rng } from '../rng.js';
import type { Completion, SampleOptions, Tokenizer } from '../types.js';
import { sampleToken, type DistributionOptions } from './distribution.js';
import { decodeContinuation } from './decode-text.js';

/** One completion being decoded. */
interface Row {
  index: number;
  promptIndex: number;
  prompt: string;
  promptIds: number[];
  rng: Rng;
  /** Most new tokens this row may produce (maxNewTokens, capped by the model's maxSeqLen). */
  limit: number;
  ids: number[];
  logprobs: number[];
  text: string | null;
  finish: Completion['finishReason'] | null;
  firstLogits?: Float32Array;
}

function checkOptions(o: SampleOptions): void {
  const bad = (field: string, v: unknown, want: string): never => {
    throw new Error(`generate: ${field} must be ${want}, got ${JSON.stringify(v)}`);
  };
  if (!Number.isInteger(o.maxNewTokens) || o.maxNewTokens < 0) bad('maxNewTokens', o.maxNewTokens, 'a non-negative integer');
  const t = o.temperature ?? 1;
  if (!(t >= 0) || !Number.isFinite(t)) bad('temperature', o.temperature, 'a finite number >= 0');
  const k = o.topK ?? 0;
  if (!Number.isInteger(k) || k < 0) bad('topK', o.topK, 'a non-negative integer');
  const p = o.topP ?? 1;
  if (!(p > 0 && p <= 1)) bad('topP', o.topP, 'in (0, 1]');
  const n = o.numSamples ?? 1;
  if (!Number.isInteger(n) || n < 1) bad('numSamples', o.numSamples, 'a positive integer');
  const b = o.batchSize ?? 64;
  if (!Number.isInteger(b) || b < 1) bad('batchSize', o.batchSize, 'a positive integer');
  if (o.seed !== undefined && !Number.isFinite(o.seed)) bad('seed', o.seed, 'a finite number');
  if (o.stopStrings?.some((s) => typeof s !== 'string' || s.length === 0)) bad('stopStrings', o.stopStrings, 'non-empty strings');
}

/**
 * Ids that end a completion: `stopTokens`, the tokenizer's EOS, and for llama2.c tokenizers BOS
 * too (run.c ends generation when the model emits BOS, its story delimiter).
 */
export function stopTokenSet(tokenizer: Tokenizer, stopTokens: readonly number[] = []): Set<number> {
  const s = new Set(stopTokens);
  if (tokenizer.eosId !== null) s.add(tokenizer.eosId);
  for (const id of tokenizer.eosIds ?? []) s.add(id);
  if (tokenizer.kind === 'llama2c' && tokenizer.bosId !== null) s.add(tokenizer.bosId);
  return s;
}

/** Prompt ids: strings are encoded (with BOS unless `addBos` is false); id arrays are used as given. */
function promptIds(tokenizer: Tokenizer, prompt: string | readonly number[], addBos: boolean, index: number): number[] {
  if (typeof prompt === 'string') return tokenizer.encode(prompt, { bos: addBos });
  if (!Array.isArray(prompt)) throw new Error(`generate: prompt ${index} must be a string or an array of token ids`);
  for (const id of prompt) {
    if (!Number.isInteger(id) || id < 0 || id >= tokenizer.vocabSize) {
      throw new Error(`generate: prompt ${index} has token id ${id} outside [0, ${tokenizer.vocabSize})`);
    }
  }
  return [...prompt];
}

/**
 * Samples `numSamples` completions per prompt (contiguous in the output, prompt order kept).
 * See {@link SampleOptions}; a stop token is kept in `tokenIds` (and scored), a stop string cuts
 * the text before it and the ids after the token that completed it.
 */
export async function generate(
  model: DecoderLM,
  tokenizer: Tokenizer,
  prompts: readonly string[] | readonly (readonly number[])[],
  opts: SampleOptions,
): Promise<Completion[]> {
  checkOptions(opts);
  const numSamples = opts.numSamples ?? 1;
  const batchSize = opts.batchSize ?? 64;
  const addBos = opts.addBos ?? tokenizer.bosId !== null;
  if (addBos && tokenizer.bosId === null) throw new Error('generate: addBos is set but the tokenizer has no BOS token');
  if (tokenizer.vocabSize > model.config.vocabSize) {
    throw new Error(`generate: tokenizer has ${tokenizer.vocabSize} tokens but the model only ${model.config.vocabSize}`);
  }
  const maxSeqLen = model.config.maxSeqLen;
  const root = new Rng(opts.seed ?? 0);
  const rows: Row[] = [];
  prompts.forEach((p, i) => {
    const ids = promptIds(tokenizer, p, addBos, i);
    if (ids.length === 0) throw new Error(`generate: prompt ${i} is empty and no BOS is added; the model needs at least one token`);
    if (ids.length > maxSeqLen) throw new Error(`generate: prompt ${i} has ${ids.length} tokens, more than the model's maxSeqLen ${maxSeqLen}`);
    const text = typeof p === 'string' ? p : tokenizer.decode(ids);
    for (let j = 0; j < numSamples; j++) {
      const index = i * numSamples + j;
      rows.push({
        index,
        promptIndex: i,
        prompt: text,
        promptIds: ids,
        rng: root.fork(index),
        limit: Math.min(opts.maxNewTokens, maxSeqLen - ids.length),
        ids: [],
        logprobs: [],
        text: null,
        finish: null,
      });
    }
  });
  const dist: DistributionOptions = { temperature: opts.temperature ?? 1, topK: opts.topK ?? 0, topP: opts.topP ?? 1 };
  const ctx: StepContext = {
    model,
    tokenizer,
    dist,
    stops: stopTokenSet(tokenizer, opts.stopTokens),
    stopStrings: opts.stopStrings ?? [],
    keepFirstLogits: opts.returnFirstLogits ?? false,
  };
  for (let start = 0; start < rows.length; start += batchSize) {
    await decodeBatch(rows.slice(start, start + batchSize), ctx);
    // Let other async work (progress bars, servers) run between batches.
    await new Promise<void>((r) => setImmediate(r));
  }
  return rows.map((r) => {
    const c: Completion = {
      promptIndex: r.promptIndex,
      prompt: r.prompt,
      promptTokenIds: r.promptIds,
      text: r.text ?? completionText(tokenizer, r, ctx.stops),
      tokenIds: r.ids,
      tokenLogprobs: r.logprobs,
      finishReason: r.finish ?? 'length',
    };
    if (r.firstLogits) c.firstLogits = r.firstLogits;
    return c;
  });
}

interface StepContext {
  model: DecoderLM;
  tokenizer: Tokenizer;
  dist: DistributionOptions;
  stops: Set<number>;
  stopStrings: string[];
  keepFirstLogits: boolean;
}

/** Text of a row's ids without a terminating stop token. */
function completionText(tokenizer: Tokenizer, r: Row, stops: Set<number>): string {
  const n = r.ids.length;
  const ids = r.finish === 'stop' && n > 0 && stops.has(r.ids[n - 1]) ? r.ids.slice(0, n - 1) : r.ids;
  return decodeContinuation(tokenizer, r.promptIds, ids);
}

/** Earliest occurrence of any stop string: its index, or -1. */
function findStop(text: string, stopStrings: string[]): number {
  let at = -1;
  for (const s of stopStrings) {
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at;
}

/** Appends a sampled token to a row and decides whether the row is done. */
function accept(r: Row, id: number, logprob: number, ctx: StepContext): void {
  r.ids.push(id);
  r.logprobs.push(logprob);
  if (ctx.stops.has(id)) {
    r.finish = 'stop';
    return;
  }
  if (ctx.stopStrings.length > 0) {
    const text = decodeContinuation(ctx.tokenizer, r.promptIds, r.ids);
    const at = findStop(text, ctx.stopStrings);
    if (at >= 0) {
      r.text = text.slice(0, at);
      r.finish = 'stop';
      return;
    }
  }
  if (r.ids.length >= r.limit) r.finish = 'length';
}

/**
 * Decodes one batch of rows to completion. Logits are read back asynchronously: webgpu in Node
 * has no synchronous read path, and on wasm the await costs one microtask per step.
 */
async function decodeBatch(batch: Row[], ctx: StepContext): Promise<void> {
  const { model } = ctx;
  const V = model.config.vocabSize;
  let live = batch.filter((r) => r.limit > 0);
  for (const r of batch) if (r.limit <= 0) r.finish = 'length';
  if (live.length === 0) return;

  const L = Math.max(...live.map((r) => r.promptIds.length));
  const B = live.length;
  const ids = new Int32Array(B * L);
  const pos = new Int32Array(B * L);
  // mask[b][s] over every cached position s; grows by one column per step.
  let mask: number[][] = live.map(() => new Array<number>(L).fill(0));
  live.forEach((r, b) => {
    const pad = L - r.promptIds.length;
    for (let t = 0; t < L; t++) {
      const real = t >= pad;
      ids[b * L + t] = real ? r.promptIds[t - pad] : ctx.tokenizer.padId;
      pos[b * L + t] = real ? t - pad : 0;
      mask[b][t] = real ? 1 : 0;
    }
  });
  // Without left padding, positions are the defaults and every key is visible: passing neither
  // gives the same numbers (a mask of ones adds 0) with less work per step.
  const padded = live.some((r) => r.promptIds.length !== L);
  let cache: KVCache = model.createCache(B);
  try {
    let logits = tf.tidy(() => {
      const out = model.forward(
        tf.tensor2d(ids, [B, L], 'int32'),
        padded ? { cache, positions: tf.tensor2d(pos, [B, L], 'int32'), attentionMask: tf.tensor2d(mask.flat(), [B, L], 'float32') } : { cache },
      );
      return tf.reshape(tf.slice(out, [0, L - 1, 0], [B, 1, V]), [B, V]);
    });
    let host = (await logits.data()) as Float32Array;
    logits.dispose();
    for (;;) {
      live.forEach((r, b) => {
        if (r.finish !== null) return; // finished, kept in the batch until the next compaction
        const row = host.subarray(b * V, (b + 1) * V);
        if (ctx.keepFirstLogits && r.ids.length === 0) r.firstLogits = Float32Array.from(row);
        const { id, logprob } = sampleToken(row, ctx.dist, r.rng);
        accept(r, id, logprob, ctx);
      });
      const alive = live.map((r) => r.finish === null);
      const nAlive = alive.filter(Boolean).length;
      if (nAlive === 0) break;
      if (nAlive * 2 <= live.length) {
        const keep = alive.flatMap((a, b) => (a ? [b] : []));
        cache = compactCache(model, cache, keep);
        mask = keep.map((b) => mask[b]);
        live = keep.map((b) => live[b]);
      }
      const n = live.length;
      const S = cache.length + 1;
      const stepIds = Int32Array.from(live, (r) => r.ids[r.ids.length - 1]);
      let step: () => ForwardOptions = () => ({ cache });
      if (padded) {
        for (let b = 0; b < n; b++) mask[b].push(1);
        const stepPos = Int32Array.from(live, (r) => r.promptIds.length + r.ids.length - 1);
        step = () => ({ cache, positions: tf.tensor2d(stepPos, [n, 1], 'int32'), attentionMask: tf.tensor2d(mask.flat(), [n, S], 'float32') });
      }
      logits = tf.tidy(() => tf.reshape(model.forward(tf.tensor2d(stepIds, [n, 1], 'int32'), step()), [n, V]));
      host = (await logits.data()) as Float32Array;
      logits.dispose();
    }
  } finally {
    cache.dispose();
  }
}

/** A new cache holding only rows `keep` of `cache` (which is disposed). */
function compactCache(model: DecoderLM, cache: KVCache, keep: number[]): KVCache {
  const next = model.createCache(keep.length);
  tf.tidy(() => {
    const idx = tf.tensor1d(keep, 'int32');
    for (let layer = 0; layer < cache.nLayers; layer++) {
      const kv = cache.get(layer);
      if (kv) next.set(layer, tf.gather(kv.k, idx, 0), tf.gather(kv.v, idx, 0));
    }
  });
  next.advance(cache.length);
  cache.dispose();
  return next;
}
