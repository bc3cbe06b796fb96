/**
 * Worker thread that holds the served model (see worker-policy.ts): loads it, sends its tokenizer
 * and config, then answers generate requests one at a time. Generation blocks this thread, not
 * the server's, so /health and request parsing stay responsive while a batch runs.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { SampleOptions } from '@falign/core';
import { loadServablePolicy, type LoadServableOptions } from './load-policy.js';

const port = parentPort!;
const { spec, opts } = workerData as { spec: string; opts: LoadServableOptions };

try {
  const policy = await loadServablePolicy(spec, opts);
  const tok = policy.tokenizer as unknown as { toJSON?: () => unknown };
  if (typeof tok.toJSON !== 'function') throw new Error(`--model ${spec}: its tokenizer cannot be shared with the server thread`);
  port.on('message', (m: { id: number; prompts: number[][]; opts: SampleOptions } | { dispose: true }) => {
    if ('dispose' in m) {
      policy.dispose?.();
      port.close();
      return;
    }
    policy.generate(m.prompts, m.opts).then(
      (result) => port.postMessage({ id: m.id, result }),
      (e: unknown) => port.postMessage({ id: m.id, error: (e as Error)?.message ?? String(e) }),
    );
  });
  port.postMessage({ ready: true, tokenizer: tok.toJSON(), config: policy.config ? { maxSeqLen: policy.config.maxSeqLen } : undefined });
} catch (e) {
  port.postMessage({ failed: (e as Error)?.message ?? String(e) });
}
