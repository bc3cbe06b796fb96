import { describe, expect, it } from 'vitest';
import { Rng } from '../src/index.js';

describe('Rng', () => {
  it('is deterministic per seed and different across seeds', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xa = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(xa);
  });

  it('restores its stream exactly from getState/setState', () => {
    const a = new Rng(7);
    for (let i = 0; i < 10; i++) a.next();
    const s = a.getState();
    expect(s).toHaveLength(4);
    const ahead = Array.from({ length: 8 }, () => a.normal());
    const b = new Rng(0);
    b.setState(JSON.parse(JSON.stringify(s)) as number[]);
    expect(Array.from({ length: 8 }, () => b.normal())).toEqual(ahead);
    expect(() => b.setState([1, 2, 3])).toThrow('expected 4 unsigned 32-bit integers');
  });

  it('fork gives independent reproducible streams without advancing the parent', () => {
    const p = new Rng(5);
    const before = p.getState();
    const f1 = p.fork(1);
    const f1again = p.fork(1);
    const f2 = p.fork(2);
    expect(p.getState()).toEqual(before);
    const s1 = Array.from({ length: 4 }, () => f1.nextUint32());
    expect(Array.from({ length: 4 }, () => f1again.nextUint32())).toEqual(s1);
    expect(Array.from({ length: 4 }, () => f2.nextUint32())).not.toEqual(s1);
  });

  it('has the right moments: uniform [0,1), integers in range, standard normal', () => {
    const r = new Rng(123);
    const n = 200_000;
    let su = 0, su2 = 0, sn = 0, sn2 = 0, sn4 = 0, lo = 1, hi = 0;
    const counts = new Array(7).fill(0);
    for (let i = 0; i < n; i++) {
      const u = r.next();
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      su += u;
      su2 += u * u;
      const z = r.normal();
      sn += z;
      sn2 += z * z;
      sn4 += z ** 4;
      counts[r.nextInt(7)]++;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    expect(su / n).toBeCloseTo(0.5, 2);
    expect(su2 / n - (su / n) ** 2).toBeCloseTo(1 / 12, 3);
    expect(sn / n).toBeCloseTo(0, 2);
    expect(sn2 / n).toBeCloseTo(1, 1);
    expect(sn4 / n).toBeCloseTo(3, 0); // kurtosis of a normal
    for (const c of counts) expect(Math.abs(c / n - 1 / 7)).toBeLessThan(0.005);
    expect(() => r.nextInt(0)).toThrow('positive integer');
  });
});
