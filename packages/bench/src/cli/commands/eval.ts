/**
 * `falign eval`: run a benchmark task against a model; writes DIR/samples.jsonl (incrementally),
 * DIR/results.json and one line per invocation in DIR/invocations.jsonl. Re-running the same
 * command resumes an interrupted run; results.json then sums the invocations.
 *
 *   falign eval --task gsm8k --model llama2c:stories260K.bin --limit 50 --out runs/x/eval/gsm8k
 *
 * `--max-new-tokens` (alias `--max-tokens`) as in `generate`; `--batch-size` is the number of
 * sequences the in-process sampler decodes at once, as everywhere in the CLI, and
 * `--requests-per-call` the number of documents handed to one generate call.
 */
import type { Command } from 'commander';
import { runEval } from '../../harness/runner.js';
import { formatResultsTable } from '../../harness/table.js';
import { listTasks } from '../../tasks/registry.js';
import { JUDGE_FORMATS } from '../../judges/formats.js';
import { BACKEND_HELP, anyIntArg, intArg as int, numberArg as num, parseBackend, waiveRequiredOptionsOn, markRequiredInHelp } from '../options.js';

/** Options as the command line gives them. */
interface EvalCliOptions {
  task: string;
  model: string;
  out: string;
  split?: string;
  limit?: number;
  samples?: number;
  seed?: number;
  temperature?: number;
  topP?: number;
  maxNewTokens?: number;
  numFewshot?: number;
  concurrency?: number;
  requestTimeout?: number;
  maxRetries?: number;
  batchSize?: number;
  requestsPerCall?: number;
  chatTemplate?: string;
  backend?: string;
  overwrite?: boolean;
  json?: boolean;
  groups?: boolean;
  listTasks?: boolean;
  judge?: string;
}

export function register(program: Command): void {
  const cmd = markRequiredInHelp(program.command('eval'))
    .description('evaluate a model on a benchmark task (resumable; writes samples.jsonl, results.json and invocations.jsonl)')
    .requiredOption('--task <id>', `task: ${listTasks().map((t) => t.id).join(', ')}`)
    .requiredOption('--model <spec>', 'llama2c:PATH.bin, falign:DIR, hf:DIR or openai:URL#MODEL')
    .requiredOption('--out <dir>', 'run directory (created; re-running resumes)')
    .option('--split <name>', "dataset split (default: the task's)")
    .option('--limit <n>', 'evaluate the first n documents', int('--limit', 1))
    .option('--samples <k>', 'completions per document (pass@k, maj@k when k > 1)', int('--samples', 1))
    .option('--seed <s>', 'run seed, any integer (per-request seeds derive from it; default 0)', anyIntArg('--seed'))
    .option('--temperature <t>', 'sampling temperature; 0 = greedy (default 0)', num('--temperature', (v) => v >= 0, 'a number >= 0'))
    .option('--top-p <p>', 'nucleus sampling mass in (0, 1]', num('--top-p', (v) => v > 0 && v <= 1, 'a number in (0, 1]'))
    .option('--max-tokens, --max-new-tokens <n>', "most tokens to generate (default: the task's; --max-tokens is an alias)", int('--max-new-tokens', 1))
    .option('--num-fewshot <k>', "few-shot examples (default: the task's)", int('--num-fewshot', 0))
    .option('--concurrency <c>', 'requests in flight for openai: models (default 8)', int('--concurrency', 1))
    .option('--request-timeout <ms>', 'per-request timeout for openai: models (default 120000)', int('--request-timeout', 1))
    .option('--max-retries <n>', 'retries on 429, 5xx and timeouts for openai: models (default 5; an unreachable server gets at most 2 quick ones)', int('--max-retries', 0))
    .option('--batch-size <n>', 'most sequences the in-process sampler decodes at once (default 32)', int('--batch-size', 1))
    .option('--requests-per-call <n>', 'documents per generate call of an in-process model (default 16; 1 on the cpu backend)', int('--requests-per-call', 1))
    .option('--chat-template <file>', 'chat template: a Jinja file, or a tokenizer_config.json with chat_template')
    .option('--backend <name>', `${BACKEND_HELP} (in-process models)`)
    .option('--judge <spec>', `model judge over the samples of a refusal task: openai:URL#MODEL?format=${JUDGE_FORMATS.join('|')} (answers cached; see falign rescore --judge)`)
    .option('--overwrite', 'discard an existing run in --out whose configuration differs')
    .option('--groups', 'also list per-group metrics (categories, types) in the table')
    .option('--list-tasks', 'list the tasks and exit (needs no other option)')
    .option('--json', 'print results.json to stdout instead of the table')
    .action(async (o: EvalCliOptions) => {
      if (o.listTasks) {
        const tasks = listTasks().map((t) => ({ id: t.id, dataset: t.dataset, version: t.version, splits: t.splits, defaults: t.defaults, description: t.description }));
        if (o.json) process.stdout.write(`${JSON.stringify({ tasks })}\n`);
        else for (const t of tasks) process.stdout.write(`${t.id.padEnd(14)} ${t.description}\n`);
        return;
      }
      const backend = parseBackend(o.backend);
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
          task: o.task,
          model: o.model,
          out: o.out,
          split: o.split,
          limit: o.limit,
          samples: o.samples,
          seed: o.seed,
          temperature: o.temperature,
          topP: o.topP,
          maxTokens: o.maxNewTokens,
          numFewshot: o.numFewshot,
          concurrency: o.concurrency,
          requestTimeoutMs: o.requestTimeout,
          maxRetries: o.maxRetries,
          batchSize: o.batchSize,
          requestsPerCall: o.requestsPerCall,
          chatTemplate: o.chatTemplate,
          backend,
          overwrite: o.overwrite,
          signal: ctrl.signal,
          judge: o.judge,
        });
        if (results.judge) {
          const j = results.judge;
          process.stderr.write(`eval: judge ${j.format} (${j.model}): ${j.cache.hits} cached, ${j.cache.misses} new call(s), ${j.invalid} invalid output(s)\n`);
        }
        if (o.json) process.stdout.write(`${JSON.stringify(results)}\n`);
        else process.stdout.write(formatResultsTable(results, { groups: o.groups }));
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
  waiveRequiredOptionsOn(cmd, 'list-tasks');
}
