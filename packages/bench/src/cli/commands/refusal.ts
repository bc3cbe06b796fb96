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
import { LineSkipper, formatSkipped, requireInputFile, type SkippedLines } from '../../util/errors.js';
import { startProgress } from '../../util/progress.js';
import { JSONL_SUMMARY_JSON_HELP, STRICT_HELP, writeSummary, markRequiredInHelp } from '../options.js';
import { createModelJudge, type ModelJudge } from '../../judges/model-judge.js';
import { JUDGE_FORMATS } from '../../judges/formats.js';

/** Records judged by a model judge per endpoint round (bounds memory on large files). */
const MODEL_JUDGE_CHUNK = 256;

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

/** Summary of one `falign refusal` run; `n` counts judged records only (skipped lines are not). */
export interface RefusalSummary extends SkippedLines {
  file: string;
  judge: string;
  n: number;
  refused: number;
  refusalRate: number;
}

/** The human summary line of a refusal run. */
export function formatRefusalSummary(s: RefusalSummary): string {
  const rate = `${(100 * s.refusalRate).toFixed(1)}%`;
  return `refusal: ${s.n} completions, ${s.refused} refused (${rate}) by judge "${s.judge}"${formatSkipped(s)}`;
}

/**
 * Labels the records of `opts.in`; resolves with the summary (printing it is the caller's job).
 * With a model judge (`--judge openai:URL#MODEL?format=…`) each record also gets `harmful` and
 * `judge_output`; `refused` is the judge's (WildGuard) or absent (harm-only judges).
 */
export async function runRefusal(opts: RefusalCliOptions): Promise<RefusalSummary> {
  const modelJudge: ModelJudge | null = opts.judge.startsWith('openai:') ? createModelJudge(opts.judge) : null;
  if (!modelJudge && !REFUSAL_PRESET_NAMES.includes(opts.judge as RefusalPresetName)) {
    throw new Error(`--judge must be one of ${REFUSAL_PRESET_NAMES.join(', ')} or openai:URL#MODEL?format=${JUDGE_FORMATS.join('|')}, got "${opts.judge}"`);
  }
  if (opts.out && opts.out !== '-' && resolve(opts.out) === resolve(opts.in)) {
    throw new Error(`--out must differ from --in (${opts.in}): writing would truncate the input while it is read`);
  }
  requireInputFile(opts.in);
  const writer = new JsonlWriter(opts.out); // opens --out now: an unwritable path fails before any work
  const judge = modelJudge ? null : createRefusalJudge(opts.judge as RefusalPresetName);
  const size = fileSize(opts.in);
  const progress = startProgress({
    label: 'refusal',
    total: size,
    unit: 'bytes',
    silent: opts.quiet || size < PROGRESS_MIN_BYTES,
  });
  const summary: RefusalSummary = {
    file: opts.in,
    judge: modelJudge ? modelJudge.spec.spec : judge!.name,
    n: 0,
    refused: 0,
    refusalRate: 0,
    badLines: 0,
    badLineNumbers: [],
    badLineDetails: [],
  };
  const skipper = new LineSkipper({ command: 'refusal', strict: opts.strict, quiet: opts.quiet });
  const bad = (err: JsonlError): void => skipper.skip(err);
  let pending: Record<string, unknown>[] = [];
  const flush = async (): Promise<void> => {
    if (!modelJudge || pending.length === 0) return;
    const results = await modelJudge.judge(pending.map((r) => ({ prompt: (r.prompt as string | undefined) ?? '', completion: r.completion as string })));
    for (const [i, rec] of pending.entries()) {
      const { verdict, output } = results[i];
      summary.n++;
      if (verdict.refused) summary.refused++;
      await writer.write({
        ...rec,
        ...(modelJudge.format.givesRefusal ? { refused: verdict.valid ? verdict.refused : null } : {}),
        harmful: verdict.valid ? verdict.harmful : null,
        judge_output: output,
      });
    }
    pending = [];
  };
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
      if (modelJudge) {
        pending.push(rec);
        if (pending.length >= MODEL_JUDGE_CHUNK) await flush();
        continue;
      }
      const verdict = judge!.explain(rec.completion, rec.prompt as string | undefined);
      summary.n++;
      if (verdict.refused) summary.refused++;
      await writer.write({ ...rec, refused: verdict.refused, matched: verdict.matched });
    }
    await flush();
  } finally {
    progress.stop();
    await writer.close();
    await modelJudge?.close();
  }
  Object.assign(summary, skipper.skipped);
  summary.refusalRate = summary.n > 0 ? summary.refused / summary.n : 0;
  return summary;
}

export function register(program: Command): void {
  markRequiredInHelp(program.command('refusal'))
    .description('label completions in a JSONL file as refusals (adds "refused" and "matched" to each line)')
    .requiredOption('--in <file>', 'input JSONL; each line has "completion" and optionally "prompt" (.gz accepted)')
    .option('--out <file>', 'output JSONL (default: stdout)')
    .option('--judge <preset>', `refusal judge: ${REFUSAL_PRESET_NAMES.join(' | ')}, or a model judge openai:URL#MODEL?format=${JUDGE_FORMATS.join('|')}`, 'default')
    .option('--json', JSONL_SUMMARY_JSON_HELP)
    .option('--strict', STRICT_HELP)
    .option('--quiet', 'no progress or per-line reports on stderr')
    .action(async (opts: RefusalCliOptions) => {
      const s = await runRefusal(opts);
      writeSummary(opts, s, formatRefusalSummary(s));
    });
}
