/** The human summary of a run: an lm-eval-style Markdown table of its metrics. */
import type { EvalResults } from './results.js';

const fmt = (x: number | null | undefined) => (x === null || x === undefined || !Number.isFinite(x) ? 'N/A' : x.toFixed(4));

/** Markdown table `Task | Version | Filter | n-shot | Metric | ↑/↓ | Value | ± | Stderr | 95% CI | n`. */
export function formatResultsTable(r: EvalResults, opts: { groups?: boolean } = {}): string {
  const rows = ['| Task | Version | Filter | n-shot | Metric | ↑/↓ | Value | ± | Stderr | CI | n |', '|---|---|---|---|---|---|---|---|---|---|---|'];
  let hidden = 0;
  for (const [name, m] of Object.entries(r.results)) {
    const [metricPart, ...rest] = name.split('/');
    if (rest.length > 0 && !opts.groups) {
      hidden++;
      continue;
    }
    const [metric, filter = 'none'] = metricPart.split(',');
    const label = rest.length > 0 ? `${metric} [${rest.join('/')}]` : metric;
    const ci = m.ci ? `[${fmt(m.ci[0])}, ${fmt(m.ci[1])}]` : 'N/A';
    rows.push(`| ${r.task} | ${r.task_version} | ${filter} | ${r.config.num_fewshot} | ${label} | ${m.higher_is_better ? '↑' : '↓'} | ${fmt(m.value)} | ± | ${fmt(m.stderr)} | ${ci} | ${m.n} |`);
  }
  const notes = [`model ${r.model.spec}, ${r.n.complete_docs}/${r.n.docs} docs, ${r.n.samples} samples (${r.n.samples_per_doc}/doc), temperature ${r.config.temperature}`];
  if (hidden > 0) notes.push(`${hidden} per-group metrics in results.json (--groups to list them)`);
  return `${rows.join('\n')}\n\n${notes.join('\n')}\n`;
}
