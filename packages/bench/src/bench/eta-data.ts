/**
 * Measured job timings of earlier `falign reproduce` runs, for calibrating the work units
 * (experiments/work.ts) and replaying the progress bar's ETA (eta.ts):
 *
 * - runs: `<report>/runs/<experiment>/<method>/seed-<n>/` — config.json (the pipeline that ran),
 *   result.json (`wallSeconds`), metrics.jsonl (`time/step` per optimiser step);
 * - preparation: the experiment cache (`.cache/falign`): `sft-base/<key>/` and
 *   `reward-model/<key>/` hold key.json (what was built) and done.json (`info.seconds`);
 *   `base-eval/<key>/` records no duration, so it is taken as the gap between its `createdAt` and
 *   that of the artefacts it evaluated (when that gap is short enough to be the evaluation alone).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ExperimentConfig, PipelineConfig } from '../experiments/config/schema.js';
import { expandExperiment, loadExperimentConfig, type GridRun } from '../experiments/config/load.js';

/** One measured run. */
export interface MeasuredRun {
  experiment: string;
  methodId: string;
  seed: number;
  pipeline: PipelineConfig;
  wallSeconds: number;
  /** Sum of the optimiser steps' `time/step` (null without metrics). */
  stepSeconds: number | null;
  dir: string;
}

function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
}

const subdirs = (dir: string) => (existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort() : []);

/** Every finished run under `<reportDir>/runs`. */
export function readRuns(reportDir: string): MeasuredRun[] {
  const out: MeasuredRun[] = [];
  const root = join(reportDir, 'runs');
  for (const exp of subdirs(root))
    for (const method of subdirs(join(root, exp)))
      for (const seedDir of subdirs(join(root, exp, method))) {
        const dir = join(root, exp, method, seedDir);
        if (!existsSync(join(dir, 'result.json')) || !existsSync(join(dir, 'config.json'))) continue;
        const result = readJson<{ wallSeconds: number; seed: number }>(join(dir, 'result.json'));
        const config = readJson<{ config: PipelineConfig }>(join(dir, 'config.json')).config;
        let stepSeconds: number | null = null;
        if (existsSync(join(dir, 'metrics.jsonl'))) {
          stepSeconds = 0;
          for (const line of readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n')) {
            if (!line.trim()) continue;
            const t = (JSON.parse(line) as Record<string, unknown>)['time/step'];
            if (typeof t === 'number') stepSeconds += t;
          }
        }
        out.push({ experiment: exp, methodId: method, seed: result.seed, pipeline: config, wallSeconds: result.wallSeconds, stepSeconds, dir });
      }
  return out;
}

/** A cache entry with its key, info and creation time. */
export interface CacheRecord {
  kind: 'sft-base' | 'reward-model' | 'base-eval';
  hash: string;
  key: Record<string, unknown>;
  info: Record<string, unknown>;
  createdAt: number;
}

/** Every finished entry of the experiment cache's sft-base, reward-model and base-eval folders. */
export function readCache(cacheRoot: string): CacheRecord[] {
  const out: CacheRecord[] = [];
  for (const kind of ['sft-base', 'reward-model', 'base-eval'] as const) {
    for (const hash of subdirs(join(cacheRoot, kind))) {
      const dir = join(cacheRoot, kind, hash);
      if (!existsSync(join(dir, 'done.json')) || !existsSync(join(dir, 'key.json'))) continue;
      const done = readJson<{ createdAt: string; info?: Record<string, unknown> }>(join(dir, 'done.json'));
      out.push({ kind, hash, key: readJson(join(dir, 'key.json')), info: done.info ?? {}, createdAt: Date.parse(done.createdAt) });
    }
  }
  return out;
}

/** JSON with sorted keys, to compare config objects regardless of key order. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

const same = (a: unknown, b: unknown) => canonical(a) === canonical(b);

/** Whether every field of `key` (a cache key's data block keeps only what the artefact depends on) equals `cfg`'s. */
const subset = (key: unknown, cfg: object) => !!key && typeof key === 'object' && Object.entries(key).every(([k, v]) => same(v, (cfg as Record<string, unknown>)[k]));

/** Measured preparation of one pipeline's task: seconds of each part (null = not measured). */
export interface MeasuredPrepare {
  sft: { seconds: number; steps: number; hash: string } | null;
  rm: { seconds: number; steps: number; hash: string } | null;
  baseEval: { seconds: number; hash: string } | null;
}

/** Finds the cache entries `cfg`'s preparation built and their measured durations. */
export function measuredPrepare(cfg: PipelineConfig, cache: readonly CacheRecord[]): MeasuredPrepare {
  const sftRec = cache.find((r) => r.kind === 'sft-base' && r.key.task === cfg.task && same(r.key.model, cfg.model) && same(r.key.sft, cfg.sft) && subset(r.key.data, cfg.data));
  const rmRec = cfg.task === 'safety' ? cache.find((r) => r.kind === 'reward-model' && same(r.key.rewardModel, cfg.rewardModel) && subset(r.key.data, cfg.data)) : undefined;
  const seconds = (r: CacheRecord | undefined) => (r && typeof r.info.seconds === 'number' ? r.info.seconds : null);
  const sft = sftRec && seconds(sftRec) !== null ? { seconds: seconds(sftRec)!, steps: Number(sftRec.info.steps ?? cfg.sft?.steps ?? 0), hash: sftRec.hash } : null;
  const rm = rmRec && seconds(rmRec) !== null && cfg.task === 'safety' ? { seconds: seconds(rmRec)!, steps: cfg.rewardModel.steps, hash: rmRec.hash } : null;
  let baseEval: MeasuredPrepare['baseEval'] = null;
  if (sftRec) {
    for (const r of cache) {
      if (r.kind !== 'base-eval' || r.key.base !== sftRec.hash || (r.key.rm ?? null) !== (rmRec?.hash ?? null) || !same(r.key.eval, cfg.eval)) continue;
      // The evaluation runs right after the base (and RM) are built; a longer gap means the
      // entry was made later from cached artefacts and says nothing about its duration.
      const gap = (r.createdAt - Math.max(sftRec.createdAt, rmRec?.createdAt ?? 0)) / 1000;
      if (gap > 0 && gap < 300 && (!baseEval || gap < baseEval.seconds)) baseEval = { seconds: gap, hash: r.hash };
    }
  }
  return { sft, rm, baseEval };
}

/** An experiment of a report folder with its grid and measured runs. */
export interface ReportExperiment {
  exp: ExperimentConfig;
  grid: GridRun[];
  /** Measured run per grid entry (same order; null = not found). */
  runs: (MeasuredRun | null)[];
}

/** The experiments of a report folder (`reproduce.json` names the config files, relative to `repoRoot`). */
export function readReport(reportDir: string, repoRoot: string): { experiments: ReportExperiment[]; workers: number; wallSeconds: number | null } {
  const rep = readJson<{ configs: string[] }>(join(reportDir, 'reproduce.json'));
  const prov = existsSync(join(reportDir, 'provenance.json')) ? readJson<{ workers?: number; wallSeconds?: number }>(join(reportDir, 'provenance.json')) : {};
  const measured = readRuns(reportDir);
  const experiments = rep.configs.map((c) => {
    const exp = loadExperimentConfig(join(repoRoot, c));
    const grid = expandExperiment(exp);
    const runs = grid.map((g) => measured.find((m) => m.experiment === exp.name && m.methodId === g.methodId && m.seed === g.seed) ?? null);
    return { exp, grid, runs };
  });
  return { experiments, workers: prov.workers ?? 2, wallSeconds: prov.wallSeconds ?? null };
}
