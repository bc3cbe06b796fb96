import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdamW,
  DecoderLM,
  LoraAdapter,
  Rng,
  initBackend,
  loadLoraAdapter,
  mergeLora,
  readSafetensors,
  saveLoraAdapter,
  tf,
  tokenLogprobs,
  type LoraConfig,
  type ModelConfig,
} from '../src/index.js';

const GPT: ModelConfig = { arch: 'gpt2', vocabSize: 23, dModel: 16, nLayers: 2, nHeads: 4, maxSeqLen: 16 };
const LLAMA: ModelConfig = { arch: 'llama', vocabSize: 19, dModel: 16, nLayers: 2, nHeads: 4, nKvHeads: 2, dFF: 24, maxSeqLen: 16, tieEmbeddings: false };

function ids(B: number, T: number, V: number, seed: number): tf.Tensor2D {
  const rng = new Rng(seed);
  return tf.tensor2d(Array.from({ length: B * T }, () => rng.nextInt(V)), [B, T], 'int32');
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

/** Gives every factor (B included) random values, so the adapter changes the model. */
function randomize(adapter: LoraAdapter, seed: number, scale = 0.3): void {
  const rng = new Rng(seed);
  const w = adapter.getWeights();
  const rnd: Record<string, tf.Tensor> = {};
  for (const [k, t] of Object.entries(w)) rnd[k] = tf.tensor(Array.from({ length: t.size }, () => rng.normal() * scale), t.shape);
  adapter.setWeights(rnd);
  tf.dispose([...Object.values(w), ...Object.values(rnd)]);
}

function weightsBytes(model: DecoderLM): Map<string, Uint8Array> {
  const w = model.getWeights();
  const out = new Map(Object.entries(w).map(([k, t]) => [k, new Uint8Array((t.dataSync() as Float32Array).slice().buffer)]));
  tf.dispose(Object.values(w));
  return out;
}

const batch = { promptTokenIds: [[1, 2, 3], [4, 5]], completionTokenIds: [[6, 7, 8, 2], [9, 3]] };

beforeAll(async () => {
  await initBackend(process.env.FALIGN_BACKEND ? undefined : 'cpu');
});

describe.each([
  ['gpt2 (fused c_attn, Conv1D layout)', GPT, ['c_attn', 'c_proj', 'c_fc'] as string[]],
  ['llama GQA (q/v only: partial fused blocks)', LLAMA, ['q_proj', 'v_proj'] as string[]],
  ['llama GQA (all-linear)', LLAMA, 'all-linear' as const],
])('LoRA on %s', (_name, cfg, targets) => {
  const lora: LoraConfig = { r: 4, alpha: 8, targetModules: targets, seed: 3 };

  it('a fresh adapter (B = 0) leaves the logits unchanged; a non-zero one changes them; reference() is the base', () => {
    const base = new DecoderLM(cfg, { seed: 1, trainable: false });
    const x = ids(2, 6, cfg.vocabSize, 7);
    const before = base.forward(x);
    const adapter = LoraAdapter.create(base, lora);
    const fresh = base.forward(x);
    expect(maxAbsDiff(fresh, before)).toBe(0);
    randomize(adapter, 11);
    const adapted = base.forward(x);
    expect(maxAbsDiff(adapted, before)).toBeGreaterThan(1e-3);
    const ref = adapter.reference().forward(x);
    expect(maxAbsDiff(ref, before)).toBe(0);
    expect(adapter.reference().variables()).toEqual([]);
    adapter.detach();
    const detached = base.forward(x);
    expect(maxAbsDiff(detached, before)).toBe(0);
    tf.dispose([x, before, fresh, adapted, ref, detached]);
    adapter.dispose();
    base.dispose();
  });

  it('merging gives a model with the adapted logits', () => {
    const base = new DecoderLM(cfg, { seed: 2, trainable: false });
    const adapter = LoraAdapter.create(base, lora);
    randomize(adapter, 12);
    const x = ids(2, 7, cfg.vocabSize, 8);
    const adapted = base.forward(x);
    const merged = mergeLora(adapter);
    const m = merged.forward(x);
    expect(maxAbsDiff(m, adapted)).toBeLessThan(1e-4);
    tf.dispose([x, adapted, m]);
    merged.dispose();
    adapter.dispose();
    base.dispose();
  });

  it('saves in PEFT layout and loads back onto another copy of the base with identical log-probs', async () => {
    const base = new DecoderLM(cfg, { seed: 4, trainable: false });
    const adapter = LoraAdapter.create(base, lora);
    randomize(adapter, 13);
    const dir = mkdtempSync(join(tmpdir(), 'falign-lora-'));
    await saveLoraAdapter(dir, adapter, { baseModel: 'test:base' });
    const json = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    expect(json).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 4, lora_alpha: 8, bias: 'none', fan_in_fan_out: cfg.arch === 'gpt2', base_model_name_or_path: 'test:base' });
    const st = await readSafetensors(join(dir, 'adapter_model.safetensors'));
    const D = cfg.dModel;
    if (cfg.arch === 'gpt2') {
      expect(st.tensors['base_model.model.transformer.h.1.attn.c_attn.lora_A.weight'].shape).toEqual([4, D]);
      expect(st.tensors['base_model.model.transformer.h.1.attn.c_attn.lora_B.weight'].shape).toEqual([3 * D, 4]);
      expect(st.tensors['base_model.model.transformer.h.0.mlp.c_proj.lora_A.weight'].shape).toEqual([4, 4 * D]);
    } else {
      expect(st.tensors['base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight'].shape).toEqual([4, D]);
      expect(st.tensors['base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight'].shape).toEqual([8, 4]);
      expect('base_model.model.model.layers.1.mlp.down_proj.lora_A.weight' in st.tensors).toBe(targets === 'all-linear');
    }
    expect(Object.keys(st.tensors)).toHaveLength(adapter.variables().length);

    const other = new DecoderLM(cfg, { seed: 4, trainable: false });
    const loaded = await loadLoraAdapter(dir, other);
    const a = tokenLogprobs(base, batch);
    const b = tokenLogprobs(other, batch);
    expect(Array.from(b.logp.dataSync())).toEqual(Array.from(a.logp.dataSync()));
    tf.dispose([a.logp, a.mask, b.logp, b.mask]);
    loaded.dispose();
    other.dispose();
    adapter.dispose();
    base.dispose();
  });
});

describe('LoRA training', () => {
  it.each([
    ['untied head', LLAMA],
    ['tied head (a frozen constant)', { ...LLAMA, tieEmbeddings: true }],
    ['Qwen2-style q/k/v biases, frozen', { ...LLAMA, qkvBias: true }],
  ])('gradients of the factors match central finite differences (%s)', (_n, cfg) => {
    const base = new DecoderLM(cfg, { seed: 5, trainable: false });
    const adapter = LoraAdapter.create(base, { r: 2, alpha: 4, targetModules: ['q_proj', 'k_proj', 'o_proj', 'up_proj', 'down_proj'], seed: 1 });
    randomize(adapter, 14, 0.2);
    const x = ids(2, 5, LLAMA.vocabSize, 9);
    const probe = tf.randomNormal([2, 5, LLAMA.vocabSize], 0, 1, 'float32', 3);
    const loss = () => tf.sum(tf.mul(base.forward(x), probe)) as tf.Scalar;
    const { grads } = tf.variableGrads(loss, adapter.variables());
    const rng = new Rng(21);
    let checked = 0;
    for (const v of adapter.variables()) {
      const g = grads[v.name].dataSync();
      for (let k = 0; k < 2; k++) {
        const i = rng.nextInt(v.size);
        const orig = v.dataSync().slice();
        const at = (delta: number) => {
          const buf = orig.slice();
          buf[i] += delta;
          v.assign(tf.tensor(buf, v.shape));
          return tf.tidy(() => loss().dataSync()[0]);
        };
        const h = 1e-2;
        const fd = (at(h) - at(-h)) / (2 * h);
        v.assign(tf.tensor(orig, v.shape));
        expect(Math.abs(fd - g[i])).toBeLessThanOrEqual(2e-2 * Math.max(1, Math.abs(fd)));
        checked++;
      }
    }
    expect(checked).toBe(adapter.variables().length * 2);
    tf.dispose([x, probe, ...Object.values(grads)]);
    adapter.dispose();
    base.dispose();
  });

  it('only the adapter changes under AdamW, the base stays byte-identical, and no tensors leak', () => {
    const base = new DecoderLM(GPT, { seed: 6, trainable: false });
    const adapter = LoraAdapter.create(base, { r: 2, alpha: 2, dropout: 0.1, targetModules: ['c_attn', 'c_fc'], seed: 2 });
    const baseBefore = weightsBytes(base);
    const loraBefore = adapter.getWeights();
    const opt = new AdamW(adapter.namedVariables(), { lr: 1e-2 });
    const step = () => {
      const { value, grads } = tf.variableGrads(() => {
        const s = tokenLogprobs(base, batch);
        return tf.neg(tf.sum(s.logp)) as tf.Scalar;
      }, adapter.variables());
      opt.applyGradients(grads);
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    const n = tf.memory().numTensors;
    step();
    step();
    expect(tf.memory().numTensors).toBe(n);
    const baseAfter = weightsBytes(base);
    for (const [k, b] of baseBefore) expect(Buffer.compare(Buffer.from(baseAfter.get(k)!), Buffer.from(b)), k).toBe(0);
    const loraAfter = adapter.getWeights();
    // B starts at 0 and A gets no gradient until B ≠ 0: after three steps both have moved.
    for (const k of Object.keys(loraBefore)) expect(maxAbsDiff(loraAfter[k], loraBefore[k]), k).toBeGreaterThan(0);
    tf.dispose([...Object.values(loraBefore), ...Object.values(loraAfter)]);
    opt.dispose();
    adapter.dispose();
    base.dispose();
  });
});

describe('LoRA errors', () => {
  it('names an unknown target module and the known ones', () => {
    const base = new DecoderLM(LLAMA, { trainable: false });
    expect(() => LoraAdapter.create(base, { r: 2, alpha: 2, targetModules: ['c_attn'] })).toThrow(/"c_attn" matches no projection of this llama model \(known: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj\)/);
    expect(() => LoraAdapter.create(base, { r: 0, alpha: 2, targetModules: ['q'] })).toThrow(/lora\.r must be a positive integer/);
    const a = LoraAdapter.create(base, { r: 2, alpha: 2, targetModules: ['q'] });
    expect(() => LoraAdapter.create(base, { r: 2, alpha: 2, targetModules: ['q'] })).toThrow(/already carries another adapter/);
    a.dispose();
    base.dispose();
  });

  it('refuses adapters of another shape or kind, naming the file and tensor or field', async () => {
    const base = new DecoderLM(LLAMA, { trainable: false });
    const adapter = LoraAdapter.create(base, { r: 2, alpha: 2, targetModules: ['q_proj'] });
    const dir = mkdtempSync(join(tmpdir(), 'falign-lora-bad-'));
    await saveLoraAdapter(dir, adapter);
    const wider = new DecoderLM({ ...LLAMA, dModel: 32 }, { trainable: false });
    await expect(loadLoraAdapter(dir, wider)).rejects.toThrow(/adapter_model\.safetensors: tensor 'base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight' has shape \[2,16\], expected \[2,32\]/);
    const cfgFile = join(dir, 'adapter_config.json');
    const json = JSON.parse(readFileSync(cfgFile, 'utf8'));
    writeFileSync(cfgFile, JSON.stringify({ ...json, use_dora: true }));
    await expect(loadLoraAdapter(dir, base)).rejects.toThrow(/adapter_config\.json: use_dora: DoRA adapters are not supported/);
    writeFileSync(cfgFile, JSON.stringify({ ...json, peft_type: 'IA3' }));
    await expect(loadLoraAdapter(dir, base)).rejects.toThrow(/adapter_config\.json: peft_type: only "LORA"/);
    await expect(loadLoraAdapter(join(dir, 'nope'), base)).rejects.toThrow(/nope\/adapter_config\.json: cannot read/);
    adapter.dispose();
    wider.dispose();
    base.dispose();
  });
});
