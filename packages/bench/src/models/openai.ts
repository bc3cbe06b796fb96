/**
 * An EvalModel backed by any OpenAI-compatible HTTP endpoint (OpenAI, vLLM, llama.cpp server,
 * `falign serve`). One HTTP request per GenerationRequest (its `n` completions in one call), a
 * shared concurrency bound, a per-request timeout, and retries with exponential backoff + jitter
 * on 429 / 5xx / network failures (Retry-After honoured). Other 4xx answers fail at once with the
 * status, URL and the server's own message, because retrying a bad request cannot help.
 */
import pLimit from 'p-limit';
import { z } from 'zod';
import type { EvalModel, GenerationRequest, GenerationResult } from './types.js';

/** Which OpenAI API the client speaks. */
export type OpenAIApi = 'completions' | 'chat';

/** Options of {@link createOpenAIModel}. */
export interface OpenAIModelOptions {
  /** Overrides `?api=` of the spec; default 'completions'. */
  api?: OpenAIApi;
  /** Most requests in flight at once, over all `generate` calls of this model; default 8. */
  concurrency?: number;
  /** Per-HTTP-request timeout in ms; default 120000. */
  timeoutMs?: number;
  /** Retries after the first attempt on retryable failures; default 5. */
  maxRetries?: number;
  /**
   * Retries when the server cannot be reached at all (connection refused, unknown host, no
   * route): default 2, quick ones, never more than `maxRetries`, so that a wrong URL or a server
   * that is not running fails within a second instead of after the whole backoff schedule.
   */
  connectRetries?: number;
  /** First delay before a connection retry in ms (doubled per retry); default 150. */
  connectBackoffMs?: number;
  /** First backoff delay in ms (doubled per retry, with jitter); default 500. */
  initialBackoffMs?: number;
  /** Cap of one backoff delay in ms; default 30000. */
  maxBackoffMs?: number;
  /** Cap on a server's Retry-After in ms; default 120000. */
  maxRetryAfterMs?: number;
  /** API key; default env OPENAI_API_KEY, then FALIGN_API_KEY. Sent as a Bearer token, never logged. */
  apiKey?: string;
  /** Called before each retry (logging, tests). */
  onRetry?: (info: RetryInfo) => void;
  /** Replaces the global fetch (tests). */
  fetch?: typeof fetch;
}

/** What {@link OpenAIModelOptions.onRetry} receives. */
export interface RetryInfo {
  url: string;
  /** 1-based number of the attempt that failed. */
  attempt: number;
  /** HTTP status, or undefined for network errors and timeouts. */
  status?: number;
  reason: string;
  delayMs: number;
}

/** Parsed `openai:URL#MODEL` spec. */
export interface OpenAISpec {
  /** Base URL without trailing slash, e.g. `http://127.0.0.1:8000/v1`. */
  baseUrl: string;
  model: string;
  api?: OpenAIApi;
}

/** Counters of an OpenAI model's traffic (for benchmarks and logs). */
export interface OpenAIStats {
  requests: number;
  retries: number;
  promptTokens: number;
  completionTokens: number;
}

/** The EvalModel returned by {@link createOpenAIModel}, with its traffic counters. */
export interface OpenAIModel extends EvalModel {
  readonly kind: 'openai';
  readonly baseUrl: string;
  readonly api: OpenAIApi;
  stats(): OpenAIStats;
}

/** Error of an endpoint call; `status` is set for HTTP errors. */
export class OpenAIRequestError extends Error {
  constructor(
    message: string,
    readonly url: string,
    readonly status?: number,
    readonly retryable = false,
  ) {
    super(message);
    this.name = 'OpenAIRequestError';
  }
}

/**
 * Parses `openai:URL#MODEL`. The API may be chosen with `?api=chat|completions`, placed either
 * in the URL (`openai:http://h/v1?api=chat#m`) or after the model (`openai:http://h/v1#m?api=chat`).
 */
export function parseOpenAISpec(spec: string): OpenAISpec {
  if (!spec.startsWith('openai:')) throw new Error(`model spec '${spec}': expected 'openai:URL#MODEL'`);
  const rest = spec.slice('openai:'.length);
  const hash = rest.indexOf('#');
  if (hash < 0) throw new Error(`model spec '${spec}': missing '#MODEL' (expected 'openai:URL#MODEL')`);
  let urlPart = rest.slice(0, hash);
  let modelPart = rest.slice(hash + 1);
  let api: string | undefined;
  const takeApi = (query: string): void => {
    const params = new URLSearchParams(query);
    const a = params.get('api');
    if (a !== null) api = a;
  };
  const q = modelPart.indexOf('?');
  if (q >= 0) {
    takeApi(modelPart.slice(q + 1));
    modelPart = modelPart.slice(0, q);
  }
  let url: URL;
  try {
    url = new URL(urlPart);
  } catch {
    throw new Error(`model spec '${spec}': '${urlPart}' is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`model spec '${spec}': URL must be http:// or https://`);
  }
  if (url.searchParams.has('api')) {
    takeApi(url.search);
    url.searchParams.delete('api');
  }
  urlPart = url.toString().replace(/\/+$/, '');
  if (modelPart === '') throw new Error(`model spec '${spec}': empty model name after '#'`);
  if (api !== undefined && api !== 'chat' && api !== 'completions') {
    throw new Error(`model spec '${spec}': api must be 'chat' or 'completions', got '${api}'`);
  }
  return { baseUrl: urlPart, model: decodeURIComponent(modelPart), ...(api ? { api: api as OpenAIApi } : {}) };
}

const finishReason = z.string().nullable().optional();
const usageSchema = z
  .object({ prompt_tokens: z.number().optional(), completion_tokens: z.number().optional() })
  .partial()
  .nullable()
  .optional();

const completionsResponse = z.object({
  choices: z.array(
    z.object({
      index: z.number().int().optional(),
      text: z.string(),
      finish_reason: finishReason,
      logprobs: z
        .object({ token_logprobs: z.array(z.number().nullable()).optional(), tokens: z.array(z.string()).optional() })
        .nullable()
        .optional(),
    }),
  ),
  usage: usageSchema,
});

const chatResponse = z.object({
  choices: z.array(
    z.object({
      index: z.number().int().optional(),
      message: z.object({ content: z.string().nullable().optional() }),
      finish_reason: finishReason,
      logprobs: z
        .object({ content: z.array(z.object({ token: z.string().optional(), logprob: z.number() })).nullable().optional() })
        .nullable()
        .optional(),
    }),
  ),
  usage: usageSchema,
});

/** Milliseconds to wait according to a Retry-After header (seconds or HTTP date), or undefined. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const date = Date.parse(value);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * Backoff before retry number `retry` (0-based): exponential, capped, with "equal jitter" (half
 * fixed, half random) so that many clients hitting one limit do not retry in lockstep.
 */
export function backoffDelay(retry: number, initialMs: number, maxMs: number, random = Math.random): number {
  const base = Math.min(maxMs, initialMs * 2 ** retry);
  return base / 2 + (random() * base) / 2;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Socket errors meaning nothing listens at the URL (as opposed to a busy or flaky server). */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

/** The error code of a failed fetch: undici puts it on `cause` (or on each of `cause.errors`). */
function networkErrorCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: string; errors?: { code?: string }[] } }).cause;
  return cause?.code ?? cause?.errors?.find((e) => e.code)?.code;
}

function describeNetworkError(err: unknown): string {
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e.cause?.message ?? e.cause?.code;
  return cause ? `${e.message ?? 'network error'} (${cause})` : (e.message ?? String(err));
}

/** Extracts the server's message from an error body (OpenAI's `{error:{message}}` or plain text). */
function serverMessage(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: { message?: string } | string; message?: string; detail?: string };
    if (typeof j.error === 'string') return j.error;
    if (j.error?.message) return j.error.message;
    if (j.message) return j.message;
    if (j.detail) return typeof j.detail === 'string' ? j.detail : JSON.stringify(j.detail);
  } catch {
    // not JSON: fall through to the raw text
  }
  const text = body.trim();
  return text.length > 500 ? `${text.slice(0, 500)}…` : text || '(empty body)';
}

function mapFinish(reason: string | null | undefined): 'stop' | 'length' {
  return reason === 'length' ? 'length' : 'stop';
}

/**
 * Creates an EvalModel for `openai:URL#MODEL`. The endpoint is not contacted until the first
 * `generate`; an unreachable URL then fails with an error naming it (after the retries).
 */
export function createOpenAIModel(spec: string, opts: OpenAIModelOptions = {}): OpenAIModel {
  const parsed = parseOpenAISpec(spec);
  const api: OpenAIApi = opts.api ?? parsed.api ?? 'completions';
  const concurrency = opts.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency must be a positive integer, got ${concurrency}`);
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const maxRetries = opts.maxRetries ?? 5;
  const connectRetries = Math.min(maxRetries, opts.connectRetries ?? 2);
  const connectBackoffMs = opts.connectBackoffMs ?? 150;
  if (!Number.isInteger(maxRetries) || maxRetries < 0) throw new Error(`maxRetries must be a non-negative integer, got ${maxRetries}`);
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new Error(`timeoutMs must be a positive number, got ${timeoutMs}`);
  const initialBackoffMs = opts.initialBackoffMs ?? 500;
  const maxBackoffMs = opts.maxBackoffMs ?? 30_000;
  const maxRetryAfterMs = opts.maxRetryAfterMs ?? 120_000;
  const apiKey = opts.apiKey ?? process.env.OPENAI_API_KEY ?? process.env.FALIGN_API_KEY;
  const doFetch = opts.fetch ?? globalThis.fetch;
  const limit = pLimit(concurrency);
  const url = `${parsed.baseUrl}/${api === 'chat' ? 'chat/completions' : 'completions'}`;
  const stats: OpenAIStats = { requests: 0, retries: 0, promptTokens: 0, completionTokens: 0 };
  let closed = false;

  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;

  /** One attempt: resolves to the parsed JSON body, throws OpenAIRequestError. */
  async function attempt(body: string): Promise<unknown> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    let res: Response;
    try {
      res = await doFetch(url, { method: 'POST', headers, body, signal: controller.signal });
    } catch (err) {
      clearTimeout(timer);
      if (controller.signal.aborted) {
        throw new OpenAIRequestError(`POST ${url}: no answer within ${timeoutMs} ms (timeout)`, url, undefined, true);
      }
      const code = networkErrorCode(err);
      const e = new OpenAIRequestError(`cannot reach ${url}: ${describeNetworkError(err)}`, url, undefined, true);
      // No socket error code: fetch refused the request itself (e.g. a port browsers block), which
      // no retry fixes; treat it like a refused connection.
      if (code === undefined || UNREACHABLE_CODES.has(code)) (e as OpenAIRequestError & { unreachable?: boolean }).unreachable = true;
      throw e;
    }
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      const why = controller.signal.aborted ? `no complete answer within ${timeoutMs} ms (timeout)` : describeNetworkError(err);
      throw new OpenAIRequestError(`POST ${url}: ${why}`, url, undefined, true);
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok) {
      const retryable = res.status === 429 || res.status >= 500 || res.status === 408;
      const err = new OpenAIRequestError(
        `POST ${url} → ${res.status} ${res.statusText}: ${serverMessage(text)}`,
        url,
        res.status,
        retryable,
      );
      (err as OpenAIRequestError & { retryAfterMs?: number }).retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
      throw err;
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new OpenAIRequestError(`POST ${url}: answer is not JSON: ${text.slice(0, 200)}`, url, res.status);
    }
  }

  async function post(body: string): Promise<unknown> {
    for (let i = 0; ; i++) {
      stats.requests++;
      try {
        return await attempt(body);
      } catch (err) {
        const e = err as OpenAIRequestError & { retryAfterMs?: number; unreachable?: boolean };
        if (!(e instanceof OpenAIRequestError) || !e.retryable) throw err;
        if (i >= (e.unreachable ? connectRetries : maxRetries)) {
          const hint = e.unreachable ? '; is the server running and the URL right?' : '';
          e.message = `${e.message} (gave up after ${i + 1} attempt${i === 0 ? '' : 's'}${hint})`;
          throw e;
        }
        const delayMs = e.unreachable
          ? connectBackoffMs * 2 ** i
          : e.retryAfterMs !== undefined
            ? Math.min(e.retryAfterMs, maxRetryAfterMs)
            : backoffDelay(i, initialBackoffMs, maxBackoffMs);
        stats.retries++;
        opts.onRetry?.({ url, attempt: i + 1, status: e.status, reason: e.message, delayMs });
        await sleep(delayMs);
      }
    }
  }

  function requestBody(req: GenerationRequest): Record<string, unknown> {
    const n = req.n ?? 1;
    const body: Record<string, unknown> = {
      model: parsed.model,
      max_tokens: req.maxTokens,
      temperature: req.temperature,
      n,
    };
    if (req.topP !== undefined) body.top_p = req.topP;
    // top_k is an extension (vLLM, falign serve); only sent when asked for.
    if (req.topK !== undefined && req.topK > 0) body.top_k = req.topK;
    if (req.stop && req.stop.length > 0) body.stop = req.stop;
    if (req.seed !== undefined) body.seed = req.seed;
    if (api === 'chat') {
      body.messages = req.messages ?? [{ role: 'user', content: req.prompt }];
      if (req.logprobs) body.logprobs = true;
    } else {
      body.prompt = req.prompt;
      if (req.logprobs) body.logprobs = 1;
    }
    return body;
  }

  function parseResults(json: unknown, req: GenerationRequest): GenerationResult[] {
    const n = req.n ?? 1;
    const schema = api === 'chat' ? chatResponse : completionsResponse;
    const r = schema.safeParse(json);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new OpenAIRequestError(`POST ${url}: unexpected answer shape at '${issue?.path.join('.')}': ${issue?.message}`, url);
    }
    const choices = [...r.data.choices].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    if (choices.length !== n) {
      throw new OpenAIRequestError(`POST ${url}: asked for n=${n} completions, got ${choices.length}`, url);
    }
    const usage = r.data.usage ?? undefined;
    if (usage?.prompt_tokens) stats.promptTokens += usage.prompt_tokens;
    if (usage?.completion_tokens) stats.completionTokens += usage.completion_tokens;
    return choices.map((c) => {
      let text: string;
      let logprobs: number[] | undefined;
      if (api === 'chat') {
        const cc = c as z.infer<typeof chatResponse>['choices'][number];
        text = cc.message.content ?? '';
        logprobs = cc.logprobs?.content?.map((t) => t.logprob);
      } else {
        const cc = c as z.infer<typeof completionsResponse>['choices'][number];
        text = cc.text;
        logprobs = cc.logprobs?.token_logprobs?.map((x) => x ?? Number.NaN);
      }
      const out: GenerationResult = { text, finishReason: mapFinish(c.finish_reason) };
      if (logprobs && req.logprobs) out.tokenLogprobs = logprobs;
      if (logprobs) out.completionTokens = logprobs.length;
      else if (n === 1 && usage?.completion_tokens !== undefined) out.completionTokens = usage.completion_tokens;
      if (usage?.prompt_tokens !== undefined) out.promptTokens = usage.prompt_tokens;
      return out;
    });
  }

  return {
    spec,
    name: parsed.model,
    kind: 'openai',
    baseUrl: parsed.baseUrl,
    api,
    async generate(requests: GenerationRequest[]): Promise<GenerationResult[][]> {
      if (closed) throw new Error(`model ${spec} is closed`);
      return Promise.all(
        requests.map((req) =>
          limit(async () => {
            const json = await post(JSON.stringify(requestBody(req)));
            return parseResults(json, req);
          }),
        ),
      );
    },
    info(): Record<string, unknown> {
      return { endpoint: parsed.baseUrl, model: parsed.model, api, concurrency, timeoutMs, maxRetries };
    },
    stats(): OpenAIStats {
      return { ...stats };
    },
    async close(): Promise<void> {
      // Requests already queued finish normally; only new generate calls are refused.
      closed = true;
    },
  };
}
