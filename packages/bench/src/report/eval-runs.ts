/**
 * Evaluation runs for reports: finds and reads the harness's results.json files and arranges
 * them as a models × benchmarks {@link ResultTable}.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import type { Cell, Column, ResultTable, Row } from './table.js';

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

/** Reads and validates one results.json; errors name the file and the field. */
export function readEvalRun(file: string): EvalRun {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `invalid JSON (${(e as Error).message})`}`);
  }
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
 * Arranges eval runs as rows × (task, metric) columns. A column is labelled by the task alone
 * when only one metric of that task is shown. Two results for the same row and column fail.
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
  const perTask = new Map<string, number>();
  for (const c of columns.values()) perTask.set(c.task, (perTask.get(c.task) ?? 0) + 1);
  return {
    caption: opts.caption,
    columns: [...columns.values()].map((c) => ({
      key: c.key,
      label: perTask.get(c.task) === 1 ? c.task : `${c.task} ${c.metric}`,
      higherIsBetter: c.higherIsBetter,
    })),
    rows: [...rows.values()],
  };
}
