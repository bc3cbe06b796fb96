import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reproduce } from '../src/experiments/reproduce.js';
import { defaultConfigs } from '../src/experiments/reproduce.js';
import { bundledConfigDir } from '../src/cli/commands/reproduce.js';
import { executeJob } from '../src/experiments/jobs.js';
import { expandExperiment, loadExperimentConfig } from '../src/experiments/config/load.js';
import { prepareUnits, runUnits } from '../src/experiments/work.js';

const dir = mkdtempSync(join(tmpdir(), 'falign-reproduce-'));

const common = {
  backend: 'cpu',
  model: { dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 128 },
  sft: { steps: 2, batchSize: 4, lr: 0.003, warmupSteps: 1 },
  eval: { every: 1, curvePrompts: 2, maxNewTokens: 6, baseSamples: 2 },
};

const mathExp = {
  ...common,
  name: 'micro-math',
  task: 'math',
  seeds: [1],
  data: { testPerTier: 2, sftDemosPerTier: { t1: 2, t2: 2, t3: 2, distractor: 2 }, rlPromptsPerTier: { t1: 2, t2: 2, t3: 2, distractor: 2 } },
  training: { steps: 2, lr: 0.001, promptsPerStep: 2, groupSize: 2, maxNewTokens: 6, beta: 0.1 },
  methods: [
    { name: 'No RL (SFT continued)', id: 'no-rl', stage: { algorithm: 'sft', batchSize: 2 } },
    { name: 'GRPO', stage: { algorithm: 'grpo' } },
    { name: 'GRPO (random reward)', id: 'grpo-random', stage: { algorithm: 'grpo', randomReward: 0.5 } },
    { name: 'f-GRPO (Pearson χ²)', stage: { algorithm: 'fgrpo', divergence: 'pearson' } },
  ],
};

const safetyExp = {
  ...common,
  name: 'micro-safety',
  task: 'safety',
  seeds: [1],
  data: { source: 'templates', testPerLabel: 2, trainPerLabel: 4, sftDemosPerLabel: 2 },
  rewardModel: { model: { dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 128 }, steps: 2, batchSize: 4, lr: 0.003 },
  training: { steps: 2, lr: 0.001, promptsPerStep: 2, groupSize: 2, maxNewTokens: 6, divergence: 'jensen_shannon', offlineBatchSize: 2, batchSize: 2 },
  methods: [
    { name: 'f-GRPO (λ=0)', stage: { algorithm: 'fgrpo' } },
    { name: 'f-HAL (λ=0.5)', stage: { algorithm: 'fhal', lambda: 0.5 } },
  ],
};

describe('falign reproduce (micro)', () => {
  it('runs both experiments in two worker processes, writes the report, resumes, and re-runs byte-identically', async () => {
    const configs = [join(dir, 'math.json'), join(dir, 'safety.json')];
    writeFileSync(configs[0], JSON.stringify(mathExp));
    writeFileSync(configs[1], JSON.stringify(safetyExp));
    const out = join(dir, 'report');
    const cacheRoot = join(dir, 'cache');
    const first = await reproduce({ configs, outDir: out, workers: 2, cacheRoot, mode: 'micro', quiet: true, log: () => {} });
    expect(first.runs).toMatchObject({ expected: 6, finished: 6, skipped: 0, failed: [] });
    for (const f of ['README.md', 'report.md', 'index.html', 'claims.json', 'reproduce.json', 'summary.json', 'provenance.json', 'tables/exp1-math-paired.csv', 'tables/exp1-optimisation.csv', 'tables/exp1-base-tiers.csv', 'tables/exp2-safety-paired.csv', 'tables/exp1-math-pass1.csv', 'tables/exp2-safety.csv', 'tables/exp2-rm-bias-probes.csv', 'plots/exp1-train-reward.svg', 'plots/exp2-rm-vs-true.svg']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    for (const run of ['micro-math/grpo/seed-1', 'micro-math/f-grpo-pearson/seed-1', 'micro-safety/f-hal-lambda-0.5/seed-1']) {
      expect(existsSync(join(out, 'runs', run, 'result.json')), run).toBe(true);
      expect(existsSync(join(out, 'runs', run, 'metrics.jsonl')), run).toBe(true);
    }
    const readme = readFileSync(join(out, 'README.md'), 'utf8');
    expect(readme).toMatch(/Which claims held at this scale/);
    expect(readme).toContain('| Base (SFT) |');
    expect(readme).toContain('provenance.json');
    const prov = JSON.parse(readFileSync(join(out, 'provenance.json'), 'utf8'));
    expect(prov.machine).toMatch(/^\d+ cores?/);
    expect(typeof prov.wallSeconds).toBe('number');
    const csv = readFileSync(join(out, 'tables/exp1-math-pass1.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(1 + 5); // header, base, four methods
    // summary.json: every row of the table, the random control, paired differences with a verdict.
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    const math = summary.experiments.find((e: { experiment: string }) => e.experiment === 'micro-math');
    expect(math.rows.map((r: { name: string }) => r.name)).toEqual(['Base (SFT)', 'No RL (SFT continued)', 'GRPO', 'GRPO (random reward)', 'f-GRPO (Pearson χ²)']);
    const pearson = math.rows[4];
    expect(pearson.seeds).toEqual([1]);
    expect(Object.keys(pearson.perSeed)).toEqual(['1']);
    expect(pearson.vsGrpo.against).toBe('GRPO');
    expect(pearson.vsGrpo.verdict).toBe('not resolved'); // one seed: no interval
    expect(pearson.vsBase.against).toBe('Base (SFT)');
    const safety = summary.experiments.find((e: { experiment: string }) => e.experiment === 'micro-safety');
    expect(safety.reference).toBe('f-GRPO (λ=0)');
    expect(safety.rows[2].metrics.hacking_gap.vsGrpo.against).toBe('f-GRPO (λ=0)');
    // The random control trained on coin flips and logged the task's accuracy beside them.
    const lines = readFileSync(join(out, 'runs/micro-math/grpo-random/seed-1/metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toHaveProperty(['rewards/random/mean']);
    expect(lines[0]).toHaveProperty(['rewards/accuracy/mean']);
    expect(lines[0]).toHaveProperty(['grad_clipped']);
    // Reproducible outputs: nothing but provenance.json names this machine or this folder.
    const generated = ['README.md', 'report.md', 'index.html', 'claims.json', 'reproduce.json', 'summary.json', 'tables/exp1-math-pass1.md', 'tables/exp1-math-paired.csv'];
    for (const f of generated) expect(readFileSync(join(out, f), 'utf8'), f).not.toContain(dir);
    const snapshot = Object.fromEntries(generated.map((f) => [f, readFileSync(join(out, f), 'utf8')]));
    // A second call reuses every finished run (and the cached shared artefacts) and rebuilds the same files.
    const second = await reproduce({ configs, outDir: out, workers: 2, cacheRoot, mode: 'micro', quiet: true, log: () => {} });
    expect(second.runs).toMatchObject({ expected: 6, finished: 6, skipped: 6, failed: [] });
    for (const f of generated) expect(readFileSync(join(out, f), 'utf8'), f).toBe(snapshot[f]);
    // A fresh output folder retrains every run from the cached base: same seeds, same numbers.
    const out2 = join(dir, 'report-2');
    await reproduce({ configs, outDir: out2, workers: 2, cacheRoot, mode: 'micro', quiet: true, log: () => {} });
    for (const f of ['summary.json', 'tables/exp1-math-pass1.csv', 'tables/exp2-safety.csv', 'claims.json']) expect(readFileSync(join(out2, f), 'utf8'), f).toBe(snapshot[f] ?? readFileSync(join(out, f), 'utf8'));
  });

  it('a job reports exactly its planned work units (the overall bar ends at its total)', async () => {
    const file = join(dir, 'math-units.json');
    writeFileSync(file, JSON.stringify({ ...mathExp, name: 'units-math' }));
    const grid = expandExperiment(loadExperimentConfig(file));
    const cacheRoot = join(dir, 'cache-units');
    let prep = 0;
    await executeJob({ kind: 'prepare', pipeline: grid[0].pipeline, cacheRoot }, (u) => (prep += u));
    expect(prep).toBe(prepareUnits(grid[0].pipeline));
    for (const run of [grid[0], grid[1]]) {
      let units = 0;
      await executeJob({ kind: 'run', pipeline: run.pipeline, cacheRoot, runDir: join(dir, 'units', run.methodId), labels: {} }, (u) => (units += u));
      expect(units, run.methodId).toBe(runUnits(run.pipeline));
    }
  });

  it('finds the bundled quick and full configs', () => {
    for (const f of [...defaultConfigs(bundledConfigDir(), 'quick'), ...defaultConfigs(bundledConfigDir(), 'full')]) expect(existsSync(f), f).toBe(true);
  });
});
