/**
 * A small, total, recursive-descent LaTeX → {@link MathNode} parser with depth and node bounds.
 * It understands the notation that appears in final answers (numbers, fractions, roots, powers,
 * functions, sets, intervals, tuples, matrices, relations, ±, %) and rejects everything else with
 * a {@link ParseError}; it never evaluates anything.
 */
import type { MathNode, RelOp } from './ast.js';
import { Rational } from './rational.js';
import { tokenize, type Tok } from './tokenize.js';

/** Raised for text the parser does not accept (including exceeded bounds). */
export class ParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParseError';
  }
}

/** Parser bounds. */
export interface ParseLimits {
  /** Maximum recursion depth (nesting). Default 120. */
  maxDepth?: number;
  /** Maximum number of tree nodes. Default 4000. */
  maxNodes?: number;
}

const GREEK = new Set([
  'alpha', 'beta', 'gamma', 'delta', 'epsilon', 'varepsilon', 'zeta', 'eta', 'theta', 'vartheta', 'iota', 'kappa',
  'lambda', 'mu', 'nu', 'xi', 'rho', 'sigma', 'tau', 'upsilon', 'phi', 'varphi', 'chi', 'psi', 'omega',
  'Gamma', 'Delta', 'Theta', 'Lambda', 'Xi', 'Pi', 'Sigma', 'Phi', 'Psi', 'Omega',
]);
const FUNCS = new Set([
  'sin', 'cos', 'tan', 'sec', 'csc', 'cot', 'arcsin', 'arccos', 'arctan', 'sinh', 'cosh', 'tanh', 'ln', 'log', 'exp',
  'lg', 'gcd', 'lcm', 'max', 'min', 'det',
]);
const REL: Record<string, RelOp> = {
  '=': '=', '<': '<', '>': '>', '<=': '<=', '>=': '>=', '!=': '!=',
  le: '<=', leq: '<=', leqslant: '<=', ge: '>=', geq: '>=', geqslant: '>=', ne: '!=', neq: '!=', lt: '<', gt: '>',
};
const MATRIX_ENVS = new Set(['pmatrix', 'bmatrix', 'Bmatrix', 'vmatrix', 'Vmatrix', 'matrix', 'array', 'smallmatrix']);
/** Short letter runs read as products of variables (`xy`); longer runs are words (not math). */
const MAX_IMPLICIT_WORD = 3;
const WORD_REJECT = new Set(['and', 'or', 'the', 'is', 'of', 'pct', 'are', 'so', 'we', 'it', 'to', 'be', 'as', 'at', 'in', 'on', 'by', 'an', 'if', 'no', 'yes']);

const num = (v: Rational, float = false): MathNode => ({ k: 'num', v, float });

class Parser {
  private pos = 0;
  private depth = 0;
  private nodes = 0;
  private absDepth = 0;
  private readonly maxDepth: number;
  private readonly maxNodes: number;

  constructor(
    private readonly toks: Tok[],
    limits: ParseLimits,
  ) {
    this.maxDepth = limits.maxDepth ?? 120;
    this.maxNodes = limits.maxNodes ?? 4000;
  }

  private peek(o = 0): Tok {
    return this.toks[Math.min(this.pos + o, this.toks.length - 1)];
  }
  private next(): Tok {
    const t = this.peek();
    if (this.pos < this.toks.length - 1) this.pos++;
    return t;
  }
  private isOp(s: string, o = 0): boolean {
    const t = this.peek(o);
    return t.t === 'op' && t.s === s;
  }
  private isCmd(s: string): boolean {
    const t = this.peek();
    return t.t === 'cmd' && t.s === s;
  }
  private expectOp(s: string): void {
    const t = this.next();
    if (t.t !== 'op' || t.s !== s) throw new ParseError(`expected '${s}' but found '${t.s || 'end'}'`);
  }
  private mk(n: MathNode): MathNode {
    if (++this.nodes > this.maxNodes) throw new ParseError('expression too large');
    return n;
  }
  private enter(): void {
    if (++this.depth > this.maxDepth) throw new ParseError('expression nested too deeply');
  }
  private leave(): void {
    this.depth--;
  }

  parseTop(): MathNode {
    const n = this.parseList();
    if (this.peek().t !== 'eof') throw new ParseError(`unexpected '${this.peek().s}'`);
    return n;
  }

  /** Comma (or semicolon) list; one item returns the item itself. */
  private parseList(): MathNode {
    const items = [this.parseRelation()];
    while (this.isOp(',') || this.isOp(';')) {
      this.next();
      if (this.atListEnd()) break; // trailing comma
      items.push(this.parseRelation());
    }
    return items.length === 1 ? items[0] : this.mk({ k: 'list', items });
  }

  private atListEnd(): boolean {
    const t = this.peek();
    return t.t === 'eof' || (t.t === 'op' && [')', ']', '}', '\\}'].includes(t.s));
  }

  private relOp(): RelOp | null {
    const t = this.peek();
    if (t.t === 'op' && REL[t.s] && t.s !== '!') return REL[t.s];
    if (t.t === 'cmd' && Object.prototype.hasOwnProperty.call(REL, t.s)) return REL[t.s];
    return null;
  }

  private parseRelation(): MathNode {
    this.enter();
    const first = this.parseRatio();
    if (this.isCmd('in')) {
      this.next();
      const set = this.parseSetExpr();
      this.leave();
      return this.mk({ k: 'in', elem: first, set });
    }
    const args = [first];
    const ops: RelOp[] = [];
    for (let op = this.relOp(); op; op = this.relOp()) {
      this.next();
      ops.push(op);
      args.push(this.parseRatio());
    }
    this.leave();
    return ops.length ? this.mk({ k: 'rel', ops, args }) : first;
  }

  /** `a : b [: c]` (a ratio or a clock time), else a set expression. */
  private parseRatio(): MathNode {
    const first = this.parseSetExpr();
    if (!this.isOp(':')) return first;
    const items = [first];
    while (this.isOp(':')) {
      this.next();
      items.push(this.parseSetExpr());
    }
    return this.mk({ k: 'ratio', items });
  }

  private parseSetExpr(): MathNode {
    let left = this.parseExpr();
    for (;;) {
      if (this.isCmd('cup')) {
        this.next();
        const right = this.parseExpr();
        left = left.k === 'union' ? { ...left, args: [...left.args, right] } : this.mk({ k: 'union', args: [left, right] });
      } else if (this.isCmd('cap')) {
        this.next();
        left = this.mk({ k: 'intersect', args: [left, this.parseExpr()] });
      } else return left;
    }
  }

  private parseExpr(): MathNode {
    this.enter();
    let node = this.parseTerm();
    for (;;) {
      if (this.isOp('+')) {
        this.next();
        node = this.addTo(node, this.parseTerm());
      } else if (this.isOp('-')) {
        this.next();
        node = this.addTo(node, this.mk({ k: 'neg', arg: this.parseTerm() }));
      } else if (this.isCmd('pm') || this.isCmd('mp')) {
        const sign = this.next().s === 'pm' ? 1 : -1;
        node = this.mk({ k: 'pm', a: node, b: this.parseTerm(), sign });
      } else break;
    }
    this.leave();
    return node;
  }

  private addTo(a: MathNode, b: MathNode): MathNode {
    if (a.k === 'add') return { k: 'add', args: [...a.args, b] };
    return this.mk({ k: 'add', args: [a, b] });
  }

  private parseTerm(): MathNode {
    this.enter();
    let node = this.parseUnary();
    for (;;) {
      const t = this.peek();
      if ((t.t === 'op' && t.s === '*') || (t.t === 'cmd' && (t.s === 'cdot' || t.s === 'times' || t.s === 'ast'))) {
        this.next();
        node = this.mulTo(node, this.parseUnary());
      } else if ((t.t === 'op' && t.s === '/') || (t.t === 'cmd' && t.s === 'div')) {
        this.next();
        node = this.mk({ k: 'div', num: node, den: this.parseUnary() });
      } else if (this.startsImplicit(t)) {
        node = this.mulTo(node, this.parsePower());
      } else break;
    }
    this.leave();
    return node;
  }

  private mulTo(a: MathNode, b: MathNode): MathNode {
    if (a.k === 'mul') return { k: 'mul', args: [...a.args, b] };
    return this.mk({ k: 'mul', args: [a, b] });
  }

  private startsImplicit(t: Tok): boolean {
    if (t.t === 'num' || t.t === 'id' || t.t === 'word') return true;
    if (t.t === 'op') return t.s === '(' || (t.s === '|' && this.absDepth === 0);
    if (t.t === 'cmd')
      return (
        t.s === 'frac' || t.s === 'sqrt' || t.s === 'pi' || t.s === 'infty' || t.s === 'binom' || t.s === 'lfloor' ||
        t.s === 'lceil' || t.s === 'lvert' || t.s === 'vert' || GREEK.has(t.s) || FUNCS.has(t.s)
      );
    return false;
  }

  private parseUnary(): MathNode {
    this.enter();
    let r: MathNode;
    if (this.isOp('-')) {
      this.next();
      r = this.mk({ k: 'neg', arg: this.parseUnary() });
    } else if (this.isOp('+')) {
      this.next();
      r = this.parseUnary();
    } else if (this.isCmd('pm') || this.isCmd('mp')) {
      const sign = this.next().s === 'pm' ? 1 : -1;
      r = this.mk({ k: 'pm', a: num(Rational.ZERO), b: this.parseUnary(), sign });
    } else r = this.parsePower();
    this.leave();
    return r;
  }

  private parsePower(): MathNode {
    this.enter();
    const fromWord = this.peek().t === 'word';
    let base = this.parsePostfix(this.parsePrimary());
    if (this.isOp('^')) {
      this.next();
      const exp = this.readScript();
      // a letter run is a product of variables, and a power binds to its last letter: `ab^2` = a·b²
      if (fromWord && base.k === 'mul' && base.args.every((a) => a.k === 'sym')) {
        const last = base.args[base.args.length - 1];
        base = this.mk({ k: 'mul', args: [...base.args.slice(0, -1), this.parsePostfix(this.mk({ k: 'pow', base: last, exp }))] });
      } else base = this.parsePostfix(this.mk({ k: 'pow', base, exp }));
    }
    this.leave();
    return base;
  }

  private parsePostfix(node: MathNode): MathNode {
    for (;;) {
      if (this.isOp('!') && !this.isOp('=', 1)) {
        this.next();
        node = this.mk({ k: 'fn', name: 'fact', args: [node] });
      } else if (this.isCmd('%')) {
        this.next();
        node = this.mk({ k: 'pct', arg: node });
      } else if (this.isOp("'")) {
        throw new ParseError('primes are not supported');
      } else return node;
    }
  }

  /** Superscript argument: a braced group, or one digit/letter/command (LaTeX semantics). */
  private readScript(): MathNode {
    if (this.isOp('{')) return this.readGroup();
    if (this.isOp('-')) {
      this.next();
      return this.mk({ k: 'neg', arg: this.readScript() });
    }
    return this.readSingle();
  }

  private readGroup(): MathNode {
    this.expectOp('{');
    this.enter();
    const n = this.parseList();
    this.leave();
    this.expectOp('}');
    return n;
  }

  /** One "character" argument: `\frac12`, `\sqrt3`, `x^2`, `\frac1{3}`. */
  private readSingle(): MathNode {
    const t = this.peek();
    if (t.t === 'num') {
      if (t.s.length > 1) {
        const first = t.s[0];
        const rest = t.s.slice(1);
        (this.toks[this.pos] as { s: string }).s = rest.startsWith('.') ? `0${rest}` : rest;
        if (first === '.') throw new ParseError('bad argument');
        return this.mk(num(Rational.parseDecimal(first) as Rational));
      }
      this.next();
      return this.mk(num(Rational.parseDecimal(t.s) as Rational));
    }
    if (t.t === 'word') {
      const first = t.s[0];
      (this.toks[this.pos] as { s: string }).s = t.s.slice(1);
      if (t.s.length === 2) this.toks[this.pos] = { t: 'id', s: t.s[1] };
      return this.mk({ k: 'sym', name: first });
    }
    if (t.t === 'id' || t.t === 'cmd') return this.parsePrimary();
    if (this.isOp('{')) return this.readGroup();
    throw new ParseError(`bad argument '${t.s || 'end'}'`);
  }

  private subscript(): string {
    if (!this.isOp('_')) return '';
    this.next();
    if (this.isOp('{')) {
      let s = '';
      this.next();
      let d = 1;
      while (d > 0) {
        const t = this.next();
        if (t.t === 'eof') throw new ParseError('unclosed subscript');
        if (t.t === 'op' && t.s === '{') d++;
        if (t.t === 'op' && t.s === '}' && --d === 0) break;
        s += t.s;
      }
      return `_${s}`;
    }
    const t = this.next();
    if (t.t === 'num') {
      if (t.s.length > 1) {
        this.pos--;
        (this.toks[this.pos] as { s: string }).s = t.s.slice(1);
        return `_${t.s[0]}`;
      }
      return `_${t.s}`;
    }
    if (t.t === 'id' || t.t === 'cmd') return `_${t.s}`;
    throw new ParseError('bad subscript');
  }

  private parseDelimited(close: string[]): { node: MathNode; close: string } {
    this.enter();
    const node = this.parseList();
    const t = this.next();
    this.leave();
    if (t.t !== 'op' || !close.includes(t.s)) throw new ParseError(`expected ${close.join(' or ')} but found '${t.s || 'end'}'`);
    return { node, close: t.s };
  }

  private parsePrimary(): MathNode {
    this.enter();
    try {
      return this.primary();
    } finally {
      this.leave();
    }
  }

  private primary(): MathNode {
    const t = this.next();
    switch (t.t) {
      case 'num': {
        const v = Rational.parseDecimal(t.s);
        if (!v) throw new ParseError(`bad number '${t.s}'`);
        // a numeral in another base (`52_8`, `4210_{5}`) is compared as written, not converted
        if (this.isOp('_') && /^\d+$/.test(t.s)) return this.mk({ k: 'text', s: t.s + this.subscript() });
        return this.mk(num(v, t.s.includes('.')));
      }
      case 'id': {
        const sub = this.subscript();
        return this.mk({ k: 'sym', name: t.s + sub });
      }
      case 'word':
        return this.word(t.s);
      case 'text':
        return this.mk({ k: 'text', s: t.s });
      case 'begin':
        return this.environment(t.s);
      case 'cmd':
        return this.command(t.s);
      case 'op':
        return this.opPrimary(t.s);
      default:
        throw new ParseError(`unexpected '${t.s || 'end of input'}'`);
    }
  }

  private word(w: string): MathNode {
    const lower = w.toLowerCase();
    if (FUNCS.has(w) || w === 'sqrt') return this.command(w);
    if (lower === 'pi') return this.mk({ k: 'sym', name: 'pi' });
    if (lower === 'inf' || lower === 'infty') return this.mk({ k: 'sym', name: 'inf' });
    if (w.length > MAX_IMPLICIT_WORD || WORD_REJECT.has(lower)) throw new ParseError(`word '${w}' is not math`);
    const args: MathNode[] = [...w].map((c) => this.mk({ k: 'sym', name: c }));
    const sub = this.subscript();
    if (sub) args[args.length - 1] = { k: 'sym', name: w[w.length - 1] + sub };
    return this.mk({ k: 'mul', args });
  }

  private opPrimary(s: string): MathNode {
    switch (s) {
      case '(':
      case '[': {
        if (this.isOp(s === '(' ? ')' : ']')) throw new ParseError('empty brackets');
        const { node, close } = this.parseDelimited([')', ']']);
        const items = node.k === 'list' ? node.items : [node];
        if (items.length === 2 && (s === '[' || close === ']'))
          return this.mk({ k: 'interval', lo: items[0], hi: items[1], loClosed: s === '[', hiClosed: close === ']' });
        if (items.length === 1) {
          if (s === '(' && close === ')') return node;
          if (s === '[' && close === ']') return node;
          throw new ParseError('mismatched brackets');
        }
        if (s !== '(' || close !== ')') {
          if (s === '[' && close === ']') return this.mk({ k: 'tuple', items });
          throw new ParseError('mismatched brackets');
        }
        return this.mk({ k: 'tuple', items });
      }
      case '{': {
        if (this.isOp('}')) {
          this.next();
          return this.mk({ k: 'set', items: [] });
        }
        const { node } = this.parseDelimited(['}']);
        return node.k === 'list' ? this.mk({ k: 'set', items: node.items }) : node;
      }
      case '\\{': {
        if (this.isOp('\\}')) {
          this.next();
          return this.mk({ k: 'set', items: [] });
        }
        const { node } = this.parseDelimited(['\\}']);
        return this.mk({ k: 'set', items: node.k === 'list' ? node.items : [node] });
      }
      case '|': {
        this.absDepth++;
        const inner = this.parseExpr();
        this.absDepth--;
        this.expectOp('|');
        return this.mk({ k: 'fn', name: 'abs', args: [inner] });
      }
      default:
        throw new ParseError(`unexpected '${s}'`);
    }
  }

  private command(name: string): MathNode {
    if (GREEK.has(name)) return this.mk({ k: 'sym', name: name + this.subscript() });
    switch (name) {
      case 'pi':
        return this.mk({ k: 'sym', name: 'pi' });
      case 'infty':
      case 'infinity':
        return this.mk({ k: 'sym', name: 'inf' });
      case 'reals':
        return this.mk({
          k: 'interval',
          lo: { k: 'neg', arg: { k: 'sym', name: 'inf' } },
          hi: { k: 'sym', name: 'inf' },
          loClosed: false,
          hiClosed: false,
        });
      case 'frac': {
        const a = this.readSingleOrGroup();
        const b = this.readSingleOrGroup();
        return this.mk({ k: 'div', num: a, den: b });
      }
      case 'binom': {
        const a = this.readSingleOrGroup();
        const b = this.readSingleOrGroup();
        return this.mk({ k: 'fn', name: 'binom', args: [a, b] });
      }
      case 'sqrt': {
        if (this.isOp('[')) {
          this.next();
          const idx = this.parseExpr();
          this.expectOp(']');
          return this.mk({ k: 'fn', name: 'root', args: [idx, this.readSingleOrGroupOrParen()] });
        }
        return this.mk({ k: 'fn', name: 'sqrt', args: [this.readSingleOrGroupOrParen()] });
      }
      case 'lfloor':
      case 'lceil': {
        const inner = this.parseExpr();
        const close = this.next();
        if (close.t !== 'cmd' || close.s !== (name === 'lfloor' ? 'rfloor' : 'rceil')) throw new ParseError(`unclosed \\${name}`);
        return this.mk({ k: 'fn', name: name === 'lfloor' ? 'floor' : 'ceil', args: [inner] });
      }
      case 'lvert':
      case 'vert': {
        this.absDepth++;
        const inner = this.parseExpr();
        this.absDepth--;
        const close = this.next();
        if (!(close.t === 'cmd' && (close.s === 'rvert' || close.s === 'vert')) && !(close.t === 'op' && close.s === '|'))
          throw new ParseError('unclosed |');
        return this.mk({ k: 'fn', name: 'abs', args: [inner] });
      }
      case 'sum':
      case 'prod':
        return this.bigOperator(name);
      case 'langle': {
        const { node } = this.parseDelimitedCmd('rangle');
        return this.mk({ k: 'tuple', items: node.k === 'list' ? node.items : [node] });
      }
      case 'lbrace': {
        const { node } = this.parseDelimitedCmd('rbrace');
        return this.mk({ k: 'set', items: node.k === 'list' ? node.items : [node] });
      }
    }
    if (FUNCS.has(name)) return this.func(name);
    throw new ParseError(`unsupported command \\${name}`);
  }

  /**
   * `\sum_{k=a}^{b} body` / `\prod_{…}^{…} body` as fn('sum'|'prod', [body, k, a, b]); the body is
   * one term (products and powers), so `\sum_{k=1}^{3} k + 1` is (Σ k) + 1.
   */
  private bigOperator(name: string): MathNode {
    if (!this.isOp('_')) throw new ParseError(`\\${name} needs _{k=a}`);
    this.next();
    const range = this.readGroup();
    if (range.k !== 'rel' || range.ops.length !== 1 || range.ops[0] !== '=' || range.args[0].k !== 'sym') throw new ParseError(`\\${name} needs _{k=a}`);
    if (!this.isOp('^')) throw new ParseError(`\\${name} needs ^{b}`);
    this.next();
    const hi = this.readScript();
    const body = this.parseTerm();
    return this.mk({ k: 'fn', name, args: [body, range.args[0], range.args[1], hi] });
  }

  private parseDelimitedCmd(close: string): { node: MathNode } {
    const node = this.parseList();
    const t = this.next();
    if (t.t !== 'cmd' || t.s !== close) throw new ParseError(`expected \\${close}`);
    return { node };
  }

  private readSingleOrGroup(): MathNode {
    return this.isOp('{') ? this.readGroup() : this.readSingle();
  }

  private readSingleOrGroupOrParen(): MathNode {
    if (this.isOp('(')) {
      this.next();
      const { node } = this.parseDelimited([')']);
      return node;
    }
    return this.readSingleOrGroup();
  }

  /** `\sin x`, `\sin(x)`, `\sin^2 x`, `\log_2 8`, `\log_{b}(x)`. */
  private func(name: string): MathNode {
    let base: MathNode | null = null;
    let power: MathNode | null = null;
    if ((name === 'log' || name === 'lg') && this.isOp('_')) {
      this.next();
      base = this.readSingleOrGroup();
    }
    if (this.isOp('^')) {
      this.next();
      power = this.readScript();
    }
    let args: MathNode[];
    if (this.isOp('(')) {
      this.next();
      const { node } = this.parseDelimited([')']);
      args = node.k === 'list' ? node.items : [node];
    } else if (this.isOp('{')) {
      args = [this.readGroup()];
    } else {
      // `\sin 2x` means sin(2x): take the implicit product of the following atoms
      let arg = this.parsePower();
      while (this.peek().t === 'num' || this.peek().t === 'id' || (this.peek().t === 'cmd' && (GREEK.has(this.peek().s) || this.peek().s === 'pi'))) {
        arg = this.mulTo(arg, this.parsePower());
      }
      args = [arg];
    }
    let fname = name === 'lg' ? 'log' : name;
    if (name === 'ln') fname = 'log';
    if (name === 'log' && base === null) base = null;
    const fn: MathNode = this.mk({ k: 'fn', name: fname, args: fname === 'log' && base ? [args[0], base] : args });
    if (power) {
      if (power.k === 'neg' && power.arg.k === 'num' && power.arg.v.equals(Rational.ONE) && ['sin', 'cos', 'tan'].includes(name))
        return this.mk({ k: 'fn', name: `arc${name}`, args });
      return this.mk({ k: 'pow', base: fn, exp: power });
    }
    return fn;
  }

  private environment(env: string): MathNode {
    if (!MATRIX_ENVS.has(env)) throw new ParseError(`unsupported environment ${env}`);
    const rows: MathNode[][] = [];
    let row: MathNode[] = [];
    for (;;) {
      const t = this.peek();
      if (t.t === 'end') {
        this.next();
        if (t.s !== env) throw new ParseError(`\\begin{${env}} closed by \\end{${t.s}}`);
        break;
      }
      if (t.t === 'eof') throw new ParseError(`unclosed \\begin{${env}}`);
      if (t.t === 'op' && t.s === '\\\\') {
        this.next();
        if (row.length) rows.push(row);
        row = [];
        continue;
      }
      if (t.t === 'op' && t.s === '&') {
        this.next();
        continue;
      }
      row.push(this.parseRelation());
      if (!(this.isOp('&') || this.isOp('\\\\') || this.peek().t === 'end')) throw new ParseError(`unexpected '${this.peek().s}' in matrix`);
    }
    if (row.length) rows.push(row);
    if (!rows.length) throw new ParseError('empty matrix');
    const w = rows[0].length;
    if (rows.some((r) => r.length !== w)) throw new ParseError('ragged matrix');
    return this.mk({ k: 'matrix', rows });
  }
}

/**
 * Parses a normalised answer string into a tree. Throws {@link ParseError} on anything it does
 * not accept (never another exception type for string input).
 */
export function parseLatex(s: string, limits: ParseLimits = {}): MathNode {
  if (s.length > 5000) throw new ParseError('answer too long');
  const toks = tokenize(s);
  const bad = toks.find((t) => t.t === 'bad');
  if (bad) throw new ParseError(`unexpected character '${bad.s}'`);
  if (toks.length === 1) throw new ParseError('empty answer');
  try {
    return new Parser(toks, limits).parseTop();
  } catch (e) {
    if (e instanceof ParseError) throw e;
    if (e instanceof RangeError) throw new ParseError(e.message.includes('call stack') ? 'expression nested too deeply' : e.message);
    throw e;
  }
}
