/**
 * `falign refusal`: label completions in a JSONL file as refusals with a refusal judge.
 *
 * Bad lines (invalid JSON, not an object, no string `completion`, non-string `prompt`) are
 * skipped and reported on stderr with their line number, and counted in the summary, so that one
 * truncated line at the end of a long generation run does not throw the rest away; `--strict`
 * makes the first bad line an error instead.
 *
 * Output follows the rule shared with `falign verify` (see `writeSummary`): records go to
 * `--out`, or to stdout without it; the summary is a human line on stderr, or with `--json` one
 * JSON object on stdout (with `--out`) or on stderr (without, so stdout stays pure JSONL).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { createRefusalJudge, REFUSAL_PRESET_NAMES, type RefusalPresetName } from '@falign/rewards';
import { fileSize, JsonlError, JsonlWriter, readJsonl } from '../../util/jsonl.js';
import { startProgress } from '../../util/progress.js';
import { JSONL_SUMMARY_JSON_HELP, writeSummary, markRequiredInHelp } from '../options.js';

/** Files larger than this get a progress display on stderr. */
const PROGRESS_MIN_BYTES = 1 << 20;

interface RefusalCliOptions {
  in: string;
  out?: string;
  judge: string;
  json?: boolean;
  strict?: boolean;
  quiet?: boolean;
}

/** Summary of one `falign refusal` run. */
export interface RefusalSummary {
  file: string;
  judge: string;
  n: number;
  refused: number;
  refusalRate: number;
  badLines: number;
  /** The first bad lines, as `file:line: reason`. */
  badLineDetails: string[];
}

const MAX_BAD_DETAILS = 20;

/** The human summary line of a refusal run. */
export function formatRefusalSummary(s: RefusalSummary): string {
  const rate = `${(100 * s.refusalRate).toFixed(1)}%`;
  return `refusal: ${s.n} completions, ${s.refused} refused (${rate}) by judge "${s.judge}"${s.badLines > 0 ? `; ${s.badLines} bad line(s) skipped` : ''}`;
}

/** Labels the records of `opts.in`; resolves with the summary (printing it is the caller's job). */
export async function runRefusal(opts: RefusalCliOptions): Promise<RefusalSummary> {
  if (!REFUSAL_PRESET_NAMES.includes(opts.judge as RefusalPresetName)) {
    throw new Error(`--judge must be one of ${REFUSAL_PRESET_NAMES.join(', ')}, got "${opts.judge}"`);
  }
  if (opts.out && opts.out !== '-' && resolve(opts.out) === resolve(opts.in)) {
    throw new Error(`--out must differ from --in (${opts.in}): writing would truncate the input while it is read`);
  }
  const judge = createRefusalJudge(opts.judge as RefusalPresetName);
  const size = fileSize(opts.in);
  const progress = startProgress({
    label: 'refusal',
    total: size,
    unit: 'bytes',
    silent: opts.quiet || size < PROGRESS_MIN_BYTES,
  });
  const summary: RefusalSummary = {
    file: opts.in,
    judge: judge.name,
    n: 0,
    refused: 0,
    refusalRate: 0,
    badLines: 0,
    badLineDetails: [],
  };
  const bad = (err: JsonlError): void => {
    if (opts.strict) throw err;
    summary.badLines++;
    if (summary.badLineDetails.length < MAX_BAD_DETAILS) summary.badLineDetails.push(err.message);
    if (!opts.quiet) process.stderr.write(`falign refusal: skipped ${err.message}\n`);
  };
  const writer = new JsonlWriter(opts.out);
  try {
    for await (const { value, line } of readJsonl<unknown>(opts.in, { onBadLine: bad, onBytes: (b) => progress.update(b) })) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        bad(new JsonlError(opts.in, line, 'expected a JSON object'));
        continue;
      }
      const rec = value as Record<string, unknown>;
      if (typeof rec.completion !== 'string') {
        bad(new JsonlError(opts.in, line, `"completion" must be a string, got ${rec.completion === undefined ? 'nothing' : typeof rec.completion}`));
        continue;
      }
      if (rec.prompt !== undefined && typeof rec.prompt !== 'string') {
        bad(new JsonlError(opts.in, line, `"prompt" must be a string, got ${typeof rec.prompt}`));
        continue;
      }
      const verdict = judge.explain(rec.completion, rec.prompt as string | undefined);
      summary.n++;
      if (verdict.refused) summary.refused++;
      await writer.write({ ...rec, refused: verdict.refused, matched: verdict.matched });
    }
  } finally {
    progress.stop();
    await writer.close();
  }
  summary.refusalRate = summary.n > 0 ? summary.refused / summary.n : 0;
  return summary;
}

export function register(program: Command): void {
  markRequiredInHelp(program.command('refusal'))
    .description('label completions in a JSONL file as refusals (adds "refused" and "matched" to each line)')
    .requiredOption('--in <file>', 'input JSONL; each line has "completion" and optionally "prompt" (.gz accepted)')
    .option('--out <file>', 'output JSONL (default: stdout)')
    .option('--judge <preset>', `refusal judge: ${REFUSAL_PRESET_NAMES.join(' | ')}`, 'default')
    .option('--json', JSONL_SUMMARY_JSON_HELP)
    .option('--strict', 'fail on the first bad line instead of skipping and reporting it')
    .option('--quiet', 'no progress or per-line reports on stderr')
    .action(async (opts: RefusalCliOptions) => {
      const s = await runRefusal(opts);
      writeSummary(opts, s, formatRefusalSummary(s));
    });
}
