/**
 * A worker_threads pool that runs {@link verify} off the main thread with a HARD time limit: a
 * check that overruns is reported as `error: "timeout after N ms"` and its worker is terminated
 * and replaced (Math-Verify's `signal.alarm` does not work off the main thread; anchors A.6).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { VerifyOptions, VerifyResult } from '../math/verify.js';

/** Options of {@link VerifierPool}. */
export interface VerifierPoolOptions {
  /** Worker threads (default: available cores − 1, at least 1). */
  size?: number;
  /** Hard limit per check in ms (default 5000); a per-call `opts.timeoutMs` overrides it. */
  timeoutMs?: number;
  /** Default verify options for every check. */
  verifyOptions?: VerifyOptions;
}

/** One check for {@link VerifierPool.verifyMany}. */
export interface VerifyItem {
  gold: string;
  pred: string;
  opts?: VerifyOptions;
}

interface Job {
  id: number;
  msg: { id: number; gold: string; pred: string; opts?: VerifyOptions; spinMs?: number; crash?: boolean };
  timeoutMs: number;
  resolve: (r: VerifyResult) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job: Job | null;
  timer: NodeJS.Timeout | null;
}

/**
 * Where the worker script is: compiled `verify-worker.js` next to this module (dist), or the
 * TypeScript source loaded through tsx when running from src (vitest, tsx).
 */
function workerSpec(): { code: string; eval: boolean } {
  const js = fileURLToPath(new URL('./verify-worker.js', import.meta.url));
  if (existsSync(js)) return { code: js, eval: false };
  const ts = new URL('./verify-worker.ts', import.meta.url);
  if (existsSync(fileURLToPath(ts))) {
    // Node 20 workers do not inherit `--import tsx`; register tsx's hooks inside the worker instead.
    let api: string;
    try {
      const pkgJson = createRequire(import.meta.url).resolve('tsx/package.json');
      const pkg = JSON.parse(readFileSync(pkgJson, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
      api = pathToFileURL(join(dirname(pkgJson), pkg.exports['./esm/api'].import.default)).href;
    } catch {
      throw new Error('VerifierPool: running from TypeScript sources needs the tsx package (or build to dist first)');
    }
    const code = `import(${JSON.stringify(api)}).then((m) => { (m.register ?? m.default.register)(); return import(${JSON.stringify(ts.href)}); })
      .catch((e) => { console.error(e); process.exit(70); });`;
    return { code, eval: true };
  }
  throw new Error(`VerifierPool: worker script not found next to ${fileURLToPath(import.meta.url)}`);
}

const errorResult = (error: string, errorKind: VerifyResult['errorKind']): VerifyResult => ({
  correct: false,
  extractedGold: null,
  extractedPred: null,
  error,
  errorKind,
});

/** A pool of verifier workers with hard per-check timeouts. Call {@link close} when done. */
export class VerifierPool {
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private readonly spec = workerSpec();
  private nextId = 1;
  private closed = false;
  private readonly timeoutMs: number;
  private readonly defaults: VerifyOptions;
  /** Workers terminated for overrunning or crashing (for metrics). */
  restarts = 0;
  /** Workers that died before becoming ready, in a row; the pool gives up after a few. */
  private startFailures = 0;
  private broken: string | null = null;

  constructor(opts: VerifierPoolOptions = {}) {
    const size = Math.max(1, Math.floor(opts.size ?? Math.max(1, availableParallelism() - 1)));
    this.timeoutMs = opts.timeoutMs ?? 5000;
    if (!(this.timeoutMs > 0)) throw new Error(`VerifierPool: timeoutMs must be > 0, got ${opts.timeoutMs}`);
    this.defaults = opts.verifyOptions ?? {};
    for (let i = 0; i < size; i++) this.slots.push(this.spawn());
  }

  /** Number of worker threads. */
  get size(): number {
    return this.slots.length;
  }

  private spawn(): Slot {
    const worker = new Worker(this.spec.code, { eval: this.spec.eval });
    const slot: Slot = { worker, ready: false, job: null, timer: null };
    worker.unref();
    worker.on('message', (m: { ready?: boolean; id?: number; result?: VerifyResult }) => {
      if (m.ready) {
        slot.ready = true;
        this.startFailures = 0;
        this.pump();
        return;
      }
      const job = slot.job;
      if (!job || job.id !== m.id) return;
      this.finish(slot);
      job.resolve(m.result as VerifyResult);
      this.pump();
    });
    worker.on('error', (err) => this.replace(slot, `internal: verifier worker failed: ${err.message}`));
    worker.on('exit', (code) => {
      if (!this.closed && this.slots.includes(slot)) this.replace(slot, `internal: verifier worker exited with code ${code}`);
    });
    return slot;
  }

  private finish(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.job = null;
    this.updateRefs();
  }

  /** Idle workers must not keep the process alive; busy ones, or ones starting for queued work, must. */
  private updateRefs(): void {
    for (const s of this.slots) {
      if (s.job || (!s.ready && this.queue.length > 0)) s.worker.ref();
      else s.worker.unref();
    }
  }

  /** Terminates a slot's worker, fails its job with `error`, and starts a fresh worker. */
  private replace(slot: Slot, error: string, kind: VerifyResult['errorKind'] = 'internal'): void {
    const idx = this.slots.indexOf(slot);
    if (idx < 0) return;
    const job = slot.job;
    this.finish(slot);
    this.slots.splice(idx, 1);
    void slot.worker.terminate();
    this.restarts++;
    if (job) job.resolve(errorResult(error, kind));
    if (!slot.ready && ++this.startFailures >= 3) {
      this.broken = `VerifierPool: workers fail to start (${error})`;
      for (const j of this.queue.splice(0)) j.resolve(errorResult(`internal: ${this.broken}`, 'internal'));
      return;
    }
    if (!this.closed) {
      this.slots.splice(idx, 0, this.spawn());
      this.pump();
    }
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (!this.queue.length) break;
      if (!slot.ready || slot.job) continue;
      const job = this.queue.shift() as Job;
      slot.job = job;
      slot.timer = setTimeout(() => this.replace(slot, `timeout after ${job.timeoutMs} ms`, 'timeout'), job.timeoutMs);
      slot.worker.postMessage(job.msg);
    }
    this.updateRefs();
  }

  private submit(item: VerifyItem & { spinMs?: number; crash?: boolean }): Promise<VerifyResult> {
    if (this.closed) return Promise.reject(new Error('VerifierPool is closed'));
    if (this.broken) return Promise.resolve(errorResult(`internal: ${this.broken}`, 'internal'));
    const opts = { ...this.defaults, ...item.opts };
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    // the worker's own cooperative deadline fires first in most cases, which avoids a restart
    const workerOpts = { ...opts, timeoutMs: Math.max(1, Math.floor(timeoutMs * 0.9)) };
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.queue.push({
        id,
        msg: { id, gold: item.gold, pred: item.pred, opts: workerOpts, spinMs: item.spinMs, crash: item.crash },
        timeoutMs,
        resolve: (r) => resolve(r.errorKind === 'timeout' ? { ...r, error: `timeout after ${timeoutMs} ms` } : r),
        reject,
      });
      this.pump();
    });
  }

  /** Verifies one pair in a worker; resolves (never rejects for bad input) with the result. */
  verify(gold: string, pred: string, opts?: VerifyOptions): Promise<VerifyResult> {
    return this.submit({ gold, pred, opts });
  }

  /** Verifies many pairs concurrently across the workers; results in input order. */
  verifyMany(items: readonly VerifyItem[]): Promise<VerifyResult[]> {
    return Promise.all(items.map((it) => this.submit(it)));
  }

  /** @internal Test hook: a check that busy-waits `spinMs` first (or crashes its worker). */
  _debugRun(item: VerifyItem & { spinMs?: number; crash?: boolean }): Promise<VerifyResult> {
    return this.submit(item);
  }

  /** Terminates the workers; queued checks are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new Error('VerifierPool is closed'));
    const slots = this.slots.splice(0);
    for (const s of slots) {
      if (s.timer) clearTimeout(s.timer);
      if (s.job) s.job.reject(new Error('VerifierPool is closed'));
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}

let shared: VerifierPool | null = null;

/**
 * Verifies in a shared, lazily created {@link VerifierPool} (hard timeout `opts.timeoutMs`,
 * default 5000 ms). Its workers do not keep the process alive when idle.
 */
export function verifyAsync(gold: string, pred: string, opts?: VerifyOptions): Promise<VerifyResult> {
  shared ??= new VerifierPool();
  return shared.verify(gold, pred, opts);
}

/** Closes the shared pool used by {@link verifyAsync} (a later call creates a new one). */
export async function closeSharedPool(): Promise<void> {
  const p = shared;
  shared = null;
  await p?.close();
}
