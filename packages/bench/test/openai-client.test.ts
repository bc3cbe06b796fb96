import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  backoffDelay,
  createOpenAIModel,
  parseOpenAISpec,
  parseRetryAfter,
  type RetryInfo,
} from '../src/models/openai.js';

type Handler = (req: IncomingMessage, body: any, res: ServerResponse, hit: number) => void;

/** A scripted fake endpoint: records request bodies and headers, answers via `handler`. */
async function fakeServer(handler: Handler) {
  const bodies: any[] = [];
  const headers: IncomingMessage['headers'][] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString()) : undefined;
      bodies.push(body);
      headers.push(req.headers);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      res.on('finish', () => inFlight--);
      res.on('close', () => {
        if (!res.writableFinished) inFlight--;
      });
      handler(req, body, res, bodies.length);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  servers.push(server);
  return { url: `http://127.0.0.1:${port}/v1`, bodies, headers, maxInFlight: () => maxInFlight };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(() => r(undefined)));
  }
});

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

const okCompletion = (texts: string[]) => ({
  object: 'text_completion',
  // deliberately out of order: the client must sort by index
  choices: texts.map((text, index) => ({ index, text, finish_reason: index === 0 ? 'length' : 'stop' })).reverse(),
  usage: { prompt_tokens: 7, completion_tokens: 9, total_tokens: 16 },
});

describe('parseOpenAISpec', () => {
  it('splits URL and model, strips trailing slash', () => {
    expect(parseOpenAISpec('openai:http://127.0.0.1:8000/v1/#stories260K')).toEqual({
      baseUrl: 'http://127.0.0.1:8000/v1',
      model: 'stories260K',
    });
  });
  it('reads ?api= from the URL or after the model', () => {
    expect(parseOpenAISpec('openai:http://h:1/v1?api=chat#m')).toEqual({ baseUrl: 'http://h:1/v1', model: 'm', api: 'chat' });
    expect(parseOpenAISpec('openai:https://h/v1#org/model-7b?api=completions')).toEqual({
      baseUrl: 'https://h/v1',
      model: 'org/model-7b',
      api: 'completions',
    });
  });
  it('rejects malformed specs with a message naming the problem', () => {
    expect(() => parseOpenAISpec('openai:http://h/v1')).toThrow(/missing '#MODEL'/);
    expect(() => parseOpenAISpec('openai:not a url#m')).toThrow(/not a valid URL/);
    expect(() => parseOpenAISpec('openai:ftp://h/v1#m')).toThrow(/http/);
    expect(() => parseOpenAISpec('openai:http://h/v1#m?api=stream')).toThrow(/api must be/);
    expect(() => parseOpenAISpec('llama2c:x.bin')).toThrow(/expected 'openai:URL#MODEL'/);
  });
});

describe('backoff helpers', () => {
  it('backoffDelay doubles, caps and jitters within [base/2, base]', () => {
    expect(backoffDelay(0, 100, 10_000, () => 0)).toBe(50);
    expect(backoffDelay(0, 100, 10_000, () => 1)).toBe(100);
    expect(backoffDelay(3, 100, 10_000, () => 0.5)).toBe(600); // base 800 → 400 + 200
    expect(backoffDelay(20, 100, 1_000, () => 1)).toBe(1_000);
  });
  it('parseRetryAfter reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(null)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:03 GMT', now)).toBe(3000);
  });
});

describe('createOpenAIModel against a fake endpoint', () => {
  it('sends an OpenAI completions body and maps choices in index order', async () => {
    const srv = await fakeServer((_req, _b, res) => json(res, 200, okCompletion(['first', 'second'])));
    const model = createOpenAIModel(`openai:${srv.url}#tiny`, { apiKey: 'sk-secret' });
    const [results] = await model.generate([
      { prompt: 'Q: 1+1?', maxTokens: 12, temperature: 0.7, topP: 0.9, topK: 5, stop: ['\n\n'], seed: 3, n: 2 },
    ]);
    expect(srv.bodies[0]).toEqual({
      model: 'tiny',
      prompt: 'Q: 1+1?',
      max_tokens: 12,
      temperature: 0.7,
      top_p: 0.9,
      top_k: 5,
      stop: ['\n\n'],
      seed: 3,
      n: 2,
    });
    expect(srv.headers[0].authorization).toBe('Bearer sk-secret');
    expect(results.map((r) => [r.text, r.finishReason])).toEqual([
      ['first', 'length'],
      ['second', 'stop'],
    ]);
    expect(results[0].promptTokens).toBe(7);
    expect(model.stats()).toMatchObject({ requests: 1, retries: 0, promptTokens: 7, completionTokens: 9 });
    expect(model.info()).toMatchObject({ endpoint: srv.url, model: 'tiny', api: 'completions' });
  });

  it('asks for and returns token log-probs (completions and chat)', async () => {
    const srv = await fakeServer((req, _b, res) => {
      if (req.url?.endsWith('/chat/completions')) {
        json(res, 200, {
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: 'Hi' },
              finish_reason: 'stop',
              logprobs: { content: [{ token: 'H', logprob: -0.25 }, { token: 'i', logprob: -1.5 }] },
            },
          ],
        });
      } else {
        json(res, 200, {
          choices: [{ index: 0, text: 'ab', finish_reason: 'stop', logprobs: { tokens: ['a', 'b'], token_logprobs: [-0.5, -2] } }],
          usage: { prompt_tokens: 3, completion_tokens: 2 },
        });
      }
    });
    const comp = createOpenAIModel(`openai:${srv.url}#m`);
    const [[c]] = await comp.generate([{ prompt: 'x', maxTokens: 4, temperature: 0, logprobs: true }]);
    expect(srv.bodies[0].logprobs).toBe(1);
    expect(c).toEqual({ text: 'ab', finishReason: 'stop', tokenLogprobs: [-0.5, -2], completionTokens: 2, promptTokens: 3 });

    const chat = createOpenAIModel(`openai:${srv.url}?api=chat#m`);
    const [[h]] = await chat.generate([
      { prompt: 'ignored', messages: [{ role: 'user', content: 'hello' }], maxTokens: 4, temperature: 0, logprobs: true },
    ]);
    expect(srv.bodies[1]).toMatchObject({ messages: [{ role: 'user', content: 'hello' }], logprobs: true });
    expect(srv.bodies[1].prompt).toBeUndefined();
    expect(h.text).toBe('Hi');
    expect(h.tokenLogprobs).toEqual([-0.25, -1.5]);
    // chat without messages falls back to one user turn holding the prompt
    await chat.generate([{ prompt: 'plain', maxTokens: 2, temperature: 0 }]);
    expect(srv.bodies[2].messages).toEqual([{ role: 'user', content: 'plain' }]);
  });

  it('retries 429 honouring Retry-After, then 503 with backoff, and succeeds', async () => {
    const srv = await fakeServer((_req, _b, res, hit) => {
      if (hit === 1) return json(res, 429, { error: { message: 'rate limited' } }, { 'retry-after': '0.05' });
      if (hit === 2) return json(res, 503, { error: { message: 'overloaded' } });
      json(res, 200, okCompletion(['done']));
    });
    const retries: RetryInfo[] = [];
    const model = createOpenAIModel(`openai:${srv.url}#m`, { initialBackoffMs: 20, maxRetries: 3, onRetry: (r) => retries.push(r) });
    const t0 = Date.now();
    const [[r]] = await model.generate([{ prompt: 'p', maxTokens: 1, temperature: 0 }]);
    expect(r.text).toBe('done');
    expect(srv.bodies).toHaveLength(3);
    expect(retries.map((x) => x.status)).toEqual([429, 503]);
    expect(retries[0].delayMs).toBe(50); // Retry-After: 0.05 s
    // second retry: base 20·2 = 40 ms with equal jitter → [20, 40]
    expect(retries[1].delayMs).toBeGreaterThanOrEqual(20);
    expect(retries[1].delayMs).toBeLessThanOrEqual(40);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(55);
    expect(model.stats()).toMatchObject({ requests: 3, retries: 2 });
  });

  it('gives up after maxRetries on persistent 5xx with the last status in the message', async () => {
    const srv = await fakeServer((_req, _b, res) => json(res, 500, { error: { message: 'kaboom' } }));
    const model = createOpenAIModel(`openai:${srv.url}#m`, { initialBackoffMs: 1, maxRetries: 2 });
    await expect(model.generate([{ prompt: 'p', maxTokens: 1, temperature: 0 }])).rejects.toThrow(
      /500 Internal Server Error: kaboom \(gave up after 3 attempts\)/,
    );
    expect(srv.bodies).toHaveLength(3);
  });

  it('does not retry a 400 and names status, URL and the server message', async () => {
    const srv = await fakeServer((_req, _b, res) =>
      json(res, 400, { error: { message: "max_tokens: must be >= 1", type: 'invalid_request_error' } }),
    );
    const model = createOpenAIModel(`openai:${srv.url}#m`, { apiKey: 'sk-do-not-leak', initialBackoffMs: 1 });
    const err = (await model.generate([{ prompt: 'p', maxTokens: 0, temperature: 0 }]).then(
      () => new Error('expected a rejection'),
      (e: Error) => e,
    )) as Error;
    expect(err.name).toBe('OpenAIRequestError');
    expect(err.message).toContain(`POST ${srv.url}/completions → 400`);
    expect(err.message).toContain('max_tokens: must be >= 1');
    expect(err.message).not.toContain('sk-do-not-leak');
    expect(srv.bodies).toHaveLength(1);
  });

  it('times out a request that gets no answer', async () => {
    const srv = await fakeServer(() => {
      /* never answers */
    });
    const model = createOpenAIModel(`openai:${srv.url}#m`, { timeoutMs: 150, maxRetries: 1, initialBackoffMs: 1 });
    const t0 = Date.now();
    await expect(model.generate([{ prompt: 'p', maxTokens: 1, temperature: 0 }])).rejects.toThrow(
      /no answer within 150 ms \(timeout\) \(gave up after 2 attempts\)/,
    );
    expect(srv.bodies).toHaveLength(2); // a timeout is retried like a network error
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it('fails clearly on an unreachable endpoint, naming the URL', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r)); // the port is now closed
    const model = createOpenAIModel(`openai:http://127.0.0.1:${port}/v1#m`, { maxRetries: 1, initialBackoffMs: 1 });
    await expect(model.generate([{ prompt: 'p', maxTokens: 1, temperature: 0 }])).rejects.toThrow(
      new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}/v1/completions: .*ECONNREFUSED.*gave up after 2 attempts`),
    );
  });

  it('an unreachable server fails fast by default: two quick retries, then an error naming the URL', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const retries: RetryInfo[] = [];
    // Default retry settings (5 retries, 500 ms backoff) would wait seconds; refused connections get 2 quick ones.
    const model = createOpenAIModel(`openai:http://127.0.0.1:${port}/v1#m`, { onRetry: (r) => retries.push(r) });
    await expect(model.generate([{ prompt: 'p', maxTokens: 1, temperature: 0 }])).rejects.toThrow(
      new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}/v1/completions: .*ECONNREFUSED.*gave up after 3 attempts; is the server running and the URL right\\?`),
    );
    expect(retries.map((r) => [r.attempt, r.delayMs])).toEqual([[1, 150], [2, 300]]);
    expect(model.stats()).toMatchObject({ requests: 3, retries: 2 });
    // maxRetries 0 means no retry at all, whatever the failure.
    const once = createOpenAIModel(`openai:http://127.0.0.1:${port}/v1#m`, { maxRetries: 0 });
    await expect(once.generate([{ prompt: 'p', maxTokens: 1, temperature: 0 }])).rejects.toThrow(/gave up after 1 attempt;/);
    expect(() => createOpenAIModel(`openai:http://127.0.0.1:${port}/v1#m`, { maxRetries: -1 })).toThrow('maxRetries must be a non-negative integer, got -1');
  });

  it('rejects an answer with the wrong number of choices or shape', async () => {
    const srv = await fakeServer((_req, b, res) =>
      b.prompt === 'bad-shape' ? json(res, 200, { choices: [{ index: 0 }] }) : json(res, 200, okCompletion(['only one'])),
    );
    const model = createOpenAIModel(`openai:${srv.url}#m`);
    await expect(model.generate([{ prompt: 'p', maxTokens: 1, temperature: 0, n: 2 }])).rejects.toThrow(/asked for n=2 completions, got 1/);
    await expect(model.generate([{ prompt: 'bad-shape', maxTokens: 1, temperature: 0 }])).rejects.toThrow(
      /unexpected answer shape at 'choices.0.text'/,
    );
  });

  it('bounds the requests in flight by `concurrency` and keeps result order', async () => {
    const srv = await fakeServer((_req, b, res) => setTimeout(() => json(res, 200, okCompletion([`echo:${b.prompt}`])), 30));
    const model = createOpenAIModel(`openai:${srv.url}#m`, { concurrency: 3 });
    const reqs = Array.from({ length: 10 }, (_, i) => ({ prompt: `p${i}`, maxTokens: 1, temperature: 0 }));
    const out = await model.generate(reqs);
    expect(out.map((r) => r[0].text)).toEqual(reqs.map((r) => `echo:${r.prompt}`));
    expect(srv.maxInFlight()).toBe(3);
  });
});
