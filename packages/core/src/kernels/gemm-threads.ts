/**
 * A second thread for falign's SIMD GEMM (assembly/gemm.ts) on the wasm backend: tfjs-wasm runs
 * single-threaded in Node, while the PyTorch reference uses two cores. One worker thread runs its
 * own instance of the same module on its own wasm memory; a large product is split between it and
 * the calling thread, always by rows of the output C, never along the summed dimension:
 *  - A·B (+ bias): the calling thread computes the top rows in place in tfjs's heap; the worker's
 *    rows of A, and B (and the bias), go through a SharedArrayBuffer (tfjs-wasm's memory is not
 *    shared, so its half cannot be zero-copy), and its rows of C come back the same way.
 *  - Aᵀ·B (dW = xᵀ·dy, A [tokens, M]): the worker gets A whole and B and computes C's bottom rows
 *    from A's right-hand columns (gemmTNCols, A read with its full row stride).
 * Bit-identical to one thread: the kernel sums every element of C over the same p in the same
 * order (KC chunks from p = 0) whatever block of rows it computes and whichever tile or edge code
 * an element falls in, and both threads run the same module. So a split changes no number, and
 * neither does the timing-based choice below (a training run is reproducible on one backend
 * whether or not, and where, products split). The split rows are a multiple of 4 (whole tiles).
 * Both sides spin for a while before sleeping in Atomics.wait: the products of a training step
 * come in bursts, and a futex wake-up costs tens of microseconds (milliseconds on a busy machine).
 * Whether the split pays is measured per product shape (both ways timed, the median of the last
 * few of each compared, the slower one re-tried every {@link PROBE_EVERY} products), so a loaded
 * machine falls back to one thread by itself.
 *
 * Env FALIGN_THREADS: 1 turns the split off, 2 (more counts as 2) on; the default is 2 where the
 * machine has 2 or more cores (see {@link simdGemmThreads}). Products under
 * {@link MIN_SPLIT_MACS} multiply-adds stay on one thread.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { WASM_BASE64 as GEMM } from './simd/gemm-wasm.js';
import type { SimdGemm } from './simd/load.js';

/**
 * Multiply-adds below which splitting costs more than it saves (copies, hand-over): measured on
 * the reference workload, 1024 × 128 × 128 (2^24) gains 1.7×, 1024 × 128 × 64 loses.
 */
export const MIN_SPLIT_MACS = 1 << 24;
/** Floats of the shared buffer; products whose worker part needs more stay on one thread. */
const CAPACITY = 2 << 20;
/** How long each side spins (ms) for the other before sleeping (FALIGN_GEMM_SPIN_MS; A/B). */
const SPIN_MS = Number(process.env.FALIGN_GEMM_SPIN_MS ?? 1);
const PROBE_EVERY = 16;

const IDLE = 0;
const JOB = 1;
const DONE = 2;
const FAILED = 3;
const STOP = 4;
/** ctl slot the worker sets to 1 once it takes jobs. */
const READY = 15;
/** A job not finished after this long counts as a dead worker: one thread from then on. */
const STALL_MS = 10_000;
/** Job kinds (ctl[1]). */
const NN = 0;
const TN = 1;

/**
 * The worker. Its wasm memory: the 4 KiB scratch panel at 0, then the job's operands (copied in
 * from the shared buffer) and result (copied back). Shared-buffer layout, in floats: A, B, bias
 * (NN only), C. ctl: [state, kind, K, M, N, hasBias, lda, col0]; for TN, A is [K, lda] whole and
 * the job is C = A[:, col0 .. col0 + M]ᵀ·B.
 */
const WORKER_SRC = `
const { workerData, parentPort } = require('node:worker_threads');
const memory = new WebAssembly.Memory({ initial: 64 });
const ex = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(workerData.wasm, 'base64')), { env: { memory } }).exports;
const ctl = new Int32Array(workerData.sab, 0, 16);
const data = new Float32Array(workerData.sab, 64);
const SCRATCH = 0, BASE = 4096;
// Readiness through the shared buffer: a synchronous training loop may never yield to the event
// loop that would deliver a message.
Atomics.store(ctl, ${READY}, 1);
parentPort.postMessage('ready');
for (;;) {
  if (Atomics.load(ctl, 0) === ${IDLE}) {
    const t0 = performance.now();
    let i = 0;
    while (Atomics.load(ctl, 0) === ${IDLE}) {
      if ((++i & 1023) === 0 && performance.now() - t0 > workerData.spinMs) {
        Atomics.wait(ctl, 0, ${IDLE});
        break;
      }
    }
  }
  const state = Atomics.load(ctl, 0);
  if (state === ${STOP}) break;
  if (state !== ${JOB}) continue;
  try {
    const kind = ctl[1], K = ctl[2], M = ctl[3], N = ctl[4], hasBias = ctl[5] === 1, lda = ctl[6], col0 = ctl[7];
    const nA = kind === ${NN} ? M * K : K * lda;
    const nIn = nA + K * N + (hasBias ? N : 0);
    const need = BASE + 4 * (nIn + M * N);
    if (need > memory.buffer.byteLength) memory.grow(Math.ceil((need - memory.buffer.byteLength) / 65536));
    const heap = new Float32Array(memory.buffer);
    heap.set(data.subarray(0, nIn), BASE / 4);
    const a = BASE, b = a + 4 * nA, bias = hasBias ? b + 4 * K * N : 0, c = b + 4 * K * N + (hasBias ? 4 * N : 0);
    if (kind === ${NN}) ex.gemmNN(a, b, c, bias, K, M, N, SCRATCH);
    else ex.gemmTNCols(a + 4 * col0, b, c, K, M, N, lda, SCRATCH);
    data.set(heap.subarray(c / 4, c / 4 + M * N), nIn);
    Atomics.store(ctl, 0, ${DONE});
  } catch (e) {
    Atomics.store(ctl, 0, ${FAILED});
  }
  Atomics.notify(ctl, 0);
}
`;

interface Pool {
  worker: Worker;
  ctl: Int32Array;
  data: Float32Array;
  failed: boolean;
}

const ready = (p: Pool): boolean => !p.failed && Atomics.load(p.ctl, READY) === 1;

let pool: Pool | null = null;
let starting: Promise<boolean> | null = null;

let cores: number | undefined;

/**
 * Threads for SIMD products: FALIGN_THREADS (a positive integer; more than 2 counts as 2), default
 * 2; either way capped by the cores (availableParallelism()). On by default since the split is
 * bit-identical to one thread (see the header): on the quiet 2-core development machine (load
 * average < 1) the reference training step ran 24 % more tokens/s (core-bench: 8127 → 10554). Processes that already fill the cores (parallel worker processes)
 * should set FALIGN_THREADS=1: on a loaded machine the worker rarely gets a core, and although the
 * per-shape measurement then keeps products on one thread, its probes cost a few %.
 * Read per call (A/B runs in one process).
 */
export function simdGemmThreads(): number {
  const env = process.env.FALIGN_THREADS;
  cores ??= Math.max(1, availableParallelism());
  if (env !== undefined && env.trim() !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`FALIGN_THREADS must be a positive integer, got '${env}'`);
    return Math.min(n, 2, cores);
  }
  return Math.min(2, cores);
}

/** Starts the worker (once per process); resolves whether it can take work. */
export async function startGemmThreads(): Promise<boolean> {
  if (simdGemmThreads() < 2) return false;
  starting ??= start();
  return starting;
}

async function start(): Promise<boolean> {
  const sab = new SharedArrayBuffer(64 + 4 * CAPACITY);
  const worker = new Worker(WORKER_SRC, { eval: true, workerData: { sab, wasm: GEMM, spinMs: SPIN_MS } });
  // The worker blocks in Atomics.wait between jobs; it must not keep the process alive.
  worker.unref();
  const p: Pool = { worker, ctl: new Int32Array(sab, 0, 16), data: new Float32Array(sab, 64), failed: false };
  pool = p;
  worker.on('error', () => {
    p.failed = true;
  });
  worker.on('exit', () => {
    p.failed = true;
  });
  await new Promise<void>((resolve) => {
    worker.once('message', () => resolve());
    worker.once('error', () => {
      p.failed = true;
      resolve();
    });
    worker.once('exit', () => {
      p.failed = true;
      resolve();
    });
  });
  return ready(p);
}

/** Stops the worker (tests; the process also exits without it). */
export async function stopGemmThreads(): Promise<void> {
  if (starting) await starting;
  const p = pool;
  pool = null;
  starting = null;
  if (p === null) return;
  Atomics.store(p.ctl, 0, STOP);
  Atomics.notify(p.ctl, 0);
  await p.worker.terminate();
}

/** The pool when a product of `macs` multiply-adds with `floats` floats of worker data may split now. */
function usable(macs: number, floats: number): Pool | null {
  if (macs < MIN_SPLIT_MACS || floats > CAPACITY || simdGemmThreads() < 2) return null;
  // The first large product starts the worker in the background (one thread until it is ready).
  if (pool === null) void startGemmThreads();
  return pool !== null && ready(pool) ? pool : null;
}

/** Split policy override for benchmarks and tests: 'auto' (measured per shape), 'always', 'never'. */
export type SplitPolicy = 'auto' | 'always' | 'never';
let policy: SplitPolicy = 'auto';
/** Sets the split policy; returns the previous one. */
export function setSplitPolicy(p: SplitPolicy): SplitPolicy {
  const old = policy;
  policy = p;
  return old;
}

/** Recent samples kept per way and shape; their median is the estimate (robust to preemption). */
const WINDOW = 7;
interface Speed {
  split: number[];
  single: number[];
  /** Samples seen per way; the first of each is a warm-up (JIT, memory growth) and not kept. */
  nSplit: number;
  nSingle: number;
  calls: number;
  /** Calls between probes of the slower way: doubles (to 512) while the split keeps losing. */
  every: number;
}

function medianOf(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}
const speeds = new Map<string, Speed>();
const counts = { split: 0, single: 0 };

/** How many large products ran split and on one thread (diagnostics, tests). */
export function gemmThreadCounts(): { split: number; single: number } {
  return { ...counts };
}

/** Per product shape: the averaged ms of both ways and how often each ran (diagnostics). */
export function gemmThreadSpeeds(): Record<string, { split: number; single: number; nSplit: number; nSingle: number }> {
  return Object.fromEntries([...speeds].map(([k, v]) => [k, { split: medianOf(v.split), single: medianOf(v.single), nSplit: v.nSplit, nSingle: v.nSingle }]));
}

/** Whether to split this call: the faster way so far, the other re-measured now and then. */
function preferSplit(key: string): Speed | null {
  let sp = speeds.get(key);
  if (!sp) speeds.set(key, (sp = { split: [], single: [], nSplit: 0, nSingle: 0, calls: 0, every: PROBE_EVERY }));
  if (policy !== 'auto') return policy === 'always' ? sp : null;
  sp.calls++;
  if (sp.nSplit < 2) return sp;
  if (sp.nSingle < 2) return null;
  const best = medianOf(sp.split) <= medianOf(sp.single);
  const probe = sp.calls % sp.every === 0;
  // On a busy machine the split keeps losing, and each probe costs: probe less and less often.
  if (best) sp.every = PROBE_EVERY;
  else if (probe) sp.every = Math.min(512, 2 * sp.every);
  return (probe ? !best : best) ? sp : null;
}

function record(key: string, way: 'split' | 'single', ms: number): void {
  const sp = speeds.get(key);
  if (!sp) return;
  const n = way === 'split' ? ++sp.nSplit : ++sp.nSingle;
  if (n === 1) return; // warm-up
  const xs = sp[way];
  xs.push(ms);
  if (xs.length > WINDOW) xs.shift();
}

/** Hands the job over (operands already in p.data); lda, col0: TN's A layout (see WORKER_SRC). */
function post(p: Pool, kind: number, K: number, M: number, N: number, hasBias: boolean, lda = 0, col0 = 0): void {
  p.ctl[1] = kind;
  p.ctl[2] = K;
  p.ctl[3] = M;
  p.ctl[4] = N;
  p.ctl[5] = hasBias ? 1 : 0;
  p.ctl[6] = lda;
  p.ctl[7] = col0;
  Atomics.store(p.ctl, 0, JOB);
  Atomics.notify(p.ctl, 0);
}

/**
 * Waits for the worker (spinning first); false, and one thread from now on, if it failed or
 * stalled past {@link STALL_MS} (a worker that died cannot answer; the caller then computes its
 * part itself, and no job is posted again, so a late answer is never read).
 */
function collect(p: Pool): boolean {
  const t0 = performance.now();
  let i = 0;
  while (Atomics.load(p.ctl, 0) === JOB) {
    if ((++i & 1023) === 0 && performance.now() - t0 > SPIN_MS) {
      while (Atomics.load(p.ctl, 0) === JOB && performance.now() - t0 < STALL_MS) Atomics.wait(p.ctl, 0, JOB, 100);
      break;
    }
  }
  const ok = Atomics.load(p.ctl, 0) === DONE;
  if (ok) Atomics.store(p.ctl, 0, IDLE);
  else p.failed = true;
  return ok;
}

/** Offsets (bytes) into tfjs-wasm's heap and a Float32Array over it (re-read per call: the heap moves). */
export interface Heap {
  f32(): Float32Array;
}

/**
 * One product, on one thread (`single`) or split (`split`, which computes the worker's part itself
 * and returns false when the worker failed): the split when the pool is usable and the per-shape
 * policy prefers it. The time of the way taken is recorded for `key` whenever the pool was usable.
 */
function splitOrSingle(key: string, p: Pool | null, single: () => void, split: (p: Pool) => boolean): void {
  const sp = p ? preferSplit(key) : null;
  const t0 = performance.now();
  if (!p || !sp) {
    single();
    if (p) {
      record(key, 'single', performance.now() - t0);
      counts.single++;
    }
    return;
  }
  if (!split(p)) return;
  record(key, 'split', performance.now() - t0);
  counts.split++;
}

/**
 * C [M, N] = A·B (+ bias) at byte offsets a, b, c, bias (0: none) of tfjs-wasm's heap, split
 * across two threads when that applies and pays (see the header), else `g.gemmNN` here.
 */
export function gemmNNThreaded(g: SimdGemm, heap: Heap, a: number, b: number, c: number, bias: number, K: number, M: number, N: number): void {
  const mLow = Math.floor(M * 0.45) & ~3; // the worker also copies its operands in and out
  const p = M >= 32 ? usable(M * K * N, mLow * K + K * N + N + mLow * N) : null;
  splitOrSingle(`nn${M}x${K}x${N}`, p, () => g.gemmNN(a, b, c, bias, K, M, N), (p) => {
    const mTop = M - mLow;
    const h = heap.f32();
    const nA = mLow * K;
    p.data.set(h.subarray((a >> 2) + mTop * K, (a >> 2) + M * K), 0);
    p.data.set(h.subarray(b >> 2, (b >> 2) + K * N), nA);
    if (bias) p.data.set(h.subarray(bias >> 2, (bias >> 2) + N), nA + K * N);
    post(p, NN, K, mLow, N, bias !== 0);
    g.gemmNN(a, b, c, bias, K, mTop, N);
    if (!collect(p)) {
      g.gemmNN(a + 4 * mTop * K, b, c + 4 * mTop * N, bias, K, mLow, N);
      return false;
    }
    const off = nA + K * N + (bias ? N : 0);
    heap.f32().set(p.data.subarray(off, off + mLow * N), (c >> 2) + mTop * N);
    return true;
  });
}

/**
 * C [M, N] = Aᵀ·B for A [K, M], B [K, N] at byte offsets of tfjs-wasm's heap, C's rows split across
 * two threads when that applies and pays (bit-identical either way, see the header), else
 * `g.gemmTN` here.
 */
export function gemmTNThreaded(g: SimdGemm, heap: Heap, a: number, b: number, c: number, K: number, M: number, N: number): void {
  // The worker's rows: whole 4-row tiles, a little under half (it also copies A and B in, C out).
  const mLow = Math.floor(M * 0.45) & ~3;
  const p = M >= 32 ? usable(M * K * N, K * M + K * N + mLow * N) : null;
  splitOrSingle(`tn${K}x${M}x${N}`, p, () => g.gemmTN(a, b, c, K, M, N), (p) => {
    const mTop = M - mLow;
    const h = heap.f32();
    // A whole (one contiguous copy; the worker reads its columns with A's row stride), then B.
    p.data.set(h.subarray(a >> 2, (a >> 2) + K * M), 0);
    p.data.set(h.subarray(b >> 2, (b >> 2) + K * N), K * M);
    post(p, TN, K, mLow, N, false, M, mTop);
    g.gemmTNCols(a, b, c, K, mTop, N, M);
    if (!collect(p)) {
      g.gemmTNCols(a + 4 * mTop, b, c + 4 * mTop * N, K, mLow, N, M);
      return false;
    }
    const off = K * M + K * N;
    heap.f32().set(p.data.subarray(off, off + mLow * N), (c >> 2) + mTop * N);
    return true;
  });
}
