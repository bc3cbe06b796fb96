/**
 * The task contract: a benchmark turns dataset rows into documents, documents into generation
 * requests, completions into per-sample scores, and declares the metrics aggregated over documents.
 */
import type { ChatMessage } from '../models/types.js';

/** A document of a task: one prompt with whatever the scorer needs. */
export interface TaskDoc {
  /** Stable id (unique within the task's split); keys samples for resume and rescore. */
  id: string;
  /** Position in the split (0-based). */
  index: number;
}

/** What a task asks the model. */
export interface TaskRequest {
  /** The raw prompt (few-shot examples included) for completion-style models. */
  prompt: string;
  /** The same request as chat turns (few-shot examples as user/assistant pairs). */
  messages: ChatMessage[];
  /** Strings that end a completion. */
  stop: string[];
}

/** Per-sample outcome of scoring one completion. */
export interface SampleScore {
  /** Named 0/1 (or real-valued) scores, e.g. `{ strict: 1, flexible: 1 }` or `{ advbench: 1 }`. */
  scores: Record<string, number>;
  /** Extracted answers per filter, used for majority voting (maj@k). */
  extracted?: Record<string, string | null>;
}

/**
 * A metric aggregated over documents: the per-document value is the mean of `key` over the
 * document's samples (1 − mean when `invert`), then averaged over the documents kept by `where`.
 */
export interface MetricDef<D extends TaskDoc = TaskDoc> {
  /** Reported name, lm-eval style `metric,filter` (e.g. `exact_match,strict`). */
  name: string;
  /** Score key in {@link SampleScore.scores}. */
  key: string;
  higherIsBetter: boolean;
  invert?: boolean;
  /** Keep only these documents (e.g. XSTest's safe prompts). */
  where?: (doc: D) => boolean;
  /** Also report the metric per group: `name/<grouping>=<value>` for each named grouping. */
  groups?: Record<string, (doc: D) => string>;
  /** With k > 1 samples, also report unbiased pass@k and maj@k (votes on `extracted[key]`). */
  passAtK?: boolean;
}

/** Generation defaults of a task (each overridable from the command line). */
export interface TaskDefaults {
  split: string;
  maxTokens: number;
  numFewshot: number;
}

/** Context of {@link Task.buildRequest}. */
export interface BuildContext<D> {
  /** Few-shot examples (already chosen and ordered). */
  fewshot: readonly D[];
}

/** A benchmark task. */
export interface Task<D extends TaskDoc = TaskDoc> {
  id: string;
  description: string;
  /** Dataset it reads (a manifest name). */
  dataset: string;
  /** Bumped whenever the prompt or the scorer changes meaning (recorded in results.json). */
  version: number;
  splits: readonly string[];
  defaults: TaskDefaults;
  /** Loads the documents of a split (validated; throws with file:line on bad rows). */
  load(split: string): D[];
  /** Documents few-shot examples are drawn from; absent when the task has none. */
  fewshotPool?(): D[];
  buildRequest(doc: D, ctx: BuildContext<D>): TaskRequest;
  /** Scores one completion (pure; never evaluates model output). */
  score(doc: D, completion: string): SampleScore;
  /** Gold answer or label recorded next to each sample, for reading samples.jsonl. */
  target?(doc: D): string | undefined;
  metrics: MetricDef<D>[];
}

/** A task with its document type erased (what the registry and the harness hold). */
export type AnyTask = Task<TaskDoc>;
