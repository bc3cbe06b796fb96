/**
 * Host reads that work on every backend. tfjs-backend-webgpu in Node has no synchronous read
 * (`dataSync` needs an OffscreenCanvas), yet a loss closure run by `tf.variableGrads` must be
 * synchronous. So code inside such a closure schedules its reads with {@link readWhenReady}: with no
 * collector active they happen at once (as `dataSync` did), and inside {@link withDeferredReads}
 * they are queued and resolved together by one awaited {@link DeferredReads.flush}.
 */
import { tf } from './backend.js';

/** Values of a tensor as returned by `data()`. */
export type HostValues = Float32Array | Int32Array | Uint8Array;

/**
 * Whether the active backend can read a device tensor synchronously: all but webgpu in an
 * environment without OffscreenCanvas (Node).
 */
export function canReadSync(): boolean {
  if (tf.getBackend() !== 'webgpu') return true;
  return typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined';
}

interface Pending {
  /** null: a callback with no read of its own (see {@link DeferredReads.after}). */
  t: tf.Tensor | null;
  use: (values: HostValues) => void;
}

/**
 * A queue of host reads: tensors scheduled while a synchronous computation runs, read together by
 * one awaited {@link flush}, after which their callbacks run in the order they were scheduled.
 */
export class DeferredReads {
  private pending: Pending[] = [];

  /** Number of reads waiting for {@link flush}. */
  get size(): number {
    return this.pending.length;
  }

  /**
   * Schedules a read of `t`. The queue holds its own reference (a kept clone sharing the data), so
   * `t` may be disposed, e.g. by the tidy scope it was made in, before the flush.
   */
  read(t: tf.Tensor, use: (values: HostValues) => void): void {
    this.pending.push({ t: tf.keep(t.clone()), use });
  }

  /** Schedules `fn` to run at the flush after the callbacks of the reads scheduled before it. */
  after(fn: () => void): void {
    this.pending.push({ t: null, use: () => fn() });
  }

  /**
   * Reads every scheduled tensor (all reads in flight at once), then runs the callbacks in order.
   * The queue is empty afterwards, also when a read or a callback throws (the first error is rethrown).
   */
  async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = [];
    try {
      const values = await Promise.all(batch.map((p) => (p.t ? (p.t.data() as Promise<HostValues>) : null)));
      batch.forEach((p, i) => p.use(values[i] as HostValues));
    } finally {
      disposeAll(batch);
    }
  }

  /** Drops the scheduled reads without running their callbacks. */
  dispose(): void {
    disposeAll(this.pending);
    this.pending = [];
  }
}

function disposeAll(batch: readonly Pending[]): void {
  for (const p of batch) p.t?.dispose();
}

let active: DeferredReads | null = null;

/**
 * Runs `fn` (synchronously) with `reads` as the collector of {@link readWhenReady}; the previous
 * collector, if any, is restored afterwards.
 */
export function withDeferredReads<T>(reads: DeferredReads, fn: () => T): T {
  const prev = active;
  active = reads;
  try {
    return fn();
  } finally {
    active = prev;
  }
}

/** The collector {@link withDeferredReads} made active, or null. */
export function activeDeferredReads(): DeferredReads | null {
  return active;
}

/** Runs `fn` now when no collector is active, else after the callbacks already scheduled on it. */
export function afterReads(fn: () => void): void {
  if (active) active.after(fn);
  else fn();
}

/**
 * Reads `t` and passes its values to `use`: at once (a synchronous read) when no collector is
 * active, else when the active collector is flushed. Either way the values and the order of the
 * callbacks are the same; only the time differs.
 */
export function readWhenReady(t: tf.Tensor, use: (values: HostValues) => void): void {
  if (active) active.read(t, use);
  else use(t.dataSync() as HostValues);
}
