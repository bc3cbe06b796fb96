import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generate, initBackend, loadLlama2c, parseLlama2c, permuteRotaryRows, tf } from '@falign/core';

const modelsDir = process.env.FALIGN_MODELS_DIR ?? resolve(__dirname, '../../../../shared/models');
const storiesDir = join(modelsDir, 'stories260K');
const binPath = join(storiesDir, 'stories260K.bin');

function readExample(): { ids: number[]; text: string } {
  const md = readFileSync(join(storiesDir, 'EXAMPLE.md'), 'utf8');
  const blocks = [...md.matchAll(/```\n([\s\S]*?)\n```/g)].map((m) => m[1]);
  return { ids: JSON.parse(blocks[0]) as number[], text: blocks[1] };
}

describe('llama2.c checkpoint parsing', () => {
  const buf = readFileSync(binPath);

  it('reads the stories260K header and lays weights out under HF names', () => {
    const { header, config, weights } = parseLlama2c(buf, 'stories260K.bin');
    expect(header).toEqual({ dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, vocabSize: 512, sharedClassifier: true, seqLen: 512 });
    expect(config).toMatchObject({ arch: 'llama', vocabSize: 512, dModel: 64, dFF: 172, nKvHeads: 4, maxSeqLen: 512, tieEmbeddings: true, normEps: 1e-5 });
    expect(weights['model.layers.0.self_attn.k_proj.weight'].shape).toEqual([32, 64]);
    expect(weights['model.layers.4.mlp.down_proj.weight'].shape).toEqual([64, 172]);
    expect(weights['lm_head.weight']).toBeUndefined();
    // Offsets from SOURCE.md's table: rms_att of layer 0 starts at byte 131,100; w3 at 819,740.
    const f32 = (off: number) => buf.readFloatLE(off);
    expect(weights['model.layers.0.input_layernorm.weight'].data[0]).toBe(f32(131_100));
    expect(weights['model.layers.0.mlp.up_proj.weight'].data[0]).toBe(f32(819_740));
    expect(weights['model.norm.weight'].data[63]).toBe(f32(1_040_156 - 4));
    // v is not permuted: row 1 stays row 1.
    expect(weights['model.layers.0.self_attn.v_proj.weight'].data[64]).toBe(f32(255_260 + 4 * 64));
    // q row 1 of head 0 (HF layout) is llama2.c row 2 (the second pair's first element).
    expect(weights['model.layers.0.self_attn.q_proj.weight'].data[64]).toBe(f32(132_380 + 4 * 2 * 64));
  });

  it('permutes rotary rows like HF permute(): (2i, 2i+1) → (i, i + hd/2) per head', () => {
    // 2 heads of size 4, one column: llama2.c rows [a0 a1 b0 b1 | c0 c1 d0 d1] → [a0 b0 a1 b1 | c0 d0 c1 d1].
    const w = Float32Array.from([0, 1, 2, 3, 10, 11, 12, 13]);
    expect(Array.from(permuteRotaryRows(w, 2, 8, 1))).toEqual([0, 2, 1, 3, 10, 12, 11, 13]);
  });

  it('reports truncated, oversized and foreign files with sizes', () => {
    expect(() => parseLlama2c(buf.subarray(0, 1_000_000), 'cut.bin')).toThrow(/cut\.bin: truncated llama2.c checkpoint: .* needs 1056540 bytes, file has 1000000/);
    expect(() => parseLlama2c(Buffer.concat([buf, Buffer.alloc(8)]), 'big.bin')).toThrow(/big\.bin: .*8 bytes more/);
    expect(() => parseLlama2c(buf.subarray(0, 10), 'tiny.bin')).toThrow(/tiny\.bin: truncated .* header alone needs 28/);
    const v1 = Buffer.from(buf.subarray(0, 64));
    v1.writeUInt32LE(0x616b3432, 0);
    expect(() => parseLlama2c(v1, 'v1.bin')).toThrow(/version-1\/2 export format/);
    const bad = Buffer.from(buf);
    bad.writeInt32LE(-3, 8);
    expect(() => parseLlama2c(bad, 'bad.bin')).toThrow(/n_layers is -3/);
  });

  it('reads an untied classifier when vocab_size is negative', () => {
    const untied = Buffer.concat([buf, Buffer.alloc(512 * 64 * 4)]);
    untied.writeInt32LE(-512, 20);
    untied.writeFloatLE(1.5, buf.byteLength);
    const { config, weights } = parseLlama2c(untied, 'untied.bin');
    expect(config.tieEmbeddings).toBe(false);
    expect(weights['lm_head.weight'].shape).toEqual([512, 64]);
    expect(weights['lm_head.weight'].data[0]).toBe(1.5);
  });
});

describe('stories260K reproduces llama2.c', () => {
  beforeAll(async () => {
    await initBackend((process.env.FALIGN_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm');
  });

  it('finds tok512.bin beside the checkpoint and errors clearly when a tokenizer is missing', async () => {
    const { model, tokenizer } = await loadLlama2c(binPath);
    expect(tokenizer.vocabSize).toBe(512);
    expect(model.numParams()).toBe(260_032);
    model.dispose();
    await expect(loadLlama2c(binPath, join(storiesDir, 'nope.bin'))).rejects.toThrow(/nope\.bin/);
  });

  it('greedy decoding from BOS gives EXAMPLE.md ids and text exactly', async () => {
    const { ids, text } = readExample();
    const { model, tokenizer } = await loadLlama2c(binPath);
    const before = tf.memory().numTensors;
    const [c] = await generate(model, tokenizer, [''], { maxNewTokens: ids.length - 1, temperature: 0 });
    expect(tf.memory().numTensors).toBe(before);
    expect(c.promptTokenIds).toEqual([1]);
    expect([...c.promptTokenIds, ...c.tokenIds]).toEqual(ids);
    expect(c.text).toBe(text);
    expect(c.finishReason).toBe('length');
    model.dispose();
  });
});
