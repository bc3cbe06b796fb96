/**
 * Evaluation of scalar trees: exact (rational, BigInt) when possible, otherwise complex
 * floating point at given variable values. Both are bounded: huge powers and factorials throw
 * {@link TooLargeError} (the verifier reports "cannot decide") instead of running away.
 */
import type { MathNode } from './ast.js';
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
      return fnValue(n.name, n.args.map((a) => numericValue(a, env)));
    default:
      return NAN;
  }
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
    case 'binom':
      return a[0].im === 0 && a[1].im === 0 ? C(gammaInt(a[0].re) / (gammaInt(a[1].re) * gammaInt(a[0].re - a[1].re))) : NAN;
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
  if (n.k === 'sym') return n.name === 'inf';
  switch (n.k) {
    case 'num':
    case 'text':
      return false;
    default:
      return JSON.stringify(n).includes('"inf"');
  }
}

/** Real value of a constant scalar tree, or NaN; throws TooLargeError on overflow. */
export function constantValue(n: MathNode): Complex {
  const v = numericValue(n, new Map());
  if ((!Number.isFinite(v.re) && !Number.isNaN(v.re)) || (!Number.isFinite(v.im) && !Number.isNaN(v.im))) {
    if (!mentionsInfinity(n)) throw new TooLargeError('value');
  }
  return v;
}
