/**
 * Stage "report": the experiments' sections written as the reproduction's report (README.md,
 * report.md, index.html, tables/, plots/, claims.json; report.ts renders them), plus
 * summary.json, reproduce.json (deterministic: no paths, no times) and provenance.json (the only
 * machine-specific file).
 */
import { writeFileSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { join } from 'node:path';
import type { ExperimentConfig } from '../config/schema.js';
import { writeExperimentReport, type ReportSection } from '../report.js';
import type { ExperimentSummary } from '../summary.js';
import { gitCommit } from '../../harness/provenance.js';

/** Machine facts for the report header. */
export function machineDescription(): string {
  const c = cpus();
  return `${c.length} core${c.length === 1 ? '' : 's'} (${c[0]?.model?.trim() ?? 'unknown CPU'}), ${platform()} ${release()}, Node ${process.version}`;
}

/** `12m03s` style duration. */
export function formatDuration(sec: number): string {
  if (sec < 60) return `${sec.toFixed(0)}s`;
  return `${Math.floor(sec / 60)}m${String(Math.round(sec % 60)).padStart(2, '0')}s`;
}

/** Inputs of the report. */
export interface ReportInputs {
  outDir: string;
  /** Label of the run size ("quick", "full", "custom"). */
  mode: string;
  /** Config files as shown in the report (relative, never absolute). */
  configs: string[];
  exps: readonly ExperimentConfig[];
  sections: readonly ReportSection[];
  /** Backends the runs used (the configs' when no run finished). */
  backends: ReadonlySet<string>;
  runs: { expected: number; finished: number; skipped: number; failed: { name: string; error: string }[] };
  wallSeconds: number;
  workers: number;
}

/** What the report stage wrote. */
export interface WrittenReproduceReport {
  files: string[];
  claims: Record<string, { claim: string; held: boolean | null }[]>;
}

/** Stage "report": writes every file of the reproduction's report into `outDir`. */
export async function writeReproduceReport(r: ReportInputs): Promise<WrittenReproduceReport> {
  const { outDir, runs } = r;
  const header = {
    title: `falign reproduce (${r.mode}): f-GRPO and f-HAL at laptop scale`,
    meta: [
      `Backend: ${[...r.backends].sort().join(', ') || r.exps.map((e) => e.backend).join(', ')}`,
      `Configs: ${r.configs.join(', ')}; seeds ${[...new Set(r.exps.flatMap((e) => e.seeds))].join(', ')}`,
      'Provenance (machine-specific: commit, date, wall time, machine, peak memory): [provenance.json](provenance.json) — the only file a re-run on the same commit changes',
    ],
    intro: [
      'These are laptop-scale stand-ins for the paper\'s experiments: tiny character-level decoders trained from scratch on generated tasks, not Qwen2.5-Math on LIMR. Results are reported as they came out; every method had the same budget, hyper-parameters and seeds, settings were chosen on a validation split (never the test split), and nothing was tuned toward the paper\'s conclusions. Verdicts compare methods per seed (paired differences with a 95 % t-interval: better / worse / not resolved); a difference whose interval includes 0 is not resolved at this number of seeds.',
      ...(runs.failed.length > 0 ? [`**Failures:** ${runs.failed.map((f) => `${f.name}: ${f.error}`).join('; ')}`] : []),
    ],
  };
  let files: string[] = [];
  if (r.sections.length > 0) files = (await writeExperimentReport(outDir, header, r.sections)).files;
  const summaries: ExperimentSummary[] = r.sections.flatMap((s) => (s.summary ? [s.summary] : []));
  writeFileSync(join(outDir, 'summary.json'), `${JSON.stringify({ format: 'falign-reproduce-summary-v1', mode: r.mode, experiments: summaries }, null, 2)}\n`);
  files = [...files, 'summary.json', 'reproduce.json', 'provenance.json'];
  const claims = Object.fromEntries(r.sections.map((s) => [s.title, s.claims.map((c) => ({ claim: c.claim, held: c.held }))]));
  // Deterministic: no paths of this machine, no times.
  writeFileSync(
    join(outDir, 'reproduce.json'),
    `${JSON.stringify({ mode: r.mode, configs: r.configs, runs: { expected: runs.expected, finished: runs.finished, failed: runs.failed }, files, claims }, null, 2)}\n`,
  );
  writeFileSync(
    join(outDir, 'provenance.json'),
    `${JSON.stringify(
      {
        note: 'Machine-specific facts of the invocation that wrote this folder; every other file here is reproducible from the commit.',
        commit: gitCommit(),
        date: new Date().toISOString(),
        wallSeconds: Math.round(r.wallSeconds),
        wallTime: formatDuration(r.wallSeconds),
        runsReused: runs.skipped,
        machine: machineDescription(),
        workers: r.workers,
        peakRssMiBParentProcess: Math.round(process.resourceUsage().maxRSS / 1024),
      },
      null,
      2,
    )}\n`,
  );
  return { files, claims };
}
