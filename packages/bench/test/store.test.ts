// The experiments' content-addressed artefact store (store.ts) and its stages run in isolation
// (steps/): built once per key, atomic, no temporary folders left behind; a killed run resumes
// from its periodic checkpoint to the numbers of an uninterrupted one.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { initBackend, loadCheckpoint, tf } from '@falign/core';
import { ArtefactStore, contentHash, entryAt, produce, readCacheInfo, type StoredStage } from '../src/experiments/store.js';
import { pipelineSchema, type PipelineConfig } from '../src/experiments/config/schema.js';
import { taskData } from '../src/experiments/steps/data.js';
import { baseKey, sftBase, type BaseInfo } from '../src/experiments/steps/sft-base.js';
import { prepareTask, runMethod } from '../src/experiments/flow.js';
import { runJobInChild } from '../src/experiments/pool.js';
import { prepareUnits, setWorkSink } from '../src/experiments/work.js';

const tmp = mkdtempSync(join(tmpdir(), 'falign-store-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A toy stage: writes its config's value, counts its builds, fails on request. */
function toyStage(version = 1) {
  const calls: number[] = [];
  const stage: StoredStage<{ value: number; fail?: boolean }, { doubled: number }> = {
    name: 'toy',
    version,
    key: ({ value }) => ({ kind: 'toy', value, version }),
    async run({ value, fail }, dir) {
      calls.push(value);
      mkdirSync(join(dir, 'out'));
      if (fail) throw new Error('build failed');
      return { doubled: 2 * value };
    },
  };
  return { stage, calls };
}

/** Folders under `dir`, recursively (relative paths). */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

describe('artefact store', () => {
  it('builds an artefact once per key and reuses it; the key is the hash of the stage key', async () => {
    const store = new ArtefactStore(join(tmp, 'a'));
    const { stage, calls } = toyStage();
    const e = await produce(store, stage, { value: 3 }, () => {});
    expect(e.dir).toBe(join(store.root, 'toy', contentHash({ kind: 'toy', value: 3, version: 1 })));
    expect(readCacheInfo(e)).toEqual({ doubled: 6 });
    expect(JSON.parse(readFileSync(join(e.dir, 'key.json'), 'utf8'))).toEqual({ kind: 'toy', value: 3, version: 1 });
    expect(store.has(stage, { value: 3 })).toBe(true);
    expect((await produce(store, stage, { value: 3 }, () => {})).dir).toBe(e.dir);
    expect(calls).toEqual([3]);
    // Another input value or another code version is another artefact.
    await produce(store, stage, { value: 4 }, () => {});
    const v2 = toyStage(2);
    expect(v2.stage.key({ value: 3 })).not.toEqual(stage.key({ value: 3 }));
    expect(store.get(v2.stage, { value: 3 })).toBeNull();
    await produce(store, v2.stage, { value: 3 }, () => {});
    expect(calls).toEqual([3, 4]);
    expect(v2.calls).toEqual([3]);
    expect(entryAt(e.dir)).toEqual({ dir: e.dir, key: e.key, ready: true });
  });

  it('a failed build leaves neither an artefact nor a temporary folder; stale temporaries of dead writers are removed', async () => {
    const store = new ArtefactStore(join(tmp, 'b'));
    const { stage } = toyStage();
    await expect(produce(store, stage, { value: 1, fail: true }, () => {})).rejects.toThrow('build failed');
    expect(store.has(stage, { value: 1 })).toBe(false);
    expect(readdirSync(join(store.root, 'toy'))).toEqual([]);
    // A killed writer's folder (pid 2^22 + 1 is above Linux's pid_max) goes at the next build.
    const dead = join(store.root, 'toy', `${store.locate(stage, { value: 1 }).key}.tmp-${2 ** 22 + 1}-1`);
    mkdirSync(dead);
    const e = await produce(store, stage, { value: 1 }, () => {});
    expect(existsSync(dead)).toBe(false);
    expect(readdirSync(join(store.root, 'toy'))).toEqual([e.key]);
    mkdirSync(dead);
    expect(store.removeStaleTemps()).toEqual([`${e.key}.tmp-${2 ** 22 + 1}-1`]);
    expect(() => entryAt(join(store.root, 'toy', 'missing'))).toThrow(/toy\/missing: artefact is not complete/);
  });
});

const tiny = pipelineSchema.parse({
  name: 'store-math',
  task: 'math',
  seed: 2,
  backend: 'cpu',
  model: { dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 128 },
  sft: { steps: 3, batchSize: 4, lr: 0.003, warmupSteps: 1 },
  data: { testPerTier: 2, sftDemosPerTier: { t1: 2, t2: 2, t3: 2, distractor: 2 }, rlPromptsPerTier: { t1: 2, t2: 2, t3: 2, distractor: 2 } },
  eval: { every: 3, curvePrompts: 2, maxNewTokens: 6 },
  stages: [{ algorithm: 'grpo', steps: 24, lr: 0.002, promptsPerStep: 2, groupSize: 2, maxNewTokens: 6 }],
}) as PipelineConfig;

describe('stages in isolation', () => {
  it('sft-base: takes the config and task data, returns a stored checkpoint; reports its planned work; reused after', async () => {
    await initBackend('cpu');
    const store = new ArtefactStore(join(tmp, 'c'));
    const inputs = { cfg: tiny, data: taskData(tiny), backend: 'cpu' };
    let units = 0;
    setWorkSink((u) => (units += u));
    try {
      const e = await produce(store, sftBase, inputs, () => {});
      expect(units).toBe(prepareUnits(tiny, { base: true, rm: false, baseEval: false }));
      expect(e.key).toBe(contentHash(baseKey(tiny, 'cpu')));
      const info = readCacheInfo<BaseInfo>(e);
      expect(info).toMatchObject({ steps: 3, demonstrations: 8 });
      expect(Number.isFinite(info.heldOutNll)).toBe(true);
      expect(readFileSync(join(e.dir, 'sft-log.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
      const n = tf.memory().numTensors;
      const ck = await loadCheckpoint(join(e.dir, 'model'), { trainable: false });
      expect(ck.model.numParams()).toBe(info.numParams);
      ck.model.dispose();
      expect(tf.memory().numTensors).toBe(n);
      units = 0;
      expect((await produce(store, sftBase, inputs, () => {})).dir).toBe(e.dir);
      expect(units).toBe(0);
    } finally {
      setWorkSink(null);
    }
  });

  it('rl-run: a run killed mid-stage resumes from its periodic checkpoint to the uninterrupted numbers, leaving no temporaries', async () => {
    const cacheRoot = join(tmp, 'd');
    const store = new ArtefactStore(cacheRoot);
    const shared = await prepareTask(tiny, store, () => {});
    const whole = await runMethod(tiny, shared, { runDir: join(tmp, 'whole'), cacheRoot, checkpointEvery: 4 });
    // The same run in a worker process, killed once its second checkpoint exists.
    const killed = join(tmp, 'killed');
    const dirs = { base: shared.base.dir, rm: null, baseEval: shared.baseEval.dir };
    let worker: ChildProcess | null = null;
    const child = runJobInChild({ kind: 'run', pipeline: tiny, cacheRoot, runDir: killed, labels: {}, shared: dirs, checkpointEvery: 4 }, undefined, (c) => (worker = c));
    const outcome = await Promise.race([
      child.then(() => 'finished'),
      (async () => {
        while (!existsSync(join(killed, 'checkpoints', 'step-8'))) await new Promise((r) => setTimeout(r, 5));
        return 'checkpointed';
      })(),
    ]);
    expect(outcome).toBe('checkpointed');
    (worker as ChildProcess | null)?.kill('SIGKILL');
    await expect(child).rejects.toThrow(/exited \(SIGKILL\) without a result/);
    expect(existsSync(join(killed, 'result.json'))).toBe(false);
    const logs: string[] = [];
    const resumed = await runMethod(tiny, shared, { runDir: killed, cacheRoot, checkpointEvery: 4, log: (m) => logs.push(m) });
    expect(logs.some((l) => /^resuming from .*step-(8|12|16|20)/.test(l))).toBe(true);
    expect(resumed.final).toEqual(whole.final);
    expect(resumed.curve).toEqual(whole.curve);
    const metrics = (dir: string) =>
      readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => Object.fromEntries(Object.entries(JSON.parse(l) as Record<string, unknown>).filter(([k]) => !k.startsWith('time/'))));
    expect(metrics(killed)).toEqual(metrics(join(tmp, 'whole')));
    // Finished: no periodic checkpoints, partial curve or temporary folder left.
    expect(tree(killed).filter((d) => /checkpoints|tmp/.test(d))).toEqual(tree(join(tmp, 'whole')).filter((d) => /checkpoints|tmp/.test(d)));
    expect(existsSync(join(killed, 'curve.partial.jsonl'))).toBe(false);
    expect(tree(cacheRoot).filter((d) => d.includes('.tmp-'))).toEqual([]);
  });
});
