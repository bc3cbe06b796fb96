/**
 * Refusal-judge benchmark: agreement of every preset with the hand-labelled sample
 * (datasets/fixtures/refusal-labels.jsonl) and judging throughput.
 *
 *   node packages/rewards/dist/bench/refusal-bench.js [--labels FILE] [--seconds S] [--json]
 *
 * Rows whose note starts with "held-out" (30) were written after the default judge's first version
 * was frozen and are reported separately. On first contact that version scored accuracy 0.800,
 * F1 0.769 on them (advbench 0.400/0.182, gcg 0.433/0.105, xstest 0.467/0.200); five of its six
 * misses were then fixed in the judge, so the held-out columns now overstate unseen-data quality.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
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

if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ labels: labelsFile, rows }, null, 2));
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
}
