/**
 * Progress reporting for long jobs: a bar with rate and ETA on an interactive stderr, and periodic
 * plain lines (rate, elapsed time, ETA) when stderr is not a terminal (CI logs, pipes). stdout
 * stays untouched so JSON output remains parseable. The plain line's format is parsed by
 * packages/bench/src/bench/eta-error.ts (ETA against the actual remaining time):
 *
 *     LABEL: DONE/TOTAL UNIT (PCT%) RATE UNIT/s elapsed 1m23s ETA 4m05s [INFO]
 *     LABEL: DONE/TOTAL UNIT (PCT%) RATE UNIT/s done in 5m28s [INFO]
 */
import cliProgress from 'cli-progress';

/** Handle returned by {@link startProgress}. */
export interface Progress {
  /** Advance by `n` units (default 1). */
  tick(n?: number, info?: string): void;
  /** Set the absolute position. */
  update(value: number, info?: string): void;
  /** Change the total (e.g. once it becomes known). */
  setTotal(total: number): void;
  stop(): void;
}

/** Options of {@link startProgress}. */
export interface ProgressOptions {
  /** Label printed before the bar. */
  label: string;
  /** Total number of units, if known. */
  total: number;
  /** Unit name for rates ("samples", "bytes", "steps"). */
  unit?: string;
  /** Starting value (for resumed jobs). */
  start?: number;
  /** Disable output entirely (tests, --quiet). */
  silent?: boolean;
  /** Seconds between plain lines when not on a TTY; default 10. */
  intervalSec?: number;
}

/** Counts as printed: whole numbers stay as they are, fractional work units are rounded. */
function formatCount(n: number): string {
  return String(Math.round(n));
}

/** Formats a duration like the ETA: `42s`, `4m05s`, `1h02m`; `?` when unknown. */
export function formatEta(sec: number): string {
  if (!Number.isFinite(sec) || sec < 0) return '?';
  // Round once, first: rounding the seconds field alone printed 119.6 s as "1m60s".
  const s = Math.round(sec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Starts a progress display on stderr. */
export function startProgress(opts: ProgressOptions): Progress {
  const unit = opts.unit ?? 'items';
  let value = opts.start ?? 0;
  let total = opts.total;
  const startValue = value;
  const t0 = Date.now();
  if (opts.silent || process.env.FALIGN_QUIET === '1') {
    return { tick: (n = 1) => void (value += n), update: (v) => void (value = v), setTotal: (t) => void (total = t), stop: () => {} };
  }
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${opts.label} [{bar}] {value}/{total} ${unit} | {rate}/s | elapsed {duration_formatted} | ETA {eta_formatted} {info}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      cliProgress.Presets.shades_classic,
    );
    // The bar shows whole units (work units are fractional); the rate uses the exact values.
    bar.start(Math.round(total), Math.round(value), { rate: '0.0', info: '' });
    const payload = (info?: string) => {
      const dt = (Date.now() - t0) / 1000;
      return { rate: dt > 0 ? ((value - startValue) / dt).toFixed(1) : '0.0', info: info ?? '' };
    };
    return {
      tick: (n = 1, info) => {
        value += n;
        bar.update(Math.round(value), payload(info));
      },
      update: (v, info) => {
        value = v;
        bar.update(Math.round(value), payload(info));
      },
      setTotal: (t) => {
        total = t;
        bar.setTotal(Math.round(t));
      },
      stop: () => bar.stop(),
    };
  }
  const interval = (opts.intervalSec ?? 10) * 1000;
  let lastPrint = t0;
  const line = (final: boolean, info?: string) => {
    const dt = (Date.now() - t0) / 1000;
    const rate = dt > 0 ? (value - startValue) / dt : 0;
    const eta = rate > 0 ? (total - value) / rate : NaN;
    const pct = total > 0 ? ((100 * value) / total).toFixed(1) : '?';
    process.stderr.write(
      `${opts.label}: ${formatCount(value)}/${formatCount(total)} ${unit} (${pct}%) ${rate.toFixed(1)} ${unit}/s ${final ? `done in ${formatEta(dt)}` : `elapsed ${formatEta(dt)} ETA ${formatEta(eta)}`}${info ? ` ${info}` : ''}\n`,
    );
  };
  const maybe = (info?: string) => {
    const now = Date.now();
    if (now - lastPrint >= interval) {
      lastPrint = now;
      line(false, info);
    }
  };
  return {
    tick: (n = 1, info) => {
      value += n;
      maybe(info);
    },
    update: (v, info) => {
      value = v;
      maybe(info);
    },
    setTotal: (t) => void (total = t),
    stop: () => line(true),
  };
}
