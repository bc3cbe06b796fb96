/**
 * The OpenAI-compatible server with a real model (llama2.c stories260K) and the OpenAI client
 * against it: what comes over HTTP equals what the policy generates in-process, concurrent
 * requests are micro-batched without changing greedy results.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, loadPolicy, type Policy } from '@falign/core';
import { startServer, type RunningServer } from '../src/server/app.js';
import { createOpenAIModel } from '../src/models/openai.js';

const modelsDir = process.env.FALIGN_MODELS_DIR ?? resolve(__dirname, '../../../../shared/models');
const modelPath = resolve(modelsDir, 'stories260K/stories260K.bin');

describe('falign serve with stories260K', () => {
  let policy: Policy;
  let server: RunningServer;

  beforeAll(async () => {
    if (!existsSync(modelPath)) throw new Error(`${modelPath} not found: set FALIGN_MODELS_DIR`);
    await initBackend('wasm');
    policy = await loadPolicy(`llama2c:${modelPath}`, { trainable: false });
    server = await startServer({ policy, modelId: 'stories260K', maxBatch: 16, batchWindowMs: 10 });
  });
  afterAll(async () => {
    await server?.close(5000);
    policy?.dispose();
  });

  it('greedy completions over HTTP equal in-process generation, concurrent requests batched', async () => {
    const prompts = ['Once upon a time', 'The little dog', 'Lily and Ben went to the park.', 'One day'];
    const direct = await policy.generate(
      prompts.map((p) => policy.tokenizer.encode(p, { bos: true })),
      { maxNewTokens: 24, temperature: 0, numSamples: 1 },
    );
    const model = createOpenAIModel(`openai:${server.url}#stories260K`, { concurrency: 8 });
    const before = server.stats().batches;
    const out = await model.generate(prompts.map((prompt) => ({ prompt, maxTokens: 24, temperature: 0, logprobs: true })));
    expect(out.map((r) => r[0].text)).toEqual(direct.map((c) => c.text));
    expect(out.map((r) => r[0].completionTokens)).toEqual(direct.map((c) => c.tokenIds.length));
    for (let i = 0; i < prompts.length; i++) {
      expect(out[i][0].tokenLogprobs!.length).toBe(direct[i].tokenIds.length);
      out[i][0].tokenLogprobs!.forEach((lp, t) => expect(lp).toBeCloseTo(direct[i].tokenLogprobs[t], 5));
    }
    expect(direct.some((c) => c.text.length > 10)).toBe(true);
    // 4 concurrent requests, one 10 ms window: fewer generate calls than requests
    expect(server.stats().batches - before).toBeLessThan(prompts.length);
  });

  it('seeded sampling is reproducible over HTTP; chat answers; n completions per prompt', async () => {
    const model = createOpenAIModel(`openai:${server.url}#stories260K`);
    const req = { prompt: 'Once upon a time', maxTokens: 16, temperature: 1, seed: 42, n: 3 };
    const [a] = await model.generate([req]);
    const [b] = await model.generate([req]);
    expect(a.map((r) => r.text)).toEqual(b.map((r) => r.text));
    expect(a).toHaveLength(3);
    expect(new Set(a.map((r) => r.text)).size).toBeGreaterThan(1);

    const chat = createOpenAIModel(`openai:${server.url}#stories260K`, { api: 'chat' });
    const [[c]] = await chat.generate([
      { prompt: '', messages: [{ role: 'user', content: 'Tell me a story about a cat.' }], maxTokens: 20, temperature: 0, logprobs: true },
    ]);
    expect(c.text.length).toBeGreaterThan(0);
    expect(c.text).not.toContain('\nUser:');
    expect(c.tokenLogprobs!.every((x) => x <= 0)).toBe(true);
  });
});
