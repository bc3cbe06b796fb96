/**
 * `falign eval`: generate completions for a task's documents, score them, and write
 * DIR/samples.jsonl incrementally and DIR/results.json at the end. Running the same command again
 * resumes: (document, sample) keys already in samples.jsonl are skipped and a partial last line left
 * by a crash is dropped. A different configuration is refused unless `overwrite` is set. Every
 * invocation that generated (or tried to) appends a line to DIR/invocations.jsonl; results.json
 * reports the totals over them, so a resumed or no-op run keeps what earlier invocations cost.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import pLimit from 'p-limit';
import { loadEvalModel } from '../models/load.js';
import type { EvalModel, GenerationRequest, GenerationResult } from '../models/types.js';
import { getTask } from '../tasks/registry.js';
import type { AnyTask, TaskDoc, TaskRequest } from '../tasks/types.js';
import { startProgress } from '../util/progress.js';
import type { BackendName } from '@falign/core';
import { DEFAULT_BOOTSTRAP, aggregateSamples, type BootstrapSettings } from './aggregate.js';
import { createChatTemplate, readChatTemplate, type EvalChatTemplate } from './chat.js';
import { configDiff, readConfig, type EvalConfig } from './config.js';
import { selectDocs, selectFewshot } from './docs.js';
import { appendInvocation, invocationTotals, legacyInvocation, readInvocations, unrecordedInvocation, type InvocationRecord } from './invocations.js';
import { gitCommit, packageVersions } from './provenance.js';
import { writeJsonAtomic, type EvalResults } from './results.js';
import { SampleWriter, groupByDoc, readSamples, sampleKey, type SampleRecord } from './samples.js';
import { deriveSeed } from './seeds.js';
import { createModelJudge, type ModelJudge } from '../judges/model-judge.js';
import { judgeSamples, writeSamplesAtomic } from '../judges/apply.js';

/** Options of {@link runEval}. */
export interface EvalOptions {
  /** Task id or task object. */
  task: string | AnyTask;
  /** Model spec (`llama2c:…`, `falign:…`, `openai:URL#MODEL`) or a model instance (not closed by the runner). */
  model: string | EvalModel;
  /** Run directory (created). */
  out: string;
  split?: string;
  /** First N documents. */
  limit?: number | null;
  /** Samples per document (default 1). */
  samples?: number;
  /** Run seed (default 0): per-request seeds derive from it. */
  seed?: number;
  /** Default 0 (greedy). */
  temperature?: number;
  topP?: number;
  /** Most tokens to generate per completion (`--max-new-tokens`); default: the task's. */
  maxTokens?: number;
  /** Default: the task's. */
  numFewshot?: number;
  /** Seed of the few-shot draw (default 1234, as lm-eval). */
  fewshotSeed?: number;
  /** Requests in flight (endpoint models; default 8). */
  concurrency?: number;
  /** Per-request timeout of endpoint models in ms (default 120000). */
  requestTimeoutMs?: number;
  /** Retries of endpoint requests on 429/5xx/timeouts (default 5; unreachable servers get at most 2). */
  maxRetries?: number;
  /**
   * Most sequences the in-process sampler decodes at once (default 32), as `--batch-size`
   * everywhere; only used when the runner loads the model from a spec.
   */
  batchSize?: number;
  /** Documents per `model.generate` call (default 16 in-process, 1 on the cpu backend and for endpoints). */
  requestsPerCall?: number;
  /** Chat template: a file path (.jinja or tokenizer_config.json) or a parsed template. */
  chatTemplate?: string | EvalChatTemplate;
  /** Discard an existing run in `out` whose configuration differs. */
  overwrite?: boolean;
  /** Stops scheduling new requests; what is generated is kept. */
  signal?: AbortSignal;
  /** Progress bar on stderr (default true). */
  progress?: boolean;
  /** Called after each sample is written. */
  onSample?: (record: SampleRecord) => void;
  bootstrap?: Partial<BootstrapSettings>;
  /** tfjs backend when the runner loads an in-process model. */
  backend?: BackendName;
  /** Model judge (`openai:URL#MODEL?format=…` or an instance) run over the samples; see judges/apply.ts. */
  judge?: string | ModelJudge;
}

/** Paths of a run directory. */
export function runPaths(dir: string): { dir: string; config: string; samples: string; results: string; invocations: string } {
  const d = resolve(dir);
  return {
    dir: d,
    config: join(d, 'config.json'),
    samples: join(d, 'samples.jsonl'),
    results: join(d, 'results.json'),
    invocations: join(d, 'invocations.jsonl'),
  };
}

/** The in-process model's truncated-prompt counter (null for models that do not keep one). */
function truncatedCount(model: EvalModel): number | null {
  const v = model.info().truncated_prompts;
  return typeof v === 'number' ? v : null;
}

/** A JSON object file, or null when it is missing or unreadable (only used for best-effort provenance). */
export function readJsonOrNull(file: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Cuts a completion at the earliest stop string (models that ignore `stop` still get cut). */
export function cutAtStop(text: string, stop: readonly string[]): { text: string; cut: boolean } {
  let at = -1;
  for (const s of stop) {
    if (!s) continue;
    const i = text.indexOf(s);
    if (i >= 0 && (at < 0 || i < at)) at = i;
  }
  return at < 0 ? { text, cut: false } : { text: text.slice(0, at), cut: true };
}

/** The prompt a model receives: the raw prompt, or the chat turns rendered by a template. */
function promptFor(req: TaskRequest, tpl: EvalChatTemplate | null): string {
  return tpl ? tpl.render(req.messages) : req.prompt;
}

function resolveChatTemplate(opt: EvalOptions['chatTemplate'], model: EvalModel): EvalChatTemplate | null {
  if (typeof opt === 'string') return readChatTemplate(opt);
  if (opt) return opt;
  // An in-process model may carry its own template; endpoints apply theirs server-side.
  const info = model.kind === 'in-process' ? model.info() : undefined;
  const fromModel = info?.chat_template;
  const specials = (info?.chat_template_specials ?? {}) as { bos_token?: string; eos_token?: string };
  return typeof fromModel === 'string' ? createChatTemplate(fromModel, specials) : null;
}

/** Builds the run configuration from options and task defaults. */
function buildConfig(task: AnyTask, model: EvalModel, o: EvalOptions, tpl: EvalChatTemplate | null): EvalConfig {
  const cfg: EvalConfig = {
    task: task.id,
    task_version: task.version,
    split: o.split ?? task.defaults.split,
    limit: o.limit ?? null,
    model: model.spec,
    samples: o.samples ?? 1,
    seed: o.seed ?? 0,
    temperature: o.temperature ?? 0,
    top_p: o.topP ?? 1,
    max_tokens: o.maxTokens ?? task.defaults.maxTokens,
    num_fewshot: o.numFewshot ?? task.defaults.numFewshot,
    fewshot_seed: o.fewshotSeed ?? 1234,
    stop: [],
    chat_template: tpl?.sha256 ?? null,
  };
  const bad = (f: string, v: unknown, want: string) => new Error(`eval option ${f} must be ${want}, got ${JSON.stringify(v)}`);
  if (cfg.limit !== null && !(Number.isInteger(cfg.limit) && cfg.limit > 0)) throw bad('limit', cfg.limit, 'a positive integer');
  if (!(Number.isInteger(cfg.samples) && cfg.samples > 0)) throw bad('samples', cfg.samples, 'a positive integer');
  if (!Number.isInteger(cfg.seed)) throw bad('seed', cfg.seed, 'an integer');
  if (!(cfg.temperature >= 0 && Number.isFinite(cfg.temperature))) throw bad('temperature', cfg.temperature, 'a finite number >= 0');
  if (!(cfg.top_p > 0 && cfg.top_p <= 1)) throw bad('top_p', cfg.top_p, 'in (0, 1]');
  if (!(Number.isInteger(cfg.max_tokens) && cfg.max_tokens > 0)) throw bad('max_tokens', cfg.max_tokens, 'a positive integer');
  if (!(Number.isInteger(cfg.num_fewshot) && cfg.num_fewshot >= 0)) throw bad('num_fewshot', cfg.num_fewshot, 'a non-negative integer');
  return cfg;
}

/** Computes results.json contents from the samples of a run. */
export function computeResults(
  task: AnyTask,
  docs: readonly TaskDoc[],
  records: readonly SampleRecord[],
  cfg: EvalConfig,
  model: EvalResults['model'],
  extra: { bootstrap: BootstrapSettings; invocations: readonly InvocationRecord[] },
): EvalResults {
  const totals = invocationTotals(extra.invocations);
  const agg = aggregateSamples(task, docs, groupByDoc(records), cfg.samples, extra.bootstrap);
  const higher: Record<string, boolean> = {};
  for (const [k, v] of Object.entries(agg.results)) higher[k] = v.higher_is_better;
  const backend = typeof model.info.backend === 'string' ? model.info.backend : null;
  return {
    task: task.id,
    task_version: task.version,
    results: agg.results,
    higher_is_better: higher,
    n: { docs: agg.totalDocs, complete_docs: agg.completeDocs, samples: agg.samples, samples_per_doc: cfg.samples },
    config: cfg,
    model,
    backend,
    versions: packageVersions(),
    git_commit: gitCommit(),
    bootstrap: extra.bootstrap,
    date: new Date().toISOString(),
    wall_time_s: totals.wall_time_s,
    generated_samples: totals.generated_samples,
    truncated_prompts: totals.truncated_prompts,
    length_completions: records.filter((r) => r.finish_reason === 'length').length,
    invocations: [...extra.invocations],
  };
}

/** One unit of work: the missing samples of one document. */
interface WorkItem {
  doc: TaskDoc;
  prompt: string;
  req: TaskRequest;
  indices: number[];
  seed: number;
}

/**
 * Truncation is never silent: prompts that lost tokens to fit the context (this invocation) and
 * completions cut at max_tokens are said on stderr; both are also in results.json
 * (`truncated_prompts`, `length_completions`).
 */
function warnTruncation(inv: InvocationRecord | undefined, records: readonly SampleRecord[], cfg: EvalConfig, show: boolean): void {
  if (!show || !inv || inv.generated_samples === 0) return;
  const tp = inv.truncated_prompts ?? 0;
  if (tp > 0) {
    process.stderr.write(
      `eval: warning: ${tp} prompt(s) did not fit the model's context with room for max_tokens=${cfg.max_tokens} and lost their oldest tokens (recorded as truncated_prompts in results.json); use fewer few-shot examples (--num-fewshot) or a smaller --max-new-tokens\n`,
    );
  }
  const len = records.filter((r) => r.finish_reason === 'length').length;
  if (len > 0) {
    process.stderr.write(
      `eval: warning: ${len}/${records.length} completion(s) stopped at max_tokens=${cfg.max_tokens} before a stop string (recorded as length_completions in results.json)\n`,
    );
  }
}

/** Runs (or resumes) an evaluation; resolves with the results also written to results.json. */
export async function runEval(o: EvalOptions): Promise<EvalResults> {
  const t0 = Date.now();
  const task = typeof o.task === 'string' ? getTask(o.task) : o.task;
  const ownsModel = typeof o.model === 'string';
  const model =
    typeof o.model === 'string'
      ? await loadEvalModel(o.model, {
          backend: o.backend,
          batchSize: o.batchSize,
          openai: { concurrency: o.concurrency ?? 8, timeoutMs: o.requestTimeoutMs, maxRetries: o.maxRetries },
        })
      : o.model;
  try {
    const tpl = resolveChatTemplate(o.chatTemplate, model);
    const cfg = buildConfig(task, model, o, tpl);
    const docs = selectDocs(task, cfg.split, cfg.limit);
    const fewshot = selectFewshot(task, cfg.num_fewshot, cfg.fewshot_seed);
    const paths = runPaths(o.out);
    mkdirSync(paths.dir, { recursive: true });

    // The stop strings come from the task; recorded so a config change is detected.
    const probe = docs.length > 0 ? task.buildRequest(docs[0], { fewshot }) : null;
    cfg.stop = probe?.stop ?? [];

    const prev = readConfig(paths.config);
    if (prev) {
      const diff = configDiff(prev, cfg);
      if (diff.length > 0) {
        if (!o.overwrite) {
          throw new Error(`${paths.dir} holds a run with a different configuration (${diff.join('; ')}); use another --out, or --overwrite to discard it`);
        }
        for (const f of [paths.samples, paths.results, paths.config, paths.invocations]) rmSync(f, { force: true });
      }
    }
    writeJsonAtomic(paths.config, cfg);
    // A run written before invocations were recorded: its results.json stands for the earlier ones.
    if (!existsSync(paths.invocations) && existsSync(paths.results)) {
      const legacy = legacyInvocation(readJsonOrNull(paths.results));
      if (legacy) appendInvocation(paths.invocations, legacy);
    }

    const existing = readSamples(paths.samples, { repair: true });
    if (existing.droppedPartialLine) process.stderr.write(`eval: dropped a partial last line of ${paths.samples} (interrupted write)\n`);
    const unrecorded = unrecordedInvocation(readInvocations(paths.invocations), existing.records.length);
    if (unrecorded) appendInvocation(paths.invocations, unrecorded);
    const done = new Set(existing.records.map((r) => sampleKey(r.doc_id, r.sample)));

    const work: WorkItem[] = [];
    let doneCount = 0;
    for (const doc of docs) {
      const missing: number[] = [];
      for (let s = 0; s < cfg.samples; s++) {
        if (done.has(sampleKey(doc.id, s))) doneCount++;
        else missing.push(s);
      }
      if (missing.length === 0) continue;
      const req = task.buildRequest(doc, { fewshot });
      work.push({ doc, req, prompt: promptFor(req, tpl), indices: missing, seed: deriveSeed(cfg.seed, doc.index, missing[0]) });
    }

    const total = docs.length * cfg.samples;
    // Say that a run resumes (and how far it got) rather than leave the user to guess from the bar.
    if (doneCount > 0 && o.progress !== false) {
      process.stderr.write(
        work.length > 0
          ? `eval: resuming ${paths.dir}: ${doneCount}/${total} samples already in samples.jsonl, ${total - doneCount} to generate\n`
          : `eval: ${paths.dir} already holds all ${total} samples; recomputing results.json only\n`,
      );
    }
    const progress = startProgress({ label: `eval ${task.id}`, total, start: doneCount, unit: 'samples', silent: o.progress === false || work.length === 0 });
    const writer = work.length > 0 ? new SampleWriter(paths.samples) : null;
    const inProcess = model.kind === 'in-process';
    // Measured on stories260K (gsm8k, 64 new tokens): on the cpu backend one request per call
    // ran about 2x faster than batches of 16, so batching is the default only elsewhere.
    const defaultChunk = inProcess && model.info().backend !== 'cpu' ? 16 : 1;
    const chunkSize = Math.max(1, o.requestsPerCall ?? defaultChunk);
    const limiter = pLimit(inProcess ? 1 : Math.max(1, o.concurrency ?? 8));
    let generated = 0;
    const truncatedAtStart = truncatedCount(model);
    const startedAt = new Date(t0).toISOString();
    const record = (status: InvocationRecord['status'], error?: string): InvocationRecord[] => {
      const t = truncatedCount(model);
      appendInvocation(paths.invocations, {
        started_at: startedAt,
        status,
        wall_time_s: (Date.now() - t0) / 1000,
        generated_samples: generated,
        truncated_prompts: t === null || truncatedAtStart === null ? null : t - truncatedAtStart,
        backend: typeof model.info().backend === 'string' ? (model.info().backend as string) : null,
        git_commit: gitCommit(),
        versions: packageVersions(),
        ...(error !== undefined ? { error } : {}),
      });
      return readInvocations(paths.invocations);
    };

    let failed = false;
    const runChunk = async (items: WorkItem[]) => {
      if (o.signal?.aborted || failed) return;
      const requests: GenerationRequest[] = items.map((w) => ({
        prompt: w.prompt,
        messages: w.req.messages,
        maxTokens: cfg.max_tokens,
        temperature: cfg.temperature,
        topP: cfg.top_p,
        stop: w.req.stop,
        seed: w.seed,
        n: w.indices.length,
      }));
      const start = Date.now();
      const results = await model.generate(requests);
      const genMs = Date.now() - start;
      if (results.length !== items.length) throw new Error(`model ${model.spec} returned ${results.length} results for ${items.length} requests`);
      const lines: SampleRecord[] = [];
      items.forEach((w, i) => {
        const outs: GenerationResult[] = results[i];
        if (!outs || outs.length !== w.indices.length) throw new Error(`model ${model.spec} returned ${outs?.length ?? 0} completions, expected ${w.indices.length}`);
        outs.forEach((g, j) => {
          const cut = cutAtStop(g.text, w.req.stop);
          const scored = task.score(w.doc, cut.text);
          const rec: SampleRecord = {
            doc_id: w.doc.id,
            doc_index: w.doc.index,
            sample: w.indices[j],
            prompt: w.prompt,
            completion: cut.text,
            ...(task.target?.(w.doc) !== undefined ? { target: task.target!(w.doc) } : {}),
            ...(scored.extracted ? { extracted: scored.extracted } : {}),
            scores: scored.scores,
            finish_reason: cut.cut ? 'stop' : g.finishReason,
            ...(g.completionTokens !== undefined ? { completion_tokens: g.completionTokens } : {}),
            seed: cfg.temperature === 0 ? null : w.seed,
            gen_ms: genMs,
            batch: items.length,
          };
          lines.push(rec);
        });
      });
      // Synchronous appends: lines never interleave, whatever order requests finish in.
      for (const rec of lines) {
        writer!.write(rec);
        generated++;
        progress.tick(1);
        o.onSample?.(rec);
      }
    };

    try {
      const chunks: WorkItem[][] = [];
      for (let i = 0; i < work.length; i += chunkSize) chunks.push(work.slice(i, i + chunkSize));
      // allSettled: nothing may still be writing when the writer closes; the first error is rethrown.
      const settled = await Promise.allSettled(
        chunks.map((c) =>
          limiter(() =>
            runChunk(c).catch((e: unknown) => {
              failed = true;
              throw e;
            }),
          ),
        ),
      );
      const firstError = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (firstError) {
        record('failed', String((firstError.reason as Error)?.message ?? firstError.reason));
        throw firstError.reason;
      }
    } finally {
      writer?.close();
      progress.stop();
    }
    if (o.signal?.aborted) {
      record('interrupted');
      throw new Error(`evaluation interrupted after ${doneCount + generated}/${total} samples; run the same command again to resume`);
    }

    let { records } = readSamples(paths.samples);
    const invocations = record('complete');
    warnTruncation(invocations[invocations.length - 1], records, cfg, o.progress !== false);
    let scoredTask = task;
    let judgeIdentity: EvalResults['judge'];
    if (o.judge !== undefined) {
      const judge = typeof o.judge === 'string' ? createModelJudge(o.judge, { concurrency: o.concurrency }) : o.judge;
      try {
        const judged = await judgeSamples(judge, task, docs, records, { progress: o.progress !== false });
        ({ records, task: scoredTask, identity: judgeIdentity } = judged);
        writeSamplesAtomic(paths.samples, records);
      } finally {
        if (typeof o.judge === 'string') await judge.close();
      }
    }
    const results = computeResults(
      scoredTask,
      docs,
      records,
      cfg,
      { spec: model.spec, name: model.name, kind: model.kind, info: model.info() },
      { bootstrap: { ...DEFAULT_BOOTSTRAP, ...o.bootstrap }, invocations },
    );
    if (judgeIdentity) results.judge = judgeIdentity;
    writeJsonAtomic(paths.results, results);
    return results;
  } finally {
    if (ownsModel) await model.close();
  }
}
