/**
 * `npm run bench:reliability`: the user's path under failure, measured. All traffic is on
 * loopback and every part is bounded (a few minutes on 2 cores):
 *
 *   train   `falign train --checkpoint-every K` SIGKILLed at random points N times, resumed each time
 *   serve   `falign serve` under C concurrent clients mixing valid, malformed, oversized, abandoned requests
 *   fuzz    the math verifier and the refusal judge on generated adversarial inputs
 *   eval    an eval whose samples.jsonl ends in a torn line resumes cleanly
 *
 * Flags: --only train,serve,fuzz,eval  --kills N (5)  --clients C (64)  --requests R (per client, 30)
 *        --fuzz N (100000 verifier + 100000 refusal)  --work DIR (default a temp folder)  --json
 * Prints one table (and the JSON with --json); exit 1 when a check fails.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evalTornLine, type EvalTornResult } from './reliability/eval-torn.js';
import { fuzzRefusal, fuzzVerifier, type FuzzResult } from './reliability/fuzz.js';
import { serveLoad, type ServeLoadResult } from './reliability/serve-load.js';
import { mb, storiesSpec } from './reliability/spawn.js';
import { trainKill, type TrainKillResult } from './reliability/train-kill.js';

interface Args {
  only: Set<string>;
  kills: number;
  clients: number;
  requests: number;
  fuzz: number;
  work?: string;
  json: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { only: new Set(['train', 'serve', 'fuzz', 'eval']), kills: 5, clients: 64, requests: 30, fuzz: 100_000, json: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k}: missing value`);
      return x;
    };
    const n = (flag: string) => {
      const x = Number(v());
      if (!Number.isInteger(x) || x < 1) throw new Error(`${flag}: expected a positive integer`);
      return x;
    };
    if (k === '--only') a.only = new Set(v().split(','));
    else if (k === '--kills') a.kills = n(k);
    else if (k === '--clients') a.clients = n(k);
    else if (k === '--requests') a.requests = n(k);
    else if (k === '--fuzz') a.fuzz = n(k);
    else if (k === '--work') a.work = v();
    else if (k === '--json') a.json = true;
    else throw new Error(`unknown flag ${k}`);
  }
  return a;
}

/** One row of the printed table. */
interface Row {
  check: string;
  ok: boolean;
  result: string;
  details: string;
}

function table(rows: Row[]): string {
  const head = ['check', 'ok', 'result', 'details'];
  const body = rows.map((r) => [r.check, r.ok ? 'yes' : 'NO', r.result, r.details]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(w[i])).join(' | ')} |`;
  return [line(head), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

const stamp = () => new Date().toISOString().slice(11, 19);
const say = (msg: string) => process.stderr.write(`[${stamp()}] reliability: ${msg}\n`);

function trainRow(t: TrainKillResult): Row {
  const ok = t.kills >= 1 && t.identical && t.resultsIdentical && t.tmpLeft.length === 0 && t.maxStepsLost <= t.interval && t.detail === '';
  return {
    check: `train: SIGKILL ×${t.kills}, resume`,
    ok,
    result: `final checkpoint byte-identical: ${t.identical ? 'yes' : 'NO'}; curve and scores identical: ${t.resultsIdentical ? 'yes' : 'NO'}; resumed ${t.resumed}×; max steps lost ${t.maxStepsLost} (interval ${t.interval})`,
    details: `${t.steps} steps, killed after steps ${t.killSteps.join(', ')}; ${t.beforeFirstCheckpoint} kill(s) before the first checkpoint; tmp folders left ${t.tmpLeft.length}${t.differingFiles.length ? `; differ: ${t.differingFiles.join(',')}` : ''}${t.detail ? `; ${t.detail}` : ''}; ${t.wallS.toFixed(0)} s`,
  };
}

function serveRow(s: ServeLoadResult, clients: number): Row {
  const ok = s.failed === 0 && s.hangs === 0 && s.transportErrors === 0 && s.serverLog500 === 0 && s.aliveAfter;
  return {
    check: `serve: ${clients} clients, mixed`,
    ok,
    result: `${s.requests} requests: served ${s.served}, rejected 4xx ${s.rejected}, failed 5xx ${s.failed}, abandoned ${s.abandoned}, hangs ${s.hangs}`,
    details: `peak RSS ${mb(s.peakRss)} (idle ${mb(s.idleRss)}); statuses ${JSON.stringify(s.statusCounts)}; reset after 413 ${s.resetAfterReject}; transport errors ${s.transportErrors}; /health max ${s.healthMaxMs.toFixed(0)} ms over ${s.healthProbes} probes; 5xx in log ${s.serverLog500}; ${s.wallS.toFixed(0)} s`,
  };
}

function fuzzRow(name: string, f: FuzzResult): Row {
  const ok = f.crashes === 0 && f.hangs === 0 && f.internal === 0 && f.timeouts === 0 && (f.identical === undefined || f.identicalAccepted === f.identical);
  const ident = f.identical !== undefined ? `; identical accepted ${f.identicalAccepted}/${f.identical}` : '';
  return {
    check: `fuzz: ${name}`,
    ok,
    result: `${f.items} items: crashes ${f.crashes}, hangs ${f.hangs}, timeouts ${f.timeouts}, internal errors ${f.internal}${ident}`,
    details: `${f.maxItemMs !== undefined ? `slowest item ${f.maxItemMs.toFixed(0)} ms; ` : ''}worker restarts ${f.workerRestarts ?? 0}; ${(f.items / f.wallS).toFixed(0)} items/s; ${f.examples.length ? `e.g. ${f.examples.slice(0, 2).join(' | ')}` : 'no problem found'}`,
  };
}

function evalRow(e: EvalTornResult): Row {
  return { check: 'eval: torn last line', ok: e.ok, result: e.ok ? 'resumed cleanly; samples and metrics identical' : 'FAILED', details: `${e.detail}; ${e.wallS.toFixed(0)} s` };
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const work = a.work ?? mkdtempSync(join(tmpdir(), 'falign-reliability-'));
  const model = storiesSpec();
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  const t0 = Date.now();
  try {
    if (a.only.has('train')) {
      say(`train: uninterrupted run, then ${a.kills} SIGKILLs at random steps`);
      const t = await trainKill(join(work, 'train'), { kills: a.kills, steps: 24, interval: 3, onKill: (k, step) => say(`train: kill ${k}/${a.kills} after step ${step}`) });
      rows.push(trainRow(t));
      raw.train = t;
    }
    if (a.only.has('serve')) {
      if (!model) rows.push({ check: 'serve', ok: false, result: 'skipped', details: 'stories260K not found: set FALIGN_MODELS_DIR' });
      else {
        say(`serve: ${a.clients} clients × ${a.requests} requests`);
        const s = await serveLoad({ model, clients: a.clients, requestsPerClient: a.requests });
        rows.push(serveRow(s, a.clients));
        raw.serve = s;
      }
    }
    if (a.only.has('fuzz')) {
      say(`fuzz: ${a.fuzz} verifier cases`);
      let last = Date.now();
      const progress = (what: string) => (done: number) => {
        if (Date.now() - last > 10_000) {
          last = Date.now();
          say(`fuzz ${what}: ${done}/${a.fuzz} (${((100 * done) / a.fuzz).toFixed(0)}%, ${((Date.now() - t0) / 1000).toFixed(0)} s since start)`);
        }
      };
      const v = await fuzzVerifier(a.fuzz, { timeoutMs: 2000, size: 2, onProgress: progress('verifier') });
      rows.push(fuzzRow('math verifier (pool, 2 s limit)', v));
      say(`fuzz: ${a.fuzz} refusal-judge cases`);
      const r = await fuzzRefusal(a.fuzz, { onProgress: progress('refusal') });
      rows.push(fuzzRow('refusal judge (worker, 30 s watchdog)', r));
      raw.fuzz = { verifier: v, refusal: r };
    }
    if (a.only.has('eval')) {
      if (!model) rows.push({ check: 'eval', ok: false, result: 'skipped', details: 'stories260K not found: set FALIGN_MODELS_DIR' });
      else {
        say('eval: torn last line of samples.jsonl');
        const e = await evalTornLine(model, join(work, 'eval'));
        rows.push(evalRow(e));
        raw.eval = e;
      }
    }
  } finally {
    if (!a.work) rmSync(work, { recursive: true, force: true });
  }
  process.stdout.write(`\nfalign reliability (${((Date.now() - t0) / 1000).toFixed(0)} s, loopback only)\n\n${table(rows)}\n`);
  if (a.json) process.stdout.write(`${JSON.stringify({ rows, raw })}\n`);
  if (rows.some((r) => !r.ok)) process.exitCode = 1;
}

main().catch((e: unknown) => {
  process.stderr.write(`reliability bench: ${(e as Error)?.message ?? String(e)}\n`);
  process.exitCode = 1;
});
