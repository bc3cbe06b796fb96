/**
 * The correctness check of the math task, exact-format: the completion's last non-empty line must
 * be `#### N` with exactly one space and N a canonical integer (no commas, no leading zeros, no
 * sign on zero), and no earlier line may start with `####`. Looser extraction (lm-eval's
 * strict-match regex accepts `##### 4` and `#### 1,2`) gave a policy formats to exploit; the
 * generated solutions always use the exact form, so exactness costs a learner nothing.
 * Training rewards and evaluation scores both come from here, so they can never drift apart.
 */
import { mulberry32 } from '../../metrics/bootstrap.js';

/** Completions longer than this are wrong without being parsed (model output is untrusted). */
export const MAX_COMPLETION_CHARS = 4096;

const ANSWER_LINE = /^#### (0|-?[1-9][0-9]{0,14})$/;

/** The gold value recorded in a prompt's `meta.gold`. */
export function mathGold(answer: number): number {
  return answer;
}

/** The final answer of `completion` in the exact `#### N` form, or null when it has none. */
export function extractExactAnswer(completion: string): number | null {
  if (completion.length > MAX_COMPLETION_CHARS) return null;
  const lines = completion.replace(/\s+$/, '').split('\n');
  const m = ANSWER_LINE.exec(lines[lines.length - 1]);
  if (!m) return null;
  for (let i = 0; i < lines.length - 1; i++) if (lines[i].startsWith('####')) return null;
  return Number(m[1]);
}

/** True when `completion` ends with exactly `#### <gold>`. */
export function mathIsCorrect(gold: number, completion: string): boolean {
  return extractExactAnswer(completion) === gold;
}

/** A reward function of the trainers: one value per sample, null when it does not apply. */
export type MathRewardFn = (samples: readonly { prompt: string; completion: string; meta?: Record<string, unknown> }[]) => Promise<(number | null)[]>;

/**
 * The RL reward: 1 when verified, 0 when wrong or not in the exact format, null when the sample's
 * `meta.gold` is not a finite integer (left out of the group baseline).
 */
export function mathTaskReward(): MathRewardFn {
  return async (samples) =>
    samples.map((s) => {
      const gold = s.meta?.gold;
      if (typeof gold !== 'number' || !Number.isSafeInteger(gold)) return null;
      return mathIsCorrect(gold, s.completion) ? 1 : 0;
    });
}

/**
 * The random-reward control: Bernoulli(`p`) rewards drawn from a seeded stream, independent of
 * the completions (the noise floor of an RL update). `p` defaults to 0.5 so that most groups
 * carry a non-zero advantage, as in the real runs.
 */
export function randomReward(seed: number, p = 0.5): MathRewardFn {
  // Its own seeded stream, independent of the sampler's.
  const next = mulberry32(seed);
  return async (samples) => samples.map(() => (next() < p ? 1 : 0));
}
