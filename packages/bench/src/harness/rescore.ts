/**
 * `falign rescore DIR`: re-runs the task's scorer on the completions stored in samples.jsonl
 * (so scorer fixes apply) and recomputes results.json, without generating anything.
 */
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { getTask } from '../tasks/registry.js';
import { DEFAULT_BOOTSTRAP, type BootstrapSettings } from './aggregate.js';
import { readConfig } from './config.js';
import { selectDocs } from './docs.js';
import { writeJsonAtomic, type EvalResults } from './results.js';
import { legacyInvocation, readInvocations } from './invocations.js';
import { computeResults, readJsonOrNull, runPaths } from './runner.js';
import { readSamples, type SampleRecord } from './samples.js';
import { createModelJudge, type ModelJudge } from '../judges/model-judge.js';
import { judgeSamples } from '../judges/apply.js';

/** Options of {@link rescoreRun}. */
export interface RescoreOptions {
  /** Rewrite samples.jsonl with the new per-sample scores (default true). */
  writeSamples?: boolean;
  bootstrap?: Partial<BootstrapSettings>;
  /**
   * Model judge (`openai:URL#MODEL?format=…` or an instance) run over the samples; judgements
   * already in its cache cost no call, so re-scoring with the same judge is free.
   */
  judge?: string | ModelJudge;
  /** Requests in flight to the judge endpoint (default 8). */
  judgeConcurrency?: number;
  /** Progress on stderr while judging (default true). */
  progress?: boolean;
}

/** What a rescore changed. */
export interface RescoreOutcome {
  results: EvalResults;
  /** Samples whose scores or extracted answers changed. */
  changedSamples: number;
}

/** Recomputes a run's scores and metrics from its samples.jsonl. */
export async function rescoreRun(dir: string, opts: RescoreOptions = {}): Promise<RescoreOutcome> {
  const paths = runPaths(dir);
  const cfg = readConfig(paths.config);
  if (!cfg) throw new Error(`${paths.dir}: not an eval run directory (no config.json)`);
  if (!existsSync(paths.samples)) throw new Error(`${paths.samples}: no such file`);
  const task = getTask(cfg.task);
  if (task.version !== cfg.task_version) {
    process.stderr.write(`rescore: task ${task.id} is now version ${task.version} (the run used ${cfg.task_version}); scores use the current scorer\n`);
  }
  const docs = selectDocs(task, cfg.split, cfg.limit);
  const byId = new Map(docs.map((d) => [d.id, d]));
  const { records } = readSamples(paths.samples);
  let changed = 0;
  let rescored: SampleRecord[] = records.map((r) => {
    const doc = byId.get(r.doc_id);
    if (!doc) throw new Error(`${paths.samples}: sample of unknown document "${r.doc_id}" (not in ${task.id} ${cfg.split}${cfg.limit ? ` limit ${cfg.limit}` : ''})`);
    const s = task.score(doc, r.completion);
    const next: SampleRecord = { ...r, scores: s.scores };
    if (s.extracted) next.extracted = s.extracted;
    else delete next.extracted;
    return next;
  });
  let scoredTask = task;
  let judgeIdentity: EvalResults['judge'];
  if (opts.judge !== undefined) {
    const judge = typeof opts.judge === 'string' ? createModelJudge(opts.judge, { concurrency: opts.judgeConcurrency }) : opts.judge;
    try {
      ({ records: rescored, task: scoredTask, identity: judgeIdentity } = await judgeSamples(judge, task, docs, rescored, { progress: opts.progress }));
    } finally {
      if (typeof opts.judge === 'string') await judge.close();
    }
  }
  rescored.forEach((next, i) => {
    const r = records[i];
    if (JSON.stringify(next.scores) !== JSON.stringify(r.scores) || JSON.stringify(next.extracted) !== JSON.stringify(r.extracted)) changed++;
  });
  if (opts.writeSamples !== false) {
    const tmp = `${paths.samples}.tmp-${process.pid}`;
    writeFileSync(tmp, rescored.map((r) => `${JSON.stringify(r)}\n`).join(''));
    renameSync(tmp, paths.samples);
  }
  const prevRaw = readJsonOrNull(paths.results);
  const prev = (prevRaw ?? {}) as Partial<EvalResults>;
  const model = prev.model ?? { spec: cfg.model, name: cfg.model, kind: 'unknown', info: {} };
  // Rescoring generates nothing: the run's invocations (and their totals) stay as they were.
  let invocations = readInvocations(paths.invocations);
  if (invocations.length === 0) {
    const legacy = legacyInvocation(prevRaw);
    if (legacy) invocations = [legacy];
  }
  const results = computeResults(scoredTask, docs, rescored, cfg, model, {
    bootstrap: { ...DEFAULT_BOOTSTRAP, ...prev.bootstrap, ...opts.bootstrap },
    invocations,
  });
  if (judgeIdentity) results.judge = judgeIdentity;
  results.rescored_at = results.date;
  if (prev.date) results.date = prev.date;
  writeJsonAtomic(paths.results, results);
  return { results, changedSamples: changed };
}
