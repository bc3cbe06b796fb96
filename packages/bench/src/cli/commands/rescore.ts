/**
 * `falign rescore DIR`: re-score the completions stored in DIR/samples.jsonl with the current
 * scorers and rewrite DIR/results.json; nothing is generated.
 */
import type { Command } from 'commander';
import { rescoreRun } from '../../harness/rescore.js';
import { formatResultsTable } from '../../harness/table.js';
import { JUDGE_FORMATS } from '../../judges/formats.js';
import { intArg } from '../options.js';

export function register(program: Command): void {
  program
    .command('rescore')
    .description('recompute scores and metrics of an eval run from its samples.jsonl (no generation)')
    .argument('<dir>', 'run directory written by falign eval')
    .option('--no-write-samples', 'leave samples.jsonl unchanged (only results.json is rewritten)')
    .option('--groups', 'also list per-group metrics in the table')
    .option('--judge <spec>', `model judge: openai:URL#MODEL?format=${JUDGE_FORMATS.join('|')}; cached answers cost no call`)
    .option('--judge-concurrency <n>', 'requests in flight to the judge endpoint (default 8)', intArg('--judge-concurrency', 1))
    .option('--json', 'print results.json to stdout instead of the table')
    .action(async (dir: string, o: { writeSamples: boolean; groups?: boolean; json?: boolean; judge?: string; judgeConcurrency?: number }) => {
      const { results, changedSamples } = await rescoreRun(dir, { writeSamples: o.writeSamples, judge: o.judge, judgeConcurrency: o.judgeConcurrency });
      process.stderr.write(`rescore: ${changedSamples} sample(s) changed score\n`);
      if (results.judge) {
        const j = results.judge;
        process.stderr.write(`rescore: judge ${j.format} (${j.model}): ${j.cache.hits} cached, ${j.cache.misses} new call(s), ${j.invalid} invalid output(s)\n`);
      }
      if (o.json) process.stdout.write(`${JSON.stringify({ ...results, changed_samples: changedSamples })}\n`);
      else process.stdout.write(formatResultsTable(results, { groups: o.groups }));
    });
}
