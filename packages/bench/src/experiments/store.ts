/**
 * The content-addressed artefact store of the experiments: `<root>/<stage>/<key>/`, where `key`
 * hashes everything the artefact depends on (its stage's code version, the config slice it reads,
 * the generator versions and the keys of the artefacts it was built from). A change to any of them
 * builds afresh; an unchanged re-run reuses the artefact.
 *
 * An artefact is written into a temporary sibling folder (`<key>.tmp-<pid>-<ms>`) and renamed into
 * place, so a crash never leaves a half-written artefact; the temporary folders of killed writers
 * are removed by the next writer (or by {@link removeStaleTemps}). `done.json` marks a complete
 * artefact and holds its `info` (the small summary the report reads); `key.json` holds the key
 * value for humans.
 *
 * A stage that stores its artefact here is declared as a {@link StoredStage}; {@link produce}
 * returns its artefact, built only when the store does not hold it yet.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
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

/** Root of the store: FALIGN_CACHE_DIR/experiments, else `.cache/falign` under `cwd`. */
export function experimentCacheRoot(cwd = process.cwd()): string {
  const base = process.env.FALIGN_CACHE_DIR;
  return base ? join(resolve(base), 'experiments') : join(resolve(cwd), '.cache', 'falign');
}

/** An artefact's folder in the store; `ready` once its `done.json` marker exists. */
export interface CacheEntry {
  dir: string;
  key: string;
  ready: boolean;
}

/** The slot of a `kind` (stage name) artefact for `keyValue` under `root` (nothing is created). */
export function cacheEntry(root: string, kind: string, keyValue: unknown): CacheEntry {
  const key = contentHash(keyValue);
  const dir = join(root, kind, key);
  return { dir, key, ready: existsSync(join(dir, 'done.json')) };
}

/** The complete artefact in `dir` (as returned across processes); throws naming the folder otherwise. */
export function entryAt(dir: string): CacheEntry {
  if (!existsSync(join(dir, 'done.json'))) throw new Error(`${dir}: artefact is not complete (no done.json)`);
  return { dir, key: basename(dir), ready: true };
}

/**
 * Fills an artefact's slot: `build(tmpDir)` writes the artefact into a fresh temporary folder,
 * which then atomically becomes the slot. Its return value is stored as the artefact's `info`.
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

/** The `info` stored with a complete artefact. */
export function readCacheInfo<T = unknown>(entry: CacheEntry): T {
  const file = join(entry.dir, 'done.json');
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { info: T }).info;
  } catch (e) {
    throw new Error(`${file}: cannot read the artefact's info: ${(e as Error).message}`, { cause: e });
  }
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
 * Removes `<key>.tmp-<pid>-<ms>` folders whose writer is gone (a killed build: SIGKILL cannot be
 * caught, so the next run clears them). With `recursive`, every stage folder under a store root.
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

/** A stage's progress and log lines. */
export type Log = (msg: string) => void;

/**
 * A stage whose artefact lives in the store. `key(inputs)` must name everything that determines
 * the artefact, including `version` and the keys of input artefacts: two inputs with equal keys
 * must give the same artefact. `run` writes the artefact into `dir` and returns its `info`.
 */
export interface StoredStage<I, Info> {
  /** Folder of its artefacts under the store root. */
  readonly name: string;
  /** Version of the stage's code: bump when its results change, so old artefacts are not reused. */
  readonly version: number;
  key(inputs: I): unknown;
  run(inputs: I, dir: string, log: Log): Promise<Info>;
}

/** The experiments' artefact store rooted at one folder. */
export class ArtefactStore {
  readonly root: string;

  constructor(root: string = experimentCacheRoot()) {
    this.root = root;
  }

  /** The slot of `stage`'s artefact for `inputs` (complete or not; nothing is created). */
  locate<I>(stage: StoredStage<I, unknown>, inputs: I): CacheEntry {
    return cacheEntry(this.root, stage.name, stage.key(inputs));
  }

  /** Whether the store holds `stage`'s artefact for `inputs`. */
  has<I>(stage: StoredStage<I, unknown>, inputs: I): boolean {
    return this.locate(stage, inputs).ready;
  }

  /** `stage`'s artefact for `inputs` when the store holds it, else null. */
  get<I>(stage: StoredStage<I, unknown>, inputs: I): CacheEntry | null {
    const e = this.locate(stage, inputs);
    return e.ready ? e : null;
  }

  /** Builds `stage`'s artefact for `inputs` (atomically) and returns it, replacing any earlier one. */
  async put<I>(stage: StoredStage<I, unknown>, inputs: I, log: Log): Promise<CacheEntry> {
    const keyValue = stage.key(inputs);
    const entry = cacheEntry(this.root, stage.name, keyValue);
    await fillCacheEntry(entry, keyValue, (dir) => stage.run(inputs, dir, log));
    return entry;
  }

  /** Removes the temporary folders of killed writers under every stage. Returns them. */
  removeStaleTemps(): string[] {
    return removeStaleTemps(this.root, true);
  }
}

/** `stage`'s artefact for `inputs`: from the store, or built now and stored. */
export async function produce<I>(store: ArtefactStore, stage: StoredStage<I, unknown>, inputs: I, log: Log): Promise<CacheEntry> {
  return store.get(stage, inputs) ?? (await store.put(stage, inputs, log));
}
