/**
 * Starting the `falign` CLI as a child process for the reliability bench, from the compiled
 * launcher (bin/falign.js → dist) or, when the bench itself runs from TypeScript sources (tsx),
 * from src through tsx with the workspace "development" condition. Also: peak RSS sampling.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = fileURLToPath(import.meta.url);
/** The repository root (this file is packages/bench/{src,dist}/bench/reliability/spawn.*). */
export const repoRoot = resolve(dirname(here), '../../../../..');
const fromSources = here.endsWith('.ts');

/** The argv that runs `falign ARGS`. */
export function falignArgv(args: readonly string[]): { cmd: string; argv: string[] } {
  if (!fromSources) return { cmd: process.execPath, argv: [join(repoRoot, 'packages/bench/bin/falign.js'), ...args] };
  const main = pathToFileURL(join(repoRoot, 'packages/bench/src/cli/main.ts')).href;
  const code = `import(${JSON.stringify(main)}).then((m) => m.main(['node', 'falign', ...process.argv.slice(1)]))`;
  return { cmd: process.execPath, argv: ['--conditions=development', '--import', 'tsx', '-e', code, '--', ...args] };
}

/** Spawns `falign ARGS` (niced, so the machine stays usable). */
export function spawnFalign(args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  const { cmd, argv } = falignArgv(args);
  const child = spawn(cmd, argv, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], ...opts, env: { ...process.env, FALIGN_QUIET: '1', ...(opts.env ?? {}) } });
  return child;
}

/** Runs `falign ARGS` to completion; resolves with exit code and output. */
export function runFalign(args: readonly string[], opts: SpawnOptions = {}): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    const child = spawnFalign(args, opts);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += String(d)));
    child.stderr?.on('data', (d) => (stderr += String(d)));
    child.on('close', (code, signal) => ok({ code, signal, stdout, stderr }));
  });
}

/** Resident set size of a process in bytes (Linux /proc), or null. */
export function rssOf(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Peak resident set size ("high water mark") of a live process in bytes, or null. */
export function peakRssOf(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** The stories260K model spec, or null when FALIGN_MODELS_DIR does not hold it. */
export function storiesSpec(): string | null {
  const dir = process.env.FALIGN_MODELS_DIR ?? resolve(repoRoot, '..', 'shared', 'models');
  const p = join(dir, 'stories260K', 'stories260K.bin');
  return existsSync(p) ? `llama2c:${p}` : null;
}

/** `12.3 MB`. */
export function mb(bytes: number | null): string {
  return bytes === null ? 'n/a' : `${(bytes / 1e6).toFixed(1)} MB`;
}
