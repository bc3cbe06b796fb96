/**
 * Per-step metrics: one JSON line per optimizer step appended to `<runDir>/metrics.jsonl`, a
 * compact line with rate and ETA on stderr, and the two "loss is 0" warnings (anchors A.6).
 */
import { appendFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StepMetrics } from './types.js';

/** mean, unbiased std, min, max of the finite values (NaN fields when there are none). */
export function summarize(xs: readonly (number | null)[]): { mean: number; std: number; min: number; max: number } {
  const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
  if (v.length === 0) return { mean: NaN, std: NaN, min: NaN, max: NaN };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1));
  return { mean, std, min: Math.min(...v), max: Math.max(...v) };
}

/**
 * The zero-gradient traps: every group with zero reward variance (all advantages 0), or every
 * completion truncated at maxNewTokens. Returns the warning texts (empty when fine).
 */
export function zeroSignalWarnings(fracRewardZeroStd: number, clippedRatio: number): string[] {
  const w: string[] = [];
  if (fracRewardZeroStd === 1) {
    w.push('every group has zero reward variance (frac_reward_zero_std = 1): all advantages are 0 and this step has no learning signal');
  }
  if (clippedRatio === 1) {
    w.push('every completion hit maxNewTokens (clipped_ratio = 1): raise maxNewTokens or the rewards may all be 0');
  }
  return w;
}

const COMPACT_KEYS = ['loss', 'reward', 'reward_std', 'frac_reward_zero_std', 'kl', 'entropy', 'grad_norm', 'lr'];

function fmt(x: unknown): string {
  if (typeof x !== 'number') return String(x);
  if (x === 0 || !Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1e4 || Math.abs(x) < 1e-3 ? x.toExponential(2) : x.toPrecision(4);
}

/** Writes metrics lines and progress. */
export class MetricsLogger {
  private readonly file: string | null;
  private started = Date.now();
  private stepsThisSession = 0;

  constructor(
    runDir: string | undefined,
    private readonly print = true,
  ) {
    this.file = runDir ? join(runDir, 'metrics.jsonl') : null;
  }

  /** Drops lines after `step` (a resumed run rewrites the steps it repeats). */
  async truncateAfter(step: number): Promise<void> {
    if (!this.file) return;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return;
    }
    const kept = text
      .split('\n')
      .filter((l) => l.trim().length > 0)
      .filter((l, i) => {
        try {
          return (JSON.parse(l) as { step: number }).step <= step;
        } catch {
          throw new Error(`${this.file}:${i + 1}: not valid JSON`);
        }
      });
    await writeFile(this.file, kept.map((l) => `${l}\n`).join(''));
  }

  /** Marks the start of a `train()` call (for rate and ETA). */
  startSession(): void {
    this.started = Date.now();
    this.stepsThisSession = 0;
  }

  /** Appends one line and prints progress; `remaining` = steps left in this train() call. */
  async write(m: StepMetrics, remaining: number): Promise<void> {
    this.stepsThisSession++;
    if (this.file) {
      await mkdir(join(this.file, '..'), { recursive: true });
      await appendFile(this.file, `${JSON.stringify(m)}\n`);
    }
    const warnings = (m.warnings as string[] | undefined) ?? [];
    if (!this.print) return;
    const elapsed = (Date.now() - this.started) / 1000;
    const rate = this.stepsThisSession / Math.max(elapsed, 1e-9);
    const eta = remaining / rate;
    const parts = COMPACT_KEYS.filter((k) => typeof m[k] === 'number').map((k) => `${k}=${fmt(m[k])}`);
    process.stderr.write(`[step ${m.step}] ${parts.join(' ')} | ${rate.toFixed(2)} step/s, ETA ${eta.toFixed(0)}s\n`);
    for (const w of warnings) process.stderr.write(`[step ${m.step}] WARNING: ${w}\n`);
  }
}
