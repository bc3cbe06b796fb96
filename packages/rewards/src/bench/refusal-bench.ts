/**
 * Refusal-judge benchmark: agreement of every preset with the hand-labelled sample
 * (datasets/fixtures/refusal-labels.jsonl) and judging throughput, then with the 2,250
 * human-labelled completions of five chat models published by the XSTest authors (dataset
 * `xstest-completions`, found through FALIGN_DATA_DIR or the cache like every falign dataset),
 * split into a tuning half and a held-out half by `labelHalf` (sha256 of the prompt id). The
 * default judge's rules were written against the tuning half only.
 *
 *   node packages/rewards/dist/bench/refusal-bench.js [--labels FILE] [--seconds S] [--json]
 *
 * Rows whose note starts with "held-out" (30) were written after the default judge's first version
 * was frozen and are reported separately. On first contact that version scored accuracy 0.800,
 * F1 0.769 on them (advbench 0.400/0.182, gcg 0.433/0.105, xstest 0.467/0.200); five of its six
 * misses were then fixed in the judge, so the held-out columns now overstate unseen-data quality.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { labelHalf, parseXstestCompletions, type SourcedRefusalLabel } from '../refusal/labelled-set.js';
import { parseRefusalLabels, refusalAgreement, type RefusalLabel } from '../refusal/agreement.js';
import { createRefusalJudge } from '../refusal/judge.js';
import { REFUSAL_PRESET_NAMES } from '../refusal/presets.js';

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const labelsFile =
  argValue('--labels') ?? fileURLToPath(new URL('../../../../datasets/fixtures/refusal-labels.jsonl', import.meta.url));
const seconds = Number(argValue('--seconds') ?? '1');
if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`--seconds must be a positive number`);
const labels = parseRefusalLabels(readFileSync(labelsFile, 'utf8'), labelsFile);
const heldOut = labels.filter((l) => l.note?.startsWith('held-out'));

function throughput(judge: ReturnType<typeof createRefusalJudge>, items: readonly RefusalLabel[]): number {
  let n = 0;
  const t0 = performance.now();
  let sink = 0;
  while (performance.now() - t0 < seconds * 1000) {
    for (const l of items) sink += judge.isRefusal(l.completion, l.prompt) ? 1 : 0;
    n += items.length;
  }
  if (sink < 0) console.log(sink); // keeps the loop observable
  return n / ((performance.now() - t0) / 1000);
}

const rows = REFUSAL_PRESET_NAMES.map((preset) => {
  const judge = createRefusalJudge(preset);
  const all = refusalAgreement(judge, labels);
  const held = refusalAgreement(judge, heldOut);
  return {
    preset,
    n: all.n,
    accuracy: all.accuracy,
    precision: all.precision,
    recall: all.recall,
    f1: all.f1,
    heldOut: { n: held.n, accuracy: held.accuracy, f1: held.f1 },
    judgementsPerSec: throughput(judge, labels),
  };
});

interface ManifestFileEntry {
  split: string;
  path: string;
  sha256: string;
  rows: number;
}

/** Loads `xstest-completions` from FALIGN_DATA_DIR or the cache; a string says why it could not. */
function loadXstestCompletions(): SourcedRefusalLabel[] | string {
  const manifestFile = fileURLToPath(new URL('../../../../datasets/xstest-completions.json', import.meta.url));
  if (!existsSync(manifestFile)) return `manifest ${manifestFile} not found`;
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { dir: string; files: ManifestFileEntry[] };
  const roots = [
    ...(process.env.FALIGN_DATA_DIR ? [resolve(process.env.FALIGN_DATA_DIR)] : []),
    process.env.FALIGN_CACHE_DIR ? join(resolve(process.env.FALIGN_CACHE_DIR), 'datasets') : join(homedir(), '.cache', 'falign', 'datasets'),
  ];
  const out: SourcedRefusalLabel[] = [];
  for (const f of manifest.files) {
    const path = roots.map((r) => join(r, manifest.dir, f.path)).find((p) => existsSync(p));
    if (path === undefined) {
      return `${manifest.dir}/${f.path} not found in ${roots.join(' or ')} (run "falign data fetch xstest-completions")`;
    }
    const bytes = readFileSync(path);
    const sha = createHash('sha256').update(bytes).digest('hex');
    // A changed file would give numbers that cannot be compared: refuse it.
    if (sha !== f.sha256) throw new Error(`${path}: sha256 ${sha} does not match the manifest's ${f.sha256}`);
    const rows = parseXstestCompletions(bytes.toString('utf8'), f.split, path);
    if (rows.length !== f.rows) throw new Error(`${path}: ${rows.length} rows, the manifest says ${f.rows}`);
    out.push(...rows);
  }
  return out;
}

/** The plain refusal-prefix string match: XSTest's own `classify_completions_strmatch.py`. */
const STRING_MATCH = 'xstest';
const xsLoaded = loadXstestCompletions();
const xsRows =
  typeof xsLoaded === 'string'
    ? null
    : REFUSAL_PRESET_NAMES.flatMap((preset) => {
        const judge = createRefusalJudge(preset);
        return (['tuning', 'held-out'] as const).map((half) => {
          const a = refusalAgreement(judge, xsLoaded.filter((l) => l.half === half));
          return {
            judge: preset === STRING_MATCH ? `${preset} (string match)` : preset,
            half,
            n: a.n,
            refused: a.tp + a.fn,
            accuracy: a.accuracy,
            precision: a.precision,
            recall: a.recall,
            f1: a.f1,
          };
        });
      });
const heldOf = (name: string) => xsRows?.find((r) => r.judge.startsWith(name) && r.half === 'held-out');
const margin = xsRows ? { accuracy: heldOf('default')!.accuracy - heldOf(STRING_MATCH)!.accuracy, f1: heldOf('default')!.f1 - heldOf(STRING_MATCH)!.f1 } : null;

if (process.argv.includes('--json')) {
  console.log(
    JSON.stringify(
      {
        labels: labelsFile,
        rows,
        xstestCompletions: xsRows ? { split: 'labelHalf(prompt id): sha256 first byte even → tuning', rows: xsRows, heldOutMarginOverStringMatch: margin } : { missing: xsLoaded },
      },
      null,
      2,
    ),
  );
} else {
  const f = (x: number) => x.toFixed(3);
  console.log(`refusal judges vs ${labels.length} hand labels (${labels.filter((l) => l.refused).length} refused); ${heldOut.length} held-out`);
  console.log('| preset | n | accuracy | precision | recall | F1 | held-out acc | held-out F1 | judgements/s |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.preset} | ${r.n} | ${f(r.accuracy)} | ${f(r.precision)} | ${f(r.recall)} | ${f(r.f1)} | ${f(r.heldOut.accuracy)} | ${f(r.heldOut.f1)} | ${Math.round(r.judgementsPerSec).toLocaleString('en-US')} |`,
    );
  }
  console.log('');
  if (typeof xsLoaded === 'string') {
    console.log(`xstest-completions (2,250 human-labelled completions of 5 chat models): not available, ${xsLoaded}; skipped`);
  } else {
    const models = [...new Set(xsLoaded.map((l) => l.model))];
    console.log(
      `refusal judges vs xstest-completions: ${xsLoaded.length} human-labelled completions of ${models.length} models (${models.join(', ')}), partial refusal = refusal`,
    );
    console.log(`split: sha256(prompt id) first byte even → tuning, odd → held-out (labelHalf; e.g. v2-1 → ${labelHalf('v2-1')})`);
    console.log('| judge | half | n | refused | accuracy | precision | recall | F1 |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of xsRows!) {
      console.log(`| ${r.judge} | ${r.half} | ${r.n} | ${r.refused} | ${f(r.accuracy)} | ${f(r.precision)} | ${f(r.recall)} | ${f(r.f1)} |`);
    }
    const sign = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(3);
    console.log(`held-out: default − string match = ${sign(margin!.accuracy)} accuracy, ${sign(margin!.f1)} F1`);
  }
}
