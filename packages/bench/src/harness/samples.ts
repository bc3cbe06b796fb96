/**
 * samples.jsonl: one line per (document, sample). The file is the run's ground truth: resume skips
 * keys already in it, rescore re-scores its completions, results are computed from it.
 */
import { closeSync, existsSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { z } from 'zod';
import { formatZodIssues } from '../datasets/manifest.js';

/** One generated sample with its scores. */
export const SampleRecordSchema = z.object({
  doc_id: z.string(),
  doc_index: z.number().int().nonnegative(),
  sample: z.number().int().nonnegative(),
  prompt: z.string(),
  completion: z.string(),
  target: z.string().optional(),
  extracted: z.record(z.string(), z.string().nullable()).optional(),
  scores: z.record(z.string(), z.number()),
  finish_reason: z.enum(['stop', 'length']),
  completion_tokens: z.number().int().nonnegative().optional(),
  seed: z.number().nullable(),
  /** Wall time of the generate call that produced this sample (shared by its batch). */
  gen_ms: z.number().nonnegative(),
  /** Requests in that call. */
  batch: z.number().int().positive(),
});
export type SampleRecord = z.infer<typeof SampleRecordSchema>;

/** Key of a sample: document id and sample index. */
export function sampleKey(docId: string, sample: number): string {
  return `${docId}#${sample}`;
}

/** What {@link readSamples} found. */
export interface SamplesFile {
  records: SampleRecord[];
  /** True when a partial last line (a crash mid-write) was dropped. */
  droppedPartialLine: boolean;
  /** Duplicate keys ignored (the first occurrence wins). */
  duplicates: number;
}

/**
 * Reads samples.jsonl. A last line without its newline or with broken JSON is what a crash leaves
 * behind: it is dropped (and with `repair`, cut from the file so appends start on a clean line).
 * Any other bad line is an error naming file, line and field.
 */
export function readSamples(file: string, opts: { repair?: boolean } = {}): SamplesFile {
  if (!existsSync(file)) return { records: [], droppedPartialLine: false, duplicates: 0 };
  const buf = readFileSync(file);
  const text = buf.toString('utf8');
  const lines = text.split('\n');
  // After a complete write the text ends with '\n', so the last element is ''.
  const tail = lines.pop() ?? '';
  let droppedPartialLine = false;
  let keepBytes = buf.length;
  if (tail !== '') {
    droppedPartialLine = true;
    keepBytes = buf.length - Buffer.byteLength(tail);
  }
  const records: SampleRecord[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i].trim();
    if (t === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(t);
    } catch (e) {
      if (i === lines.length - 1 && tail === '') {
        // A complete-looking but corrupt last line: still a crash artefact.
        droppedPartialLine = true;
        keepBytes -= Buffer.byteLength(`${lines[i]}\n`);
        break;
      }
      throw new Error(`${file}:${i + 1}: invalid JSON (${(e as Error).message})`);
    }
    const parsed = SampleRecordSchema.safeParse(raw);
    if (!parsed.success) throw new Error(`${file}:${i + 1}: ${formatZodIssues(parsed.error.issues)}`);
    const key = sampleKey(parsed.data.doc_id, parsed.data.sample);
    if (seen.has(key)) {
      duplicates++;
      continue;
    }
    seen.add(key);
    records.push(parsed.data);
  }
  if (droppedPartialLine && opts.repair) truncateSync(file, keepBytes);
  return { records, droppedPartialLine, duplicates };
}

/** Samples grouped by document id, each group sorted by sample index. */
export function groupByDoc(records: readonly SampleRecord[]): Map<string, SampleRecord[]> {
  const m = new Map<string, SampleRecord[]>();
  for (const r of records) {
    const g = m.get(r.doc_id);
    if (g) g.push(r);
    else m.set(r.doc_id, [r]);
  }
  for (const g of m.values()) g.sort((a, b) => a.sample - b.sample);
  return m;
}

/**
 * Appends sample lines with one synchronous write each, so every line is in the file (handed to
 * the OS) before the run moves on: a killed process loses nothing it reported as written.
 */
export class SampleWriter {
  private fd: number | null;

  constructor(readonly file: string) {
    this.fd = openSync(file, 'a');
  }

  write(record: SampleRecord): void {
    if (this.fd === null) throw new Error(`${this.file}: writer is closed`);
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
