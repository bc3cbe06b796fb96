import { describe, expect, it } from 'vitest';
import { RewardFunctionError, composeRewards, composeRewardsDetailed, namedReward, type RewardFn, type RewardSample } from '@falign/rewards';

const batch: RewardSample[] = [0, 1, 2].map((i) => ({ prompt: `p${i}`, completion: `c${i}` }));
const fixed = (name: string, values: (number | null)[]): RewardFn => namedReward(name, (_s, i) => values[i]);

describe('composeRewards', () => {
  it('computes the weighted sum, leaving out nulls; all-null gives null', async () => {
    const r = composeRewards([
      { fn: fixed('acc', [1, null, null]), weight: 2 },
      { fn: fixed('fmt', [0.5, 1, null]), weight: 0.1 },
    ]);
    const out = await r(batch);
    expect(out[0]).toBeCloseTo(2 * 1 + 0.1 * 0.5);
    expect(out[1]).toBeCloseTo(0.1);
    expect(out[2]).toBeNull();
    expect(r.rewardName).toBe('composite');
    expect(r.componentNames).toEqual(['acc', 'fmt']);
  });
  it('reports raw per-function values for logging', async () => {
    const detailed = composeRewardsDetailed([{ fn: fixed('a', [1, 2, 3]) }, { fn: fixed('b', [null, 0, -1]), weight: 3 }]);
    const { total, perFunction } = await detailed(batch);
    expect(perFunction).toEqual({ a: [1, 2, 3], b: [null, 0, -1] });
    expect(total).toEqual([1, 2, 0]);
  });
  it("'mean' divides by the weights of the applicable functions", async () => {
    const r = composeRewards([{ fn: fixed('a', [1, 1, null]), weight: 1 }, { fn: fixed('b', [0, null, null]), weight: 3 }], { aggregation: 'mean' });
    expect(await r(batch)).toEqual([0.25, 1, null]);
  });
  it('surfaces a thrown error with the function name, never as 0', async () => {
    const boom: RewardFn = async () => {
      throw new Error('verifier timed out');
    };
    boom.rewardName = 'math';
    const r = composeRewards([{ fn: fixed('fmt', [1, 1, 1]) }, { fn: boom }]);
    const err = await r(batch).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RewardFunctionError);
    expect((err as Error).message).toBe('reward function "math" failed: verifier timed out');
    expect(((err as Error).cause as Error).message).toBe('verifier timed out');
    expect((err as RewardFunctionError).rewardName).toBe('math');
  });
  it('rejects malformed outputs naming the function and sample', async () => {
    await expect(composeRewards([{ fn: fixed('nan', [1, Number.NaN, 0]) }])(batch)).rejects.toThrow(
      'reward function "nan" returned NaN for sample 1; expected a finite number, or null for "not applicable"',
    );
    const short: RewardFn = async () => [1];
    await expect(composeRewards([{ fn: short, name: 'short' }])(batch)).rejects.toThrow('"short" returned 1 values for a batch of 3');
    const undef = fixed('u', [1, undefined as unknown as null, 0]);
    await expect(composeRewards([{ fn: undef }])(batch)).rejects.toThrow(/returned undefined for sample 1/);
  });
  it('validates the components', () => {
    expect(() => composeRewards([])).toThrow(/at least one/);
    expect(() => composeRewards([{ fn: fixed('a', []) }, { fn: fixed('a', []) }])).toThrow(/two components are named "a"/);
    expect(() => composeRewards([{ fn: fixed('a', []), weight: Number.POSITIVE_INFINITY }])).toThrow(/weight of "a"/);
    expect(() => composeRewards([{ fn: fixed('a', []) }], { aggregation: 'max' as never })).toThrow(/aggregation/);
  });
  it('runs components concurrently', async () => {
    let running = 0;
    let peak = 0;
    const slow = (name: string): RewardFn => {
      const f: RewardFn = async (b) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 20));
        running--;
        return b.map(() => 1);
      };
      f.rewardName = name;
      return f;
    };
    expect(await composeRewards([{ fn: slow('x') }, { fn: slow('y') }])(batch)).toEqual([2, 2, 2]);
    expect(peak).toBe(2);
  });
});
