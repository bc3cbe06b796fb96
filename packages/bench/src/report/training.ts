/**
 * Training runs for reports: reads a run's metrics.jsonl (one JSON object per step, e.g.
 * `{"step": 3, "loss": 0.69, "reward/mean": 0.4, "kl": 0.01}`) and turns a metric into chart
 * series, one line per run or, for runs that differ only by seed, mean ± stderr over seeds.
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { readJsonl } from '../util/jsonl.js';
import type { LineSeries } from './plots.js';

/** One training run's metric log. */
export interface TrainingRun {
  dir: string;
  /** Run name (directory name). */
  name: string;
  /** Seed group: the name without a trailing seed suffix (`fgrpo-kl-seed2` → `fgrpo-kl`). */
  group: string;
  /** Step → numeric metrics logged at that step (a later line for the same step wins). */
  steps: Map<number, Record<string, number>>;
}

/** The seed group of a run name: strips `-seed3`, `_seed=3`, `.s3`, `/seed3` style suffixes. */
export function seedGroup(name: string): string {
  // bare "s3" only after a separator, so names like "gpt2s1" are left alone
  const g = name.replace(/(?:[-_./]s|[-_./]?seed)[-_=]?\d+$/i, '');
  return g === '' ? name : g;
}

/** True when `dir` holds a metrics.jsonl. */
export function isTrainingRun(dir: string): boolean {
  return existsSync(join(dir, 'metrics.jsonl'));
}

/**
 * Reads `dir/metrics.jsonl`. Numeric (finite) fields are kept, nested objects are flattened
 * with '/' (`{"reward": {"mean": 1}}` → `reward/mean`); `step` defaults to the line's position.
 * A line that is not a JSON object fails with file:line.
 */
export async function readTrainingRun(dir: string, name = basename(resolve(dir))): Promise<TrainingRun> {
  const file = join(dir, 'metrics.jsonl');
  const steps = new Map<number, Record<string, number>>();
  let index = 0;
  for await (const rec of readJsonl<unknown>(file)) {
    const v = rec.value;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${file}:${rec.line}: expected a JSON object`);
    const flat: Record<string, number> = {};
    const walk = (o: Record<string, unknown>, prefix: string): void => {
      for (const [k, x] of Object.entries(o)) {
        const key = prefix ? `${prefix}/${k}` : k;
        if (typeof x === 'number' && Number.isFinite(x)) flat[key] = x;
        else if (typeof x === 'object' && x !== null && !Array.isArray(x)) walk(x as Record<string, unknown>, key);
      }
    };
    walk(v as Record<string, unknown>, '');
    const step = 'step' in flat ? flat.step : index;
    delete flat.step;
    steps.set(step, { ...(steps.get(step) ?? {}), ...flat });
    index++;
  }
  return { dir, name, group: seedGroup(name), steps };
}

/** Metric names logged by any of the runs, in first-seen order. */
export function metricNames(runs: readonly TrainingRun[]): string[] {
  const seen = new Set<string>();
  for (const r of runs) for (const rec of r.steps.values()) for (const k of Object.keys(rec)) seen.add(k);
  return [...seen];
}

/**
 * Chart series of one metric. With `groupSeeds` (default true) runs sharing a seed group become
 * one series: at each step, the mean over the runs that logged it, with a band of ± stderr
 * (n−1 std / √k) where at least two runs did. Otherwise one series per run.
 */
export function trainingCurves(runs: readonly TrainingRun[], metric: string, opts: { groupSeeds?: boolean } = {}): LineSeries[] {
  const groupSeeds = opts.groupSeeds ?? true;
  const groups = new Map<string, TrainingRun[]>();
  for (const r of runs) {
    const key = groupSeeds ? r.group : r.name;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const out: LineSeries[] = [];
  for (const [name, members] of groups) {
    const byStep = new Map<number, number[]>();
    for (const r of members) {
      for (const [step, rec] of r.steps) {
        const v = rec[metric];
        if (v === undefined) continue;
        byStep.set(step, [...(byStep.get(step) ?? []), v]);
      }
    }
    if (byStep.size === 0) continue;
    const steps = [...byStep.keys()].sort((a, b) => a - b);
    const label = members.length > 1 ? `${name} (${members.length} seeds)` : name;
    out.push({
      name: label,
      points: steps.map((x) => {
        const vs = byStep.get(x)!;
        const y = vs.reduce((a, v) => a + v, 0) / vs.length;
        if (vs.length < 2) return { x, y };
        const sd = Math.sqrt(vs.reduce((a, v) => a + (v - y) ** 2, 0) / (vs.length - 1));
        const se = sd / Math.sqrt(vs.length);
        return { x, y, lo: y - se, hi: y + se };
      }),
    });
  }
  return out;
}
