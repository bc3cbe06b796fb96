/**
 * End to end through the compiled CLI (run `npx tsc -b packages/bench` first; `npm test` does):
 * `falign serve` a stories260K policy, `falign eval --model openai:URL#stories260K` against it,
 * a run killed midway and restarted ends with exactly the requested samples, and the server
 * shuts down cleanly on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = resolve(__dirname, '../../..');
const cli = join(repo, 'packages/bench/bin/falign.js');
const modelsDir = process.env.FALIGN_MODELS_DIR ?? resolve(repo, '../shared/models');
const dataDir = process.env.FALIGN_DATA_DIR ?? resolve(repo, '../shared/datasets');
const modelPath = join(modelsDir, 'stories260K/stories260K.bin');
const env = { ...process.env, FALIGN_DATA_DIR: dataDir, FALIGN_QUIET: '1' };

function lines(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: repo, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

describe('falign serve + falign eval over HTTP (stories260K)', () => {
  let server: ChildProcess;
  let url = '';
  let serverErr = '';
  const tmp = mkdtempSync(join(tmpdir(), 'falign-e2e-'));

  beforeAll(async () => {
    if (!existsSync(join(repo, 'packages/bench/dist/cli/main.js'))) throw new Error('packages/bench/dist is missing: run `npx tsc -b packages/bench` first');
    if (!existsSync(modelPath)) throw new Error(`${modelPath} not found: set FALIGN_MODELS_DIR`);
    server = spawn(process.execPath, [cli, 'serve', '--model', `llama2c:${modelPath}`, '--port', '0', '--backend', 'wasm', '--json', '--quiet'], { cwd: repo, env });
    server.stderr!.on('data', (d) => (serverErr += d));
    url = await new Promise<string>((res, rej) => {
      let out = '';
      server.stdout!.on('data', (d) => {
        out += d;
        const nl = out.indexOf('\n');
        if (nl >= 0) res(JSON.parse(out.slice(0, nl)).url);
      });
      server.on('exit', (code) => rej(new Error(`falign serve exited with ${code}: ${serverErr}`)));
    });
  });

  afterAll(() => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });

  it('serves /v1/models and evaluates 20 GSM8K documents, resuming after a kill', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
    const models = (await (await fetch(`${url}/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toEqual(['stories260K']);

    const out = join(tmp, 'gsm8k');
    const samples = join(out, 'samples.jsonl');
    // 0-shot keeps prompts short (test time); concurrency 2 makes samples appear a few at a time
    const args = ['eval', '--task', 'gsm8k', '--limit', '20', '--model', `openai:${url}#stories260K`, '--max-tokens', '32', '--num-fewshot', '0', '--concurrency', '2', '--out', out];

    // first attempt: SIGKILL once some samples are on disk
    const first = spawn(process.execPath, [cli, ...args], { cwd: repo, env, stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => first.on('exit', (code) => r(code)));
    const t0 = Date.now();
    while (lines(samples).length < 3 && first.exitCode === null && Date.now() - t0 < 120_000) await new Promise((r) => setTimeout(r, 25));
    first.kill('SIGKILL');
    await exited;
    const partial = lines(samples).length;
    expect(partial).toBeGreaterThanOrEqual(3);
    expect(partial).toBeLessThan(20);
    expect(existsSync(join(out, 'results.json'))).toBe(false);

    // restart: resumes and finishes with exactly 20 samples, one per document
    const second = await run(args);
    expect(second.code, second.stderr).toBe(0);
    const all = lines(samples).map((l) => JSON.parse(l) as { doc_id: string; completion: string; prompt: string });
    expect(all).toHaveLength(20);
    expect(new Set(all.map((s) => s.doc_id)).size).toBe(20);
    expect(all.every((s) => typeof s.completion === 'string' && s.prompt.includes('Question:'))).toBe(true);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results.task).toBe('gsm8k');
    expect(results.n.complete_docs).toBe(20);
    expect(results.config.model).toBe(`openai:${url}#stories260K`);
    // The killed invocation could not record itself; its samples still count in the totals.
    expect(results.generated_samples).toBe(20);
    const inv = results.invocations as { status: string; generated_samples: number }[];
    expect(inv.map((i) => i.status)).toEqual(['unrecorded', 'complete']);
    // A line cut by the kill is dropped on resume and generated again.
    expect([partial, partial - 1]).toContain(inv[0].generated_samples);
    expect(inv[0].generated_samples + inv[1].generated_samples).toBe(20);
    for (const m of Object.values(results.results) as { value: number; n: number }[]) {
      expect(m.n).toBe(20);
      expect(m.value).toBeGreaterThanOrEqual(0);
      expect(m.value).toBeLessThanOrEqual(1);
    }
    // the same evaluation in-process gives the same completions (same prompt ids, greedy)
    const local = join(tmp, 'gsm8k-local');
    const inProcess = await run(['eval', '--task', 'gsm8k', '--limit', '20', '--model', `llama2c:${modelPath}`, '--backend', 'wasm', '--max-tokens', '32', '--num-fewshot', '0', '--out', local]);
    expect(inProcess.code, inProcess.stderr).toBe(0);
    const byDoc = (rows: { doc_id: string; completion: string }[]) => Object.fromEntries(rows.map((s) => [s.doc_id, s.completion]));
    const localRows = lines(join(local, 'samples.jsonl')).map((l) => JSON.parse(l) as { doc_id: string; completion: string });
    expect(byDoc(localRows)).toEqual(byDoc(all));

    // report over both runs renders
    const rep = await run(['report', out, local, '--out', join(tmp, 'report'), '--json']);
    expect(rep.code, rep.stderr).toBe(0);
    expect(JSON.parse(rep.stdout).files).toContain('index.html');
  });

  it('stops cleanly on SIGTERM', async () => {
    const exit = new Promise<number | null>((r) => server.on('exit', (code) => r(code)));
    server.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(serverErr).toContain('falign serve: stopped');
  });
});
