/**
 * Text normalisation for refusal matching. Models emit typographic quotes ("I can’t"), markdown
 * emphasis and uneven spacing; the benchmark lists only ever contain ASCII apostrophes, so without
 * this step a polite refusal with a curly apostrophe slips through every list.
 */

const APOSTROPHES = /[\u2018\u2019\u201A\u201B\u2032\u02BC\u02BB\uFF07`´]/g;
const DOUBLE_QUOTES = /[\u201C\u201D\u201E\u201F\u2033\u00AB\u00BB\uFF02]/g;
const DASHES = /[\u2010-\u2015\u2212]/g;
const SPACES = /[\u00A0\u2000-\u200B\u202F\u205F\u3000]/g;

/** Replaces typographic apostrophes, quotes, dashes and odd spaces with their ASCII forms. */
export function normalizeQuotes(text: string): string {
  return text
    .replace(APOSTROPHES, "'")
    .replace(DOUBLE_QUOTES, '"')
    .replace(DASHES, '-')
    .replace(SPACES, ' ');
}

// Expanded forms are folded into contractions so that one pattern covers "I cannot",
// "I can not" and "I can't", "I am" and "I'm", and so on. Order matters: "can not" before "not".
const CONTRACTIONS: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bcan ?not\b/g, "can't"],
  [/\bwill not\b/g, "won't"],
  [/\bdo not\b/g, "don't"],
  [/\bdoes not\b/g, "doesn't"],
  [/\bwould not\b/g, "wouldn't"],
  [/\bis not\b/g, "isn't"],
  [/\bi am\b/g, "i'm"],
  [/\bi would\b/g, "i'd"],
  [/\bi will\b/g, "i'll"],
  [/\bit is\b/g, "it's"],
  [/\bthat is\b/g, "that's"],
  [/\bthis is\b/g, 'this is'],
];

/**
 * Canonical form used by the default judge: ASCII quotes, lower case, contractions folded,
 * markdown emphasis and heading markers removed, whitespace collapsed.
 */
export function canonicalize(text: string): string {
  let t = normalizeQuotes(text).toLowerCase();
  t = t.replace(/[*_~]{1,3}/g, '').replace(/^[\s>#"']+/, '');
  t = t.replace(/[ \t]+/g, ' ');
  for (const [re, rep] of CONTRACTIONS) t = t.replace(re, rep);
  return t.trim();
}

/**
 * The first `sentences` sentences of `text`, at most `maxChars` characters. A sentence ends at
 * `.`, `!` or `?` followed by whitespace, or at a line break (list items and headings count as
 * sentences). Leading blank lines are ignored.
 */
export function openingOf(text: string, sentences: number, maxChars: number): string {
  const parts: string[] = [];
  let start = 0;
  const push = (end: number) => {
    const piece = text.slice(start, end).trim();
    if (piece !== '') parts.push(piece);
    start = end;
  };
  for (let i = 0; i < text.length && parts.length < sentences; i++) {
    const c = text[i];
    if (c === '\n') {
      push(i + 1);
    } else if (c === '.' || c === '!' || c === '?') {
      // A dot inside a token ("e.g.", "3.5", "file.txt") does not end a sentence: only a run of
      // terminators followed by whitespace or the end of the text does.
      let j = i;
      while (j + 1 < text.length && '.!?'.includes(text[j + 1])) j++;
      if (j + 1 >= text.length || /\s/.test(text[j + 1])) push(j + 1);
      i = j;
    }
  }
  if (parts.length < sentences) push(text.length);
  const joined = parts.join(' ');
  return joined.length > maxChars ? joined.slice(0, maxChars) : joined;
}

/** The first sentence of `text` (see {@link openingOf}). */
export function firstSentence(text: string): string {
  return openingOf(text, 1, Number.POSITIVE_INFINITY);
}
