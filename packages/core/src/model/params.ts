/**
 * Parameter inventory of the decoder: the internal tensors (stored [in, out] so forward and
 * backward use plain matMul, with fused QKV / gate-up projections) and how each maps to Hugging
 * Face tensors (name, layout). getWeights/setWeights translate through this table.
 */

/** One Hugging Face tensor that is a column block of an internal parameter. */
export interface HfPart {
  /** HF state-dict name. */
  name: string;
  /** Columns of the internal [in, out] tensor this part covers (ignored for 1-D tensors). */
  cols: number;
  /** HF stores it as [out, in] (nn.Linear), i.e. transposed relative to the internal tensor. */
  transposed: boolean;
}

export type InitKind = 'normal' | 'residual' | 'zeros' | 'ones';

/** One internal parameter. */
export interface ParamSpec {
  /** Internal key (also the suffix of the tf.Variable name). */
  key: string;
  shape: number[];
  init: InitKind;
  /** HF tensors stored side by side (along axis 1) in this parameter, in order. */
  parts: HfPart[];
}

export interface ArchDims {
  arch: 'gpt2' | 'llama';
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  dFF: number;
  maxSeqLen: number;
  tieEmbeddings: boolean;
  headDim: number;
  qkvBias: boolean;
  qkNorm: boolean;
}

function whole(name: string, cols: number, transposed = false): HfPart[] {
  return [{ name, cols, transposed }];
}

/** The parameter table of a GPT-2 (HF GPT2LMHeadModel names, Conv1D [in, out] layout). */
function gpt2Specs(c: ArchDims): ParamSpec[] {
  const D = c.dModel;
  const F = c.dFF;
  const specs: ParamSpec[] = [
    { key: 'transformer.wte.weight', shape: [c.vocabSize, D], init: 'normal', parts: whole('transformer.wte.weight', D) },
    { key: 'transformer.wpe.weight', shape: [c.maxSeqLen, D], init: 'normal', parts: whole('transformer.wpe.weight', D) },
  ];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `transformer.h.${i}`;
    const add = (key: string, shape: number[], init: InitKind) =>
      specs.push({ key: `${p}.${key}`, shape, init, parts: whole(`${p}.${key}`, shape[shape.length - 1]) });
    add('ln_1.weight', [D], 'ones');
    add('ln_1.bias', [D], 'zeros');
    add('attn.c_attn.weight', [D, 3 * D], 'normal');
    add('attn.c_attn.bias', [3 * D], 'zeros');
    add('attn.c_proj.weight', [D, D], 'residual');
    add('attn.c_proj.bias', [D], 'zeros');
    add('ln_2.weight', [D], 'ones');
    add('ln_2.bias', [D], 'zeros');
    add('mlp.c_fc.weight', [D, F], 'normal');
    add('mlp.c_fc.bias', [F], 'zeros');
    add('mlp.c_proj.weight', [F, D], 'residual');
    add('mlp.c_proj.bias', [D], 'zeros');
  }
  specs.push({ key: 'transformer.ln_f.weight', shape: [D], init: 'ones', parts: whole('transformer.ln_f.weight', D) });
  specs.push({ key: 'transformer.ln_f.bias', shape: [D], init: 'zeros', parts: whole('transformer.ln_f.bias', D) });
  if (!c.tieEmbeddings) {
    specs.push({ key: 'lm_head.weight', shape: [D, c.vocabSize], init: 'normal', parts: whole('lm_head.weight', c.vocabSize, true) });
  }
  return specs;
}

/** The parameter table of a Llama (HF LlamaForCausalLM names, nn.Linear [out, in] layout). */
function llamaSpecs(c: ArchDims): ParamSpec[] {
  const D = c.dModel;
  const F = c.dFF;
  const hd = c.headDim;
  const qCols = c.nHeads * hd;
  const kvCols = c.nKvHeads * hd;
  const specs: ParamSpec[] = [
    { key: 'model.embed_tokens.weight', shape: [c.vocabSize, D], init: 'normal', parts: whole('model.embed_tokens.weight', D) },
  ];
  for (let i = 0; i < c.nLayers; i++) {
    const p = `model.layers.${i}`;
    specs.push(
      { key: `${p}.input_layernorm.weight`, shape: [D], init: 'ones', parts: whole(`${p}.input_layernorm.weight`, D) },
      {
        key: `${p}.self_attn.qkv`,
        shape: [D, qCols + 2 * kvCols],
        init: 'normal',
        parts: [
          { name: `${p}.self_attn.q_proj.weight`, cols: qCols, transposed: true },
          { name: `${p}.self_attn.k_proj.weight`, cols: kvCols, transposed: true },
          { name: `${p}.self_attn.v_proj.weight`, cols: kvCols, transposed: true },
        ],
      },
    );
    if (c.qkvBias) {
      specs.push({
        key: `${p}.self_attn.qkv_bias`,
        shape: [qCols + 2 * kvCols],
        init: 'zeros',
        parts: [
          { name: `${p}.self_attn.q_proj.bias`, cols: qCols, transposed: false },
          { name: `${p}.self_attn.k_proj.bias`, cols: kvCols, transposed: false },
          { name: `${p}.self_attn.v_proj.bias`, cols: kvCols, transposed: false },
        ],
      });
    }
    if (c.qkNorm) {
      specs.push(
        { key: `${p}.self_attn.q_norm.weight`, shape: [hd], init: 'ones', parts: whole(`${p}.self_attn.q_norm.weight`, hd) },
        { key: `${p}.self_attn.k_norm.weight`, shape: [hd], init: 'ones', parts: whole(`${p}.self_attn.k_norm.weight`, hd) },
      );
    }
    specs.push(
      { key: `${p}.self_attn.o_proj.weight`, shape: [qCols, D], init: 'residual', parts: whole(`${p}.self_attn.o_proj.weight`, D, true) },
      { key: `${p}.post_attention_layernorm.weight`, shape: [D], init: 'ones', parts: whole(`${p}.post_attention_layernorm.weight`, D) },
      {
        key: `${p}.mlp.gate_up`,
        shape: [D, 2 * F],
        init: 'normal',
        parts: [
          { name: `${p}.mlp.gate_proj.weight`, cols: F, transposed: true },
          { name: `${p}.mlp.up_proj.weight`, cols: F, transposed: true },
        ],
      },
      { key: `${p}.mlp.down_proj.weight`, shape: [F, D], init: 'residual', parts: whole(`${p}.mlp.down_proj.weight`, D, true) },
    );
  }
  specs.push({ key: 'model.norm.weight', shape: [D], init: 'ones', parts: whole('model.norm.weight', D) });
  if (!c.tieEmbeddings) {
    specs.push({ key: 'lm_head.weight', shape: [D, c.vocabSize], init: 'normal', parts: whole('lm_head.weight', c.vocabSize, true) });
  }
  return specs;
}

/** Internal parameter table for a resolved config, in the stable order `variables()` uses. */
export function paramSpecs(c: ArchDims): ParamSpec[] {
  return c.arch === 'gpt2' ? gpt2Specs(c) : llamaSpecs(c);
}

/** HF shape of a part of an internal parameter. */
export function hfShape(spec: ParamSpec, part: HfPart): number[] {
  if (spec.shape.length === 1) return spec.parts.length === 1 ? [...spec.shape] : [part.cols];
  const rows = spec.shape[0];
  return part.transposed ? [part.cols, rows] : [rows, part.cols];
}
