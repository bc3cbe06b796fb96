/**
 * Request bodies of the OpenAI-compatible endpoints, validated with zod so that a bad request
 * gets a 400 naming the field. Unknown fields are accepted and ignored (clients such as the
 * official SDKs send extras like `stream_options` or `user`).
 */
import { z } from 'zod';

const stop = z.union([z.string().min(1), z.array(z.string().min(1)).max(16)]).nullish();

const sampling = {
  model: z.string().optional(),
  max_tokens: z.number().int().min(1).max(100_000).nullish(),
  /** Newer chat clients send max_completion_tokens instead of max_tokens. */
  max_completion_tokens: z.number().int().min(1).max(100_000).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  /** Extension (vLLM-style): 0 or absent disables. */
  top_k: z.number().int().min(0).nullish(),
  n: z.number().int().min(1).max(128).nullish(),
  stop,
  seed: z.number().int().nullish(),
  stream: z.literal(false, { message: 'streaming is not supported; omit "stream" or set it to false' }).nullish(),
};

/** POST /v1/completions */
export const completionsRequestSchema = z.object({
  ...sampling,
  prompt: z.union([z.string(), z.array(z.string()).min(1).max(1024)]),
  /** OpenAI: number of top log-probs per token; any non-null value turns on token_logprobs. */
  logprobs: z.number().int().min(0).max(20).nullish(),
  echo: z.literal(false, { message: 'echo is not supported' }).nullish(),
});
export type CompletionsRequest = z.infer<typeof completionsRequestSchema>;

const chatMessage = z.object({
  role: z.enum(['system', 'user', 'assistant', 'developer']),
  content: z.union([
    z.string(),
    z.array(z.object({ type: z.literal('text'), text: z.string() })),
  ]),
});

/** POST /v1/chat/completions */
export const chatRequestSchema = z.object({
  ...sampling,
  messages: z.array(chatMessage).min(1),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
});
export type ChatRequest = z.infer<typeof chatRequestSchema>;
export type ChatRequestMessage = z.infer<typeof chatMessage>;
