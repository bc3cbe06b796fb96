/**
 * An OpenAI-compatible HTTP server for in-process models, on node:http alone (four routes do not
 * justify a framework dependency): `GET /v1/models`, `GET /v1/models/{id}`,
 * `POST /v1/completions`, `POST /v1/chat/completions`, plus `GET /health`. Concurrent requests
 * are merged by a {@link MicroBatcher} into batched `policy.generate` calls. Errors use OpenAI's
 * error JSON with 400 (bad body), 404 (unknown route or model), 405 (wrong method), 413 (body too
 * large), 503 (too many requests waiting, or shutting down) and 500 (model failure).
 *
 * Memory is bounded per request: the body is capped (`maxBodyBytes`), and a long prompt is never
 * tokenized whole — only the tail that survives truncation is (see prompt-fit.ts), or, with
 * truncation off, only enough of it to know that it does not fit (400). A client that goes away
 * before its body is read is logged as 499 (nginx's "client closed request"), not as a 500.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Completion } from '@falign/core';
import { MicroBatcher, type BatchSettings, type BatcherStats, type ServablePolicy } from './batcher.js';
import { defaultChatTemplate, type ChatTemplate } from './chat-template.js';
import { ApiError, fromZodError } from './errors.js';
import { chatRequestSchema, completionsRequestSchema, type ChatRequestMessage } from './schemas.js';
import { countTokensUpTo, fitPromptTail } from './prompt-fit.js';

/** Options of {@link startServer}. */
export interface ServerOptions {
  policy: ServablePolicy;
  /** The id clients pass as `model` and `GET /v1/models` lists. */
  modelId: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Most rows (prompts × n) per generate call; default 32. */
  maxBatch?: number;
  /** Most padded tokens per generate call (rows × (longest prompt + max_tokens)); default 1024. */
  maxBatchTokens?: number;
  /** Shortest micro-batching wait in ms; default 5. */
  batchWindowMs?: number;
  /** Longest micro-batching wait in ms (adaptive: 10% of the last batch); default 50. */
  batchMaxWindowMs?: number;
  /** Chat template; default {@link defaultChatTemplate}. */
  chatTemplate?: ChatTemplate;
  /**
   * Long prompts: true (default) drops their oldest tokens like the in-process EvalModel does
   * (room is left for min(max_tokens, maxSeqLen/2) new tokens); false answers 400 like OpenAI
   * when prompt + max_tokens exceed the context.
   */
  truncatePrompt?: boolean;
  /** Largest request body in bytes; default 1 MiB (413 above it). */
  maxBodyBytes?: number;
  /** Most generation requests admitted at once (running or queued); default 256 (503 above it). */
  maxPending?: number;
  /** Request log sink (one line per request); default none. */
  log?: (line: string) => void;
}

/** A started server. */
export interface RunningServer {
  /** Base URL of the API, e.g. `http://127.0.0.1:8000/v1`. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly modelId: string;
  readonly server: Server;
  /** Batching counters. */
  stats(): BatcherStats;
  /** Stops accepting connections, lets in-flight requests finish (up to `graceMs`, default 30 s), then closes. */
  close(graceMs?: number): Promise<void>;
}

const DEFAULT_COMPLETIONS_MAX_TOKENS = 16; // OpenAI's default for /v1/completions
const DEFAULT_CHAT_MAX_TOKENS = 256;

/** The client went away (closed the connection) before it got an answer: nothing to send. */
class ClientGone extends Error {
  constructor() {
    super('client closed the connection');
  }
}

/** HTTP status logged for {@link ClientGone} (nginx's convention; never sent). */
const CLIENT_CLOSED = 499;

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    // A declared length over the limit is refused before a byte of the body is buffered.
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      reject(new ApiError(413, `request body of ${declared} bytes exceeds the limit of ${limit} bytes`, 'invalid_request_error', null, 'body_too_large'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      chunks.length = 0;
      reject(e);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        fail(new ApiError(413, `request body exceeds the limit of ${limit} bytes`, 'invalid_request_error', null, 'body_too_large'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('aborted', () => fail(new ClientGone()));
    req.on('close', () => {
      if (!req.complete) fail(new ClientGone());
    });
    req.on('error', () => fail(new ClientGone()));
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...extraHeaders,
  });
  res.end(text);
}

function messageText(m: ChatRequestMessage): string {
  return typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('');
}

function usageOf(groups: Completion[][]): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  let prompt = 0;
  let completion = 0;
  for (const g of groups) {
    if (g.length > 0) prompt += g[0].promptTokenIds.length;
    for (const c of g) completion += c.tokenIds.length;
  }
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** Starts the server; resolves once it listens. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const { policy, modelId } = opts;
  const host = opts.host ?? '127.0.0.1';
  const template = opts.chatTemplate ?? defaultChatTemplate;
  const maxBody = opts.maxBodyBytes ?? 1024 * 1024;
  const maxPending = opts.maxPending ?? 256;
  let pending = 0;
  const batcher = new MicroBatcher(policy, { maxBatch: opts.maxBatch, maxBatchTokens: opts.maxBatchTokens, windowMs: opts.batchWindowMs, maxWindowMs: opts.batchMaxWindowMs });
  const created = Math.floor(Date.now() / 1000);
  const maxSeqLen = policy.config?.maxSeqLen;
  const addBos = policy.tokenizer.bosId !== null;
  const tokenText = new Map<number, string>();
  const truncate = opts.truncatePrompt ?? true;
  let truncatedPrompts = 0;
  let closing = false;

  const decodeToken = (id: number): string => {
    let t = tokenText.get(id);
    if (t === undefined) {
      t = policy.tokenizer.decode([id]);
      tokenText.set(id, t);
    }
    return t;
  };

  /**
   * Prompt ids that leave room for the completion, by the in-process EvalModel's rule (lm-eval's
   * too): when the prompt is longer than maxSeqLen − min(max_tokens, maxSeqLen/2), its oldest
   * tokens are dropped (BOS kept). With truncatePrompt off, a request that does not fit answers
   * 400 instead, as OpenAI does. A completion that reaches the context end stops with "length".
   */
  const fitPrompt = (prompt: string, maxTokens: number, param: string): number[] => {
    if (maxSeqLen === undefined) return policy.tokenizer.encode(prompt, { bos: addBos });
    if (!truncate) {
      const limit = maxSeqLen - maxTokens;
      const n = limit > 0 ? countTokensUpTo(policy.tokenizer, prompt, limit, addBos) : null;
      if (n !== null && n <= limit) return policy.tokenizer.encode(prompt, { bos: addBos });
      const asked = n === null ? `more than ${Math.max(limit, 0)} tokens in the prompt` : `${n + maxTokens} tokens (${n} in the prompt, ${maxTokens} in the completion)`;
      throw new ApiError(
        400,
        `This model's maximum context length is ${maxSeqLen} tokens. However, you requested ${asked}. Please reduce the prompt or max_tokens.`,
        'invalid_request_error',
        param,
        'context_length_exceeded',
      );
    }
    const room = maxSeqLen - Math.min(maxTokens, Math.floor(maxSeqLen / 2));
    const fit = fitPromptTail(policy.tokenizer, prompt, room, addBos);
    if (fit.truncated) truncatedPrompts++;
    return fit.ids;
  };

  const settingsOf = (b: {
    temperature?: number | null;
    top_p?: number | null;
    top_k?: number | null;
    stop?: string | string[] | null;
    seed?: number | null;
  }, maxTokens: number, extraStop: string[] = []): BatchSettings => {
    const stop = b.stop == null ? [] : typeof b.stop === 'string' ? [b.stop] : b.stop;
    const s: BatchSettings = {
      maxNewTokens: maxTokens,
      temperature: b.temperature ?? 1,
      topP: b.top_p ?? 1,
      topK: b.top_k ?? 0,
      stopStrings: [...stop, ...extraStop.filter((x) => !stop.includes(x))],
    };
    if (b.seed != null) s.seed = b.seed;
    return s;
  };

  const checkModel = (model: string | undefined): void => {
    if (model !== undefined && model !== modelId) {
      throw new ApiError(404, `The model '${model}' does not exist; this server serves '${modelId}'`, 'not_found_error', 'model', 'model_not_found');
    }
  };

  async function completions(raw: unknown): Promise<unknown> {
    const parsed = completionsRequestSchema.safeParse(raw);
    if (!parsed.success) throw fromZodError(parsed.error);
    const b = parsed.data;
    checkModel(b.model);
    const maxTokens = b.max_tokens ?? DEFAULT_COMPLETIONS_MAX_TOKENS;
    const texts = typeof b.prompt === 'string' ? [b.prompt] : b.prompt;
    const prompts = texts.map((p, i) => fitPrompt(p, maxTokens, typeof b.prompt === 'string' ? 'prompt' : `prompt.${i}`));
    const n = b.n ?? 1;
    const groups = await batcher.submit(prompts, n, settingsOf(b, maxTokens));
    const wantLogprobs = b.logprobs != null;
    const choices = groups.flatMap((g, p) =>
      g.map((c, k) => {
        let logprobs: unknown = null;
        if (wantLogprobs) {
          const tokens = c.tokenIds.map(decodeToken);
          const offsets: number[] = [];
          // offsets into prompt + completion text, as OpenAI reports them
          let at = policy.tokenizer.decode(prompts[p]).length;
          for (const t of tokens) {
            offsets.push(at);
            at += t.length;
          }
          logprobs = { tokens, token_logprobs: c.tokenLogprobs, top_logprobs: null, text_offset: offsets };
        }
        return { index: p * n + k, text: c.text, logprobs, finish_reason: c.finishReason };
      }),
    );
    return {
      id: `cmpl-${randomUUID()}`,
      object: 'text_completion',
      created: Math.floor(Date.now() / 1000),
      model: modelId,
      choices,
      usage: usageOf(groups),
    };
  }

  async function chat(raw: unknown): Promise<unknown> {
    const parsed = chatRequestSchema.safeParse(raw);
    if (!parsed.success) throw fromZodError(parsed.error);
    const b = parsed.data;
    checkModel(b.model);
    const messages = b.messages.map((m) => ({ role: m.role, content: messageText(m) }));
    let prompt: string;
    try {
      prompt = template.render(messages);
    } catch (e) {
      throw new ApiError(400, `chat template ${template.name} failed on these messages: ${(e as Error).message}`, 'invalid_request_error', 'messages');
    }
    let maxTokens = b.max_completion_tokens ?? b.max_tokens;
    if (maxTokens == null) {
      maxTokens = DEFAULT_CHAT_MAX_TOKENS;
      if (maxSeqLen !== undefined) {
        // Bounded count: a prompt longer than the context is truncated below anyway.
        const used = countTokensUpTo(policy.tokenizer, prompt, maxSeqLen, addBos) ?? maxSeqLen;
        maxTokens = Math.max(1, Math.min(maxTokens, maxSeqLen - used));
      }
    }
    const ids = fitPrompt(prompt, maxTokens, 'messages');
    const n = b.n ?? 1;
    const [group] = await batcher.submit([ids], n, settingsOf(b, maxTokens, template.stop));
    const choices = group.map((c, index) => ({
      index,
      // The generation prompt ends with "Assistant:"; the reply's leading space belongs to the template.
      message: { role: 'assistant', content: c.text.replace(/^\s+/, '') },
      logprobs: b.logprobs
        ? {
            content: c.tokenIds.map((id, t) => {
              const token = decodeToken(id);
              return { token, logprob: c.tokenLogprobs[t], bytes: [...Buffer.from(token, 'utf8')], top_logprobs: [] };
            }),
          }
        : null,
      finish_reason: c.finishReason,
    }));
    return {
      id: `chatcmpl-${randomUUID()}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: modelId,
      choices,
      usage: usageOf([group]),
    };
  }

  const modelCard = { id: modelId, object: 'model', created, owned_by: 'falign' };

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const allow = (methods: string): void => {
      if (!methods.split(', ').includes(method)) {
        res.setHeader('allow', methods);
        throw new ApiError(405, `method ${method} is not allowed on ${path}; use ${methods}`, 'invalid_request_error', null, 'method_not_allowed');
      }
    };
    if (path === '/health') {
      allow('GET');
      return sendJson(res, 200, { status: 'ok', model: modelId, truncated_prompts: truncatedPrompts, ...batcher.stats() });
    }
    if (path === '/v1/models') {
      allow('GET');
      return sendJson(res, 200, { object: 'list', data: [modelCard] });
    }
    if (path.startsWith('/v1/models/')) {
      allow('GET');
      const id = decodeURIComponent(path.slice('/v1/models/'.length));
      checkModel(id);
      return sendJson(res, 200, modelCard);
    }
    const handler = path === '/v1/completions' ? completions : path === '/v1/chat/completions' ? chat : null;
    if (!handler) throw new ApiError(404, `no route ${path}; try /v1/models, /v1/completions or /v1/chat/completions`, 'not_found_error', null, 'unknown_url');
    allow('POST');
    if (closing) throw new ApiError(503, 'server is shutting down', 'server_error');
    if (pending >= maxPending) {
      res.setHeader('retry-after', '1');
      throw new ApiError(503, `server busy: ${pending} requests are already waiting (limit ${maxPending}); retry later`, 'server_error', null, 'server_busy');
    }
    pending++;
    try {
      const text = await readBody(req, maxBody);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (e) {
        throw new ApiError(400, `request body is not valid JSON: ${(e as Error).message}`);
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'request body must be a JSON object');
      const answer = await handler(body);
      if (res.destroyed || req.socket?.destroyed) throw new ClientGone();
      sendJson(res, 200, answer);
    } finally {
      pending--;
    }
  }

  const server = createServer((req, res) => {
    const t0 = performance.now();
    let logged: number | null = null;
    route(req, res)
      .catch((err: unknown) => {
        if (err instanceof ClientGone) {
          logged = CLIENT_CLOSED;
          res.destroy();
          return;
        }
        const e =
          err instanceof ApiError
            ? err
            : new ApiError(500, `generation failed: ${(err as Error)?.message ?? String(err)}`, 'server_error');
        if (!res.headersSent) {
          // After an early 413 the rest of the body is not worth reading: close the connection.
          sendJson(res, e.status, e.toJSON(), e.status === 413 ? { connection: 'close' } : {});
        } else res.end();
      })
      .finally(() => {
        const status = logged ?? res.statusCode;
        opts.log?.(`${req.method} ${req.url} ${status}${status === CLIENT_CLOSED ? ' (client closed the connection)' : ''} ${(performance.now() - t0).toFixed(1)}ms`);
      });
  });
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}/v1`,
    host,
    port,
    modelId,
    server,
    stats: () => batcher.stats(),
    async close(graceMs = 30_000): Promise<void> {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([batcher.drain(), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      server.closeIdleConnections();
      // Responses of the drained batch may still be on the wire; give them a moment.
      const hard = setTimeout(() => server.closeAllConnections(), 1_000);
      await closed;
      clearTimeout(hard);
    },
  };
}
