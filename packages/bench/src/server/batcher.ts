/**
 * Micro-batching of generation requests. Requests that arrive within a short window (or while a
 * batch is running) and share sampling settings are merged into ONE `policy.generate` call, so
 * that N concurrent clients cost about one batched forward pass per token instead of N. Only one
 * generate call runs at a time: the model computes on one backend, and overlapping calls would
 * just interleave.
 *
 * Determinism: greedy rows do not depend on their batch neighbours, so greedy requests batch
 * freely whatever their seed. A sampled request WITH a seed runs in a batch of its own, so that
 * its output depends only on (prompt, settings, seed); unseeded sampled requests batch together
 * under a fresh random seed per batch.
 */
import type { Completion, SampleOptions } from '@falign/core';

/**
 * The part of a Policy the server needs (core's `loadPolicy` result satisfies it). Prompts are
 * token ids (BOS included when the tokenizer has one), exactly what the in-process EvalModel
 * feeds, so an endpoint and an in-process evaluation of one model see the same inputs.
 */
export interface ServablePolicy {
  generate(prompts: readonly (readonly number[])[], opts: SampleOptions): Promise<Completion[]>;
  readonly tokenizer: {
    encode(text: string, opts?: { bos?: boolean; eos?: boolean }): number[];
    decode(ids: readonly number[]): string;
    readonly bosId: number | null;
  };
  readonly config?: { maxSeqLen: number };
  dispose?(): void;
}

/** Sampling settings of one request (the rows of a batch share them). */
export interface BatchSettings {
  maxNewTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  stopStrings: string[];
  seed?: number;
}

interface Job {
  prompts: number[][];
  n: number;
  rows: number;
  settings: BatchSettings;
  key: string;
  resolve: (c: Completion[][]) => void;
  reject: (e: unknown) => void;
}

/** Options of {@link MicroBatcher}. */
export interface MicroBatcherOptions {
  /** Most rows (prompts × n) per generate call; default 32. A bigger single request runs alone. */
  maxBatch?: number;
  /** Shortest wait for company before a batch starts, ms; default 5. 0 = never wait. */
  windowMs?: number;
  /**
   * Longest wait, ms; default 50. The wait grows to 10% of the last batch's duration (within
   * [windowMs, maxWindowMs]) so that clients answered by the last batch can rejoin the next one.
   */
  maxWindowMs?: number;
  /** Seed source for unseeded sampled batches (tests pass a fixed one). */
  randomSeed?: () => number;
  /**
   * Most padded tokens per generate call: rows × (longest prompt + max new tokens); default 1024.
   * Memory of a batch grows with it (prefill of one 500-token row costs ~200 MB on wasm), so
   * long prompts batch in twos while short ones still fill `maxBatch`. A single request that
   * exceeds it runs alone.
   */
  maxBatchTokens?: number;
}

/** Counters for logs and benchmarks. */
export interface BatcherStats {
  batches: number;
  rows: number;
  requests: number;
  maxRowsInBatch: number;
}

/** Merges concurrent generation requests into batched `policy.generate` calls. */
export class MicroBatcher {
  private readonly queue: Job[] = [];
  private running = false;
  /** Pending start of the next batch after the window. */
  private timer: NodeJS.Timeout | null = null;
  /** An immediate start is scheduled. */
  private immediate = false;
  /**
   * Rows expected to be waiting for the next batch: the rows of the last batch (their clients
   * usually send their next request as soon as they get the answer) plus the rows that were still
   * queued. Starts at maxBatch so a cold start waits for the window.
   */
  private expectedRows: number;
  /** Duration of the last generate call, ms. */
  private lastBatchMs = 0;
  private readonly maxWindowMs: number;
  private idleWaiters: (() => void)[] = [];
  private readonly maxBatch: number;
  private readonly maxBatchTokens: number;
  private readonly windowMs: number;
  private readonly randomSeed: () => number;
  private readonly counters: BatcherStats = { batches: 0, rows: 0, requests: 0, maxRowsInBatch: 0 };

  constructor(
    private readonly policy: ServablePolicy,
    opts: MicroBatcherOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 32;
    this.maxBatchTokens = opts.maxBatchTokens ?? 1024;
    if (!Number.isInteger(this.maxBatchTokens) || this.maxBatchTokens < 1) throw new Error(`maxBatchTokens must be a positive integer, got ${this.maxBatchTokens}`);
    this.windowMs = opts.windowMs ?? 5;
    this.maxWindowMs = Math.max(this.windowMs, opts.maxWindowMs ?? 50);
    this.expectedRows = this.maxBatch;
    this.randomSeed = opts.randomSeed ?? (() => Math.floor(Math.random() * 2 ** 31));
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) throw new Error(`maxBatch must be a positive integer, got ${this.maxBatch}`);
    if (!(this.windowMs >= 0)) throw new Error(`windowMs must be >= 0, got ${this.windowMs}`);
  }

  /**
   * Generates `n` completions for each prompt; result[i] holds prompt i's n completions.
   * All prompts of one call share the settings and stay in one batch.
   */
  submit(prompts: number[][], n: number, settings: BatchSettings): Promise<Completion[][]> {
    const greedy = settings.temperature === 0;
    const s: BatchSettings = greedy ? { ...settings, seed: undefined } : settings;
    const solo = !greedy && settings.seed !== undefined;
    const key = solo
      ? `solo:${this.counters.requests}`
      : JSON.stringify([s.maxNewTokens, s.temperature, s.topP, s.topK, s.stopStrings]);
    this.counters.requests++;
    return new Promise((resolve, reject) => {
      this.queue.push({ prompts, n, rows: prompts.length * n, settings: s, key, resolve, reject });
      this.schedule();
    });
  }

  /** Counters since creation. */
  stats(): BatcherStats {
    return { ...this.counters };
  }

  /** Requests queued or running. */
  get pending(): number {
    return this.queue.length + (this.running ? 1 : 0);
  }

  /** Resolves once nothing is queued or running (graceful shutdown). */
  drain(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Starts the next batch once the rows expected back are queued (or a full batch is), else when
   * the window ends. Without this, closed-loop clients split into two cohorts that alternate
   * (one batch runs while the other cohort's requests queue up), halving the batch size. The
   * start always waits one turn of the event loop: a generate call keeps the loop busy, and
   * requests that reached the socket meanwhile are parsed and queued only once it yields.
   */
  private schedule(): void {
    if (this.running || this.immediate) return;
    const queuedRows = this.queue.reduce((a, j) => a + j.rows, 0);
    const target = Math.min(this.maxBatch, Math.max(1, this.expectedRows));
    if (queuedRows >= target || this.windowMs === 0) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      this.immediate = true;
      setImmediate(() => {
        this.immediate = false;
        void this.runNext();
      });
      return;
    }
    if (this.timer) return;
    const wait = Math.min(this.maxWindowMs, Math.max(this.windowMs, 0.1 * this.lastBatchMs));
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runNext();
    }, wait);
  }

  /** Takes the oldest job and every later compatible job that still fits (rows and padded tokens). */
  private takeBatch(): Job[] {
    const first = this.queue.shift();
    if (!first) return [];
    const batch = [first];
    let rows = first.rows;
    const longest = (j: Job) => j.prompts.reduce((m, p) => Math.max(m, p.length), 0);
    let maxLen = longest(first);
    const newTokens = first.settings.maxNewTokens;
    for (let i = 0; i < this.queue.length && rows < this.maxBatch; ) {
      const j = this.queue[i];
      const len = Math.max(maxLen, longest(j));
      if (j.key === first.key && rows + j.rows <= this.maxBatch && (rows + j.rows) * (len + newTokens) <= this.maxBatchTokens) {
        batch.push(j);
        rows += j.rows;
        maxLen = len;
        this.queue.splice(i, 1);
      } else i++;
    }
    return batch;
  }

  private async runNext(): Promise<void> {
    if (this.running) return;
    const batch = this.takeBatch();
    if (batch.length === 0) {
      for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    this.running = true;
    const s = batch[0].settings;
    // Each request's n completions become n rows of the same prompt, so requests with different
    // n still share one call.
    const prompts: number[][] = [];
    for (const j of batch) for (const p of j.prompts) for (let k = 0; k < j.n; k++) prompts.push(p);
    const seed = s.temperature === 0 ? 0 : (s.seed ?? this.randomSeed());
    const t0 = performance.now();
    try {
      const out = await this.policy.generate(prompts, {
        maxNewTokens: s.maxNewTokens,
        temperature: s.temperature,
        topP: s.topP,
        topK: s.topK,
        stopStrings: s.stopStrings,
        seed,
        numSamples: 1,
        batchSize: Math.max(prompts.length, 1),
      });
      if (out.length !== prompts.length) throw new Error(`policy.generate returned ${out.length} completions for ${prompts.length} prompts`);
      this.counters.batches++;
      this.counters.rows += prompts.length;
      this.counters.maxRowsInBatch = Math.max(this.counters.maxRowsInBatch, prompts.length);
      let at = 0;
      for (const j of batch) {
        const perPrompt: Completion[][] = [];
        for (let p = 0; p < j.prompts.length; p++) {
          perPrompt.push(out.slice(at, at + j.n));
          at += j.n;
        }
        j.resolve(perPrompt);
      }
    } catch (e) {
      for (const j of batch) j.reject(e);
    } finally {
      this.running = false;
      this.lastBatchMs = performance.now() - t0;
      this.expectedRows = prompts.length + this.queue.reduce((a, j) => a + j.rows, 0);
    }
    if (this.queue.length > 0) this.schedule();
    else for (const w of this.idleWaiters.splice(0)) w();
  }
}
