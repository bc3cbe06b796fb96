/**
 * The math verifier and the refusal judge on generated adversarial inputs (fuzz-inputs.ts),
 * through their public APIs. The verifier runs in @falign/rewards' VerifierPool (hard per-check
 * timeout; a worker that overruns is replaced). The refusal judge runs in a worker thread of its
 * own, watched from here: a batch that makes no progress for `hangMs` counts as a hang and the
 * worker is replaced.
 */
import type { Worker } from 'node:worker_threads';
import { VerifierPool } from '@falign/rewards';
import { startModuleWorker } from '../../util/worker.js';
import { refusalCases, verifierCases, type FuzzCategory } from '../fuzz-inputs.js';

/** Counts of one fuzz run. */
export interface FuzzResult {
  items: number;
  crashes: number;
  hangs: number;
  timeouts: number;
  internal: number;
  /** Verifier only: identical gold/pred pairs, and how many were accepted. */
  identical?: number;
  identicalAccepted?: number;
  /** Examples of internal errors / rejected identical pairs (truncated), for the report. */
  examples: string[];
  byCategory: Record<string, { items: number; problems: number }>;
  maxItemMs?: number;
  wallS: number;
  workerRestarts?: number;
}

const short = (s: string) => (s.length > 60 ? `${JSON.stringify(s.slice(0, 40))}…(${s.length} chars)` : JSON.stringify(s));

/** Verifier fuzz: `n` cases, `timeoutMs` hard limit per check, `size` workers. */
export async function fuzzVerifier(n: number, o: { seed?: number; timeoutMs?: number; size?: number; onProgress?: (done: number) => void } = {}): Promise<FuzzResult> {
  const t0 = Date.now();
  const timeoutMs = o.timeoutMs ?? 2000;
  const pool = new VerifierPool({ size: o.size ?? 2, timeoutMs });
  const res: FuzzResult = { items: 0, crashes: 0, hangs: 0, timeouts: 0, internal: 0, identical: 0, identicalAccepted: 0, examples: [], byCategory: {}, wallS: 0 };
  const window = new Set<Promise<void>>();
  const note = (category: FuzzCategory, problem: boolean) => {
    const c = (res.byCategory[category] ??= { items: 0, problems: 0 });
    c.items++;
    if (problem) c.problems++;
  };
  try {
    for (const c of verifierCases(n, o.seed ?? 11)) {
      const p = (async () => {
        let watchdog: NodeJS.Timeout | undefined;
        const hang = new Promise<'hang'>((ok) => (watchdog = setTimeout(() => ok('hang'), timeoutMs * 10 + 30_000)));
        try {
          const r = await Promise.race([pool.verify(c.gold, c.pred), hang]);
          res.items++;
          if (r === 'hang') {
            res.hangs++;
            note(c.category, true);
            return;
          }
          let problem = false;
          if (r.errorKind === 'timeout') {
            res.timeouts++;
            problem = true;
          } else if (r.errorKind === 'internal') {
            res.internal++;
            problem = true;
            if (res.examples.length < 6) res.examples.push(`internal: ${short(r.error ?? '')} (gold ${short(c.gold)})`);
          }
          if (c.identical) {
            res.identical!++;
            if (r.correct) res.identicalAccepted!++;
            else if (res.examples.length < 6) res.examples.push(`identical rejected (${c.category}): ${short(c.gold)} → ${short(r.error ?? 'not equal')}`);
          }
          note(c.category, problem);
        } catch (e) {
          res.items++;
          res.crashes++;
          note(c.category, true);
          if (res.examples.length < 6) res.examples.push(`crash: ${short((e as Error).message)}`);
        } finally {
          clearTimeout(watchdog);
          o.onProgress?.(res.items);
        }
      })();
      window.add(p);
      void p.finally(() => window.delete(p));
      if (window.size >= 64) await Promise.race(window);
    }
    await Promise.all(window);
  } finally {
    res.workerRestarts = pool.restarts;
    await pool.close();
  }
  res.wallS = (Date.now() - t0) / 1000;
  return res;
}

/** The worker that runs the refusal judge (refusal-worker.ts beside this file). */
const startJudgeWorker = (): Worker => startModuleWorker(new URL('./refusal-worker.js', import.meta.url));

/** Refusal-judge fuzz: `n` cases in batches; a batch silent for `hangMs` is a hang. */
export async function fuzzRefusal(n: number, o: { seed?: number; hangMs?: number; batch?: number; onProgress?: (done: number) => void } = {}): Promise<FuzzResult> {
  const t0 = Date.now();
  const hangMs = o.hangMs ?? 30_000;
  const batchSize = o.batch ?? 500;
  const res: FuzzResult = { items: 0, crashes: 0, hangs: 0, timeouts: 0, internal: 0, examples: [], byCategory: {}, maxItemMs: 0, workerRestarts: 0, wallS: 0 };
  const start = startJudgeWorker;
  let worker = start();
  let batch: { category: string; completion: string; prompt?: string }[] = [];
  const run = async (items: { category: string; completion: string; prompt?: string }[]) => {
    const answer = await new Promise<{ ok: number; errors: string[]; maxMs: number } | 'hang' | 'crash'>((ok) => {
      const timer = setTimeout(() => ok('hang'), hangMs);
      const onMsg = (m: { ok: number; errors: string[]; maxMs: number }) => {
        clearTimeout(timer);
        worker.off('error', onErr);
        ok(m);
      };
      const onErr = () => {
        clearTimeout(timer);
        worker.off('message', onMsg);
        ok('crash');
      };
      worker.once('message', onMsg);
      worker.once('error', onErr);
      worker.postMessage(items);
    });
    res.items += items.length;
    for (const it of items) (res.byCategory[it.category] ??= { items: 0, problems: 0 }).items++;
    if (answer === 'hang' || answer === 'crash') {
      if (answer === 'hang') res.hangs++;
      else res.crashes++;
      await worker.terminate();
      worker = start();
      res.workerRestarts!++;
      return;
    }
    res.internal += answer.errors.length;
    for (const e of answer.errors.slice(0, 6 - res.examples.length)) res.examples.push(e);
    res.maxItemMs = Math.max(res.maxItemMs!, answer.maxMs);
    o.onProgress?.(res.items);
  };
  try {
    for (const c of refusalCases(n, o.seed ?? 13)) {
      batch.push(c);
      if (batch.length >= batchSize) {
        await run(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await run(batch);
  } finally {
    await worker.terminate();
  }
  res.wallS = (Date.now() - t0) / 1000;
  return res;
}
