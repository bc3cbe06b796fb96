/**
 * `falign data list|fetch|check`: which datasets are present, where, and whether they verify.
 *
 *   falign data list [--json]           every dataset file: present? where? sha256 ok? rows
 *   falign data fetch NAME... | --all    download from the manifest URLs into the cache (sha256-checked);
 *                                        files present and verified in FALIGN_DATA_DIR or the cache are
 *                                        skipped (and said so) unless --force
 *   falign data check [NAME...] [--json] verify sha256 and parse every record of present files
 */
import type { Command } from 'commander';
import { datasetStatus, type FileStatus } from '../../datasets/status.js';
import { fetchDataset, type FetchedFile } from '../../datasets/fetch.js';
import { datasetCacheDir } from '../../datasets/locate.js';
import { getManifest, listManifests } from '../../datasets/manifest.js';

function statusTable(rows: readonly FileStatus[], withLoad: boolean): string {
  const head = ['dataset', 'split', 'present', 'verified', 'rows', ...(withLoad ? ['loaded'] : []), 'source', 'path'];
  const body = rows.map((r) => [
    r.dataset,
    r.split,
    r.present ? 'yes' : 'no',
    r.verified === null ? '-' : r.verified ? 'ok' : 'MISMATCH',
    String(r.rows),
    ...(withLoad ? [r.loadedRows === undefined ? '-' : String(r.loadedRows)] : []),
    r.source ?? '-',
    r.path ?? '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(head), ...body.map(line)].join('\n');
}

export function register(program: Command): void {
  const data = program.command('data').description('list, fetch and check the benchmark datasets');

  data
    .command('list')
    .description('show every dataset file: present, where, sha256 verified, rows')
    .option('--json', 'print one JSON object')
    .action(async (opts: { json?: boolean }) => {
      const files = await datasetStatus();
      if (opts.json) {
        const datasets = listManifests().map((m) => ({ name: m.name, title: m.title, license: m.license, files: files.filter((f) => f.dataset === m.name) }));
        process.stdout.write(`${JSON.stringify({ datasets, cacheDir: datasetCacheDir(), dataDir: process.env.FALIGN_DATA_DIR ?? null })}\n`);
        return;
      }
      process.stdout.write(`${statusTable(files, false)}\n`);
      const missing = files.filter((f) => !f.present).length;
      if (missing > 0) process.stdout.write(`\n${missing} file(s) missing: set FALIGN_DATA_DIR or run "falign data fetch NAME"\n`);
    });

  data
    .command('fetch')
    .description('download datasets from their upstream URLs into the cache (sha256-checked, atomic); verified copies already present are skipped')
    .argument('[names...]', 'dataset names')
    .option('--all', 'fetch every dataset')
    .option('--force', 'download again even when a verified copy is present in FALIGN_DATA_DIR or the cache')
    .option('--json', 'print one JSON object')
    .action(async (names: string[], opts: { all?: boolean; force?: boolean; json?: boolean }) => {
      const targets = opts.all ? listManifests().map((m) => m.name) : names;
      if (targets.length === 0) throw new Error('data fetch: name at least one dataset, or --all');
      const manifests = targets.map((n) => getManifest(n));
      const out: { name: string; files: FetchedFile[] }[] = [];
      const where = (f: FetchedFile) => (f.source === 'data-dir' ? 'FALIGN_DATA_DIR' : 'the cache');
      for (const m of manifests) {
        const files = await fetchDataset(m, {
          force: opts.force,
          onFile: (f) => {
            process.stderr.write(
              f.status === 'present'
                ? `${m.name}/${f.split}: already present and verified in ${where(f)} (${f.path}), skipped\n`
                : `${m.name}/${f.split}: downloaded ${f.path}\n`,
            );
            if (f.warning) process.stderr.write(`warning: ${f.warning}\n`);
          },
        });
        out.push({ name: m.name, files });
      }
      const all = out.flatMap((d) => d.files);
      const downloaded = all.filter((f) => f.status === 'downloaded').length;
      const skipped = all.length - downloaded;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ datasets: out, downloaded, skipped, cacheDir: datasetCacheDir() })}\n`);
      } else {
        process.stdout.write(
          `downloaded ${downloaded} file(s) into ${datasetCacheDir()}` +
            `${skipped > 0 ? `; ${skipped} already present and verified, skipped (--force downloads again)` : ''}\n`,
        );
      }
    });

  data
    .command('check')
    .description('verify sha256 and parse every record of the dataset files (exit 1 when one is missing or fails)')
    .argument('[names...]', 'dataset names (default: all)')
    .option('--json', 'print one JSON object')
    .action(async (names: string[], opts: { json?: boolean }) => {
      const files = await datasetStatus({ load: true, names: names.length > 0 ? names : undefined });
      const present = files.filter((f) => f.present);
      const failed = present.filter((f) => f.error !== undefined);
      const missing = files.filter((f) => !f.present);
      // A dataset that is asked for (or, without names, any dataset) and missing is a failure:
      // "0/0 verified" must not read as success.
      const ok = failed.length === 0 && missing.length === 0;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ ok, checked: present.length, missing: missing.length, files })}\n`);
      } else {
        process.stdout.write(`${statusTable(files, true)}\n`);
        for (const f of failed) process.stdout.write(`FAIL ${f.dataset}/${f.split}: ${f.error}\n`);
        process.stdout.write(`\n${present.length - failed.length}/${present.length} present file(s) verified; ${missing.length} missing\n`);
      }
      if (missing.length > 0) {
        const names = [...new Set(missing.map((f) => f.dataset))];
        process.stderr.write(
          `falign: data check: ${missing.length} file(s) missing (${names.join(', ')}); set FALIGN_DATA_DIR to the folder that holds them or run "falign data fetch ${names.join(' ')}"\n`,
        );
      }
      if (!ok) process.exitCode = 1;
    });
}
