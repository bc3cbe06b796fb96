/**
 * A second thread for large matrix products on the wasm backend. tfjs-backend-wasm runs single-
 * threaded in Node (its threaded build is disabled there), so a training step uses one core while
 * OpenBLAS may use two. Here one worker thread runs its own tfjs-wasm (the same XNNPACK GEMM);
 * a large product's rows are split: the worker computes the lower part from a SharedArrayBuffer
 * while the calling thread computes the upper part natively, then both parts are copied into the
 * output. Synchronisation is Atomics.wait/notify, so kernels stay synchronous.
 *
 * Env FALIGN_THREADS: threads for products (2 turns the worker on; unset or 1: off, see
 * {@link gemmThreads}; unlike the SIMD GEMM's split in kernels/gemm-threads.ts, on by default,
 * this XNNPACK fallback stays opt-in). Products under {@link MIN_PARALLEL_MACS} stay on one thread.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';

type Info = tf.TensorInfo;

/** Multiply-accumulates below which splitting costs more than it saves (copies, wake-up). */
export const MIN_PARALLEL_MACS = 1 << 22;
/** Floats of the shared buffer (a rows, b, bias, out rows); larger products stay on one thread. */
const CAPACITY = 4 << 20;

const IDLE = 0;
const JOB = 1;
const DONE = 2;
const FAILED = 3;
const STOP = 4;

const WORKER_SRC = `
const { workerData, parentPort } = require('node:worker_threads');
const tf = require(workerData.core);
require(workerData.wasm);
(async () => {
  await tf.setBackend('wasm');
  await tf.ready();
  const ctl = new Int32Array(workerData.sab, 0, 16);
  const data = new Float32Array(workerData.sab, 64);
  parentPort.postMessage('ready');
  for (;;) {
    Atomics.wait(ctl, 0, ${IDLE});
    const state = Atomics.load(ctl, 0);
    if (state === ${STOP}) break;
    if (state !== ${JOB}) continue;
    const m = ctl[1], k = ctl[2], n = ctl[3], hasBias = ctl[4] === 1;
    try {
      const y = tf.tidy(() => {
        const a = tf.tensor2d(data.subarray(0, m * k), [m, k]);
        const b = tf.tensor2d(data.subarray(m * k, m * k + k * n), [k, n]);
        if (!hasBias) return tf.matMul(a, b);
        const bias = tf.tensor1d(data.subarray(m * k + k * n, m * k + k * n + n));
        return tf.fused.matMul({ a, b, bias });
      });
      data.set(y.dataSync(), m * k + k * n + n);
      y.dispose();
      Atomics.store(ctl, 0, ${DONE});
    } catch (e) {
      Atomics.store(ctl, 0, ${FAILED});
    }
    Atomics.notify(ctl, 0);
  }
})();
`;

interface Pool {
  worker: Worker;
  ctl: Int32Array;
  data: Float32Array;
  ready: boolean;
  failed: boolean;
}

let pool: Pool | null = null;
let starting: Promise<boolean> | null = null;

/**
 * Threads used for large products: FALIGN_THREADS (1 or 2; more counts as 2), default 1. Opt-in:
 * on the shared 2-core development machine (load average 4–10) the split cost ~10% per training
 * step even with the adaptive choice below, and it could not be measured on a quiet machine.
 */
export function gemmThreads(): number {
  const env = process.env.FALIGN_THREADS;
  if (env !== undefined && env.trim() !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`FALIGN_THREADS must be a positive integer, got '${env}'`);
    return Math.min(n, 2, Math.max(1, availableParallelism()));
  }
  return 1;
}

/**
 * Starts the worker (once per process) and resolves whether it can take work. Products run on one
 * thread until then, or for good if the worker fails.
 */
export async function startGemmPool(): Promise<boolean> {
  if (gemmThreads() < 2) return false;
  if (starting) return starting;
  starting = start();
  return starting;
}

async function start(): Promise<boolean> {
  if (pool === null) {
    const req = createRequire(import.meta.url);
    const sab = new SharedArrayBuffer(64 + 4 * CAPACITY);
    const worker = new Worker(WORKER_SRC, {
      eval: true,
      workerData: { sab, core: req.resolve('@tensorflow/tfjs-core'), wasm: req.resolve('@tensorflow/tfjs-backend-wasm') },
    });
    // The worker blocks in Atomics.wait between jobs; it must not keep the process alive.
    worker.unref();
    const p: Pool = { worker, ctl: new Int32Array(sab, 0, 16), data: new Float32Array(sab, 64), ready: false, failed: false };
    pool = p;
    await new Promise<void>((resolve) => {
      worker.once('message', () => {
        p.ready = true;
        resolve();
      });
      worker.once('error', () => {
        p.failed = true;
        resolve();
      });
      worker.once('exit', () => {
        p.failed = true;
        resolve();
      });
    });
  }
  return pool.ready && !pool.failed;
}

/**
 * Whether a product of this size would be split now. The first large product starts the worker
 * (in the background: it runs on one thread until the worker is ready), so processes that never
 * multiply large matrices never start one.
 */
export function parallelApplies(m: number, k: number, n: number): boolean {
  const large = m >= 16 && m * k * n >= MIN_PARALLEL_MACS;
  if (large && pool === null && gemmThreads() >= 2) void startGemmPool();
  return (
    large &&
    pool !== null &&
    pool.ready &&
    !pool.failed &&
    gemmThreads() >= 2 &&
    Math.ceil(m / 2) * k + k * n + n + Math.ceil(m / 2) * n <= CAPACITY
  );
}

type WasmBackend = tf.KernelBackend & {
  makeOutput(shape: number[], dtype: tf.DataType): Info;
  typedArrayFromHeap(t: Info): Float32Array;
  disposeData(dataId: object, force?: boolean): boolean;
};

/**
 * Which way pays off now, measured: the split needs the worker to be scheduled promptly, which a
 * loaded machine does not guarantee (then waiting costs more than the half it saves). The time of
 * both ways is tracked per product shape (exponential average); the faster one is used and the
 * other re-measured every {@link PROBE_EVERY} products of that shape.
 */
const PROBE_EVERY = 16;
interface Speed {
  split: number;
  single: number;
  calls: number;
}
/** Per product shape: the two ways differ by shape (a long inner dimension splits better). */
const speeds = new Map<string, Speed>();
const counts = { split: 0, single: 0 };

/** How many large products ran split across threads and on one thread (diagnostics, tests). */
export function gemmPoolCounts(): { split: number; single: number } {
  return { ...counts };
}

function preferSplit(sp: Speed): boolean {
  sp.calls++;
  if (Number.isNaN(sp.split)) return true;
  if (Number.isNaN(sp.single)) return false;
  const best = sp.split <= sp.single;
  return sp.calls % PROBE_EVERY === 0 ? !best : best;
}

function record(sp: Speed, way: 'split' | 'single', ms: number): void {
  sp[way] = Number.isNaN(sp[way]) ? ms : 0.7 * sp[way] + 0.3 * ms;
}

/**
 * a [m, k] · b [k, n] (+ bias [n]), rows split between this thread (`native` on a row prefix of
 * `a`: tfjs-wasm's kernel) and the worker when that applies and currently pays off; else
 * `native(a)`.
 */
export function parallelMatmul(be: WasmBackend, a: Info, b: Info, bias: Info | null, native: (aRows: Info) => Info): Info {
  const [m, k] = a.shape;
  const n = b.shape[1];
  if (!parallelApplies(m, k, n)) return native(a);
  const key = `${m}x${k}x${n}${bias ? '+b' : ''}`;
  let sp = speeds.get(key);
  if (!sp) speeds.set(key, (sp = { split: NaN, single: NaN, calls: 0 }));
  const t0 = performance.now();
  if (!preferSplit(sp)) {
    const out = native(a);
    record(sp, 'single', performance.now() - t0);
    counts.single++;
    return out;
  }
  const out = splitMatmul(be, a, b, bias, native);
  if (out === null) return native(a);
  record(sp, 'split', performance.now() - t0);
  counts.split++;
  return out;
}

function splitMatmul(be: WasmBackend, a: Info, b: Info, bias: Info | null, native: (aTop: Info) => Info): Info | null {
  const [m, k] = a.shape;
  const n = b.shape[1];
  const p = pool!;
  const mTop = Math.floor(m / 2);
  const mLow = m - mTop;
  const A = be.typedArrayFromHeap(a);
  p.data.set(A.subarray(mTop * k, m * k), 0);
  p.data.set(be.typedArrayFromHeap(b), mLow * k);
  if (bias) p.data.set(be.typedArrayFromHeap(bias), mLow * k + k * n);
  p.ctl[1] = mLow;
  p.ctl[2] = k;
  p.ctl[3] = n;
  p.ctl[4] = bias ? 1 : 0;
  Atomics.store(p.ctl, 0, JOB);
  Atomics.notify(p.ctl, 0);
  let top: Info | null = null;
  try {
    top = native({ dataId: a.dataId, shape: [mTop, k], dtype: a.dtype });
  } finally {
    // Always collect the worker's answer so the next job starts from IDLE.
    while (Atomics.load(p.ctl, 0) === JOB) Atomics.wait(p.ctl, 0, JOB);
  }
  const state = Atomics.load(p.ctl, 0);
  Atomics.store(p.ctl, 0, IDLE);
  if (state !== DONE) {
    p.failed = true; // stay on one thread from now on
    be.disposeData(top.dataId, true);
    return null;
  }
  const out = be.makeOutput([m, n], 'float32');
  // Views after the allocation (it may grow and move the wasm heap).
  const o = be.typedArrayFromHeap(out);
  o.set(be.typedArrayFromHeap({ ...top, shape: [mTop, n] }).subarray(0, mTop * n), 0);
  o.set(p.data.subarray(mLow * k + k * n + n, mLow * k + k * n + n + mLow * n), mTop * n);
  be.disposeData(top.dataId, true);
  return out;
}

/** Stops the worker (tests; the process also exits without it). */
export async function stopGemmPool(): Promise<void> {
  if (starting) await starting;
  if (pool === null) return;
  const p = pool;
  pool = null;
  starting = null;
  Atomics.store(p.ctl, 0, STOP);
  Atomics.notify(p.ctl, 0);
  await p.worker.terminate();
}
