import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  expandExperiment,
  formatPath,
  loadExperimentConfig,
  loadPipelineConfig,
  methodId,
} from '../src/experiments/config/load.js';
import { bundledConfigDir } from '../src/cli/commands/reproduce.js';

const dir = mkdtempSync(join(tmpdir(), 'falign-config-'));
let n = 0;
function file(value: unknown): string {
  const f = join(dir, `c${n++}.json`);
  writeFileSync(f, typeof value === 'string' ? value : JSON.stringify(value));
  return f;
}

const pipeline = {
  name: 'p',
  task: 'math',
  model: { dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 128 },
  data: { testPerTier: 4, sftDemosPerTier: { t1: 4, t2: 4, t3: 4, distractor: 4 }, rlPromptsPerTier: { t1: 4, t2: 4, t3: 4, distractor: 4 } },
  sft: { steps: 2, batchSize: 4, lr: 0.001 },
  stages: [
    { algorithm: 'fgrpo', divergence: 'pearson', steps: 1, lr: 0.001, promptsPerStep: 2, groupSize: 2, maxNewTokens: 8 },
    { algorithm: 'fdo', divergence: 'kl', steps: 1, lr: 0.001, batchSize: 2 },
  ],
  eval: { maxNewTokens: 8 },
};

function errorOf(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('pipeline config validation', () => {
  it('accepts a valid config and fills defaults', () => {
    const cfg = loadPipelineConfig(file(pipeline));
    expect(cfg.backend).toBe('wasm');
    expect(cfg.model).toMatchObject({ arch: 'gpt2' });
    expect(cfg.stages[0]).toMatchObject({ algorithm: 'fgrpo', beta: 0.1, gamma: 1, temperature: 1, numIterations: 1 });
  });

  it('names the field path of a bad divergence', () => {
    const bad = { ...pipeline, stages: [pipeline.stages[0], { ...pipeline.stages[1], divergence: 'cosine' }] };
    const f = file(bad);
    const e = errorOf(() => loadPipelineConfig(f));
    expect(e.message).toContain(f);
    expect(e.issues).toContainEqual(expect.stringMatching(/^stages\[1\]\.divergence: expected one of kl, reverse_kl, pearson, hellinger, jensen_shannon, total_variation/));
  });

  it('names missing, mistyped and unknown fields', () => {
    const e = errorOf(() =>
      loadPipelineConfig(
        file({ ...pipeline, model: { ...pipeline.model, nHeads: 3 }, sft: { batchSize: 4, lr: -1 }, extra: 1, eval: { maxNewTokens: 8, every: 1.5 } }),
      ),
    );
    const text = e.issues.join('\n');
    expect(text).toMatch(/^model\.nHeads: dModel must be divisible by nHeads/m);
    expect(text).toMatch(/^sft\.steps: /m);
    expect(text).toMatch(/^sft\.lr: /m);
    expect(text).toMatch(/^eval\.every: /m);
    expect(text).toMatch(/^\(root\): unknown field\(s\) "extra"/m);
  });

  it('rejects stage fields of another algorithm', () => {
    const e = errorOf(() => loadPipelineConfig(file({ ...pipeline, stages: [{ ...pipeline.stages[1], groupSize: 4 }] })));
    expect(e.issues).toContainEqual(expect.stringMatching(/^stages\[0\]: unknown field\(s\) "groupSize"/));
  });

  it('reports invalid JSON and missing files with the file name', () => {
    const f = file('{ "name": ');
    expect(() => loadPipelineConfig(f)).toThrow(new RegExp(`${f}:1:11: invalid JSON`)); // file:line:column
    expect(() => loadPipelineConfig(join(dir, 'nope.json'))).toThrow(/nope\.json: no such file/);
  });

  it('formats paths like the CLI messages', () => {
    expect(formatPath(['stages', 1, 'divergence'])).toBe('stages[1].divergence');
    expect(formatPath([])).toBe('(root)');
  });
});

describe('experiment configs', () => {
  const exp = {
    name: 'e',
    task: 'math',
    seeds: [1, 2],
    model: pipeline.model,
    data: pipeline.data,
    sft: pipeline.sft,
    training: { steps: 3, lr: 0.001, promptsPerStep: 2, groupSize: 2, maxNewTokens: 8, beta: 0.2, clipEps: 0.3, batchSize: 4 },
    methods: [
      { name: 'GRPO', stage: { algorithm: 'grpo' } },
      { name: 'f-GRPO (Pearson χ²)', stage: { algorithm: 'fgrpo', divergence: 'pearson' } },
      { name: 'FDO', stage: { algorithm: 'fdo', divergence: 'kl', steps: 5 } },
    ],
    eval: { maxNewTokens: 8 },
  };

  it('expands methods × seeds, each algorithm taking only the shared fields it knows', () => {
    const cfg = loadExperimentConfig(file(exp));
    const runs = expandExperiment(cfg);
    expect(runs.map((r) => `${r.methodId}/${r.seed}`)).toEqual(['grpo/1', 'grpo/2', 'f-grpo-pearson/1', 'f-grpo-pearson/2', 'fdo/1', 'fdo/2']);
    const [grpo, , fgrpo, , fdo] = runs.map((r) => r.pipeline.stages[0]);
    expect(grpo).toMatchObject({ algorithm: 'grpo', steps: 3, clipEps: 0.3, groupSize: 2 });
    expect(grpo).not.toHaveProperty('beta');
    expect(fgrpo).toMatchObject({ algorithm: 'fgrpo', divergence: 'pearson', beta: 0.2 });
    expect(fgrpo).not.toHaveProperty('clipEps');
    expect(fdo).toMatchObject({ algorithm: 'fdo', steps: 5, batchSize: 4, beta: 0.2 });
    expect(runs[3].pipeline).toMatchObject({ name: 'e-f-grpo-pearson-seed-2', seed: 2, task: 'math' });
  });

  it('points errors at the method or at the shared training block', () => {
    const bad = { ...exp, methods: [...exp.methods, { name: 'f-GRPO (bad)', stage: { algorithm: 'fgrpo', divergence: 'nope' } }] };
    expect(errorOf(() => loadExperimentConfig(file(bad))).issues).toContainEqual(expect.stringMatching(/^methods\[3\]\.stage\.divergence: expected one of kl,/));
    const badShared = { ...exp, training: { ...exp.training, groupSize: 1 } };
    expect(errorOf(() => loadExperimentConfig(file(badShared))).issues).toContainEqual(expect.stringMatching(/^training\.groupSize: /));
    const noAlg = { ...exp, methods: [{ name: 'x', stage: {} }] };
    expect(errorOf(() => loadExperimentConfig(file(noAlg))).issues).toEqual(['methods[0].stage.algorithm: expected one of grpo, fgrpo, fhal, fdo, dpo, sft']);
    const dup = { ...exp, methods: [exp.methods[0], exp.methods[0]] };
    expect(errorOf(() => loadExperimentConfig(file(dup))).issues[0]).toMatch(/^methods\[1\]: method id "grpo" repeats/);
  });

  it('derives directory-safe method ids', () => {
    expect(methodId({ name: 'f-HAL (λ=0.5)' })).toBe('f-hal-lambda-0.5');
    expect(methodId({ name: 'x', id: 'given' })).toBe('given');
  });

  it('every bundled config file validates', () => {
    const cfgDir = bundledConfigDir();
    const files = readdirSync(cfgDir).filter((f) => f.endsWith('.json'));
    expect(files).toEqual(expect.arrayContaining(['math-quick.json', 'math-full.json', 'safety-quick.json', 'safety-full.json', 'example-run.json']));
    for (const f of files) {
      if (f.startsWith('example')) loadPipelineConfig(join(cfgDir, f));
      else {
        const cfg = loadExperimentConfig(join(cfgDir, f));
        // Same budget and seeds for every method: the expanded stages share steps and lr.
        const runs = expandExperiment(cfg);
        expect(new Set(runs.map((r) => `${r.pipeline.stages[0].steps}/${r.pipeline.stages[0].lr}`)).size).toBe(1);
        expect(runs).toHaveLength(cfg.methods.length * cfg.seeds.length);
        expect(cfg.seeds.length).toBeGreaterThanOrEqual(3);
      }
    }
    const math = loadExperimentConfig(join(cfgDir, 'math-quick.json'));
    const divs = expandExperiment(math)
      .map((r) => r.pipeline.stages[0])
      .flatMap((s) => (s.algorithm === 'fgrpo' ? [s.divergence] : []));
    expect(new Set(divs)).toEqual(new Set(['kl', 'reverse_kl', 'pearson', 'hellinger', 'jensen_shannon', 'total_variation']));
  });
});
