/**
 * `falign verify --in FILE.jsonl [--out FILE.jsonl] [--mode math|gsm8k] [--gsm8k-extraction RULE] [--timeout-ms N] [--concurrency C]`
 *
 * In gsm8k mode every record also gets `gsm8k`: the outcome under lm-eval's `strict-match` and
 * `flexible-extract` (reproduced exactly) and falign's exact-format rule; `--gsm8k-extraction`
 * (default `falign`) picks the one that sets `correct`, and the summary prints each rule's accuracy.
 *
 * Checks `{gold, pred[, float_rounding]}` records with the @falign/rewards verifier in a worker
 * pool (hard per-check timeouts). Each output line repeats the input and adds `correct`,
 * `extractedGold`, `extractedPred`, `error`. Bad lines (invalid JSON, missing or non-string
 * gold/pred, bad float_rounding) follow the policy of every command (util/errors.ts): they are
 * never scored nor written; each is reported on stderr as `file:line: reason` and the summary
 * counts them with their line numbers; `--strict` makes the first one fatal (exit 1).
 *
 * Output follows the rule shared with `falign refusal` (see `writeSummary`): records go to
 * `--out`, or to stdout without it; the summary is a human line on stderr, or with `--json` one
 * JSON object on stdout (with `--out`) or on stderr (without, so stdout stays pure JSONL).
 */
import { Option, type Command } from 'commander';
import { GSM8K_RULES, VerifierPool, gsm8kRule, type Gsm8kExtraction, type VerifyOptions, type VerifyResult } from '@falign/rewards';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { JsonlError, JsonlWriter, fileSize, readJsonl } from '../../util/jsonl.js';
import { LineSkipper, formatSkipped, requireInputFile, type SkippedLines } from '../../util/errors.js';
import { startProgress } from '../../util/progress.js';
import { intArg, JSONL_SUMMARY_JSON_HELP, STRICT_HELP, writeSummary, markRequiredInHelp } from '../options.js';

/** Options of {@link runVerify}. */
export interface VerifyCommandOptions {
  in: string;
  out?: string;
  mode?: 'math' | 'gsm8k';
  /** gsm8k mode: the rule that sets `correct` (default `falign`); every rule is reported per record. */
  gsm8kExtraction?: Gsm8kExtraction;
  timeoutMs?: number;
  concurrency?: number;
  quiet?: boolean;
  /** Fail on the first bad line instead of skipping it. */
  strict?: boolean;
}

/** Summary of a verify run; `n` counts the checked records only (skipped lines are not scored). */
export interface VerifySummary extends SkippedLines {
  n: number;
  correct: number;
  accuracy: number;
  /** Checked records whose check failed (unparseable gold or pred, timeout, internal error). */
  errors: number;
  errorsByKind: Record<string, number>;
  /** gsm8k mode: correct records under each named rule (`strict-match`, `flexible-extract`, `falign`). */
  correctByRule?: Record<string, number>;
}

type Rec = Record<string, unknown>;
interface Pending {
  record: Rec;
  result: Promise<VerifyResult>;
}

function positiveInt(name: string, v: string | number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got '${v}'`);
  return n;
}

/** The human summary line of a verify run. */
export function formatVerifySummary(summary: VerifySummary): string {
  const kinds = Object.entries(summary.errorsByKind).map(([k, v]) => `${k}=${v}`).join(', ');
  const rules = summary.correctByRule
    ? ` [${GSM8K_RULES.map((r) => `${r}=${(summary.n ? (100 * (summary.correctByRule?.[r] ?? 0)) / summary.n : 0).toFixed(2)}%`).join(' ')}]`
    : '';
  return `verify: n=${summary.n} correct=${summary.correct} accuracy=${(100 * summary.accuracy).toFixed(2)}%${rules} errors=${summary.errors}${kinds ? ` (${kinds})` : ''}${formatSkipped(summary)}`;
}

/** Runs the verify command; resolves with the summary (printing it is the caller's job). */
export async function runVerify(o: VerifyCommandOptions): Promise<VerifySummary> {
  const mode = o.mode ?? 'math';
  if (mode !== 'math' && mode !== 'gsm8k') throw new Error(`--mode must be math or gsm8k, got '${mode}'`);
  const gsm8kExtraction = gsm8kRule(o.gsm8kExtraction);
  const timeoutMs = positiveInt('timeout-ms', o.timeoutMs, 5000);
  const concurrency = positiveInt('concurrency', o.concurrency, Math.max(1, availableParallelism() - 1));
  if (o.out && o.out !== '-' && resolve(o.out) === resolve(o.in)) {
    throw new Error(`--out must differ from --in (${o.in}): writing would truncate the input while it is read`);
  }
  requireInputFile(o.in);
  const writer = new JsonlWriter(o.out); // opens --out now: an unwritable path fails before any work
  const total = fileSize(o.in);
  const pool = new VerifierPool({ size: concurrency, timeoutMs, verifyOptions: { mode } });
  const progress = startProgress({ label: 'verify', total: Math.max(total, 1), unit: 'bytes', silent: o.quiet });
  const skipper = new LineSkipper({ command: 'verify', strict: o.strict, quiet: o.quiet });
  const summary: VerifySummary = { n: 0, correct: 0, accuracy: 0, errors: 0, errorsByKind: {}, ...skipper.skipped };
  if (mode === 'gsm8k') summary.correctByRule = Object.fromEntries(GSM8K_RULES.map((r) => [r, 0]));
  const window: Pending[] = [];
  const flush = async (all: boolean) => {
    while (window.length && (all || window.length > concurrency * 64)) {
      const p = window.shift() as Pending;
      const r = await p.result;
      summary.n++;
      if (r.correct) summary.correct++;
      if (r.gsm8k && summary.correctByRule) for (const rule of GSM8K_RULES) if (r.gsm8k[rule].correct) summary.correctByRule[rule]++;
      if (r.error) {
        summary.errors++;
        const k = r.errorKind ?? 'internal';
        summary.errorsByKind[k] = (summary.errorsByKind[k] ?? 0) + 1;
      }
      await writer.write({ ...p.record, correct: r.correct, extractedGold: r.extractedGold, extractedPred: r.extractedPred, error: r.error, ...(r.gsm8k ? { gsm8k: r.gsm8k } : {}) });
    }
  };
  try {
    for await (const { value, line } of readJsonl<unknown>(o.in, {
      onBadLine: (e) => skipper.skip(e),
      onBytes: (b) => progress.update(b),
    })) {
      if (!value || typeof value !== 'object' || Array.isArray(value)) {
        skipper.skip(new JsonlError(o.in, line, 'expected a JSON object'));
        continue;
      }
      const rec = value as Rec;
      const fr = rec.float_rounding;
      if (typeof rec.gold !== 'string' && typeof rec.gold !== 'number') skipper.skipField(o.in, line, 'gold', `must be a string, got ${describeType(rec.gold)}`);
      else if (typeof rec.pred !== 'string') skipper.skipField(o.in, line, 'pred', `must be a string, got ${describeType(rec.pred)}`);
      else if (fr !== undefined && fr !== null && !(Number.isInteger(fr) && (fr as number) >= 0 && (fr as number) <= 15))
        skipper.skipField(o.in, line, 'float_rounding', `must be an integer in 0..15, got ${JSON.stringify(fr)}`);
      else {
        const opts: VerifyOptions = mode === 'gsm8k' ? { mode, timeoutMs, gsm8kExtraction, gsm8kAllRules: true } : { mode, timeoutMs };
        if (typeof fr === 'number') opts.floatRounding = fr;
        window.push({ record: rec, result: pool.verify(String(rec.gold), rec.pred, opts) });
      }
      await flush(false);
    }
    await flush(true);
  } finally {
    // On an early exit (--strict, a write error) the checks still queued are abandoned: closing
    // the pool rejects them, which must not surface as unhandled rejections.
    for (const p of window) p.result.catch(() => {});
    progress.stop();
    await pool.close();
    await writer.close();
  }
  Object.assign(summary, skipper.skipped);
  summary.accuracy = summary.n ? summary.correct / summary.n : 0;
  return summary;
}

function describeType(v: unknown): string {
  return v === undefined ? 'nothing' : v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

export function register(program: Command): void {
  markRequiredInHelp(program.command('verify'))
    .description('check predicted answers against gold answers (JSONL with gold, pred[, float_rounding])')
    .requiredOption('--in <file>', 'input JSONL (.gz accepted)')
    .option('--out <file>', 'output JSONL (default: stdout)')
    .addOption(new Option('--mode <mode>', 'answer format').choices(['math', 'gsm8k']).default('math'))
    .addOption(
      new Option('--gsm8k-extraction <rule>', "gsm8k mode: the rule that sets 'correct' (strict-match and flexible-extract are lm-eval's, exactly; every rule is reported per record)")
        .choices([...GSM8K_RULES])
        .default('falign'),
    )
    .option('--timeout-ms <n>', 'hard time limit per check in ms', intArg('--timeout-ms', 1), 5000)
    .option('--concurrency <c>', 'worker threads (default: cores - 1)', intArg('--concurrency', 1))
    .option('--strict', STRICT_HELP)
    .option('--quiet', 'no progress or per-line reports on stderr')
    .option('--json', JSONL_SUMMARY_JSON_HELP)
    .action(async (opts: { in: string; out?: string; mode: 'math' | 'gsm8k'; gsm8kExtraction?: Gsm8kExtraction; timeoutMs: number; concurrency?: number; quiet?: boolean; json?: boolean; strict?: boolean }) => {
      const summary = await runVerify({
        in: opts.in,
        out: opts.out,
        mode: opts.mode,
        gsm8kExtraction: opts.gsm8kExtraction,
        timeoutMs: opts.timeoutMs,
        concurrency: opts.concurrency,
        quiet: opts.quiet,
        strict: opts.strict,
      });
      writeSummary(opts, summary, formatVerifySummary(summary));
    });
}
