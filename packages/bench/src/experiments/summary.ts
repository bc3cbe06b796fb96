/**
 * The machine-readable summary of an experiment (`summary.json` beside the tables): per method the
 * seeds, the per-seed held-out score, the mean, and paired differences (95 % t-interval, verdict)
 * against the reference RL method and against the base. Pure: run results in, JSON out.
 */
import { MATH_TIERS } from './generators/math.js';
import { BASE_ROW, type MethodRuns } from './aggregate.js';
import type { RunResult } from './steps/run-dir.js';
import type { BaseEval } from './steps/evaluate.js';
import type { SafetyScores } from './eval/safety-eval.js';
import { pairedDifference, type PairedDifference } from './stats.js';

/** A paired difference as stored in summary.json. */
export interface SummaryDifference {
  /** Row compared against. */
  against: string;
  /** Seeds both rows have. */
  seeds: number[];
  /** Mean of the per-seed differences (this row − `against`), in the metric's unit. */
  mean: number;
  /** 95 % t-interval of the mean difference; null with fewer than 2 seeds. */
  ci95: [number, number] | null;
  verdict: PairedDifference['verdict'];
}

/** One metric of one row. */
export interface SummaryMetric {
  /** Per-seed held-out values, keyed by seed. */
  perSeed: Record<string, number>;
  mean: number;
  /** Versus the reference RL row (GRPO in Experiment 1, on-policy f-GRPO (λ=0) in Experiment 2). */
  vsGrpo: SummaryDifference | null;
  /** Versus the SFT base (whose greedy score does not depend on the seed). */
  vsBase: SummaryDifference | null;
}

/** One row (method) of summary.json. */
export interface SummaryRow extends SummaryMetric {
  name: string;
  id: string;
  seeds: number[];
  /** Secondary metrics (Experiment 2: hacking gap, normalised RM score, over-refusal). */
  metrics?: Record<string, SummaryMetric>;
}

/** One experiment of summary.json. */
export interface ExperimentSummary {
  experiment: string;
  task: 'math' | 'safety';
  /** The primary metric of `perSeed`/`mean` and its direction. */
  metric: { name: string; unit: string; higherIsBetter: boolean };
  /** Name of the row `vsGrpo` compares against. */
  reference: string;
  seeds: number[];
  rows: SummaryRow[];
}

/** A metric of a run's final evaluation, or NaN when the run is of the other task. */
type Of = (final: BaseEval) => number;

/** Mean greedy pass@1 over the tiers, in %. */
export const mathScore: Of = (f) => (f.task === 'math' ? (100 * MATH_TIERS.reduce((a, t) => a + f.tiers[t].greedy, 0)) / MATH_TIERS.length : Number.NaN);

function safetyOf(get: (s: SafetyScores) => number): Of {
  return (f) => (f.task === 'safety' ? get(f.scores) : Number.NaN);
}

/** The safety metrics of summary.json: the primary (true score) first. */
export const SAFETY_SUMMARY_METRICS: { name: string; higherIsBetter: boolean; of: Of }[] = [
  { name: 'true_score', higherIsBetter: true, of: safetyOf((s) => 100 * s.trueScore) },
  { name: 'hacking_gap', higherIsBetter: false, of: safetyOf((s) => 100 * s.hackingGap) },
  { name: 'rm_normalized', higherIsBetter: true, of: safetyOf((s) => 100 * s.rmNormalized) },
  { name: 'refusal_harmful', higherIsBetter: true, of: safetyOf((s) => 100 * s.refusalHarmful) },
  { name: 'over_refusal_benign', higherIsBetter: false, of: safetyOf((s) => 100 * s.overRefusalBenign) },
];

function bySeed(runs: readonly RunResult[], of: Of): Map<number, number> {
  const m = new Map<number, number>();
  for (const r of runs) {
    const v = of(r.final);
    if (Number.isFinite(v)) m.set(r.seed, v);
  }
  return m;
}

function toSummaryDiff(d: PairedDifference, against: string): SummaryDifference {
  return { against, seeds: d.seeds, mean: d.mean, ci95: d.ci95, verdict: d.verdict };
}

function metricOf(values: Map<number, number>, ref: Map<number, number> | null, refName: string, base: Map<number, number> | null, higherIsBetter: boolean): SummaryMetric {
  const xs = [...values.values()];
  return {
    perSeed: Object.fromEntries([...values.entries()].sort((a, b) => a[0] - b[0]).map(([s, v]) => [String(s), v])),
    mean: xs.length ? xs.reduce((a, v) => a + v, 0) / xs.length : Number.NaN,
    vsGrpo: ref && ref !== values ? toSummaryDiff(pairedDifference(values, ref, higherIsBetter), refName) : null,
    vsBase: base && base !== values ? toSummaryDiff(pairedDifference(values, base, higherIsBetter), BASE_ROW) : null,
  };
}

/**
 * The summary of one experiment. `reference` names the method `vsGrpo` compares against; the
 * base row's per-seed value is its (seed-independent) greedy score repeated for every seed.
 */
export function summarizeExperiment(opts: {
  experiment: string;
  task: 'math' | 'safety';
  seeds: readonly number[];
  base: BaseEval;
  methods: readonly MethodRuns[];
  reference: string;
}): ExperimentSummary {
  const metrics = opts.task === 'math' ? [{ name: 'pass@1_mean', higherIsBetter: true, of: mathScore }] : SAFETY_SUMMARY_METRICS;
  const seeds = [...opts.seeds].sort((a, b) => a - b);
  const baseValues = metrics.map((m) => new Map(seeds.map((s) => [s, m.of(opts.base)])));
  const methodValues = opts.methods.map((meth) => metrics.map((m) => bySeed(meth.runs, m.of)));
  const refIndex = opts.methods.findIndex((m) => m.name === opts.reference);
  const row = (name: string, id: string, values: Map<number, number>[]): SummaryRow => {
    const per = metrics.map((m, k) =>
      metricOf(values[k], refIndex >= 0 ? methodValues[refIndex][k] : null, opts.reference, baseValues[k], m.higherIsBetter),
    );
    return {
      name,
      id,
      seeds: [...values[0].keys()].sort((a, b) => a - b),
      ...per[0],
      ...(metrics.length > 1 ? { metrics: Object.fromEntries(metrics.slice(1).map((m, k) => [m.name, per[k + 1]])) } : {}),
    };
  };
  return {
    experiment: opts.experiment,
    task: opts.task,
    metric: { name: metrics[0].name, unit: '%', higherIsBetter: metrics[0].higherIsBetter },
    reference: opts.reference,
    seeds,
    rows: [row(BASE_ROW, 'base', baseValues), ...opts.methods.map((m, i) => row(m.name, m.id, methodValues[i]))],
  };
}
