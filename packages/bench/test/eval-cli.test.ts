import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ByteTokenizer, DecoderLM, initBackend, saveCheckpoint, tf } from '@falign/core';
import { falignCaptured as falign } from './helpers-cli.js';
import { runPaths } from '../src/harness/runner.js';
import { storiesPath, useDataDir } from './helpers-data.js';

const tmp = mkdtempSync(join(tmpdir(), 'falign-eval-cli-'));
const ckpt = join(tmp, 'tiny-ckpt');

function json(r: { out: string; err: string; code: number }): Record<string, any> {
  if (r.code !== 0) throw new Error(`falign failed (${r.code}): ${r.err}`);
  return JSON.parse(r.out);
}

beforeAll(async () => {
  useDataDir();
  process.env.FALIGN_QUIET = '1';
  await initBackend('cpu');
  // A tiny random byte-level Llama: fast enough to run every task through the real sampler.
  const tokenizer = new ByteTokenizer({ pad: '<pad>', bos: '<s>', eos: '</s>' });
  const model = new DecoderLM({ arch: 'llama', vocabSize: tokenizer.vocabSize, dModel: 16, nLayers: 1, nHeads: 2, dFF: 32, maxSeqLen: 384 }, { seed: 11 });
  await saveCheckpoint(ckpt, { model, tokenizer });
  model.dispose();
});
afterAll(() => {
  delete process.env.FALIGN_QUIET;
  rmSync(tmp, { recursive: true, force: true });
});

describe('falign eval on every task (tiny in-process falign checkpoint)', () => {
  const tasks: [string, string[]][] = [
    ['gsm8k', ['--num-fewshot', '2']],
    ['math500', []],
    ['advbench', []],
    ['xstest', []],
    ['salad', []],
    ['salad-defense', []],
    ['harmbench', []],
  ];
  for (const [task, extra] of tasks) {
    it(task, async () => {
      const out = join(tmp, 'runs', task);
      const before = tf.memory().numTensors;
      const r = json(await falign('eval', '--task', task, '--model', `falign:${ckpt}`, '--limit', '2', '--max-new-tokens', '4', '--backend', 'cpu', '--out', out, '--json', ...extra));
      expect(tf.memory().numTensors).toBe(before);
      expect(r.task).toBe(task);
      expect(r.n).toEqual({ docs: 2, complete_docs: 2, samples: 2, samples_per_doc: 1 });
      expect(r.model).toMatchObject({ spec: `falign:${ckpt}`, kind: 'in-process' });
      expect(r.backend).toBe('cpu');
      const first = Object.values(r.results)[0] as { value: number; n: number };
      expect(first.value).toBeGreaterThanOrEqual(0);
      expect(first.value).toBeLessThanOrEqual(1);
      const lines = readFileSync(runPaths(out).samples, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.length).toBe(2);
      for (const l of lines) expect(l.completion_tokens).toBeLessThanOrEqual(4);
      if (task === 'gsm8k') expect(lines[0].prompt.split('Question:').length - 1).toBe(3);
      expect(JSON.parse(readFileSync(runPaths(out).results, 'utf8')).results).toEqual(r.results);
    });
  }

  it('human output is a table; rescore through the CLI reproduces the metrics', async () => {
    const out = join(tmp, 'runs', 'xstest');
    const table = await falign('eval', '--task', 'xstest', '--model', `falign:${ckpt}`, '--limit', '2', '--max-tokens', '4', '--out', out);
    expect(table.code).toBe(0);
    expect(table.out).toContain('| xstest | 1 | xstest | 0 | over_refusal | ↓ |');
    const before = JSON.parse(readFileSync(runPaths(out).results, 'utf8'));
    const r = json(await falign('rescore', out, '--json'));
    expect(r.changed_samples).toBe(0);
    expect(r.results).toEqual(before.results);
  });
});

describe('falign eval with llama2c:stories260K', () => {
  it('greedy completions from the real model, and resume does not regenerate', async () => {
    const out = join(tmp, 'runs', 'stories-advbench');
    const args = ['eval', '--task', 'advbench', '--model', `llama2c:${storiesPath()}`, '--limit', '2', '--max-tokens', '8', '--out', out, '--json'];
    const r = json(await falign(...args));
    expect(r.model.kind).toBe('in-process');
    expect(r.generated_samples).toBe(2);
    const lines = readFileSync(runPaths(out).samples, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.doc_id)).toEqual(['0', '1']);
    expect(lines.every((l) => l.completion.length > 0 && l.seed === null)).toBe(true);
    const again = json(await falign(...args));
    // The no-op re-run generated nothing; results.json still counts the first invocation's samples.
    expect(again.generated_samples).toBe(2);
    expect(again.invocations.map((i: { generated_samples: number; status: string }) => [i.status, i.generated_samples])).toEqual([['complete', 2], ['complete', 0]]);
    expect(again.truncated_prompts).toBe(0);
    expect(again.results).toEqual(r.results);
  });
});

describe('falign data and errors', () => {
  it('data list --json and data check', async () => {
    const list = json(await falign('data', 'list', '--json'));
    // The shared data dir holds the 7 benchmark datasets (13 files); xstest-completions (labelled
    // refusal completions for the judge bench) lives in the cache where it was fetched, if anywhere.
    type Listed = { name: string; files: unknown[] };
    const inDataDir = list.datasets.filter((d: Listed) => d.name !== 'xstest-completions');
    const files = inDataDir.flatMap((d: Listed) => d.files);
    expect(files.length).toBe(13);
    expect(list.datasets.find((d: Listed) => d.name === 'xstest-completions')?.files).toHaveLength(5);
    expect(files.every((f: { present: boolean; verified: boolean; source: string }) => f.present && f.verified && f.source === 'data-dir')).toBe(true);
    const check = json(await falign('data', 'check', 'xstest', 'advbench', '--json'));
    expect(check).toMatchObject({ ok: true, checked: 3, missing: 0 });
    expect(check.files.map((f: { loadedRows: number }) => f.loadedRows)).toEqual([520, 574, 450]);
  });

  it('missing options and unknown tasks are clear errors', async () => {
    const r = await falign('eval', '--task', 'gsm8k');
    expect(r.code).toBe(1);
    expect(r.err).toContain("error: required option '--model <spec>' not specified");
    // --help marks the required options, as every command's does
    const help = await falign('eval', '--help');
    const flat = help.out.replace(/\s+/g, ' ');
    expect(flat).toContain('--model <spec> llama2c:PATH.bin, falign:DIR, hf:DIR or openai:URL#MODEL (required)');
    expect(flat).toContain('salad-defense, harmbench (required)');
    expect(flat).toContain('(created; re-running resumes) (required)');
    expect(flat.match(/\(required\)/g)).toHaveLength(3);
    const u = await falign('eval', '--task', 'nope', '--model', `falign:${ckpt}`, '--out', join(tmp, 'x'));
    expect(u.err).toContain('falign: unknown task "nope"');
    const tasks = json(await falign('eval', '--list-tasks', '--json'));
    expect(tasks.tasks.map((t: { id: string }) => t.id)).toContain('harmbench');
    const m = await falign('eval', '--task', 'xstest', '--model', 'weird:thing', '--out', join(tmp, 'y'));
    expect(m.err).toContain('expected llama2c:PATH.bin, falign:DIR, hf:DIR or openai:URL#MODEL');
    const b = await falign('eval', '--task', 'xstest', '--model', `falign:${ckpt}`, '--out', join(tmp, 'z'), '--backend', 'tpu');
    expect(b.err).toContain('falign: --backend must be one of tensorflow, webgpu, wasm, cpu, got "tpu"');
    const s = await falign('eval', '--task', 'xstest', '--model', `falign:${ckpt}`, '--out', join(tmp, 'z'), '--seed', '1.5');
    expect(s.err).toContain('falign: --seed: expected an integer, got "1.5"');
  });

  it('--max-tokens is an alias of --max-new-tokens; --seed takes negative integers; --batch-size and --requests-per-call are separate', async () => {
    const common = ['eval', '--task', 'gsm8k', '--model', `falign:${ckpt}`, '--limit', '3', '--num-fewshot', '0', '--json'];
    const a = json(await falign(...common, '--max-new-tokens', '3', '--seed', '-7', '--out', join(tmp, 'alias-a')));
    const b = json(await falign(...common, '--max-tokens', '3', '--seed', '-7', '--out', join(tmp, 'alias-b')));
    expect(a.config).toMatchObject({ max_tokens: 3, seed: -7 });
    expect(b.config).toEqual(a.config);
    expect(b.results).toEqual(a.results);
    // Requests per generate call show in each sample's `batch`; the sampler batch size does not change the samples.
    const c = json(await falign(...common, '--max-new-tokens', '3', '--seed', '-7', '--requests-per-call', '2', '--batch-size', '1', '--out', join(tmp, 'alias-c')));
    const batches = readFileSync(runPaths(join(tmp, 'alias-c')).samples, 'utf8').trim().split('\n').map((l) => JSON.parse(l).batch);
    expect(batches).toEqual([2, 2, 1]);
    expect(c.results).toEqual(a.results);
  });
});
