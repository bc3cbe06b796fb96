/**
 * Starts a worker thread from a module next to the caller: the compiled `.js` (dist), or, when
 * running from TypeScript sources (vitest, tsx), the `.ts` through tsx's ESM API with the
 * workspace "development" condition (Node 20 workers do not inherit `--import tsx`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * `jsUrl` is the compiled module's URL (e.g. `new URL('./x.js', import.meta.url)`); its `.ts`
 * sibling is used when the `.js` does not exist.
 */
export function startModuleWorker(jsUrl: URL, opts: WorkerOptions = {}): Worker {
  if (existsSync(fileURLToPath(jsUrl))) return new Worker(jsUrl, opts);
  const ts = new URL(jsUrl.href.replace(/\.js$/, '.ts'));
  if (!existsSync(fileURLToPath(ts))) throw new Error(`worker module not found: ${fileURLToPath(jsUrl)}`);
  // The ESM entry of tsx's API (require.resolve would give the CommonJS one).
  const pkgJson = createRequire(import.meta.url).resolve('tsx/package.json');
  const exp = (JSON.parse(readFileSync(pkgJson, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports['./esm/api'];
  const api = pathToFileURL(join(dirname(pkgJson), exp.import.default)).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { (m.register ?? m.default.register)(); return import(${JSON.stringify(ts.href)}); })`;
  return new Worker(code, { ...opts, eval: true, execArgv: [...(opts.execArgv ?? []), '--conditions=development'] });
}
