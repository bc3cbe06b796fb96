/**
 * Evaluation of scalar trees: exact (rational, BigInt) when possible, otherwise complex
 * floating point at given variable values. Both are bounded: huge powers and factorials throw
 * {@link TooLargeError} (the verifier reports "cannot decide") instead of running away.
 */
import { type MathNode, isBigOperator, someNode } from './ast.js';
import { Rational, TooLargeError, binomial, factorial } from './rational.js';

/** Thrown by exact evaluation for a tree that has no rational value (variables, roots, …). */
class NotRational extends Error {}
const NOT_RATIONAL = new NotRational();

/** Whether a tree is a scalar expression (no sets, relations, text…). */
export function isScalar(n: MathNode): boolean {
  switch (n.k) {
    case 'num':
    case 'sym':
      return true;
    case 'add':
    case 'mul':
      return n.args.every(isScalar);
    case 'neg':
      return isScalar(n.arg);
    case 'div':
      return isScalar(n.num) && isScalar(n.den);
    case 'pow':
      return isScalar(n.base) && isScalar(n.exp);
    case 'fn':
      return n.args.every(isScalar);
    default:
      return false;
  }
}

/** Exact rational value of a scalar tree, or null. Throws TooLargeError for runaway sizes. */
export function exactValue(n: MathNode): Rational | null {
  try {
    return exact(n);
  } catch (e) {
    if (e instanceof NotRational) return null;
    if (e instanceof RangeError) return null; // division by zero, bad factorial argument…
    throw e;
  }
}

function exact(n: MathNode): Rational {
  switch (n.k) {
    case 'num':
      return n.v;
    case 'add': {
      let s = Rational.ZERO;
      for (const a of n.args) s = s.add(exact(a));
      return s;
    }
    case 'mul': {
      let p = Rational.ONE;
      for (const a of n.args) p = p.mul(exact(a));
      return p;
    }
    case 'neg':
      return exact(n.arg).neg();
    case 'div':
      return exact(n.num).div(exact(n.den));
    case 'pow': {
      const e = exact(n.exp);
      const b = exact(n.base);
      if (!e.isInteger()) throw NOT_RATIONAL;
      return b.pow(e);
    }
    case 'fn': {
      if (isBigOperator(n)) return exactBigOperator(n);
      if (n.name === 'fact') return factorial(exact(n.args[0]));
      if (n.name === 'binom') return binomial(exact(n.args[0]), exact(n.args[1]));
      if (n.name === 'abs') {
        const v = exact(n.args[0]);
        return v.sign() < 0 ? v.neg() : v;
      }
      if (n.name === 'sqrt') {
        const v = exact(n.args[0]);
        const r = exactSqrt(v);
        if (r) return r;
      }
      throw NOT_RATIONAL;
    }
    default:
      throw NOT_RATIONAL;
  }
}

/** Most terms a Σ/Π is expanded to; larger ranges are refused ("cannot decide"). */
export const MAX_BIG_OPERATOR_TERMS = 10_000;

/** The index range of a Σ/Π with integer bounds, checked against the term limit. */
function indexRange(lo: Rational, hi: Rational): [bigint, bigint] {
  if (!lo.isInteger() || !hi.isInteger()) throw NOT_RATIONAL;
  if (hi.n - lo.n + 1n > BigInt(MAX_BIG_OPERATOR_TERMS)) throw new TooLargeError('sum or product range');
  return [lo.n, hi.n];
}

function exactBigOperator(n: { name: string; args: MathNode[] }): Rational {
  const [body, index, loN, hiN] = n.args;
  if (index.k !== 'sym') throw NOT_RATIONAL;
  const [lo, hi] = indexRange(exact(loN), exact(hiN));
  let acc = n.name === 'sum' ? Rational.ZERO : Rational.ONE;
  for (let k = lo; k <= hi; k++) {
    const v = exact(substitute(body, index.name, { k: 'num', v: new Rational(k), float: false }));
    acc = n.name === 'sum' ? acc.add(v) : acc.mul(v);
  }
  return acc;
}

/** `body` with the symbol `name` replaced by `value` (used for Σ/Π indices). */
function substitute(body: MathNode, name: string, value: MathNode): MathNode {
  if (body.k === 'sym') return body.name === name ? value : body;
  switch (body.k) {
    case 'num':
    case 'text':
      return body;
    case 'add':
    case 'mul':
      return { ...body, args: body.args.map((a) => substitute(a, name, value)) };
    case 'fn':
      // an inner Σ/Π over the same index shadows it
      if (isBigOperator(body) && body.args[1].k === 'sym' && body.args[1].name === name)
        return { ...body, args: [body.args[0], body.args[1], substitute(body.args[2], name, value), substitute(body.args[3], name, value)] };
      return { ...body, args: body.args.map((a) => substitute(a, name, value)) };
    case 'neg':
      return { ...body, arg: substitute(body.arg, name, value) };
    case 'div':
      return { ...body, num: substitute(body.num, name, value), den: substitute(body.den, name, value) };
    case 'pow':
      return { ...body, base: substitute(body.base, name, value), exp: substitute(body.exp, name, value) };
    default:
      return body;
  }
}

function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = BigInt(Math.floor(Math.sqrt(Number(n))));
  for (let k = 0; k < 200; k++) {
    const y = (x + n / x) >> 1n;
    if (y >= x && x * x <= n && (x + 1n) * (x + 1n) > n) return x;
    x = y === 0n ? 1n : y;
  }
  return x;
}

function exactSqrt(v: Rational): Rational | null {
  if (v.sign() < 0) return null;
  const a = isqrt(v.n);
  const b = isqrt(v.d);
  return a * a === v.n && b * b === v.d ? new Rational(a, b) : null;
}

/** A complex number in doubles. */
export interface Complex {
  re: number;
  im: number;
}

const C = (re: number, im = 0): Complex => ({ re, im });
const NAN = C(NaN, NaN);

function cmul(a: Complex, b: Complex): Complex {
  return C(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
}
function cdiv(a: Complex, b: Complex): Complex {
  const d = b.re * b.re + b.im * b.im;
  if (d === 0) return NAN;
  return C((a.re * b.re + a.im * b.im) / d, (a.im * b.re - a.re * b.im) / d);
}
function cexp(a: Complex): Complex {
  const m = Math.exp(a.re);
  return a.im === 0 ? C(m) : C(m * Math.cos(a.im), m * Math.sin(a.im));
}
function clog(a: Complex): Complex {
  if (a.im === 0 && a.re > 0) return C(Math.log(a.re));
  return C(Math.log(Math.hypot(a.re, a.im)), Math.atan2(a.im, a.re));
}
function cpow(a: Complex, b: Complex): Complex {
  if (b.im === 0 && Number.isInteger(b.re) && a.im === 0) return C(Math.pow(a.re, b.re));
  if (b.im === 0 && Number.isInteger(b.re) && Math.abs(b.re) <= 64) {
    let r = C(1);
    for (let k = 0; k < Math.abs(b.re); k++) r = cmul(r, a);
    return b.re < 0 ? cdiv(C(1), r) : r;
  }
  if (a.im === 0 && a.re > 0 && b.im === 0) return C(Math.pow(a.re, b.re));
  if (a.re === 0 && a.im === 0) return b.re > 0 ? C(0) : NAN;
  return cexp(cmul(b, clog(a)));
}
function csqrt(a: Complex): Complex {
  if (a.im === 0) return a.re >= 0 ? C(Math.sqrt(a.re)) : C(0, Math.sqrt(-a.re));
  const m = Math.hypot(a.re, a.im);
  const re = Math.sqrt((m + a.re) / 2);
  const im = Math.sign(a.im) * Math.sqrt((m - a.re) / 2);
  return C(re, im);
}
function csin(a: Complex): Complex {
  return a.im === 0 ? C(Math.sin(a.re)) : C(Math.sin(a.re) * Math.cosh(a.im), Math.cos(a.re) * Math.sinh(a.im));
}
function ccos(a: Complex): Complex {
  return a.im === 0 ? C(Math.cos(a.re)) : C(Math.cos(a.re) * Math.cosh(a.im), -Math.sin(a.re) * Math.sinh(a.im));
}
function realOnly(a: Complex, f: (x: number) => number): Complex {
  return a.im === 0 ? C(f(a.re)) : NAN;
}
function gammaInt(x: number): number {
  if (!Number.isInteger(x) || x < 0) return NaN;
  if (x > 170) return Infinity;
  let r = 1;
  for (let i = 2; i <= x; i++) r *= i;
  return r;
}

/** Variable assignment for numeric evaluation. */
export type Env = ReadonlyMap<string, Complex>;

/**
 * Complex floating-point value of a scalar tree. Unknown variables read from `env` (NaN when
 * absent). Returns NaN components where the value is undefined.
 */
export function numericValue(n: MathNode, env: Env): Complex {
  switch (n.k) {
    case 'num':
      return C(n.v.toNumber());
    case 'sym':
      if (n.name === 'pi') return C(Math.PI);
      if (n.name === 'e') return C(Math.E);
      if (n.name === 'i') return C(0, 1);
      if (n.name === 'inf') return C(Infinity);
      return env.get(n.name) ?? NAN;
    case 'add': {
      let re = 0;
      let im = 0;
      for (const a of n.args) {
        const v = numericValue(a, env);
        re += v.re;
        im += v.im;
      }
      return C(re, im);
    }
    case 'mul': {
      let p = C(1);
      for (const a of n.args) p = cmul(p, numericValue(a, env));
      return p;
    }
    case 'neg': {
      const v = numericValue(n.arg, env);
      return C(-v.re, -v.im);
    }
    case 'div':
      return cdiv(numericValue(n.num, env), numericValue(n.den, env));
    case 'pow':
      return cpow(numericValue(n.base, env), numericValue(n.exp, env));
    case 'fn':
      if (isBigOperator(n)) return numericBigOperator(n, env);
      return fnValue(n.name, n.args.map((a) => numericValue(a, env)));
    default:
      return NAN;
  }
}

/** Σ/Π in floating point; NaN unless both bounds are integers within the term limit. */
function numericBigOperator(n: { name: string; args: MathNode[] }, env: Env): Complex {
  const [body, index, loN, hiN] = n.args;
  const lo = numericValue(loN, env);
  const hi = numericValue(hiN, env);
  if (index.k !== 'sym' || lo.im !== 0 || hi.im !== 0 || !Number.isInteger(lo.re) || !Number.isInteger(hi.re)) return NAN;
  if (hi.re - lo.re + 1 > MAX_BIG_OPERATOR_TERMS) return NAN;
  let acc = C(n.name === 'sum' ? 0 : 1);
  const inner = new Map(env);
  for (let k = lo.re; k <= hi.re; k++) {
    inner.set(index.name, C(k));
    const v = numericValue(body, inner);
    acc = n.name === 'sum' ? C(acc.re + v.re, acc.im + v.im) : cmul(acc, v);
  }
  return acc;
}

function fnValue(name: string, a: Complex[]): Complex {
  const x = a[0];
  switch (name) {
    case 'sqrt':
      return csqrt(x);
    case 'root': {
      // \sqrt[n]{x}: real odd roots of negatives stay real
      const idx = a[0];
      const v = a[1];
      if (idx.im === 0 && v.im === 0 && v.re < 0 && Number.isInteger(idx.re) && idx.re % 2 === 1)
        return C(-Math.pow(-v.re, 1 / idx.re));
      return cpow(v, cdiv(C(1), idx));
    }
    case 'sin':
      return csin(x);
    case 'cos':
      return ccos(x);
    case 'tan':
      return cdiv(csin(x), ccos(x));
    case 'sec':
      return cdiv(C(1), ccos(x));
    case 'csc':
      return cdiv(C(1), csin(x));
    case 'cot':
      return cdiv(ccos(x), csin(x));
    case 'arcsin':
      return realOnly(x, Math.asin);
    case 'arccos':
      return realOnly(x, Math.acos);
    case 'arctan':
      return realOnly(x, Math.atan);
    case 'sinh':
      return realOnly(x, Math.sinh);
    case 'cosh':
      return realOnly(x, Math.cosh);
    case 'tanh':
      return realOnly(x, Math.tanh);
    case 'exp':
      return cexp(x);
    case 'log':
      return a.length > 1 ? cdiv(clog(x), clog(a[1])) : clog(x);
    case 'abs':
      return C(Math.hypot(x.re, x.im));
    case 'fact':
      return realOnly(x, gammaInt);
    case 'binom': {
      // C(n, k) for a small natural k is the polynomial n(n−1)…(n−k+1)/k!, defined for any n
      const [n, k] = a;
      if (k.im !== 0 || !Number.isInteger(k.re) || k.re < 0) return NAN;
      if (k.re > 170) return a[0].im === 0 ? C(gammaInt(n.re) / (gammaInt(k.re) * gammaInt(n.re - k.re))) : NAN;
      let r = C(1);
      for (let j = 0; j < k.re; j++) r = cdiv(cmul(r, C(n.re - j, n.im)), C(j + 1));
      return r;
    }
    case 'floor':
      return realOnly(x, Math.floor);
    case 'ceil':
      return realOnly(x, Math.ceil);
    default:
      return NAN;
  }
}

/** Whether the tree mentions infinity (so an infinite value is meant, not an overflow). */
export function mentionsInfinity(n: MathNode): boolean {
  return someNode(n, (x) => x.k === 'sym' && x.name === 'inf');
}

/** Real value of a constant scalar tree, or NaN; throws TooLargeError on overflow. */
export function constantValue(n: MathNode): Complex {
  const v = numericValue(n, new Map());
  if ((!Number.isFinite(v.re) && !Number.isNaN(v.re)) || (!Number.isFinite(v.im) && !Number.isNaN(v.im))) {
    if (!mentionsInfinity(n)) throw new TooLargeError('value');
  }
  return v;
}
