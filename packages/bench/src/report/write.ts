/**
 * Writes a report directory: `index.html` (self-contained), `report.md`, and per table
 * `tables/<name>.md|.tex|.csv`, per chart `plots/<name>.svg`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderHtmlReport, type HtmlSection } from './html.js';
import { withSvgTitle } from './plots.js';
import { renderCsv, renderHtmlTable, renderLatexTable, renderMarkdownTable, type TableRenderOptions } from './render-table.js';
import { relativeOverall } from './summary.js';
import type { ResultTable } from './table.js';

/** A table of a report. */
export interface ReportTable {
  /** File stem (sanitised). */
  name: string;
  title: string;
  table: ResultTable;
  options?: TableRenderOptions;
}

/** A chart of a report (an SVG string from lineChartSvg / barChartSvg). */
export interface ReportChart {
  name: string;
  title: string;
  svg: string;
}

/** Everything a report holds. */
export interface ReportSpec {
  title: string;
  /** Lines under the title (inputs, date, commit). */
  meta?: string[];
  tables: ReportTable[];
  charts: ReportChart[];
  /** Closing paragraphs (how numbers were computed). */
  notes?: string[];
}

/** Files written by {@link writeReport}, relative to the output directory. */
export interface WrittenReport {
  dir: string;
  files: string[];
}

function fileStem(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '');
  return s === '' ? 'table' : s;
}

function relativeOverallNote(t: ReportTable): string | null {
  const base = t.options?.base;
  if (base === undefined) return null;
  const ro = relativeOverall(t.table, { base });
  const ex = ro.excluded.map((e) => `${e.column} (${e.reason})`).join(', ');
  return `Relative Overall: per benchmark, min–max normalised so that ${base} = 0 and the best row = 100 (direction respected), then averaged over benchmarks.${ex ? ` Left out: ${ex}.` : ''}`;
}

/** Renders and writes the report; returns the files written. */
export async function writeReport(outDir: string, spec: ReportSpec): Promise<WrittenReport> {
  mkdirSync(join(outDir, 'tables'), { recursive: true });
  if (spec.charts.length > 0) mkdirSync(join(outDir, 'plots'), { recursive: true });
  const files: string[] = [];
  const put = (rel: string, text: string): void => {
    writeFileSync(join(outDir, rel), text);
    files.push(rel);
  };
  // tables/ and plots/ are separate namespaces
  const used = { table: new Set<string>(), chart: new Set<string>() };
  const unique = (name: string, kind: 'table' | 'chart'): string => {
    let stem = fileStem(name);
    for (let i = 2; used[kind].has(stem); i++) stem = `${fileStem(name)}-${i}`;
    used[kind].add(stem);
    return stem;
  };

  const md: string[] = [`# ${spec.title}`, '', ...(spec.meta ?? []).map((m) => `${m}  `), ''];
  const sections: HtmlSection[] = [];
  for (const t of spec.tables) {
    const stem = unique(t.name, 'table');
    const mdTable = renderMarkdownTable(t.table, t.options);
    put(`tables/${stem}.md`, mdTable);
    put(`tables/${stem}.tex`, renderLatexTable(t.table, { ...t.options, label: `tab:${stem}` }));
    put(`tables/${stem}.csv`, renderCsv(t.table, t.options));
    const note = relativeOverallNote(t);
    md.push(`## ${t.title}`, '', mdTable, ...(note ? [note, ''] : []));
    sections.push({ title: t.title, html: [renderHtmlTable(t.table, t.options)], text: note ? [note] : [] });
  }
  for (const c of spec.charts) {
    const stem = unique(c.name, 'chart');
    // A standalone SVG carries its own title (the page gives it a heading instead).
    put(`plots/${stem}.svg`, withSvgTitle(c.svg, c.title));
    md.push(`## ${c.title}`, '', `![${c.title}](plots/${stem}.svg)`, '');
    sections.push({ title: c.title, html: [c.svg] });
  }
  if (spec.notes && spec.notes.length > 0) {
    md.push('## Notes', '', ...spec.notes.flatMap((n) => [n, '']));
    sections.push({ title: 'Notes', markdown: spec.notes });
  }
  put('report.md', `${md.join('\n').replace(/\n{3,}/g, '\n\n')}\n`);
  put('index.html', renderHtmlReport({ title: spec.title, meta: spec.meta, sections }));
  return { dir: outDir, files };
}
