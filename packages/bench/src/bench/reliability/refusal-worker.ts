/**
 * Worker thread of the refusal-judge fuzz (fuzz.ts): judges each batch it is sent and answers
 * with the count, the errors thrown (as one-line messages) and the slowest item's time.
 */
import { parentPort } from 'node:worker_threads';
import { createRefusalJudge } from '@falign/rewards';

const judge = createRefusalJudge('default');
parentPort!.on('message', (items: { completion: string; prompt?: string }[]) => {
  const errors: string[] = [];
  let maxMs = 0;
  for (const it of items) {
    const t0 = performance.now();
    try {
      const v = judge.explain(it.completion, it.prompt);
      if (typeof v.refused !== 'boolean') errors.push(`refused is ${typeof v.refused}`);
    } catch (e) {
      errors.push(`judge threw: ${String((e as Error)?.message ?? e).slice(0, 120)}`);
    }
    maxMs = Math.max(maxMs, performance.now() - t0);
  }
  parentPort!.postMessage({ ok: items.length - errors.length, errors, maxMs });
});
