/**
 * Streaming JSONL input/output shared by every CLI command that reads or writes records.
 * Errors name the file and the 1-based line so that nothing is lost silently.
 */
import { createReadStream, createWriteStream, existsSync, statSync, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { describeFsError, openOutputFile, requireInputFile } from './errors.js';

/** A record read from a JSONL file, with where it came from. */
export interface JsonlRecord<T = unknown> {
  value: T;
  /** 1-based line number in the file. */
  line: number;
}

/** Raised for a line that is not valid JSON (or fails a caller's check); names file and line. */
export class JsonlError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    detail: string,
  ) {
    super(`${file}:${line}: ${detail}`);
    this.name = 'JsonlError';
  }
}

/**
 * Reads a JSONL file (optionally .gz) line by line. Blank lines are skipped. A malformed line
 * throws a JsonlError unless `onBadLine` is given, in which case it is reported and skipped.
 * `onBytes` receives the bytes consumed so far (for progress bars).
 */
export async function* readJsonl<T = unknown>(
  file: string,
  opts: { onBadLine?: (err: JsonlError) => void; onBytes?: (bytes: number) => void } = {},
): AsyncGenerator<JsonlRecord<T>> {
  requireInputFile(file);
  const raw = createReadStream(file);
  let bytes = 0;
  raw.on('data', (chunk) => {
    bytes += chunk.length;
    opts.onBytes?.(bytes);
  });
  const input = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  const rl = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  // A stream error (a corrupt .gz, an unreadable file) names the file, as every other error here.
  const named = (e: unknown): Error => (e instanceof JsonlError ? e : new Error(`${file}: ${(e as Error)?.message ?? String(e)}`));
  input.on('error', () => {}); // surfaced by the loop below (readline rethrows it); never unhandled
  const iter = rl[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<string>;
      try {
        next = await iter.next();
      } catch (e) {
        throw named(e);
      }
      if (next.done) break;
      const text = next.value;
      line++;
      if (text.trim() === '') continue;
      let value: T;
      try {
        value = JSON.parse(text) as T;
      } catch (e) {
        const err = new JsonlError(file, line, `invalid JSON (${(e as Error).message})`);
        if (!opts.onBadLine) throw err;
        opts.onBadLine(err); // may throw (--strict)
        continue;
      }
      yield { value, line };
    }
  } finally {
    // Also on an early exit (a thrown error, a consumer that stops): never leave the file open.
    rl.close();
    raw.destroy();
  }
}

/** Reads a whole JSONL file into memory (small files only). */
export async function readJsonlAll<T = unknown>(file: string): Promise<JsonlRecord<T>[]> {
  const out: JsonlRecord<T>[] = [];
  for await (const r of readJsonl<T>(file)) out.push(r);
  return out;
}

/** Size of a file in bytes, or 0 when it does not exist. */
export function fileSize(file: string): number {
  return existsSync(file) ? statSync(file).size : 0;
}

/**
 * Appends JSON lines to a file (or stdout when `file` is undefined or '-'). Each `write` is one
 * line, flushed in order, so a crash loses at most the line being written.
 */
export class JsonlWriter {
  private readonly stream: WriteStream | NodeJS.WriteStream;
  private readonly ownsStream: boolean;
  private readonly file: string;
  /** A write error (disk full, …): reported by the next write or close, as one line. */
  private failure: Error | null = null;

  /**
   * Opens `file` synchronously (see `openOutputFile`): an unwritable path throws here, before
   * the caller does any work, with one line naming `flag` and the path.
   */
  constructor(file?: string, opts: { append?: boolean; flag?: string } = {}) {
    if (!file || file === '-') {
      this.stream = process.stdout;
      this.ownsStream = false;
      this.file = 'stdout';
    } else {
      const fd = openOutputFile(file, { flag: opts.flag ?? '--out', append: opts.append });
      this.stream = createWriteStream(file, { fd });
      this.ownsStream = true;
      this.file = file;
      this.stream.on('error', (e) => {
        this.failure ??= new Error(describeFsError(e, file, 'write'));
      });
    }
  }

  /** Writes one record; resolves when the stream accepted it (respects back-pressure). */
  write(value: unknown): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const ok = this.stream.write(`${JSON.stringify(value)}\n`);
    if (ok) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onError = () => reject(this.failure ?? new Error(`${this.file}: write failed`));
      this.stream.once('error', onError);
      this.stream.once('drain', () => {
        this.stream.off('error', onError);
        resolve();
      });
    });
  }

  /** Flushes and closes (never closes stdout). */
  close(): Promise<void> {
    if (!this.ownsStream) return Promise.resolve();
    return new Promise((resolve, reject) => {
      (this.stream as WriteStream).end((err?: Error | null) => {
        const failure = this.failure ?? (err ? new Error(describeFsError(err, this.file, 'write')) : null);
        if (failure) reject(failure);
        else resolve();
      });
    });
  }
}
