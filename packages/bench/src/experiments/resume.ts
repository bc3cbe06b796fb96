/**
 * Resuming a killed single-stage training run (`falign train --checkpoint-every N`) from its last
 * periodic trainer checkpoint instead of step 1. The trainer's checkpoints are atomic (a temporary
 * `step-N.tmp-*` folder renamed into place), so a `step-N` folder that exists is complete; a
 * temporary one left by a kill is removed. Held-out curve points computed before the kill are
 * kept in `<runDir>/curve.partial.jsonl`, so the resumed run reports the same curve.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** A periodic checkpoint to resume from. */
export interface ResumePoint {
  dir: string;
  step: number;
}

const CURVE_FILE = 'curve.partial.jsonl';

/** Removes temporary checkpoint folders left by a kill during a save. Returns how many. */
export function removeTempCheckpoints(runDir: string): number {
  const dir = join(runDir, 'checkpoints');
  if (!existsSync(dir)) return 0;
  let n = 0;
  for (const name of readdirSync(dir)) {
    if (/\.tmp-/.test(name)) {
      rmSync(join(dir, name), { recursive: true, force: true });
      n++;
    }
  }
  return n;
}

/**
 * The latest `checkpoints/step-N` of an unfinished attempt in `runDir` made with the same config
 * (same `configHash` in `<runDir>/config.json`), or null.
 */
export function findResumePoint(runDir: string, configHash: string): ResumePoint | null {
  const cfgFile = join(runDir, 'config.json');
  if (!existsSync(cfgFile) || existsSync(join(runDir, 'result.json'))) return null;
  try {
    if ((JSON.parse(readFileSync(cfgFile, 'utf8')) as { configHash?: string }).configHash !== configHash) return null;
  } catch {
    return null;
  }
  const dir = join(runDir, 'checkpoints');
  if (!existsSync(dir)) return null;
  let best: ResumePoint | null = null;
  for (const name of readdirSync(dir)) {
    const m = /^step-(\d+)$/.exec(name);
    if (m && (!best || Number(m[1]) > best.step)) best = { dir: join(dir, name), step: Number(m[1]) };
  }
  return best;
}

/** Keeps only the newest periodic checkpoint (`step-N`); `final` and others are left alone. */
export function pruneCheckpoints(runDir: string, keepStep: number): void {
  const dir = join(runDir, 'checkpoints');
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const m = /^step-(\d+)$/.exec(name);
    if (m && Number(m[1]) !== keepStep) rmSync(join(dir, name), { recursive: true, force: true });
  }
}

/** Records one held-out curve point as it is computed. */
export function appendCurvePoint(runDir: string, point: { step: number; metrics: Record<string, number> }): void {
  appendFileSync(join(runDir, CURVE_FILE), `${JSON.stringify(point)}\n`);
}

/** Curve points recorded up to `step` (a torn last line is ignored). */
export function readCurvePoints(runDir: string, upToStep: number): { step: number; metrics: Record<string, number> }[] {
  const f = join(runDir, CURVE_FILE);
  if (!existsSync(f)) return [];
  // A step evaluated again after a resume appears twice: the last record wins.
  const byStep = new Map<number, { step: number; metrics: Record<string, number> }>();
  for (const line of readFileSync(f, 'utf8').split('\n')) {
    try {
      const p = JSON.parse(line) as { step: number; metrics: Record<string, number> };
      if (p.step <= upToStep) byStep.set(p.step, p);
    } catch {
      /* blank or torn line */
    }
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** Removes the partial-curve file (the run finished, or starts from scratch). */
export function clearCurvePoints(runDir: string): void {
  rmSync(join(runDir, CURVE_FILE), { force: true });
}
