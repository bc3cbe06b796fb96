/**
 * Agreement of the verifier with labelled pairs: the edge-case fixtures (a development split and a
 * held-out split, both written from Math-Verify's documented conventions) and "real-output" checks
 * built from written solutions (MATH-500 reference solutions end in `\boxed{}`, GSM8K ones in
 * `#### N`): each solution must verify against its own answer and must not verify against the
 * answer of a different problem.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { verify, type VerifyOptions, type VerifyResult } from '../math/verify.js';

/** One labelled pair of an edge-case fixture file. */
export interface EdgeCase {
  category: string;
  gold: string;
  pred: string;
  expected: boolean;
  opts?: VerifyOptions;
}

/** Agreement of the verifier with a labelled set. */
export interface Agreement {
  n: number;
  agree: number;
  /** Pairs whose gold could not be parsed (reported as `errorKind: 'gold'`). */
  goldErrors: number;
  byCategory: Record<string, { n: number; agree: number }>;
  misses: { category: string; gold: string; pred: string; expected: boolean; result: VerifyResult }[];
}

/** Reads a JSONL fixture of {@link EdgeCase}s; throws naming the file and line on a bad record. */
export function loadEdgeCases(file: string): EdgeCase[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line, i) => [line, i + 1] as const)
    .filter(([line]) => line.trim() !== '')
    .map(([line, no]) => {
      const v = JSON.parse(line) as EdgeCase;
      if (typeof v.gold !== 'string' || typeof v.pred !== 'string' || typeof v.expected !== 'boolean' || typeof v.category !== 'string')
        throw new Error(`${file}:${no}: expected {category, gold, pred, expected[, opts]}`);
      return v;
    });
}

/** Scores `verify` against labelled pairs. */
export function agreement(cases: readonly EdgeCase[], base: VerifyOptions = {}): Agreement {
  const out: Agreement = { n: 0, agree: 0, goldErrors: 0, byCategory: {}, misses: [] };
  for (const c of cases) {
    const r = verify(c.gold, c.pred, { ...base, ...c.opts });
    const ok = r.correct === c.expected;
    out.n++;
    if (ok) out.agree++;
    if (r.errorKind === 'gold') out.goldErrors++;
    const cat = (out.byCategory[c.category] ??= { n: 0, agree: 0 });
    cat.n++;
    if (ok) cat.agree++;
    else out.misses.push({ category: c.category, gold: c.gold, pred: c.pred, expected: c.expected, result: r });
  }
  return out;
}

function readJsonl<T>(file: string): T[] | null {
  if (!existsSync(file)) return null;
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as T);
}

/**
 * Real-output pairs from the datasets under `dataDir`: each MATH-500 solution against its own
 * answer (expected true) and against the next problem's answer when that differs as a value
 * (expected false); the same for GSM8K test solutions (gsm8k mode). Null when the data is absent.
 */
export function realOutputCases(dataDir: string): { math: EdgeCase[]; gsm8k: EdgeCase[] } | null {
  const math = readJsonl<{ answer: string; solution: string }>(join(dataDir, 'math500/test.jsonl'));
  const gsm = readJsonl<{ answer: string }>(join(dataDir, 'gsm8k/test.jsonl'));
  if (!math || !gsm) return null;
  const mathCases: EdgeCase[] = [];
  math.forEach((row, i) => {
    mathCases.push({ category: 'math500-own', gold: row.answer, pred: row.solution, expected: true });
    const other = math[(i + 1) % math.length];
    // the other answer must be a different value: check it with the verifier on bare answers both ways
    const same = verify(row.answer, other.answer).correct || verify(other.answer, row.answer).correct;
    if (!same) mathCases.push({ category: 'math500-other', gold: other.answer, pred: row.solution, expected: false });
  });
  const gsmCases: EdgeCase[] = [];
  const num = (a: string) => /####\s*(.*)$/.exec(a)?.[1].replace(/,/g, '').trim() ?? '';
  gsm.forEach((row, i) => {
    const body = row.answer.replace(/\n?####.*$/, '');
    const g = num(row.answer);
    const other = gsm[(i + 1) % gsm.length];
    gsmCases.push({ category: 'gsm8k-own', gold: row.answer, pred: `${body}\nThe answer is ${g}.`, expected: true, opts: { mode: 'gsm8k' } });
    if (num(other.answer) !== g)
      gsmCases.push({ category: 'gsm8k-other', gold: other.answer, pred: `${body}\nThe answer is ${g}.`, expected: false, opts: { mode: 'gsm8k' } });
  });
  return { math: mathCases, gsm8k: gsmCases };
}

/** `agree/n (pct%)`. */
export function formatAgreement(a: Pick<Agreement, 'n' | 'agree'>): string {
  return `${a.agree}/${a.n} (${a.n ? ((100 * a.agree) / a.n).toFixed(1) : '0.0'}%)`;
}
