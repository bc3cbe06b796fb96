/**
 * One-off comparison of computer-algebra libraries against this package's parser + mathjs as the
 * equivalence engine (see README "Computer algebra"). The libraries are NOT dependencies: install
 * them in a scratch folder and point CAS_DIR at it:
 *
 *   mkdir -p /tmp/cas && (cd /tmp/cas && npm init -y && npm i @cortex-js/compute-engine nerdamer)
 *   CAS_DIR=/tmp/cas FALIGN_DATA_DIR=… npx tsx packages/rewards/scripts/cas-compare.ts
 *
 * Both engines get the same extracted and normalised answer strings as this verifier; accuracy is
 * measured on the unit-test table and the two edge-case fixtures, time per pair, gold coverage on
 * MATH-500 answers, and bounded time on adversarial inputs (each in a worker killed after 10 s).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { mathCandidates, normalizeAnswer, parseGold, parseLatex, undoubleBackslashes, verify } from '../src/index.js';
import { MATH_CASES } from '../test/cases/math-equivalence.js';

const casDir = process.env.CAS_DIR;
if (!casDir) throw new Error('set CAS_DIR to a folder where @cortex-js/compute-engine and nerdamer are installed');
const req = createRequire(join(casDir, 'x.js'));
const ceUrl = pathToFileURL(req.resolve('@cortex-js/compute-engine')).href;
const { ComputeEngine } = (await import(ceUrl)) as { ComputeEngine: new () => any };
const nerdamer = req('nerdamer/all.min') as (s: string) => { toString(): string } & { convertFromLaTeX(s: string): unknown };
const ce = new ComputeEngine();

type Pair = { gold: string; pred: string; expected: boolean; opts?: unknown };
const here = new URL('.', import.meta.url).pathname;
const fx = (f: string): Pair[] => readFileSync(join(here, '../test/fixtures', f), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Pair);
const sets: Record<string, Pair[]> = {
  'unit-table': MATH_CASES.filter((c) => !c[3]).map(([gold, pred, expected]) => ({ gold, pred, expected })),
  dev: fx('math-edge-dev.jsonl').filter((c) => !c.opts),
  heldout: fx('math-edge-heldout.jsonl').filter((c) => !c.opts),
};
const extracted = (t: string, gold: boolean) => {
  if (gold) {
    const g = parseGold(t);
    if (g) return g.extracted;
  }
  return mathCandidates(undoubleBackslashes(t))[0]?.text ?? t.trim();
};

function ceEqual(a: string, b: string): boolean {
  const x = ce.parse(normalizeAnswer(a));
  const y = ce.parse(normalizeAnswer(b));
  if (!x.isValid || !y.isValid) return false;
  if (x.isSame(y)) return true;
  const eq = x.isEqual(y);
  if (eq !== undefined) return eq;
  for (const f of [() => ce.box(['Expand', ['Subtract', x, y]]).evaluate().simplify(), () => ce.box(['Subtract', x, y]).simplify(), () => ce.box(['Subtract', x, y]).N()]) {
    try {
      if (f().is(0)) return true;
    } catch {
      /* next method */
    }
  }
  return false;
}

function nerdamerEqual(a: string, b: string): boolean {
  const x = (nerdamer as unknown as { convertFromLaTeX(s: string): { toString(): string } }).convertFromLaTeX(normalizeAnswer(a)).toString();
  const y = (nerdamer as unknown as { convertFromLaTeX(s: string): { toString(): string } }).convertFromLaTeX(normalizeAnswer(b)).toString();
  return nerdamer(`expand((${x})-(${y}))`).toString() === '0' || nerdamer(`simplify((${x})-(${y}))`).toString() === '0';
}

const engines: Record<string, (a: string, b: string) => boolean> = { 'compute-engine': ceEqual, nerdamer: nerdamerEqual };
for (const [name, pairs] of Object.entries(sets)) {
  let ours = 0;
  let ourMs = 0;
  const line = [`${name.padEnd(10)} n=${pairs.length}`];
  for (const p of pairs) {
    const t = performance.now();
    if (verify(p.gold, p.pred).correct === p.expected) ours++;
    ourMs += performance.now() - t;
  }
  line.push(`falign ${((100 * ours) / pairs.length).toFixed(1)}% (${(ourMs / pairs.length).toFixed(2)} ms/pair)`);
  for (const [engine, eq] of Object.entries(engines)) {
    let ok = 0;
    let exceptions = 0;
    let ms = 0;
    for (const p of pairs) {
      const t = performance.now();
      let c = false;
      try {
        c = eq(extracted(p.gold, true), extracted(p.pred, false));
      } catch {
        exceptions++;
      }
      ms += performance.now() - t;
      if (c === p.expected) ok++;
    }
    line.push(`${engine} ${((100 * ok) / pairs.length).toFixed(1)}% (${(ms / pairs.length).toFixed(2)} ms/pair, ${exceptions} exceptions)`);
  }
  console.log(line.join('  '));
}

const dataDir = process.env.FALIGN_DATA_DIR;
if (dataDir) {
  const golds = readFileSync(join(dataDir, 'math500/test.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { answer: string }).answer);
  let ours = 0;
  let theirs = 0;
  let rescued = 0;
  for (const a of golds) {
    let o = true;
    try {
      parseLatex(normalizeAnswer(a));
    } catch {
      o = false;
    }
    const c = ce.parse(normalizeAnswer(a)).isValid as boolean;
    ours += o ? 1 : 0;
    theirs += c ? 1 : 0;
    rescued += !o && c ? 1 : 0;
  }
  console.log(`MATH-500 golds parsed: falign ${ours}/${golds.length}, compute-engine ${theirs}/${golds.length}, rescued by compute-engine ${rescued}`);
}

const adversarial = ['10^{10^{10}}', '1000!', '(10^{100})!', '\\binom{10^{9}}{10^{8}}', '9'.repeat(5000), '(x+1)^{200}', '(x+y+z)^{40}', '\\sum_{k=1}^{10^{9}} k', '\\prod_{k=1}^{10^{6}} k'];
const workerCode = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.url).then((m) => {
  const ce = new (m.ComputeEngine ?? m.default.ComputeEngine)(); const t = performance.now();
  const x = ce.parse(workerData.a); const y = ce.parse('5');
  let r; try { r = x.isEqual(y); if (r === undefined) r = ce.box(['Expand', ['Subtract', x, y]]).evaluate().simplify().is(0); } catch (e) { r = 'exception'; }
  try { x.N(); } catch {}
  parentPort.postMessage({ ms: performance.now() - t });
});`;
for (const a of adversarial) {
  const t0 = Date.now();
  const ms = await new Promise<string>((resolve) => {
    const w = new Worker(workerCode, { eval: true, workerData: { a, url: ceUrl } });
    const timer = setTimeout(() => void w.terminate().then(() => resolve('> 10000 (killed)')), 10_000);
    w.on('message', (m: { ms: number }) => {
      clearTimeout(timer);
      void w.terminate();
      resolve(m.ms.toFixed(0));
    });
    w.on('error', (e) => {
      clearTimeout(timer);
      resolve(`error after ${Date.now() - t0} (${e.message.slice(0, 60)})`);
    });
  });
  const t = performance.now();
  verify('5', a, { timeoutMs: 5000 });
  console.log(`adversarial ${a.slice(0, 28).padEnd(30)} compute-engine ${ms} ms   falign ${(performance.now() - t).toFixed(0)} ms`);
}
