/**
 * Learning-rate schedules (step is 0-based), with the Hugging Face `transformers` conventions:
 * warmup rises linearly from 0 (step 0 → 0) to `peak` at `warmupSteps`.
 */
import type { LrSchedule } from '../types.js';

function check(name: string, field: string, v: number, min = 0): void {
  if (!Number.isFinite(v) || v < min) throw new Error(`${name}: ${field} must be a finite number ≥ ${min}, got ${v}`);
}

/** The same learning rate at every step. */
export function constantLr(lr: number): LrSchedule {
  check('constantLr', 'lr', lr);
  return () => lr;
}

/** Options of the warmup + decay schedules. */
export interface DecayScheduleOptions {
  /** Learning rate reached at the end of warmup. */
  peak: number;
  /** Linear warmup steps (default 0). */
  warmupSteps?: number;
  /** Step at which the decay reaches `minLr`; later steps stay at `minLr`. */
  totalSteps: number;
  /** Floor of the decay (default 0). */
  minLr?: number;
}

function validate(name: string, o: DecayScheduleOptions): { peak: number; warm: number; total: number; minLr: number } {
  const warm = o.warmupSteps ?? 0;
  const minLr = o.minLr ?? 0;
  check(name, 'peak', o.peak);
  check(name, 'warmupSteps', warm);
  check(name, 'totalSteps', o.totalSteps);
  check(name, 'minLr', minLr);
  if (warm > o.totalSteps) throw new Error(`${name}: warmupSteps ${warm} exceeds totalSteps ${o.totalSteps}`);
  if (minLr > o.peak) throw new Error(`${name}: minLr ${minLr} exceeds peak ${o.peak}`);
  return { peak: o.peak, warm, total: o.totalSteps, minLr };
}

/** Fraction of the decay done at `step` (0 at the end of warmup, 1 at totalSteps). */
function progress(step: number, warm: number, total: number): number {
  return Math.min(1, Math.max(0, (step - warm) / Math.max(1, total - warm)));
}

/** Linear warmup, then cosine decay from `peak` to `minLr` (HF `get_cosine_schedule_with_warmup` when minLr = 0). */
export function warmupCosineLr(opts: DecayScheduleOptions): LrSchedule {
  const { peak, warm, total, minLr } = validate('warmupCosineLr', opts);
  return (step) => {
    if (step < warm) return (peak * step) / warm;
    return minLr + (peak - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress(step, warm, total)));
  };
}

/** Linear warmup, then linear decay from `peak` to `minLr` (HF `get_linear_schedule_with_warmup` when minLr = 0). */
export function linearDecayLr(opts: DecayScheduleOptions): LrSchedule {
  const { peak, warm, total, minLr } = validate('linearDecayLr', opts);
  return (step) => {
    if (step < warm) return (peak * step) / warm;
    return minLr + (peak - minLr) * (1 - progress(step, warm, total));
  };
}
