/**
 * Format readers: turn a data file into raw records, each with the 1-based line where it starts,
 * so that a bad record can be reported as `file:line`. CSVs go through csv-parse (quoted fields may
 * span lines); JSON arrays are scanned for the line of each top-level element.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { parse as parseCsv } from 'csv-parse/sync';
import type { DataFormat } from './manifest.js';

/** A raw record and where it starts. */
export interface RawRecord {
  value: unknown;
  line: number;
}

/** A record that cannot be read; the message names the file and line. */
export class DataFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    detail: string,
  ) {
    super(`${file}${line !== null ? `:${line}` : ''}: ${detail}`);
    this.name = 'DataFileError';
  }
}

function readText(file: string, gz: boolean): string {
  const bytes = readFileSync(file);
  try {
    return (gz ? gunzipSync(bytes) : bytes).toString('utf8');
  } catch (e) {
    throw new DataFileError(file, null, `cannot decompress (${(e as Error).message})`);
  }
}

function readJsonLines(file: string, text: string): RawRecord[] {
  const out: RawRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i].trim();
    if (t === '') continue;
    try {
      out.push({ value: JSON.parse(t), line: i + 1 });
    } catch (e) {
      throw new DataFileError(file, i + 1, `invalid JSON (${(e as Error).message})`);
    }
  }
  return out;
}

/** Line (1-based) where each top-level element of a JSON array starts. */
function arrayElementLines(text: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let depth = 0;
  let inString = false;
  let escaped = false;
  let expectValue = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') line++;
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (depth === 1 && expectValue && !/\s/.test(c) && c !== ']') {
      lines.push(line);
      expectValue = false;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      depth++;
      if (depth === 1) expectValue = true;
    } else if (c === ']' || c === '}') depth--;
    else if (c === ',' && depth === 1) expectValue = true;
  }
  return lines;
}

function readJsonArray(file: string, text: string): RawRecord[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new DataFileError(file, null, `invalid JSON (${(e as Error).message})`);
  }
  if (!Array.isArray(value)) throw new DataFileError(file, 1, 'expected a JSON array of records');
  const lines = arrayElementLines(text);
  return value.map((v, i) => ({ value: v, line: lines[i] ?? 1 }));
}

/** 1-based line number of a byte offset, from the sorted offsets of '\n' bytes. */
function lineAt(newlines: readonly number[], offset: number): number {
  let lo = 0;
  let hi = newlines.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (newlines[mid] < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo + 1;
}

function readCsv(file: string, bytes: Buffer, fields: readonly string[]): RawRecord[] {
  let rows: { record: string[]; info: { bytes: number; lines: number } }[];
  try {
    rows = parseCsv(bytes, { bom: true, info: true, skip_empty_lines: true }) as unknown as typeof rows;
  } catch (e) {
    const err = e as Error & { lines?: number };
    throw new DataFileError(file, err.lines ?? null, `malformed CSV (${err.message})`);
  }
  if (rows.length === 0) throw new DataFileError(file, 1, 'empty CSV (no header)');
  const cols = rows[0].record;
  const missing = fields.filter((f) => !cols.includes(f));
  if (missing.length > 0) throw new DataFileError(file, 1, `missing column(s) ${missing.map((m) => `"${m}"`).join(', ')} (header: ${cols.join(',')})`);
  // csv-parse's own line counter drifts on quoted fields with CRLF inside, so lines are computed
  // from byte offsets: a record starts right after the previous record's end offset.
  const newlines: number[] = [];
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 10) newlines.push(i);
  const out: RawRecord[] = [];
  for (let r = 1; r < rows.length; r++) {
    const value: Record<string, string> = {};
    cols.forEach((c, j) => (value[c] = rows[r].record[j]));
    out.push({ value, line: lineAt(newlines, rows[r - 1].info.bytes) });
  }
  return out;
}

/** Reads every raw record of a data file. `fields` is checked against a CSV header. */
export function readRecords(file: string, format: DataFormat, fields: readonly string[]): RawRecord[] {
  switch (format) {
    case 'jsonl':
      return readJsonLines(file, readText(file, false));
    case 'jsonl.gz':
      return readJsonLines(file, readText(file, true));
    case 'json':
      return readJsonArray(file, readText(file, false));
    case 'csv':
      return readCsv(file, readFileSync(file), fields);
  }
}
