/**
 * One self-contained HTML report page: inline CSS, tables and SVG charts inline, no scripts and
 * no external resources, so it opens anywhere (file://, an artifact viewer, offline).
 *
 * Layout rules (checked at 1,400 px by a headless-Chromium test): the page never scrolls
 * sideways; a wide table scrolls inside its own box with the method column fixed (sticky); a wide
 * chart scales down; long words in notes wrap. Notes are Markdown, rendered with `marked`; raw
 * HTML inside them is escaped (notes quote model outputs, which are untrusted).
 */
import { Marked } from 'marked';
import { escapeHtml } from './render-table.js';

/** Markdown → HTML with raw HTML shown as text, never interpreted. */
const markdown = new Marked({ gfm: true, breaks: false, async: false }).use({
  renderer: {
    html(token) {
      return escapeHtml(token.text);
    },
  },
});

/** Renders one line of Markdown to inline HTML (no paragraph); raw HTML in it is escaped. */
export function renderMarkdownInline(text: string): string {
  return markdown.parseInline(text) as string;
}

/** Renders one Markdown note to HTML (block level); raw HTML in it is escaped. */
export function renderMarkdown(text: string): string {
  return (markdown.parse(text) as string).trim();
}

/** A block of the report page. */
export interface HtmlSection {
  title: string;
  /** Paragraphs of plain text (escaped). */
  text?: string[];
  /** Paragraphs of Markdown (rendered; raw HTML escaped). */
  markdown?: string[];
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
*,*::before,*::after{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1f2328;background:#fff;line-height:1.45}
p,li,td,th,h1,h2,h3,blockquote{overflow-wrap:anywhere}
code{font-size:.9em;background:#f6f8fa;padding:.05em .3em;border-radius:4px}
pre{overflow-x:auto;background:#f6f8fa;padding:.6rem;border-radius:6px;white-space:pre-wrap}
.table-wrap{max-width:100%;overflow-x:auto;margin:1rem 0;border:1px solid #eaeef2;border-radius:6px}
.table-wrap table.results{margin:0}
h1{font-size:1.6rem;margin-bottom:.25rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.25rem}
.meta{color:#57606a;font-size:.9rem;margin:.1rem 0}
table.results{border-collapse:collapse;margin:1rem 0;font-variant-numeric:tabular-nums;font-size:.92rem}
table.results caption{caption-side:top;text-align:left;color:#57606a;padding-bottom:.4rem}
table.results th,table.results td{padding:.35rem .7rem;border-bottom:1px solid #d0d7de;text-align:right;white-space:nowrap}
table.results thead th{border-bottom:2px solid #1f2328}
table.results .name{text-align:left;position:sticky;left:0;background:#fff;z-index:1;box-shadow:1px 0 0 #d0d7de;white-space:normal;min-width:8rem;max-width:16rem}
table.results thead th{background:#fff}
table.results td.empty{color:#8c959f;text-align:center}
figure{margin:1rem 0;max-width:100%;overflow-x:auto}figure svg{max-width:100%;height:auto}
`;

/** Renders the report page. */
export function renderHtmlReport(report: HtmlReport): string {
  const sections = report.sections
    .map((s) => {
      const text = [...(s.text ?? []).map((t) => `<p>${escapeHtml(t)}</p>`), ...(s.markdown ?? []).map(renderMarkdown)].join('\n');
      const blocks = (s.html ?? [])
        .map((h) => {
          const t = h.trimStart();
          if (t.startsWith('<svg')) return `<figure>${h}</figure>`;
          if (t.startsWith('<table')) return `<div class="table-wrap">${h}</div>`;
          return h;
        })
        .join('\n');
      return `<section>\n<h2>${escapeHtml(s.title)}</h2>\n${text}\n${blocks}\n</section>`;
    })
    .join('\n');
  const meta = (report.meta ?? []).map((m) => `<p class="meta">${renderMarkdownInline(m)}</p>`).join('\n');
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
