import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CharTokenizer,
  DecoderLM,
  initBackend,
  loadCheckpoint,
  loadLlama2c,
  parseSafetensors,
  saveCheckpoint,
  serializeSafetensors,
  tf,
} from '@falign/core';

const modelsDir = process.env.FALIGN_MODELS_DIR ?? resolve(__dirname, '../../../../shared/models');
const binPath = join(modelsDir, 'stories260K', 'stories260K.bin');

let root: string;
beforeAll(async () => {
  await initBackend((process.env.FALIGN_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm');
  root = mkdtempSync(join(tmpdir(), 'falign-ckpt-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function bitsEqual(a: tf.Tensor, b: tf.Tensor): boolean {
  const x = new Uint32Array(Float32Array.from(a.dataSync()).buffer);
  const y = new Uint32Array(Float32Array.from(b.dataSync()).buffer);
  return a.shape.join() === b.shape.join() && x.length === y.length && x.every((v, i) => v === y[i]);
}

describe('safetensors', () => {
  it('round-trips F32/I32 with metadata and an 8-byte aligned header', () => {
    const bytes = serializeSafetensors(
      {
        b: { dtype: 'int32', shape: [3], data: Int32Array.from([1, -2, 2147483647]) },
        a: { dtype: 'float32', shape: [2, 2], data: Float32Array.from([0.1, -0, Infinity, 3e-42]) },
        empty: { dtype: 'float32', shape: [0, 4], data: new Float32Array(0) },
      },
      { format: 'pt' },
    );
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLen % 8).toBe(0);
    const f = parseSafetensors(bytes);
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.tensors.a.shape).toEqual([2, 2]);
    expect(Object.is(f.tensors.a.data[1], -0)).toBe(true);
    expect(Array.from(f.tensors.a.data)).toEqual(Array.from(Float32Array.from([0.1, -0, Infinity, 3e-42])));
    expect(Array.from(f.tensors.b.data)).toEqual([1, -2, 2147483647]);
    expect(f.tensors.empty.shape).toEqual([0, 4]);
  });

  it('widens F16 and BF16 to float32', () => {
    const header = JSON.stringify({
      h: { dtype: 'F16', shape: [4], data_offsets: [0, 8] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [8, 12] },
    });
    const buf = new Uint8Array(8 + header.length + 12);
    const dv = new DataView(buf.buffer);
    dv.setBigUint64(0, BigInt(header.length), true);
    buf.set(new TextEncoder().encode(header), 8);
    const d = 8 + header.length;
    // F16: 1.0 = 0x3C00, -2.0 = 0xC000, 2^-24 (smallest subnormal) = 0x0001, +inf = 0x7C00
    [0x3c00, 0xc000, 0x0001, 0x7c00].forEach((h, i) => dv.setUint16(d + 2 * i, h, true));
    // BF16: 1.0 = 0x3F80, -3.5 = 0xC060
    [0x3f80, 0xc060].forEach((h, i) => dv.setUint16(d + 8 + 2 * i, h, true));
    const f = parseSafetensors(buf);
    expect(Array.from(f.tensors.h.data)).toEqual([1, -2, 2 ** -24, Infinity]);
    expect(Array.from(f.tensors.b.data)).toEqual([1, -3.5]);
  });

  it('names what is wrong', () => {
    const ok = serializeSafetensors({ w: { dtype: 'float32', shape: [4], data: new Float32Array(4) } });
    expect(() => parseSafetensors(ok.subarray(0, ok.length - 4), 'w.st')).toThrow(/w\.st: truncated safetensors file: tensor "w" ends at data byte 16 but the data section has 12/);
    expect(() => parseSafetensors(ok.subarray(0, 20), 'w.st')).toThrow(/w\.st: truncated safetensors file: header says/);
    expect(() => parseSafetensors(ok.subarray(0, 5), 'w.st')).toThrow(/w\.st: truncated/);
    const badJson = Uint8Array.from(ok);
    badJson[8] = 0x78; // 'x'
    expect(() => parseSafetensors(badJson, 'w.st')).toThrow(/w\.st: bad safetensors header JSON/);
    const text = new TextDecoder().decode(ok);
    const f64 = new TextEncoder().encode(text.replace('"F32"', '"F64"'));
    expect(() => parseSafetensors(f64, 'w.st')).toThrow(/w\.st: tensor "w": unknown dtype "F64"/);
    const wrongShape = new TextEncoder().encode(text.replace('[4]', '[5]'));
    expect(() => parseSafetensors(wrongShape, 'w.st')).toThrow(/tensor "w": shape \[5\] of F32 needs 20 bytes but data_offsets span 16/);
  });
});

describe('saveCheckpoint / loadCheckpoint', () => {
  it('round-trips stories260K bit-exactly (weights, logits, tokenizer) with extra state', async () => {
    const { model, tokenizer } = await loadLlama2c(binPath);
    const dir = join(root, 'stories');
    const moments = { 'adam.m.0': tf.tensor2d([[1.5, -2], [3, 4]]), step: tf.scalar(7, 'int32') };
    const json = { step: 7, rng: [1, 2, 3, 4] };
    await saveCheckpoint(dir, { model, tokenizer, extra: { tensors: moments, json }, meta: { run: 'test' } });
    expect(readdirSync(root).filter((n) => n.includes('.tmp-') || n.includes('.old-'))).toEqual([]);
    const back = await loadCheckpoint(dir);
    expect(back.config.model).toEqual(model.config);
    expect(back.config.meta).toEqual({ run: 'test' });
    const a = model.getWeights();
    const b = back.model.getWeights();
    expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
    for (const k of Object.keys(a)) expect(bitsEqual(a[k], b[k])).toBe(true);
    tf.dispose([...Object.values(a), ...Object.values(b)]);
    const ids = tokenizer.encode('Once upon a time', { bos: true });
    const [la, lb] = [model, back.model].map((m) => tf.tidy(() => m.forward(tf.tensor2d([ids], [1, ids.length], 'int32')).dataSync()));
    expect(Array.from(lb)).toEqual(Array.from(la));
    expect(back.tokenizer.encode('Lily was happy.', { bos: true })).toEqual(tokenizer.encode('Lily was happy.', { bos: true }));
    expect(back.extra!.json).toEqual(json);
    expect(bitsEqual(back.extra!.tensors!['adam.m.0'], moments['adam.m.0'])).toBe(true);
    expect(back.extra!.tensors!.step.dtype).toBe('int32');
    expect(back.extra!.tensors!.step.dataSync()[0]).toBe(7);
    tf.dispose([...Object.values(moments), ...Object.values(back.extra!.tensors!)]);
    model.dispose();
    back.model.dispose();
  });

  it('replaces an existing checkpoint and round-trips an untied gpt2 with a char tokenizer', async () => {
    const tok = new CharTokenizer(['a', 'b', '+'], { pad: '<pad>', eos: '<eos>' });
    const cfg = { arch: 'gpt2' as const, vocabSize: tok.vocabSize, dModel: 8, nLayers: 1, nHeads: 2, maxSeqLen: 8, tieEmbeddings: false };
    const m1 = new DecoderLM(cfg, { seed: 1 });
    const m2 = new DecoderLM(cfg, { seed: 2 });
    const dir = join(root, 'gpt2');
    await saveCheckpoint(dir, { model: m1, tokenizer: tok });
    await saveCheckpoint(dir, { model: m2, tokenizer: tok });
    expect(readdirSync(root).filter((n) => n.startsWith('gpt2'))).toEqual(['gpt2']);
    const back = await loadCheckpoint(dir, { trainable: false });
    expect(back.extra).toBeUndefined();
    expect(back.model.variables()).toEqual([]);
    const w2 = m2.getWeights();
    const wb = back.model.getWeights();
    expect(w2['lm_head.weight']).toBeDefined();
    for (const k of Object.keys(w2)) expect(bitsEqual(w2[k], wb[k])).toBe(true);
    tf.dispose([...Object.values(w2), ...Object.values(wb)]);
    expect(back.tokenizer.toJSON()).toEqual(tok.toJSON());
    [m1, m2, back.model].forEach((m) => m.dispose());
  });

  describe('errors name the file and what is wrong', () => {
    let dir: string;
    let clean: () => void;
    beforeAll(async () => {
      const tok = new CharTokenizer(['x', 'y'], { pad: '<pad>' });
      const m = new DecoderLM({ arch: 'llama', vocabSize: tok.vocabSize, dModel: 8, nLayers: 1, nHeads: 2, nKvHeads: 1, dFF: 12, maxSeqLen: 8 }, { seed: 3 });
      dir = join(root, 'broken');
      const pristine = join(root, 'pristine');
      await saveCheckpoint(pristine, { model: m, tokenizer: tok, extra: { json: { step: 1 } } });
      m.dispose();
      const files = readdirSync(pristine);
      clean = () => {
        rmSync(dir, { recursive: true, force: true });
        // copy pristine → dir
        mkdirSync(dir);
        for (const f of files) writeFileSync(join(dir, f), readFileSync(join(pristine, f)));
      };
    });
    const load = () => loadCheckpoint(dir);
    const weights = () => join(dir, 'model.safetensors');
    const rewriteWeights = (edit: (t: ReturnType<typeof parseSafetensors>['tensors']) => void) => {
      const f = parseSafetensors(readFileSync(weights()));
      edit(f.tensors);
      writeFileSync(weights(), serializeSafetensors(f.tensors));
    };
    const editConfig = (edit: (c: Record<string, any>) => void) => {
      const c = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      edit(c);
      writeFileSync(join(dir, 'config.json'), JSON.stringify(c));
    };

    it('missing directory / config / weights / state file', async () => {
      await expect(loadCheckpoint(join(root, 'nope'))).rejects.toThrow(/missing file .*nope\/config\.json/);
      clean();
      rmSync(weights());
      await expect(load()).rejects.toThrow(/missing file .*broken\/model\.safetensors/);
      clean();
      rmSync(join(dir, 'state.json'));
      await expect(load()).rejects.toThrow(/missing file .*broken\/state\.json/);
      clean();
      rmSync(join(dir, 'tokenizer.json'));
      await expect(load()).rejects.toThrow(/missing file .*broken\/tokenizer\.json/);
    });

    it('truncated weights and bad header JSON', async () => {
      clean();
      const b = readFileSync(weights());
      writeFileSync(weights(), b.subarray(0, b.length - 10));
      await expect(load()).rejects.toThrow(/broken\/model\.safetensors: truncated safetensors file: tensor ".*" ends at data byte \d+ but the data section has \d+ bytes/);
      clean();
      const c = Buffer.from(readFileSync(weights()));
      c[8] = 0x5d; // ']'
      writeFileSync(weights(), c);
      await expect(load()).rejects.toThrow(/broken\/model\.safetensors: bad safetensors header JSON/);
    });

    it('missing tensor, shape mismatch, unknown dtype', async () => {
      clean();
      rewriteWeights((t) => delete t['model.norm.weight']);
      await expect(load()).rejects.toThrow(/model\.safetensors: missing tensor "model\.norm\.weight" \(expected shape \[8\]\)/);
      clean();
      rewriteWeights((t) => {
        t['model.norm.weight'] = { dtype: 'float32', shape: [9], data: new Float32Array(9) };
      });
      await expect(load()).rejects.toThrow(/model\.safetensors: tensor "model\.norm\.weight" has shape \[9\], expected \[8\]/);
      clean();
      const text = readFileSync(weights()).toString('latin1').replace('"F32"', '"U8X"');
      writeFileSync(weights(), Buffer.from(text, 'latin1'));
      await expect(load()).rejects.toThrow(/model\.safetensors: tensor ".*": unknown dtype "U8X"/);
    });

    it('invalid config fields', async () => {
      clean();
      editConfig((c) => (c.model.nHeads = 3));
      await expect(load()).rejects.toThrow(/broken\/config\.json: "model": ModelConfig\.nHeads/);
      clean();
      editConfig((c) => (c.model.dModel = -8));
      await expect(load()).rejects.toThrow(/config\.json: "model": ModelConfig\.dModel: expected a positive integer/);
      clean();
      editConfig((c) => (c.tokenizer = '../../etc/passwd'));
      await expect(load()).rejects.toThrow(/config\.json: "tokenizer" must be a file name inside the checkpoint directory/);
      clean();
      editConfig((c) => (c.format = 'other'));
      await expect(load()).rejects.toThrow(/config\.json: "format" must be "falign-checkpoint-v1"/);
      clean();
      writeFileSync(join(dir, 'config.json'), '{"model": ');
      await expect(load()).rejects.toThrow(/config\.json: invalid JSON/);
      clean();
      const ok = await load();
      expect(ok.extra!.json).toEqual({ step: 1 });
      ok.model.dispose();
      expect(existsSync(dir)).toBe(true);
    });
  });
});
