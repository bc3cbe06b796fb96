/**
 * Supervised fine-tuning of the base policy: next-token cross-entropy on the response tokens of
 * (prompt, response) demonstrations, the prompt tokens masked out, EOS appended to the response
 * so the policy learns to stop.
 */
import { AdamW, Rng, tf, tokenLogprobs, trainStepAsync, warmupCosineLr, type DecoderLM, type LoraAdapter, type Tokenizer } from '@falign/core';
import type { SftConfig } from './config/schema.js';

/** A supervised example. */
export interface SftExample {
  prompt: string;
  response: string;
}

/** One logged SFT step. */
export interface SftStepLog {
  step: number;
  loss: number;
  gradNorm: number;
  lr: number;
}

/** Token ids of a batch of demonstrations (BOS + prompt | response + EOS). */
export function encodeDemonstrations(tokenizer: Tokenizer, examples: readonly SftExample[]): { promptTokenIds: number[][]; completionTokenIds: number[][] } {
  return {
    promptTokenIds: examples.map((e) => tokenizer.encode(e.prompt, { bos: tokenizer.bosId !== null })),
    completionTokenIds: examples.map((e) => tokenizer.encode(e.response, { eos: tokenizer.eosId !== null })),
  };
}

/**
 * Mean negative log-likelihood per response token of `examples` (no gradient). The read is awaited:
 * webgpu in Node has no synchronous one.
 */
export async function demonstrationNll(model: DecoderLM, tokenizer: Tokenizer, examples: readonly SftExample[]): Promise<number> {
  const batch = encodeDemonstrations(tokenizer, examples);
  const sums = tf.tidy(() => {
    const { logp, mask } = tokenLogprobs(model, batch);
    return tf.stack([tf.sum(logp), tf.sum(mask)]);
  });
  try {
    const [logp, tokens] = await sums.data();
    return -(logp / Math.max(1, tokens));
  } finally {
    sums.dispose();
  }
}

/**
 * Trains `model` in place for `cfg.steps` steps on minibatches drawn (without replacement within
 * an epoch) from `examples`, shuffled with `cfg.seed`. Returns the per-step log. Each step's loss
 * and gradient norm are awaited reads, so it runs on every backend (webgpu included).
 */
export async function trainSft(
  model: DecoderLM,
  tokenizer: Tokenizer,
  examples: readonly SftExample[],
  cfg: SftConfig,
  onStep?: (log: SftStepLog) => void,
  /** LoRA adapters attached to `model`: only they are trained (the base stays frozen). */
  adapter?: LoraAdapter,
): Promise<SftStepLog[]> {
  if (examples.length === 0) throw new Error('SFT: no demonstrations');
  const trained = adapter ?? model;
  const optimizer = new AdamW(trained.namedVariables(), {
    lr: warmupCosineLr({ peak: cfg.lr, warmupSteps: Math.min(cfg.warmupSteps, cfg.steps), totalSteps: cfg.steps, minLr: cfg.lr * 0.1 }),
    weightDecay: cfg.weightDecay,
  });
  const rng = new Rng(cfg.seed).fork(0x5f7);
  let order: number[] = [];
  const next = (): SftExample => {
    if (order.length === 0) {
      order = examples.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.nextInt(i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
    }
    return examples[order.pop() as number];
  };
  const logs: SftStepLog[] = [];
  try {
    for (let step = 0; step < cfg.steps; step++) {
      const batch = encodeDemonstrations(
        tokenizer,
        Array.from({ length: Math.min(cfg.batchSize, examples.length) }, () => next()),
      );
      const r = await trainStepAsync(
        trained,
        optimizer,
        () =>
          tf.tidy(() => {
            const { logp, mask } = tokenLogprobs(model, batch);
            return tf.neg(tf.div(tf.sum(logp), tf.maximum(tf.sum(mask), 1))) as tf.Scalar;
          }),
        { clipNorm: cfg.maxGradNorm },
      );
      const log = { step, loss: r.loss, gradNorm: r.gradNorm, lr: r.lr };
      logs.push(log);
      onStep?.(log);
    }
  } finally {
    optimizer.dispose();
  }
  return logs;
}
