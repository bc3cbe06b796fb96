/**
 * `falign train --config F --checkpoint-every K` killed with SIGKILL at random points, N times,
 * each time re-run with the same command: every re-run must resume from the last periodic
 * checkpoint (losing at most K steps), and the final checkpoint must be byte-identical to an
 * uninterrupted run's, with no temporary folders left in the run or the cache.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { rng } from '../fuzz-inputs.js';
import { runFalign, spawnFalign } from './spawn.js';

/** What {@link trainKill} found. */
export interface TrainKillResult {
  kills: number;
  /** Re-runs that said they resumed from a checkpoint (kills after the first checkpoint). */
  resumed: number;
  /** Kills that hit before the first checkpoint existed (the re-run starts over, correctly). */
  beforeFirstCheckpoint: number;
  /** Completed steps when each kill landed. */
  killSteps: number[];
  /** Largest number of completed steps lost by one kill. */
  maxStepsLost: number;
  interval: number;
  steps: number;
  identical: boolean;
  /** The held-out curve and final scores in result.json equal the uninterrupted run's. */
  resultsIdentical: boolean;
  differingFiles: string[];
  tmpLeft: string[];
  wallS: number;
  detail: string;
}

/** A tiny single-stage config: safety task, micro models, `steps` f-GRPO steps. */
export function microTrainConfig(steps: number): Record<string, unknown> {
  const micro = { arch: 'llama', dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 128 };
  return {
    name: 'reliability-micro',
    task: 'safety',
    seed: 3,
    backend: 'cpu',
    model: micro,
    data: { source: 'templates', testPerLabel: 2, trainPerLabel: 6, sftDemosPerLabel: 3 },
    rewardModel: { model: micro, steps: 2, batchSize: 4, lr: 0.003 },
    sft: { steps: 2, batchSize: 4, lr: 0.003, warmupSteps: 1 },
    stages: [{ algorithm: 'fgrpo', divergence: 'pearson', steps, lr: 0.05, promptsPerStep: 2, groupSize: 2, maxNewTokens: 6 }],
    eval: { maxNewTokens: 6, every: 4, curvePrompts: 2 },
  };
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

function tmpFolders(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (!statSync(p).isDirectory()) continue;
    if (/\.tmp-/.test(name)) out.push(p);
    else out.push(...tmpFolders(p));
  }
  return out;
}

const completedSteps = (runDir: string): number => {
  const f = join(runDir, 'metrics.jsonl');
  return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter((l) => l.trim().startsWith('{')).length : 0;
};

/** Runs the check in `work`. */
export async function trainKill(work: string, o: { kills: number; steps: number; interval: number; seed?: number; onKill?: (k: number, step: number) => void }): Promise<TrainKillResult> {
  const t0 = Date.now();
  rmSync(work, { recursive: true, force: true });
  const cfgFile = join(work, 'train.json');
  const cache = join(work, 'cache');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(work, { recursive: true });
  writeFileSync(cfgFile, JSON.stringify(microTrainConfig(o.steps)));
  const args = (out: string) => ['train', '--config', cfgFile, '--out', out, '--cache', cache, '--checkpoint-every', String(o.interval), '--json'];
  const env = { FALIGN_QUIET: '', FALIGN_CACHE_DIR: cache };
  const fail = (detail: string): TrainKillResult => ({ kills: 0, killSteps: [], resumed: 0, beforeFirstCheckpoint: 0, maxStepsLost: -1, interval: o.interval, steps: o.steps, identical: false, resultsIdentical: false, differingFiles: [], tmpLeft: [], wallS: (Date.now() - t0) / 1000, detail });

  // The reference: one uninterrupted run (it also fills the cache with the SFT base and RM).
  const ref = join(work, 'uninterrupted');
  const r0 = await runFalign(args(ref), { env });
  if (r0.code !== 0) return fail(`uninterrupted run failed: ${r0.stderr.trim().split('\n').pop()}`);

  const run = join(work, 'killed');
  const r = rng(o.seed ?? 5);
  let kills = 0;
  let resumed = 0;
  let before = 0;
  let maxLost = 0;
  let lastKillStep = -1;
  const killSteps: number[] = [];
  const problems: string[] = [];
  for (let attempt = 0; attempt < o.kills * 4 && kills < o.kills; attempt++) {
    // Kill k lands at a random step of the k-th of N equal segments of the run (so kills spread
    // over the whole run), plus a random few ms: anywhere in a step, including a checkpoint save.
    const seg = (o.steps - 1) / (o.kills + 1);
    const target = Math.min(o.steps - 1, Math.max(lastKillStep + 1, 1, Math.floor(seg * (kills + 1) + r() * seg)));
    const child = spawnFalign(args(run), { env });
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += String(d)));
    const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
    let killedAt = -1;
    const poll = setInterval(() => {
      if (killedAt < 0 && completedSteps(run) >= target) {
        killedAt = -2;
        setTimeout(() => {
          killedAt = completedSteps(run);
          child.kill('SIGKILL');
        }, Math.floor(r() * 400));
      }
    }, 20);
    const code = await exited;
    clearInterval(poll);
    const m = /resuming from \S+ \(step (\d+)/.exec(stderr);
    if (attempt > 0 && kills > 0) {
      if (m) {
        resumed++;
        maxLost = Math.max(maxLost, lastKillStep - Number(m[1]));
      } else if (lastKillStep > o.interval) problems.push(`re-run after a kill at step ${lastKillStep} did not resume`);
    }
    if (killedAt >= 0) {
      kills++;
      lastKillStep = killedAt;
      killSteps.push(killedAt);
      if (killedAt < o.interval) before++;
      o.onKill?.(kills, killedAt);
    } else if (code === 0) break; // finished before the kill landed
    else return fail(`train exited ${code}: ${stderr.trim().split('\n').pop()}`);
  }
  // The last re-run, to completion.
  const fin = await runFalign(args(run), { env });
  if (fin.code !== 0 && !existsSync(join(run, 'result.json'))) return fail(`final re-run failed: ${fin.stderr.trim().split('\n').pop()}`);
  const m = /resuming from \S+ \(step (\d+)/.exec(fin.stderr);
  if (m) {
    resumed++;
    maxLost = Math.max(maxLost, lastKillStep - Number(m[1]));
  }
  const a = join(ref, 'checkpoints', 'final');
  const b = join(run, 'checkpoints', 'final');
  const fa = filesUnder(a).map((f) => relative(a, f)).sort();
  const fb = filesUnder(b).map((f) => relative(b, f)).sort();
  const differing = [...new Set([...fa, ...fb])].filter((f) => !existsSync(join(a, f)) || !existsSync(join(b, f)) || !readFileSync(join(a, f)).equals(readFileSync(join(b, f))));
  const tmpLeft = [...tmpFolders(run), ...tmpFolders(cache)].map((p) => relative(work, p));
  const identical = fa.length > 0 && differing.length === 0;
  const scores = (dir: string) => {
    const r = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')) as { curve: unknown; final: unknown };
    return JSON.stringify([r.curve, r.final]);
  };
  const resultsIdentical = scores(ref) === scores(run);
  return {
    kills,
    killSteps,
    resumed,
    beforeFirstCheckpoint: before,
    maxStepsLost: maxLost,
    interval: o.interval,
    steps: o.steps,
    identical,
    resultsIdentical,
    differingFiles: differing,
    tmpLeft,
    wallS: (Date.now() - t0) / 1000,
    detail: problems.join('; '),
  };
}
