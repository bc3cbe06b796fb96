/**
 * `falign data fetch`: downloads a dataset's files from the manifest URLs into the cache, checking
 * each file's sha256 before it becomes visible (written to a temporary name, then renamed). A
 * file already present and verified where the loaders look (FALIGN_DATA_DIR, then the cache) is
 * skipped unless `force` is set.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sha256Bytes, sha256File } from './checksum.js';
import { dataRoots, datasetCacheDir, type DataRoot, type DataSource } from './locate.js';
import type { DatasetManifest, ManifestFile } from './manifest.js';

/** Options of {@link fetchDataset}. */
export interface FetchOptions {
  /**
   * Destination root (default: the dataset cache). When given, only it is checked for copies
   * already present; by default FALIGN_DATA_DIR and the cache are.
   */
  destRoot?: string;
  /** Re-download files even when a verified copy is present. */
  force?: boolean;
  /** Per-file timeout in ms (default 120 s). */
  timeoutMs?: number;
  /** Called after each file. */
  onFile?: (r: FetchedFile) => void;
}

/** Outcome for one file. */
export interface FetchedFile {
  split: string;
  path: string;
  url: string;
  /** `present`: a verified copy was already there (at `path`, under `source`) and was skipped. */
  status: 'downloaded' | 'present';
  /** Where `path` is: FALIGN_DATA_DIR or the cache. */
  source: DataSource;
  bytes: number;
  /** Set when a copy found before the downloaded one (in FALIGN_DATA_DIR) fails its sha256. */
  warning?: string;
}

function describeFetchError(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'timed out';
  const cause = err.cause ? ` (${err.cause.code ?? err.cause.message ?? String(err.cause)})` : '';
  return `${err.message}${cause}`;
}

async function download(url: string, timeoutMs: number): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (e) {
    throw new Error(
      `could not download ${url}: ${describeFetchError(e)}. If this machine is offline, set FALIGN_DATA_DIR ` +
        `to a folder that already holds the datasets (layout <dataset dir>/<file>).`,
    );
  }
  if (!res.ok) throw new Error(`could not download ${url}: HTTP ${res.status} ${res.statusText}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function sha256OrNull(path: string): Promise<string | null> {
  try {
    return await sha256File(path);
  } catch {
    return null; // absent or unreadable
  }
}

async function fetchFile(manifest: DatasetManifest, file: ManifestFile, opts: FetchOptions): Promise<FetchedFile> {
  const dest = join(opts.destRoot ?? datasetCacheDir(), manifest.dir, file.path);
  const roots: DataRoot[] = opts.destRoot ? [{ source: 'cache', root: opts.destRoot }] : dataRoots();
  let warning: string | undefined;
  for (const r of roots) {
    const p = join(r.root, manifest.dir, file.path);
    const sha = await sha256OrNull(p);
    if (sha === null) continue;
    if (sha === file.sha256) {
      if (!opts.force) return { split: file.split, path: p, url: file.url, status: 'present', source: r.source, bytes: file.bytes };
    } else if (r.source === 'data-dir') {
      warning = `${p} (FALIGN_DATA_DIR) fails its sha256 and is found before the cache: replace or remove it`;
    }
  }
  const bytes = await download(file.url, opts.timeoutMs ?? 120_000);
  const got = sha256Bytes(bytes);
  if (got !== file.sha256) {
    throw new Error(`${file.url}: sha256 mismatch (expected ${file.sha256}, got ${got}, ${bytes.length} bytes); file not saved`);
  }
  mkdirSync(dirname(dest), { recursive: true });
  const tmp = `${dest}.tmp-${process.pid}-${Date.now()}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, dest);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  return { split: file.split, path: dest, url: file.url, status: 'downloaded', source: 'cache', bytes: bytes.length, ...(warning ? { warning } : {}) };
}

/** Downloads (or confirms) every file of a dataset; stops at the first failure. */
export async function fetchDataset(manifest: DatasetManifest, opts: FetchOptions = {}): Promise<FetchedFile[]> {
  const out: FetchedFile[] = [];
  for (const f of manifest.files) {
    const r = await fetchFile(manifest, f, opts);
    opts.onFile?.(r);
    out.push(r);
  }
  return out;
}
