// (not a test file) runners of the `falign` CLI shared by the bench CLI tests: in this process
// (through `main`, output captured, process.exitCode restored) or as the built bin in a child.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import { main } from '../src/cli/main.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** What an in-process run printed and its exit code. */
export interface CliCapture {
  out: string;
  err: string;
  code: number;
}

/**
 * Runs `falign ARGS` in this process; returns stdout, stderr and the exit code. The exit code
 * starts at 0 and process.exitCode is restored afterwards, so a failing run does not fail vitest.
 */
export async function falignCaptured(...args: string[]): Promise<CliCapture> {
  let out = '';
  let err = '';
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  const before = process.exitCode;
  process.exitCode = 0;
  try {
    await main(['node', 'falign', ...args]);
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = before;
  return { out, err, code };
}

/**
 * Runs `falign ARGS` in this process and returns its stdout (stderr passes through, so progress
 * and errors stay visible); throws when it sets a non-zero exit code. process.exitCode is restored.
 */
export async function falignStdout(args: string[]): Promise<string> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string | Uint8Array) => {
    chunks.push(typeof s === 'string' ? s : Buffer.from(s).toString());
    return true;
  }) as typeof process.stdout.write;
  const exit = process.exitCode;
  try {
    await main(['node', 'falign', ...args]);
  } finally {
    process.stdout.write = write;
  }
  const code = process.exitCode;
  process.exitCode = exit;
  if (code) throw new Error(`falign ${args.join(' ')} exited ${code}`);
  return chunks.join('');
}

/** Runs the built bin (packages/bench/bin/falign.js) in a child process from the repo root. */
export function falignBin(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repoRoot, 'packages/bench/bin/falign.js'), ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    env: { ...process.env, FALIGN_BACKEND: process.env.FALIGN_BACKEND ?? 'wasm' },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Brings packages/bench/dist up to date with `tsc -b` for the built-bin tests. tsc -b is
 * incremental, so this is quick when dist/ is current. Type errors elsewhere in the workspace
 * still emit JS (tsc >= 5.6), and CI's build step reports them; this only insists that the
 * compiled `falign COMMAND` (src/cli/commands/COMMAND.ts) is newer than its source.
 */
export function buildBenchCli(command: string): void {
  try {
    execFileSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-b', 'packages/bench'], { cwd: repoRoot, stdio: 'pipe' });
  } catch (err) {
    const src = join(repoRoot, `packages/bench/src/cli/commands/${command}.ts`);
    const out = join(repoRoot, `packages/bench/dist/cli/commands/${command}.js`);
    if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
      throw new Error(`tsc -b packages/bench did not produce an up-to-date CLI:\n${(err as { stdout?: Buffer }).stdout?.toString() ?? err}`);
    }
  }
}
