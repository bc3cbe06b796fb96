/**
 * `falign verify --in FILE.jsonl [--out FILE.jsonl] [--mode math|gsm8k] [--timeout-ms N] [--concurrency C]`
 *
 * Checks `{gold, pred[, float_rounding]}` records with the @falign/rewards verifier in a worker
 * pool (hard per-check timeouts). Each output line repeats the input and adds `correct`,
 * `extractedGold`, `extractedPred`, `error`. Bad lines (invalid JSON, missing or non-string
 * gold/pred, bad float_rounding) are NOT fatal: they are reported on stderr with file:line and
 * written as an error record (`correct: false`, `error: "<file>:<line>: …"`, plus `line`), so
 * the output has one record per non-blank input line.
 *
 * Output follows the rule shared with `falign refusal` (see `writeSummary`): records go to
 * `--out`, or to stdout without it; the summary is a human line on stderr, or with `--json` one
 * JSON object on stdout (with `--out`) or on stderr (without, so stdout stays pure JSONL).
 */
import { Option, type Command } from 'commander';
import { VerifierPool, type VerifyOptions, type VerifyResult } from '@falign/rewards';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { JsonlWriter, fileSize, readJsonl, type JsonlError } from '../../util/jsonl.js';
import { startProgress } from '../../util/progress.js';
import { intArg, JSONL_SUMMARY_JSON_HELP, writeSummary, markRequiredInHelp } from '../options.js';

/** Options of {@link runVerify}. */
export interface VerifyCommandOptions {
  in: string;
  out?: string;
  mode?: 'math' | 'gsm8k';
  timeoutMs?: number;
  concurrency?: number;
  quiet?: boolean;
}

/** Summary of a verify run. */
export interface VerifySummary {
  n: number;
  correct: number;
  accuracy: number;
  errors: number;
  errorsByKind: Record<string, number>;
  badLines: number;
}

type Rec = Record<string, unknown>;
interface Pending {
  bad?: boolean;
  line: number;
  record: Rec;
  result: Promise<VerifyResult> | VerifyResult;
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
  return `verify: n=${summary.n} correct=${summary.correct} accuracy=${(100 * summary.accuracy).toFixed(2)}% errors=${summary.errors}${kinds ? ` (${kinds})` : ''} bad_lines=${summary.badLines}`;
}

/** Runs the verify command; resolves with the summary (printing it is the caller's job). */
export async function runVerify(o: VerifyCommandOptions): Promise<VerifySummary> {
  const mode = o.mode ?? 'math';
  if (mode !== 'math' && mode !== 'gsm8k') throw new Error(`--mode must be math or gsm8k, got '${mode}'`);
  const timeoutMs = positiveInt('timeout-ms', o.timeoutMs, 5000);
  const concurrency = positiveInt('concurrency', o.concurrency, Math.max(1, availableParallelism() - 1));
  if (o.out && o.out !== '-' && resolve(o.out) === resolve(o.in)) {
    throw new Error(`--out must differ from --in (${o.in}): writing would truncate the input while it is read`);
  }
  const total = fileSize(o.in); // 0 for a missing file: readJsonl then names it
  const pool = new VerifierPool({ size: concurrency, timeoutMs, verifyOptions: { mode } });
  const writer = new JsonlWriter(o.out);
  const progress = startProgress({ label: 'verify', total: Math.max(total, 1), unit: 'bytes', silent: o.quiet });
  const summary: VerifySummary = { n: 0, correct: 0, accuracy: 0, errors: 0, errorsByKind: {}, badLines: 0 };
  const window: Pending[] = [];
  const badLine = (line: number, message: string, record?: Rec): Pending => {
    summary.badLines++;
    process.stderr.write(`falign verify: ${message} (skipped)\n`);
    return {
      bad: true,
      line,
      record: { ...(record ?? {}), line },
      result: { correct: false, extractedGold: null, extractedPred: null, error: message, errorKind: 'internal' },
    };
  };
  const flush = async (all: boolean) => {
    while (window.length && (all || window.length > concurrency * 64)) {
      const p = window.shift() as Pending;
      const r = await p.result;
      summary.n++;
      if (r.correct) summary.correct++;
      if (r.error) {
        summary.errors++;
        const k = p.bad ? 'bad_line' : (r.errorKind ?? 'internal');
        summary.errorsByKind[k] = (summary.errorsByKind[k] ?? 0) + 1;
      }
      await writer.write({ ...p.record, correct: r.correct, extractedGold: r.extractedGold, extractedPred: r.extractedPred, error: r.error });
    }
  };
  try {
    const badJson: JsonlError[] = [];
    for await (const { value, line } of readJsonl<unknown>(o.in, {
      onBadLine: (e) => badJson.push(e),
      onBytes: (b) => progress.update(b),
    })) {
      for (const e of badJson.splice(0)) window.push(badLine(e.line, e.message));
      if (!value || typeof value !== 'object' || Array.isArray(value)) {
        window.push(badLine(line, `${o.in}:${line}: expected a JSON object`));
      } else {
        const rec = value as Rec;
        const fr = rec.float_rounding;
        if (typeof rec.gold !== 'string' && typeof rec.gold !== 'number') window.push(badLine(line, `${o.in}:${line}: field 'gold' must be a string`, rec));
        else if (typeof rec.pred !== 'string') window.push(badLine(line, `${o.in}:${line}: field 'pred' must be a string`, rec));
        else if (fr !== undefined && fr !== null && !(Number.isInteger(fr) && (fr as number) >= 0 && (fr as number) <= 15))
          window.push(badLine(line, `${o.in}:${line}: field 'float_rounding' must be an integer in 0..15`, rec));
        else {
          const opts: VerifyOptions = { mode, timeoutMs };
          if (typeof fr === 'number') opts.floatRounding = fr;
          window.push({ line, record: rec, result: pool.verify(String(rec.gold), rec.pred, opts) });
        }
      }
      await flush(false);
    }
    for (const e of badJson.splice(0)) window.push(badLine(e.line, e.message));
    await flush(true);
  } finally {
    progress.stop();
    await pool.close();
    await writer.close();
  }
  summary.accuracy = summary.n ? summary.correct / summary.n : 0;
  return summary;
}

export function register(program: Command): void {
  markRequiredInHelp(program.command('verify'))
    .description('check predicted answers against gold answers (JSONL with gold, pred[, float_rounding])')
    .requiredOption('--in <file>', 'input JSONL (.gz accepted)')
    .option('--out <file>', 'output JSONL (default: stdout)')
    .addOption(new Option('--mode <mode>', 'answer format').choices(['math', 'gsm8k']).default('math'))
    .option('--timeout-ms <n>', 'hard time limit per check in ms', intArg('--timeout-ms', 1), 5000)
    .option('--concurrency <c>', 'worker threads (default: cores - 1)', intArg('--concurrency', 1))
    .option('--quiet', 'no progress output')
    .option('--json', JSONL_SUMMARY_JSON_HELP)
    .action(async (opts: { in: string; out?: string; mode: 'math' | 'gsm8k'; timeoutMs: number; concurrency?: number; quiet?: boolean; json?: boolean }) => {
      const summary = await runVerify({
        in: opts.in,
        out: opts.out,
        mode: opts.mode,
        timeoutMs: opts.timeoutMs,
        concurrency: opts.concurrency,
        quiet: opts.quiet,
      });
      writeSummary(opts, summary, formatVerifySummary(summary));
    });
}
