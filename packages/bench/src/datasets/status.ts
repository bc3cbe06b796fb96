/** What `falign data list|check` report: presence, location, checksum and row count per file. */
import { sha256File } from './checksum.js';
import { locateFile, type DataSource } from './locate.js';
import { listManifests, type DatasetManifest } from './manifest.js';
import { loadDataset } from './load.js';

/** Status of one data file. */
export interface FileStatus {
  dataset: string;
  split: string;
  file: string;
  present: boolean;
  path: string | null;
  source: DataSource | null;
  /** sha256 matches the manifest (null when absent or not checked). */
  verified: boolean | null;
  /** Records per the manifest. */
  rows: number;
  /** Records actually loaded (only when `load` was requested and the file is present). */
  loadedRows?: number;
  /** Why a check failed. */
  error?: string;
}

/** Options of {@link datasetStatus}. */
export interface StatusOptions {
  /** Parse and validate every record and compare the count with the manifest. */
  load?: boolean;
  /** Restrict to these datasets. */
  names?: string[];
}

async function fileStatus(m: DatasetManifest, f: DatasetManifest['files'][number], opts: StatusOptions): Promise<FileStatus> {
  const hit = locateFile(m, f);
  const base: FileStatus = { dataset: m.name, split: f.split, file: f.path, present: !!hit, path: hit?.path ?? null, source: hit?.source ?? null, verified: null, rows: f.rows };
  if (!hit) return base;
  const sha = await sha256File(hit.path);
  base.verified = sha === f.sha256;
  if (!base.verified) base.error = `sha256 mismatch: expected ${f.sha256}, got ${sha}`;
  if (opts.load) {
    try {
      base.loadedRows = loadDataset(m.name, f.split, { file: hit.path }).rows.length;
      if (base.loadedRows !== f.rows) base.error = `${base.error ? `${base.error}; ` : ''}expected ${f.rows} records, loaded ${base.loadedRows}`;
    } catch (e) {
      base.error = `${base.error ? `${base.error}; ` : ''}${(e as Error).message}`;
    }
  }
  return base;
}

/** Status of every file of every (or the named) dataset(s). */
export async function datasetStatus(opts: StatusOptions = {}): Promise<FileStatus[]> {
  const manifests = listManifests().filter((m) => !opts.names || opts.names.includes(m.name));
  if (opts.names) {
    const unknown = opts.names.filter((n) => !manifests.some((m) => m.name === n));
    if (unknown.length > 0) throw new Error(`unknown dataset(s): ${unknown.join(', ')} (known: ${listManifests().map((m) => m.name).join(', ')})`);
  }
  const out: FileStatus[] = [];
  for (const m of manifests) for (const f of m.files) out.push(await fileStatus(m, f, opts));
  return out;
}
