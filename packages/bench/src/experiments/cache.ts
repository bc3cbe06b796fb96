/**
 * Content-addressed cache of expensive shared artefacts (SFT base policies, reward models) under
 * `.cache/falign/<kind>/<hash>/`. The key hashes everything the artefact depends on: its config,
 * the generator versions and the code version, so a change to any of them trains afresh and an
 * unchanged re-run reuses the result. Entries are written to a temporary folder and renamed, so a
 * crash never leaves a half-written entry behind.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

/** Version of the experiment code; bump when training or evaluation code changes results. */
export const EXPERIMENT_CODE_VERSION = 1;

/** JSON with object keys sorted, so equal values hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

/** sha256 (hex, first 16 characters) of the canonical JSON of `value`. */
export function contentHash(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/** Root of the experiment cache: FALIGN_CACHE_DIR/experiments, else `.cache/falign` under `cwd`. */
export function experimentCacheRoot(cwd = process.cwd()): string {
  const base = process.env.FALIGN_CACHE_DIR;
  return base ? join(resolve(base), 'experiments') : join(resolve(cwd), '.cache', 'falign');
}

/** A cache entry folder; `ready` once its `done.json` marker exists. */
export interface CacheEntry {
  dir: string;
  key: string;
  ready: boolean;
}

/** The entry of `kind` for `keyValue` (nothing is created). */
export function cacheEntry(root: string, kind: string, keyValue: unknown): CacheEntry {
  const key = contentHash(keyValue);
  const dir = join(root, kind, key);
  return { dir, key, ready: existsSync(join(dir, 'done.json')) };
}

/**
 * Fills a cache entry: `build(tmpDir)` writes the artefact into a fresh temporary folder, which
 * then atomically becomes the entry. The key value is stored next to it (`key.json`) for humans.
 */
export async function fillCacheEntry(entry: CacheEntry, keyValue: unknown, build: (dir: string) => Promise<unknown>): Promise<void> {
  removeStaleTemps(dirname(entry.dir));
  const tmp = `${entry.dir}.tmp-${process.pid}-${Date.now()}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const info = await build(tmp);
    writeFileSync(join(tmp, 'key.json'), `${JSON.stringify(keyValue, null, 2)}\n`);
    writeFileSync(join(tmp, 'done.json'), `${JSON.stringify({ key: entry.key, createdAt: new Date().toISOString(), info: info ?? null }, null, 2)}\n`);
    if (existsSync(entry.dir)) rmSync(entry.dir, { recursive: true, force: true });
    renameSync(tmp, entry.dir);
    entry.ready = true;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** The `info` stored by {@link fillCacheEntry}. */
export function readCacheInfo<T = unknown>(entry: CacheEntry): T {
  const done = JSON.parse(readFileSync(join(entry.dir, 'done.json'), 'utf8')) as { info: T };
  return done.info;
}

/** Whether a process with this id exists (EPERM: it exists but belongs to someone else). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes `<entry>.tmp-<pid>-<ms>` folders whose writer is gone (a killed build: SIGKILL cannot
 * be caught, so the next run clears them). With `recursive`, every kind under a cache root.
 * Returns the folders removed.
 */
export function removeStaleTemps(dir: string, recursive = false): string[] {
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    if (!ent.isDirectory()) continue;
    const m = /\.tmp-(\d+)-\d+$/.exec(ent.name);
    if (m) {
      const pid = Number(m[1]);
      if (pid !== process.pid && !processAlive(pid)) {
        rmSync(join(dir, ent.name), { recursive: true, force: true });
        removed.push(basename(ent.name));
      }
    } else if (recursive) {
      removed.push(...removeStaleTemps(join(dir, ent.name), false));
    }
  }
  return removed;
}
