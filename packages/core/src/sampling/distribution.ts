/**
 * The next-token distribution a sampler draws from, as pure functions on one row of logits:
 * temperature, then top-k, then top-p (nucleus), each renormalising — the order Hugging Face's
 * logits processors apply them. Computed in float64 on plain arrays: one row is at most a
 * vocabulary, and per-step tensor ops would cost far more than this arithmetic.
 */
import type { Rng } from '../rng.js';

/** What shapes the distribution; temperature 0 means greedy. */
export interface DistributionOptions {
  temperature: number;
  /** Keep the k most likely tokens (0 = all). */
  topK: number;
  /** Keep the smallest most-likely set whose mass reaches p (1 = all). */
  topP: number;
}

/** Index of the first maximum (greedy decoding's tie rule in run.c and HF). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** log softmax(logits / temperature)[index], stable. */
export function logSoftmaxAt(logits: ArrayLike<number>, index: number, temperature = 1): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i] - max) / temperature);
  return (logits[index] - max) / temperature - Math.log(sum);
}

/**
 * The probability vector sampling draws from: softmax(logits / T), restricted to the top-k
 * tokens, then to the nucleus (tokens in descending order while the mass before them is < p),
 * renormalised after each cut. Ties in the ordering go to the lower id. Requires T > 0.
 */
export function samplingProbs(logits: ArrayLike<number>, opts: DistributionOptions): Float64Array {
  const { temperature: T, topK, topP } = opts;
  if (!(T > 0)) throw new Error(`samplingProbs: temperature must be > 0, got ${T}`);
  const V = logits.length;
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] > max) max = logits[i];
  if (!Number.isFinite(max)) throw new Error(`sampling: logits are not finite (max ${max})`);
  const p = new Float64Array(V);
  let sum = 0;
  for (let i = 0; i < V; i++) {
    const e = Math.exp((logits[i] - max) / T);
    if (Number.isNaN(e)) throw new Error(`sampling: logit ${i} is NaN`);
    p[i] = e;
    sum += e;
  }
  for (let i = 0; i < V; i++) p[i] /= sum;
  const useK = topK > 0 && topK < V;
  const useP = topP < 1;
  if (!useK && !useP) return p;
  const order = Array.from({ length: V }, (_, i) => i).sort((a, b) => p[b] - p[a] || a - b);
  let keep = useK ? topK : V;
  if (useP) {
    let mass = 0;
    for (let j = 0; j < keep; j++) mass += p[order[j]];
    // Nucleus over the (renormalised) top-k distribution: mass before token j must be < p·mass.
    let before = 0;
    let n = 0;
    while (n < keep && before < topP * mass) {
      before += p[order[n]];
      n++;
    }
    keep = Math.max(1, n);
  }
  const out = new Float64Array(V);
  let kept = 0;
  for (let j = 0; j < keep; j++) kept += p[order[j]];
  for (let j = 0; j < keep; j++) out[order[j]] = p[order[j]] / kept;
  return out;
}

/** Draws an id from a probability vector with one uniform draw (inverse CDF in id order). */
export function drawFrom(probs: Float64Array, rng: Rng): number {
  const u = rng.next();
  let acc = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] <= 0) continue;
    acc += probs[i];
    last = i;
    if (u < acc) return i;
  }
  // Rounding can leave acc a hair below 1; the draw then belongs to the last token in support.
  return last;
}

/**
 * One sampling step for one row: the chosen id and its log-prob under the distribution it was
 * drawn from (greedy: the temperature-1 log-prob of the argmax).
 */
export function sampleToken(logits: ArrayLike<number>, opts: DistributionOptions, rng: Rng): { id: number; logprob: number } {
  if (opts.temperature === 0) {
    const id = argmax(logits);
    const logprob = logSoftmaxAt(logits, id, 1);
    if (Number.isNaN(logprob)) throw new Error('sampling: logits contain NaN');
    return { id, logprob };
  }
  const probs = samplingProbs(logits, opts);
  const id = drawFrom(probs, rng);
  return { id, logprob: Math.log(probs[id]) };
}
