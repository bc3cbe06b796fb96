/**
 * What the evaluation harness needs from a model, whatever serves it: an in-process falign/llama2c
 * policy or any OpenAI-compatible endpoint. One `--model` spec string selects the implementation
 * (`llama2c:PATH.bin`, `falign:DIR`, `openai:URL#MODEL`).
 */

/** A chat message (OpenAI shape). */
export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** One generation request: a raw prompt (completions API) or chat messages (chat API). */
export interface GenerationRequest {
  /** Raw prompt text (already templated). */
  prompt: string;
  /** Chat form of the same request, used by chat endpoints / models with a chat template. */
  messages?: ChatMessage[];
  maxTokens: number;
  /** 0 = greedy. */
  temperature: number;
  topP?: number;
  topK?: number;
  stop?: string[];
  seed?: number;
  /** Completions wanted for this prompt; default 1. */
  n?: number;
  /** Ask for per-token log-probs of the generated tokens. */
  logprobs?: boolean;
}

/** One completion returned for a request. */
export interface GenerationResult {
  text: string;
  finishReason: 'stop' | 'length';
  /** Generated token count when the server/model reports it. */
  completionTokens?: number;
  promptTokens?: number;
  /** Per-token log-probs when requested and available. */
  tokenLogprobs?: number[];
}

/** A model the harness can evaluate. */
export interface EvalModel {
  /** The spec string it was created from. */
  readonly spec: string;
  /** Display name (model id for endpoints, file/dir name for local checkpoints). */
  readonly name: string;
  readonly kind: 'in-process' | 'openai';
  /** Generates `n` completions for each request; results[i] belongs to requests[i]. */
  generate(requests: GenerationRequest[]): Promise<GenerationResult[][]>;
  /** Facts recorded in results.json (backend, parameter count, endpoint, chat template...). */
  info(): Record<string, unknown>;
  close(): Promise<void>;
}
