/**
 * A {@link ServablePolicy} whose model lives in a worker thread (policy-worker.ts). tfjs compute
 * is synchronous, so a model on the server's thread froze every socket for the length of a
 * prefill (about a second per 500-token row on wasm): /health waited behind generation, and
 * requests could not even be parsed. Here the server thread keeps only the tokenizer (rebuilt
 * from its JSON) and forwards each batch to the worker.
 */
import { tokenizerFromJSON, type Completion, type SampleOptions, type TokenizerJSON } from '@falign/core';
import { startModuleWorker } from '../util/worker.js';
import type { ServablePolicy } from './batcher.js';
import type { LoadServableOptions } from './load-policy.js';

type Reply = { id: number; result?: Completion[]; error?: string };

/** Loads `spec` in a worker thread; resolves once the model is ready (errors name the spec). */
export async function loadPolicyInWorker(spec: string, opts: LoadServableOptions = {}): Promise<ServablePolicy> {
  const worker = startModuleWorker(new URL('./policy-worker.js', import.meta.url), { workerData: { spec, opts } });
  const pending = new Map<number, { resolve: (c: Completion[]) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let dead: Error | null = null;
  const fail = (e: Error) => {
    dead ??= e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  // Listeners are removed one by one: Worker's own internal listeners must stay.
  let onMsg: (m: { failed?: string; tokenizer?: TokenizerJSON; config?: { maxSeqLen: number } }) => void = () => {};
  let onErr: (e: Error) => void = () => {};
  let onExit: (code: number) => void = () => {};
  const ready = await new Promise<{ tokenizer: TokenizerJSON; config?: { maxSeqLen: number } }>((resolve, reject) => {
    onMsg = (m) => (m.failed ? reject(new Error(m.failed)) : resolve({ tokenizer: m.tokenizer as TokenizerJSON, config: m.config }));
    onErr = (e) => reject(new Error(`--model ${spec}: model worker failed: ${e.message}`));
    onExit = (code) => reject(new Error(`--model ${spec}: model worker exited (${code}) while loading`));
    worker.once('message', onMsg);
    worker.once('error', onErr);
    worker.once('exit', onExit);
  })
    .catch(async (e: Error) => {
      await worker.terminate();
      throw e;
    })
    .finally(() => {
      worker.off('message', onMsg);
      worker.off('error', onErr);
      worker.off('exit', onExit);
    });
  worker.on('message', (m: Reply) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (m.error !== undefined) p.reject(new Error(m.error));
    else p.resolve(m.result ?? []);
  });
  worker.on('error', (e) => fail(new Error(`model worker failed: ${e.message}`)));
  worker.on('exit', (code) => fail(new Error(`model worker exited (${code})`)));
  return {
    tokenizer: tokenizerFromJSON(ready.tokenizer),
    config: ready.config,
    generate(prompts: readonly (readonly number[])[], o: SampleOptions): Promise<Completion[]> {
      if (dead) return Promise.reject(dead);
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ id, prompts, opts: o });
      });
    },
    dispose(): void {
      dead ??= new Error('model worker disposed');
      void worker.terminate();
    },
  };
}
