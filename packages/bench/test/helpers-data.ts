// (not a test file) shared by the datasets/tasks/harness/eval-cli tests.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** FALIGN_DATA_DIR, or <repo>/../shared/datasets. */
export function dataDir(): string {
  return resolve(process.env.FALIGN_DATA_DIR ?? resolve(repoRoot, '..', 'shared', 'datasets'));
}

/** FALIGN_MODELS_DIR, or <repo>/../shared/models. */
export function modelsDir(): string {
  return resolve(process.env.FALIGN_MODELS_DIR ?? resolve(repoRoot, '..', 'shared', 'models'));
}

/** stories260K.bin path (present in CI and here). */
export function storiesPath(): string {
  const p = resolve(modelsDir(), 'stories260K', 'stories260K.bin');
  if (!existsSync(p)) throw new Error(`${p} not found: set FALIGN_MODELS_DIR`);
  return p;
}

/** Points FALIGN_DATA_DIR at the shared datasets for the duration of a test file. */
export function useDataDir(): void {
  process.env.FALIGN_DATA_DIR = dataDir();
}
