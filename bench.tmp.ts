import { runEval } from './packages/bench/src/harness/runner.js';
for (const bs of [1, 16]) {
  const t0 = Date.now();
  const r = await runEval({ task: 'gsm8k', model: 'llama2c:/work/shared/models/stories260K/stories260K.bin', out: `/tmp/bench-eval-${bs}`, limit: 16, numFewshot: 0, maxTokens: 64, batchSize: bs, progress: false, overwrite: true, backend: 'cpu' });
  const s = (Date.now() - t0) / 1000;
  console.log(`batch ${bs}: ${r.n.samples} samples in ${s.toFixed(1)} s = ${(r.n.samples / s).toFixed(2)} samples/s`);
}
