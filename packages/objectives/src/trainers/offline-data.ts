/** Offline examples (pairs or unpaired aligned/unaligned completions), encoded once, with cached reference scores. */
import type { DecoderLM, ScoreBatch, Tokenizer } from '@falign/core';
import { rowSums, scoreRows } from './scoring.js';

/** A preference pair: `chosen` is aligned, `rejected` unaligned. */
export interface PairExample {
  prompt: string;
  chosen: string;
  rejected: string;
}

/** One unpaired completion labelled aligned (e.g. a refusal of a harmful prompt) or not. */
export interface UnpairedExample {
  prompt: string;
  completion: string;
  aligned: boolean;
}

/** Offline data: all pairs or all unpaired examples. */
export type OfflineExample = PairExample | UnpairedExample;

interface Encoded {
  prompt: number[];
  /** [aligned, unaligned] completions of a pair, or the single completion. */
  completions: number[][];
  aligned: boolean[];
}

/** Encoded offline data set with a reference-log-prob cache (the reference is frozen). */
export class OfflineData {
  readonly paired: boolean;
  private readonly encoded: Encoded[];
  private readonly refCache = new Map<string, number>();

  constructor(
    examples: readonly OfflineExample[],
    tokenizer: Tokenizer,
    opts: { appendEos?: boolean; where: string },
  ) {
    if (!Array.isArray(examples) || examples.length === 0) throw new Error(`${opts.where}: the offline data set is empty`);
    this.paired = 'chosen' in examples[0];
    const eos = (opts.appendEos ?? true) && tokenizer.eosId !== null;
    const bos = tokenizer.bosId !== null;
    this.encoded = examples.map((ex, i) => {
      const at = `${opts.where}: offline example ${i}`;
      if (typeof ex?.prompt !== 'string') throw new Error(`${at}: prompt must be a string`);
      const enc = (text: unknown, field: string) => {
        if (typeof text !== 'string') throw new Error(`${at}: ${field} must be a string`);
        return tokenizer.encode(text, { eos });
      };
      const prompt = tokenizer.encode(ex.prompt, { bos });
      if ('chosen' in ex) {
        if (!this.paired) throw new Error(`${at}: mixes pairs with unpaired examples`);
        return { prompt, completions: [enc(ex.chosen, 'chosen'), enc(ex.rejected, 'rejected')], aligned: [true, false] };
      }
      if (this.paired) throw new Error(`${at}: mixes pairs with unpaired examples`);
      if (typeof ex.aligned !== 'boolean') throw new Error(`${at}: aligned must be true or false`);
      return { prompt, completions: [enc(ex.completion, 'completion')], aligned: [ex.aligned] };
    });
  }

  get size(): number {
    return this.encoded.length;
  }

  /**
   * Score batch of the given examples: aligned rows first, then unaligned rows (pairs keep their
   * order on both sides), with the reference sequence log-probs (cached per example; scoring the
   * missing ones is one awaited read).
   */
  async batch(indices: readonly number[], reference: DecoderLM, temperature = 1): Promise<{ score: ScoreBatch; nPos: number; nNeg: number; refSeq: number[] }> {
    const pos: { p: number[]; c: number[]; key: string }[] = [];
    const neg: { p: number[]; c: number[]; key: string }[] = [];
    for (const i of indices) {
      const e = this.encoded[i];
      e.completions.forEach((c, k) => (e.aligned[k] ? pos : neg).push({ p: e.prompt, c, key: `${i}:${k}` }));
    }
    const rows = [...pos, ...neg];
    const missing = rows.filter((r) => !this.refCache.has(r.key));
    if (missing.length > 0) {
      const sums = rowSums(await scoreRows(reference, { promptTokenIds: missing.map((r) => r.p), completionTokenIds: missing.map((r) => r.c) }, temperature));
      missing.forEach((r, k) => this.refCache.set(r.key, sums[k]));
    }
    return {
      score: { promptTokenIds: rows.map((r) => r.p), completionTokenIds: rows.map((r) => r.c) },
      nPos: pos.length,
      nNeg: neg.length,
      refSeq: rows.map((r) => this.refCache.get(r.key)!),
    };
  }
}
