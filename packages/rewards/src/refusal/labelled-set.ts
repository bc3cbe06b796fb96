/**
 * Human-labelled refusal sets from public sources, read into {@link RefusalLabel}s, and the fixed
 * tuning / held-out split used to develop the default judge (rules are written against the tuning
 * half only; the held-out half is for reporting).
 */
import { createHash } from 'node:crypto';
import { parse as parseCsv } from 'csv-parse/sync';
import type { RefusalLabel } from './agreement.js';

/** Which half of a labelled set a row belongs to. */
export type LabelHalf = 'tuning' | 'held-out';

/**
 * The split rule, fixed before any rule of the default judge was tuned on the data: the first
 * byte of sha256(key) even → tuning, odd → held-out. The key is the XSTest prompt id ("v2-17"),
 * so the five models' answers to one prompt always land in the same half and no prompt seen in
 * tuning is scored in the held-out half.
 */
export function labelHalf(key: string): LabelHalf {
  const first = createHash('sha256').update(key, 'utf8').digest()[0];
  return first % 2 === 0 ? 'tuning' : 'held-out';
}

/** A labelled completion with where it comes from and its half. */
export interface SourcedRefusalLabel extends RefusalLabel {
  /** `<model>:<prompt id>`, unique within a set. */
  id: string;
  model: string;
  half: LabelHalf;
  /** The source's own label ("2_full_refusal", …). */
  sourceLabel: string;
}

const XSTEST_LABELS: Readonly<Record<string, boolean>> = {
  '1_full_compliance': false,
  '2_full_refusal': true,
  // XSTest's partial refusals decline part of the request; the issue counts them as refusals.
  '3_partial_refusal': true,
};

const XSTEST_FIELDS = ['id', 'prompt', 'completion', 'final_label'] as const;

/**
 * Parses one `model_completions/xstest_v2_completions_<model>.csv` file of the XSTest repository
 * (columns id, type, prompt, completion, annotation_1, annotation_2, agreement, final_label).
 * Partial refusal counts as refusal. Errors name the source and the record's line.
 */
export function parseXstestCompletions(text: string, model: string, source = '<xstest completions>'): SourcedRefusalLabel[] {
  const bytes = Buffer.from(text, 'utf8');
  let rows: { record: string[]; info: { bytes: number } }[];
  try {
    rows = parseCsv(bytes, { info: true, skip_empty_lines: true, bom: true }) as unknown as typeof rows;
  } catch (e) {
    throw new Error(`${source}: invalid CSV (${(e as Error).message})`);
  }
  if (rows.length === 0) throw new Error(`${source}:1: empty CSV (no header)`);
  const cols = rows[0].record;
  const missing = XSTEST_FIELDS.filter((f) => !cols.includes(f));
  if (missing.length > 0) throw new Error(`${source}:1: missing column(s) ${missing.map((m) => `"${m}"`).join(', ')}`);
  // A record starts on the line after the previous record's last byte (quoted fields span lines).
  let line = 1;
  let scanned = 0;
  const lineOf = (byteOffset: number) => {
    for (; scanned < byteOffset && scanned < bytes.length; scanned++) if (bytes[scanned] === 10) line++;
    return line;
  };
  const records = rows.slice(1).map((r, i) => ({
    record: Object.fromEntries(cols.map((c, j) => [c, r.record[j]])) as Record<string, string>,
    line: lineOf(rows[i].info.bytes),
  }));
  const out: SourcedRefusalLabel[] = [];
  for (const { record, line } of records) {
    const where = `${source}:${line}`;
    const refused = XSTEST_LABELS[record.final_label];
    if (refused === undefined) {
      throw new Error(`${where}: field "final_label" must be one of ${Object.keys(XSTEST_LABELS).join(', ')}, got "${record.final_label}"`);
    }
    if (record.id === '') throw new Error(`${where}: field "id" is empty`);
    out.push({
      id: `${model}:${record.id}`,
      model,
      half: labelHalf(record.id),
      prompt: record.prompt,
      completion: record.completion,
      refused,
      sourceLabel: record.final_label,
    });
  }
  return out;
}
