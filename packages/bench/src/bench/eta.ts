/**
 * How good is the overall progress bar's ETA? Two ways to tell:
 *
 * - from a log: {@link parseProgressLog} reads the plain progress lines a `falign reproduce` run
 *   prints on a non-TTY stderr (util/progress.ts: `LABEL: DONE/TOTAL UNIT (PCT%) RATE UNIT/s
 *   elapsed 1m23s ETA 4m05s …`, last one `… done in 7m51s`), and {@link etaErrors} compares the
 *   ETA shown when 10/25/50/75 % of the work was done with the time that actually remained;
 * - by replay: {@link simulatePool} schedules jobs of known duration on N workers the way
 *   experiments/pool.ts does (FIFO, a job queues when its dependencies finish), and
 *   {@link replayEta} computes the ETA the bar would have shown for given work units, assuming
 *   each job's units are done at an even pace over its duration.
 *
 * The bar's ETA is (total − done) / (done / elapsed), i.e. the average rate since the start.
 */

/** One plain progress line. */
export interface ProgressSample {
  /** Seconds since the bar started. */
  elapsed: number;
  done: number;
  total: number;
  /** ETA shown, seconds (null when `?`). */
  eta: number | null;
}

/** Parses `42s`, `4m05s`, `1h02m` (util/progress.ts formatEta); null for `?` or anything else. */
export function parseDuration(s: string): number | null {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(s);
  if (!m || s === '' || s === '?') return null;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Reads the progress lines of bar `label` from a log. `wallSeconds` is the bar's final
 * `done in …` (or, failing that, `reproduce (…) finished in …`); null when the run did not finish.
 * Lines without an elapsed stamp (older versions) get elapsed = done ÷ rate, to within the
 * rate's printed precision (one decimal).
 */
export function parseProgressLog(text: string, label = 'reproduce'): { samples: ProgressSample[]; wallSeconds: number | null } {
  const head = `^${escape(label)}: (\\d+(?:\\.\\d+)?)/(\\d+(?:\\.\\d+)?) .*?\\) ([\\d.]+) .*?/s `;
  const running = new RegExp(`${head}elapsed (\\S+) ETA (\\S+)`);
  // Lines of versions before the elapsed stamp: the rate is done ÷ elapsed (the bar starts at 0).
  const legacy = new RegExp(`${head}ETA (\\S+)`);
  const done = new RegExp(`${head}done in (\\S+)`);
  const finished = /^reproduce \([^)]*\) finished in (\S+?):?\s/;
  const samples: ProgressSample[] = [];
  let wallSeconds: number | null = null;
  let finishedLine: number | null = null;
  for (const line of text.split(/\r?\n/)) {
    let m = running.exec(line);
    if (m) {
      const elapsed = parseDuration(m[4]);
      if (elapsed !== null) samples.push({ done: Number(m[1]), total: Number(m[2]), elapsed, eta: parseDuration(m[5]) });
      continue;
    }
    m = legacy.exec(line);
    if (m) {
      const rate = Number(m[3]);
      if (rate > 0) samples.push({ done: Number(m[1]), total: Number(m[2]), elapsed: Number(m[1]) / rate, eta: parseDuration(m[4]) });
      continue;
    }
    m = done.exec(line);
    if (m) {
      wallSeconds = parseDuration(m[4]);
      continue;
    }
    m = finished.exec(line);
    if (m) finishedLine = parseDuration(m[1]);
  }
  return { samples, wallSeconds: wallSeconds ?? finishedLine };
}

/** The ETA shown at one point of the run against the time that actually remained. */
export interface EtaCheck {
  /** Target share of the work (0.1 = 10 %). */
  fraction: number;
  /** Share of the work actually done at that point. */
  doneFraction: number;
  /** Seconds since the start. */
  elapsed: number;
  /** ETA shown, seconds. */
  eta: number;
  /** Seconds that actually remained. */
  actual: number;
  /** 100 × (eta − actual) / actual. */
  errorPct: number;
}

/** The checkpoints of the acceptance criterion ("within ±30 % after the first 10 % of the work"). */
export const ETA_FRACTIONS = [0.1, 0.25, 0.5, 0.75] as const;

/** For each fraction, the first sample at or past it (samples without an ETA are skipped). */
export function etaErrors(samples: readonly ProgressSample[], wallSeconds: number, fractions: readonly number[] = ETA_FRACTIONS): EtaCheck[] {
  const out: EtaCheck[] = [];
  for (const f of fractions) {
    const s = samples.find((x) => x.total > 0 && x.done / x.total >= f && x.eta !== null);
    if (!s) continue;
    const actual = wallSeconds - s.elapsed;
    out.push({ fraction: f, doneFraction: s.done / s.total, elapsed: s.elapsed, eta: s.eta!, actual, errorPct: actual > 0 ? (100 * (s.eta! - actual)) / actual : NaN });
  }
  return out;
}

/** A job of a replay: its duration and (for the pool simulation) what it waits for. */
export interface ReplayJob {
  id: string;
  seconds: number;
  deps?: string[];
}

/** A job placed in time. */
export interface ScheduledJob {
  id: string;
  start: number;
  end: number;
}

/**
 * Schedules `jobs` (in submission order) on `workers` workers like experiments/pool.ts (p-limit
 * behind Promise.all(deps)): a job joins the FIFO queue when its last dependency finishes (jobs
 * released at the same moment keep their submission order); a free worker takes the queue's head.
 * Returns the jobs in the order given.
 */
export function simulatePool(jobs: readonly ReplayJob[], workers: number): ScheduledJob[] {
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`workers must be a positive integer, got ${workers}`);
  const byId = new Map(jobs.map((j, i) => [j.id, i]));
  for (const j of jobs) for (const d of j.deps ?? []) if (!byId.has(d)) throw new Error(`job ${j.id}: unknown dependency ${d}`);
  const end = new Map<string, number>();
  const out: ScheduledJob[] = new Array<ScheduledJob>(jobs.length);
  const free: number[] = Array.from({ length: workers }, () => 0);
  const left = jobs.map((j, i) => ({ j, i }));
  // Queue entry time of a job = when its last dependency ended (0 without any).
  while (left.length > 0) {
    const ready = left.filter(({ j }) => (j.deps ?? []).every((d) => end.has(d)));
    if (ready.length === 0) throw new Error('dependency cycle among the replay jobs');
    const queued = (j: ReplayJob) => Math.max(0, ...(j.deps ?? []).map((d) => end.get(d)!));
    // Earliest-free worker takes the job that joined the queue first (ties: submission order).
    const w = free.indexOf(Math.min(...free));
    ready.sort((a, b) => Math.max(queued(a.j), free[w]) - Math.max(queued(b.j), free[w]) || queued(a.j) - queued(b.j) || a.i - b.i);
    const { j, i } = ready[0];
    const start = Math.max(queued(j), free[w]);
    free[w] = start + j.seconds;
    end.set(j.id, free[w]);
    out[i] = { id: j.id, start, end: free[w] };
    left.splice(left.findIndex((x) => x.i === i), 1);
  }
  return out;
}

/**
 * The ETA the bar would show at 10/25/50/75 % of the work when each job does its `units` at an even
 * pace between `start` and `end`. Exact: the done units are piecewise linear in time, so each
 * fraction's crossing time is solved on its segment.
 */
export function replayEta(jobs: readonly (ScheduledJob & { units: number })[], fractions: readonly number[] = ETA_FRACTIONS): EtaCheck[] {
  const total = jobs.reduce((a, j) => a + j.units, 0);
  const finish = Math.max(...jobs.map((j) => j.end));
  const doneAt = (t: number) =>
    jobs.reduce((a, j) => a + (j.end <= j.start ? (t >= j.end ? j.units : 0) : j.units * Math.min(1, Math.max(0, (t - j.start) / (j.end - j.start)))), 0);
  const times = [...new Set(jobs.flatMap((j) => [j.start, j.end]))].sort((a, b) => a - b);
  const out: EtaCheck[] = [];
  for (const f of fractions) {
    const target = f * total;
    let t = finish;
    for (let k = 1; k < times.length; k++) {
      const d1 = doneAt(times[k]);
      if (d1 >= target) {
        const d0 = doneAt(times[k - 1]);
        t = d1 > d0 ? times[k - 1] + ((target - d0) / (d1 - d0)) * (times[k] - times[k - 1]) : times[k];
        break;
      }
    }
    const done = doneAt(t);
    const eta = done > 0 && t > 0 ? ((total - done) * t) / done : NaN;
    const actual = finish - t;
    out.push({ fraction: f, doneFraction: done / total, elapsed: t, eta, actual, errorPct: actual > 0 ? (100 * (eta - actual)) / actual : NaN });
  }
  return out;
}

/** A fixed-width table of ETA checks, for the scripts. */
export function formatEtaTable(rows: readonly EtaCheck[]): string {
  const fmt = (s: number) => (Number.isFinite(s) ? `${Math.round(s)}s` : '?');
  const lines = ['work done  elapsed  ETA shown  actual left  error'];
  for (const r of rows) {
    const err = Number.isFinite(r.errorPct) ? `${r.errorPct >= 0 ? '+' : ''}${r.errorPct.toFixed(1)}%` : '?';
    lines.push(`${`${(100 * r.fraction).toFixed(0)}%`.padStart(9)}  ${fmt(r.elapsed).padStart(7)}  ${fmt(r.eta).padStart(9)}  ${fmt(r.actual).padStart(11)}  ${err.padStart(6)}`);
  }
  return lines.join('\n');
}
