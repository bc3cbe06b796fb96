/**
 * Hugging Face config.json ⇄ falign ModelConfig. Reading accepts the architectures falign can run
 * exactly (Llama, Mistral, Qwen2, Qwen3, GPT-2) and refuses any field whose value would change the
 * forward pass in a way falign does not implement, naming the file and the field.
 */
import type { ModelConfig, RopeScaling } from '../types.js';

/** Architectures (config.json `architectures[0]`) that {@link hfToModelConfig} reads. */
export const HF_ARCHITECTURES = [
  'LlamaForCausalLM',
  'MistralForCausalLM',
  'Qwen2ForCausalLM',
  'Qwen3ForCausalLM',
  'GPT2LMHeadModel',
] as const;

/** One of {@link HF_ARCHITECTURES}. */
export type HfArchitecture = (typeof HF_ARCHITECTURES)[number];

const MODEL_TYPE: Record<HfArchitecture, string> = {
  LlamaForCausalLM: 'llama',
  MistralForCausalLM: 'mistral',
  Qwen2ForCausalLM: 'qwen2',
  Qwen3ForCausalLM: 'qwen3',
  GPT2LMHeadModel: 'gpt2',
};

/** Options of {@link hfToModelConfig}. */
export interface HfConfigOptions {
  /**
   * Cap on the context length (default: the config's max_position_embeddings / n_positions).
   * RoPE tables and GPT-2 position embeddings are sized by it.
   */
  maxSeqLen?: number;
}

/** A parsed config.json. */
export interface HfModelConfig {
  architecture: HfArchitecture;
  modelType: string;
  /** The falign model config. */
  config: ModelConfig;
  /** The config.json object as read (kept so that saving can write it back). */
  raw: Record<string, unknown>;
}

type Json = Record<string, unknown>;

/**
 * Turns a config.json object into a falign ModelConfig; `where` (the file path) prefixes every
 * error, which names the offending field.
 */
export function hfToModelConfig(raw: unknown, where = 'config.json', opts: HfConfigOptions = {}): HfModelConfig {
  const fail = (msg: string): never => {
    throw new Error(`${where}: ${msg}`);
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('expected a JSON object');
  const j = raw as Json;
  const archs = j.architectures;
  if (!Array.isArray(archs) || archs.length === 0 || typeof archs[0] !== 'string') {
    fail(`"architectures" must be a non-empty array of class names (supported: ${HF_ARCHITECTURES.join(', ')})`);
  }
  const arch = (archs as string[])[0];
  if (!(HF_ARCHITECTURES as readonly string[]).includes(arch)) {
    fail(`unsupported architecture "${arch}" in "architectures" (supported: ${HF_ARCHITECTURES.join(', ')})`);
  }
  const architecture = arch as HfArchitecture;
  const int = (field: string, fallback?: number): number => {
    const v = j[field] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) fail(`"${field}" must be a positive integer, got ${JSON.stringify(j[field])}`);
    return v as number;
  };
  const num = (field: string, fallback: number): number => {
    const v = j[field] ?? fallback;
    if (typeof v !== 'number' || !(v > 0)) fail(`"${field}" must be a number > 0, got ${JSON.stringify(j[field])}`);
    return v as number;
  };
  const refuse = (field: string, ok: (v: unknown) => boolean, why: string) => {
    if (field in j && !ok(j[field])) fail(`unsupported "${field}": ${JSON.stringify(j[field])} (${why})`);
  };
  const cap = (n: number) => {
    if (opts.maxSeqLen === undefined) return n;
    if (!Number.isInteger(opts.maxSeqLen) || opts.maxSeqLen <= 0) fail(`maxSeqLen option must be a positive integer, got ${opts.maxSeqLen}`);
    return Math.min(n, opts.maxSeqLen);
  };

  if (architecture === 'GPT2LMHeadModel') {
    refuse('activation_function', (v) => v === 'gelu_new' || v === 'gelu_pytorch_tanh', 'falign implements the tanh GELU only');
    refuse('scale_attn_by_inverse_layer_idx', (v) => v === false, 'not implemented');
    refuse('reorder_and_upcast_attn', (v) => v === false, 'not implemented');
    refuse('scale_attn_weights', (v) => v === true, 'falign always scales by 1/√head_dim');
    refuse('tie_word_embeddings', (v) => v === true, 'GPT2LMHeadModel ties its head to wte');
    const dModel = int('n_embd');
    const inner = j.n_inner;
    const config: ModelConfig = {
      arch: 'gpt2',
      vocabSize: int('vocab_size'),
      dModel,
      nLayers: int('n_layer'),
      nHeads: int('n_head'),
      dFF: inner === null || inner === undefined ? 4 * dModel : int('n_inner'),
      // The position table's shape is fixed by the checkpoint: no cap here.
      maxSeqLen: int('n_positions'),
      normEps: num('layer_norm_epsilon', 1e-5),
      tieEmbeddings: true,
    };
    return { architecture, modelType: 'gpt2', config, raw: j };
  }

  // Llama family: Llama, Mistral, Qwen2, Qwen3.
  refuse('hidden_act', (v) => v === 'silu', 'falign implements the SiLU-gated MLP only');
  refuse('attention_bias', (v) => v === false || architecture === 'Qwen2ForCausalLM', 'o_proj biases are not implemented');
  refuse('mlp_bias', (v) => v === false, 'MLP biases are not implemented');
  refuse('pretraining_tp', (v) => v === 1, 'tensor-parallel slicing of the forward pass is not implemented');
  refuse('use_sliding_window', (v) => v === false, 'sliding-window attention is not implemented');
  const dModel = int('hidden_size');
  const nHeads = int('num_attention_heads');
  let maxSeqLen = cap(int('max_position_embeddings'));
  // Mistral's sliding window only matters beyond the window: cap the context there instead of
  // computing a different attention than the model's.
  if (architecture === 'MistralForCausalLM' && j.sliding_window !== null && j.sliding_window !== undefined) {
    maxSeqLen = Math.min(maxSeqLen, int('sliding_window'));
  }
  const headDimRaw = j.head_dim;
  const headDim = headDimRaw === null || headDimRaw === undefined ? undefined : int('head_dim');
  const config: ModelConfig = {
    arch: 'llama',
    vocabSize: int('vocab_size'),
    dModel,
    nLayers: int('num_hidden_layers'),
    nHeads,
    nKvHeads: j.num_key_value_heads === null || j.num_key_value_heads === undefined ? nHeads : int('num_key_value_heads'),
    dFF: int('intermediate_size'),
    maxSeqLen,
    normEps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10000),
    // transformers' default is false for every llama-family config class.
    tieEmbeddings: j.tie_word_embeddings === true,
    qkvBias: architecture === 'Qwen2ForCausalLM' || (architecture === 'Qwen3ForCausalLM' && j.attention_bias === true),
    qkNorm: architecture === 'Qwen3ForCausalLM',
    ropeScaling: ropeScaling(j.rope_scaling, fail),
  };
  if (typeof j.tie_word_embeddings !== 'boolean' && j.tie_word_embeddings !== undefined) {
    fail(`"tie_word_embeddings" must be a boolean, got ${JSON.stringify(j.tie_word_embeddings)}`);
  }
  if (headDim !== undefined && (headDim !== dModel / nHeads || architecture === 'Qwen3ForCausalLM')) config.headDim = headDim;
  return { architecture, modelType: MODEL_TYPE[architecture], config, raw: j };
}

function ropeScaling(v: unknown, fail: (msg: string) => never): RopeScaling | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object' || Array.isArray(v)) fail(`"rope_scaling" must be an object or null, got ${JSON.stringify(v)}`);
  const r = v as Json;
  const type = r.rope_type ?? r.type;
  const num = (k: string): number => {
    const x = r[k];
    if (typeof x !== 'number' || !(x > 0)) fail(`"rope_scaling.${k}" must be a number > 0, got ${JSON.stringify(x)}`);
    return x as number;
  };
  if (type === 'default') return null;
  if (type === 'linear') return { type: 'linear', factor: num('factor') };
  if (type === 'llama3') {
    return {
      type: 'llama3',
      factor: num('factor'),
      lowFreqFactor: num('low_freq_factor'),
      highFreqFactor: num('high_freq_factor'),
      originalMaxPositionEmbeddings: num('original_max_position_embeddings'),
    };
  }
  return fail(`unsupported "rope_scaling.rope_type": ${JSON.stringify(type)} (supported: default, linear, llama3)`);
}

/** Options of {@link modelConfigToHf}. */
export interface ToHfOptions {
  /** Architecture to declare (default: GPT2LMHeadModel for gpt2; Qwen3 with qkNorm, Qwen2 with qkvBias, else Llama). */
  architecture?: HfArchitecture;
  /** Fields copied first (e.g. the config.json a model was loaded from); falign's own fields win. */
  base?: Record<string, unknown>;
  bosTokenId?: number | null;
  eosTokenId?: number | number[] | null;
}

/** The HF config.json object for a falign model config (what `from_pretrained` reads). */
export function modelConfigToHf(c: Required<ModelConfig>, opts: ToHfOptions = {}): Record<string, unknown> {
  const out: Json = { ...(opts.base ?? {}) };
  const ids: Json = {};
  if (opts.bosTokenId !== undefined) ids.bos_token_id = opts.bosTokenId;
  if (opts.eosTokenId !== undefined) ids.eos_token_id = opts.eosTokenId;
  if (c.arch === 'gpt2') {
    const architecture = opts.architecture ?? 'GPT2LMHeadModel';
    if (architecture !== 'GPT2LMHeadModel') throw new Error(`modelConfigToHf: a gpt2 model cannot be saved as ${architecture}`);
    if (!c.tieEmbeddings) throw new Error('modelConfigToHf: GPT2LMHeadModel requires tied embeddings');
    return {
      ...out,
      architectures: [architecture],
      model_type: 'gpt2',
      vocab_size: c.vocabSize,
      n_embd: c.dModel,
      n_layer: c.nLayers,
      n_head: c.nHeads,
      n_inner: c.dFF,
      n_positions: c.maxSeqLen,
      n_ctx: c.maxSeqLen,
      layer_norm_epsilon: c.normEps,
      activation_function: 'gelu_new',
      tie_word_embeddings: true,
      torch_dtype: 'float32',
      ...ids,
    };
  }
  const baseArch = Array.isArray(out.architectures) ? (out.architectures[0] as string) : undefined;
  const fromBase = baseArch !== undefined && baseArch !== 'GPT2LMHeadModel' && (HF_ARCHITECTURES as readonly string[]).includes(baseArch) ? (baseArch as HfArchitecture) : undefined;
  const architecture = opts.architecture ?? fromBase ?? (c.qkNorm ? 'Qwen3ForCausalLM' : c.qkvBias ? 'Qwen2ForCausalLM' : 'LlamaForCausalLM');
  if (architecture === 'GPT2LMHeadModel') throw new Error('modelConfigToHf: a llama-family model cannot be saved as GPT2LMHeadModel');
  if (c.qkNorm !== (architecture === 'Qwen3ForCausalLM')) throw new Error(`modelConfigToHf: ${architecture} ${c.qkNorm ? 'has no' : 'requires'} q/k norms`);
  if (c.qkvBias && architecture !== 'Qwen2ForCausalLM' && architecture !== 'Qwen3ForCausalLM') {
    throw new Error(`modelConfigToHf: ${architecture} has no q/k/v biases`);
  }
  if (architecture === 'Qwen2ForCausalLM' && !c.qkvBias) throw new Error('modelConfigToHf: Qwen2ForCausalLM requires q/k/v biases');
  const rs = c.ropeScaling;
  const hf: Json = {
    ...out,
    architectures: [architecture],
    model_type: MODEL_TYPE[architecture],
    vocab_size: c.vocabSize,
    hidden_size: c.dModel,
    intermediate_size: c.dFF,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: c.headDim,
    // A context capped when loading (maxSeqLen option, Mistral's window) keeps the source's value.
    max_position_embeddings: Math.max(c.maxSeqLen, typeof out.max_position_embeddings === 'number' ? out.max_position_embeddings : 0),
    rms_norm_eps: c.normEps,
    rope_theta: c.ropeTheta,
    rope_scaling:
      rs === null
        ? null
        : rs.type === 'linear'
          ? { rope_type: 'linear', factor: rs.factor }
          : {
              rope_type: 'llama3',
              factor: rs.factor,
              low_freq_factor: rs.lowFreqFactor,
              high_freq_factor: rs.highFreqFactor,
              original_max_position_embeddings: rs.originalMaxPositionEmbeddings,
            },
    hidden_act: 'silu',
    tie_word_embeddings: c.tieEmbeddings,
    torch_dtype: 'float32',
    ...ids,
  };
  if (architecture === 'LlamaForCausalLM') Object.assign(hf, { attention_bias: false, mlp_bias: false });
  if (architecture === 'Qwen3ForCausalLM') hf.attention_bias = c.qkvBias;
  if (architecture === 'Qwen2ForCausalLM' || architecture === 'Qwen3ForCausalLM') hf.use_sliding_window = false;
  if (architecture === 'MistralForCausalLM' && !('sliding_window' in out)) hf.sliding_window = null;
  return hf;
}
