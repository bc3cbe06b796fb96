/**
 * The one error policy of every `falign` command, in one place so that commands cannot drift:
 *
 * - Every failure is ONE line on stderr, `falign: <what>`, naming the file (and line, column or
 *   field where there is one), and the exit status is 1. No stack trace unless FALIGN_DEBUG=1.
 * - Outputs are opened before any work starts ({@link openOutputFile}), so `--out
 *   /nonexistent/x.jsonl` fails in the first millisecond instead of after the work, or with a raw
 *   stream error.
 * - Inputs are checked before any model loads ({@link requireInputFile}).
 * - A bad input line (invalid JSON, missing or mistyped field) is never scored: with the default
 *   policy it is skipped, reported on stderr as `file:line: reason` and listed in the summary
 *   (count and line numbers); with `--strict` the first one is fatal (exit 1). {@link LineSkipper}
 *   implements that for every JSONL-reading command.
 * - JSON files that fail to parse are reported with line and column ({@link parseJsonText}).
 * - Ports are validated (`--port` 0–65535, 0 = any free one) and probed before a model loads
 *   ({@link probePort}).
 */
import { closeSync, openSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { JsonlError } from './jsonl.js';

/** Most bad-line messages kept in a summary (the count is always exact). */
export const MAX_BAD_LINE_DETAILS = 20;
/** Most bad line numbers kept in a summary (memory stays bounded on a file of garbage). */
export const MAX_BAD_LINE_NUMBERS = 1000;

/** One human sentence for a file-system error on `path` (no errno soup, no stack). */
export function describeFsError(e: unknown, path: string, action: 'read' | 'write' | 'create'): string {
  const code = (e as NodeJS.ErrnoException)?.code;
  const parent = dirname(resolve(path));
  switch (code) {
    case 'ENOENT':
      return action === 'read' ? `${path}: no such file` : `${path}: cannot ${action}: directory ${parent} does not exist`;
    case 'EACCES':
    case 'EPERM':
      return `${path}: cannot ${action}: permission denied`;
    case 'EISDIR':
      return `${path}: cannot ${action}: is a directory`;
    case 'ENOTDIR':
      return `${path}: cannot ${action}: a parent of it is a file, not a directory`;
    case 'EROFS':
      return `${path}: cannot ${action}: read-only file system`;
    case 'ENOSPC':
      return `${path}: cannot ${action}: no space left on device`;
    default:
      return `${path}: cannot ${action}: ${(e as Error)?.message ?? String(e)}`;
  }
}

/**
 * Opens `file` for writing (or appending) synchronously and returns the descriptor, so that an
 * unwritable output fails before any work is done, with one line naming the flag and the path.
 */
export function openOutputFile(file: string, opts: { flag?: string; append?: boolean } = {}): number {
  try {
    return openSync(file, opts.append ? 'a' : 'w');
  } catch (e) {
    throw new Error(`${opts.flag ? `${opts.flag} ` : ''}${describeFsError(e, file, 'write')}`);
  }
}

/** Fails with `FILE: no such file` (or the reason it cannot be read) unless `file` is a readable file. */
export function requireInputFile(file: string, flag?: string): void {
  const where = flag ? `${flag} ` : '';
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw new Error(`${where}${describeFsError(e, file, 'read')}`);
  }
  if (st.isDirectory()) throw new Error(`${where}${file}: is a directory, expected a file`);
  try {
    closeSync(openSync(file, 'r'));
  } catch (e) {
    throw new Error(`${where}${describeFsError(e, file, 'read')}`);
  }
}

/** 1-based line and column of a character offset in `text`. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lastNl = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lastNl = i;
    }
  }
  return { line, column: offset - lastNl };
}

/**
 * `JSON.parse` whose error names `file:line:column`. Node's messages give a character position
 * ("at position 16") or, for a truncated file, none; both are turned into line and column.
 */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const m = /at position (\d+)/.exec(msg);
    const lc = /line (\d+) column (\d+)/.exec(msg);
    let where: { line: number; column: number };
    if (lc) where = { line: Number(lc[1]), column: Number(lc[2]) };
    else if (m) where = lineColumn(text, Number(m[1]));
    else where = lineColumn(text, text.length); // "Unexpected end of JSON input"
    const detail = msg.replace(/\s*(in JSON )?at position \d+.*$/, '').replace(/\s*\(line \d+ column \d+\)/, '');
    throw new Error(`${file}:${where.line}:${where.column}: invalid JSON (${detail})`);
  }
}

/** What a JSONL-reading command reports about the lines it skipped. */
export interface SkippedLines {
  /** How many non-blank lines were skipped (never scored, never written). */
  badLines: number;
  /** Their 1-based line numbers, in file order (the first {@link MAX_BAD_LINE_NUMBERS}). */
  badLineNumbers: number[];
  /** The first {@link MAX_BAD_LINE_DETAILS} reasons, as `file:line: reason`. */
  badLineDetails: string[];
}

/**
 * The bad-line policy shared by every JSONL-reading command: skip, report on stderr and count,
 * or with `strict` throw on the first bad line. A skipped line is never scored.
 */
export class LineSkipper {
  readonly skipped: SkippedLines = { badLines: 0, badLineNumbers: [], badLineDetails: [] };

  constructor(private readonly o: { command: string; strict?: boolean; quiet?: boolean }) {}

  /** Records one bad line (throws the error under `strict`). */
  skip(err: JsonlError): void {
    if (this.o.strict) throw err;
    const s = this.skipped;
    s.badLines++;
    if (s.badLineNumbers.length < MAX_BAD_LINE_NUMBERS) s.badLineNumbers.push(err.line);
    if (s.badLineDetails.length < MAX_BAD_LINE_DETAILS) s.badLineDetails.push(err.message);
    if (!this.o.quiet) process.stderr.write(`falign ${this.o.command}: skipped ${err.message}\n`);
  }

  /** A bad line found by the caller's own check of a parsed record (a missing field, a wrong type). */
  skipField(file: string, line: number, field: string, reason: string): void {
    this.skip(new JsonlError(file, line, `field "${field}" ${reason}`));
  }
}

/** `; 2 bad line(s) skipped (lines 3, 5)` for a summary line, or '' when none were skipped. */
export function formatSkipped(s: SkippedLines): string {
  if (s.badLines === 0) return '';
  const shown = s.badLineNumbers.slice(0, 10).join(', ');
  const more = s.badLines > 10 ? `, … ${s.badLines - 10} more` : '';
  return `; ${s.badLines} bad line(s) skipped, not scored (line${s.badLines > 1 ? 's' : ''} ${shown}${more})`;
}

/** Commander parser of `--port`: an integer in 0..65535 (0 asks the system for a free port). */
export function portArg(flag = '--port'): (raw: string) => number {
  return (raw: string) => {
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isInteger(v) || v < 0 || v > 65535) {
      throw new Error(`${flag}: expected an integer in 1..65535 (or 0 for any free port), got "${raw}"`);
    }
    return v;
  };
}

/**
 * Checks that `host:port` can be bound, before anything slow (loading a model) happens. Port 0
 * always passes. Throws one line: in use, permission denied (ports < 1024), or bad host.
 */
export async function probePort(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((ok, fail) => {
    const srv = createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => {
      const at = `${host}:${port}`;
      if (e.code === 'EADDRINUSE') fail(new Error(`--port ${port}: ${at} is already in use; stop the other server or pick another port (--port 0 picks a free one)`));
      else if (e.code === 'EACCES') fail(new Error(`--port ${port}: permission denied to listen on ${at} (ports below 1024 need privileges)`));
      else if (e.code === 'EADDRNOTAVAIL' || e.code === 'ENOTFOUND' || e.code === 'EAI_AGAIN') fail(new Error(`--host ${host}: not an address of this machine`));
      else fail(new Error(`--port ${port}: cannot listen on ${at}: ${e.message}`));
    });
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => ok()));
  });
}

/**
 * Installs the last-resort handlers of the CLI process: an error that escaped a command (an
 * unhandled stream 'error' event, a rejected promise nobody awaited) still ends as one line and
 * exit status 1, never a raw stack trace.
 */
export function installProcessErrorHandlers(): void {
  const die = (err: unknown): void => {
    const e = err as Error;
    process.stderr.write(`falign: ${e?.message ?? String(err)}\n`);
    if (process.env.FALIGN_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
    process.exit(1);
  };
  process.on('uncaughtException', die);
  process.on('unhandledRejection', die);
}
