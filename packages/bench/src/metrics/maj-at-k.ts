/**
 * maj@k (majority voting / self-consistency): among the first k samples of a prompt, the most
 * frequent extracted answer wins; the prompt scores the correctness of that answer. Samples with no
 * extracted answer (null) do not vote. Ties go to the answer that reached the top count first
 * (earliest sample), so the result is deterministic.
 */

/** One voted sample: its extracted answer (normalised by the caller) and whether it is correct. */
export interface Vote {
  answer: string | null;
  correct: number;
}

/** The winning answer among the first k votes, or null when none voted. */
export function majorityAnswer(votes: readonly Vote[], k: number = votes.length): string | null {
  const counts = new Map<string, number>();
  let best: string | null = null;
  let bestCount = 0;
  for (const v of votes.slice(0, k)) {
    if (v.answer === null) continue;
    const c = (counts.get(v.answer) ?? 0) + 1;
    counts.set(v.answer, c);
    if (c > bestCount) {
      best = v.answer;
      bestCount = c;
    }
  }
  return best;
}

/** maj@k of one prompt: the correctness of the majority answer (0 when no sample answered). */
export function majAtK(votes: readonly Vote[], k: number): number {
  if (k < 1 || k > votes.length) throw new Error(`maj@k needs 1 ≤ k ≤ ${votes.length} (k=${k})`);
  const winner = majorityAnswer(votes, k);
  if (winner === null) return 0;
  return votes.find((v) => v.answer === winner)!.correct;
}
