#!/usr/bin/env node
// Copies the repository's dataset manifests (datasets/*.json) into packages/bench/manifests/ so
// that the npm package carries them (`prepack`), and removes the copy again (`postpack`) so that
// a stale copy never shadows datasets/ during development. Usage:
//   node scripts/pack-manifests.mjs copy [--from DIR] [--to DIR]
//   node scripts/pack-manifests.mjs clean [--to DIR]
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const flag = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? resolve(args[i + 1]) : dflt;
};
const from = flag('--from', resolve(pkgDir, '../../datasets'));
const to = flag('--to', join(pkgDir, 'manifests'));

if (args[0] === 'copy') {
  if (!existsSync(from)) throw new Error(`pack-manifests: ${from} does not exist`);
  const files = readdirSync(from).filter((f) => f.endsWith('.json')).sort();
  if (files.length === 0) throw new Error(`pack-manifests: no *.json manifests in ${from}`);
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  for (const f of files) copyFileSync(join(from, f), join(to, f));
  process.stderr.write(`pack-manifests: copied ${files.length} manifests from ${from} to ${to}\n`);
} else if (args[0] === 'clean') {
  rmSync(to, { recursive: true, force: true });
} else {
  process.stderr.write('usage: pack-manifests.mjs copy|clean [--from DIR] [--to DIR]\n');
  process.exitCode = 2;
}
