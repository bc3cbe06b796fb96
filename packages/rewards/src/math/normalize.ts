/**
 * String-level normalisation of an extracted answer before parsing (Math-Verify's "normaliser"
 * stage plus the Hendrycks/Minerva fixes): Unicode symbols, spacing commands, \dfrac & co.,
 * degrees, currency, percent words, unit words and `\text{}` units, thousands separators.
 */

const GREEK_NAMES: Record<string, string> = {
  α: 'alpha', β: 'beta', γ: 'gamma', δ: 'delta', ε: 'epsilon', ζ: 'zeta', η: 'eta', θ: 'theta', ι: 'iota', κ: 'kappa',
  λ: 'lambda', μ: 'mu', ν: 'nu', ξ: 'xi', ρ: 'rho', σ: 'sigma', τ: 'tau', υ: 'upsilon', φ: 'phi', χ: 'chi', ψ: 'psi',
  ω: 'omega', Γ: 'Gamma', Δ: 'Delta', Θ: 'Theta', Λ: 'Lambda', Ξ: 'Xi', Σ: 'Sigma', Φ: 'Phi', Ψ: 'Psi', Ω: 'Omega',
};

const UNICODE: ReadonlyArray<[RegExp, string | ((c: string) => string)]> = [
  [/[\u2212\u2012\u2013\u2014\uFE63\uFF0D]/g, '-'],
  [/×/g, '\\times '],
  [/÷/g, '\\div '],
  [/·|⋅/g, '\\cdot '],
  [/π/g, '\\pi '],
  [/[αβγδεζηθικλμνξρστυφχψωΓΔΘΛΞΣΦΨΩ]/g, (c: string) => `\\${GREEK_NAMES[c]} `],
  [/∞/g, '\\infty '],
  [/≤|⩽/g, '\\le '],
  [/≥|⩾/g, '\\ge '],
  [/≠/g, '\\ne '],
  [/≈/g, '\\approx '],
  [/∪/g, '\\cup '],
  [/∩/g, '\\cap '],
  [/∈/g, '\\in '],
  [/±/g, '\\pm '],
  [/∓/g, '\\mp '],
  [/∅/g, '\\emptyset '],
  [/√\s*\(/g, '\\sqrt('],
  [/√\s*([0-9]+(?:\.[0-9]+)?|[A-Za-z])/g, '\\sqrt{$1}'],
  [/√/g, '\\sqrt'],
  [/½/g, '(1/2)'],
  [/⅓/g, '(1/3)'],
  [/⅔/g, '(2/3)'],
  [/¼/g, '(1/4)'],
  [/¾/g, '(3/4)'],
  [/⅕/g, '(1/5)'],
  [/⅛/g, '(1/8)'],
  [/²/g, '^2'],
  [/³/g, '^3'],
  [/°/g, '^\\circ'],
  [/[€£¥₹]/g, ' '],
  [/[\u00A0\u2009\u202F\u2007\u200B]/g, ' '],
  [/[\u2018\u2019]/g, "'"],
];

/** Unit words dropped after a number (Minerva/Qwen lists, shortened). Single letters are not units. */
const UNIT_WORDS = [
  'dollars?', 'cents?', 'usd', 'euros?', 'pounds?', 'units?', 'square\\s+(?:units|feet|foot|meters?|inches|inch|miles?|centimeters?|cm|m|km|ft|yards?)',
  'sq\\.?\\s*(?:units|ft|feet|m|cm|in)', 'cubic\\s+(?:units|feet|foot|meters?|inches|inch|centimeters?|cm|m|ft|yards?)',
  'meters?', 'metres?', 'centimeters?', 'millimeters?', 'kilometers?', 'miles?', 'feet', 'foot', 'inches', 'inch',
  'yards?', 'cm', 'mm', 'km', 'kg', 'mg', 'ml', 'ft', 'mph', 'kph', 'km/h', 'm/s', 'grams?', 'kilograms?', 'liters?', 'litres?',
  'gallons?', 'ounces?', 'oz', 'lbs?', 'tons?', 'seconds?', 'secs?', 'minutes?', 'mins?', 'hours?', 'hrs?', 'days?', 'weeks?',
  'months?', 'years?', 'degrees?', 'radians?', 'points?', 'people', 'students?', 'apples?', 'marbles?', 'books?', 'eggs?',
  'times', 'ways', 'cups?', 'pieces?', 'items?', 'bottles?', 'boxes', 'bags?', 'pages?', 'pens?', 'pencils?', 'trees?',
  'cookies?', 'cars?', 'visitors?', 'children', 'kids', 'men', 'women', 'hrs?', 'm\\^?[23]', 'cm\\^?[23]', 'km\\^?[23]', 'in\\^?[23]', 'ft\\^?[23]', 'm',
];
const UNIT_TAIL = new RegExp(`(?<=[0-9}.)])\\s*(?:${UNIT_WORDS.join('|')})(?:\\s*\\^\\s*\\{?[23]\\}?)?\\s*$`, 'i');
const TEXT_CMD = /\\(?:text|textnormal|textrm|mathrm|mbox|textit|textsf|texttt|textup|hbox|textbf)\s*\{/g;

/** Finds the index just past the `}` that closes the `{` at `open`; -1 if unbalanced. */
export function matchBrace(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92 /* \ */) {
      i++;
      continue;
    }
    if (c === 123) depth++;
    else if (c === 125) {
      depth--;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/**
 * Rewrites `\text{…}`-style groups: "and"/"or" become list commas, a group holding the whole
 * answer stays (a string answer such as `\text{(C)}`), other word groups are units and vanish.
 */
function rewriteTextGroups(s: string): string {
  TEXT_CMD.lastIndex = 0;
  if (!TEXT_CMD.test(s)) return s;
  let out = '';
  let i = 0;
  TEXT_CMD.lastIndex = 0;
  for (let m = TEXT_CMD.exec(s); m; m = TEXT_CMD.exec(s)) {
    const open = m.index + m[0].length - 1;
    const close = matchBrace(s, open);
    if (close < 0) break;
    const content = s.slice(open + 1, close - 1).trim();
    const whole = s.slice(0, m.index).trim() === '' && s.slice(close).trim() === '';
    out += s.slice(i, m.index);
    if (whole) out += m[0].replace(/\\\w+\s*\{/, '\\text{') + content + '}';
    else if (/^(and|or|,)$/i.test(content)) out += ',';
    else if (/^[A-Za-z][A-Za-z\s.\-/^0-9²³]*$/.test(content) && /[A-Za-z]{2,}|^[A-Za-z]$/.test(content)) {
      // unit words after a value ("5 \text{ meters}", "\mathrm{cm}^2"); a lone letter is kept as a symbol
      if (/^[A-Za-z]$/.test(content) && !/[0-9}]\s*$/.test(out)) out += content;
      else if (/^[A-Za-z]$/.test(content)) out += ` ${content}`;
      else {
        out += ' ';
        const pow = /^\s*\^\s*(?:\{\s*[23]\s*\}|[23])/.exec(s.slice(close));
        if (pow) {
          i = close + pow[0].length;
          TEXT_CMD.lastIndex = i;
          continue;
        }
      }
    } else out += s.slice(m.index, close);
    i = close;
    TEXT_CMD.lastIndex = close;
  }
  return out + s.slice(i);
}

const MIXED_NUMBER = /(?<![\w.^_}\\])(\d{1,9})\s*\\frac\s*\{\s*(\d{1,9})\s*\}\s*\{\s*(\d{1,9})\s*\}/g;
const APPROX = /\\approx(?![a-zA-Z])/;
/** A name that an approximation may be assigned to (`x \approx 3.1`): a Latin letter or a Greek variable, not π. */
const APPROX_NAME = /^(?:[A-Za-z]|\\(?:alpha|beta|gamma|delta|theta|lambda|mu|sigma|phi|varphi|omega|rho|tau))(?:_\{?[A-Za-z0-9]+\}?)?$/;

/**
 * `\approx` tails: `\frac{22}{7} \approx 3.14` answers the exact value before the first `\approx`;
 * `x \approx 3.14` (a name on the left) answers the value after the last one.
 */
function dropApproxTail(s: string): string {
  if (!APPROX.test(s)) return s;
  const parts = s.split(new RegExp(APPROX.source, 'g'));
  const left = parts[0].trim();
  if (left === '' || APPROX_NAME.test(left)) return `${left ? `${left} = ` : ''}${parts[parts.length - 1].trim()}`;
  return left;
}

/**
 * Normalises an extracted answer string (no extraction happens here). Pure and total: any input
 * gives a string, which the parser may still reject.
 */
export function normalizeAnswer(input: string): string {
  let s = input;
  for (const [re, rep] of UNICODE) s = s.replace(re, rep as string);
  s = s.replace(/[\r\n\t]+/g, ' ');
  // thin-space thousands separators: "32,\! 349", "1{,}000", "1\,000"
  // `,\!` and `{,}` before exactly three digits are unambiguous thousands separators (even in brackets)
  s = s.replace(/(\d)\s*(?:,\s*\\!|\{,\})\s*(?=\d{3}(?!\d))/g, '$1');
  s = s.replace(/,\s*\\!\s*/g, ',').replace(/\{,\}/g, ',');
  s = s.replace(/(\d)\\[,;:! ](?<!\\\\[,;:! ])\s*(?=\d{3}(?!\d))/g, '$1,');
  s = s.replace(/\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|big|Big|bigg|Bigg)(?![a-zA-Z])\s*\.?/g, (m) => (m.endsWith('.') ? '' : ''));
  s = s.replace(/\\(?:displaystyle|textstyle|limits|nolimits)(?![a-zA-Z])/g, ' ');
  s = s.replace(/\\\\|\\[,;:!> ]|\\q?quad(?![a-zA-Z])|~/g, (m) => (m === '\\\\' ? m : ' '));
  s = s.replace(/\\[dtc]frac(?![a-zA-Z])/g, '\\frac').replace(/\\[dt]binom(?![a-zA-Z])/g, '\\binom');
  // mixed numbers (MATH convention): `2\frac{1}{4}` = 2 + 1/4 when the fraction is proper
  s = s.replace(MIXED_NUMBER, (m, w: string, a: string, b: string) => (BigInt(a) < BigInt(b) ? `(${w}+\\frac{${a}}{${b}})` : m));
  s = s.replace(/\\(?:mathbf|boldsymbol|mathit|bm|mathsf|mathcal)\s*(?=\{)/g, '');
  s = s.replace(/\\operatorname\s*\{\s*([A-Za-z]+)\s*\}/g, '\\$1 ');
  // degrees
  s = s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree/g, ' ');
  s = s.replace(/\\text\s*\{\s*\}/g, '');
  // percent words, currency
  s = s.replace(/(\d|\})\s*(?:\\?%|percent|pct)(?![a-zA-Z])/gi, '$1\\%');
  s = s.replace(/\\\$|\$/g, ' ');
  s = dropApproxTail(s);
  s = s.replace(/\\(?:approx|equiv|simeq|doteq|coloneqq)(?![a-zA-Z])|:=/g, '=');
  // `f(x) = …` names a function: read the left side as one name so the answer is the right side
  s = s.replace(/^\s*([A-Za-z])\s*\(\s*([A-Za-z](?:\s*,\s*[A-Za-z])*)\s*\)\s*=(?!=)/, (_m, f: string, args: string) => `${f}_{(${args.replace(/\s+/g, '')})} =`);
  s = rewriteTextGroups(s);
  s = s.replace(/\\emptyset|\\varnothing/g, '\\{\\}');
  s = s.replace(/\\mathbb\s*\{?\s*R\s*\}?/g, '\\reals ');
  s = s.replace(/\binfinity\b/gi, '\\infty ');
  s = s.replace(/(?<![A-Za-z\\])(and|or)(?![A-Za-z])/g, ',');
  s = s.trim();
  // trailing unit words and sentence punctuation
  for (let k = 0; k < 3; k++) {
    const before = s;
    s = s.replace(/[\s.,;:]+$/, '');
    s = s.replace(UNIT_TAIL, '');
    if (s === before) break;
  }
  // "1 000 000" (space thousands) when it is the whole answer
  if (/^-?\d{1,3}(?: \d{3})+(?:\.\d+)?$/.test(s)) s = s.replace(/ /g, '');
  return s.trim();
}
