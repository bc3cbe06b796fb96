/**
 * GSM8K answer extraction, three named rules:
 *
 * - `strict-match` and `flexible-extract` reproduce lm-evaluation-harness's `gsm8k` task exactly
 *   (filters of `gsm8k.yaml`, metric `exact_match` with `ignore_case` and `regexes_to_ignore`
 *   `,` `\$` `(?s).*#### ` `\.$`), so scores are comparable with published numbers — including
 *   their quirks: the strict regex `#### (\-?[0-9\.\,]+)` is unanchored, so `##### 4` and
 *   `x#### 4` count, and its first match wins even when it holds no digit (`#### .` → `.`, wrong);
 *   the flexible regex `(-?[$0-9.,]{2,})|(-?[0-9]+)` takes the LAST match, even an ellipsis
 *   (`...`); a missing match is lm-eval's `[invalid]`; equality is on the cleaned strings
 *   (`18.00` ≠ `18`).
 * - `falign` (the default): exact-format `#### N` (four hashes, not part of a longer run, N a
 *   well-formed number; an output with a malformed `####` line has no answer), else the last
 *   `\boxed{}` number, then "the answer is N", then the last number that has a digit; values
 *   compared exactly as decimals (`18.00` = `18`).
 */
import { lastBoxed } from '../math/extract.js';
import { Rational } from '../math/rational.js';

/** lm-eval's two filters by their published names, and falign's own rule. */
export type Gsm8kRule = 'strict-match' | 'flexible-extract' | 'falign';

/**
 * Which GSM8K extraction to use. The canonical names are {@link Gsm8kRule}; `strict`, `flexible`
 * and `auto` are accepted aliases of `strict-match`, `flexible-extract` and `falign`.
 */
export type Gsm8kExtraction = Gsm8kRule | 'strict' | 'flexible' | 'auto';

/** All rules, in report order. */
export const GSM8K_RULES: readonly Gsm8kRule[] = ['strict-match', 'flexible-extract', 'falign'];

/** The canonical rule name of an extraction option (default `falign`); throws on an unknown name. */
export function gsm8kRule(x: Gsm8kExtraction | undefined): Gsm8kRule {
  switch (x ?? 'falign') {
    case 'strict':
    case 'strict-match':
      return 'strict-match';
    case 'flexible':
    case 'flexible-extract':
      return 'flexible-extract';
    case 'auto':
    case 'falign':
      return 'falign';
    default:
      throw new Error(`unknown GSM8K extraction '${String(x)}' (expected ${GSM8K_RULES.join(', ')})`);
  }
}

/** Options of {@link extractGsm8k}. */
export interface Gsm8kOptions {
  extraction?: Gsm8kExtraction;
  /** `falign` rule only: just the last `maxInputChars` characters are searched (default 100,000). */
  maxInputChars?: number;
}

/** lm-eval `gsm8k.yaml` strict-match `regex_pattern` (group_select 0: the first match). */
export const LM_EVAL_STRICT = /#### (-?[0-9.,]+)/g;
/** lm-eval `gsm8k.yaml` flexible-extract `regex_pattern` (group_select -1: the last match). */
export const LM_EVAL_FLEXIBLE = /(-?[$0-9.,]{2,})|(-?[0-9]+)/g;
/** lm-eval's RegexFilter fallback when nothing matches. */
export const LM_EVAL_INVALID = '[invalid]';

/**
 * lm-eval's `exact_match` preprocessing of the gsm8k task, applied to prediction and reference
 * alike: `re.sub` of `,`, `\$`, `(?s).*#### `, `\.$` in that order (Python's `$` also matches
 * before a final newline), then lower case.
 */
export function lmEvalGsm8kClean(s: string): string {
  return s
    .replace(/,/g, '')
    .replace(/\$/g, '')
    .replace(/^[\s\S]*#### /, '')
    .replace(/\.(?=\n?$)/, '')
    .toLowerCase();
}

/** The filtered string of one lm-eval filter (`RegexFilter` + `take_first`), before cleaning. */
export function lmEvalGsm8kFilter(text: string, rule: 'strict-match' | 'flexible-extract'): string {
  const re = rule === 'strict-match' ? LM_EVAL_STRICT : LM_EVAL_FLEXIBLE;
  re.lastIndex = 0;
  let chosen: RegExpExecArray | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    chosen = m;
    if (rule === 'strict-match') break;
    if (m[0] === '') re.lastIndex++;
  }
  if (!chosen) return LM_EVAL_INVALID;
  // findall returns the groups; a tuple keeps its first non-empty group ([invalid] when none)
  const groups = chosen.slice(1).filter((g): g is string => g !== undefined && g !== '');
  return groups.length ? groups[0].trim() : LM_EVAL_INVALID;
}

/** lm-eval's ignore-regexes for GSM8K numbers (kept for callers of the earlier API). */
export function cleanGsm8kNumber(s: string): string {
  return s.replace(/^[\s\S]*#### /, '').replace(/[,$]/g, '').replace(/\.$/, '').trim();
}

/** Exact-format answer line: four hashes (not five), a space, a well-formed number. */
const FALIGN_HASH = /(?<!#)####[ \t]*\$?(-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?)(?![\d,.]*\d)/g;
const NUMBER = /-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+/g;
const ANSWER_IS = /answer is:?\s*\$?\s*(-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+)/gi;

function lastGroup(re: RegExp, text: string): string | null {
  re.lastIndex = 0;
  let last: string | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) last = m[1] ?? m[0];
  return last;
}

function falignExtract(text: string): string | null {
  const hash = lastGroup(FALIGN_HASH, text);
  if (hash !== null) return hash.replace(/,/g, '');
  // an answer line in the wrong form (`##### 4`, `#### four`) is no answer: no fallback may rescue it
  if (text.includes('####')) return null;
  const box = lastBoxed(text);
  if (box !== null) {
    const n = lastGroup(NUMBER, box.replace(/\\!|\\,|\{,\}/g, ''));
    if (n !== null) return n.replace(/,/g, '');
  }
  const a = lastGroup(ANSWER_IS, text) ?? lastGroup(NUMBER, text);
  return a === null ? null : a.replace(/,/g, '');
}

/**
 * Extracts the GSM8K answer of `text` by one rule. For the lm-eval rules it returns the cleaned
 * string lm-eval compares (null for `[invalid]`); for `falign` the number, or null.
 */
export function extractGsm8k(text: string, opts: Gsm8kOptions = {}): string | null {
  const rule = gsm8kRule(opts.extraction);
  if (rule !== 'falign') {
    const f = lmEvalGsm8kFilter(text, rule);
    return f === LM_EVAL_INVALID ? null : lmEvalGsm8kClean(f);
  }
  const max = opts.maxInputChars ?? 100_000;
  return falignExtract(text.length > max ? text.slice(text.length - max) : text);
}

/** Gold answer of a GSM8K record (`…#### 1,234` or a bare number), as a number string; null if absent. */
export function extractGsm8kGold(answer: string): string | null {
  const hash = lastGroup(/####\s*\$?(-?[0-9.,]*[0-9][0-9.,]*)/g, answer);
  if (hash !== null) return cleanGsm8kNumber(hash);
  const bare = cleanGsm8kNumber(answer.trim());
  if (/^-?[0-9]*\.?[0-9]+$/.test(bare)) return bare;
  return null;
}

/** Equality of two GSM8K numbers for the `falign` rule: exact decimal value (`18.00` = `18`). */
export function gsm8kEqual(gold: string, pred: string): boolean {
  if (gold === pred) return true;
  try {
    const a = Rational.parseDecimal(gold.replace(/^\+/, ''));
    const b = Rational.parseDecimal(pred.replace(/^\+/, ''));
    return !!a && !!b && a.equals(b);
  } catch {
    return false;
  }
}

const refCache = new Map<string, { ref: string; gold: string | null }>();

/** One rule's outcome. */
export interface Gsm8kRuleResult {
  correct: boolean;
  /** The string that was compared (lm-eval rules: after cleaning; `[invalid]` when nothing matched). */
  extracted: string | null;
}

/** The cleaned lm-eval reference and the falign gold of a GSM8K reference, cached (references repeat). */
function reference(text: string): { ref: string; gold: string | null } {
  let cached = refCache.get(text);
  if (!cached) {
    if (refCache.size >= 4096) refCache.delete(refCache.keys().next().value as string);
    cached = { ref: lmEvalGsm8kClean(text), gold: extractGsm8kGold(text) };
    refCache.set(text, cached);
  }
  return cached;
}

/**
 * Scores a completion against a GSM8K reference by one rule. `reference` is the dataset's
 * `answer` field (the solution ending in `#### N`) or a bare number; lm-eval compares against the
 * whole cleaned reference, as its `doc_to_target: "{{answer}}"` does.
 */
export function scoreGsm8kRule(referenceText: string, completion: string, rule: Gsm8kRule, opts: { maxInputChars?: number } = {}): Gsm8kRuleResult {
  const { ref, gold } = reference(referenceText);
  if (rule !== 'falign') {
    const f = lmEvalGsm8kFilter(completion, rule);
    const cleaned = lmEvalGsm8kClean(f);
    return { correct: cleaned === ref, extracted: f === LM_EVAL_INVALID ? f : cleaned };
  }
  const p = extractGsm8k(completion, { extraction: 'falign', maxInputChars: opts.maxInputChars });
  // identical text is the same answer, however it is written
  const identical = referenceText.trim() !== '' && completion.trim() === referenceText.trim();
  const correct = identical || (gold !== null && p !== null && gsm8kEqual(gold, p));
  return { correct, extracted: p };
}

/** Scores a completion against a GSM8K reference by all three rules (see {@link scoreGsm8kRule}). */
export function scoreGsm8k(referenceText: string, completion: string, opts: { maxInputChars?: number } = {}): Record<Gsm8kRule, Gsm8kRuleResult> {
  return {
    'strict-match': scoreGsm8kRule(referenceText, completion, 'strict-match', opts),
    'flexible-extract': scoreGsm8kRule(referenceText, completion, 'flexible-extract', opts),
    falign: scoreGsm8kRule(referenceText, completion, 'falign', opts),
  };
}

/** The falign gold of a GSM8K reference (cached), or null. */
export function gsm8kReferenceGold(referenceText: string): string | null {
  return reference(referenceText).gold;
}
