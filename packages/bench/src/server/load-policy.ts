/**
 * Loads the policy behind `falign serve --model SPEC` (`llama2c:PATH` or `falign:DIR`) through
 * core's `loadPolicy`, frozen (a server never trains), after initialising the tfjs backend.
 */
import { initBackend, loadLoraAdapter, loadPolicy, type BackendName } from '@falign/core';
import type { ServablePolicy } from './batcher.js';

/** Options of {@link loadServablePolicy}. */
export interface LoadServableOptions {
  /** Tokenizer file for llama2c checkpoints (default: found next to the model). */
  tokenizer?: string;
  /** tfjs backend; default: core's preference order. */
  backend?: BackendName;
  /** LoRA adapter directory (PEFT layout) applied to the model. */
  adapter?: string;
}

/** Loads a servable policy; the error names the spec when it cannot. */
export async function loadServablePolicy(spec: string, opts: LoadServableOptions = {}): Promise<ServablePolicy> {
  if (spec.startsWith('openai:')) {
    throw new Error(`--model ${spec}: 'falign serve' serves in-process models (llama2c:PATH or falign:DIR), not another endpoint`);
  }
  await initBackend(opts.backend);
  const policy = await loadPolicy(spec, { trainable: false, ...(opts.tokenizer ? { tokenizer: opts.tokenizer } : {}) });
  if (!opts.adapter) return policy;
  let adapter;
  try {
    adapter = await loadLoraAdapter(opts.adapter, policy.model, { trainable: false });
  } catch (e) {
    policy.dispose();
    throw new Error(`--adapter ${opts.adapter}: ${(e as Error).message}`, { cause: e });
  }
  const lora = adapter;
  return {
    generate: (prompts, o) => policy.generate(prompts, o),
    tokenizer: policy.tokenizer,
    config: policy.config,
    dispose: () => {
      lora.dispose();
      policy.dispose();
    },
  };
}
