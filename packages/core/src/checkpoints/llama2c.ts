/**
 * llama2.c checkpoints (`run.c`'s legacy / version-0 export, e.g. stories260K.bin): a 7-int32
 * header then float32 arrays in `memory_map_weights` order. Weights come out under Hugging Face
 * Llama names, with wq/wk rows permuted from llama2.c's interleaved RoPE pairs to HF's
 * `rotate_half` layout exactly as HF's `convert_llama_weights_to_hf.py` `permute()` does.
 */
import { access, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ModelConfig } from '../types.js';
import type { RawTensor } from './safetensors.js';
import { DecoderLM } from '../model/decoder.js';
import { Llama2cTokenizer } from '../tokenizers/llama2c.js';
import { disposeAll, rawToTensors } from './raw.js';

const HEADER_INTS = 7;
/** Magic number of llama2.c's newer `export.py --version 1/2` files ("ak42"). */
const LLAMA2C_V1_MAGIC = 0x616b3432;

/** The seven header fields of a llama2.c checkpoint. */
export interface Llama2cHeader {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  /** Absolute vocab size. */
  vocabSize: number;
  /** True when the classifier shares the embedding (the stored vocab_size is positive). */
  sharedClassifier: boolean;
  seqLen: number;
}

/** Header → falign model config (llama arch, RMSNorm eps 1e-5, RoPE base 10000). */
export function llama2cConfig(h: Llama2cHeader): ModelConfig {
  return {
    arch: 'llama',
    vocabSize: h.vocabSize,
    dModel: h.dim,
    nLayers: h.nLayers,
    nHeads: h.nHeads,
    nKvHeads: h.nKvHeads,
    dFF: h.hiddenDim,
    maxSeqLen: h.seqLen,
    normEps: 1e-5,
    ropeTheta: 10000,
    tieEmbeddings: h.sharedClassifier,
  };
}

/** Reads and validates the header; `name` prefixes errors. */
export function parseLlama2cHeader(buf: Uint8Array, name: string): Llama2cHeader {
  if (buf.byteLength < 4 * HEADER_INTS) {
    throw new Error(`${name}: truncated llama2.c checkpoint: ${buf.byteLength} bytes, the header alone needs ${4 * HEADER_INTS}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const ints = Array.from({ length: HEADER_INTS }, (_, i) => view.getInt32(4 * i, true));
  if (view.getUint32(0, true) === LLAMA2C_V1_MAGIC) {
    throw new Error(`${name}: this is llama2.c's version-1/2 export format (magic "ak42"); only the legacy version-0 format that run.c reads is supported`);
  }
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, vocab, seqLen] = ints;
  const fields: [string, number][] = [['dim', dim], ['hidden_dim', hiddenDim], ['n_layers', nLayers], ['n_heads', nHeads], ['n_kv_heads', nKvHeads], ['seq_len', seqLen]];
  for (const [f, v] of fields) {
    if (v <= 0) throw new Error(`${name}: llama2.c header field ${f} is ${v}; expected a positive integer (not a llama2.c checkpoint?)`);
  }
  if (vocab === 0) throw new Error(`${name}: llama2.c header field vocab_size is 0`);
  if (dim % nHeads !== 0) throw new Error(`${name}: llama2.c header: dim ${dim} is not divisible by n_heads ${nHeads}`);
  if (nHeads % nKvHeads !== 0) throw new Error(`${name}: llama2.c header: n_heads ${nHeads} is not divisible by n_kv_heads ${nKvHeads}`);
  if ((dim / nHeads) % 2 !== 0) throw new Error(`${name}: llama2.c header: head size ${dim / nHeads} is odd; RoPE needs pairs`);
  return { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize: Math.abs(vocab), sharedClassifier: vocab > 0, seqLen };
}

/**
 * HF's `permute(w, n_heads, dim1, dim2)`: within each head, llama2.c's interleaved rows
 * (2i, 2i+1) become rows i and i + headDim/2.
 */
export function permuteRotaryRows(w: Float32Array, nHeads: number, rows: number, cols: number): Float32Array {
  const hd = rows / nHeads;
  const half = hd / 2;
  const out = new Float32Array(w.length);
  for (let h = 0; h < nHeads; h++) {
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < 2; j++) {
        const src = (h * hd + 2 * i + j) * cols;
        const dst = (h * hd + j * half + i) * cols;
        out.set(w.subarray(src, src + cols), dst);
      }
    }
  }
  return out;
}

/** Parses a whole llama2.c checkpoint into a config and HF-named float32 weights. */
export function parseLlama2c(buf: Uint8Array, name = '<buffer>'): { header: Llama2cHeader; config: ModelConfig; weights: Record<string, RawTensor> } {
  const h = parseLlama2cHeader(buf, name);
  const headSize = h.dim / h.nHeads;
  const kvDim = (h.dim * h.nKvHeads) / h.nHeads;
  const { dim, hiddenDim: hid, nLayers: L, vocabSize: V } = h;
  // memory_map_weights order; the two legacy RoPE tables are skipped but must be present.
  const layout: [string, number][] = [
    ['token_embedding', V * dim],
    ['rms_att', L * dim],
    ['wq', L * dim * dim],
    ['wk', L * kvDim * dim],
    ['wv', L * kvDim * dim],
    ['wo', L * dim * dim],
    ['rms_ffn', L * dim],
    ['w1', L * hid * dim],
    ['w2', L * dim * hid],
    ['w3', L * hid * dim],
    ['rms_final', dim],
    ['freq_cis_real', (h.seqLen * headSize) / 2],
    ['freq_cis_imag', (h.seqLen * headSize) / 2],
  ];
  if (!h.sharedClassifier) layout.push(['wcls', V * dim]);
  const totalFloats = layout.reduce((a, [, n]) => a + n, 0);
  const expected = 4 * HEADER_INTS + 4 * totalFloats;
  if (buf.byteLength < expected) {
    throw new Error(`${name}: truncated llama2.c checkpoint: header (dim ${dim}, hidden ${hid}, layers ${L}, heads ${h.nHeads}/${h.nKvHeads}, vocab ${V}${h.sharedClassifier ? '' : ' + classifier'}, seq ${h.seqLen}) needs ${expected} bytes, file has ${buf.byteLength}`);
  }
  if (buf.byteLength > expected) {
    throw new Error(`${name}: llama2.c checkpoint has ${buf.byteLength - expected} bytes more than its header implies (${expected} expected); wrong format?`);
  }
  const arrays: Record<string, Float32Array> = {};
  let off = 4 * HEADER_INTS;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const [key, n] of layout) {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = view.getFloat32(off + 4 * i, true);
    arrays[key] = a;
    off += 4 * n;
  }
  const weights: Record<string, RawTensor> = {};
  const put = (k: string, shape: number[], data: Float32Array): void => {
    weights[k] = { dtype: 'float32', shape, data };
  };
  const layer = (key: string, i: number, size: number): Float32Array => arrays[key].slice(i * size, (i + 1) * size);
  put('model.embed_tokens.weight', [V, dim], arrays.token_embedding);
  for (let i = 0; i < L; i++) {
    const p = `model.layers.${i}`;
    put(`${p}.input_layernorm.weight`, [dim], layer('rms_att', i, dim));
    put(`${p}.self_attn.q_proj.weight`, [dim, dim], permuteRotaryRows(layer('wq', i, dim * dim), h.nHeads, dim, dim));
    put(`${p}.self_attn.k_proj.weight`, [kvDim, dim], permuteRotaryRows(layer('wk', i, kvDim * dim), h.nKvHeads, kvDim, dim));
    put(`${p}.self_attn.v_proj.weight`, [kvDim, dim], layer('wv', i, kvDim * dim));
    put(`${p}.self_attn.o_proj.weight`, [dim, dim], layer('wo', i, dim * dim));
    put(`${p}.post_attention_layernorm.weight`, [dim], layer('rms_ffn', i, dim));
    put(`${p}.mlp.gate_proj.weight`, [hid, dim], layer('w1', i, hid * dim));
    put(`${p}.mlp.down_proj.weight`, [dim, hid], layer('w2', i, dim * hid));
    put(`${p}.mlp.up_proj.weight`, [hid, dim], layer('w3', i, hid * dim));
  }
  put('model.norm.weight', [dim], arrays.rms_final);
  if (!h.sharedClassifier) put('lm_head.weight', [V, dim], arrays.wcls);
  return { header: h, config: llama2cConfig(h), weights };
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * The tokenizer that goes with a llama2.c checkpoint when none is named: `tok<vocab>.bin` beside
 * it (llama2.c's custom-tokenizer naming, e.g. tok512.bin), else `tokenizer.bin` beside it.
 */
export async function findLlama2cTokenizer(binPath: string, vocabSize: number): Promise<string> {
  const dir = dirname(binPath);
  const candidates = [join(dir, `tok${vocabSize}.bin`), join(dir, 'tokenizer.bin')];
  for (const c of candidates) if (await exists(c)) return c;
  throw new Error(`no tokenizer given for ${binPath} and none found beside it (tried ${candidates.join(', ')}); pass one explicitly`);
}

/** Reads a llama2.c checkpoint file (see {@link parseLlama2c}). */
export async function readLlama2c(binPath: string): Promise<ReturnType<typeof parseLlama2c>> {
  let buf: Buffer;
  try {
    buf = await readFile(binPath);
  } catch (err) {
    throw new Error(`cannot read llama2.c checkpoint ${binPath}: ${(err as Error).message}`);
  }
  return parseLlama2c(buf, binPath);
}

/**
 * Loads a llama2.c checkpoint as a {@link DecoderLM} (llama arch) with its tokenizer: the one at
 * `tokenizerPath`, else `tok<vocab>.bin` or `tokenizer.bin` beside the checkpoint.
 */
export async function loadLlama2c(
  binPath: string,
  tokenizerPath?: string,
  opts: { trainable?: boolean } = {},
): Promise<{ model: DecoderLM; tokenizer: Llama2cTokenizer; config: ModelConfig }> {
  const { config, weights } = await readLlama2c(binPath);
  const tokPath = tokenizerPath ?? (await findLlama2cTokenizer(binPath, config.vocabSize));
  const tokenizer = await Llama2cTokenizer.load(tokPath, config.vocabSize);
  const model = new DecoderLM(config, { trainable: opts.trainable ?? true });
  const tensors = rawToTensors(weights);
  try {
    model.setWeights(tensors);
  } catch (err) {
    model.dispose();
    throw new Error(`${binPath}: ${(err as Error).message}`);
  } finally {
    disposeAll(tensors);
  }
  return { model, tokenizer, config };
}
