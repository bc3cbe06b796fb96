/** The toy verifiable task of the learning tests: "a,b=" → the larger digit (digits 0–3). */
import { CharTokenizer, DecoderLM, generate } from '@falign/core';
import type { PolicyLike, PromptItem, RewardSpec } from '../../src/index.js';

export const DIGITS = ['0', '1', '2', '3'];

export function toyPolicy(seed = 1): PolicyLike {
  const tokenizer = new CharTokenizer([...DIGITS, ',', '='], { pad: '<pad>', bos: '<s>', eos: '</s>' });
  const model = new DecoderLM(
    { arch: 'gpt2', vocabSize: tokenizer.vocabSize, dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 8 },
    { seed },
  );
  return { model, tokenizer };
}

export function toyPrompts(): PromptItem[] {
  const out: PromptItem[] = [];
  for (const a of DIGITS) for (const b of DIGITS) out.push({ prompt: `${a},${b}=`, meta: { answer: String(Math.max(+a, +b)) } });
  return out;
}

export const larger: RewardSpec = {
  name: 'larger',
  fn: async (samples) => samples.map((s) => (s.completion.slice(0, 1) === s.meta?.answer ? 1 : 0)),
};

/** Offline set for f-HAL/FDO/DPO: per prompt, the right answer against each wrong digit (48 pairs). */
export function toyPairs(): { prompt: string; chosen: string; rejected: string }[] {
  return toyPrompts().flatMap((p) => {
    const ans = p.meta!.answer as string;
    return DIGITS.filter((d) => d !== ans).map((d) => ({ prompt: p.prompt, chosen: ans, rejected: d }));
  });
}

/** Greedy accuracy over all 16 prompts. */
export async function greedyAccuracy(policy: PolicyLike): Promise<number> {
  const prompts = toyPrompts();
  const out = await generate(policy.model, policy.tokenizer, prompts.map((p) => p.prompt), { maxNewTokens: 1, temperature: 0 });
  return out.filter((c, i) => c.text.slice(0, 1) === prompts[i].meta!.answer).length / prompts.length;
}
