/**
 * The statistics and the exact-format reward of the reproduction: t quantiles against closed
 * forms, paired intervals against a hand computation, pass@k against enumeration, the answer
 * check's rejections, and summary.json's shape from synthetic run results.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeStaleTemps } from '../src/experiments/store.js';
import fc from 'fast-check';
import { formatDifference, pairedDifference, tQuantile975 } from '../src/experiments/stats.js';
import { extractExactAnswer, mathIsCorrect, mathTaskReward, randomReward } from '../src/experiments/eval/verifier.js';
import { passAtK } from '../src/metrics/pass-at-k.js';
import { summarizeExperiment } from '../src/experiments/summary.js';
import { BASE_ROW, mathPairedTable, pairedMathClaims, pairedSafetyClaims, type MethodRuns } from '../src/experiments/aggregate.js';
import type { ExperimentSummary, SummaryDifference, SummaryRow } from '../src/experiments/summary.js';
import type { RunResult } from '../src/experiments/steps/run-dir.js';
import type { MathTierScore } from '../src/experiments/eval/math-eval.js';
import type { StageConfig } from '../src/experiments/config/schema.js';

describe('t quantiles', () => {
  it('match the closed forms for 1 and 2 degrees of freedom and approach the normal', () => {
    // df = 1 (Cauchy): tan(π (p − 1/2)); df = 2: (2p − 1) / sqrt(2 p (1 − p)).
    expect(tQuantile975(1)).toBeCloseTo(Math.tan(Math.PI * 0.475), 3);
    expect(tQuantile975(2)).toBeCloseTo(0.95 / Math.sqrt(2 * 0.975 * 0.025), 3);
    expect(tQuantile975(4)).toBeCloseTo(2.7764, 4);
    expect(tQuantile975(31)).toBeCloseTo(2.0395, 2);
    expect(tQuantile975(1000)).toBeCloseTo(1.9623, 2);
    for (let df = 1; df < 60; df++) expect(tQuantile975(df + 1)).toBeLessThan(tQuantile975(df));
    expect(() => tQuantile975(0)).toThrow(/degrees of freedom/);
  });
});

describe('paired differences', () => {
  it('compute mean and t-interval of per-seed differences over the shared seeds only', () => {
    const a = new Map([
      [1, 30],
      [2, 34],
      [3, 38],
      [9, 99],
    ]);
    const b = new Map([
      [1, 20],
      [2, 22],
      [3, 24],
    ]);
    const d = pairedDifference(a, b);
    expect(d.seeds).toEqual([1, 2, 3]);
    expect(d.differences).toEqual([10, 12, 14]);
    expect(d.mean).toBe(12);
    // sd = 2, se = 2/√3, t(2) = 4.3027
    const half = (4.3027 * 2) / Math.sqrt(3);
    expect(d.ci95![0]).toBeCloseTo(12 - half, 3);
    expect(d.ci95![1]).toBeCloseTo(12 + half, 3);
    expect(d.verdict).toBe('better');
    expect(pairedDifference(b, a).verdict).toBe('worse');
    expect(pairedDifference(a, b, false).verdict).toBe('worse');
    expect(formatDifference(d)).toMatch(/^\+12\.0 \[\+\d+\.\d, \+\d+\.\d\]$/);
  });

  it('is not resolved when the interval covers 0 or there is one seed', () => {
    const noisy = pairedDifference(new Map([[1, 5], [2, -4], [3, 1]]), new Map([[1, 0], [2, 0], [3, 0]]));
    expect(noisy.ci95![0]).toBeLessThan(0);
    expect(noisy.verdict).toBe('not resolved');
    const one = pairedDifference(new Map([[1, 5]]), new Map([[1, 0]]));
    expect(one.ci95).toBeNull();
    expect(one.verdict).toBe('not resolved');
  });

  it('shifting both arms by the same per-seed amount leaves the difference unchanged (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.double({ min: -50, max: 50, noNaN: true }), fc.double({ min: -50, max: 50, noNaN: true }), fc.double({ min: -50, max: 50, noNaN: true })), { minLength: 2, maxLength: 8 }), (rows) => {
        const a = new Map(rows.map((r, i) => [i, r[0]]));
        const b = new Map(rows.map((r, i) => [i, r[1]]));
        const a2 = new Map(rows.map((r, i) => [i, r[0] + r[2]]));
        const b2 = new Map(rows.map((r, i) => [i, r[1] + r[2]]));
        const d1 = pairedDifference(a, b);
        const d2 = pairedDifference(a2, b2);
        expect(d2.mean).toBeCloseTo(d1.mean, 6);
        expect(d2.ci95![1] - d2.ci95![0]).toBeCloseTo(d1.ci95![1] - d1.ci95![0], 6);
      }),
      { numRuns: 100 },
    );
  });
});

describe('pass@k', () => {
  it('equals the enumerated probability that a k-subset contains a correct sample', () => {
    const choose = (n: number, k: number): number => (k < 0 || k > n ? 0 : k === 0 ? 1 : (choose(n - 1, k - 1) * n) / k);
    for (let n = 1; n <= 8; n++)
      for (let c = 0; c <= n; c++)
        for (let k = 1; k <= n; k++) expect(passAtK(n, c, k)).toBeCloseTo(1 - choose(n - c, k) / choose(n, k), 10);
    expect(passAtK(8, 0, 8)).toBe(0);
    expect(passAtK(8, 1, 8)).toBe(1);
    expect(passAtK(8, 2, 1)).toBeCloseTo(0.25, 12);
    expect(() => passAtK(4, 5, 1)).toThrow(/pass@k/);
  });
});

describe('exact-format answer check', () => {
  it('accepts exactly `#### N` on the last line, and nothing looser', () => {
    expect(mathIsCorrect(73, '47+8=55\n55+18=73\n#### 73')).toBe(true);
    expect(mathIsCorrect(73, '#### 73\n')).toBe(true);
    expect(mathIsCorrect(0, '#### 0')).toBe(true);
    for (const bad of ['##### 73', '#### 073', '####73', '####  73', '#### 7,3', '#### 73.0', ' #### 73', '#### -0', 'x #### 73', '#### 73\nmore', '#### 5\n#### 73', '73', '']) {
      expect(extractExactAnswer(bad), JSON.stringify(bad)).not.toBe(73);
    }
    expect(mathIsCorrect(73, '#### 74')).toBe(false);
    expect(extractExactAnswer(`${'1+1=2\n'.repeat(1000)}#### 2`)).toBeNull(); // over the length bound
  });

  it('the RL reward is 1/0 from the same check and null without a usable gold', async () => {
    const reward = mathTaskReward();
    const got = await reward([
      { prompt: 'p', completion: '#### 5', meta: { gold: 5 } },
      { prompt: 'p', completion: '##### 5', meta: { gold: 5 } },
      { prompt: 'p', completion: '#### 5', meta: { gold: '5' } },
      { prompt: 'p', completion: '#### 5' },
    ]);
    expect(got).toEqual([1, 0, null, null]);
  });

  it('the random control pays Bernoulli(p) whatever the completion, reproducibly by seed', async () => {
    const samples = Array.from({ length: 4000 }, (_, i) => ({ prompt: 'p', completion: i % 2 ? '#### 1' : 'junk' }));
    const a = await randomReward(7, 0.3)(samples);
    const b = await randomReward(7, 0.3)(samples);
    expect(a).toEqual(b);
    const mean = a.reduce((x: number, y) => x + (y as number), 0) / a.length;
    expect(mean).toBeGreaterThan(0.27);
    expect(mean).toBeLessThan(0.33);
    // Independent of the completion: the rate is the same on right and wrong answers.
    const odd = a.filter((_, i) => i % 2 === 1).reduce((x: number, y) => x + (y as number), 0) / 2000;
    expect(Math.abs(odd - mean)).toBeLessThan(0.04);
  });
});

function tiers(v: number): Record<'t1' | 't2' | 't3' | 'distractor', MathTierScore> {
  const s = { n: 10, greedy: v, sampled: null, formatted: 1 };
  return { t1: s, t2: s, t3: s, distractor: s };
}

function run(methodId: string, seed: number, v: number): RunResult {
  return {
    name: `${methodId}-${seed}`,
    task: 'math',
    seed,
    labels: { methodId },
    configHash: 'x',
    backend: 'wasm',
    wallSeconds: 0,
    finishedAt: '',
    stages: [],
    final: { task: 'math', tiers: tiers(v), meanGreedy: v },
    curve: [],
  };
}

describe('summary.json', () => {
  const grpoStage = { algorithm: 'grpo' } as StageConfig;
  const methods: MethodRuns[] = [
    { id: 'grpo', name: 'GRPO', stage: grpoStage, runs: [run('grpo', 1, 0.5), run('grpo', 2, 0.55), run('grpo', 3, 0.6)] },
    { id: 'rand', name: 'GRPO (random reward)', stage: { algorithm: 'grpo', randomReward: 0.5 } as StageConfig, runs: [run('rand', 1, 0.3), run('rand', 2, 0.32), run('rand', 3, 0.28)] },
    { id: 'kl', name: 'f-GRPO (KL)', stage: { algorithm: 'fgrpo', divergence: 'kl' } as StageConfig, runs: [run('kl', 1, 0.52), run('kl', 2, 0.5), run('kl', 3, 0.63)] },
  ];
  const summary = summarizeExperiment({ experiment: 'm', task: 'math', seeds: [1, 2, 3], base: { task: 'math', tiers: tiers(0.3), meanGreedy: 0.3 }, methods, reference: 'GRPO' });

  it('has the base, GRPO and the random control with per-seed scores and paired differences', () => {
    expect(summary.rows.map((r) => r.name)).toEqual([BASE_ROW, 'GRPO', 'GRPO (random reward)', 'f-GRPO (KL)']);
    const [base, grpo, random, kl] = summary.rows;
    expect(base.perSeed).toEqual({ 1: 30, 2: 30, 3: 30 });
    expect(base.vsBase).toBeNull();
    expect(grpo.vsGrpo).toBeNull();
    expect(grpo.perSeed['2']).toBeCloseTo(55, 10);
    expect(grpo.mean).toBeCloseTo(55, 10);
    expect(grpo.vsBase!.mean).toBeCloseTo(25, 10);
    expect(grpo.vsBase!.verdict).toBe('better');
    expect(random.vsBase!.verdict).toBe('not resolved');
    expect(random.vsGrpo!.verdict).toBe('worse');
    expect(kl.vsGrpo!.against).toBe('GRPO');
    expect(kl.vsGrpo!.verdict).toBe('not resolved');
    expect(base.vsGrpo!.mean).toBeCloseTo(-25, 10);
    expect(JSON.parse(JSON.stringify(summary))).toEqual(summary);
  });

  it('drives the paired table and the verdict claims', () => {
    const t = mathPairedTable(summary);
    expect(t.rows.find((r) => r.name === 'GRPO')!.cells.vs_base!.mean).toBeCloseTo(25, 10);
    const claims = pairedMathClaims(summary, methods);
    expect(claims.find((c) => c.claim.startsWith('GRPO improves'))!.held).toBe(true);
    expect(claims.find((c) => c.claim.startsWith('The random-reward control'))!.held).toBe(true);
    expect(claims.find((c) => c.claim.startsWith('f-GRPO (KL) beats'))!.held).toBeNull();
  });
});

describe('Experiment 2 verdicts', () => {
  const diff = (mean: number, ci95: [number, number], verdict: SummaryDifference['verdict']): SummaryDifference => ({ against: 'f-GRPO (λ=0)', seeds: [1, 2, 3], mean, ci95, verdict });
  const row = (name: string, id: string, mean: number, vsRef: SummaryDifference | null, gapVsRef: SummaryDifference | null): SummaryRow => ({
    name,
    id,
    seeds: [1, 2, 3],
    perSeed: {},
    mean,
    vsGrpo: vsRef,
    vsBase: null,
    metrics: { hacking_gap: { perSeed: {}, mean: 50, vsGrpo: gapVsRef, vsBase: null } },
  });
  const summary: ExperimentSummary = {
    experiment: 's',
    task: 'safety',
    metric: { name: 'true_score', unit: '%', higherIsBetter: true },
    reference: 'f-GRPO (λ=0)',
    seeds: [1, 2, 3],
    rows: [
      row('f-GRPO (λ=0)', 'fgrpo', 50, null, null),
      row('f-HAL (λ=0.5)', 'fhal-lambda-0.5', 50.3, diff(0.3, [-0.4, 1.0], 'not resolved'), diff(0.3, [-2.4, 3.0], 'not resolved')),
      row('f-HAL (λ=0.75)', 'fhal-lambda-0.75', 55, diff(5, [2, 8], 'better'), diff(-9, [-12, -6], 'better')),
      row('FDO (λ=1)', 'fdo', 80, diff(30, [25, 35], 'better'), diff(-70, [-75, -65], 'better')),
    ],
  };
  const claims = pairedSafetyClaims(summary);

  it('a true-score difference whose interval covers 0 is not resolved (null), not "held"', () => {
    const half = claims.find((c) => c.claim.startsWith('f-HAL (λ=0.5) has a higher true'))!;
    expect(half.held).toBeNull();
    expect(claims.find((c) => c.claim.startsWith('f-HAL (λ=0.75) has a higher true'))!.held).toBe(true);
    expect(claims.find((c) => c.claim.startsWith('f-HAL (λ=0.5) has a smaller hacking gap'))!.held).toBeNull();
  });

  it('asks the true-score question of f-HAL rows only', () => {
    expect(claims.filter((c) => c.claim.includes('higher true')).map((c) => c.claim.split(' has ')[0])).toEqual(['f-HAL (λ=0.5)', 'f-HAL (λ=0.75)']);
  });
});

describe('cache clean-up after a kill', () => {
  it('removes temporary entry folders whose writer is gone, keeps live ones and finished entries', () => {
    const root = mkdtempSync(join(tmpdir(), 'falign-cache-'));
    const kind = join(root, 'sft-base');
    // pid 2^22 + 1 is above Linux's pid_max, so no process has it.
    const dead = join(kind, `abc.tmp-${2 ** 22 + 1}-1700000000000`);
    const live = join(kind, `def.tmp-${process.pid}-1700000000000`);
    const done = join(kind, 'abc');
    for (const d of [dead, live, done]) mkdirSync(d, { recursive: true });
    expect(removeStaleTemps(root, true)).toEqual([`abc.tmp-${2 ** 22 + 1}-1700000000000`]);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(done)).toBe(true);
    rmSync(root, { recursive: true, force: true });
  });
});
