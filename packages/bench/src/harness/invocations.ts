/**
 * DIR/invocations.jsonl: one line per `falign eval` invocation on a run directory (complete,
 * interrupted or failed), so that results.json of a resumed or no-op run still reports what the
 * whole run cost: samples generated, wall time and truncated prompts summed over invocations.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { formatZodIssues } from '../datasets/manifest.js';

export const InvocationRecordSchema = z.object({
  /** ISO time the invocation started; null when unknown (`unrecorded`). */
  started_at: z.string().nullable(),
  /**
   * `legacy`: reconstructed from a results.json written before invocations were recorded.
   * `unrecorded`: samples found in samples.jsonl that no recorded invocation accounts for (one
   * killed before it could record itself); its wall time is unknown and counted as 0.
   */
  status: z.enum(['complete', 'interrupted', 'failed', 'legacy', 'unrecorded']),
  wall_time_s: z.number().nonnegative(),
  generated_samples: z.number().int().nonnegative(),
  /** Prompts cut from the left to fit the context (in-process models); null when unknown. */
  truncated_prompts: z.number().int().nonnegative().nullable(),
  backend: z.string().nullable(),
  git_commit: z.string().nullable(),
  versions: z.record(z.string(), z.string()),
  /** Why a failed invocation stopped. */
  error: z.string().optional(),
});
/** One line of invocations.jsonl. */
export type InvocationRecord = z.infer<typeof InvocationRecordSchema>;

/** Totals over a run's invocations, as results.json reports them. */
export interface InvocationTotals {
  wall_time_s: number;
  generated_samples: number;
  /** Sum over invocations that know it; null when none does. */
  truncated_prompts: number | null;
}

/**
 * Reads invocations.jsonl ([] when absent). A partial last line (a crash while appending) is
 * ignored; any other bad line is an error naming the file and line.
 */
export function readInvocations(file: string): InvocationRecord[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const out: InvocationRecord[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const last = i === lines.length - 1; // no newline after it: possibly cut short
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (e) {
      if (last) return;
      throw new Error(`${file}:${i + 1}: invalid JSON (${(e as Error).message})`);
    }
    const parsed = InvocationRecordSchema.safeParse(raw);
    if (!parsed.success) throw new Error(`${file}:${i + 1}: ${formatZodIssues(parsed.error.issues)}`);
    out.push(parsed.data);
  });
  return out;
}

/** Appends one invocation (one line), first dropping a partial last line left by a crash. */
export function appendInvocation(file: string, rec: InvocationRecord): void {
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    if (text.length > 0 && !text.endsWith('\n')) writeFileSync(file, text.slice(0, text.lastIndexOf('\n') + 1));
  }
  appendFileSync(file, `${JSON.stringify(InvocationRecordSchema.parse(rec))}\n`);
}

/** Sums wall time, generated samples and truncated prompts over invocations. */
export function invocationTotals(recs: readonly InvocationRecord[]): InvocationTotals {
  let wall = 0;
  let generated = 0;
  let truncated: number | null = null;
  for (const r of recs) {
    wall += r.wall_time_s;
    generated += r.generated_samples;
    if (r.truncated_prompts !== null) truncated = (truncated ?? 0) + r.truncated_prompts;
  }
  return { wall_time_s: wall, generated_samples: generated, truncated_prompts: truncated };
}

/**
 * The invocation a results.json from before invocations.jsonl existed stands for (its wall time
 * and generated samples were then per invocation, so earlier ones are unknown), or null.
 */
export function legacyInvocation(prev: Record<string, unknown> | null): InvocationRecord | null {
  if (!prev || typeof prev.wall_time_s !== 'number' || typeof prev.generated_samples !== 'number') return null;
  const info = (prev.model as { info?: Record<string, unknown> } | undefined)?.info;
  const trunc = info?.truncated_prompts;
  return {
    started_at: null, // results.json only knows when the run ended
    status: 'legacy',
    wall_time_s: Math.max(0, prev.wall_time_s),
    generated_samples: Math.max(0, Math.trunc(prev.generated_samples)),
    truncated_prompts: typeof trunc === 'number' && Number.isInteger(trunc) && trunc >= 0 ? trunc : null,
    backend: typeof prev.backend === 'string' ? prev.backend : null,
    git_commit: typeof prev.git_commit === 'string' ? prev.git_commit : null,
    versions: (prev.versions as Record<string, string> | undefined) ?? {},
  };
}

/**
 * The record standing for samples on disk that the recorded invocations do not account for (an
 * invocation killed with SIGKILL writes samples but no record), or null when all are accounted.
 */
export function unrecordedInvocation(recs: readonly InvocationRecord[], samplesOnDisk: number): InvocationRecord | null {
  const missing = samplesOnDisk - invocationTotals(recs).generated_samples;
  if (missing <= 0) return null;
  return {
    started_at: null,
    status: 'unrecorded',
    wall_time_s: 0,
    generated_samples: missing,
    truncated_prompts: null,
    backend: null,
    git_commit: null,
    versions: {},
  };
}
