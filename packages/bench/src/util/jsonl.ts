/**
 * Streaming JSONL input/output shared by every CLI command that reads or writes records.
 * Errors name the file and the 1-based line so that nothing is lost silently.
 */
import { createReadStream, createWriteStream, existsSync, statSync, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';

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
  if (!existsSync(file)) throw new Error(`${file}: no such file`);
  const raw = createReadStream(file);
  let bytes = 0;
  raw.on('data', (chunk) => {
    bytes += chunk.length;
    opts.onBytes?.(bytes);
  });
  const input = file.endsWith('.gz') ? raw.pipe(createGunzip()) : raw;
  const rl = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  for await (const text of rl) {
    line++;
    if (text.trim() === '') continue;
    let value: T;
    try {
      value = JSON.parse(text) as T;
    } catch (e) {
      const err = new JsonlError(file, line, `invalid JSON (${(e as Error).message})`);
      if (opts.onBadLine) {
        opts.onBadLine(err);
        continue;
      }
      rl.close();
      raw.destroy();
      throw err;
    }
    yield { value, line };
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

  constructor(file?: string, opts: { append?: boolean } = {}) {
    if (!file || file === '-') {
      this.stream = process.stdout;
      this.ownsStream = false;
    } else {
      this.stream = createWriteStream(file, { flags: opts.append ? 'a' : 'w' });
      this.ownsStream = true;
    }
  }

  /** Writes one record; resolves when the stream accepted it (respects back-pressure). */
  write(value: unknown): Promise<void> {
    const ok = this.stream.write(`${JSON.stringify(value)}\n`);
    if (ok) return Promise.resolve();
    return new Promise((resolve) => this.stream.once('drain', () => resolve()));
  }

  /** Flushes and closes (never closes stdout). */
  close(): Promise<void> {
    if (!this.ownsStream) return Promise.resolve();
    return new Promise((resolve, reject) => {
      (this.stream as WriteStream).end((err?: Error | null) => (err ? reject(err) : resolve()));
    });
  }
}
