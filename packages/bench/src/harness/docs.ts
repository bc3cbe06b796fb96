/** Selecting a run's documents and few-shot examples from a task. */
import type { AnyTask, TaskDoc } from '../tasks/types.js';
import { seededShuffle } from './seeds.js';

/** The first `limit` documents of a split (all when limit is null); ids must be unique. */
export function selectDocs(task: AnyTask, split: string, limit: number | null): TaskDoc[] {
  if (!task.splits.includes(split)) throw new Error(`task "${task.id}" has no split "${split}" (splits: ${task.splits.join(', ')})`);
  const docs = task.load(split);
  const seen = new Set<string>();
  for (const d of docs) {
    if (seen.has(d.id)) throw new Error(`task "${task.id}" split "${split}": duplicate document id "${d.id}"`);
    seen.add(d.id);
  }
  return limit === null ? docs : docs.slice(0, limit);
}

/** `k` few-shot examples drawn with a fixed seed from the task's pool (the same for every document). */
export function selectFewshot(task: AnyTask, k: number, seed: number): TaskDoc[] {
  if (k === 0) return [];
  if (!task.fewshotPool) throw new Error(`task "${task.id}" has no few-shot examples (use --num-fewshot 0)`);
  const pool = task.fewshotPool();
  if (pool.length < k) throw new Error(`task "${task.id}": asked for ${k} few-shot examples, the pool has ${pool.length}`);
  return seededShuffle(pool, seed).slice(0, k);
}
