/**
 * Task metrics from stored samples: per-document values (mean over a document's samples), then
 * mean ± stderr (n−1) and a seeded bootstrap CI over documents; unbiased pass@k and maj@k when a
 * document has several samples.
 */
import { bootstrapCI } from '../metrics/bootstrap.js';
import { majAtK, type Vote } from '../metrics/maj-at-k.js';
import { passAtK, reportKs } from '../metrics/pass-at-k.js';
import { mean, stderrOfMean } from '../metrics/stats.js';
import type { MetricDef, Task, TaskDoc } from '../tasks/types.js';
import type { SampleRecord } from './samples.js';

/** One aggregated metric (results.json `results[name]`). */
export interface MetricResult {
  value: number;
  /** Sample std (n−1) / √n over documents; null when n < 2. */
  stderr: number | null;
  /** Percentile bootstrap interval over documents; null when n < 2. */
  ci: [number, number] | null;
  /** Documents. */
  n: number;
  higher_is_better: boolean;
}

/** Bootstrap settings (recorded in results.json). */
export interface BootstrapSettings {
  iters: number;
  seed: number;
  confidence: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapSettings = { iters: 1000, seed: 1234, confidence: 0.95 };

function summarise(values: number[], higherIsBetter: boolean, boot: BootstrapSettings): MetricResult {
  const n = values.length;
  const se = stderrOfMean(values);
  let ci: [number, number] | null = null;
  if (n >= 2) {
    const b = bootstrapCI(values, boot);
    ci = [b.lower, b.upper];
  }
  return { value: mean(values), stderr: Number.isFinite(se) ? se : null, ci, n, higher_is_better: higherIsBetter };
}

const isCorrect = (x: number) => x >= 0.5;

function addMetric<D extends TaskDoc>(
  out: Record<string, MetricResult>,
  name: string,
  def: MetricDef<D>,
  docs: readonly D[],
  samples: Map<string, SampleRecord[]>,
  k: number,
  boot: BootstrapSettings,
): void {
  const per = docs.map((d) => samples.get(d.id)!.map((s) => {
    const v = s.scores[def.key];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`sample ${d.id}#${s.sample} has no finite score "${def.key}"`);
    return v;
  }));
  const values = per.map((xs) => (def.invert ? 1 - mean(xs) : mean(xs)));
  out[name] = summarise(values, def.higherIsBetter, boot);
  if (!def.passAtK || k < 2) return;
  for (const kk of reportKs(k).filter((x) => x > 1)) {
    const pass = per.map((xs) => passAtK(k, xs.filter(isCorrect).length, kk));
    out[name.replace(/^[^,]+/, `pass@${kk}`)] = summarise(pass, def.higherIsBetter, boot);
    const maj = docs.map((d) => {
      const votes: Vote[] = samples.get(d.id)!.map((s) => ({ answer: s.extracted?.[def.key] ?? null, correct: isCorrect(s.scores[def.key]) ? 1 : 0 }));
      return majAtK(votes, kk);
    });
    out[name.replace(/^[^,]+/, `maj@${kk}`)] = summarise(maj, def.higherIsBetter, boot);
  }
}

/** Aggregation result: metrics and which documents were complete. */
export interface Aggregate {
  results: Record<string, MetricResult>;
  /** Documents with all `samplesPerDoc` samples (only these are aggregated). */
  completeDocs: number;
  totalDocs: number;
  samples: number;
}

/** Computes the task's metrics over documents that have all their samples. */
export function aggregateSamples<D extends TaskDoc>(
  task: Task<D>,
  docs: readonly D[],
  samples: Map<string, SampleRecord[]>,
  samplesPerDoc: number,
  boot: BootstrapSettings = DEFAULT_BOOTSTRAP,
): Aggregate {
  const complete = docs.filter((d) => (samples.get(d.id)?.length ?? 0) >= samplesPerDoc);
  // Use exactly the first samplesPerDoc samples of each document.
  const trimmed = new Map<string, SampleRecord[]>();
  for (const d of complete) trimmed.set(d.id, samples.get(d.id)!.slice(0, samplesPerDoc));
  const results: Record<string, MetricResult> = {};
  for (const def of task.metrics) {
    const kept = def.where ? complete.filter(def.where) : complete;
    if (kept.length === 0) continue;
    addMetric(results, def.name, def, kept, trimmed, samplesPerDoc, boot);
    for (const [grouping, fn] of Object.entries(def.groups ?? {})) {
      const groups = new Map<string, D[]>();
      for (const d of kept) {
        const g = fn(d);
        const arr = groups.get(g);
        if (arr) arr.push(d);
        else groups.set(g, [d]);
      }
      for (const g of [...groups.keys()].sort()) {
        addMetric(results, `${def.name}/${grouping}=${g}`, { ...def, passAtK: false }, groups.get(g)!, trimmed, samplesPerDoc, boot);
      }
    }
  }
  let n = 0;
  for (const s of trimmed.values()) n += s.length;
  return { results, completeDocs: complete.length, totalDocs: docs.length, samples: n };
}
