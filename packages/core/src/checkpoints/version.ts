/** The @falign/core version, recorded in every checkpoint's config.json. */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    // src/checkpoints/ and dist/checkpoints/ both sit two levels below the package root.
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Version string of this @falign/core build. */
export const FALIGN_VERSION: string = readVersion();
