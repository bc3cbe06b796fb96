import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSharedPool, mathAccuracyReward, VerifierPool, verify, verifyAsync } from '../src/index.js';
import { MATH_CASES } from './cases/math-equivalence.js';

describe('VerifierPool (workers run the TypeScript sources through tsx)', () => {
  let pool: VerifierPool;
  beforeAll(() => {
    pool = new VerifierPool({ size: 2, timeoutMs: 2000 });
  });
  afterAll(async () => {
    await pool.close();
    await closeSharedPool();
  });

  it('gives the same results as synchronous verify', async () => {
    const items = MATH_CASES.slice(0, 60).map(([gold, pred, , opts]) => ({ gold, pred, opts }));
    const results = await pool.verifyMany(items);
    results.forEach((r, i) => expect(r).toEqual(verify(items[i].gold, items[i].pred, items[i].opts)));
  });

  it('a runaway check is killed at the hard limit and reported as a timeout; the pool recovers', async () => {
    const before = pool.restarts;
    const t = Date.now();
    const r = await pool._debugRun({ gold: '1', pred: '1', spinMs: 60_000, opts: { timeoutMs: 300 } });
    expect(Date.now() - t).toBeLessThan(10_000);
    expect(r).toMatchObject({ correct: false, error: 'timeout after 300 ms', errorKind: 'timeout' });
    expect(pool.restarts).toBe(before + 1);
    expect((await pool.verify('\\frac12', '0.5')).correct).toBe(true);
  });

  it('a crashed worker is an internal error, not a wrong answer', async () => {
    const r = await pool._debugRun({ gold: '1', pred: '1', crash: true });
    expect(r.errorKind).toBe('internal');
    expect(r.error).toMatch(/exited with code 3/);
    expect((await pool.verify('2', '2')).correct).toBe(true);
  });

  it('adversarial inputs through the pool', async () => {
    const preds = ['10^{10^{10}}', '{'.repeat(5000), '\\boxed{', 'x'.repeat(100_000), '\\frac{'.repeat(300) + '1'];
    const rs = await pool.verifyMany(preds.map((pred) => ({ gold: '5', pred })));
    for (const r of rs) expect(r.correct).toBe(false);
    expect(rs[0].errorKind).toBe('pred');
  });

  it('reward through the pool, verifyAsync, and close rejects new work', async () => {
    const fn = mathAccuracyReward({ pool });
    expect(await fn([{ prompt: '', completion: '\\boxed{4}', meta: { gold: '2^2' } }])).toEqual([1]);
    expect((await verifyAsync('\\frac{1}{2}', '0.5')).correct).toBe(true);
    const p2 = new VerifierPool({ size: 1 });
    await p2.close();
    await expect(p2.verify('1', '1')).rejects.toThrow(/closed/);
  });
});
