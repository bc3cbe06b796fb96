/**
 * Answer extraction from free-form model output (Math-Verify's "parser" stage): candidate
 * strings in priority order; the verifier parses them in turn and keeps the first that parses.
 */
import { matchBrace } from './normalize.js';

/** The extractors, by name. */
export type MathExtractor = 'boxed' | 'final-answer' | 'answer-is' | 'whole' | 'latex' | 'number';

/**
 * Default priority order for predictions. Boxed first, as Math-Verify's FAQ recommends for RL
 * rewards; then Minerva's "final answer is … I hope", "the answer is …", the whole output when it
 * is a bare answer, the last LaTeX math span, the last plain number.
 */
export const DEFAULT_PRIORITIES: readonly MathExtractor[] = ['boxed', 'final-answer', 'answer-is', 'whole', 'latex', 'number'];

/** Extraction options. */
export interface ExtractOptions {
  /** Extractors to try, in order (omit one to disable it). */
  priorities?: readonly MathExtractor[];
  /**
   * Only the last `maxInputChars` characters are searched (default 100,000: an answer boxed early
   * in a long chain of thought is still found); it bounds the work per output. The `final-answer`,
   * `latex` and `number` extractors look at the last 10,000 of them only.
   */
  maxInputChars?: number;
}

/** One extracted answer string and where it came from. */
export interface Candidate {
  text: string;
  source: MathExtractor;
}

interface Box {
  start: number;
  end: number;
  content: string;
}

/**
 * For every `{` of `text`, the index just past its matching `}` (-1 when unclosed), in one pass;
 * backslash-escaped characters are skipped, as in {@link matchBrace}. Matching each box on its own
 * would be quadratic on `\boxed{\boxed{\boxed{…` (model output is untrusted).
 */
function braceEnds(text: string): Map<number, number> {
  const ends = new Map<number, number>();
  const stack: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 92 /* \ */) i++;
    else if (c === 123) stack.push(i);
    else if (c === 125 && stack.length) ends.set(stack.pop() as number, i + 1);
  }
  for (const open of stack) ends.set(open, -1);
  return ends;
}

/** All `\boxed{…}` / `\fbox{…}` / `\boxed 5` occurrences with brace matching. */
export function findBoxes(text: string): Box[] {
  const boxes: Box[] = [];
  const re = /\\(?:boxed|fbox)(?![A-Za-z])\s*/g;
  let ends: Map<number, number> | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const at = m.index + m[0].length;
    if (text[at] === '{') {
      ends ??= braceEnds(text);
      const end = ends.get(at) ?? matchBrace(text, at);
      if (end < 0) continue; // unclosed: ignore this box
      boxes.push({ start: m.index, end, content: text.slice(at + 1, end - 1) });
      re.lastIndex = end;
    } else if (m[0].length > m[0].trimEnd().length || /^\s/.test(m[0].slice(-1))) {
      const rest = /^[^\s$]+/.exec(text.slice(at, at + 200));
      if (rest) boxes.push({ start: m.index, end: at + rest[0].length, content: rest[0].replace(/[.,;]$/, '') });
    }
  }
  return boxes;
}

/**
 * What may separate boxes of one answer (Math-Verify joins boxes separated by `,`, `and`, `or`):
 * punctuation, math delimiters, `and`/`or` (bare or in `\text{}`), `\quad`, and the name the
 * next box is assigned to (`$x = \boxed{-2}$ or $x = \boxed{5}$`).
 */
const BOX_GAP = /^[\s$,;.]*(?:\\[()\[\]])?[\s$,;]*(?:and|or|\\text\{\s*(?:and|or)\s*\}|\\q?quad)?[\s$,;]*(?:\\[()\[\]])?\s*(?:[A-Za-z](?:_\{?\w+\}?)?\s*=\s*)?$/;

/** Last box, joined with directly preceding boxes (`\boxed{1}\boxed{2}` reads as `1, 2`). */
export function lastBoxed(text: string): string | null {
  const boxes = findBoxes(text);
  if (!boxes.length) return null;
  let i = boxes.length - 1;
  const parts = [boxes[i].content];
  while (i > 0) {
    const gap = text.slice(boxes[i - 1].end, boxes[i].start);
    if (!BOX_GAP.test(gap) || gap.length > 40) break;
    parts.unshift(boxes[--i].content);
  }
  return parts.join(', ');
}

function stripMathDelims(s: string): string {
  let t = s.trim();
  const m = /^(?:\$\$|\$|\\\[|\\\()([\s\S]*?)(?:\$\$|\$|\\\]|\\\))$/.exec(t);
  if (m) t = m[1];
  return t.trim();
}

function finalAnswer(text: string): string | null {
  const re = /final answer is\s*([\s\S]*?)\.?\s*I hope/gi;
  let last: string | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) last = m[1];
  return last === null ? null : stripMathDelims(last.replace(/\.$/, ''));
}

function answerIs(text: string): string | null {
  const re = /answer\s*(?:is|:)\s*:?\s*([^\n]*)/gi;
  let last: string | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) last = m[1];
  if (last === null) return null;
  let s = last.trim();
  const math = /^(\$\$[\s\S]+?\$\$|\$[^$]+\$|\\\[[\s\S]+?\\\]|\\\([\s\S]+?\\\))/.exec(s);
  if (math) return stripMathDelims(math[1]);
  s = s.replace(/(?:\.\s.*|\.)$/, '');
  return s.trim() || null;
}

function lastLatex(text: string): string | null {
  const re = /\$\$([\s\S]+?)\$\$|\\\[([\s\S]+?)\\\]|\\\(([\s\S]+?)\\\)|\$([^$]+?)\$/g;
  let last: string | null = null;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const inline = m[4] ?? m[3];
    if (inline !== undefined && /\n/.test(inline)) continue; // inline math must stay on one line
    last = (m[1] ?? m[2] ?? inline ?? '').trim();
  }
  return last;
}

const NUMBER_RE = /(?<![A-Za-z0-9_.\\])-?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?(?:\/\d+)?|\.\d+)(?![0-9])/g;

function lastNumber(text: string): string | null {
  // a LaTeX-formatted output must give its answer in well-formed math mode
  if (/\$[^$]*\$|\\\[|\\\(/.test(text)) return null;
  let last: string | null = null;
  NUMBER_RE.lastIndex = 0;
  for (let m = NUMBER_RE.exec(text); m; m = NUMBER_RE.exec(text)) last = m[0];
  return last;
}

/** LaTeX commands whose doubled-backslash spelling (`\\frac`) marks text escaped twice. */
const DOUBLED_CMDS =
  'boxed|fbox|frac|dfrac|tfrac|sqrt|left|right|begin|end|text|textbf|mathrm|pi|cdot|times|pm|infty|le|leq|ge|geq|ne|neq|in|cup|cap|approx|circ|sin|cos|tan|log|ln|theta|alpha|beta|overline|angle|triangle|sum|quad|dots|ldots|mathbb';
const DOUBLED = new RegExp(`(?<!\\\\)\\\\\\\\(?:(?:${DOUBLED_CMDS})(?![A-Za-z])|[()\\[\\]])`, 'g');
const SINGLE = new RegExp(`(?<!\\\\)\\\\(?:${DOUBLED_CMDS})(?![A-Za-z])`);

/**
 * Undoes doubled backslashes (`\\boxed{\\frac{1}{2}}`, from text escaped twice). When every
 * command is doubled, all backslash pairs are halved (so a doubled matrix row break `\\\\`
 * becomes `\\`); when both spellings occur, only doubled commands and delimiters are fixed.
 */
export function undoubleBackslashes(text: string): string {
  if (!text.includes('\\\\')) return text;
  DOUBLED.lastIndex = 0;
  if (!DOUBLED.test(text)) return text;
  DOUBLED.lastIndex = 0;
  if (!SINGLE.test(text.replace(DOUBLED, ''))) return text.replace(/\\\\/g, '\\');
  DOUBLED.lastIndex = 0;
  return text.replace(DOUBLED, (m) => m.slice(1));
}

/**
 * Window of the `final-answer`, `latex` and `number` extractors (the last 10,000 characters of the
 * searched text): their lazy regexes may rescan to the end for every unclosed opener, so a longer
 * window would make adversarial outputs quadratic. `boxed` and `answer-is` are linear and search
 * the whole `maxInputChars` window.
 */
const NEAR_WINDOW = 10_000;

/** Candidate answer strings of `text`, in priority order (one per extractor that matches). */
export function mathCandidates(text: string, opts: ExtractOptions = {}): Candidate[] {
  const max = opts.maxInputChars ?? 100_000;
  const t = undoubleBackslashes(text.length > max ? text.slice(text.length - max) : text);
  // extractors whose regexes can rescan the rest of the text per occurrence get a shorter window
  const near = t.length > NEAR_WINDOW ? t.slice(t.length - NEAR_WINDOW) : t;
  const out: Candidate[] = [];
  for (const source of opts.priorities ?? DEFAULT_PRIORITIES) {
    let c: string | null = null;
    switch (source) {
      case 'boxed':
        c = lastBoxed(t);
        break;
      case 'final-answer':
        c = finalAnswer(near);
        break;
      case 'answer-is':
        c = answerIs(t);
        break;
      case 'whole':
        c = t.trim().length <= 300 ? t.trim() : null;
        break;
      case 'latex':
        c = lastLatex(near);
        break;
      case 'number':
        c = lastNumber(near);
        break;
    }
    if (c !== null && c.trim() !== '') out.push({ text: c.trim(), source });
  }
  return out;
}
