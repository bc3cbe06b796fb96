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
   * Only the last `maxInputChars` characters are searched (default 10,000), like verl's last-300
   * rule but looser; it bounds the work per output.
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

/** All `\boxed{…}` / `\fbox{…}` / `\boxed 5` occurrences with brace matching. */
export function findBoxes(text: string): Box[] {
  const boxes: Box[] = [];
  const re = /\\(?:boxed|fbox)(?![A-Za-z])\s*/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const at = m.index + m[0].length;
    if (text[at] === '{') {
      const end = matchBrace(text, at);
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

/** Last box, joined with directly preceding boxes (`\boxed{1}\boxed{2}` reads as `1, 2`). */
export function lastBoxed(text: string): string | null {
  const boxes = findBoxes(text);
  if (!boxes.length) return null;
  let i = boxes.length - 1;
  const parts = [boxes[i].content];
  while (i > 0) {
    const gap = text.slice(boxes[i - 1].end, boxes[i].start);
    if (!/^[\s$,;]*(?:and|\\text\{\s*and\s*\}|\\quad)?[\s$,;]*$/.test(gap) || gap.length > 40) break;
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

/** Candidate answer strings of `text`, in priority order (one per extractor that matches). */
export function mathCandidates(text: string, opts: ExtractOptions = {}): Candidate[] {
  const max = opts.maxInputChars ?? 10_000;
  const t = text.length > max ? text.slice(text.length - max) : text;
  const out: Candidate[] = [];
  for (const source of opts.priorities ?? DEFAULT_PRIORITIES) {
    let c: string | null = null;
    switch (source) {
      case 'boxed':
        c = lastBoxed(t);
        break;
      case 'final-answer':
        c = finalAnswer(t);
        break;
      case 'answer-is':
        c = answerIs(t);
        break;
      case 'whole':
        c = t.trim().length <= 300 ? t.trim() : null;
        break;
      case 'latex':
        c = lastLatex(t);
        break;
      case 'number':
        c = lastNumber(t);
        break;
    }
    if (c !== null && c.trim() !== '') out.push({ text: c.trim(), source });
  }
  return out;
}
