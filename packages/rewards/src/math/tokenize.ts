/**
 * Tokeniser for normalised LaTeX answers. Total: unknown characters become 'bad' tokens which
 * the parser rejects, so no input throws here.
 */

export type Tok =
  | { t: 'num'; s: string }
  | { t: 'id'; s: string }
  | { t: 'word'; s: string }
  | { t: 'cmd'; s: string }
  | { t: 'text'; s: string }
  | { t: 'begin'; s: string }
  | { t: 'end'; s: string }
  | { t: 'op'; s: string }
  | { t: 'bad'; s: string }
  | { t: 'eof'; s: '' };

const OPS = new Set(['+', '-', '*', '/', '^', '_', '(', ')', '[', ']', '{', '}', ',', ';', '=', '<', '>', '!', '|', '&', "'", ':']);

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * Splits `s` into tokens. Thousands separators (`1,234,567`) are merged into one number only
 * outside brackets, where a comma list is otherwise ambiguous; `1000,99` (4+ integer digits,
 * 1-2 decimals) reads as a decimal comma.
 */
export function tokenize(s: string, maxTokens = 20000): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  let depth = 0;
  const n = s.length;
  while (i < n) {
    if (out.length > maxTokens) {
      out.push({ t: 'bad', s: 'too many tokens' });
      break;
    }
    const c = s.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13) {
      i++;
      continue;
    }
    if (isDigit(c) || (c === 46 && i + 1 < n && isDigit(s.charCodeAt(i + 1)))) {
      let j = i;
      while (j < n && isDigit(s.charCodeAt(j))) j++;
      const intDigits = j - i;
      // a leading 0 never starts a thousands group ("0,111" is a decimal comma or a list)
      if (depth === 0 && intDigits <= 3 && intDigits > 0 && s.charCodeAt(i) !== 48) {
        const m = /^(?:,\d{3})+(?![\d])/.exec(s.slice(j, j + 400));
        if (m && !/^,\d/.test(s.slice(j + m[0].length))) j += m[0].length;
      } else if (intDigits >= 4) {
        const m = /^,(\d{1,2})(?![\d])/.exec(s.slice(j, j + 4));
        if (m && !/^\s*\d/.test(s.slice(j + m[0].length))) {
          out.push({ t: 'num', s: `${s.slice(i, j)}.${m[1]}` });
          i = j + m[0].length;
          continue;
        }
      }
      if (j < n && s.charCodeAt(j) === 46 && j + 1 < n && isDigit(s.charCodeAt(j + 1))) {
        j++;
        while (j < n && isDigit(s.charCodeAt(j))) j++;
      } else if (j < n && s.charCodeAt(j) === 46 && intDigits > 0 && !(j + 1 < n && s.charCodeAt(j + 1) === 46)) {
        j++; // "5." reads as 5.0
      }
      out.push({ t: 'num', s: s.slice(i, j).replace(/,/g, '') });
      i = j;
      continue;
    }
    if (isLetter(c)) {
      let j = i;
      while (j < n && isLetter(s.charCodeAt(j))) j++;
      out.push(j - i === 1 ? { t: 'id', s: s[i] } : { t: 'word', s: s.slice(i, j) });
      i = j;
      continue;
    }
    if (c === 92 /* \ */) {
      const next = s.charCodeAt(i + 1);
      if (isLetter(next)) {
        let j = i + 1;
        while (j < n && isLetter(s.charCodeAt(j))) j++;
        const name = s.slice(i + 1, j);
        if (name === 'text' || name === 'textnormal' || name === 'mathrm' || name === 'textrm' || name === 'mbox') {
          let k = j;
          while (k < n && s[k] === ' ') k++;
          if (s[k] === '{') {
            let d = 0;
            let e = k;
            for (; e < n; e++) {
              if (s[e] === '{') d++;
              else if (s[e] === '}' && --d === 0) break;
            }
            if (e >= n) {
              out.push({ t: 'bad', s: 'unclosed \\text' });
              return out;
            }
            out.push({ t: 'text', s: s.slice(k + 1, e).trim() });
            i = e + 1;
            continue;
          }
        }
        if (name === 'begin' || name === 'end') {
          const m = /^\s*\{\s*([A-Za-z*]+)\s*\}/.exec(s.slice(j, j + 40));
          if (m) {
            out.push({ t: name, s: m[1] });
            i = j + m[0].length;
            if (name === 'begin' && m[1] === 'array') {
              const spec = /^\s*\{[^{}]*\}/.exec(s.slice(i, i + 100));
              if (spec) i += spec[0].length;
            }
            continue;
          }
          out.push({ t: 'bad', s: name });
          i = j;
          continue;
        }
        out.push({ t: 'cmd', s: name });
        i = j;
        continue;
      }
      if (next === 123 || next === 125) {
        out.push({ t: 'op', s: next === 123 ? '\\{' : '\\}' });
        if (next === 123) depth++;
        else depth--;
        i += 2;
        continue;
      }
      if (next === 92) {
        out.push({ t: 'op', s: '\\\\' });
        i += 2;
        continue;
      }
      if (next === 37 /* % */) {
        out.push({ t: 'cmd', s: '%' });
        i += 2;
        continue;
      }
      if (next === 124 /* | */) {
        out.push({ t: 'op', s: '|' });
        i += 2;
        continue;
      }
      i += 2; // other escaped punctuation (spacing) is ignored
      continue;
    }
    const ch = s[i];
    if (c === 37) {
      out.push({ t: 'cmd', s: '%' });
      i++;
      continue;
    }
    if (OPS.has(ch)) {
      if (ch === '(' || ch === '[' || ch === '{') depth++;
      else if (ch === ')' || ch === ']' || ch === '}') depth--;
      if ((ch === '<' || ch === '>') && s[i + 1] === '=') {
        out.push({ t: 'op', s: ch + '=' });
        i += 2;
        continue;
      }
      if (ch === '!' && s[i + 1] === '=') {
        out.push({ t: 'op', s: '!=' });
        i += 2;
        continue;
      }
      if (ch === '*' && s[i + 1] === '*') {
        out.push({ t: 'op', s: '^' });
        i += 2;
        continue;
      }
      out.push({ t: 'op', s: ch });
      i++;
      continue;
    }
    out.push({ t: 'bad', s: ch });
    i++;
  }
  out.push({ t: 'eof', s: '' });
  return out;
}
