/**
 * A model-based judge behind any OpenAI-compatible endpoint: `openai:URL#MODEL`, with the format
 * given as `?format=llama-guard-3|wildguard|harmbench` (or guessed from the model name) and the
 * API as `?api=completions|chat` (default completions: the published prompt is sent verbatim,
 * special tokens written out). Calls go through the OpenAI client of `models/openai.ts`
 * (bounded concurrency, retries with backoff, timeouts), greedy, and are cached on disk by
 * (judge, prompt, completion): re-judging the same samples costs nothing.
 */
import { join } from 'node:path';
import { createOpenAIModel, parseOpenAISpec, type OpenAIApi, type OpenAIModel } from '../models/openai.js';
import { JudgeCache, judgeCacheDir, judgeKey, type JudgeCacheStats } from './cache.js';
import {
  JUDGE_FORMATS,
  JUDGE_FORMAT_SPECS,
  formatFromModelName,
  type JudgeFormat,
  type JudgeFormatSpec,
  type JudgeInput,
  type JudgeVerdict,
} from './formats.js';

/** A parsed `--judge` spec. */
export interface ModelJudgeSpec {
  /** The spec as given. */
  spec: string;
  format: JudgeFormat;
  baseUrl: string;
  model: string;
  api: OpenAIApi;
  /** The spec handed to the OpenAI client (format removed). */
  endpointSpec: string;
}

/** Takes `format=` out of a query string; returns the rest. */
function takeFormat(query: string): { format: string | null; rest: string } {
  const params = new URLSearchParams(query);
  const format = params.get('format');
  params.delete('format');
  return { format, rest: params.toString() };
}

/**
 * Parses `openai:URL#MODEL[?format=F][&api=chat|completions]` (the query may also follow the
 * URL). Without `format`, the model name must name the judge (`Llama-Guard-3-8B`, `wildguard`,
 * `HarmBench-Llama-2-13b-cls`).
 */
export function parseJudgeSpec(spec: string): ModelJudgeSpec {
  if (!spec.startsWith('openai:')) {
    throw new Error(`judge '${spec}': expected 'openai:URL#MODEL[?format=${JUDGE_FORMATS.join('|')}]' (or a keyword judge name)`);
  }
  const hash = spec.indexOf('#');
  if (hash < 0) throw new Error(`judge '${spec}': missing '#MODEL'`);
  let head = spec.slice(0, hash);
  let tail = spec.slice(hash + 1);
  let format: string | null = null;
  const q = tail.indexOf('?');
  if (q >= 0) {
    const t = takeFormat(tail.slice(q + 1));
    format = t.format;
    tail = tail.slice(0, q) + (t.rest ? `?${t.rest}` : '');
  }
  const hq = head.indexOf('?');
  if (hq >= 0) {
    const t = takeFormat(head.slice(hq + 1));
    format = format ?? t.format;
    head = head.slice(0, hq) + (t.rest ? `?${t.rest}` : '');
  }
  const endpointSpec = `${head}#${tail}`;
  const parsed = parseOpenAISpec(endpointSpec);
  const chosen = format ?? formatFromModelName(parsed.model);
  if (chosen === null) {
    throw new Error(`judge '${spec}': cannot tell the judge format from model '${parsed.model}'; add '?format=${JUDGE_FORMATS.join('|')}'`);
  }
  if (!(JUDGE_FORMATS as readonly string[]).includes(chosen)) {
    throw new Error(`judge '${spec}': unknown format '${chosen}' (expected one of ${JUDGE_FORMATS.join(', ')})`);
  }
  return { spec, format: chosen as JudgeFormat, baseUrl: parsed.baseUrl, model: parsed.model, api: parsed.api ?? 'completions', endpointSpec };
}

/** What results.json records about the judge. */
export interface JudgeIdentity {
  /** The `--judge` spec as given. */
  spec: string;
  format: JudgeFormat;
  format_version: number;
  /** Where the prompt format and parser come from. */
  format_source: string;
  endpoint: string;
  /** Model name at the endpoint. */
  model: string;
  api: OpenAIApi;
  max_tokens: number;
  temperature: 0;
  /** Judgements of this invocation: answered from the cache, and new endpoint calls. */
  cache: JudgeCacheStats & { file: string };
  /** HTTP requests (including retries) and retries of this invocation. */
  requests: number;
  retries: number;
  /** Judge outputs that did not follow the format (scored as "no", see the README). */
  invalid: number;
}

/** One judgement. */
export interface JudgeResult {
  /** The judge's raw output. */
  output: string;
  verdict: JudgeVerdict;
  cached: boolean;
}

/** Options of {@link createModelJudge}. */
export interface ModelJudgeOptions {
  /** Requests in flight (default 8). */
  concurrency?: number;
  maxRetries?: number;
  timeoutMs?: number;
  /** Cache folder (default FALIGN_CACHE_DIR/judges or ~/.cache/falign/judges). */
  cacheDir?: string;
  /** Replaces the global fetch (tests). */
  fetch?: typeof fetch;
}

/** A model judge with its cache and counters. */
export interface ModelJudge {
  readonly name: JudgeFormat;
  readonly format: JudgeFormatSpec;
  readonly spec: ModelJudgeSpec;
  /** Judges every input (cached ones without a call); order is kept. */
  judge(inputs: readonly JudgeInput[], onDone?: (done: number, total: number) => void): Promise<JudgeResult[]>;
  identity(): JudgeIdentity;
  close(): Promise<void>;
}

/** Creates a judge from `openai:URL#MODEL?format=…`. Nothing is contacted until `judge`. */
export function createModelJudge(specText: string, opts: ModelJudgeOptions = {}): ModelJudge {
  const spec = parseJudgeSpec(specText);
  const format = JUDGE_FORMAT_SPECS[spec.format];
  const client: OpenAIModel = createOpenAIModel(spec.endpointSpec, {
    api: spec.api,
    concurrency: opts.concurrency ?? 8,
    ...(opts.maxRetries !== undefined ? { maxRetries: opts.maxRetries } : {}),
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
  });
  // The endpoint URL is not part of the identity: the same judge served on another port (falign
  // serve --port 0) answers the same, so its cached answers stay valid.
  const identityParts = [format.format, String(format.version), spec.model, spec.api, String(format.maxTokens)];
  const cacheFile = join(opts.cacheDir ?? judgeCacheDir(), `${format.format}-${judgeKey(identityParts).slice(0, 16)}.jsonl`);
  const cache = new JudgeCache(cacheFile);
  let invalid = 0;

  const keyOf = (input: JudgeInput) => judgeKey([...identityParts, input.prompt, input.completion, input.context ?? '']);

  async function judge(inputs: readonly JudgeInput[], onDone?: (done: number, total: number) => void): Promise<JudgeResult[]> {
    const keys = inputs.map(keyOf);
    const outputs = new Map<string, { output: string; cached: boolean }>();
    const todo = new Map<string, JudgeInput>();
    for (const [i, k] of keys.entries()) {
      if (outputs.has(k) || todo.has(k)) continue;
      const hit = cache.get(k);
      if (hit !== undefined) outputs.set(k, { output: hit, cached: true });
      else todo.set(k, inputs[i]);
    }
    let done = inputs.length - [...keys].filter((k) => todo.has(k)).length;
    onDone?.(done, inputs.length);
    const pending = [...todo.entries()];
    await Promise.all(
      pending.map(async ([k, input]) => {
        const req =
          spec.api === 'chat'
            ? { prompt: '', messages: format.chatMessages(input), maxTokens: format.maxTokens, temperature: 0 }
            : { prompt: format.completionPrompt(input), maxTokens: format.maxTokens, temperature: 0 };
        const [[res]] = await client.generate([req]);
        cache.set(k, res.text);
        outputs.set(k, { output: res.text, cached: false });
        done += keys.filter((x) => x === k).length;
        onDone?.(done, inputs.length);
      }),
    );
    return keys.map((k) => {
      const o = outputs.get(k)!;
      const verdict = format.parse(o.output);
      if (!verdict.valid) invalid++;
      return { output: o.output, verdict, cached: o.cached };
    });
  }

  return {
    name: format.format,
    format,
    spec,
    judge,
    identity(): JudgeIdentity {
      const s = client.stats();
      return {
        spec: spec.spec,
        format: format.format,
        format_version: format.version,
        format_source: format.source,
        endpoint: spec.baseUrl,
        model: spec.model,
        api: spec.api,
        max_tokens: format.maxTokens,
        temperature: 0,
        cache: { ...cache.stats(), file: cacheFile },
        requests: s.requests,
        retries: s.retries,
        invalid,
      };
    },
    close: () => client.close(),
  };
}
