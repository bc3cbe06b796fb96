/**
 * The expression tree produced by the LaTeX parser. It is our own small tree (not a mathjs or
 * SymPy object) so that parsing untrusted text never reaches a general-purpose evaluator.
 */
import type { Rational } from './rational.js';

/** A parsed mathematical answer. */
export type MathNode =
  /** Numeric literal; `float` marks a decimal point in the source (triggers float rounding). */
  | { k: 'num'; v: Rational; float: boolean }
  /** Variable or constant (`pi`, `e`, `i`, `inf`); subscripted names keep their subscript (`x_1`). */
  | { k: 'sym'; name: string }
  | { k: 'add'; args: MathNode[] }
  | { k: 'mul'; args: MathNode[] }
  | { k: 'neg'; arg: MathNode }
  | { k: 'div'; num: MathNode; den: MathNode }
  | { k: 'pow'; base: MathNode; exp: MathNode }
  /** Function call: sqrt, root (args [index, radicand]), sin…, log (args [x, base?]), abs, fact, binom. */
  | { k: 'fn'; name: string; args: MathNode[] }
  /** Percentage `x\%`: compared as x or x/100 (see compare.ts). */
  | { k: 'pct'; arg: MathNode }
  /** `a \pm b` (or `\mp`): stands for the set {a+b, a−b}. */
  | { k: 'pm'; a: MathNode; b: MathNode; sign: 1 | -1 }
  /** Parenthesised list `(a, b, …)`: ordered; a 2-tuple also reads as an open interval. */
  | { k: 'tuple'; items: MathNode[] }
  /** Comma list without brackets (`1, 2` or several boxes): unordered against sets. */
  | { k: 'list'; items: MathNode[] }
  | { k: 'set'; items: MathNode[] }
  | { k: 'interval'; lo: MathNode; hi: MathNode; loClosed: boolean; hiClosed: boolean }
  | { k: 'union'; args: MathNode[] }
  | { k: 'intersect'; args: MathNode[] }
  /** Relation chain: args.length === ops.length + 1. ops are '=', '<', '<=', '>', '>=', '!='. */
  | { k: 'rel'; ops: RelOp[]; args: MathNode[] }
  | { k: 'matrix'; rows: MathNode[][] }
  /** Ratio or clock time `a : b` (`3:4`, `12:00`): compared item by item, never as a quotient. */
  | { k: 'ratio'; items: MathNode[] }
  /** Membership `x \in S`. */
  | { k: 'in'; elem: MathNode; set: MathNode }
  /** A string answer (from `\text{…}` or a word); compared as text only. */
  | { k: 'text'; s: string };

export type RelOp = '=' | '<' | '<=' | '>' | '>=' | '!=';

/** Number of nodes in a tree (used for work bounds). */
export function nodeCount(n: MathNode): number {
  let c = 1;
  for (const ch of children(n)) c += nodeCount(ch);
  return c;
}

/** Direct children of a node. */
export function children(n: MathNode): MathNode[] {
  switch (n.k) {
    case 'num':
    case 'sym':
    case 'text':
      return [];
    case 'add':
    case 'mul':
    case 'union':
    case 'intersect':
      return n.args;
    case 'fn':
      return n.args;
    case 'rel':
      return n.args;
    case 'neg':
    case 'pct':
      return [n.arg];
    case 'div':
      return [n.num, n.den];
    case 'pow':
      return [n.base, n.exp];
    case 'pm':
      return [n.a, n.b];
    case 'tuple':
    case 'list':
    case 'set':
    case 'ratio':
      return n.items;
    case 'interval':
      return [n.lo, n.hi];
    case 'matrix':
      return n.rows.flat();
    case 'in':
      return [n.elem, n.set];
  }
}

/** Free variable names of a tree (constants pi, e, i, inf excluded). */
export function freeVars(n: MathNode, out: Set<string> = new Set()): Set<string> {
  if (n.k === 'sym') {
    if (!CONSTANTS.has(n.name)) out.add(n.name);
    return out;
  }
  if (isBigOperator(n)) {
    // the index variable of Σ/Π is bound
    const [body, index, lo, hi] = n.args;
    const inner = freeVars(body);
    if (index.k === 'sym') inner.delete(index.name);
    for (const v of inner) out.add(v);
    freeVars(lo, out);
    freeVars(hi, out);
    return out;
  }
  for (const ch of children(n)) freeVars(ch, out);
  return out;
}

/** Whether some node of the tree satisfies `pred` (a walk; trees hold BigInts, so never JSON.stringify them). */
export function someNode(n: MathNode, pred: (x: MathNode) => boolean): boolean {
  if (pred(n)) return true;
  for (const ch of children(n)) if (someNode(ch, pred)) return true;
  return false;
}

/** A copy of the tree with variables renamed by `map` (names not in the map are kept). */
export function renameVars(n: MathNode, map: ReadonlyMap<string, string>): MathNode {
  if (n.k === 'sym') return map.has(n.name) ? { k: 'sym', name: map.get(n.name) as string } : n;
  const r = (x: MathNode) => renameVars(x, map);
  switch (n.k) {
    case 'num':
    case 'text':
      return n;
    case 'add':
    case 'mul':
    case 'union':
    case 'intersect':
      return { ...n, args: n.args.map(r) };
    case 'fn':
      return { ...n, args: n.args.map(r) };
    case 'rel':
      return { ...n, args: n.args.map(r) };
    case 'neg':
    case 'pct':
      return { ...n, arg: r(n.arg) };
    case 'div':
      return { ...n, num: r(n.num), den: r(n.den) };
    case 'pow':
      return { ...n, base: r(n.base), exp: r(n.exp) };
    case 'pm':
      return { ...n, a: r(n.a), b: r(n.b) };
    case 'tuple':
    case 'list':
    case 'set':
    case 'ratio':
      return { ...n, items: n.items.map(r) };
    case 'interval':
      return { ...n, lo: r(n.lo), hi: r(n.hi) };
    case 'matrix':
      return { ...n, rows: n.rows.map((row) => row.map(r)) };
    case 'in':
      return { ...n, elem: r(n.elem), set: r(n.set) };
  }
}

/** Whether any numeric literal in the tree was written with a decimal point. */
export function hasFloat(n: MathNode): boolean {
  if (n.k === 'num') return n.float;
  for (const ch of children(n)) if (hasFloat(ch)) return true;
  return false;
}

/** Whether `n` is a Σ or Π node: fn('sum'|'prod', [body, index symbol, lower, upper]). */
export function isBigOperator(n: MathNode): n is { k: 'fn'; name: 'sum' | 'prod'; args: MathNode[] } {
  return n.k === 'fn' && (n.name === 'sum' || n.name === 'prod') && n.args.length === 4;
}

export const CONSTANTS: ReadonlySet<string> = new Set(['pi', 'e', 'i', 'inf']);

/** A compact, canonical-ish text form, used for display, caching and string fast paths. */
export function show(n: MathNode): string {
  switch (n.k) {
    case 'num':
      return n.v.toString();
    case 'sym':
      return n.name;
    case 'text':
      return `"${n.s}"`;
    case 'add':
      return `(${n.args.map(show).join(' + ')})`;
    case 'mul':
      return `(${n.args.map(show).join(' * ')})`;
    case 'neg':
      return `-${show(n.arg)}`;
    case 'div':
      return `(${show(n.num)} / ${show(n.den)})`;
    case 'pow':
      return `${show(n.base)}^${show(n.exp)}`;
    case 'fn':
      return `${n.name}(${n.args.map(show).join(', ')})`;
    case 'pct':
      return `${show(n.arg)}%`;
    case 'pm':
      return `(${show(n.a)} ${n.sign > 0 ? '±' : '∓'} ${show(n.b)})`;
    case 'tuple':
      return `(${n.items.map(show).join(', ')})`;
    case 'list':
      return n.items.map(show).join(', ');
    case 'ratio':
      return n.items.map(show).join(' : ');
    case 'set':
      return `{${n.items.map(show).join(', ')}}`;
    case 'interval':
      return `${n.loClosed ? '[' : '('}${show(n.lo)}, ${show(n.hi)}${n.hiClosed ? ']' : ')'}`;
    case 'union':
      return n.args.map(show).join(' ∪ ');
    case 'intersect':
      return n.args.map(show).join(' ∩ ');
    case 'rel':
      return n.args.map((a, i) => (i === 0 ? show(a) : ` ${n.ops[i - 1]} ${show(a)}`)).join('');
    case 'matrix':
      return `[${n.rows.map((r) => r.map(show).join(', ')).join('; ')}]`;
    case 'in':
      return `${show(n.elem)} ∈ ${show(n.set)}`;
  }
}
