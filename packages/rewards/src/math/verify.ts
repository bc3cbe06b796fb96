/**
 * `verify(gold, pred)`: extraction → normalisation → parsing → comparison, synchronous and
 * bounded. Errors (unparseable gold, undecidable sizes, deadline) are reported in `error`, never
 * as a silent "wrong". For a hard time limit, run it through {@link VerifierPool}.
 */
import { type MathNode, freeVars, renameVars, show } from './ast.js';
import { DeadlineError, answersMatch } from './compare.js';
import { type Candidate, type MathExtractor, findBoxes, mathCandidates, undoubleBackslashes } from './extract.js';
import { constantValue, exactValue, isScalar } from './evaluate.js';
import { normalizeAnswer } from './normalize.js';
import { ParseError, parseLatex } from './parser.js';
import { TooLargeError } from './rational.js';
import { type Gsm8kExtraction, type Gsm8kRule, type Gsm8kRuleResult, gsm8kReferenceGold, gsm8kRule, scoreGsm8k, scoreGsm8kRule } from '../gsm8k/extract.js';

/** Options of {@link verify}. */
export interface VerifyOptions {
  /** `math` (default): full LaTeX verifier. `gsm8k`: lm-eval GSM8K number matching. */
  mode?: 'math' | 'gsm8k';
  /** Decimal places used when either side has a float literal (Math-Verify default 6). */
  floatRounding?: number;
  /** Extra relative tolerance for numbers (off by default; Qwen uses 1e-4). */
  relTol?: number;
  /**
   * Time budget in ms (default 5000). Synchronous `verify` checks it cooperatively between steps;
   * {@link VerifierPool} enforces it hard by terminating the worker.
   */
  timeoutMs?: number;
  /** Prediction extractors in priority order (math mode). */
  priorities?: readonly MathExtractor[];
  /** Only the last N characters of an output are searched (default 10,000). */
  maxInputChars?: number;
  /** Accept an inequality prediction for a gold interval (off: Math-Verify's anti-hacking asymmetry). */
  allowSetRelationComp?: boolean;
  /** GSM8K extraction rule (gsm8k mode; default `falign`). */
  gsm8kExtraction?: Gsm8kExtraction;
  /** gsm8k mode: also report every rule's outcome in `result.gsm8k` (off by default: it costs three extractions). */
  gsm8kAllRules?: boolean;
  /**
   * Variables must match (default true, Math-Verify's `strict`). With `false`, when both sides
   * have the same number of free variables the prediction's are renamed to the gold's (in sorted
   * order), so `f(y)` answers `f(x)`.
   */
  strict?: boolean;
}

/** Which side an error belongs to; rewards treat `pred` errors as wrong and the others as "no score". */
export type VerifyErrorKind = 'gold' | 'pred' | 'timeout' | 'internal';

/** Outcome of one verification. */
export interface VerifyResult {
  correct: boolean;
  /** The gold answer string that was used (after extraction), or null if none was found. */
  extractedGold: string | null;
  /** The predicted answer string that was used, or null if none was found. */
  extractedPred: string | null;
  /** Why the check could not be decided; null when it was decided (correct or not). */
  error: string | null;
  /** Side of the error, when `error` is set. */
  errorKind?: VerifyErrorKind;
  /**
   * gsm8k mode with `gsm8kAllRules`: the outcome under every named rule (lm-eval's
   * `strict-match` and `flexible-extract`, and `falign`); `correct` is the one `gsm8kExtraction` selects.
   */
  gsm8k?: Record<Gsm8kRule, Gsm8kRuleResult>;
}

/** A parsed answer: the extracted string, where it came from, and its tree. */
export interface ParsedAnswer {
  extracted: string;
  source: MathExtractor | 'gsm8k';
  node: MathNode;
}

// no last-number fallback for gold: a malformed gold must be an error, not whatever number it contains
const GOLD_PRIORITIES: readonly MathExtractor[] = ['boxed', 'whole', 'final-answer', 'answer-is', 'latex'];

function tryParse(c: Candidate): ParsedAnswer | null {
  try {
    const norm = normalizeAnswer(c.text);
    return { extracted: c.text, source: c.source, node: parseLatex(norm) };
  } catch (e) {
    if (e instanceof ParseError || e instanceof TooLargeError || e instanceof RangeError) return null;
    throw e;
  }
}

/**
 * Extracts and parses an answer from free text: the first candidate (in priority order) that
 * parses. Returns null when none does. Never evaluates anything.
 */
export function parseAnswer(text: string, opts: { priorities?: readonly MathExtractor[]; maxInputChars?: number } = {}): ParsedAnswer | null {
  for (const c of mathCandidates(text, opts)) {
    const p = tryParse(c);
    if (p) return p;
  }
  return null;
}

/**
 * Extracts the final answer string of a MATH-style output (boxed, "final answer is", …) without
 * parsing it; null when nothing is found.
 */
export function extractMathAnswer(text: string, opts: { priorities?: readonly MathExtractor[]; maxInputChars?: number } = {}): string | null {
  return parseAnswer(text, opts)?.extracted ?? mathCandidates(text, opts)[0]?.text ?? null;
}

/** Gold answers repeat across samples (G completions per prompt): cache their parse. */
class LruCache<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly cap: number) {}
  get(k: string): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    if (this.map.size >= this.cap) this.map.delete(this.map.keys().next().value as string);
    this.map.set(k, v);
  }
}

const goldCache = new LruCache<ParsedAnswer | null>(4096);

/** Parses a gold answer (bare LaTeX, `$…$`, a solution with `\boxed{}`, or `… #### N`), cached. */
export function parseGold(gold: string): ParsedAnswer | null {
  const hit = goldCache.get(gold);
  if (hit !== undefined) return hit;
  let parsed: ParsedAnswer | null = null;
  const hash = /####\s*(.+?)\s*$/.exec(gold);
  if (hash && !findBoxes(gold).length) parsed = tryParse({ text: undoubleBackslashes(hash[1]), source: 'whole' });
  if (!parsed) parsed = parseAnswer(gold, { priorities: GOLD_PRIORITIES, maxInputChars: 100_000 });
  goldCache.set(gold, parsed);
  return parsed;
}

const textNode = (s: string): MathNode => ({
  k: 'text',
  s: s.replace(/\\text\s*\{([^{}]*)\}/g, '$1').replace(/\\(?:left|right)(?![A-Za-z])/g, '').replace(/[$]/g, '').trim(),
});

function verifyGsm8k(gold: string, pred: string, o: VerifyOptions): VerifyResult {
  const rule = gsm8kRule(o.gsm8kExtraction);
  const g = gsm8kReferenceGold(gold);
  // identical text is the same answer under falign's rule even without a number in it
  const identical = gold.trim() !== '' && pred.trim() === gold.trim();
  if (g === null && !(identical && rule === 'falign'))
    return { correct: false, extractedGold: null, extractedPred: null, error: 'gold: no number found in the gold answer', errorKind: 'gold' };
  const base = { extractedGold: g ?? gold.trim(), error: null };
  if (!o.gsm8kAllRules) {
    const r = scoreGsm8kRule(gold, pred, rule, { maxInputChars: o.maxInputChars });
    return { correct: r.correct, extractedPred: r.extracted, ...base };
  }
  const all = scoreGsm8k(gold, pred, { maxInputChars: o.maxInputChars });
  return { correct: all[rule].correct, extractedPred: all[rule].extracted, ...base, gsm8k: all };
}

/** Whitespace-free normal form of an answer string, for comparing answers that cannot be parsed. */
const canonicalText = (s: string): string => normalizeAnswer(undoubleBackslashes(s)).replace(/\s+/g, '');

/**
 * A gold answer the parser cannot read (`\overline{AB}`, `\angle ABC`): the prediction is right
 * when its extracted answer is the same string after normalisation; otherwise the pair is
 * reported as a gold error (never a silent "wrong").
 */
function unparseableGold(gold: string, pred: string, opts: VerifyOptions): VerifyResult {
  const gc = mathCandidates(gold, { priorities: GOLD_PRIORITIES, maxInputChars: 100_000 }).map((c) => c.text);
  const hash = /####\s*(.+?)\s*$/.exec(gold);
  if (hash) gc.unshift(hash[1]);
  if (!gc.length) gc.push(gold.trim());
  const goldForms = new Set(gc.filter((t) => t.length <= 5000).map(canonicalText).filter((t) => t !== ''));
  for (const c of mathCandidates(pred, { priorities: opts.priorities, maxInputChars: opts.maxInputChars })) {
    if (c.text.length <= 5000 && goldForms.has(canonicalText(c.text))) return { correct: true, extractedGold: gc[0] ?? gold.trim(), extractedPred: c.text, error: null };
  }
  return { correct: false, extractedGold: gc[0] ?? null, extractedPred: null, error: 'gold: could not parse the gold answer', errorKind: 'gold' };
}

const DECIMAL_COMMA_HINT = /^[^,]{0,80}(?:,|\{,\})[^,]{0,80}$/;

/** `2,74` / `3{,}5` / `0,111` read as decimals, when the whole answer has that shape. */
function decimalCommaReading(extracted: string): MathNode | null {
  if (!DECIMAL_COMMA_HINT.test(extracted)) return null; // cheap filter: normalising is not
  // no space around the comma: `1, 2` is a list of two answers, never 1.2
  const m = /^\s*(-?\d+)(?:,|\{,\})(\d+)\s*$/.exec(normalizeAnswer(extracted).replace(/\{,\}/g, ','));
  if (!m) return null;
  try {
    return parseLatex(`${m[1]}.${m[2]}`);
  } catch {
    return null;
  }
}

/** Whether the gold itself cannot be decided (`10^{10^{10}}`, `1/0`): then the error is the gold's, not the prediction's. */
function goldTooLarge(n: MathNode): boolean {
  try {
    exactValue(n);
    if (isScalar(n) && freeVars(n).size === 0) constantValue(n);
    return false;
  } catch (e) {
    return e instanceof TooLargeError;
  }
}

/** Math-Verify's non-strict mode: the prediction's variables renamed to the gold's, in sorted order. */
function unifyVariables(g: MathNode, p: MathNode): MathNode {
  const gv = [...freeVars(g)].sort();
  const pv = [...freeVars(p)].sort();
  if (gv.length !== pv.length || gv.every((v, i) => v === pv[i])) return p;
  return renameVars(p, new Map(pv.map((v, i) => [v, gv[i]])));
}

/**
 * Checks whether `pred` (a model output) answers `gold`. Synchronous and total: it returns a
 * result for any strings, never throws, and never executes model text. `correct` is false
 * whenever `error` is set.
 *
 * @example verify('\\frac{1}{2}', 'so the answer is $\\boxed{0.5}$') // { correct: true, … }
 */
export function verify(gold: string, pred: string, opts: VerifyOptions = {}): VerifyResult {
  const timeoutMs = opts.timeoutMs ?? 5000;
  try {
    if (typeof gold !== 'string' || typeof pred !== 'string') throw new TypeError('gold and pred must be strings');
    if ((opts.mode ?? 'math') === 'gsm8k') return verifyGsm8k(gold, pred, opts);
    // identical strings are the same answer, whether or not they can be parsed
    if (pred.trim() === gold.trim() && gold.trim() !== '') {
      const same = gold.length <= 10_000 ? (parseGold(gold)?.extracted ?? gold.trim()) : gold.trim();
      return { correct: true, extractedGold: same, extractedPred: same, error: null };
    }
    const g = parseGold(gold);
    if (!g) return unparseableGold(gold, pred, opts);
    const co = {
      floatRounding: opts.floatRounding ?? 6,
      relTol: opts.relTol,
      allowSetRelationComp: opts.allowSetRelationComp,
      deadline: Date.now() + timeoutMs,
    };
    const candidates = mathCandidates(pred, { priorities: opts.priorities, maxInputChars: opts.maxInputChars });
    let p: ParsedAnswer | null = null;
    for (const c of candidates) {
      p = tryParse(c);
      if (p) break;
    }
    if (!p) {
      // string answers ("\text{Monday}") may be written as plain words
      if (g.node.k === 'text' && candidates.length) p = { extracted: candidates[0].text, source: candidates[0].source, node: textNode(candidates[0].text) };
      else return { correct: false, extractedGold: g.extracted, extractedPred: candidates[0]?.text ?? null, error: null };
    }
    const base = { extractedGold: g.extracted, extractedPred: p.extracted };
    let pNode = p.node;
    if (opts.strict === false) pNode = unifyVariables(g.node, pNode);
    if (show(g.node) === show(pNode)) return { correct: true, ...base, error: null };
    try {
      if (answersMatch(g.node, pNode, co)) return { correct: true, ...base, error: null };
      // a decimal comma (`2,74`) reads as a two-item list; try the decimal reading of either side
      const gAlt = decimalCommaReading(g.extracted);
      const pAlt = decimalCommaReading(p.extracted);
      const correct = (!!pAlt && answersMatch(g.node, pAlt, co)) || (!!gAlt && answersMatch(gAlt, pAlt ?? pNode, co));
      return { correct, ...base, error: null };
    } catch (e) {
      if (e instanceof TooLargeError) return { correct: false, ...base, error: e.message, errorKind: goldTooLarge(g.node) ? 'gold' : 'pred' };
      if (e instanceof DeadlineError) return { correct: false, ...base, error: `timeout after ${timeoutMs} ms`, errorKind: 'timeout' };
      if (e instanceof RangeError && /call stack/i.test(e.message)) return { correct: false, ...base, error: 'cannot decide: expression nested too deeply', errorKind: 'pred' };
      throw e;
    }
  } catch (e) {
    return { correct: false, extractedGold: null, extractedPred: null, error: `internal: ${(e as Error)?.message ?? String(e)}`, errorKind: 'internal' };
  }
}
