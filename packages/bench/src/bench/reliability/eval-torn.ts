/**
 * An eval whose samples file ends in a torn line (a write cut by a crash) resumes cleanly: the
 * partial line is dropped and said so, the run says it resumes, only the missing sample is
 * generated again, and the samples and metrics equal those of an uninterrupted run.
 */
import { readFileSync, rmSync, truncateSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runFalign } from './spawn.js';

/** What {@link evalTornLine} found. */
export interface EvalTornResult {
  ok: boolean;
  /** Human details (what differed, when something did). */
  detail: string;
  droppedPartialLine: boolean;
  saidResuming: boolean;
  samplesIdentical: boolean;
  metricsIdentical: boolean;
  regenerated: number;
  wallS: number;
}

/** Samples without their timing fields (gen_ms, batch depend on the machine and the call). */
function samples(dir: string): unknown[] {
  return readFileSync(join(dir, 'samples.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => {
      const { gen_ms: _g, batch: _b, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return rest;
    })
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

/** Runs the check in `work` with `model` (an in-process spec). */
export async function evalTornLine(model: string, work: string): Promise<EvalTornResult> {
  const t0 = Date.now();
  const args = (out: string) => ['eval', '--task', 'gsm8k', '--model', model, '--limit', '6', '--num-fewshot', '0', '--max-new-tokens', '12', '--backend', 'cpu', '--requests-per-call', '1', '--out', out, '--json'];
  const a = join(work, 'uninterrupted');
  const b = join(work, 'torn');
  rmSync(work, { recursive: true, force: true });
  const ra = await runFalign(args(a));
  const rb = await runFalign(args(b));
  if (ra.code !== 0 || rb.code !== 0) return { ok: false, detail: `eval failed: ${(ra.stderr || rb.stderr).trim().split('\n').pop()}`, droppedPartialLine: false, saidResuming: false, samplesIdentical: false, metricsIdentical: false, regenerated: 0, wallS: (Date.now() - t0) / 1000 };
  // Tear the last line in half, as a crash during the write would, and lose results.json.
  const file = join(b, 'samples.jsonl');
  const text = readFileSync(file, 'utf8');
  const lastStart = text.lastIndexOf('\n', text.length - 2) + 1;
  truncateSync(file, Buffer.byteLength(text.slice(0, lastStart + Math.floor((text.length - lastStart) / 2))));
  rmSync(join(b, 'results.json'));
  const sizeTorn = statSync(file).size;
  const rc = await runFalign(args(b));
  const droppedPartialLine = /dropped a partial last line/.test(rc.stderr);
  const saidResuming = /resuming .*5\/6 samples already/.test(rc.stderr);
  const samplesIdentical = rc.code === 0 && JSON.stringify(samples(a)) === JSON.stringify(samples(b));
  const ma = JSON.parse(readFileSync(join(a, 'results.json'), 'utf8')) as { results: unknown };
  const mb = rc.code === 0 ? (JSON.parse(readFileSync(join(b, 'results.json'), 'utf8')) as { results: unknown; invocations: { generated_samples: number }[] }) : null;
  const metricsIdentical = mb !== null && JSON.stringify(ma.results) === JSON.stringify(mb.results);
  const regenerated = mb?.invocations.at(-1)?.generated_samples ?? -1;
  const ok = rc.code === 0 && droppedPartialLine && saidResuming && samplesIdentical && metricsIdentical && regenerated === 1;
  const detail = ok
    ? `torn at byte ${sizeTorn}; 1 sample regenerated`
    : `exit ${rc.code}; dropped=${droppedPartialLine} resuming=${saidResuming} samples=${samplesIdentical} metrics=${metricsIdentical} regenerated=${regenerated}; ${rc.stderr.trim().split('\n').slice(-2).join(' | ')}`;
  return { ok, detail, droppedPartialLine, saidResuming, samplesIdentical, metricsIdentical, regenerated, wallS: (Date.now() - t0) / 1000 };
}
