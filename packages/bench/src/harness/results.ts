/** results.json: lm-eval-like metrics with stderr and bootstrap CIs, plus the run's provenance. */
import { renameSync, writeFileSync } from 'node:fs';
import type { EvalConfig } from './config.js';
import type { BootstrapSettings, MetricResult } from './aggregate.js';
import type { InvocationRecord } from './invocations.js';
import type { JudgeIdentity } from '../judges/model-judge.js';

/** Contents of results.json. */
export interface EvalResults {
  task: string;
  task_version: number;
  /** Metric name → value, stderr, CI, n, direction. */
  results: Record<string, MetricResult>;
  higher_is_better: Record<string, boolean>;
  n: {
    /** Documents selected (after --limit). */
    docs: number;
    /** Documents with all their samples (the ones aggregated). */
    complete_docs: number;
    samples: number;
    samples_per_doc: number;
  };
  config: EvalConfig;
  model: { spec: string; name: string; kind: string; info: Record<string, unknown> };
  /** tfjs backend of in-process models, null for endpoints. */
  backend: string | null;
  versions: Record<string, string>;
  git_commit: string | null;
  bootstrap: BootstrapSettings;
  date: string;
  /** Seconds over all invocations of the run (generation + scoring), see `invocations`. */
  wall_time_s: number;
  /** Samples generated over all invocations (a resumed or no-op run keeps the earlier ones). */
  generated_samples: number;
  /** Prompts cut from the left to fit the context, over all invocations; null when unknown (endpoints). */
  truncated_prompts: number | null;
  /** Completions cut at `max_tokens` (finish_reason "length") among the run's samples. */
  length_completions?: number;
  /** Every invocation of `falign eval` on this run directory (DIR/invocations.jsonl), oldest first. */
  invocations: InvocationRecord[];
  /** Set by `falign rescore`: when the metrics were recomputed from samples.jsonl. */
  rescored_at?: string;
  /** The model judge of `--judge` (format, endpoint model, cache hits and new calls), when one was used. */
  judge?: JudgeIdentity;
}

/** Writes JSON atomically (temporary file, then rename). */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(tmp, file);
}
