/**
 * Hugging Face checkpoints: loading errors that name the file and field, and saving in HF layout
 * (round trip through falign; names/shapes as transformers' state dicts; the fixture script's
 * NumPy forward pass reproduces the reference on what falign saved).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  initBackend,
  loadHfModel,
  loadPolicy,
  parseSafetensors,
  readHfConfig,
  saveHfCheckpoint,
  serializeSafetensors,
  tf,
  type RawTensor,
} from '@falign/core';

const FIXTURES = resolve(__dirname, 'fixtures/hf');
const SCRIPT = resolve(__dirname, '../scripts/make-hf-fixtures.py');
let root: string;

beforeAll(async () => {
  await initBackend((process.env.FALIGN_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm');
  root = mkdtempSync(join(tmpdir(), 'falign-hf-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A copy of a fixture with config.json edited by `edit`. */
function variant(name: string, edit: (c: Record<string, unknown>) => void, tag: string): string {
  const dir = join(root, `${name}-${tag}`);
  cpSync(join(FIXTURES, name), dir, { recursive: true });
  const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  edit(c);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
  return dir;
}

/** Tensor name → shape of every safetensors file in a directory. */
function headerShapes(dir: string): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.safetensors') && f !== 'reference.safetensors')) {
    for (const [k, t] of Object.entries(parseSafetensors(readFileSync(join(dir, f))).tensors)) out[k] = t.shape;
  }
  return out;
}

function hasNumpy(): boolean {
  try {
    execFileSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const modelsDir = process.env.FALIGN_MODELS_DIR ?? resolve(__dirname, '../../../../shared/models');

describe('config.json of real models', () => {
  it('Qwen2.5-0.5B-Instruct and TinyLlama-1.1B map to the right ModelConfig', async () => {
    const q = await readHfConfig(join(modelsDir, 'hf', 'qwen2.5-0.5b-instruct'), { maxSeqLen: 4096 });
    expect(q.architecture).toBe('Qwen2ForCausalLM');
    expect(q.config).toEqual({
      arch: 'llama', vocabSize: 151936, dModel: 896, nLayers: 24, nHeads: 14, nKvHeads: 2, dFF: 4864, maxSeqLen: 4096,
      normEps: 1e-6, ropeTheta: 1e6, tieEmbeddings: true, qkvBias: true, qkNorm: false, ropeScaling: null,
    });
    const t = await readHfConfig(join(modelsDir, 'hf', 'tinyllama-1.1b-chat-v1.0'));
    expect(t.config).toMatchObject({ nHeads: 32, nKvHeads: 4, dFF: 5632, maxSeqLen: 2048, tieEmbeddings: false, qkvBias: false, normEps: 1e-5 });
  });

  it('llama3 rope_scaling (Llama 3.2 style) is read', async () => {
    const dir = variant('llama', (c) => (c.rope_scaling = { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 }), 'l32');
    expect((await readHfConfig(dir)).config.ropeScaling).toEqual({ type: 'llama3', factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192 });
  });
});

describe('loading errors name the file and the field', () => {
  it('unknown architecture', async () => {
    const dir = variant('llama', (c) => (c.architectures = ['BertForMaskedLM']), 'arch');
    await expect(loadHfModel(dir)).rejects.toThrow(`${join(dir, 'config.json')}: unsupported architecture "BertForMaskedLM"`);
  });

  it('unsupported rope_scaling type and activation', async () => {
    const a = variant('llama', (c) => ((c.rope_scaling as Record<string, unknown>).rope_type = 'yarn'), 'yarn');
    await expect(readHfConfig(a)).rejects.toThrow(/config\.json: unsupported "rope_scaling\.rope_type": "yarn"/);
    const b = variant('llama', (c) => (c.hidden_act = 'gelu'), 'act');
    await expect(readHfConfig(b)).rejects.toThrow(/config\.json: unsupported "hidden_act": "gelu"/);
  });

  it('shape mismatch between config.json and the weights', async () => {
    const dir = variant('qwen2', (c) => (c.intermediate_size = 20), 'shape');
    await expect(loadHfModel(dir)).rejects.toThrow(/model\.safetensors: tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[24,16\], but .*config\.json implies \[20,16\]/);
  });

  it('missing tensor (and an untied head that is absent)', async () => {
    const dir = join(root, 'llama-missing');
    cpSync(join(FIXTURES, 'llama'), dir, { recursive: true });
    const st = parseSafetensors(readFileSync(join(dir, 'model.safetensors')));
    const tensors: Record<string, RawTensor> = { ...st.tensors };
    delete tensors['model.layers.1.mlp.up_proj.weight'];
    writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(tensors));
    await expect(loadHfModel(dir)).rejects.toThrow(/model\.safetensors: missing tensor "model\.layers\.1\.mlp\.up_proj\.weight"/);
  });

  it('a shard listed in the index must exist', async () => {
    const dir = join(root, 'mistral-shard');
    cpSync(join(FIXTURES, 'mistral'), dir, { recursive: true });
    rmSync(join(dir, 'model-00002-of-00002.safetensors'));
    await expect(loadHfModel(dir)).rejects.toThrow(/model-00002-of-00002\.safetensors/);
  });

  it('loading leaves no tensors behind after dispose', async () => {
    const before = tf.memory().numTensors;
    const { model } = await loadHfModel(join(FIXTURES, 'qwen3'), { trainable: false });
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('saving in Hugging Face layout', () => {
  it.each(['llama', 'qwen2', 'mistral', 'qwen3', 'gpt2'])('%s: names and shapes as HF state dicts, tokenizer files copied, loads back identically', async (name) => {
    const src = join(FIXTURES, name);
    const policy = await loadPolicy(`hf:${src}`, { trainable: false });
    const out = join(root, `saved-${name}`);
    await policy.saveHf(out);

    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    const orig = JSON.parse(readFileSync(join(src, 'config.json'), 'utf8'));
    expect(cfg.architectures).toEqual(orig.architectures);
    expect(cfg.model_type).toEqual(orig.model_type);
    const want = Object.fromEntries(
      Object.entries(headerShapes(src))
        .filter(([k]) => !k.endsWith('.attn.bias')) // GPT-2's causal-mask buffers are not weights
        .map(([k, s]) => [name === 'gpt2' ? `transformer.${k}` : k, s]),
    );
    expect(headerShapes(out)).toEqual(want);
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
      expect(readFileSync(join(out, f))).toEqual(readFileSync(join(src, f)));
    }

    const back = await loadPolicy(`hf:${out}`, { trainable: false });
    const ids = tf.tensor2d([[5, 17, 40, 3, 99]], [1, 5], 'int32');
    const [a, b] = [policy.model.forward(ids), back.model.forward(ids)];
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([ids, a, b]);
    expect(back.tokenizer.eosIds).toEqual(policy.tokenizer.eosIds);
    policy.dispose();
    back.dispose();
  });

  it('a changed (trained) policy round-trips exactly', async () => {
    const policy = await loadPolicy(`hf:${join(FIXTURES, 'qwen2')}`);
    const w = policy.model.getWeights();
    // q/k/v biases are one fused parameter inside falign: a partial update passes all three.
    const pre = 'model.layers.0.self_attn';
    const upd = {
      [`${pre}.q_proj.bias`]: w[`${pre}.q_proj.bias`],
      [`${pre}.k_proj.bias`]: tf.add(w[`${pre}.k_proj.bias`], 0.25),
      [`${pre}.v_proj.bias`]: w[`${pre}.v_proj.bias`],
    };
    policy.model.setWeights(upd, { partial: true });
    tf.dispose([...Object.values(w), ...Object.values(upd)]);
    const out = join(root, 'trained-qwen2');
    await saveHfCheckpoint(out, { model: policy.model, tokenizer: policy.tokenizer });
    const back = await loadPolicy(`hf:${out}`, { trainable: false });
    const a = policy.model.getWeights();
    const b = back.model.getWeights();
    for (const k of Object.keys(a)) expect(Array.from(b[k].dataSync())).toEqual(Array.from(a[k].dataSync()));
    tf.dispose([...Object.values(a), ...Object.values(b)]);
    policy.dispose();
    back.dispose();
  });

  it('an hf: policy saved as a falign checkpoint keeps its HF tokenizer and weights', async () => {
    const policy = await loadPolicy(`hf:${join(FIXTURES, 'qwen3')}`, { trainable: false });
    const out = join(root, 'falign-qwen3');
    await policy.save(out);
    const back = await loadPolicy(`falign:${out}`, { trainable: false });
    expect(back.tokenizer.kind).toBe('hf');
    expect(back.tokenizer.encode('the cat <|im_end|>')).toEqual(policy.tokenizer.encode('the cat <|im_end|>'));
    expect(back.config).toEqual(policy.config);
    const ids = tf.tensor2d([[5, 17, 40, 3]], [1, 4], 'int32');
    const [a, b] = [policy.model.forward(ids), back.model.forward(ids)];
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([ids, a, b]);
    policy.dispose();
    back.dispose();
  });

  it('refuses a tokenizer that has no HF form', async () => {
    const { model } = await loadHfModel(join(FIXTURES, 'gpt2'), { tokenizer: false });
    const { ByteTokenizer } = await import('@falign/core');
    await expect(saveHfCheckpoint(join(root, 'bad'), { model, tokenizer: new ByteTokenizer() })).rejects.toThrow(/no Hugging Face form/);
    model.dispose();
  });

  it.skipIf(!hasNumpy())('the fixture script (independent NumPy forward) accepts what falign saved', () => {
    for (const name of ['llama', 'qwen2', 'gpt2']) {
      const out = join(root, `saved-${name}`);
      const log = execFileSync('python3', [SCRIPT, '--check', out, join(FIXTURES, name)], { encoding: 'utf8' });
      // Every tensor bit-equal to the fixture's (saved unchanged), and the logits reproduced.
      expect(log).toMatch(/: (\d+) tensors named and shaped as .*, \1 bit-equal to it; max \|dlogit\| vs reference/);
    }
  });
});

