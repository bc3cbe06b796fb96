/**
 * Small, fast, seedable PRNG (sfc32) with a serialisable state, so a trainer can checkpoint and
 * resume its random stream exactly. Seeds are expanded with splitmix32 so nearby seeds give
 * unrelated streams.
 */

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** Seeded random stream: uniform, integer and standard-normal draws. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `seed` is any finite number; its integer part (mod 2^32) selects the stream. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`Rng: seed must be a finite number, got ${seed}`);
    const hi = Math.floor(seed / 4294967296) >>> 0;
    const sm = splitmix32((seed >>> 0) ^ Math.imul(hi, 0x27d4eb2d));
    this.a = sm();
    this.b = sm();
    this.c = sm();
    this.d = sm();
    // Discard a few outputs: sfc32's first draws are weakly mixed.
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new Error(`Rng.nextInt: n must be a positive integer, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Standard normal draw (Box–Muller; one draw per call so the state stays four integers). */
  normal(): number {
    let u = this.next();
    while (u === 0) u = this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** The full state: four 32-bit integers. */
  getState(): number[] {
    return [this.a >>> 0, this.b >>> 0, this.c >>> 0, this.d >>> 0];
  }

  /** Restores a state from {@link getState}. */
  setState(s: number[]): void {
    if (!Array.isArray(s) || s.length !== 4 || s.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff)) {
      throw new Error(`Rng.setState: expected 4 unsigned 32-bit integers, got ${JSON.stringify(s)}`);
    }
    [this.a, this.b, this.c, this.d] = s.map((x) => x | 0);
  }

  /** An independent stream derived from this one's current state and `salt`; does not advance this one. */
  fork(salt: number): Rng {
    const [a, b, c, d] = this.getState();
    const mixed = splitmix32(a ^ Math.imul(b, 0x9e3779b1) ^ Math.imul(c, 0x85ebca77) ^ Math.imul(d, 0xc2b2ae3d) ^ (salt >>> 0));
    const child = new Rng(0);
    child.setState([mixed(), mixed(), mixed(), mixed() ^ (Math.floor(salt / 4294967296) >>> 0)].map((x) => x >>> 0));
    for (let i = 0; i < 12; i++) child.nextUint32();
    return child;
  }
}
