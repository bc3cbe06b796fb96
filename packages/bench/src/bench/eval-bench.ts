/**
 * `npm run bench:eval`: throughput of the OpenAI-compatible path and the harness's own overhead.
 *
 * 1. `falign serve` (a child process, built CLI) with stories260K; the OpenAI client sends the same greedy
 *    requests at concurrency 1, 4 and 16 and prints requests/s and generated tokens/s. Micro-
 *    batching should make throughput grow with concurrency until the backend saturates.
 * 2. Client overhead: the client against an echo endpoint that answers at once (HTTP + JSON cost).
 * 3. Harness overhead: `runEval` on GSM8K with an in-memory echo model (prompt building, answer
 *    extraction, scoring, samples.jsonl), and through the client + echo endpoint, per sample.
 *
 * Env: FALIGN_BACKEND (default wasm), FALIGN_MODELS_DIR, FALIGN_DATA_DIR (defaults
 * <repo>/../shared/...), BENCH_REQUESTS (default 64), BENCH_MAX_TOKENS (default 48).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import { createOpenAIModel } from '../models/openai.js';
import type { EvalModel, GenerationRequest } from '../models/types.js';
import { runEval } from '../harness/runner.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '../../../..');
const modelsDir = process.env.FALIGN_MODELS_DIR ?? join(repoRoot, '..', 'shared', 'models');
const dataDir = process.env.FALIGN_DATA_DIR ?? join(repoRoot, '..', 'shared', 'datasets');
process.env.FALIGN_DATA_DIR = dataDir;
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 64);
const MAX_TOKENS = Number(process.env.BENCH_MAX_TOKENS ?? 48);

const STARTS = ['Once upon a time', 'One day, a little', 'Tom and Sue', 'The big red ball', 'Lily saw a', 'There was a happy', 'The sun was', 'A small bird'];

function requests(n: number): GenerationRequest[] {
  return Array.from({ length: n }, (_, i) => ({ prompt: `${STARTS[i % STARTS.length]}${' '.repeat(Math.floor(i / STARTS.length) % 2)}`, maxTokens: MAX_TOKENS, temperature: 0 }));
}

const fmt = (x: number, d = 1) => x.toFixed(d).padStart(8);

/** Starts `falign serve` as a child process (client and server must not share an event loop). */
async function spawnServer(modelPath: string, backend: string): Promise<{ url: string; child: ChildProcess }> {
  const cli = join(repoRoot, 'packages/bench/bin/falign.js');
  const child = spawn(process.execPath, [cli, 'serve', '--model', `llama2c:${modelPath}`, '--port', '0', '--backend', backend, '--json', '--quiet'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const url = await new Promise<string>((res, rej) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) res((JSON.parse(out.slice(0, nl)) as { url: string }).url);
    });
    child.on('exit', (code) => rej(new Error(`falign serve exited with ${code}: ${err}`)));
  });
  return { url, child };
}

async function endpointThroughput(): Promise<void> {
  const modelPath = join(modelsDir, 'stories260K', 'stories260K.bin');
  if (!existsSync(modelPath)) {
    console.log(`endpoint throughput: skipped (${modelPath} not found; set FALIGN_MODELS_DIR)`);
    return;
  }
  const backend = process.env.FALIGN_BACKEND ?? 'wasm';
  const { url, child } = await spawnServer(modelPath, backend);
  const health = async () => (await (await fetch(url.replace(/\/v1$/, '/health'))).json()) as { batches: number; rows: number };
  console.log(`\n1) falign serve stories260K (child process, backend ${backend}, --max-batch 32), ${REQUESTS} greedy requests × ≤${MAX_TOKENS} tokens`);
  console.log('   concurrency   requests/s   tokens/s   mean rows/batch   wall s');
  try {
    await createOpenAIModel(`openai:${url}#stories260K`, { concurrency: 4 }).generate(requests(8)); // warm-up
    for (const c of [1, 4, 16]) {
      const model = createOpenAIModel(`openai:${url}#stories260K`, { concurrency: c });
      const s0 = await health();
      const t0 = performance.now();
      const out = await model.generate(requests(REQUESTS));
      const dt = (performance.now() - t0) / 1000;
      const s1 = await health();
      const tokens = out.reduce((a, r) => a + (r[0].completionTokens ?? 0), 0);
      const rows = (s1.rows - s0.rows) / Math.max(1, s1.batches - s0.batches);
      console.log(`   ${String(c).padStart(11)}   ${fmt(REQUESTS / dt, 2)}   ${fmt(tokens / dt)}   ${fmt(rows)}          ${fmt(dt, 2)}`);
    }
  } finally {
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
}

/** An endpoint that answers every completion request at once with a fixed text. */
async function echoEndpoint(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const n = (JSON.parse(body) as { n?: number }).n ?? 1;
      const text = ' The answer is 42.';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ choices: Array.from({ length: n }, (_, index) => ({ index, text, finish_reason: 'stop' })), usage: { prompt_tokens: 10, completion_tokens: 6 } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/** An EvalModel that answers at once without any I/O. */
function echoModel(): EvalModel {
  return {
    spec: 'echo:',
    name: 'echo',
    kind: 'in-process',
    async generate(reqs) {
      return reqs.map((r) => Array.from({ length: r.n ?? 1 }, () => ({ text: ' The answer is 42.', finishReason: 'stop' as const, completionTokens: 6 })));
    },
    info: () => ({ echo: true }),
    close: async () => {},
  };
}

async function overheads(): Promise<void> {
  const echo = await echoEndpoint();
  try {
    const N = 2000;
    console.log(`\n2) OpenAI client against an instant echo endpoint (${N} requests)`);
    console.log('   concurrency   requests/s   µs/request');
    const reqs = requests(N).map((r) => ({ ...r, maxTokens: 8 }));
    await createOpenAIModel(`openai:${echo.url}#echo`, { concurrency: 16 }).generate(reqs.slice(0, 200));
    for (const c of [1, 16]) {
      const model = createOpenAIModel(`openai:${echo.url}#echo`, { concurrency: c });
      const t0 = performance.now();
      await model.generate(reqs);
      const dt = (performance.now() - t0) / 1000;
      console.log(`   ${String(c).padStart(11)}   ${fmt(N / dt)}   ${fmt((1e6 * dt) / N, 0)}`);
    }

    if (!existsSync(join(dataDir, 'gsm8k', 'test.jsonl'))) {
      console.log(`\n3) harness overhead: skipped (${dataDir}/gsm8k/test.jsonl not found; set FALIGN_DATA_DIR)`);
      return;
    }
    const limit = 1000;
    console.log(`\n3) harness overhead: runEval gsm8k, ${limit} documents, 5-shot prompts, answers scored, samples.jsonl written`);
    console.log('   model                                   samples/s   ms/sample');
    const tmp = mkdtempSync(join(tmpdir(), 'falign-eval-bench-'));
    try {
      const cases: [string, () => EvalModel][] = [
        ['in-memory echo model', echoModel],
        ['OpenAI client → echo endpoint (c=16)', () => createOpenAIModel(`openai:${echo.url}#echo`, { concurrency: 16 })],
      ];
      for (const [i, [label, make]] of cases.entries()) {
        const model = make();
        const t0 = performance.now();
        await runEval({ task: 'gsm8k', model, out: join(tmp, `run${i}`), limit, maxTokens: 8, progress: false, concurrency: 16 });
        const dt = (performance.now() - t0) / 1000;
        await model.close();
        console.log(`   ${label.padEnd(38)}   ${fmt(limit / dt)}   ${fmt((1000 * dt) / limit, 3)}`);
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  } finally {
    await echo.close();
  }
}

async function main(): Promise<void> {
  console.log('eval bench: OpenAI-compatible endpoint throughput and harness overhead');
  await endpointThroughput();
  await overheads();
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
