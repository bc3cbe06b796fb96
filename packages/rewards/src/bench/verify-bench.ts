/**
 * Verifier bench: agreement and throughput, printed as figures.
 *
 * 1. Edge-case agreement with labelled pairs written from Math-Verify's documented conventions:
 *    the held-out split (`test/fixtures/math-edge-heldout.jsonl`, scored only, never developed
 *    against) and the development split (`math-edge-dev.jsonl`), by category.
 * 2. Real-output agreement: MATH-500 reference solutions and GSM8K solutions against their own and
 *    another problem's answer, plus the labelled throughput items below.
 * 3. Throughput: GSM8K-style checks and MATH-style checks (MATH-500 golds against equivalent and
 *    perturbed predictions), synchronous and through the worker pool.
 *
 * Reads FALIGN_DATA_DIR/{gsm8k,math500}/test.jsonl when present, else generates inputs. Run with
 * `npm run bench:rewards` (or `node packages/rewards/dist/bench/verify-bench.js`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VerifierPool, type VerifyItem } from '../pool/verifier-pool.js';
import { verify, type VerifyOptions } from '../math/verify.js';
import { agreement, formatAgreement, loadEdgeCases, realOutputCases, type Agreement } from './agreement.js';

const here = dirname(fileURLToPath(import.meta.url));
const dataDir = process.env.FALIGN_DATA_DIR ?? join(here, '../../../../../shared/datasets');
const fixtures = join(here, '../../test/fixtures');

function readJsonl<T>(file: string): T[] | null {
  if (!existsSync(file)) return null;
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as T);
}

/** A throughput item with the outcome it is built to have. */
type LabelledItem = VerifyItem & { expected: boolean };

function gsm8kItems(): LabelledItem[] {
  const rows = readJsonl<{ answer: string }>(join(dataDir, 'gsm8k/test.jsonl'));
  const golds = rows ? rows.map((r) => r.answer) : Array.from({ length: 1000 }, (_, i) => `step ${i}\n#### ${i * 37}`);
  const items: LabelledItem[] = [];
  golds.forEach((gold, i) => {
    const g = /#### (.*)$/.exec(gold)?.[1] ?? '0';
    const body = gold.replace(/#### .*$/, '');
    items.push({ gold, pred: `${body}So the answer is ${g}.`, opts: { mode: 'gsm8k' }, expected: true });
    items.push({ gold, pred: `${body}The total is $${Number(g.replace(/,/g, '')) + (i % 3)}.`, opts: { mode: 'gsm8k' }, expected: i % 3 === 0 });
  });
  return items;
}

function mathItems(): LabelledItem[] {
  const rows = readJsonl<{ answer: string }>(join(dataDir, 'math500/test.jsonl'));
  const golds = rows ? rows.map((r) => r.answer) : ['\\frac{1}{2}', '3\\sqrt{2}', '(1,2)', '[0,1)', 'x^2+1', '\\frac{\\pi}{4}'];
  const items: LabelledItem[] = [];
  for (const g of golds) {
    items.push({ gold: g, pred: `Thus, the final answer is $\\boxed{${g}}$.`, expected: true }); // string-equal after extraction
    items.push({ gold: g, pred: `We get $\\boxed{${g.replace(/\\frac/g, '\\dfrac')} + 1}$`, expected: false }); // perturbed: wrong
    items.push({ gold: g, pred: `So $\\boxed{\\left(${g}\\right)}$.`, expected: true }); // equivalent but not string-equal
  }
  return items;
}

/** Checks per wall-clock second and per CPU second (the latter is steadier on a shared machine). */
function syncRate(items: VerifyItem[], minMs = 1500): { rate: number; cpuRate: number; correct: number; errors: number } {
  let n = 0;
  let correct = 0;
  let errors = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    for (const it of items) {
      const r = verify(it.gold, it.pred, it.opts as VerifyOptions);
      n++;
      if (r.correct) correct++;
      if (r.error) errors++;
    }
  }
  const c = process.cpuUsage(c0);
  return { rate: n / ((performance.now() - t0) / 1000), cpuRate: n / ((c.user + c.system) / 1e6), correct: correct / n, errors: errors / n };
}

async function poolRate(pool: VerifierPool, items: VerifyItem[]): Promise<number> {
  await pool.verifyMany(items.slice(0, 50)); // warm up workers
  const t0 = performance.now();
  await pool.verifyMany(items);
  return items.length / ((performance.now() - t0) / 1000);
}

function labelledAgreement(items: readonly LabelledItem[]): Agreement {
  return agreement(items.map((it) => ({ category: 'labelled', gold: it.gold, pred: it.pred, expected: it.expected, opts: it.opts })));
}

const pct = (a: Pick<Agreement, 'n' | 'agree'>) => formatAgreement(a).padStart(18);
const cats = (a: Agreement) => Object.entries(a.byCategory).map(([k, v]) => `${k} ${v.agree}/${v.n}`).join(', ');

async function main(): Promise<void> {
  const g = gsm8kItems();
  const m = mathItems();
  const showMisses = process.argv.includes('--misses');

  console.log('verify bench: agreement');
  for (const [name, file] of [['held-out', 'math-edge-heldout.jsonl'], ['dev     ', 'math-edge-dev.jsonl']] as const) {
    const path = join(fixtures, file);
    if (!existsSync(path)) {
      console.log(`  edge cases ${name}: fixture not found (${path})`);
      continue;
    }
    const a = agreement(loadEdgeCases(path));
    console.log(`  edge cases ${name}: ${pct(a)} agree, ${a.goldErrors} gold error(s)  [${cats(a)}]`);
    // the held-out split is scored only: its misses are not printed, so rules are not tuned to them
    if (showMisses && file !== 'math-edge-heldout.jsonl') for (const x of a.misses) console.log(`    miss ${x.category}: ${JSON.stringify(x.gold)} vs ${JSON.stringify(x.pred.slice(-80))} expected ${x.expected} (${x.result.error ?? x.result.extractedPred})`);
  }
  const real = realOutputCases(dataDir);
  if (real) {
    const rm = agreement(real.math);
    const rg = agreement(real.gsm8k);
    console.log(`  real outputs MATH-500 solutions: ${pct(rm)} agree  [${cats(rm)}]`);
    console.log(`  real outputs GSM8K solutions   : ${pct(rg)} agree  [${cats(rg)}]`);
    if (showMisses) for (const x of rm.misses) console.log(`    miss ${x.category}: ${JSON.stringify(x.gold)} (${x.result.error ?? x.result.extractedPred})`);
  } else console.log(`  real outputs: datasets not found under ${dataDir}`);
  const lm = labelledAgreement(m);
  const lg = labelledAgreement(g);
  console.log(`  labelled MATH-500 checks       : ${pct(lm)} agree (gold boxed as-is, in \\left( \\right), and + 1)`);
  console.log(`  labelled GSM8K checks          : ${pct(lg)} agree (restated answer, off-by-0..2 totals)`);
  if (showMisses) for (const x of lm.misses) console.log(`    miss labelled: ${JSON.stringify(x.gold)} vs ${JSON.stringify(x.pred)} expected ${x.expected}`);

  // warm-up (JIT, gold cache, lazy mathjs)
  syncRate(g, 300);
  syncRate(m, 300);
  const gs = syncRate(g);
  const ms = syncRate(m);
  const fmt = (x: number) => x.toFixed(0).padStart(8);
  console.log(`verify bench: throughput (data: ${existsSync(join(dataDir, 'gsm8k/test.jsonl')) ? dataDir : 'generated'})`);
  console.log(`  gsm8k  sync : ${fmt(gs.rate)} verifications/s, ${fmt(gs.cpuRate)} per CPU-second  (n=${g.length} items, ${(100 * gs.correct).toFixed(1)}% correct, ${(100 * gs.errors).toFixed(2)}% errors; target >= 20000)`);
  console.log(`  math   sync : ${fmt(ms.rate)} verifications/s, ${fmt(ms.cpuRate)} per CPU-second  (n=${m.length} items, ${(100 * ms.correct).toFixed(1)}% correct, ${(100 * ms.errors).toFixed(2)}% errors; target >= 2000)`);
  const pool = new VerifierPool();
  try {
    console.log(`  gsm8k  pool : ${fmt(await poolRate(pool, g))} verifications/s  (${pool.size} workers)`);
    console.log(`  math   pool : ${fmt(await poolRate(pool, m))} verifications/s  (${pool.size} workers)`);
  } finally {
    await pool.close();
  }
}

await main();
