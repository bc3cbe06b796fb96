/**
 * Dataset manifests: one JSON file per dataset in the repository's `datasets/` folder, naming each
 * data file's upstream URL, sha256, size, row count and fields. The data files themselves are never
 * committed; they are found through FALIGN_DATA_DIR or the cache, or fetched from the URLs here.
 * The npm package carries a copy of the manifests in `manifests/` (made by its `prepack` script),
 * so that an installed @falign/bench finds them without the repository.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { parseJsonText } from '../util/errors.js';

/** On-disk formats the loaders understand. */
export const DATA_FORMATS = ['jsonl', 'jsonl.gz', 'csv', 'json'] as const;
export type DataFormat = (typeof DATA_FORMATS)[number];

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected a lowercase hex sha256 (64 characters)');

/** One data file of a dataset (a split). */
export const ManifestFileSchema = z.object({
  /** Split name used by loaders and tasks (`train`, `test`, `harmful_behaviors`…). */
  split: z.string().min(1),
  /** Path relative to the dataset folder. */
  path: z.string().min(1),
  format: z.enum(DATA_FORMATS),
  /** Where `falign data fetch` downloads it from. */
  url: z.string().url(),
  sha256: sha256Hex,
  bytes: z.number().int().positive(),
  /** Data records after loading (CSV header and declared summary rows excluded). */
  rows: z.number().int().nonnegative(),
  /** Field (column) names every record carries. */
  fields: z.array(z.string()).min(1),
  /** CSV rows at the end of the file that are totals, not records (dropped by the loader). */
  trailingSummaryRows: z.number().int().positive().optional(),
});
export type ManifestFile = z.infer<typeof ManifestFileSchema>;

/** A dataset manifest (`datasets/<name>.json`). */
export const ManifestSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lowercase letters, digits and dashes'),
  title: z.string().min(1),
  description: z.string().min(1),
  /** Folder name under FALIGN_DATA_DIR / the cache. */
  dir: z.string().min(1),
  /** SPDX licence identifier. */
  license: z.string().min(1),
  repository: z.string().url(),
  commit: z.string().regex(/^[0-9a-f]{40}$/, 'a full 40-character git commit'),
  notes: z.string().optional(),
  files: z.array(ManifestFileSchema).min(1),
});
export type DatasetManifest = z.infer<typeof ManifestSchema>;

/** Formats zod issues as `field "a.b": message; …`. */
export function formatZodIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((i) => (i.path.length > 0 ? `field "${i.path.map(String).join('.')}": ${i.message}` : i.message))
    .join('; ');
}

/** Where a manifest folder comes from, in lookup order. */
export type ManifestDirSource = 'env' | 'package' | 'repo';

/** One place the manifests may be. */
export interface ManifestDirCandidate {
  source: ManifestDirSource;
  dir: string;
}

/**
 * The places searched for manifests, in order: FALIGN_MANIFEST_DIR (when set), the package's own
 * `manifests/` (an installed package; two levels above this module in src/ and dist/), and the
 * repository's `datasets/` (four levels above).
 */
export function manifestDirCandidates(env: NodeJS.ProcessEnv = process.env): ManifestDirCandidate[] {
  const out: ManifestDirCandidate[] = [];
  if (env.FALIGN_MANIFEST_DIR) out.push({ source: 'env', dir: resolve(env.FALIGN_MANIFEST_DIR) });
  out.push({ source: 'package', dir: fileURLToPath(new URL('../../manifests/', import.meta.url)) });
  out.push({ source: 'repo', dir: fileURLToPath(new URL('../../../../datasets/', import.meta.url)) });
  return out;
}

function holdsManifests(dir: string): boolean {
  try {
    return readdirSync(dir).some((f) => f.endsWith('.json'));
  } catch {
    return false;
  }
}

/**
 * The first candidate that holds manifests (`*.json`). FALIGN_MANIFEST_DIR wins whenever it is
 * set, even when empty or missing, so that a wrong setting is an error rather than silently
 * ignored. When nothing holds manifests the last candidate is returned and reading it fails.
 */
export function resolveManifestDir(candidates: readonly ManifestDirCandidate[]): ManifestDirCandidate {
  if (candidates.length === 0) throw new Error('no dataset manifest folder to search');
  const env = candidates.find((c) => c.source === 'env');
  if (env) return env;
  return candidates.find((c) => holdsManifests(c.dir)) ?? candidates[candidates.length - 1];
}

/**
 * The folder holding the manifests: FALIGN_MANIFEST_DIR when set, else the packaged
 * `manifests/` folder, else the repository's `datasets/` folder.
 */
export function manifestDir(): string {
  return resolveManifestDir(manifestDirCandidates()).dir;
}

/** Parses and validates one manifest file; errors name the file and field. */
export function readManifest(file: string): DatasetManifest {
  const raw = parseJsonText(readFileSync(file, 'utf8'), file);
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${file}: invalid manifest: ${formatZodIssues(parsed.error.issues)}`);
  const splits = new Set<string>();
  for (const f of parsed.data.files) {
    if (splits.has(f.split)) throw new Error(`${file}: duplicate split "${f.split}"`);
    splits.add(f.split);
  }
  return parsed.data;
}

const cache = new Map<string, DatasetManifest[]>();

/** All manifests, sorted by name (cached per manifest folder). */
export function listManifests(dir: string = manifestDir()): DatasetManifest[] {
  const hit = cache.get(dir);
  if (hit) return hit;
  if (!existsSync(dir)) {
    const looked = manifestDirCandidates().map((c) => `${c.source} ${c.dir}`).join(', ');
    throw new Error(`dataset manifest folder not found: ${dir} (looked in: ${looked}; set FALIGN_MANIFEST_DIR)`);
  }
  const out = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const m = readManifest(join(dir, f));
      if (`${m.name}.json` !== f) throw new Error(`${join(dir, f)}: manifest name "${m.name}" does not match the file name`);
      return m;
    });
  cache.set(dir, out);
  return out;
}

/** The manifest of a dataset by name; the error lists the known names. */
export function getManifest(name: string, dir: string = manifestDir()): DatasetManifest {
  const all = listManifests(dir);
  const m = all.find((x) => x.name === name);
  if (!m) throw new Error(`unknown dataset "${name}" (known: ${all.map((x) => x.name).join(', ')})`);
  return m;
}

/** One file of a dataset by split name; the error lists the splits. */
export function getManifestFile(manifest: DatasetManifest, split: string): ManifestFile {
  const f = manifest.files.find((x) => x.split === split);
  if (!f) throw new Error(`dataset "${manifest.name}" has no split "${split}" (splits: ${manifest.files.map((x) => x.split).join(', ')})`);
  return f;
}
