/** Provenance recorded in results.json: package versions and the git commit. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function versionOf(pkg: string): string | null {
  try {
    return (JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')) as { version?: string }).version ?? null;
  } catch {
    return null;
  }
}

/** Versions of the falign packages, tfjs and node. */
export function packageVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  const bench = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  out['@falign/bench'] = bench.version;
  for (const p of ['@falign/core', '@falign/rewards', '@falign/objectives', '@tensorflow/tfjs-core']) {
    const v = versionOf(p);
    if (v) out[p] = v;
  }
  out.node = process.versions.node;
  return out;
}

/** HEAD commit of the git repository around `cwd`, or null outside one. */
export function gitCommit(cwd: string = process.cwd()): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 }).toString().trim() || null;
  } catch {
    return null;
  }
}
