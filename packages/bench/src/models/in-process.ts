/**
 * EvalModel over a model held in this process (a llama2.c or falign checkpoint loaded through
 * @falign/core). Requests that share sampling options are decoded together in one batched call;
 * sampled requests with different seeds are decoded separately so that each request's samples
 * depend only on its own seed (and resumed runs reproduce uninterrupted ones).
 */
import { backendName, type Policy, type SampleOptions, type Tokenizer } from '@falign/core';
import type { EvalModel, GenerationRequest, GenerationResult } from './types.js';

/** Options of {@link createInProcessModel}. */
export interface InProcessOptions {
  /** Most sequences decoded at once (default 32). */
  batchSize?: number;
  /** Extra facts for results.json. */
  info?: Record<string, unknown>;
  /** Dispose the policy on `close()` (default true: the model owns it). */
  ownsPolicy?: boolean;
}

/** Options that must be equal for requests to share one decode call. */
function groupKey(r: GenerationRequest): string {
  const greedy = r.temperature === 0;
  return JSON.stringify([r.maxTokens, r.temperature, r.topP ?? 1, r.topK ?? 0, r.stop ?? [], r.n ?? 1, greedy ? null : (r.seed ?? 0)]);
}

/**
 * Prompt ids that leave room for the completion: prompts longer than the context are cut from the
 * left (lm-eval does the same), keeping BOS.
 */
function fitPrompt(tokenizer: Tokenizer, prompt: string, maxSeqLen: number, maxTokens: number): { ids: number[]; truncated: boolean } {
  const bos = tokenizer.bosId !== null;
  const ids = tokenizer.encode(prompt, { bos });
  const room = maxSeqLen - Math.min(maxTokens, Math.floor(maxSeqLen / 2));
  if (ids.length <= room) return { ids, truncated: false };
  const body = bos ? ids.slice(1) : ids;
  const keep = body.slice(body.length - (room - (bos ? 1 : 0)));
  return { ids: bos ? [ids[0], ...keep] : keep, truncated: true };
}

/** Wraps an in-process policy as an EvalModel. */
export function createInProcessModel(spec: string, name: string, policy: Policy, opts: InProcessOptions = {}): EvalModel {
  let truncatedPrompts = 0;
  let closed = false;
  const batchSize = opts.batchSize ?? 32;
  const { model, tokenizer } = policy;
  return {
    spec,
    name,
    kind: 'in-process',
    async generate(requests) {
      if (closed) throw new Error(`model ${spec} is closed`);
      const out: GenerationResult[][] = new Array(requests.length);
      const groups = new Map<string, number[]>();
      requests.forEach((r, i) => {
        const k = groupKey(r);
        const g = groups.get(k);
        if (g) g.push(i);
        else groups.set(k, [i]);
      });
      for (const idx of groups.values()) {
        const r0 = requests[idx[0]];
        const prompts = idx.map((i) => {
          const fit = fitPrompt(tokenizer, requests[i].prompt, model.config.maxSeqLen, r0.maxTokens);
          if (fit.truncated) truncatedPrompts++;
          return fit.ids;
        });
        const n = r0.n ?? 1;
        const sopts: SampleOptions = {
          maxNewTokens: r0.maxTokens,
          temperature: r0.temperature,
          topP: r0.topP ?? 1,
          topK: r0.topK ?? 0,
          stopStrings: (r0.stop ?? []).filter((s) => s.length > 0),
          seed: r0.seed ?? 0,
          numSamples: n,
          batchSize,
        };
        const completions = await policy.generate(prompts, sopts);
        idx.forEach((reqIndex, j) => {
          out[reqIndex] = completions.slice(j * n, (j + 1) * n).map((c) => ({
            text: c.text,
            finishReason: c.finishReason,
            completionTokens: c.tokenIds.length,
            promptTokens: c.promptTokenIds.length,
            ...(requests[reqIndex].logprobs ? { tokenLogprobs: c.tokenLogprobs } : {}),
          }));
        });
      }
      return out;
    },
    info() {
      return {
        kind: 'in-process',
        backend: backendName(),
        arch: model.config.arch,
        config: model.config,
        tokenizer: tokenizer.kind,
        vocab_size: tokenizer.vocabSize,
        truncated_prompts: truncatedPrompts,
        ...opts.info,
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (opts.ownsPolicy !== false) policy.dispose();
    },
  };
}
