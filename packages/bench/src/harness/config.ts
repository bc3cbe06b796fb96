/**
 * The configuration of an evaluation run, stored as config.json in the run directory when the run
 * starts. A resumed run must have the same configuration; only options that cannot change the
 * samples (concurrency, batch size, progress) may differ.
 */
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { formatZodIssues } from '../datasets/manifest.js';
import { parseJsonText } from '../util/errors.js';

export const EvalConfigSchema = z.object({
  task: z.string(),
  task_version: z.number().int(),
  split: z.string(),
  limit: z.number().int().positive().nullable(),
  model: z.string(),
  samples: z.number().int().positive(),
  seed: z.number().int(),
  temperature: z.number().nonnegative(),
  top_p: z.number().positive().max(1),
  max_tokens: z.number().int().positive(),
  num_fewshot: z.number().int().nonnegative(),
  fewshot_seed: z.number().int(),
  stop: z.array(z.string()),
  /** sha256 of the chat template source, or null when prompts are raw. */
  chat_template: z.string().nullable(),
});
export type EvalConfig = z.infer<typeof EvalConfigSchema>;

/** Reads a run's config.json (null when absent). */
export function readConfig(file: string): EvalConfig | null {
  if (!existsSync(file)) return null;
  const raw = parseJsonText(readFileSync(file, 'utf8'), file);
  const parsed = EvalConfigSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${file}: ${formatZodIssues(parsed.error.issues)}`);
  return parsed.data;
}

/** Fields whose values differ between two configs, as `field: old → new`. */
export function configDiff(a: EvalConfig, b: EvalConfig): string[] {
  const out: string[] = [];
  for (const key of Object.keys(EvalConfigSchema.shape) as (keyof EvalConfig)[]) {
    const x = JSON.stringify(a[key]);
    const y = JSON.stringify(b[key]);
    if (x !== y) out.push(`${key}: ${x} → ${y}`);
  }
  return out;
}
