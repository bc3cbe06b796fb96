/** Model-config defaults and validation. */
import type { ModelConfig, RopeScaling } from '../types.js';

/** llama2.c's MLP width rule: round 2/3·4·d up to a multiple of `multipleOf` (256 by default). */
export function llamaHiddenDim(dModel: number, multipleOf = 256): number {
  const h = Math.floor((2 * 4 * dModel) / 3);
  return multipleOf * Math.ceil(h / multipleOf);
}

function positiveInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new Error(`ModelConfig.${field}: expected a positive integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Fills defaults and checks consistency; errors name the offending field. */
export function resolveConfig(c: ModelConfig): Required<ModelConfig> {
  if (c.arch !== 'gpt2' && c.arch !== 'llama') {
    throw new Error(`ModelConfig.arch: expected 'gpt2' or 'llama', got ${JSON.stringify(c.arch)}`);
  }
  const vocabSize = positiveInt(c.vocabSize, 'vocabSize');
  const dModel = positiveInt(c.dModel, 'dModel');
  const nLayers = positiveInt(c.nLayers, 'nLayers');
  const nHeads = positiveInt(c.nHeads, 'nHeads');
  const nKvHeads = positiveInt(c.nKvHeads ?? nHeads, 'nKvHeads');
  const maxSeqLen = positiveInt(c.maxSeqLen, 'maxSeqLen');
  const dFF = positiveInt(c.dFF ?? (c.arch === 'gpt2' ? 4 * dModel : llamaHiddenDim(dModel)), 'dFF');
  if (c.headDim !== undefined && c.arch !== 'llama' && c.headDim * nHeads !== dModel) {
    throw new Error(`ModelConfig.headDim: gpt2's head dimension is dModel / nHeads = ${dModel / nHeads}, got ${c.headDim}`);
  }
  if (c.headDim === undefined && dModel % nHeads !== 0) throw new Error(`ModelConfig.nHeads: dModel ${dModel} is not divisible by nHeads ${nHeads}`);
  if (nHeads % nKvHeads !== 0) throw new Error(`ModelConfig.nKvHeads: nHeads ${nHeads} is not divisible by nKvHeads ${nKvHeads}`);
  if (c.arch === 'gpt2' && nKvHeads !== nHeads) throw new Error(`ModelConfig.nKvHeads: gpt2 has no grouped-query attention (nKvHeads ${nKvHeads} ≠ nHeads ${nHeads})`);
  const headDim = c.headDim === undefined ? dModel / nHeads : positiveInt(c.headDim, 'headDim');
  const qkvBias = c.qkvBias ?? false;
  const qkNorm = c.qkNorm ?? false;
  if (c.arch !== 'llama' && (qkvBias || qkNorm)) throw new Error(`ModelConfig.${qkvBias ? 'qkvBias' : 'qkNorm'}: only llama-family models support it`);
  const ropeScaling = checkRopeScaling(c.ropeScaling ?? null);
  if (c.arch !== 'llama' && ropeScaling !== null) throw new Error('ModelConfig.ropeScaling: gpt2 has no rotary embeddings');
  if (c.arch === 'llama' && headDim % 2 !== 0) throw new Error(`ModelConfig: rotary embeddings need an even head dimension, got ${headDim}`);
  const normEps = c.normEps ?? 1e-5;
  if (!(normEps > 0)) throw new Error(`ModelConfig.normEps: expected > 0, got ${normEps}`);
  const ropeTheta = c.ropeTheta ?? 10000;
  if (!(ropeTheta > 0)) throw new Error(`ModelConfig.ropeTheta: expected > 0, got ${ropeTheta}`);
  const tieEmbeddings = c.tieEmbeddings ?? c.arch === 'gpt2';
  return { arch: c.arch, vocabSize, dModel, nLayers, nHeads, nKvHeads, dFF, maxSeqLen, normEps, ropeTheta, tieEmbeddings, headDim, qkvBias, qkNorm, ropeScaling };
}

function checkRopeScaling(r: RopeScaling | null): RopeScaling | null {
  if (r === null) return null;
  const pos = (v: unknown, f: string) => {
    if (typeof v !== 'number' || !(v > 0)) throw new Error(`ModelConfig.ropeScaling.${f}: expected a number > 0, got ${JSON.stringify(v)}`);
    return v;
  };
  if (r.type === 'linear') return { type: 'linear', factor: pos(r.factor, 'factor') };
  if (r.type === 'llama3') {
    const out = {
      type: 'llama3' as const,
      factor: pos(r.factor, 'factor'),
      lowFreqFactor: pos(r.lowFreqFactor, 'lowFreqFactor'),
      highFreqFactor: pos(r.highFreqFactor, 'highFreqFactor'),
      originalMaxPositionEmbeddings: pos(r.originalMaxPositionEmbeddings, 'originalMaxPositionEmbeddings'),
    };
    if (out.highFreqFactor <= out.lowFreqFactor) throw new Error('ModelConfig.ropeScaling: highFreqFactor must exceed lowFreqFactor');
    return out;
  }
  throw new Error(`ModelConfig.ropeScaling.type: expected 'linear' or 'llama3', got ${JSON.stringify((r as { type?: unknown }).type)}`);
}

/**
 * RoPE inverse frequencies (float32-rounded like HF's float32 tensors): θ^(−2i/hd), then scaled
 * per `scaling` exactly as transformers' `_compute_llama3_parameters` / linear scaling do.
 */
export function ropeInvFreq(headDim: number, theta: number, scaling: RopeScaling | null): Float32Array {
  const half = headDim / 2;
  const out = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const f = Math.fround(1 / Math.fround(Math.pow(theta, (2 * i) / headDim)));
    if (scaling === null) out[i] = f;
    else if (scaling.type === 'linear') out[i] = f / scaling.factor;
    else {
      const { factor, lowFreqFactor, highFreqFactor, originalMaxPositionEmbeddings: old } = scaling;
      const lowWavelen = old / lowFreqFactor;
      const highWavelen = old / highFreqFactor;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < highWavelen) out[i] = f;
      else if (wavelen > lowWavelen) out[i] = f / factor;
      else {
        const smooth = (old / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
        out[i] = (1 - smooth) * (f / factor) + smooth * f;
      }
    }
  }
  return out;
}
