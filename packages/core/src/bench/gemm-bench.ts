/**
 * Linear-layer product benchmark on wasm: the reference training step's shapes (1024 token rows)
 * through FalignLinear (y = x·W + b) and FalignLinearGrad (dx, dW, db) with falign's SIMD GEMM
 * (assembly/gemm.ts) on one thread, split across two (kernels/gemm-threads.ts, always split), and
 * with tfjs-wasm's XNNPACK path (FALIGN_SIMD_GEMM=0), interleaved, plus attention's batched
 * per-head products (one thread). Each timed call gets a fresh W, as in training (W changes
 * every step, so XNNPACK cannot reuse its packed copy). Prints minimum and median ms per call and
 * GFLOP/s (of the minimum), then one JSON line. On a loaded machine read the minima.
 *
 * Env: GEMM_REPS (timed calls per round and mode, default 10), GEMM_ROUNDS (default 5).
 */
import { loadavg } from 'node:os';
import { initBackend, tf } from '../backend.js';
import { linearGradKernel2d, linearKernel2d, registerLinearKernels } from '../kernels/linear.js';
import { setSplitPolicy, startGemmThreads, stopGemmThreads } from '../kernels/gemm-threads.js';

/** [rows, in, out] of the reference model's linear layers (d 128, MLP 512, vocab 64). */
const LINEARS: [number, number, number][] = [
  [1024, 128, 384],
  [1024, 128, 128],
  [1024, 128, 512],
  [1024, 512, 128],
  [1024, 128, 64],
];
/** Attention's batched products: [batch·heads, M, K] · [batch·heads, K, N]. */
const BATCHED: [number, number, number, number][] = [
  [64, 64, 32, 64],
  [64, 64, 64, 32],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

/** The modes compared: env settings and the split policy. */
const MODES = [
  { name: 'SIMD', simd: '1', threads: '1' },
  { name: 'SIMD 2 threads', simd: '1', threads: '2' },
  { name: 'XNNPACK', simd: '0', threads: '1' },
] as const;

/** Times `f` in every mode, interleaved; returns the samples (ms) per mode. */
function ab(f: () => void, reps: number, rounds: number): number[][] {
  const out: number[][] = MODES.map(() => []);
  const saved = [process.env.FALIGN_SIMD_GEMM, process.env.FALIGN_THREADS];
  const restore = (name: string, v: string | undefined) => {
    if (v === undefined) delete process.env[name];
    else process.env[name] = v;
  };
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [i, mode] of MODES.entries()) {
        process.env.FALIGN_SIMD_GEMM = mode.simd;
        process.env.FALIGN_THREADS = mode.threads;
        f(); // warm-up in this mode
        for (let k = 0; k < reps; k++) {
          const t0 = performance.now();
          f();
          out[i].push(performance.now() - t0);
        }
      }
    }
  } finally {
    restore('FALIGN_SIMD_GEMM', saved[0]);
    restore('FALIGN_THREADS', saved[1]);
  }
  return out;
}

async function main(): Promise<void> {
  await initBackend('wasm');
  registerLinearKernels();
  const saved = process.env.FALIGN_THREADS;
  process.env.FALIGN_THREADS = '2';
  const threads = await startGemmThreads();
  if (saved === undefined) delete process.env.FALIGN_THREADS;
  else process.env.FALIGN_THREADS = saved;
  setSplitPolicy('always');
  const reps = Number(process.env.GEMM_REPS ?? 10);
  const rounds = Number(process.env.GEMM_ROUNDS ?? 5);
  console.log(`GEMM benchmark (wasm), load average ${load()}; ms per call, min / median (GFLOP/s of the min); second thread ${threads ? 'ready' : 'unavailable'}`);
  const rows: Record<string, { flop: number } & Record<string, number[] | number>> = {};
  const report = (name: string, flop: number, samples: number[][]) => {
    const gf = (ms: number) => (flop / ms / 1e6).toFixed(1);
    const row: { flop: number } & Record<string, number[] | number> = { flop };
    const cells = MODES.map((m, i) => {
      const lo = Math.min(...samples[i]);
      row[m.name] = [lo, median(samples[i])];
      return `${m.name} ${lo.toFixed(3)} / ${median(samples[i]).toFixed(3)} (${gf(lo)})`;
    });
    console.log(`  ${name.padEnd(34)} ${cells.join('   ')}`);
    rows[name] = row;
  };
  for (const [n, k, m] of LINEARS) {
    const x = tf.randomNormal([n, k]);
    const w0 = tf.randomNormal([k, m]);
    const b = tf.randomNormal([m]);
    const dy = tf.randomNormal([n, m]);
    // A fresh W (new tensor id) per call, as after every optimizer step.
    const fwd = () => tf.tidy(() => void linearKernel2d(x, tf.add(w0, 0), b));
    const bwd = () => tf.tidy(() => void linearGradKernel2d(dy, x, tf.add(w0, 0), true));
    report(`forward [${n}×${k}]·[${k}×${m}] + b`, 2 * n * k * m, ab(fwd, reps, rounds));
    report(`backward dx, dW, db of the same`, 4 * n * k * m, ab(bwd, reps, rounds));
    tf.dispose([x, w0, b, dy]);
  }
  for (const [e, mm, kk, nn] of BATCHED) {
    const a = tf.randomNormal([e, mm, kk]);
    const b = tf.randomNormal([e, kk, nn]);
    report(`batched ${e} × [${mm}×${kk}]·[${kk}×${nn}]`, 2 * e * mm * kk * nn, ab(() => tf.matMul(a, b).dispose(), reps, rounds));
    tf.dispose([a, b]);
  }
  setSplitPolicy('auto');
  await stopGemmThreads();
  console.log(`load average at the end ${load()}`);
  console.log(JSON.stringify({ load: loadavg(), rows }));
}

void main();
