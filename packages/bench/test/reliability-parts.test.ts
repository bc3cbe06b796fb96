// Pieces behind `npm run bench:reliability` that can be checked quickly: the seeded adversarial
// inputs, the resume bookkeeping of `falign train --checkpoint-every`, and the worker-hosted
// model of `falign serve` (same completions as the in-thread policy).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FUZZ_CATEGORIES, refusalCases, verifierCases } from '../src/bench/fuzz-inputs.js';
import { appendCurvePoint, clearCurvePoints, findResumePoint, pruneCheckpoints, readCurvePoints, removeTempCheckpoints } from '../src/experiments/resume.js';
import { loadServablePolicy } from '../src/server/load-policy.js';
import { loadPolicyInWorker } from '../src/server/worker-policy.js';
import { storiesPath } from './helpers-data.js';

const tmp = mkdtempSync(join(tmpdir(), 'falign-reliability-parts-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('adversarial inputs', () => {
  it('are deterministic per seed, cover every category, bounded in size, ~30% identical pairs', () => {
    const a = [...verifierCases(500, 1)];
    const b = [...verifierCases(500, 1)];
    expect(a).toEqual(b);
    expect([...verifierCases(50, 2)]).not.toEqual(a.slice(0, 50));
    expect(new Set(a.map((c) => c.category))).toEqual(new Set(FUZZ_CATEGORIES));
    const identical = a.filter((c) => c.identical);
    expect(identical.every((c) => c.gold === c.pred)).toBe(true);
    expect(identical.length / a.length).toBeGreaterThan(0.2);
    expect(identical.length / a.length).toBeLessThan(0.4);
    expect(Math.max(...a.map((c) => Math.max(c.gold.length, c.pred.length)))).toBeLessThan(100_000);
    // the "huge" ones really are: some input over 1,000 characters in each category
    for (const cat of FUZZ_CATEGORIES) expect(a.some((c) => c.category === cat && c.gold.length > 1000)).toBe(true);
    const r = [...refusalCases(200, 3)];
    expect(r).toEqual([...refusalCases(200, 3)]);
    expect(r.some((c) => c.prompt !== undefined) && r.some((c) => c.prompt === undefined)).toBe(true);
  });
});

describe('resume bookkeeping (falign train --checkpoint-every)', () => {
  const run = join(tmp, 'run');
  const hash = 'abc';
  const setup = () => {
    rmSync(run, { recursive: true, force: true });
    for (const d of ['step-3', 'step-12', 'step-6', 'step-9.tmp-123-456', 'final']) mkdirSync(join(run, 'checkpoints', d), { recursive: true });
    writeFileSync(join(run, 'config.json'), JSON.stringify({ configHash: hash }));
  };

  it('resumes from the newest complete step-N of the same config only', () => {
    setup();
    expect(findResumePoint(run, hash)).toEqual({ dir: join(run, 'checkpoints', 'step-12'), step: 12 });
    expect(findResumePoint(run, 'other')).toBeNull();
    writeFileSync(join(run, 'result.json'), '{}');
    expect(findResumePoint(run, hash)).toBeNull(); // finished runs are not resumed
    rmSync(join(run, 'result.json'));
    expect(removeTempCheckpoints(run)).toBe(1);
    expect(existsSync(join(run, 'checkpoints', 'step-9.tmp-123-456'))).toBe(false);
    pruneCheckpoints(run, 12);
    expect(existsSync(join(run, 'checkpoints', 'step-3'))).toBe(false);
    expect(existsSync(join(run, 'checkpoints', 'step-12'))).toBe(true);
    expect(existsSync(join(run, 'checkpoints', 'final'))).toBe(true);
  });

  it('keeps curve points up to the resumed step, once per step (last wins); a torn last line is ignored', () => {
    setup();
    appendCurvePoint(run, { step: 4, metrics: { a: 1 } });
    appendCurvePoint(run, { step: 8, metrics: { a: 2 } });
    appendCurvePoint(run, { step: 12, metrics: { a: 3 } });
    appendCurvePoint(run, { step: 8, metrics: { a: 22 } }); // evaluated again after a resume
    appendFileSync(join(run, 'curve.partial.jsonl'), '{"step":16,"metr');
    expect(readCurvePoints(run, 9).map((p) => p.step)).toEqual([4, 8]);
    expect(readCurvePoints(run, 100)).toEqual([
      { step: 4, metrics: { a: 1 } },
      { step: 8, metrics: { a: 22 } },
      { step: 12, metrics: { a: 3 } },
    ]);
    clearCurvePoints(run);
    expect(readCurvePoints(run, 100)).toEqual([]);
  });
});

describe('falign serve: the model in a worker thread', () => {
  it('gives the same greedy completions as the in-thread policy', async () => {
    const spec = `llama2c:${storiesPath()}`;
    const local = await loadServablePolicy(spec, { backend: 'cpu' });
    const remote = await loadPolicyInWorker(spec, { backend: 'cpu' });
    try {
      const prompts = ['Once upon a time', 'The cat'].map((p) => local.tokenizer.encode(p, { bos: true }));
      expect(remote.tokenizer.encode('Once upon a time', { bos: true })).toEqual(prompts[0]);
      expect(remote.config).toEqual({ maxSeqLen: local.config!.maxSeqLen });
      const opts = { maxNewTokens: 12, temperature: 0, topP: 1, topK: 0, stopStrings: [], seed: 0, numSamples: 1, batchSize: 2 };
      const a = await local.generate(prompts, opts);
      const b = await remote.generate(prompts, opts);
      expect(b.map((c) => [c.text, c.tokenIds])).toEqual(a.map((c) => [c.text, c.tokenIds]));
    } finally {
      local.dispose?.();
      remote.dispose?.();
    }
    await expect(loadPolicyInWorker('llama2c:/nonexistent/model.bin', { backend: 'cpu' })).rejects.toThrow(/nonexistent/);
  });
});
