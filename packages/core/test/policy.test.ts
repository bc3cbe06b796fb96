import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, loadPolicy, Policy, tf } from '@falign/core';

const modelsDir = process.env.FALIGN_MODELS_DIR ?? resolve(__dirname, '../../../../shared/models');
const storiesDir = join(modelsDir, 'stories260K');
const spec = `llama2c:${join(storiesDir, 'stories260K.bin')}`;

describe('Policy / loadPolicy', () => {
  let root: string;
  let policy: Policy;
  beforeAll(async () => {
    await initBackend((process.env.FALIGN_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm');
    root = mkdtempSync(join(tmpdir(), 'falign-policy-'));
    policy = await loadPolicy(spec);
  });
  afterAll(() => {
    policy.dispose();
    rmSync(root, { recursive: true, force: true });
  });

  it('opens llama2c:PATH with the tokenizer beside it or a named one', async () => {
    expect(policy.source).toBe(spec);
    expect(policy.config.dModel).toBe(64);
    expect(policy.tokenizer.kind).toBe('llama2c');
    const named = await loadPolicy(spec, { tokenizer: join(storiesDir, 'tok512.bin'), trainable: false });
    expect(named.model.variables()).toEqual([]);
    expect(named.tokenizer.encode('Lily', { bos: true })).toEqual([1, 317]);
    named.dispose();
  });

  it('generates, scores and saves; falign:DIR loads it back with identical outputs', async () => {
    const [a] = await policy.generate(['Lily'], { maxNewTokens: 12, temperature: 0 });
    const dir = join(root, 'ckpt');
    await policy.save(dir, { meta: { note: 'policy test' } });
    const back = await loadPolicy(`falign:${dir}`);
    const [b] = await back.generate(['Lily'], { maxNewTokens: 12, temperature: 0 });
    expect(b.tokenIds).toEqual(a.tokenIds);
    expect(b.text).toBe(a.text);
    const batch = { promptTokenIds: [a.promptTokenIds], completionTokenIds: [a.tokenIds] };
    const [sa, sb] = [policy, back].map((p) => tf.tidy(() => p.sequenceLogprobs(batch).dataSync()[0]));
    expect(sb).toBe(sa);
    expect(sa).toBeCloseTo(a.tokenLogprobs.reduce((x, y) => x + y, 0), 3);
    back.dispose();
  });

  it('clones into an independent frozen reference', () => {
    const ref = policy.clone({ trainable: false });
    expect(ref.model.variables()).toEqual([]);
    const v = policy.model.variables()[0];
    const batch = { promptTokenIds: [[1]], completionTokenIds: [[403, 407]] };
    const before = tf.tidy(() => ref.tokenLogprobs(batch).logp.dataSync()[1]);
    const orig = v.clone();
    tf.tidy(() => v.assign(tf.mul(v, 0.5)));
    const refAfter = tf.tidy(() => ref.tokenLogprobs(batch).logp.dataSync()[1]);
    const polAfter = tf.tidy(() => policy.tokenLogprobs(batch).logp.dataSync()[1]);
    v.assign(orig);
    orig.dispose();
    expect(refAfter).toBe(before);
    expect(polAfter).not.toBe(before);
    ref.dispose();
  });

  it('explains bad specs', async () => {
    await expect(loadPolicy('openai:http://x#m')).rejects.toThrow(/unknown model spec scheme "openai:".*llama2c:PATH\.bin, falign:DIR, hf:DIR \(openai:URL#MODEL is handled by @falign\/bench\)/);
    await expect(loadPolicy('/tmp/model.bin')).rejects.toThrow(/has no scheme/);
    await expect(loadPolicy('llama2c:')).rejects.toThrow(/no path/);
    await expect(loadPolicy(`falign:${join(root, 'missing')}`)).rejects.toThrow(/missing file .*missing\/config\.json/);
    await expect(loadPolicy(`llama2c:${join(root, 'none.bin')}`)).rejects.toThrow(/cannot read llama2\.c checkpoint .*none\.bin/);
  });
});
