/** Turning generated ids into completion text with the prompt's context. */
import type { Tokenizer } from '../types.js';

/** Prompt tokens kept as decoding context (enough for llama2.c's after-BOS rule and split UTF-8). */
const CONTEXT_TOKENS = 4;

/**
 * Decodes `generated` as a continuation of `prompt`: decode(context ⊕ generated) minus
 * decode(context), where context is the prompt's last few tokens. This applies context-dependent
 * rules the way a streaming decoder would (llama2.c drops the leading space of the first token
 * after BOS, so a story generated from BOS starts "Once", not " Once").
 */
export function decodeContinuation(tokenizer: Tokenizer, prompt: readonly number[], generated: readonly number[]): string {
  const ctx = prompt.slice(Math.max(0, prompt.length - CONTEXT_TOKENS));
  const pre = tokenizer.decode(ctx);
  const full = tokenizer.decode([...ctx, ...generated]);
  return full.startsWith(pre) ? full.slice(pre.length) : tokenizer.decode(generated);
}
