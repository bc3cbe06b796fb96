/**
 * Exact rational arithmetic on BigInt with size limits, so that untrusted answers such as
 * `10^{10^{10}}` or `1000!` are refused (thrown as {@link TooLargeError}) instead of hanging.
 */

/** Thrown when an exact computation would exceed the size limits; callers report "cannot decide". */
export class TooLargeError extends Error {
  constructor(what: string) {
    super(`cannot decide: ${what} too large for exact arithmetic`);
    this.name = 'TooLargeError';
  }
}

/** Largest numerator/denominator size (in bits) an exact value may reach. */
export const MAX_BITS = 4096;

function bitLength(n: bigint): number {
  if (n < 0n) n = -n;
  return n === 0n ? 0 : n.toString(16).length * 4;
}

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  if (b < 0n) b = -b;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

/** An exact rational number n/d with d > 0 and gcd(n, d) = 1. */
export class Rational {
  readonly n: bigint;
  readonly d: bigint;

  constructor(n: bigint, d: bigint = 1n) {
    if (d === 0n) throw new RangeError('division by zero');
    if (d < 0n) {
      n = -n;
      d = -d;
    }
    const g = gcd(n, d);
    if (g > 1n) {
      n /= g;
      d /= g;
    }
    if (bitLength(n) > MAX_BITS || bitLength(d) > MAX_BITS) throw new TooLargeError('number');
    this.n = n;
    this.d = d;
  }

  static readonly ZERO = new Rational(0n);
  static readonly ONE = new Rational(1n);

  static int(k: number | bigint): Rational {
    return new Rational(BigInt(k));
  }

  /**
   * Parses a plain decimal literal ("12", "-0.25", ".5", "1e-3" is not accepted). Returns null
   * when the text is not a decimal literal.
   */
  static parseDecimal(text: string): Rational | null {
    const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text);
    if (!m || (m[2] === '' && (m[3] === undefined || m[3] === ''))) return null;
    if (text.length > 1200) throw new TooLargeError('literal');
    const intPart = m[2] || '0';
    const frac = m[3] ?? '';
    const n = BigInt(intPart + frac) * (m[1] === '-' ? -1n : 1n);
    return new Rational(n, 10n ** BigInt(frac.length));
  }

  add(o: Rational): Rational {
    return new Rational(this.n * o.d + o.n * this.d, this.d * o.d);
  }
  sub(o: Rational): Rational {
    return new Rational(this.n * o.d - o.n * this.d, this.d * o.d);
  }
  mul(o: Rational): Rational {
    return new Rational(this.n * o.n, this.d * o.d);
  }
  div(o: Rational): Rational {
    if (o.n === 0n) throw new RangeError('division by zero');
    return new Rational(this.n * o.d, this.d * o.n);
  }
  neg(): Rational {
    return new Rational(-this.n, this.d);
  }
  isZero(): boolean {
    return this.n === 0n;
  }
  isInteger(): boolean {
    return this.d === 1n;
  }
  sign(): number {
    return this.n === 0n ? 0 : this.n > 0n ? 1 : -1;
  }
  equals(o: Rational): boolean {
    return this.n === o.n && this.d === o.d;
  }
  compare(o: Rational): number {
    const l = this.n * o.d;
    const r = o.n * this.d;
    return l === r ? 0 : l < r ? -1 : 1;
  }

  /** Integer power; refuses results that would exceed {@link MAX_BITS}. */
  pow(k: Rational): Rational {
    if (!k.isInteger()) throw new RangeError('non-integer exponent');
    const e = k.n;
    if (e === 0n) return Rational.ONE;
    const abs = e < 0n ? -e : e;
    const base = Math.max(bitLength(this.n), bitLength(this.d));
    if (base > 1 && Number(abs) * base > MAX_BITS) throw new TooLargeError('power');
    if (abs > 100000n) {
      // base is 0, 1 or -1 here
      if (this.n === 0n && e < 0n) throw new RangeError('division by zero');
    }
    const small = abs > 100000n ? (abs % 2n) + 2n : abs;
    let r = new Rational(this.n ** small, this.d ** small);
    if (e < 0n) r = Rational.ONE.div(r);
    return r;
  }

  /** Nearest double (exact for the common cases; large values via division of scaled BigInts). */
  toNumber(): number {
    if (this.d === 1n) return Number(this.n);
    const n = Number(this.n);
    const d = Number(this.d);
    if (Number.isFinite(n) && Number.isFinite(d) && Math.abs(n) < 2 ** 53 && d < 2 ** 53) return n / d;
    // Scale to keep ~60 significant bits.
    const shift = BigInt(Math.max(0, bitLength(this.d) - bitLength(this.n) + 64));
    const q = (this.n << shift) / this.d;
    return Number(q) / 2 ** Number(shift);
  }

  toString(): string {
    return this.d === 1n ? this.n.toString() : `${this.n}/${this.d}`;
  }
}

/** n! for small n; refuses n > 1000 (its value would exceed the exact-arithmetic limit). */
export function factorial(n: Rational): Rational {
  if (!n.isInteger() || n.n < 0n) throw new RangeError('factorial of a non-natural number');
  if (n.n > 400n) throw new TooLargeError('factorial');
  let r = 1n;
  for (let i = 2n; i <= n.n; i++) r *= i;
  return new Rational(r);
}

/** Binomial coefficient C(n, k) for naturals n ≤ 100000 with bounded result size. */
export function binomial(n: Rational, k: Rational): Rational {
  if (!n.isInteger() || !k.isInteger() || n.n < 0n || k.n < 0n) throw new RangeError('binomial of non-naturals');
  if (k.n > n.n) return Rational.ZERO;
  let kk = k.n < n.n - k.n ? k.n : n.n - k.n;
  if (kk > 2000n) throw new TooLargeError('binomial');
  let r = 1n;
  for (let i = 1n; i <= kk; i++) {
    r = (r * (n.n - kk + i)) / i;
  }
  return new Rational(r);
}
