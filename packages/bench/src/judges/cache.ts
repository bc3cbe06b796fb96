/**
 * Persistent cache of model-judge answers, so re-scoring a run with the same judge makes no new
 * calls. One JSONL file per judge identity under `<cache>/judges/`; each line holds the sha256 of
 * (judge identity, prompt, completion, context) and the judge's raw output. Raw outputs are
 * stored, not verdicts, so a parser fix applies to cached answers too.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** The judge cache folder: FALIGN_CACHE_DIR/judges or ~/.cache/falign/judges. */
export function judgeCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.FALIGN_CACHE_DIR ? resolve(env.FALIGN_CACHE_DIR) : join(homedir(), '.cache', 'falign');
  return join(base, 'judges');
}

/** sha256 hex of the JSON array of `parts` (unambiguous: no separator can collide). */
export function judgeKey(parts: readonly string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/** Hit/miss counters of a cache. */
export interface JudgeCacheStats {
  /** Answers found in the cache this session. */
  hits: number;
  /** Answers computed (endpoint calls) and stored this session. */
  misses: number;
  /** Entries in the file when it was opened. */
  loaded: number;
}

/** An append-only JSONL map from key to raw judge output. */
export class JudgeCache {
  private readonly map = new Map<string, string>();
  private readonly counters: JudgeCacheStats = { hits: 0, misses: 0, loaded: 0 };

  /** Opens (creating its folder) the cache file of one judge identity. */
  constructor(readonly file: string) {
    mkdirSync(resolve(file, '..'), { recursive: true });
    if (!existsSync(file)) return;
    const lines = readFileSync(file, 'utf8').split('\n');
    for (const [i, line] of lines.entries()) {
      if (line.trim() === '') continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        // A crash mid-append leaves a partial last line; anything else is a corrupt file.
        if (i === lines.length - 1 || (i === lines.length - 2 && lines[lines.length - 1] === '')) continue;
        throw new Error(`${file}:${i + 1}: invalid JSON in judge cache (delete the file to reset it)`);
      }
      const e = v as { k?: unknown; out?: unknown };
      if (typeof e.k !== 'string' || typeof e.out !== 'string') {
        throw new Error(`${file}:${i + 1}: judge cache entry needs string fields "k" and "out"`);
      }
      this.map.set(e.k, e.out);
    }
    this.counters.loaded = this.map.size;
  }

  /** The cached output for `key`, counting a hit; undefined (not counted) when absent. */
  get(key: string): string | undefined {
    const v = this.map.get(key);
    if (v !== undefined) this.counters.hits++;
    return v;
  }

  /** Stores an output (appended to the file at once, so a killed run keeps what it paid for). */
  set(key: string, out: string): void {
    this.counters.misses++;
    if (this.map.get(key) === out) return;
    this.map.set(key, out);
    appendFileSync(this.file, `${JSON.stringify({ k: key, out })}\n`);
  }

  stats(): JudgeCacheStats {
    return { ...this.counters };
  }
}
