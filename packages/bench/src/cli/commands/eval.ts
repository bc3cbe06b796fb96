/**
 * `falign eval`: run a benchmark task against a model; writes DIR/samples.jsonl (incrementally)
 * and DIR/results.json. Re-running the same command resumes an interrupted run.
 *
 *   falign eval --task gsm8k --model llama2c:stories260K.bin --limit 50 --out runs/x/eval/gsm8k
 */
import type { Command } from 'commander';
import type { BackendName } from '@falign/core';
import { runEval } from '../../harness/runner.js';
import { formatResultsTable } from '../../harness/table.js';
import { listTasks } from '../../tasks/registry.js';

const BACKENDS: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

function num(flag: string, check: (v: number) => boolean, want: string): (raw: string) => number {
  return (raw: string) => {
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(v) || !check(v)) throw new Error(`${flag}: expected ${want}, got "${raw}"`);
    return v;
  };
}
const int = (flag: string, min: number) => num(flag, (v) => Number.isInteger(v) && v >= min, `an integer >= ${min}`);

/** Options as the command line gives them. */
interface EvalCliOptions {
  task?: string;
  model?: string;
  out?: string;
  split?: string;
  limit?: number;
  samples?: number;
  seed?: number;
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  numFewshot?: number;
  concurrency?: number;
  batchSize?: number;
  chatTemplate?: string;
  backend?: string;
  overwrite?: boolean;
  json?: boolean;
  groups?: boolean;
  listTasks?: boolean;
}

export function register(program: Command): void {
  program
    .command('eval')
    .description('evaluate a model on a benchmark task (resumable; writes samples.jsonl and results.json)')
    .option('--task <id>', `task: ${listTasks().map((t) => t.id).join(', ')}`)
    .option('--model <spec>', 'llama2c:PATH.bin, falign:DIR or openai:URL#MODEL')
    .option('--out <dir>', 'run directory (created; re-running resumes)')
    .option('--split <name>', "dataset split (default: the task's)")
    .option('--limit <n>', 'evaluate the first n documents', int('--limit', 1))
    .option('--samples <k>', 'completions per document (pass@k, maj@k when k > 1)', int('--samples', 1))
    .option('--seed <s>', 'run seed (per-request seeds derive from it)', int('--seed', 0))
    .option('--temperature <t>', 'sampling temperature; 0 = greedy (default 0)', num('--temperature', (v) => v >= 0, 'a number >= 0'))
    .option('--top-p <p>', 'nucleus sampling mass in (0, 1]', num('--top-p', (v) => v > 0 && v <= 1, 'a number in (0, 1]'))
    .option('--max-tokens <n>', "most generated tokens (default: the task's)", int('--max-tokens', 1))
    .option('--num-fewshot <k>', "few-shot examples (default: the task's)", int('--num-fewshot', 0))
    .option('--concurrency <c>', 'requests in flight for endpoint models (default 8)', int('--concurrency', 1))
    .option('--batch-size <n>', 'requests per generate call (in-process default 16; 1 on the cpu backend)', int('--batch-size', 1))
    .option('--chat-template <file>', 'Jinja chat template (.jinja, or tokenizer_config.json with chat_template)')
    .option('--backend <name>', `tfjs backend for in-process models: ${BACKENDS.join(', ')}`)
    .option('--overwrite', 'discard an existing run in --out whose configuration differs')
    .option('--groups', 'also list per-group metrics (categories, types) in the table')
    .option('--list-tasks', 'list the tasks and exit')
    .option('--json', 'print results.json to stdout instead of the table')
    .action(async (o: EvalCliOptions) => {
      if (o.listTasks) {
        const tasks = listTasks().map((t) => ({ id: t.id, dataset: t.dataset, version: t.version, splits: t.splits, defaults: t.defaults, description: t.description }));
        if (o.json) process.stdout.write(`${JSON.stringify({ tasks })}\n`);
        else for (const t of tasks) process.stdout.write(`${t.id.padEnd(14)} ${t.description}\n`);
        return;
      }
      const missing = (['task', 'model', 'out'] as const).filter((k) => !o[k]);
      if (missing.length > 0) throw new Error(`eval: missing required option(s) ${missing.map((m) => `--${m}`).join(', ')}`);
      if (o.backend !== undefined && !BACKENDS.includes(o.backend as BackendName)) {
        throw new Error(`--backend must be one of ${BACKENDS.join(', ')}, got "${o.backend}"`);
      }
      // First Ctrl-C: stop scheduling, keep what was generated (resume later); second: exit now.
      const ctrl = new AbortController();
      const onSigint = () => {
        if (ctrl.signal.aborted) process.exit(130);
        process.stderr.write('\neval: interrupted, finishing requests in flight (Ctrl-C again to quit now)\n');
        ctrl.abort();
      };
      process.on('SIGINT', onSigint);
      try {
        const results = await runEval({
          task: o.task!,
          model: o.model!,
          out: o.out!,
          split: o.split,
          limit: o.limit,
          samples: o.samples,
          seed: o.seed,
          temperature: o.temperature,
          topP: o.topP,
          maxTokens: o.maxTokens,
          numFewshot: o.numFewshot,
          concurrency: o.concurrency,
          batchSize: o.batchSize,
          chatTemplate: o.chatTemplate,
          backend: o.backend as BackendName | undefined,
          overwrite: o.overwrite,
          signal: ctrl.signal,
        });
        if (o.json) process.stdout.write(`${JSON.stringify(results)}\n`);
        else process.stdout.write(formatResultsTable(results, { groups: o.groups }));
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
