/**
 * Loading a dataset split: locate the file, read raw records, validate each against the split's
 * schema. Errors name file, line and field.
 */
import type { z } from 'zod';
import { requireFile, type DataSource } from './locate.js';
import { formatZodIssues, getManifest, getManifestFile, type DatasetManifest, type ManifestFile } from './manifest.js';
import { DataFileError, readRecords } from './readers.js';
import { ROW_SCHEMAS, type DatasetRows } from './schemas.js';

/** A validated record with its origin. */
export interface DatasetRow<T> {
  /** 0-based position in the split. */
  index: number;
  /** 1-based line where the record starts in the file. */
  line: number;
  value: T;
}

/** A loaded split. */
export interface LoadedSplit<T> {
  dataset: string;
  split: string;
  file: string;
  source: DataSource | 'explicit';
  rows: DatasetRow<T>[];
}

/** Validates raw records of `file` against a schema, dropping declared trailing summary rows. */
export function parseRecords<T>(file: string, entry: ManifestFile, schema: z.ZodType<T, unknown>): DatasetRow<T>[] {
  let raw = readRecords(file, entry.format, entry.fields);
  const summary = entry.trailingSummaryRows ?? 0;
  if (summary > 0) {
    const tail = raw.slice(raw.length - summary);
    const key = entry.fields[0];
    for (const r of tail) {
      const v = (r.value as Record<string, unknown>)[key];
      if (v !== '' && v !== undefined) {
        throw new DataFileError(file, r.line, `expected a summary row with empty "${key}" (the manifest declares ${summary} trailing summary rows)`);
      }
    }
    raw = raw.slice(0, raw.length - summary);
  }
  return raw.map((r, index) => {
    const parsed = schema.safeParse(r.value);
    if (!parsed.success) throw new DataFileError(file, r.line, formatZodIssues(parsed.error.issues));
    return { index, line: r.line, value: parsed.data };
  });
}

function schemaFor(manifest: DatasetManifest, split: string): z.ZodType<unknown, unknown> {
  const bySplit = (ROW_SCHEMAS as unknown as Record<string, Record<string, z.ZodType<unknown, unknown>> | undefined>)[manifest.name];
  const schema = bySplit?.[split];
  if (!schema) throw new Error(`no record schema for dataset "${manifest.name}" split "${split}"`);
  return schema;
}

/** Options of {@link loadDataset}. */
export interface LoadDatasetOptions {
  /** Read this file instead of resolving through FALIGN_DATA_DIR / the cache. */
  file?: string;
}

/** Loads and validates one split of a known dataset. */
export function loadDataset<D extends keyof DatasetRows, S extends keyof DatasetRows[D] & string>(
  name: D,
  split: S,
  opts?: LoadDatasetOptions,
): LoadedSplit<DatasetRows[D][S]>;
export function loadDataset(name: string, split: string, opts?: LoadDatasetOptions): LoadedSplit<unknown>;
export function loadDataset(name: string, split: string, opts: LoadDatasetOptions = {}): LoadedSplit<unknown> {
  const manifest = getManifest(name);
  const entry = getManifestFile(manifest, split);
  const located = opts.file ? { path: opts.file, source: 'explicit' as const } : requireFile(manifest, entry);
  const rows = parseRecords(located.path, entry, schemaFor(manifest, split));
  return { dataset: name, split, file: located.path, source: located.source, rows };
}
