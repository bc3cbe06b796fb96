/**
 * One self-contained HTML report page: inline CSS, tables and SVG charts inline, no scripts and
 * no external resources, so it opens anywhere (file://, an artifact viewer, offline).
 */
import { escapeHtml } from './render-table.js';

/** A block of the report page. */
export interface HtmlSection {
  title: string;
  /** Paragraphs of plain text (escaped). */
  text?: string[];
  /** Trusted HTML fragments rendered by this package (tables from renderHtmlTable, SVG charts). */
  html?: string[];
}

/** Input of {@link renderHtmlReport}. */
export interface HtmlReport {
  title: string;
  /** Plain-text lines under the title (run list, commit, date...). */
  meta?: string[];
  sections: HtmlSection[];
}

const CSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1f2328;background:#fff}
h1{font-size:1.6rem;margin-bottom:.25rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.25rem}
.meta{color:#57606a;font-size:.9rem;margin:.1rem 0}
table.results{border-collapse:collapse;margin:1rem 0;font-variant-numeric:tabular-nums;font-size:.92rem}
table.results caption{caption-side:top;text-align:left;color:#57606a;padding-bottom:.4rem}
table.results th,table.results td{padding:.35rem .7rem;border-bottom:1px solid #d0d7de;text-align:right;white-space:nowrap}
table.results thead th{border-bottom:2px solid #1f2328}
table.results .name{text-align:left}
table.results td.empty{color:#8c959f;text-align:center}
figure{margin:1rem 0}figure svg{max-width:100%;height:auto}
`;

/** Renders the report page. */
export function renderHtmlReport(report: HtmlReport): string {
  const sections = report.sections
    .map((s) => {
      const text = (s.text ?? []).map((t) => `<p>${escapeHtml(t)}</p>`).join('\n');
      const blocks = (s.html ?? []).map((h) => (h.trimStart().startsWith('<svg') ? `<figure>${h}</figure>` : h)).join('\n');
      return `<section>\n<h2>${escapeHtml(s.title)}</h2>\n${text}\n${blocks}\n</section>`;
    })
    .join('\n');
  const meta = (report.meta ?? []).map((m) => `<p class="meta">${escapeHtml(m)}</p>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(report.title)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>${escapeHtml(report.title)}</h1>
${meta}
${sections}
</body>
</html>
`;
}
