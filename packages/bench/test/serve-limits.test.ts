// falign serve under hostile input: bounded memory per prompt (only the surviving tail is
// tokenized), body and queue limits with reasons, /health not stuck behind generation, and a
// client that disconnects mid-body logged as 499 rather than 500.
import { request } from 'node:http';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { Completion, SampleOptions } from '@falign/core';
import { startServer, type RunningServer, type ServerOptions } from '../src/server/app.js';
import { MicroBatcher, type ServablePolicy } from '../src/server/batcher.js';
import { CUT_MARGIN_TOKENS, countTokensUpTo, fitPromptTail } from '../src/server/prompt-fit.js';

/** One character = one token (BOS = 1); records the longest text it was asked to encode. */
function charTokenizer() {
  const t = {
    bosId: 1 as number | null,
    longestEncoded: 0,
    encode(text: string, o?: { bos?: boolean }) {
      t.longestEncoded = Math.max(t.longestEncoded, text.length);
      return [...(o?.bos ? [1] : []), ...[...text].map((c) => c.charCodeAt(0))];
    },
    decode: (ids: readonly number[]) => String.fromCharCode(...ids.filter((i) => i !== 1)),
  };
  return t;
}

/** Pairs of letters merge into one token ("ab" → one id), like a BPE whose merges are local. */
function pairTokenizer() {
  return {
    bosId: 1 as number | null,
    encode(text: string, o?: { bos?: boolean }) {
      const ids: number[] = o?.bos ? [1] : [];
      for (let i = 0; i < text.length; ) {
        if (i + 1 < text.length && text[i] === 'a' && text[i + 1] === 'b') {
          ids.push(1000);
          i += 2;
        } else ids.push(text.charCodeAt(i++));
      }
      return ids;
    },
  };
}

/** Whole-prompt truncation, the reference the bounded version must match. */
function naiveFit(tok: { encode: (t: string, o?: { bos?: boolean }) => number[] }, prompt: string, room: number): number[] {
  const ids = tok.encode(prompt, { bos: true });
  if (ids.length <= room) return ids;
  return [ids[0], ...ids.slice(1).slice(ids.length - 1 - (room - 1))];
}

describe('fitPromptTail: the tail only, same ids as whole-prompt truncation', () => {
  it('matches the naive rule for any prompt and room (char and pair tokenizers)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', 'c', ' '), maxLength: 2000 }), fc.integer({ min: 2, max: 300 }), (prompt, room) => {
        for (const tok of [charTokenizer(), pairTokenizer()]) {
          expect(fitPromptTail(tok, prompt, room, true).ids).toEqual(naiveFit(tok, prompt, room));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('encodes O(room) characters of a huge prompt, not all of it', () => {
    const tok = charTokenizer();
    const prompt = 'x'.repeat(2_000_000);
    const fit = fitPromptTail(tok, prompt, 256, true);
    expect(fit.ids).toHaveLength(256);
    expect(fit.truncated).toBe(true);
    expect(tok.longestEncoded).toBeLessThanOrEqual(4 * (255 + CUT_MARGIN_TOKENS));
    const t2 = charTokenizer();
    expect(countTokensUpTo(t2, prompt, 500, true)).toBeNull();
    expect(t2.longestEncoded).toBeLessThanOrEqual(4 * (500 + CUT_MARGIN_TOKENS));
    expect(countTokensUpTo(charTokenizer(), 'abc', 500, true)).toBe(4);
  });
});

function fakePolicy(tok: ReturnType<typeof charTokenizer>, opts: { delayMs?: number; maxSeqLen?: number } = {}) {
  let release: (() => void) | null = null;
  const policy: ServablePolicy & { hold: () => void; release: () => void } = {
    config: { maxSeqLen: opts.maxSeqLen ?? 64 },
    tokenizer: tok,
    hold: () => {
      release = null;
    },
    release: () => release?.(),
    async generate(ids: readonly (readonly number[])[], o: SampleOptions): Promise<Completion[]> {
      await new Promise<void>((r) => {
        release = r;
        setTimeout(r, opts.delayMs ?? 5);
      });
      return ids.map((p, promptIndex) => ({ promptIndex, prompt: '', promptTokenIds: [...p], text: 'ok', tokenIds: [111, 107], tokenLogprobs: [-1, -1], finishReason: o.maxNewTokens > 2 ? 'stop' : 'length' }));
    },
  };
  return policy;
}

const running: RunningServer[] = [];
afterEach(async () => {
  for (const s of running.splice(0)) await s.close(1000);
});
async function serve(policy: ServablePolicy, extra: Partial<ServerOptions> = {}) {
  const s = await startServer({ policy, modelId: 'fake', ...extra });
  running.push(s);
  return s;
}

describe('falign serve limits', () => {
  it('a 2 MB prompt is truncated from its tail without tokenizing it whole; 400 when truncation is off', async () => {
    const tok = charTokenizer();
    const s = await serve(fakePolicy(tok), { maxBodyBytes: 4 << 20 });
    const big = 'y'.repeat(2_000_000);
    const r = await fetch(`${s.url}/completions`, { method: 'POST', body: JSON.stringify({ prompt: big, max_tokens: 8 }) });
    expect(r.status).toBe(200);
    expect(tok.longestEncoded).toBeLessThan(1000);
    const tok2 = charTokenizer();
    const strict = await serve(fakePolicy(tok2), { maxBodyBytes: 4 << 20, truncatePrompt: false });
    const r2 = await fetch(`${strict.url}/completions`, { method: 'POST', body: JSON.stringify({ prompt: big, max_tokens: 8 }) });
    expect(r2.status).toBe(400);
    expect(((await r2.json()) as any).error).toMatchObject({ code: 'context_length_exceeded', message: expect.stringMatching(/more than 56 tokens in the prompt/) });
    expect(tok2.longestEncoded).toBeLessThan(1000);
  });

  it('413 with a reason from the declared length, before the body is read', async () => {
    const s = await serve(fakePolicy(charTokenizer()), { maxBodyBytes: 1000 });
    const r = await fetch(`${s.url}/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'z'.repeat(5000) }) });
    expect(r.status).toBe(413);
    expect(((await r.json()) as any).error).toMatchObject({ code: 'body_too_large', message: expect.stringMatching(/exceeds the limit of 1000 bytes/) });
  });

  it('/health answers while a generation is still running; 503 with Retry-After past maxPending', async () => {
    const policy = fakePolicy(charTokenizer(), { delayMs: 60_000 });
    const s = await serve(policy, { maxPending: 1 });
    let genDone = false;
    const gen = fetch(`${s.url}/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'hi', max_tokens: 4 }) }).then((r) => {
      genDone = true;
      return r.status;
    });
    // wait until the request is admitted (the batcher holds it)
    while ((await (await fetch(`${s.url.replace(/\/v1$/, '')}/health`)).json() as any).requests === 0) await new Promise((r) => setTimeout(r, 5));
    const health = await fetch(`${s.url.replace(/\/v1$/, '')}/health`);
    expect(health.status).toBe(200);
    expect(genDone).toBe(false);
    const busy = await fetch(`${s.url}/completions`, { method: 'POST', body: JSON.stringify({ prompt: 'again' }) });
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('1');
    expect(((await busy.json()) as any).error.code).toBe('server_busy');
    policy.release();
    expect(await gen).toBe(200);
  });

  it('a client that disconnects mid-body is logged as 499, never 500', async () => {
    const log: string[] = [];
    const s = await serve(fakePolicy(charTokenizer()), { log: (l) => log.push(l) });
    await new Promise<void>((done) => {
      const req = request(`${s.url}/completions`, { method: 'POST', headers: { 'content-length': '1000', 'content-type': 'application/json' } });
      req.on('error', () => done());
      req.write('{"prompt": "half a bo');
      setTimeout(() => {
        req.destroy();
        done();
      }, 50);
    });
    for (let i = 0; i < 100 && log.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(/^POST \/v1\/completions 499 \(client closed the connection\)/);
  });
});

describe('MicroBatcher token budget', () => {
  it('long prompts batch only as far as rows × (longest prompt + max new tokens) fits; short ones fill maxBatch', async () => {
    const calls: number[] = [];
    const tok = charTokenizer();
    const policy: ServablePolicy = {
      config: { maxSeqLen: 512 },
      tokenizer: tok,
      async generate(ids, o) {
        calls.push(ids.length);
        return ids.map((p, promptIndex) => ({ promptIndex, prompt: '', promptTokenIds: [...p], text: '', tokenIds: [], tokenLogprobs: [], finishReason: o.maxNewTokens > 0 ? 'stop' : 'length' }));
      },
    };
    const b = new MicroBatcher(policy, { maxBatch: 8, maxBatchTokens: 256, windowMs: 0 });
    const settings = { maxNewTokens: 28, temperature: 0, topP: 1, topK: 0, stopStrings: [] };
    const long = Array.from({ length: 100 }, (_, i) => i + 2);
    // queued together, so that the batcher sees all of them when it takes the first batch
    await Promise.all([...Array.from({ length: 4 }, () => b.submit([long], 1, settings)), ...Array.from({ length: 8 }, () => b.submit([[5, 6]], 1, settings))]);
    // 2 × (100 + 28) = 256 fits, 3 × 128 does not: the long prompts go in pairs; the 8 short
    // ones (8 × (2 + 28) = 240) fill one batch of maxBatch.
    expect(calls).toEqual([2, 2, 8]);
  });
});
