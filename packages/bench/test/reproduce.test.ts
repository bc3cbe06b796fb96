import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { reproduce } from '../src/experiments/reproduce.js';
import { defaultConfigs } from '../src/experiments/reproduce.js';
import { bundledConfigDir } from '../src/cli/commands/reproduce.js';

const dir = mkdtempSync(join(tmpdir(), 'falign-reproduce-'));

const common = {
  backend: 'cpu',
  model: { dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 128 },
  sft: { steps: 2, batchSize: 4, lr: 0.003, warmupSteps: 1 },
  eval: { every: 1, curvePrompts: 2, maxNewTokens: 6 },
};

const mathExp = {
  ...common,
  name: 'micro-math',
  task: 'math',
  seeds: [1],
  data: { testPerTier: 2, sftDemosPerTier: { t1: 2, t2: 2, t3: 2, distractor: 2 }, rlPromptsPerTier: { t1: 2, t2: 2, t3: 2, distractor: 2 } },
  training: { steps: 2, lr: 0.001, promptsPerStep: 2, groupSize: 2, maxNewTokens: 6, beta: 0.1 },
  methods: [
    { name: 'GRPO', stage: { algorithm: 'grpo' } },
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
  it('runs both experiments in two worker processes, writes the report, and resumes', async () => {
    const configs = [join(dir, 'math.json'), join(dir, 'safety.json')];
    writeFileSync(configs[0], JSON.stringify(mathExp));
    writeFileSync(configs[1], JSON.stringify(safetyExp));
    const out = join(dir, 'report');
    const cacheRoot = join(dir, 'cache');
    const first = await reproduce({ configs, outDir: out, workers: 2, cacheRoot, mode: 'micro', quiet: true, log: () => {} });
    expect(first.runs).toMatchObject({ expected: 4, finished: 4, skipped: 0, failed: [] });
    for (const f of ['README.md', 'report.md', 'index.html', 'claims.json', 'reproduce.json', 'tables/exp1-math-pass1.csv', 'tables/exp2-safety.csv', 'tables/exp2-rm-bias-probes.csv', 'plots/exp1-train-reward.svg', 'plots/exp2-rm-vs-true.svg']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    for (const run of ['micro-math/grpo/seed-1', 'micro-math/f-grpo-pearson/seed-1', 'micro-safety/f-hal-lambda-0.5/seed-1']) {
      expect(existsSync(join(out, 'runs', run, 'result.json')), run).toBe(true);
      expect(existsSync(join(out, 'runs', run, 'metrics.jsonl')), run).toBe(true);
    }
    const readme = readFileSync(join(out, 'README.md'), 'utf8');
    expect(readme).toMatch(/Which claims held at this scale/);
    expect(readme).toMatch(/Machine: \d+ cores?/);
    expect(readme).toContain('| Base (SFT) |');
    const csv = readFileSync(join(out, 'tables/exp1-math-pass1.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(1 + 3); // header, base, two methods
    // A second call reuses every finished run (and the cached shared artefacts) and rebuilds the same tables.
    const second = await reproduce({ configs, outDir: out, workers: 2, cacheRoot, mode: 'micro', quiet: true, log: () => {} });
    expect(second.runs).toMatchObject({ expected: 4, finished: 4, skipped: 4, failed: [] });
    expect(readFileSync(join(out, 'tables/exp1-math-pass1.csv'), 'utf8')).toBe(csv.join('\n') + '\n');
  });

  it('finds the bundled quick and full configs', () => {
    for (const f of [...defaultConfigs(bundledConfigDir(), 'quick'), ...defaultConfigs(bundledConfigDir(), 'full')]) expect(existsSync(f), f).toBe(true);
  });
});
