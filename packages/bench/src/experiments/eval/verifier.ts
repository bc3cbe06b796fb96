/**
 * The correctness check of the math task: the GSM8K verifier of @falign/rewards with strict
 * extraction (`#### N` on the completion, lm-eval's strict-match), compared with the gold answer.
 * Training rewards and evaluation scores both come from here, so they can never drift apart.
 */
import { mathAccuracyReward, verify, type RewardFn, type VerifyOptions } from '@falign/rewards';

/** The verifier settings of the math task. */
export const MATH_VERIFY_OPTIONS: VerifyOptions = { mode: 'gsm8k', gsm8kExtraction: 'strict' };

/** The gold string of an answer, in GSM8K form. */
export function mathGold(answer: number): string {
  return `#### ${answer}`;
}

/** True when `completion` ends its solution with `#### <gold>` (strict GSM8K extraction). */
export function mathIsCorrect(gold: number, completion: string): boolean {
  return verify(mathGold(gold), completion, MATH_VERIFY_OPTIONS).correct;
}

/**
 * The RL reward: 1 when verified, 0 when wrong or unformatted, null when the sample's
 * `meta.gold` is missing or unparsable (left out of the group baseline).
 */
export function mathTaskReward(): RewardFn {
  return mathAccuracyReward({ ...MATH_VERIFY_OPTIONS, goldKey: 'gold', name: 'gsm8k_strict' });
}
