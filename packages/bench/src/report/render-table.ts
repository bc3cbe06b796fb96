/**
 * Deterministic renderers of a {@link ResultTable}: Markdown, LaTeX (booktabs), CSV and an HTML
 * table. Cells read `mean ± stderr`; the best value of each column is bold (ties all bold); the
 * optional summary columns are the paper's Relative Overall (needs a base row) and average rank.
 */
import { averageRank, relativeOverall } from './summary.js';
import { cellOf, validateTable, type Cell, type ResultTable } from './table.js';

/** Options shared by the table renderers. */
export interface TableRenderOptions {
  /** Multiplies means and stderrs for display (100 shows accuracies as percentages); default 1. */
  scale?: number;
  /** Decimals shown; default 2. */
  digits?: number;
  /** Bold the best value of each column (all tied best values; none when every row ties); default true. */
  highlightBest?: boolean;
  /** Base row: adds a "Relative Overall" column (base 0, best 100). */
  base?: string;
  /** Add an "Avg. rank" column; default true when the table has 2+ columns. */
  averageRank?: boolean;
  /** Header of the row-name column; default 'Method'. */
  rowHeader?: string;
  /** ↑ / ↓ after each header; default true. */
  arrows?: boolean;
}

/** One rendered cell before syntax is applied. */
interface LaidCell {
  mean: string;
  stderr?: string;
  best: boolean;
  empty: boolean;
}

interface Layout {
  headers: { label: string; arrow: '↑' | '↓' }[];
  rowHeader: string;
  rows: { name: string; cells: LaidCell[] }[];
}

function fmt(x: number, digits: number): string {
  const s = x.toFixed(digits);
  // avoid "-0.00"
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

function layout(table: ResultTable, opts: TableRenderOptions): Layout {
  validateTable(table);
  const scale = opts.scale ?? 1;
  const digits = opts.digits ?? 2;
  const highlight = opts.highlightBest ?? true;
  const withRank = opts.averageRank ?? table.columns.length >= 2;
  const columns: { label: string; higherIsBetter: boolean; values: (Cell | null)[]; scaled: boolean }[] = table.columns.map((c) => ({
    label: c.label ?? c.key,
    higherIsBetter: c.higherIsBetter,
    values: table.rows.map((r) => cellOf(r, c.key)),
    scaled: true,
  }));
  if (opts.base !== undefined) {
    const ro = relativeOverall(table, { base: opts.base });
    columns.push({
      label: 'Relative Overall',
      higherIsBetter: true,
      values: table.rows.map((r) => (ro.scores[r.name] === null ? null : { mean: ro.scores[r.name] as number })),
      scaled: false,
    });
  }
  if (withRank) {
    const ar = averageRank(table);
    columns.push({
      label: 'Avg. rank',
      higherIsBetter: false,
      values: table.rows.map((r) => (ar.ranks[r.name] === null ? null : { mean: ar.ranks[r.name] as number })),
      scaled: false,
    });
  }
  const cellsByColumn = columns.map((col) => {
    const present = col.values.filter((v): v is Cell => v !== null).map((v) => v.mean);
    const best = present.length === 0 ? NaN : col.higherIsBetter ? Math.max(...present) : Math.min(...present);
    // nothing stands out when every row ties
    const allTie = present.every((v) => v === best);
    const k = col.scaled ? scale : 1;
    return col.values.map((v): LaidCell => {
      if (!v) return { mean: '', best: false, empty: true };
      return {
        mean: fmt(v.mean * k, digits),
        stderr: v.stderr !== undefined ? fmt(v.stderr * k, digits) : undefined,
        best: highlight && !allTie && v.mean === best,
        empty: false,
      };
    });
  });
  const arrows = opts.arrows ?? true;
  return {
    rowHeader: opts.rowHeader ?? 'Method',
    headers: columns.map((c) => ({ label: c.label, arrow: arrows ? (c.higherIsBetter ? '↑' : '↓') : ('' as '↑') })),
    rows: table.rows.map((r, i) => ({ name: r.name, cells: cellsByColumn.map((col) => col[i]) })),
  };
}

function escapeMarkdown(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** A Markdown (GFM) table: `| Method | GSM8K ↑ | ... |`, numbers right-aligned, best in bold. */
export function renderMarkdownTable(table: ResultTable, opts: TableRenderOptions = {}): string {
  const l = layout(table, opts);
  const head = [l.rowHeader, ...l.headers.map((h) => (h.arrow ? `${h.label} ${h.arrow}` : h.label))].map(escapeMarkdown);
  const lines = [`| ${head.join(' | ')} |`, `|${[':---', ...l.headers.map(() => '---:')].join('|')}|`];
  for (const r of l.rows) {
    const cells = r.cells.map((c) => {
      if (c.empty) return '—';
      const text = c.stderr !== undefined ? `${c.mean} ± ${c.stderr}` : c.mean;
      return c.best ? `**${text}**` : text;
    });
    lines.push(`| ${[escapeMarkdown(r.name), ...cells].join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** Escapes LaTeX's special characters in text. */
export function escapeLatex(s: string): string {
  return s.replace(/[\\{}$&#^_%~]/g, (c) => {
    switch (c) {
      case '\\':
        return '\\textbackslash{}';
      case '^':
        return '\\textasciicircum{}';
      case '~':
        return '\\textasciitilde{}';
      default:
        return `\\${c}`;
    }
  });
}

/**
 * A LaTeX `table` with a booktabs `tabular` (needs `\usepackage{booktabs}`): cells `m $\pm$ s`,
 * best value `\textbf{m}`, arrows as `$\uparrow$` / `$\downarrow$`.
 */
export function renderLatexTable(table: ResultTable, opts: TableRenderOptions & { label?: string } = {}): string {
  const l = layout(table, opts);
  const arrow = (a: string) => (a === '↑' ? ' $\\uparrow$' : a === '↓' ? ' $\\downarrow$' : '');
  const head = [escapeLatex(l.rowHeader), ...l.headers.map((h) => `${escapeLatex(h.label)}${arrow(h.arrow)}`)];
  const out = [
    '\\begin{table}[t]',
    '\\centering',
    ...(table.caption ? [`\\caption{${escapeLatex(table.caption)}}`] : []),
    ...(opts.label ? [`\\label{${opts.label}}`] : []),
    `\\begin{tabular}{l${'r'.repeat(l.headers.length)}}`,
    '\\toprule',
    `${head.join(' & ')} \\\\`,
    '\\midrule',
  ];
  for (const r of l.rows) {
    const cells = r.cells.map((c) => {
      if (c.empty) return '--';
      const m = c.best ? `\\textbf{${c.mean}}` : c.mean;
      return c.stderr !== undefined ? `${m} $\\pm$ ${c.stderr}` : m;
    });
    out.push(`${[escapeLatex(r.name), ...cells].join(' & ')} \\\\`);
  }
  out.push('\\bottomrule', '\\end{tabular}', '\\end{table}');
  return `${out.join('\n')}\n`;
}

function csvField(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/**
 * CSV (RFC 4180), one line per row: `method, <col>, <col>_stderr, <col>_n, ...` with raw
 * (unscaled, full precision) numbers, then `relative_overall` (when `base` is set) and `avg_rank`.
 */
export function renderCsv(table: ResultTable, opts: Pick<TableRenderOptions, 'base' | 'averageRank' | 'rowHeader'> = {}): string {
  validateTable(table);
  const withRank = opts.averageRank ?? table.columns.length >= 2;
  const ro = opts.base !== undefined ? relativeOverall(table, { base: opts.base }) : null;
  const ar = withRank ? averageRank(table) : null;
  const header = [(opts.rowHeader ?? 'method').toLowerCase()];
  for (const c of table.columns) header.push(c.key, `${c.key}_stderr`, `${c.key}_n`);
  if (ro) header.push('relative_overall');
  if (ar) header.push('avg_rank');
  const lines = [header.map(csvField).join(',')];
  const num = (x: number | null | undefined) => (x === null || x === undefined ? '' : String(x));
  for (const r of table.rows) {
    const f = [r.name];
    for (const c of table.columns) {
      const cell = cellOf(r, c.key);
      f.push(num(cell?.mean), num(cell?.stderr), num(cell?.n));
    }
    if (ro) f.push(num(ro.scores[r.name]));
    if (ar) f.push(num(ar.ranks[r.name]));
    lines.push(f.map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** An HTML `<table>` (class "results"), best values in `<strong>`, for the report page. */
export function renderHtmlTable(table: ResultTable, opts: TableRenderOptions = {}): string {
  const l = layout(table, opts);
  const th = [l.rowHeader, ...l.headers.map((h) => (h.arrow ? `${h.label} ${h.arrow}` : h.label))]
    .map((h, i) => `<th${i === 0 ? ' class="name"' : ''}>${escapeHtml(h)}</th>`)
    .join('');
  const body = l.rows
    .map((r) => {
      const tds = r.cells
        .map((c) => {
          if (c.empty) return '<td class="empty">—</td>';
          const text = c.stderr !== undefined ? `${c.mean} ± ${c.stderr}` : c.mean;
          return `<td>${c.best ? `<strong>${escapeHtml(text)}</strong>` : escapeHtml(text)}</td>`;
        })
        .join('');
      return `<tr><th class="name" scope="row">${escapeHtml(r.name)}</th>${tds}</tr>`;
    })
    .join('\n');
  const caption = table.caption ? `<caption>${escapeHtml(table.caption)}</caption>` : '';
  return `<table class="results">${caption}<thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n</tbody></table>`;
}
