/**
 * `verify(gold, pred)`: extraction → normalisation → parsing → comparison, synchronous and
 * bounded. Errors (unparseable gold, undecidable sizes, deadline) are reported in `error`, never
 * as a silent "wrong". For a hard time limit, run it through {@link VerifierPool}.
 */
import { type MathNode, show } from './ast.js';
import { DeadlineError, answersMatch } from './compare.js';
import { type Candidate, type MathExtractor, findBoxes, mathCandidates } from './extract.js';
import { normalizeAnswer } from './normalize.js';
import { ParseError, parseLatex } from './parser.js';
import { TooLargeError } from './rational.js';
import { type Gsm8kExtraction, extractGsm8k, extractGsm8kGold, gsm8kEqual } from '../gsm8k/extract.js';

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
  /** GSM8K extraction rule (gsm8k mode; default `auto`). */
  gsm8kExtraction?: Gsm8kExtraction;
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
  if (hash && !findBoxes(gold).length) parsed = tryParse({ text: hash[1], source: 'whole' });
  if (!parsed) parsed = parseAnswer(gold, { priorities: GOLD_PRIORITIES, maxInputChars: 100_000 });
  goldCache.set(gold, parsed);
  return parsed;
}

const textNode = (s: string): MathNode => ({
  k: 'text',
  s: s.replace(/\\text\s*\{([^{}]*)\}/g, '$1').replace(/[$]/g, '').trim(),
});

function verifyGsm8k(gold: string, pred: string, o: VerifyOptions): VerifyResult {
  const g = extractGsm8kGold(gold);
  if (g === null) return { correct: false, extractedGold: null, extractedPred: null, error: 'gold: no number found in the gold answer', errorKind: 'gold' };
  const p = extractGsm8k(pred, { extraction: o.gsm8kExtraction, maxInputChars: o.maxInputChars });
  return { correct: p !== null && gsm8kEqual(g, p), extractedGold: g, extractedPred: p, error: null };
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
    const g = parseGold(gold);
    if (!g) return { correct: false, extractedGold: null, extractedPred: null, error: 'gold: could not parse the gold answer', errorKind: 'gold' };
    const co = {
      floatRounding: opts.floatRounding ?? 6,
      relTol: opts.relTol,
      allowSetRelationComp: opts.allowSetRelationComp,
      deadline: Date.now() + timeoutMs,
    };
    if (pred.trim() === gold.trim()) return { correct: true, extractedGold: g.extracted, extractedPred: g.extracted, error: null };
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
    if (show(g.node) === show(p.node)) return { correct: true, ...base, error: null };
    try {
      return { correct: answersMatch(g.node, p.node, co), ...base, error: null };
    } catch (e) {
      if (e instanceof TooLargeError) return { correct: false, ...base, error: e.message, errorKind: 'pred' };
      if (e instanceof DeadlineError) return { correct: false, ...base, error: `timeout after ${timeoutMs} ms`, errorKind: 'timeout' };
      if (e instanceof RangeError && /call stack/i.test(e.message)) return { correct: false, ...base, error: 'cannot decide: expression nested too deeply', errorKind: 'pred' };
      throw e;
    }
  } catch (e) {
    return { correct: false, extractedGold: null, extractedPred: null, error: `internal: ${(e as Error)?.message ?? String(e)}`, errorKind: 'internal' };
  }
}
