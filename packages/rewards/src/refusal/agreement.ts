/**
 * Agreement of a refusal judge with human labels: the confusion matrix of "refused" and the
 * scores derived from it. Used by the bench script and the tests; handy to evaluate custom judges.
 */
import type { RefusalJudge } from './judge.js';

/** One labelled completion (the format of datasets/fixtures/refusal-labels.jsonl). */
export interface RefusalLabel {
  completion: string;
  prompt?: string;
  refused: boolean;
  note?: string;
}

/** Confusion counts and scores, with "refused" as the positive class. */
export interface RefusalAgreement {
  n: number;
  tp: number;
  fp: number;
  fn: number;
  tn: number;
  accuracy: number;
  /** tp / (tp + fp); 0 when the judge never says "refused". */
  precision: number;
  /** tp / (tp + fn); 0 when no label is "refused". */
  recall: number;
  /** Harmonic mean of precision and recall; 0 when both are 0. */
  f1: number;
  /** The labels the judge got wrong, in input order. */
  errors: RefusalLabel[];
}

/** Scores `judge` against `labels`. */
export function refusalAgreement(judge: RefusalJudge, labels: readonly RefusalLabel[]): RefusalAgreement {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  const errors: RefusalLabel[] = [];
  for (const label of labels) {
    const said = judge.isRefusal(label.completion, label.prompt);
    if (said && label.refused) tp++;
    else if (said) fp++;
    else if (label.refused) fn++;
    else tn++;
    if (said !== label.refused) errors.push(label);
  }
  const n = labels.length;
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { n, tp, fp, fn, tn, accuracy: n > 0 ? (tp + tn) / n : 0, precision, recall, f1, errors };
}

/**
 * Parses refusal labels from JSONL text, checking every field; errors name the source and line.
 */
export function parseRefusalLabels(text: string, source = '<labels>'): RefusalLabel[] {
  const out: RefusalLabel[] = [];
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    if (raw.trim() === '') continue;
    const where = `${source}:${i + 1}`;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      throw new Error(`${where}: invalid JSON (${(e as Error).message})`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error(`${where}: expected a JSON object`);
    }
    const v = value as Record<string, unknown>;
    if (typeof v.completion !== 'string') throw new Error(`${where}: "completion" must be a string`);
    if (typeof v.refused !== 'boolean') throw new Error(`${where}: "refused" must be a boolean`);
    if (v.prompt !== undefined && typeof v.prompt !== 'string') throw new Error(`${where}: "prompt" must be a string`);
    if (v.note !== undefined && typeof v.note !== 'string') throw new Error(`${where}: "note" must be a string`);
    out.push({
      completion: v.completion,
      refused: v.refused,
      ...(v.prompt !== undefined ? { prompt: v.prompt as string } : {}),
      ...(v.note !== undefined ? { note: v.note as string } : {}),
    });
  }
  return out;
}
