/**
 * Verifier throughput: GSM8K-style checks (extraction + compare) and MATH-style checks
 * (MATH-500 gold answers against perturbed and equivalent predictions), synchronous and through
 * the worker pool. Reads FALIGN_DATA_DIR/{gsm8k,math500}/test.jsonl when present, else generates
 * inputs. Prints verifications/s; run with `node packages/rewards/dist/bench/verify-bench.js`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VerifierPool, type VerifyItem } from '../pool/verifier-pool.js';
import { verify, type VerifyOptions } from '../math/verify.js';

const here = dirname(fileURLToPath(import.meta.url));
const dataDir = process.env.FALIGN_DATA_DIR ?? join(here, '../../../../../shared/datasets');

function readJsonl<T>(file: string): T[] | null {
  if (!existsSync(file)) return null;
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as T);
}

function gsm8kItems(): VerifyItem[] {
  const rows = readJsonl<{ answer: string }>(join(dataDir, 'gsm8k/test.jsonl'));
  const golds = rows ? rows.map((r) => r.answer) : Array.from({ length: 1000 }, (_, i) => `step ${i}\n#### ${i * 37}`);
  const items: VerifyItem[] = [];
  golds.forEach((gold, i) => {
    const g = /#### (.*)$/.exec(gold)?.[1] ?? '0';
    const body = gold.replace(/#### .*$/, '');
    items.push({ gold, pred: `${body}So the answer is ${g}.`, opts: { mode: 'gsm8k' } });
    items.push({ gold, pred: `${body}The total is $${Number(g.replace(/,/g, '')) + (i % 3)}.`, opts: { mode: 'gsm8k' } });
  });
  return items;
}

function mathItems(): VerifyItem[] {
  const rows = readJsonl<{ answer: string }>(join(dataDir, 'math500/test.jsonl'));
  const golds = rows ? rows.map((r) => r.answer) : ['\\frac{1}{2}', '3\\sqrt{2}', '(1,2)', '[0,1)', 'x^2+1', '\\frac{\\pi}{4}'];
  const items: VerifyItem[] = [];
  for (const g of golds) {
    items.push({ gold: g, pred: `Thus, the final answer is $\\boxed{${g}}$.` }); // string-equal after extraction
    items.push({ gold: g, pred: `We get $\\boxed{${g.replace(/\\frac/g, '\\dfrac')} + 1}$` }); // perturbed: wrong
    items.push({ gold: g, pred: `So $\\boxed{\\left(${g}\\right)}$.` }); // equivalent but not string-equal
  }
  return items;
}

function syncRate(items: VerifyItem[], minMs = 1500): { rate: number; correct: number; errors: number } {
  let n = 0;
  let correct = 0;
  let errors = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    for (const it of items) {
      const r = verify(it.gold, it.pred, it.opts as VerifyOptions);
      n++;
      if (r.correct) correct++;
      if (r.error) errors++;
    }
  }
  return { rate: n / ((performance.now() - t0) / 1000), correct: correct / n, errors: errors / n };
}

async function poolRate(pool: VerifierPool, items: VerifyItem[]): Promise<number> {
  await pool.verifyMany(items.slice(0, 50)); // warm up workers
  const t0 = performance.now();
  await pool.verifyMany(items);
  return items.length / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const g = gsm8kItems();
  const m = mathItems();
  // warm-up (JIT, gold cache, lazy mathjs)
  syncRate(g, 300);
  syncRate(m, 300);
  const gs = syncRate(g);
  const ms = syncRate(m);
  const fmt = (x: number) => x.toFixed(0).padStart(8);
  console.log(`verify bench (data: ${existsSync(join(dataDir, 'gsm8k/test.jsonl')) ? dataDir : 'generated'})`);
  console.log(`  gsm8k  sync : ${fmt(gs.rate)} verifications/s  (n=${g.length} items, ${(100 * gs.correct).toFixed(1)}% correct, ${(100 * gs.errors).toFixed(2)}% errors; target >= 20000)`);
  console.log(`  math   sync : ${fmt(ms.rate)} verifications/s  (n=${m.length} items, ${(100 * ms.correct).toFixed(1)}% correct, ${(100 * ms.errors).toFixed(2)}% errors; target >= 2000)`);
  const pool = new VerifierPool();
  try {
    console.log(`  gsm8k  pool : ${fmt(await poolRate(pool, g))} verifications/s  (${pool.size} workers)`);
    console.log(`  math   pool : ${fmt(await poolRate(pool, m))} verifications/s  (${pool.size} workers)`);
  } finally {
    await pool.close();
  }
}

await main();
