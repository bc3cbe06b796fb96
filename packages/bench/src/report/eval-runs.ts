/**
 * Evaluation runs for reports: finds and reads the harness's results.json files and arranges
 * them as a models × benchmarks {@link ResultTable}.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import type { Cell, Column, ResultTable, Row } from './table.js';
import { parseJsonText, requireInputFile } from '../util/errors.js';

const metricSchema = z.object({
  value: z.number().nullable(),
  stderr: z.number().nullable().optional(),
  ci: z.tuple([z.number(), z.number()]).nullable().optional(),
  n: z.number().optional(),
  higher_is_better: z.boolean().optional(),
});

/**
 * results.json as the harness writes it: `{ task, results: { metric: {value, stderr, ci, n,
 * higher_is_better} }, config: { model, ... } }`. `metrics` is accepted for `results`, and a
 * top-level `higher_is_better: { metric: bool }` map for the per-metric flag.
 */
const resultsSchema = z
  .object({
    task: z.string(),
    results: z.record(z.string(), metricSchema).optional(),
    metrics: z.record(z.string(), metricSchema).optional(),
    higher_is_better: z.record(z.string(), z.boolean()).optional(),
    config: z.object({ model: z.string() }).passthrough().optional(),
    model: z.union([z.string(), z.object({ spec: z.string().optional(), name: z.string().optional() }).passthrough()]).optional(),
  })
  .passthrough()
  .refine((r) => r.results !== undefined || r.metrics !== undefined, { message: "needs a 'results' (or 'metrics') object" });

/** One metric of an eval run. */
export interface EvalMetric {
  value: number;
  stderr: number | null;
  ci: [number, number] | null;
  n: number | null;
  higherIsBetter: boolean;
}

/** One results.json. */
export interface EvalRun {
  file: string;
  /** Run name: `<name>` for `runs/<name>/eval/<task>/results.json`, else the results directory name. */
  run: string;
  task: string;
  /** Model spec from the config. */
  model: string;
  /** Metrics in file order (the first is the task's primary metric). */
  metrics: Record<string, EvalMetric>;
}

const binomialSe = (p: number, n: number): number | null => (n > 0 && p >= 0 && p <= 1 ? Math.sqrt((p * (1 - p)) / n) : null);

/**
 * The held-out evaluation of a `falign run` / `train` pipeline (`eval/<task>/results.json`:
 * `{task: 'math', tiers}` or `{task: 'safety', scores}`) in the harness's `{results}` shape, so
 * `falign report` reads pipeline run directories too. Anything else is returned unchanged.
 */
export function pipelineResultsAsHarness(raw: unknown): unknown {
  if (!raw || typeof raw !== 'object') return raw;
  const r = raw as Record<string, unknown>;
  if (r.results !== undefined || r.metrics !== undefined) return raw;
  const metric = (value: unknown, n: unknown, higher: boolean) => {
    const v = typeof value === 'number' && Number.isFinite(value) ? value : null;
    const k = typeof n === 'number' ? n : undefined;
    return { value: v, stderr: v !== null && k !== undefined ? binomialSe(v, k) : null, ...(k !== undefined ? { n: k } : {}), higher_is_better: higher };
  };
  if (r.task === 'safety' && r.scores && typeof r.scores === 'object') {
    const s = r.scores as Record<string, number>;
    return {
      ...r,
      results: {
        true_score: metric(s.trueScore, undefined, true),
        refusal_harmful: metric(s.refusalHarmful, s.nHarmful, true),
        over_refusal_benign: metric(s.overRefusalBenign, s.nBenign, false),
        rm_normalized: metric(s.rmNormalized, undefined, true),
        hacking_gap: metric(s.hackingGap, undefined, false),
      },
    };
  }
  if (r.task === 'math' && r.tiers && typeof r.tiers === 'object') {
    const tiers = r.tiers as Record<string, { n?: number; greedy?: number; sampled?: number | null }>;
    const results: Record<string, unknown> = {};
    if (typeof r.meanGreedy === 'number') results['pass@1,greedy-mean'] = metric(r.meanGreedy, undefined, true);
    for (const [t, v] of Object.entries(tiers)) results[`pass@1,greedy-${t}`] = metric(v.greedy, v.n, true);
    return { ...r, results };
  }
  return raw;
}

/** Reads and validates one results.json; errors name the file and the field. */
export function readEvalRun(file: string): EvalRun {
  requireInputFile(file);
  const raw = pipelineResultsAsHarness(parseJsonText(readFileSync(file, 'utf8'), file));
  const parsed = resultsSchema.safeParse(raw);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new Error(`${file}: ${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
  }
  const r = parsed.data;
  const metrics: Record<string, EvalMetric> = {};
  for (const [name, m] of Object.entries(r.results ?? r.metrics ?? {})) {
    if (m.value === null || !Number.isFinite(m.value)) continue;
    const hib = m.higher_is_better ?? r.higher_is_better?.[name];
    if (hib === undefined) throw new Error(`${file}: metric '${name}' does not say higher_is_better`);
    metrics[name] = { value: m.value, stderr: m.stderr ?? null, ci: m.ci ?? null, n: m.n ?? null, higherIsBetter: hib };
  }
  const model = r.config?.model ?? (typeof r.model === 'string' ? r.model : (r.model?.spec ?? r.model?.name ?? 'unknown'));
  const dir = dirname(resolve(file));
  const run = basename(dirname(dir)) === 'eval' ? basename(dirname(dirname(dir))) : basename(dir);
  return { file, run, task: r.task, model, metrics };
}

/**
 * results.json files under a run directory: `DIR/results.json`, `DIR/eval/<task>/results.json`
 * and `DIR/<sub>/results.json`, sorted.
 */
export function findEvalResults(dir: string): string[] {
  const direct = join(dir, 'results.json');
  if (existsSync(direct)) return [direct];
  const out: string[] = [];
  for (const base of [join(dir, 'eval'), dir]) {
    if (!existsSync(base) || !statSync(base).isDirectory()) continue;
    for (const sub of readdirSync(base).sort()) {
      const f = join(base, sub, 'results.json');
      if (existsSync(f)) out.push(f);
    }
    if (out.length > 0) break;
  }
  return out;
}

/** A short display name of a model spec: `llama2c:/m/stories260K.bin` → `stories260K`, `openai:URL#m` → `m`. */
export function modelDisplayName(spec: string): string {
  const hash = spec.lastIndexOf('#');
  if (spec.startsWith('openai:') && hash >= 0) return spec.slice(hash + 1);
  const path = spec.replace(/^[a-z0-9]+:/i, '').replace(/[\\/]+$/, '');
  return basename(path).replace(/\.(bin|safetensors)$/, '') || spec;
}

/** Options of {@link evalRunsToTable}. */
export interface EvalTableOptions {
  /** Row per run name (default) or per model. */
  rowBy?: 'run' | 'model';
  /** Metrics to show (by name); default: each task's first (primary) metric. */
  metrics?: string[];
  /** Include every metric of every task. */
  allMetrics?: boolean;
  caption?: string;
}

/**
 * Arranges eval runs as rows × (task, metric) columns, labelled `task (metric)`. Two results for the same row and column fail.
 */
export function evalRunsToTable(runs: readonly EvalRun[], opts: EvalTableOptions = {}): ResultTable {
  const rowBy = opts.rowBy ?? 'run';
  const columns = new Map<string, Column & { task: string; metric: string }>();
  const rows = new Map<string, Row>();
  const origin = new Map<string, string>();
  for (const run of runs) {
    const names = Object.keys(run.metrics);
    const chosen = opts.allMetrics ? names : opts.metrics ? names.filter((m) => opts.metrics!.includes(m)) : names.slice(0, 1);
    const rowName = rowBy === 'model' ? modelDisplayName(run.model) : run.run;
    const row = rows.get(rowName) ?? { name: rowName, cells: {} };
    rows.set(rowName, row);
    for (const metric of chosen) {
      const m = run.metrics[metric];
      const key = `${run.task}/${metric}`;
      if (!columns.has(key)) columns.set(key, { key, task: run.task, metric, higherIsBetter: m.higherIsBetter });
      const where = `${rowName}|${key}`;
      if (origin.has(where)) throw new Error(`two results for row '${rowName}', column '${key}': ${origin.get(where)} and ${run.file} (label rows by run directory, --label-by run, with distinct directory names)`);
      origin.set(where, run.file);
      const cell: Cell = { mean: m.value, ...(m.stderr !== null ? { stderr: m.stderr } : {}), ...(m.n !== null ? { n: m.n } : {}), ...(m.ci ? { ci: m.ci } : {}) };
      row.cells[key] = cell;
    }
  }
  // Every column says which metric it holds: `gsm8k (strict-match)`. lm-eval names are
  // `metric,filter`; the filter alone is shown unless two columns of a task would then collide.
  const short = (metric: string) => (metric.includes(',') ? metric.slice(metric.indexOf(',') + 1) : metric);
  const shortCount = new Map<string, number>();
  for (const c of columns.values()) shortCount.set(`${c.task}|${short(c.metric)}`, (shortCount.get(`${c.task}|${short(c.metric)}`) ?? 0) + 1);
  return {
    caption: opts.caption,
    columns: [...columns.values()].map((c) => ({
      key: c.key,
      label: `${c.task} (${shortCount.get(`${c.task}|${short(c.metric)}`) === 1 ? short(c.metric) : c.metric})`,
      higherIsBetter: c.higherIsBetter,
    })),
    rows: [...rows.values()],
  };
}
