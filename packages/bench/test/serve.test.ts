import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Completion, SampleOptions } from '@falign/core';
import { startServer, type RunningServer, type ServerOptions } from '../src/server/app.js';
import { MicroBatcher, type ServablePolicy } from '../src/server/batcher.js';
import { chatTemplateFromFile, defaultChatTemplate, jinjaChatTemplate } from '../src/server/chat-template.js';
import { readChatTemplate } from '../src/harness/chat.js';
import { createOpenAIModel } from '../src/models/openai.js';

/**
 * A deterministic stand-in for a Policy: one character = one token (BOS = id 1), the completion
 * of a prompt is the prompt reversed (greedy) or "s<seed>" (sampled), cut at max tokens or a stop
 * string. It records every generate call so batching can be checked.
 */
function fakePolicy(opts: { delayMs?: number; maxSeqLen?: number; fail?: string } = {}) {
  const calls: { prompts: string[]; opts: SampleOptions }[] = [];
  const encode = (t: string, o?: { bos?: boolean }) => [...(o?.bos ? [1] : []), ...[...t].map((c) => c.charCodeAt(0))];
  const policy: ServablePolicy & { calls: typeof calls } = {
    calls,
    config: { maxSeqLen: opts.maxSeqLen ?? 200 },
    tokenizer: { bosId: 1, encode, decode: (ids) => String.fromCharCode(...ids.filter((i) => i !== 1)) },
    async generate(ids: readonly (readonly number[])[], o: SampleOptions): Promise<Completion[]> {
      const prompts = ids.map((p) => String.fromCharCode(...p.filter((i) => i !== 1)));
      calls.push({ prompts, opts: { ...o } });
      await new Promise((r) => setTimeout(r, opts.delayMs ?? 10));
      if (opts.fail) throw new Error(opts.fail);
      return prompts.map((prompt, promptIndex) => {
        let full = o.temperature === 0 ? [...prompt].reverse().join('') : `s${o.seed}`;
        let finishReason: 'stop' | 'length' = 'stop';
        if (full.length >= o.maxNewTokens) {
          full = full.slice(0, o.maxNewTokens);
          finishReason = 'length';
        }
        let text = full;
        for (const s of o.stopStrings ?? []) {
          const at = text.indexOf(s);
          if (at >= 0) {
            text = text.slice(0, at);
            finishReason = 'stop';
          }
        }
        const tokenIds = encode(text);
        return {
          promptIndex,
          prompt,
          promptTokenIds: [...ids[promptIndex]],
          text,
          tokenIds,
          tokenLogprobs: tokenIds.map((_, k) => -0.25 * (k + 1)),
          finishReason,
        };
      });
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

async function post(url: string, body: unknown) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, headers: res.headers, json: (await res.json()) as any };
}

describe('falign serve: routes and response shapes', () => {
  it('lists the model and answers 404 for another id', async () => {
    const s = await serve(fakePolicy());
    const list = (await (await fetch(`${s.url}/models`)).json()) as any;
    expect(list.object).toBe('list');
    expect(list.data.map((m: any) => m.id)).toEqual(['fake']);
    const one = await fetch(`${s.url}/models/fake`);
    expect(one.status).toBe(200);
    const other = await fetch(`${s.url}/models/gpt-4`);
    expect(other.status).toBe(404);
    expect(((await other.json()) as any).error.code).toBe('model_not_found');
  });

  it('completions: n, logprobs (tokens + token_logprobs), usage, choice order over a prompt array', async () => {
    const policy = fakePolicy();
    const s = await serve(policy);
    const r = await post(`${s.url}/completions`, { model: 'fake', prompt: ['abc', 'xy'], n: 2, max_tokens: 5, temperature: 0, logprobs: 0 });
    expect(r.status).toBe(200);
    expect(r.json.object).toBe('text_completion');
    expect(r.json.choices.map((c: any) => [c.index, c.text, c.finish_reason])).toEqual([
      [0, 'cba', 'stop'],
      [1, 'cba', 'stop'],
      [2, 'yx', 'stop'],
      [3, 'yx', 'stop'],
    ]);
    expect(r.json.choices[0].logprobs).toEqual({ tokens: ['c', 'b', 'a'], token_logprobs: [-0.25, -0.5, -0.75], top_logprobs: null, text_offset: [3, 4, 5] });
    // prompt tokens counted once per prompt (BOS + chars), completion tokens for every choice
    expect(r.json.usage).toEqual({ prompt_tokens: 4 + 3, completion_tokens: 3 + 3 + 2 + 2, total_tokens: 17 });
    // one generate call, n expanded into rows, greedy ⇒ seed normalised
    expect(policy.calls).toHaveLength(1);
    expect(policy.calls[0].prompts).toEqual(['abc', 'abc', 'xy', 'xy']);
    expect(policy.calls[0].opts).toMatchObject({ maxNewTokens: 5, temperature: 0, numSamples: 1, seed: 0 });
  });

  it('completions: max_tokens default 16, finish_reason length, stop strings, top_k passed through', async () => {
    const policy = fakePolicy();
    const s = await serve(policy);
    const long = 'abcdefghijklmnopqrstuvwxyz';
    const r = await post(`${s.url}/completions`, { prompt: long, temperature: 0 });
    expect(r.json.choices[0].text).toBe([...long].reverse().join('').slice(0, 16));
    expect(r.json.choices[0].finish_reason).toBe('length');
    expect(r.json.choices[0].logprobs).toBeNull();
    const stopped = await post(`${s.url}/completions`, { prompt: long, temperature: 0, stop: 'w', top_k: 7, top_p: 0.5 });
    expect(stopped.json.choices[0].text).toBe('zyx');
    expect(policy.calls[1].opts).toMatchObject({ stopStrings: ['w'], topK: 7, topP: 0.5 });
  });

  it('chat: default template, "\\nUser:" stop, trimmed content, logprobs.content', async () => {
    const policy = fakePolicy();
    const s = await serve(policy);
    const r = await post(`${s.url}/chat/completions`, {
      model: 'fake',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
      ],
      temperature: 0,
      max_tokens: 40,
      logprobs: true,
    });
    expect(r.status).toBe(200);
    const prompt = 'Be brief.\n\nUser: hi\nAssistant:';
    expect(policy.calls[0].prompts).toEqual([prompt]);
    expect(policy.calls[0].opts.stopStrings).toEqual(['\nUser:']);
    expect(r.json.object).toBe('chat.completion');
    const reply = [...prompt].reverse().join('');
    expect(r.json.choices[0].message).toEqual({ role: 'assistant', content: reply.trimStart() });
    expect(r.json.choices[0].logprobs.content).toHaveLength(reply.length);
    expect(r.json.choices[0].logprobs.content[0]).toEqual({ token: ':', logprob: -0.25, bytes: [58], top_logprobs: [] });
  });

  it('chat: max_tokens defaults to what the context leaves; a Jinja template replaces the default', async () => {
    const policy = fakePolicy({ maxSeqLen: 40 });
    const tpl = jinjaChatTemplate('{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}', 'tags');
    const s = await serve(policy, { chatTemplate: tpl });
    await post(`${s.url}/chat/completions`, { messages: [{ role: 'user', content: [{ type: 'text', text: 'yo' }] }], temperature: 0 });
    expect(policy.calls[0].prompts).toEqual(['<user>yo<assistant>']);
    expect(policy.calls[0].opts.maxNewTokens).toBe(40 - (1 + '<user>yo<assistant>'.length));
  });

  it('--chat-template files: a raw Jinja file and a tokenizer_config.json load through the loader eval uses', () => {
    const dir = mkdtempSync(join(tmpdir(), 'falign-serve-tpl-'));
    try {
      const src = '{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}';
      const jinja = join(dir, 'chat.jinja');
      writeFileSync(jinja, src);
      const cfg = join(dir, 'tokenizer_config.json');
      writeFileSync(cfg, JSON.stringify({ chat_template: src, bos_token: '<s>', eos_token: { content: '</s>' } }));
      const msgs = [{ role: 'user', content: 'hi' }];
      expect(chatTemplateFromFile(jinja).render(msgs)).toBe('<user>hi<assistant>');
      expect(chatTemplateFromFile(cfg).render(msgs)).toBe('<s><user>hi</s><assistant>');
      // Byte-for-byte what `falign eval --chat-template` renders from the same files.
      for (const f of [jinja, cfg]) expect(chatTemplateFromFile(f).render(msgs)).toBe(readChatTemplate(f).render(msgs));
      expect(chatTemplateFromFile(cfg).name).toBe('tokenizer_config.json');
      writeFileSync(cfg, JSON.stringify({ chat_template: [{ name: 'tool_use', template: 'T' }, { name: 'default', template: 'D' }] }));
      expect(chatTemplateFromFile(cfg).render(msgs)).toBe('D');
      writeFileSync(cfg, JSON.stringify({ chat_template: 3 }));
      expect(() => chatTemplateFromFile(cfg)).toThrow(`${cfg}: field "chat_template" must be a string`);
      writeFileSync(jinja, '{% for %}');
      expect(() => chatTemplateFromFile(jinja)).toThrow(`${jinja}: invalid chat template`);
      expect(() => chatTemplateFromFile(join(dir, 'nope.jinja'))).toThrow(/chat template .*nope\.jinja: no such file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('default chat template renders multi-turn transcripts', () => {
    expect(
      defaultChatTemplate.render([
        { role: 'user', content: 'A' },
        { role: 'assistant', content: 'B' },
        { role: 'user', content: 'C' },
      ]),
    ).toBe('User: A\nAssistant: B\nUser: C\nAssistant:');
  });
});

describe('falign serve: errors in OpenAI shape', () => {
  it('400 for bad JSON and invalid fields (message names the field), 404 route/model, 405 method', async () => {
    const s = await serve(fakePolicy());
    const badJson = await post(`${s.url}/completions`, '{"prompt": ');
    expect(badJson.status).toBe(400);
    expect(badJson.json.error.message).toMatch(/not valid JSON/);
    expect(badJson.json.error.type).toBe('invalid_request_error');

    const badField = await post(`${s.url}/completions`, { prompt: 'a', max_tokens: -1 });
    expect(badField.status).toBe(400);
    expect(badField.json.error.message).toMatch(/^invalid request: max_tokens: /);
    expect(badField.json.error.param).toBe('max_tokens');

    const noMessages = await post(`${s.url}/chat/completions`, { messages: [{ role: 'robot', content: 'x' }] });
    expect(noMessages.status).toBe(400);
    expect(noMessages.json.error.param).toBe('messages.0.role');

    const stream = await post(`${s.url}/completions`, { prompt: 'a', stream: true });
    expect(stream.json.error.message).toMatch(/stream: streaming is not supported/);

    const notObject = await post(`${s.url}/completions`, '[1,2]');
    expect(notObject.json.error.message).toBe('request body must be a JSON object');

    const wrongModel = await post(`${s.url}/completions`, { model: 'gpt-4', prompt: 'a' });
    expect(wrongModel.status).toBe(404);
    expect(wrongModel.json.error.param).toBe('model');

    const route = await post(`${s.url}/embeddings`, { input: 'a' });
    expect(route.status).toBe(404);
    expect(route.json.error.type).toBe('not_found_error');

    const method = await fetch(`${s.url}/completions`);
    expect(method.status).toBe(405);
    expect(method.headers.get('allow')).toBe('POST');
    expect(((await method.json()) as any).error.message).toMatch(/GET is not allowed/);
  });

  it('500 when the model fails, 413 for an oversized body', async () => {
    const s = await serve(fakePolicy({ fail: 'tensor shape mismatch' }), { maxBodyBytes: 100 });
    const r = await post(`${s.url}/completions`, { prompt: 'a' });
    expect(r.status).toBe(500);
    expect(r.json.error).toMatchObject({ type: 'server_error', message: 'generation failed: tensor shape mismatch' });
    const big = await post(`${s.url}/completions`, { prompt: 'x'.repeat(500) });
    expect(big.status).toBe(413);
  });

  it('context overflow: the prompt tail by default (in-process rule), or 400 context_length_exceeded', async () => {
    const strict = await serve(fakePolicy({ maxSeqLen: 20 }), { truncatePrompt: false });
    const r = await post(`${strict.url}/completions`, { prompt: 'abcdefghijklmnop', max_tokens: 10 });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('context_length_exceeded');
    expect(r.json.error.message).toMatch(/maximum context length is 20 tokens\. However, you requested 27 tokens \(17 in the prompt, 10 in the completion\)/);

    const policy = fakePolicy({ maxSeqLen: 20 });
    const lenient = await serve(policy);
    const ok = await post(`${lenient.url}/completions`, { prompt: 'abcdefghijklmnop', max_tokens: 10, temperature: 0 });
    expect(ok.status).toBe(200);
    // room = 20 − min(10, 20/2) = 10 ids: BOS + the last 9 characters
    expect(policy.calls[0].prompts).toEqual(['hijklmnop']);
    // max_tokens beyond half the context leaves room for maxSeqLen/2 only: 20 − 10 = BOS + 9 again
    await post(`${lenient.url}/completions`, { prompt: 'abcdefghijklmnop', max_tokens: 15, temperature: 0 });
    expect(policy.calls[1].prompts).toEqual(['hijklmnop']);
    // a prompt that fits is passed untouched
    await post(`${lenient.url}/completions`, { prompt: 'abc', max_tokens: 15, temperature: 0 });
    expect(policy.calls[2].prompts).toEqual(['abc']);
    const health = (await (await fetch(`${lenient.url.replace(/\/v1$/, '')}/health`)).json()) as any;
    expect(health.truncated_prompts).toBe(2);
  });
});

describe('micro-batching', () => {
  it('merges concurrent compatible requests into one generate call, bounded by maxBatch', async () => {
    // generous window and run time so that a loaded CI machine still delivers all 8 in time
    const policy = fakePolicy({ delayMs: 150 });
    const s = await serve(policy, { maxBatch: 4, batchWindowMs: 100 });
    const prompts = Array.from({ length: 8 }, (_, i) => `p${i}`);
    const out = await Promise.all(prompts.map((p) => post(`${s.url}/completions`, { prompt: p, temperature: 0, max_tokens: 4 })));
    expect(out.map((r) => r.json.choices[0].text)).toEqual(prompts.map((p) => [...p].reverse().join('')));
    expect(policy.calls.map((c) => c.prompts.length)).toEqual([4, 4]);
    expect(s.stats()).toMatchObject({ batches: 2, rows: 8, requests: 8, maxRowsInBatch: 4 });
  });

  it('keeps incompatible settings apart and runs seeded sampled requests alone', async () => {
    const policy = fakePolicy({ delayMs: 5 });
    const b = new MicroBatcher(policy, { windowMs: 20, randomSeed: () => 99 });
    const base = { temperature: 0, topP: 1, topK: 0, stopStrings: [] as string[] };
    const sampled = { ...base, temperature: 1, maxNewTokens: 8 };
    const ids = (s: string) => [[...s].map((c) => c.charCodeAt(0))];
    const res = await Promise.all([
      b.submit(ids('a'), 1, { ...base, maxNewTokens: 4, seed: 5 }), // greedy: seed ignored
      b.submit(ids('b'), 1, { ...base, maxNewTokens: 4, seed: 6 }),
      b.submit(ids('c'), 1, { ...base, maxNewTokens: 8 }),
      b.submit(ids('d'), 2, { ...sampled, seed: 7 }),
      b.submit(ids('e'), 1, { ...sampled, seed: 7 }),
      b.submit(ids('f'), 1, sampled),
      b.submit(ids('g'), 1, sampled),
    ]);
    const shape = policy.calls.map((c) => [c.prompts.join(''), c.opts.maxNewTokens, c.opts.seed]);
    expect(shape).toEqual([
      ['ab', 4, 0],
      ['c', 8, 0],
      ['dd', 8, 7],
      ['e', 8, 7],
      ['fg', 8, 99],
    ]);
    // seeded sampled requests get the same answer as if alone
    expect(res[3][0].map((c) => c.text)).toEqual(['s7', 's7']);
    expect(res[4][0][0].text).toBe('s7');
  });

  it('closed-loop clients that started apart merge into full batches instead of alternating', async () => {
    // Cohort A (4 clients) starts at once; cohort B (4 clients) arrives while A's first batch
    // runs. Each client sends its next request 8 ms (a round trip) after its answer, longer than
    // the 5 ms base window: a fixed window would alternate A/B half-batches, [4, 4, 4, 4, 4, 4].
    // The batcher expects A back (8 rows were in play) and waits up to 10% of the 200 ms batch.
    const policy = fakePolicy({ delayMs: 200 });
    const b = new MicroBatcher(policy, { maxBatch: 16, windowMs: 5 });
    const s = { temperature: 0, topP: 1, topK: 0, stopStrings: [] as string[], maxNewTokens: 2 };
    const client = async (id: number, startMs: number) => {
      await new Promise((r) => setTimeout(r, startMs));
      for (let k = 0; k < 3; k++) {
        await b.submit([[65 + id]], 1, s);
        await new Promise((r) => setTimeout(r, 8));
      }
    };
    await Promise.all([0, 1, 2, 3].map((i) => client(i, 0)).concat([4, 5, 6, 7].map((i) => client(i, 80))));
    expect(policy.calls.map((c) => c.prompts.length)).toEqual([4, 8, 8, 4]);
  });

  it('rejects every request of a failed batch and keeps serving', async () => {
    let fail = true;
    const inner = fakePolicy();
    const policy: ServablePolicy = {
      ...inner,
      generate: (p, o) => (fail ? Promise.reject(new Error('boom')) : inner.generate(p, o)),
    };
    const b = new MicroBatcher(policy, { windowMs: 5 });
    const s = { temperature: 0, topP: 1, topK: 0, stopStrings: [], maxNewTokens: 3 };
    const r = await Promise.allSettled([b.submit([[97]], 1, s), b.submit([[98]], 1, s)]);
    expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    const [[c]] = await b.submit([[120, 121, 122]], 1, s);
    expect(c.text).toBe('zyx');
  });
});

describe('shutdown and the OpenAI client against this server', () => {
  it('close() lets an in-flight request finish, then refuses connections', async () => {
    const s = await startServer({ policy: fakePolicy({ delayMs: 150 }), modelId: 'fake' });
    const inflight = post(`${s.url}/completions`, { prompt: 'slow', temperature: 0 });
    await new Promise((r) => setTimeout(r, 40));
    await s.close(5000);
    const r = await inflight;
    expect(r.status).toBe(200);
    expect(r.json.choices[0].text).toBe('wols');
    await expect(fetch(`${s.url}/models`)).rejects.toThrow();
  });

  it('createOpenAIModel round-trips through both APIs', async () => {
    const s = await serve(fakePolicy());
    const comp = createOpenAIModel(`openai:${s.url}#fake`, { concurrency: 4 });
    const out = await comp.generate([
      { prompt: 'hello', maxTokens: 3, temperature: 0, logprobs: true },
      { prompt: 'ab', maxTokens: 10, temperature: 0.8, seed: 3, n: 2 },
    ]);
    expect(out[0]).toEqual([{ text: 'oll', finishReason: 'length', tokenLogprobs: [-0.25, -0.5, -0.75], completionTokens: 3, promptTokens: 6 }]);
    expect(out[1].map((r) => r.text)).toEqual(['s3', 's3']);
    const chat = createOpenAIModel(`openai:${s.url}#fake`, { api: 'chat' });
    const [[c]] = await chat.generate([{ prompt: 'unused', messages: [{ role: 'user', content: 'ok' }], maxTokens: 50, temperature: 0 }]);
    expect(c.text).toBe(':tnatsissA\nko :resU'); // "User: ok\nAssistant:" reversed
  });
});
