/**
 * GSM8K answer extraction with lm-evaluation-harness semantics (anchors B.2): strict `#### N`,
 * flexible "last number" (`(-?[$0-9.,]{2,})|(-?[0-9]+)`, last match), and the ignore-regexes
 * `,`, `$`, `(?s).*#### `, `\.$` applied to both sides.
 */
import { lastBoxed } from '../math/extract.js';
import { Rational } from '../math/rational.js';

/**
 * Which GSM8K extraction to use. `strict` and `flexible` are lm-eval's two filters exactly: strict
 * takes the FIRST `#### N` (regex filter, group_select 0), flexible the LAST number anywhere
 * (group_select -1), even when a `#### N` is present. `auto` (the reward default): the last
 * `#### N`, then `\boxed{}`, then "The answer is", then the last number.
 */
export type Gsm8kExtraction = 'strict' | 'flexible' | 'auto';

/** Options of {@link extractGsm8k}. */
export interface Gsm8kOptions {
  extraction?: Gsm8kExtraction;
  /** Only the last `maxInputChars` characters are searched (default 10,000). */
  maxInputChars?: number;
}

const STRICT = /#### (-?[0-9.,]+)/g;
const FLEXIBLE = /(-?[$0-9.,]{2,})|(-?[0-9]+)/g;
const ANSWER_IS = /answer is:?\s*\$?\s*(-?[$0-9.,]+)/gi;

/** lm-eval's `regexes_to_ignore` for GSM8K: `,`, `$`, `(?s).*#### `, `\.$`. */
export function cleanGsm8kNumber(s: string): string {
  return s.replace(/^[\s\S]*#### /, '').replace(/[,$]/g, '').replace(/\.$/, '').trim();
}

function firstMatch(re: RegExp, text: string, accept: (s: string) => boolean = () => true): string | null {
  re.lastIndex = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const s = m[1] ?? m[2] ?? m[0];
    if (accept(s)) return s;
  }
  return null;
}

function lastMatch(re: RegExp, text: string, accept: (s: string) => boolean = () => true): string | null {
  re.lastIndex = 0;
  let last: string | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const s = m[1] ?? m[2] ?? m[0];
    if (accept(s)) last = s;
  }
  return last;
}

const hasDigit = (s: string) => /[0-9]/.test(s);

/**
 * Extracts the GSM8K answer number from `text`, cleaned with the ignore-regexes; null when
 * there is none. The flexible rule skips matches without a digit (verl drops "" and ".").
 */
export function extractGsm8k(text: string, opts: Gsm8kOptions = {}): string | null {
  const max = opts.maxInputChars ?? 10_000;
  const t = text.length > max ? text.slice(text.length - max) : text;
  const mode = opts.extraction ?? 'auto';
  if (mode === 'strict') {
    const first = firstMatch(STRICT, t, hasDigit);
    return first === null ? null : cleanGsm8kNumber(first);
  }
  if (mode === 'auto') {
    const strict = lastMatch(STRICT, t, hasDigit);
    if (strict !== null) return cleanGsm8kNumber(strict);
    const box = lastBoxed(t);
    if (box !== null) {
      const n = lastMatch(FLEXIBLE, box.replace(/\\!|\\,|\{,\}/g, ''), hasDigit);
      if (n !== null) return cleanGsm8kNumber(n);
    }
    const a = lastMatch(ANSWER_IS, t, hasDigit);
    if (a !== null) return cleanGsm8kNumber(a);
  }
  const f = lastMatch(FLEXIBLE, t, hasDigit);
  return f === null ? null : cleanGsm8kNumber(f);
}

/** Gold answer of a GSM8K record (`…#### 1,234` or a bare number), cleaned; null if absent. */
export function extractGsm8kGold(answer: string): string | null {
  const strict = lastMatch(STRICT, answer, hasDigit);
  if (strict !== null) return cleanGsm8kNumber(strict);
  const bare = cleanGsm8kNumber(answer.trim());
  if (/^-?[0-9]*\.?[0-9]+$/.test(bare)) return bare;
  return null;
}

/** Equality of two cleaned GSM8K numbers: string match, else exact decimal value (`18.00` = `18`). */
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
