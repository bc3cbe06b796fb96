import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readInvocations, readSamples, rescoreRun, runEval, runPaths, type EvalResults } from '../src/harness/index.js';
import type { EvalModel, GenerationRequest, GenerationResult } from '../src/models/types.js';
import { useDataDir } from './helpers-data.js';

const tmp = mkdtempSync(join(tmpdir(), 'falign-harness-'));
beforeAll(() => useDataDir());
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * A deterministic stand-in model: the completion depends only on (prompt, seed, sample index), so
 * resumed and uninterrupted runs can be compared sample by sample. It counts what it generates.
 */
function fakeModel(
  opts: { kind?: EvalModel['kind']; delayMs?: (i: number) => number; failOnCall?: number; tail?: string; truncatedFrom?: number } = {},
): EvalModel & { generated: number; calls: number } {
  const m = {
    spec: 'fake:model',
    name: 'fake',
    kind: opts.kind ?? ('in-process' as const),
    generated: 0,
    calls: 0,
    async generate(reqs: GenerationRequest[]): Promise<GenerationResult[][]> {
      const call = ++m.calls;
      if (opts.failOnCall === call) throw new Error('backend exploded');
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs!(call)));
      return reqs.map((r) =>
        Array.from({ length: r.n ?? 1 }, (_, j) => {
          m.generated++;
          const v = hash(`${r.prompt}|${r.seed}|${j}`) % 4;
          return { text: `I think #### ${v}${opts.tail ?? ''}`, finishReason: 'length' as const, completionTokens: 5 };
        }),
      );
    },
    // truncatedFrom: keep an in-process-style counter (starting there) that counts every request.
    info: () => ({ backend: 'fake-backend', ...(opts.truncatedFrom !== undefined ? { truncated_prompts: opts.truncatedFrom + m.calls } : {}) }),
    close: async () => {},
  };
  return m;
}

const base = { task: 'gsm8k', limit: 6, samples: 2, temperature: 0.7, numFewshot: 0, maxTokens: 8, progress: false } as const;

function lines(dir: string): Record<string, unknown>[] {
  return readFileSync(runPaths(dir).samples, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}
const keys = (rows: Record<string, unknown>[]) => rows.map((r) => `${r.doc_id}#${r.sample}`);
const metricsOf = (r: EvalResults) => JSON.stringify(r.results);

describe('runEval', () => {
  let full: EvalResults;
  const fullDir = join(tmp, 'full');

  beforeAll(async () => {
    full = await runEval({ ...base, model: fakeModel(), out: fullDir });
  });

  it('writes one sample line per (doc, sample) and lm-eval-like results with provenance', () => {
    const rows = lines(fullDir);
    expect(rows.length).toBe(12);
    expect(new Set(keys(rows)).size).toBe(12);
    expect(rows[0]).toMatchObject({ doc_id: 'test-0', sample: 0, prompt: expect.stringMatching(/^Question: .*\nAnswer:$/s), finish_reason: 'length', completion_tokens: 5, batch: 6 });
    expect(rows[0].scores).toHaveProperty('strict-match');
    expect(rows[0].target).toBe('18');
    expect(full.n).toEqual({ docs: 6, complete_docs: 6, samples: 12, samples_per_doc: 2 });
    expect(full.results['exact_match,strict-match'].n).toBe(6);
    expect(full.results).toHaveProperty('pass@2,strict-match');
    expect(full.results).toHaveProperty('maj@2,flexible-extract');
    expect(full.higher_is_better['exact_match,strict-match']).toBe(true);
    expect(full.versions['@falign/bench']).toMatch(/^\d+\.\d+\.\d+/);
    expect(full.backend).toBe('fake-backend');
    expect(full.config).toMatchObject({ task: 'gsm8k', split: 'test', limit: 6, samples: 2, temperature: 0.7, num_fewshot: 0, stop: ['Question:', '</s>', '<|im_end|>'] });
    expect(full.git_commit === null || /^[0-9a-f]{40}$/.test(full.git_commit)).toBe(true);
    // The per-document mean reproduced by hand from the sample lines.
    const perDoc = new Map<string, number[]>();
    for (const r of rows) perDoc.set(r.doc_id as string, [...(perDoc.get(r.doc_id as string) ?? []), (r.scores as Record<string, number>)['strict-match']]);
    const means = [...perDoc.values()].map((xs) => (xs[0] + xs[1]) / 2);
    expect(full.results['exact_match,strict-match'].value).toBeCloseTo(means.reduce((a, b) => a + b) / 6, 12);
    expect(JSON.parse(readFileSync(runPaths(fullDir).results, 'utf8')).results).toEqual(JSON.parse(metricsOf(full)));
  });

  it('writes samples incrementally', async () => {
    const dir = join(tmp, 'incremental');
    const seen: number[] = [];
    await runEval({ ...base, model: fakeModel(), out: dir, requestsPerCall: 1, onSample: () => seen.push(readFileSync(runPaths(dir).samples, 'utf8').trim().split('\n').length) });
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  });

  it('resumes an interrupted run: nothing generated twice, nothing lost, same samples as an uninterrupted run', async () => {
    const dir = join(tmp, 'resume');
    const ctrl = new AbortController();
    const first = fakeModel();
    let n = 0;
    await expect(
      runEval({ ...base, model: first, out: dir, requestsPerCall: 1, signal: ctrl.signal, onSample: () => (++n === 5 ? ctrl.abort() : undefined) }),
    ).rejects.toThrow(/evaluation interrupted after 6\/12 samples; run the same command again to resume/);
    expect(lines(dir).length).toBe(6);
    const second = fakeModel();
    const res = await runEval({ ...base, model: second, out: dir, requestsPerCall: 1 });
    expect(first.generated + second.generated).toBe(12);
    // results.json counts both invocations; invocations.jsonl keeps each one.
    expect(res.generated_samples).toBe(12);
    expect(res.invocations.map((i) => [i.status, i.generated_samples])).toEqual([['interrupted', 6], ['complete', 6]]);
    expect(res.wall_time_s).toBeCloseTo(res.invocations[0].wall_time_s + res.invocations[1].wall_time_s, 9);
    expect(readInvocations(runPaths(dir).invocations)).toEqual(res.invocations);
    const rows = lines(dir);
    expect(rows.length).toBe(12);
    expect(new Set(keys(rows)).size).toBe(12);
    const byKey = (rs: Record<string, unknown>[]) => Object.fromEntries(rs.map((r) => [`${r.doc_id}#${r.sample}`, r.completion]));
    expect(byKey(rows)).toEqual(byKey(lines(fullDir)));
    expect(metricsOf(res)).toBe(metricsOf(full));
  });

  it('a no-op re-run and a rescore keep the cumulative generated samples, wall time and truncated prompts', async () => {
    const dir = join(tmp, 'cumulative');
    const ctrl = new AbortController();
    let n = 0;
    // Counters that do not start at 0 (a model instance shared with earlier runs): only the delta counts.
    await expect(
      runEval({ ...base, model: fakeModel({ truncatedFrom: 100 }), out: dir, requestsPerCall: 1, signal: ctrl.signal, onSample: () => (++n === 3 ? ctrl.abort() : undefined) }),
    ).rejects.toThrow(/interrupted/);
    const first = readInvocations(runPaths(dir).invocations);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ status: 'interrupted', generated_samples: 4, truncated_prompts: 2, backend: 'fake-backend' });
    const done = await runEval({ ...base, model: fakeModel({ truncatedFrom: 7 }), out: dir, requestsPerCall: 1 });
    expect(done.invocations.map((i) => [i.generated_samples, i.truncated_prompts])).toEqual([[4, 2], [8, 4]]);
    expect(done).toMatchObject({ generated_samples: 12, truncated_prompts: 6 });
    const again = await runEval({ ...base, model: fakeModel({ truncatedFrom: 0 }), out: dir });
    expect(again.invocations.map((i) => i.generated_samples)).toEqual([4, 8, 0]);
    expect(again).toMatchObject({ generated_samples: 12, truncated_prompts: 6 });
    expect(again.wall_time_s).toBeCloseTo(again.invocations.reduce((a, i) => a + i.wall_time_s, 0), 9);
    const rescored = await rescoreRun(dir);
    expect(rescored.results).toMatchObject({ generated_samples: 12, truncated_prompts: 6, wall_time_s: again.wall_time_s, invocations: again.invocations });
    // A model without a counter (an endpoint) makes the total unknown only if no invocation knew it.
    const plain = await runEval({ ...base, model: fakeModel(), out: join(tmp, 'cumulative-plain') });
    expect(plain.truncated_prompts).toBeNull();
  });

  it('samples of an invocation killed before it could record itself are counted as unrecorded', async () => {
    const dir = join(tmp, 'killed');
    const ctrl = new AbortController();
    let n = 0;
    await expect(runEval({ ...base, model: fakeModel(), out: dir, requestsPerCall: 1, signal: ctrl.signal, onSample: () => (++n === 3 ? ctrl.abort() : undefined) })).rejects.toThrow(/interrupted/);
    rmSync(runPaths(dir).invocations); // as after SIGKILL: samples on disk, no record
    const res = await runEval({ ...base, model: fakeModel(), out: dir, requestsPerCall: 1 });
    expect(res.invocations.map((i) => [i.status, i.generated_samples, i.started_at === null])).toEqual([['unrecorded', 4, true], ['complete', 8, false]]);
    expect(res.generated_samples).toBe(12);
  });

  it('a run written before invocations.jsonl existed keeps its results.json facts as a legacy invocation', async () => {
    const dir = join(tmp, 'legacy');
    await runEval({ ...base, model: fakeModel(), out: dir, limit: 2, samples: 1 });
    const paths = runPaths(dir);
    const old = JSON.parse(readFileSync(paths.results, 'utf8'));
    writeFileSync(paths.results, JSON.stringify({ ...old, generated_samples: 2, wall_time_s: 3.5, invocations: undefined, truncated_prompts: undefined }));
    rmSync(paths.invocations);
    const res = await runEval({ ...base, model: fakeModel(), out: dir, limit: 2, samples: 1 });
    expect(res.invocations.map((i) => [i.status, i.generated_samples])).toEqual([['legacy', 2], ['complete', 0]]);
    expect(res.generated_samples).toBe(2);
    expect(res.wall_time_s).toBeGreaterThanOrEqual(3.5);
    // A crash while appending leaves a partial line: it is ignored when read and dropped on the next append.
    appendFileSync(paths.invocations, '{"started_at":"2');
    expect(readInvocations(paths.invocations)).toHaveLength(2);
    const next = await runEval({ ...base, model: fakeModel(), out: dir, limit: 2, samples: 1 });
    expect(next.invocations).toHaveLength(3);
    writeFileSync(paths.invocations, `${readFileSync(paths.invocations, 'utf8')}{"status":"complete"}\n`);
    expect(() => readInvocations(paths.invocations)).toThrow(new RegExp(`invocations\\.jsonl:4: field "started_at"`));
  });

  it('drops a partial last line left by a crash and regenerates only what is missing', async () => {
    const dir = join(tmp, 'crash');
    await runEval({ ...base, model: fakeModel(), out: dir });
    const text = readFileSync(runPaths(dir).samples, 'utf8').trim().split('\n');
    // Lose the last two samples: one entirely, one half-written.
    writeFileSync(runPaths(dir).samples, `${text.slice(0, 10).join('\n')}\n${text[10].slice(0, 40)}`);
    expect(readSamples(runPaths(dir).samples)).toMatchObject({ droppedPartialLine: true });
    const again = fakeModel();
    const res = await runEval({ ...base, model: again, out: dir });
    expect(again.generated).toBe(2);
    const rows = lines(dir);
    expect(rows.length).toBe(12);
    expect(new Set(keys(rows)).size).toBe(12);
    expect(metricsOf(res)).toBe(metricsOf(full));
  });

  it('refuses to resume with a different configuration unless told to overwrite', async () => {
    const dir = join(tmp, 'mismatch');
    await runEval({ ...base, model: fakeModel(), out: dir });
    await expect(runEval({ ...base, temperature: 0.5, model: fakeModel(), out: dir })).rejects.toThrow(
      /holds a run with a different configuration \(temperature: 0\.7 → 0\.5\); use another --out, or --overwrite to discard it/,
    );
    const m = fakeModel();
    const res = await runEval({ ...base, temperature: 0.5, model: m, out: dir, overwrite: true });
    expect(m.generated).toBe(12);
    expect(res.config.temperature).toBe(0.5);
    expect(lines(dir).length).toBe(12);
  });

  it('endpoint models: concurrent requests finishing out of order are all written, once', async () => {
    const dir = join(tmp, 'concurrent');
    const m = fakeModel({ kind: 'openai', delayMs: (i) => ((i * 7) % 5) * 3 });
    const res = await runEval({ ...base, model: m, out: dir, concurrency: 4 });
    expect(m.calls).toBe(6);
    expect(new Set(keys(lines(dir))).size).toBe(12);
    expect(metricsOf(res)).toBe(metricsOf(full));
  });

  it('cuts completions at stop strings; a model error keeps what was written', async () => {
    const dir = join(tmp, 'stop');
    await runEval({ ...base, model: fakeModel({ tail: '\n\nQuestion: next one' }), out: dir, limit: 2, samples: 1 });
    const rows = lines(dir);
    expect(rows[0].completion).toMatch(/^I think #### \d\n\n$/);
    expect(rows[0].finish_reason).toBe('stop');
    const dir2 = join(tmp, 'fail');
    await expect(runEval({ ...base, model: fakeModel({ failOnCall: 3 }), out: dir2, requestsPerCall: 1 })).rejects.toThrow('backend exploded');
    expect(lines(dir2).length).toBe(4);
  });

  it('rescore reproduces results.json and applies scorer changes to stored completions', async () => {
    const dir = join(tmp, 'rescore');
    const res = await runEval({ ...base, model: fakeModel(), out: dir });
    const same = await rescoreRun(dir);
    expect(same.changedSamples).toBe(0);
    expect(metricsOf(same.results)).toBe(metricsOf(res));
    expect(same.results.rescored_at).toBeDefined();
    // Corrupt stored scores (as an old, buggy scorer would have written them): rescore fixes them.
    const rows = lines(dir).map((r, i) => (i < 3 ? { ...r, scores: { 'strict-match': 1, 'flexible-extract': 1 } } : r));
    const wrong = rows.filter((r, i) => i < 3 && JSON.stringify(r.scores) !== JSON.stringify(lines(dir)[i].scores)).length;
    writeFileSync(runPaths(dir).samples, rows.map((r) => `${JSON.stringify(r)}\n`).join(''));
    const fixed = await rescoreRun(dir);
    expect(fixed.changedSamples).toBe(wrong);
    expect(metricsOf(fixed.results)).toBe(metricsOf(res));
    expect(JSON.parse(readFileSync(runPaths(dir).results, 'utf8')).results).toEqual(JSON.parse(metricsOf(res)));
  });

  it('applies a chat template file to the chat turns and records its hash', async () => {
    const dir = join(tmp, 'chat');
    const tplFile = join(tmp, 'tpl.jinja');
    writeFileSync(tplFile, '{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}[assistant]');
    const res = await runEval({ ...base, model: fakeModel(), out: dir, limit: 1, samples: 1, numFewshot: 1, chatTemplate: tplFile });
    const row = lines(dir)[0];
    expect(row.prompt).toMatch(/^\[user\] Question: .*\nAnswer:\n\[assistant\] .*#### \d+\n\[user\] Question: .*\nAnswer:\n\[assistant\]$/s);
    expect(res.config.chat_template).toMatch(/^[0-9a-f]{64}$/);
    await expect(runEval({ ...base, model: fakeModel(), out: dir, limit: 1, samples: 1, numFewshot: 1 })).rejects.toThrow(/chat_template: "[0-9a-f]{64}" → null/);
  });

  it('a corrupt line in the middle of samples.jsonl is an error naming file and line', async () => {
    const dir = join(tmp, 'corrupt');
    await runEval({ ...base, model: fakeModel(), out: dir, limit: 2, samples: 1 });
    const file = runPaths(dir).samples;
    const text = readFileSync(file, 'utf8').split('\n');
    writeFileSync(file, `${text[0]}\n{oops\n${text[1]}\n`);
    expect(() => readSamples(file)).toThrow(`${file}:2: invalid JSON`);
    writeFileSync(file, `${text[0]}\n{"doc_id": 3}\n`);
    expect(() => readSamples(file)).toThrow(new RegExp(`${file}:2: field "doc_id"`));
    appendFileSync(file, '');
    await expect(rescoreRun(join(tmp, 'nope'))).rejects.toThrow('not an eval run directory (no config.json)');
  });
});
