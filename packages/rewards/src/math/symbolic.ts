/**
 * Symbolic fallback: builds mathjs expression nodes from OUR parse tree (never from raw text) and
 * asks mathjs `simplify(a - b)` whether the difference is 0. Used only when random-point testing
 * is inconclusive, because simplify is slow. mathjs is loaded lazily so that plain numeric checks
 * never pay its start-up cost.
 */
import { createRequire } from 'node:module';
import type { MathNode } from './ast.js';

type MathJs = typeof import('mathjs');
let mathjs: MathJs | null = null;

function load(): MathJs {
  if (!mathjs) mathjs = createRequire(import.meta.url)('mathjs') as MathJs;
  return mathjs;
}

const FN_NAMES: Record<string, string> = {
  sqrt: 'sqrt', sin: 'sin', cos: 'cos', tan: 'tan', sec: 'sec', csc: 'csc', cot: 'cot', arcsin: 'asin',
  arccos: 'acos', arctan: 'atan', sinh: 'sinh', cosh: 'cosh', tanh: 'tanh', exp: 'exp', log: 'log', abs: 'abs',
  fact: 'factorial', floor: 'floor', ceil: 'ceil',
};

/** Converts a scalar tree to a mathjs node; returns null for constructs mathjs should not see. */
export function toMathjsNode(n: MathNode): import('mathjs').MathNode | null {
  const m = load();
  const rec = (x: MathNode): import('mathjs').MathNode => {
    switch (x.k) {
      case 'num': {
        const v = x.v.toNumber();
        if (!Number.isFinite(v)) throw new Error('too large');
        if (x.v.isInteger() || x.float) return new m.ConstantNode(v);
        return new m.OperatorNode('/', 'divide', [new m.ConstantNode(Number(x.v.n)), new m.ConstantNode(Number(x.v.d))]);
      }
      case 'sym':
        if (x.name === 'inf') throw new Error('infinity');
        return new m.SymbolNode(x.name === 'pi' ? 'pi' : x.name === 'e' ? 'e' : x.name === 'i' ? 'i' : `v_${x.name.replace(/[^A-Za-z0-9]/g, '_')}`);
      case 'add':
        return x.args.map(rec).reduce((a, b) => new m.OperatorNode('+', 'add', [a, b]));
      case 'mul':
        return x.args.map(rec).reduce((a, b) => new m.OperatorNode('*', 'multiply', [a, b]));
      case 'neg':
        return new m.OperatorNode('-', 'unaryMinus', [rec(x.arg)]);
      case 'div':
        return new m.OperatorNode('/', 'divide', [rec(x.num), rec(x.den)]);
      case 'pow':
        return new m.OperatorNode('^', 'pow', [rec(x.base), rec(x.exp)]);
      case 'fn': {
        if (x.name === 'root') return new m.FunctionNode(new m.SymbolNode('nthRoot'), [rec(x.args[1]), rec(x.args[0])]);
        const name = FN_NAMES[x.name];
        if (!name) throw new Error(`unsupported function ${x.name}`);
        if (x.name === 'log' && x.args.length === 2)
          return new m.OperatorNode('/', 'divide', [
            new m.FunctionNode(new m.SymbolNode('log'), [rec(x.args[0])]),
            new m.FunctionNode(new m.SymbolNode('log'), [rec(x.args[1])]),
          ]);
        return new m.FunctionNode(new m.SymbolNode(name), x.args.map(rec));
      }
      default:
        throw new Error('not a scalar');
    }
  };
  try {
    return rec(n);
  } catch {
    return null;
  }
}

/** True when mathjs simplifies `a - b` to the constant 0; false when it cannot show that. */
export function simplifiesToZero(a: MathNode, b: MathNode): boolean {
  const na = toMathjsNode(a);
  const nb = toMathjsNode(b);
  if (!na || !nb) return false;
  const m = load();
  try {
    const r = m.simplify(new m.OperatorNode('-', 'subtract', [na, nb]));
    return r.type === 'ConstantNode' && Number((r as import('mathjs').ConstantNode).value) === 0;
  } catch {
    return false;
  }
}
