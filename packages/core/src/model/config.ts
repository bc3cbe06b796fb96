/** Model-config defaults and validation. */
import type { ModelConfig } from '../types.js';

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
  if (dModel % nHeads !== 0) throw new Error(`ModelConfig.nHeads: dModel ${dModel} is not divisible by nHeads ${nHeads}`);
  if (nHeads % nKvHeads !== 0) throw new Error(`ModelConfig.nKvHeads: nHeads ${nHeads} is not divisible by nKvHeads ${nKvHeads}`);
  if (c.arch === 'gpt2' && nKvHeads !== nHeads) throw new Error(`ModelConfig.nKvHeads: gpt2 has no grouped-query attention (nKvHeads ${nKvHeads} ≠ nHeads ${nHeads})`);
  const headDim = dModel / nHeads;
  if (c.arch === 'llama' && headDim % 2 !== 0) throw new Error(`ModelConfig: rotary embeddings need an even head dimension, got ${headDim}`);
  const normEps = c.normEps ?? 1e-5;
  if (!(normEps > 0)) throw new Error(`ModelConfig.normEps: expected > 0, got ${normEps}`);
  const ropeTheta = c.ropeTheta ?? 10000;
  if (!(ropeTheta > 0)) throw new Error(`ModelConfig.ropeTheta: expected > 0, got ${ropeTheta}`);
  const tieEmbeddings = c.tieEmbeddings ?? c.arch === 'gpt2';
  return { arch: c.arch, vocabSize, dModel, nLayers, nHeads, nKvHeads, dFF, maxSeqLen, normEps, ropeTheta, tieEmbeddings };
}
