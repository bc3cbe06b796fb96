/**
 * Where dataset files are found. Resolution order, per file:
 *   1. FALIGN_DATA_DIR/<dataset dir>/<file>   (CI and this repository point it at ../shared/datasets)
 *   2. <cache>/<dataset dir>/<file>, cache = FALIGN_CACHE_DIR/datasets or ~/.cache/falign/datasets
 * Nothing found → an error suggesting `falign data fetch NAME` or FALIGN_DATA_DIR.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { DatasetManifest, ManifestFile } from './manifest.js';

/** Which search root a file was found under. */
export type DataSource = 'data-dir' | 'cache';

/** A search root for dataset files. */
export interface DataRoot {
  source: DataSource;
  root: string;
}

/** The dataset cache folder (where `falign data fetch` writes). */
export function datasetCacheDir(): string {
  const base = process.env.FALIGN_CACHE_DIR;
  return base ? join(resolve(base), 'datasets') : join(homedir(), '.cache', 'falign', 'datasets');
}

/** Search roots in resolution order. */
export function dataRoots(): DataRoot[] {
  const roots: DataRoot[] = [];
  if (process.env.FALIGN_DATA_DIR) roots.push({ source: 'data-dir', root: resolve(process.env.FALIGN_DATA_DIR) });
  roots.push({ source: 'cache', root: datasetCacheDir() });
  return roots;
}

/** Where one data file was found. */
export interface LocatedFile {
  split: string;
  path: string;
  source: DataSource;
}

/** Finds a file of a dataset in the search roots; null when absent everywhere. */
export function locateFile(manifest: DatasetManifest, file: ManifestFile): LocatedFile | null {
  for (const r of dataRoots()) {
    const p = join(r.root, manifest.dir, file.path);
    if (existsSync(p)) return { split: file.split, path: p, source: r.source };
  }
  return null;
}

/** Like {@link locateFile} but throws a message that says how to get the file. */
export function requireFile(manifest: DatasetManifest, file: ManifestFile): LocatedFile {
  const hit = locateFile(manifest, file);
  if (hit) return hit;
  const looked = dataRoots()
    .map((r) => `${r.source === 'data-dir' ? 'FALIGN_DATA_DIR' : 'cache'} ${join(r.root, manifest.dir, file.path)}`)
    .join(', ');
  throw new Error(
    `dataset "${manifest.name}" file ${file.path} not found (looked in: ${looked}); ` +
      `run "falign data fetch ${manifest.name}" or set FALIGN_DATA_DIR to a folder holding ${manifest.dir}/${file.path}`,
  );
}
