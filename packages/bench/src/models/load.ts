/**
 * `--model SPEC` → EvalModel. Specs: `llama2c:PATH.bin` (llama2.c checkpoint, tokenizer found next
 * to it), `falign:DIR` (a falign checkpoint directory), `hf:DIR` (a Hugging Face checkpoint
 * directory: config.json, safetensors, tokenizer files) — opened in-process with @falign/core's
 * `loadPolicy` — and `openai:URL#MODEL` (an OpenAI-compatible endpoint).
 */
import { basename, resolve } from 'node:path';
import { HfTokenizer, initBackend, loadPolicy, type BackendName, type Tokenizer } from '@falign/core';
import { createInProcessModel } from './in-process.js';
import { createOpenAIModel, type OpenAIModelOptions } from './openai.js';
import type { EvalModel } from './types.js';

/** Options of {@link loadEvalModel}. */
export interface LoadModelOptions {
  /** tfjs backend for in-process models (default: core's choice). */
  backend?: BackendName;
  /** Most sequences the in-process sampler decodes at once. */
  batchSize?: number;
  /** Tokenizer file overriding the one found beside an in-process model. */
  tokenizer?: string;
  /** Options of the OpenAI-compatible client (concurrency, timeout, retries…). */
  openai?: OpenAIModelOptions;
}

/** The scheme of a model spec, checked; the error lists the accepted forms. */
export function modelSpecScheme(spec: string): 'llama2c' | 'falign' | 'hf' | 'openai' {
  const m = /^(llama2c|falign|hf|openai):(.+)$/s.exec(spec);
  if (!m) throw new Error(`model spec "${spec}": expected llama2c:PATH.bin, falign:DIR, hf:DIR or openai:URL#MODEL`);
  return m[1] as 'llama2c' | 'falign' | 'hf' | 'openai';
}

/**
 * An HF tokenizer's chat template and the special-token strings it uses: chat-formatted tasks
 * render prompts with it (the harness reads `chat_template` / `chat_template_specials`).
 */
function chatInfo(tokenizer: Tokenizer): Record<string, unknown> {
  if (!(tokenizer instanceof HfTokenizer) || tokenizer.chatTemplate === null) return {};
  const { bos_token, eos_token } = tokenizer.specialTokens;
  return { chat_template: tokenizer.chatTemplate, chat_template_specials: { bos_token, eos_token } };
}

/** Loads the model a spec names. In-process models initialise the tfjs backend first. */
export async function loadEvalModel(spec: string, opts: LoadModelOptions = {}): Promise<EvalModel> {
  const scheme = modelSpecScheme(spec);
  if (scheme === 'openai') return createOpenAIModel(spec, opts.openai ?? {});
  await initBackend(opts.backend);
  const rest = spec.slice(scheme.length + 1);
  const policy = await loadPolicy(spec, { trainable: false, tokenizer: opts.tokenizer });
  return createInProcessModel(spec, basename(resolve(rest)), policy, {
    batchSize: opts.batchSize,
    info: {
      checkpoint: resolve(rest),
      format: scheme,
      ...(opts.tokenizer ? { tokenizer_file: resolve(opts.tokenizer) } : {}),
      ...chatInfo(policy.tokenizer),
    },
  });
}
