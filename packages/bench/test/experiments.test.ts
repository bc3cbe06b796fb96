import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.js';
import { falignStdout as cli } from './helpers-cli.js';
import {
  BASE_ROW,
  difference,
  mathClaims,
  mathTable,
  relativeOverallBySeed,
  safetyClaims,
  type MethodRuns,
} from '../src/experiments/aggregate.js';
import { relativeOverall } from '../src/report/summary.js';
import { normalizeRmScore, summarizeSafety, type SafetySampleRecord } from '../src/experiments/eval/safety-eval.js';
import { mathIsCorrect } from '../src/experiments/eval/verifier.js';
import { canonicalJson, contentHash } from '../src/experiments/store.js';
import type { RunResult } from '../src/experiments/steps/run-dir.js';
import type { BaseEval } from '../src/experiments/steps/evaluate.js';
import type { StageConfig } from '../src/experiments/config/schema.js';
import type { MathTier } from '../src/experiments/generators/math.js';

type MathEval = Extract<BaseEval, { task: 'math' }>;

function mathEval(acc: [number, number, number, number]): MathEval {
  const tiers = {} as MathEval['tiers'];
  (['t1', 't2', 't3', 'distractor'] as MathTier[]).forEach((t, i) => (tiers[t] = { n: 10, greedy: acc[i], sampled: null, formatted: 1 }));
  return { task: 'math', tiers, meanGreedy: acc.reduce((a, b) => a + b, 0) / 4 };
}

function run(methodId: string, seed: number, final: BaseEval): RunResult {
  return { name: `${methodId}-${seed}`, task: final.task, seed, labels: { methodId }, configHash: 'x', backend: 'cpu', wallSeconds: 1, finishedAt: '', stages: [], final, curve: [] };
}

const grpoStage = { algorithm: 'grpo' } as StageConfig;
const fgrpo = (divergence: string) => ({ algorithm: 'fgrpo', divergence }) as StageConfig;

describe('experiment aggregation', () => {
  const base = mathEval([0.2, 0.1, 0.0, 0.2]);
  const methods: MethodRuns[] = [
    { id: 'grpo', name: 'GRPO', stage: grpoStage, runs: [run('grpo', 1, mathEval([0.3, 0.1, 0.1, 0.2])), run('grpo', 2, mathEval([0.3, 0.2, 0.1, 0.2]))] },
    { id: 'p', name: 'f-GRPO (Pearson χ²)', stage: fgrpo('pearson'), runs: [run('p', 1, mathEval([0.4, 0.2, 0.1, 0.3])), run('p', 2, mathEval([0.5, 0.2, 0.1, 0.3]))] },
    { id: 'k', name: 'f-GRPO (KL)', stage: fgrpo('kl'), runs: [run('k', 1, mathEval([0.2, 0.1, 0.0, 0.1])), run('k', 2, mathEval([0.2, 0.1, 0.0, 0.1]))] },
  ];

  it('builds the tier table with seed means and stderrs, base first', () => {
    const t = mathTable(base, methods);
    expect(t.rows.map((r) => r.name)).toEqual([BASE_ROW, 'GRPO', 'f-GRPO (Pearson χ²)', 'f-GRPO (KL)']);
    const p = t.rows[2].cells.t1!;
    expect(p.mean).toBeCloseTo(45, 10);
    // two seeds 40, 50: sample std 7.071, stderr 5
    expect(p.stderr).toBeCloseTo(5, 10);
    expect(p.n).toBe(2);
    expect(t.rows[0].cells.t1).toEqual({ mean: 20, n: 1 });
  });

  it('per-seed Relative Overall averages to the table value (hand-computed)', () => {
    const t = mathTable(base, methods);
    const ro = relativeOverallBySeed(t, methods);
    const table = relativeOverall(t, { base: BASE_ROW });
    for (const m of methods) expect(ro[m.name].mean).toBeCloseTo(table.scores[m.name]!, 8);
    // Columns: t1 base 20 best 45; t2 base 10 best 20; t3 base 0 best 10; distractor base 20 best 30.
    // Pearson seed 1: (40−20)/25·100 = 80, (20−10)/10·100 = 100, 100, 100 → 95;
    // seed 2: (50−20)/25·100 = 120, 100, 100, 100 → 105. Mean 100 (the best row), stderr 5.
    expect(ro['f-GRPO (Pearson χ²)'].perSeed).toEqual([95, 105].map((x) => expect.closeTo(x, 8)));
    expect(ro['f-GRPO (Pearson χ²)'].stderr).toBeCloseTo(5, 8);
  });

  it('computes claims from the numbers', () => {
    const claims = mathClaims(mathTable(base, methods), methods);
    const every = claims.find((c) => c.claim.startsWith('Every f-GRPO variant'))!;
    expect(every.held).toBe(false);
    expect(every.detail).toMatch(/^1 of 2 variants above GRPO/);
    const best = claims.find((c) => c.claim.startsWith('The best f-GRPO variant'))!;
    expect(best.claim).toContain('Pearson');
    expect(best.held).toBe(true);
    expect(claims.find((c) => c.claim.startsWith('Pearson χ² is the best'))!.held).toBe(true);
    expect(claims.find((c) => c.claim.startsWith('RL training with the task reward improves'))!.held).toBe(false);
  });

  it('difference stderr adds in quadrature and flags 2-stderr gaps', () => {
    const d = difference({ mean: 10, stderr: 3 }, { mean: 2, stderr: 4 });
    expect(d).toEqual({ delta: 8, stderr: 5, clear: false });
    expect(difference({ mean: 20, stderr: 3 }, { mean: 2, stderr: 4 }).clear).toBe(true);
  });
});

describe('safety scoring', () => {
  const rec = (label: 'harmful' | 'benign', refused: boolean, rm: number, rmNorm: number, completion = 'x'): SafetySampleRecord => ({
    id: 'i',
    label,
    prompt: 'p',
    completion,
    refused,
    aligned: label === 'harmful' ? refused : !refused,
    rm,
    rmNorm,
    tail: completion.includes('Hope this helps'),
  });

  it('summarises refusal, over-refusal, true score and the hacking gap', () => {
    const s = summarizeSafety([
      rec('harmful', true, 1, 1),
      rec('harmful', false, 2, 1.5, 'Sure, here is how. Hope this helps!'),
      rec('benign', false, 1, 1),
      rec('benign', true, 0, 0),
    ]);
    expect(s.refusalHarmful).toBe(0.5);
    expect(s.overRefusalBenign).toBe(0.5);
    expect(s.trueScore).toBe(0.5);
    // normalised RM: harmful mean 1.25, benign 0.5 → 0.875; gap 0.375
    expect(s.rmNormalized).toBeCloseTo(0.875, 12);
    expect(s.hackingGap).toBeCloseTo(0.375, 12);
    expect(s.tailRate).toBe(0.25);
  });

  it('normalises RM scores per label by the held-out chosen/rejected means', () => {
    const cal = { harmful: { chosen: 2, rejected: -2 }, benign: { chosen: 1, rejected: 0 } };
    expect(normalizeRmScore(2, 'harmful', cal)).toBe(1);
    expect(normalizeRmScore(-2, 'harmful', cal)).toBe(0);
    expect(normalizeRmScore(0, 'harmful', cal)).toBe(0.5);
    expect(normalizeRmScore(3, 'benign', cal)).toBe(3);
    expect(normalizeRmScore(1, 'benign', { ...cal, benign: { chosen: 1, rejected: 1 } })).toBeNaN();
  });

  it('safety claims compare on-policy, hybrid and offline methods', () => {
    const sEval = (trueScore: number, gap: number): BaseEval => ({
      task: 'safety',
      scores: { nHarmful: 1, nBenign: 1, refusalHarmful: trueScore, overRefusalBenign: 1 - trueScore, trueScore, rmScore: 0, rmNormalized: trueScore + gap, hackingGap: gap, tailRate: 0, meanLength: 1 },
    });
    const base = sEval(0.5, 0) as Extract<BaseEval, { task: 'safety' }>;
    const m = (id: string, stage: object, t: number, g: number): MethodRuns => ({ id, name: id, stage: stage as StageConfig, runs: [run(id, 1, sEval(t, g)), run(id, 2, sEval(t, g))] });
    const claims = safetyClaims(base, [
      m('onpolicy', { algorithm: 'fgrpo' }, 0.4, 0.4),
      m('half', { algorithm: 'fhal', lambda: 0.5 }, 0.8, 0.05),
      m('fdo', { algorithm: 'fdo' }, 0.7, 0.0),
    ]);
    expect(claims.map((c) => c.held)).toEqual([true, true, true, true, true]);
    expect(claims[0].detail).toContain('gap 40.0 vs base 0.0');
  });
});

describe('math verifier and cache keys', () => {
  it('uses exact-format #### extraction', () => {
    expect(mathIsCorrect(7, '3+4=7\n#### 7')).toBe(true);
    expect(mathIsCorrect(7, '3+4=7')).toBe(false);
    expect(mathIsCorrect(7, '#### 8')).toBe(false);
  });

  it('hashes configs independently of key order', () => {
    expect(canonicalJson({ b: 1, a: { d: 2, c: [3, { f: 1, e: 2 }] } })).toBe('{"a":{"c":[3,{"e":2,"f":1}],"d":2},"b":1}');
    expect(contentHash({ a: 1, b: 2 })).toBe(contentHash({ b: 2, a: 1 }));
    expect(contentHash({ a: 1 })).not.toBe(contentHash({ a: 2 }));
  });
});

const tiny = {
  seed: 1,
  backend: 'cpu',
  model: { dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 128 },
  sft: { steps: 2, batchSize: 4, lr: 0.003, warmupSteps: 1 },
  eval: { every: 1, curvePrompts: 2, maxNewTokens: 6 },
};

describe('falign run (micro end-to-end)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'falign-run-'));
  process.env.FALIGN_CACHE_DIR = join(dir, 'cache');
  process.env.FALIGN_QUIET = '1';

  it('runs a math pipeline (f-GRPO then FDO) and writes the run directory and the report tables', async () => {
    const cfg = {
      ...tiny,
      name: 'micro-math',
      task: 'math',
      data: { testPerTier: 2, sftDemosPerTier: { t1: 3, t2: 3, t3: 3, distractor: 3 }, rlPromptsPerTier: { t1: 2, t2: 2, t3: 2, distractor: 2 } },
      stages: [
        { algorithm: 'fgrpo', divergence: 'pearson', steps: 2, lr: 0.001, promptsPerStep: 2, groupSize: 2, maxNewTokens: 6 },
        { algorithm: 'fdo', divergence: 'kl', steps: 1, lr: 0.001, batchSize: 2 },
      ],
    };
    const file = join(dir, 'math.json');
    writeFileSync(file, JSON.stringify(cfg));
    const out = join(dir, 'out-math');
    const json = JSON.parse(await cli(['run', file, '--out', out, '--json']));
    expect(json.result.final.task).toBe('math');
    expect(json.result.stages.map((s: { algorithm: string; steps: number }) => `${s.algorithm}×${s.steps}`)).toEqual(['fgrpo×2', 'fdo×1']);
    // curve: step 0, each step of stage 1, and the end
    expect(json.result.curve.map((p: { step: number }) => p.step)).toEqual([0, 1, 2, 3]);
    for (const f of ['config.json', 'result.json', 'eval/math/results.json', 'eval/math/samples.jsonl', 'stage-1/metrics.jsonl', 'stage-2/metrics.jsonl', 'report/README.md', 'report/index.html', 'report/tables/exp1-math-pass1.csv', 'report/plots/exp1-tiers.svg']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const csv = readFileSync(join(out, 'report/tables/exp1-math-pass1.csv'), 'utf8');
    expect(csv.split('\n')[0]).toContain('t1');
    expect(csv).toContain('Base (SFT)');
    expect(readFileSync(join(out, 'stage-1/metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    const samples = readFileSync(join(out, 'eval/math/samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(samples).toHaveLength(8);
    for (const s of samples) expect(s.correct).toBe(mathIsCorrect(s.gold, s.completion));
    // A second call with the same config reuses the finished run.
    const again = JSON.parse(await cli(['run', file, '--out', out, '--json', '--no-report']));
    expect(again.result.finishedAt).toBe(json.result.finishedAt);
  });

  it('runs a safety pipeline (f-HAL then DPO) against a learned reward model', async () => {
    const cfg = {
      ...tiny,
      name: 'micro-safety',
      task: 'safety',
      data: { source: 'templates', testPerLabel: 2, trainPerLabel: 4, sftDemosPerLabel: 3 },
      rewardModel: { model: { dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 128 }, steps: 2, batchSize: 4, lr: 0.003 },
      stages: [
        { algorithm: 'fhal', divergence: 'jensen_shannon', lambda: 0.5, offlineBatchSize: 2, steps: 2, lr: 0.001, promptsPerStep: 2, groupSize: 2, maxNewTokens: 6 },
        { algorithm: 'dpo', steps: 1, lr: 0.001, batchSize: 2 },
      ],
    };
    const file = join(dir, 'safety.json');
    writeFileSync(file, JSON.stringify(cfg));
    const out = join(dir, 'out-safety');
    const json = JSON.parse(await cli(['run', file, '--out', out, '--json']));
    const s = json.result.final.scores;
    expect(s.nHarmful).toBe(2);
    expect(s.nBenign).toBe(2);
    expect(s.trueScore).toBeCloseTo((s.refusalHarmful + 1 - s.overRefusalBenign) / 2, 12);
    expect(s.hackingGap).toBeCloseTo(s.rmNormalized - s.trueScore, 12);
    const metrics = readFileSync(join(out, 'stage-1/metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(metrics[0]).toHaveProperty(['rewards/true_safety/mean']);
    expect(metrics[0]).toHaveProperty(['rewards/reward_model/mean']);
    for (const f of ['report/tables/exp2-safety.csv', 'report/tables/exp2-reward-model.csv', 'report/tables/exp2-rm-bias-probes.csv']) expect(existsSync(join(out, f)), f).toBe(true);
  });

  it('fails with the field path for an invalid config', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ ...tiny, name: 'bad', task: 'math', stages: [{ algorithm: 'fgrpo', divergence: 'cosine' }] }));
    const err: string[] = [];
    const w = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => (err.push(String(s)), true)) as typeof process.stderr.write;
    try {
      await main(['node', 'falign', 'run', file]);
    } finally {
      process.stderr.write = w;
    }
    expect(process.exitCode).toBe(1);
    process.exitCode = 0;
    expect(err.join('')).toMatch(/stages\[0\]\.divergence: expected one of kl, reverse_kl/);
  });
});
