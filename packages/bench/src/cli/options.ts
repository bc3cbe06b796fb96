/**
 * Option parsers and conventions shared by the `falign` subcommands, so that the same flag is
 * parsed, validated and described the same way everywhere.
 */
import { Help, type Command, type Option } from 'commander';
import type { BackendName } from '@falign/core';

/** tfjs backends in the order every command lists them. */
export const BACKENDS: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

/** `--backend` help text. */
export const BACKEND_HELP = `tfjs backend: ${BACKENDS.join(', ')}`;

/**
 * A commander argument parser for a number that must pass `check`. It throws a plain Error (not
 * commander's InvalidArgumentError) so that main prints one `falign: --flag: …` line.
 */
export function numberArg(flag: string, check: (v: number) => boolean, want: string): (raw: string) => number {
  return (raw: string) => {
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(v) || !check(v)) throw new Error(`${flag}: expected ${want}, got "${raw}"`);
    return v;
  };
}

/** An integer >= `min`. */
export const intArg = (flag: string, min: number) =>
  numberArg(flag, (v) => Number.isSafeInteger(v) && v >= min, `an integer >= ${min}`);

/** Any safe integer (seeds: negative ones are valid, as in an eval config). */
export const anyIntArg = (flag: string) => numberArg(flag, (v) => Number.isSafeInteger(v), 'an integer');

/** Checks a `--backend` value; undefined stays undefined (core picks). */
export function parseBackend(name: string | undefined): BackendName | undefined {
  if (name === undefined) return undefined;
  if (!BACKENDS.includes(name as BackendName)) throw new Error(`--backend must be one of ${BACKENDS.join(', ')}, got "${name}"`);
  return name as BackendName;
}

/**
 * Where a JSONL-labelling command (`verify`, `refusal`) puts its summary. One rule for both:
 * the records go to `--out`, or to stdout without it. The human summary line goes to stderr.
 * With `--json` the summary is also one JSON object: on stdout when `--out` leaves stdout free;
 * without `--out` it replaces the human line on stderr, so that stdout stays pure JSONL records.
 */
export function writeSummary(o: { out?: string; json?: boolean }, summary: unknown, human: string): void {
  const stdoutFree = o.out !== undefined && o.out !== '-';
  if (o.json && !stdoutFree) {
    process.stderr.write(`${JSON.stringify(summary)}\n`);
    return;
  }
  process.stderr.write(`${human}\n`);
  if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
}

/** The `--strict` help text, the same in every JSONL-reading command (policy in util/errors.ts). */
export const STRICT_HELP = 'fail (exit 1) on the first bad input line instead of skipping it; skipped lines are never scored and are listed in the summary';

/** The `--json` help text of the JSONL-labelling commands (see {@link writeSummary}). */
export const JSONL_SUMMARY_JSON_HELP = 'print the summary as one JSON object: on stdout with --out; without --out on stderr, as stdout carries the records';

/**
 * Lets a flag (like `eval --list-tasks`) run without the command's required options: commander
 * checks them after parsing, so the flag's listener lifts the requirement when it is seen.
 */
export function waiveRequiredOptionsOn(cmd: Command, flag: string): void {
  cmd.on(`option:${flag}`, () => {
    for (const opt of cmd.options) if (opt.mandatory) opt.makeOptionMandatory(false);
  });
}

/**
 * Appends "(required)" to the help line of every `.requiredOption` of `cmd` (commander checks
 * them but does not mark them in `--help`). Call it after the options are declared or before:
 * the help is rendered lazily.
 */
export function markRequiredInHelp(cmd: Command): Command {
  return cmd.configureHelp({
    optionDescription(this: Help, option: Option): string {
      const text = Help.prototype.optionDescription.call(this, option);
      return option.mandatory ? `${text} (required)` : text;
    },
  });
}
