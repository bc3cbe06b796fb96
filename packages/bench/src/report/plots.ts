/**
 * SVG charts rendered server-side: a Vega-Lite spec is compiled to Vega and rendered headless
 * with `View.toSVG()` (renderer 'none', no canvas, no network: data is always inline).
 *
 * Readability rules: legend labels are never truncated (Vega-Lite cuts them at 160 px by
 * default, which made "fkl: RM" and "fkl: true" identical); a panel shows at most
 * {@link MAX_SERIES_PER_PANEL} series, more are faceted into panels side by side (series named
 * `method: variant` are split by variant, so RM and true score sit side by side with one colour
 * per method); a chart given a title carries it.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/** A point of a line chart; `lo`/`hi` draw a band (e.g. mean ± stderr over seeds). */
export interface LinePoint {
  x: number;
  y: number;
  lo?: number;
  hi?: number;
}

/** One line of a line chart. */
export interface LineSeries {
  name: string;
  points: LinePoint[];
}

/** One bar of a grouped bar chart: `group` on the x axis (benchmark), `series` as colour (method). */
export interface Bar {
  group: string;
  series: string;
  mean: number;
  /** Error bar half-width (mean ± stderr); omitted: no error bar. */
  stderr?: number;
}

/** Size and labels of a chart. */
export interface ChartOptions {
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Plot area width in px; default 480 (line) or container-driven per group (bars). */
  width?: number;
  /** Plot area height in px; default 280. */
  height?: number;
}

/** Renders a Vega-Lite spec to an SVG string. */
export async function vegaLiteToSvg(spec: TopLevelSpec): Promise<string> {
  const vg = compile(spec).spec;
  const view = new vega.View(vega.parse(vg), { renderer: 'none', logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const finite = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v);

/** Most series one panel shows; beyond that colours repeat and cannot be told apart. */
export const MAX_SERIES_PER_PANEL = 8;

/** Legend settings: labels never truncated. */
const LEGEND = { labelLimit: 0, symbolLimit: 0, orient: 'right' as const };

/**
 * Assigns each series a panel and a colour key. Up to {@link MAX_SERIES_PER_PANEL} series share
 * one panel. Beyond that, names of the form `key: variant` go to one panel per variant, coloured
 * by key (so one method has one colour across panels); other names are cut into panels of
 * {@link MAX_SERIES_PER_PANEL} in order.
 */
export function panelsOf(names: readonly string[]): { panel: string; colorKey: string }[] {
  if (names.length <= MAX_SERIES_PER_PANEL) return names.map((n) => ({ panel: '', colorKey: n }));
  const split = names.map((n) => {
    const at = n.lastIndexOf(': ');
    return at > 0 ? { key: n.slice(0, at), variant: n.slice(at + 2) } : null;
  });
  if (split.every((x) => x !== null)) {
    const perVariant = new Map<string, number>();
    for (const x of split) perVariant.set(x!.variant, (perVariant.get(x!.variant) ?? 0) + 1);
    if (perVariant.size > 1 && [...perVariant.values()].every((c) => c <= MAX_SERIES_PER_PANEL)) {
      return split.map((x) => ({ panel: x!.variant, colorKey: x!.key }));
    }
  }
  const panels = Math.ceil(names.length / MAX_SERIES_PER_PANEL);
  return names.map((n, i) => {
    const p = Math.floor(i / MAX_SERIES_PER_PANEL);
    return { panel: `series ${p * MAX_SERIES_PER_PANEL + 1}–${Math.min(names.length, (p + 1) * MAX_SERIES_PER_PANEL)} of ${names.length}${panels > 1 ? '' : ''}`, colorKey: n };
  });
}

/** Greedy word wrap to lines of at most `width` characters. */
function wrapWords(text: string, width: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const w of text.split(/\s+/)) {
    if (line && line.length + 1 + w.length > width) {
      out.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) out.push(line);
  return out;
}

const xmlEscape = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);

/**
 * Gives a standalone SVG a visible title (wrapped to the chart's width) and an accessible
 * `<title>`, by nesting the chart under a title band. Idempotent on a chart titled this way.
 */
export function withSvgTitle(svg: string, title: string): string {
  if (svg.includes('data-falign-title="1"')) return svg;
  const m = /^\s*<svg\b([^>]*)>/.exec(svg);
  if (!m) return svg;
  const attr = (name: string) => Number(new RegExp(`\\s${name}="([\\d.]+)"`).exec(m[1])?.[1] ?? NaN);
  const w = attr('width');
  const h = attr('height');
  if (!Number.isFinite(w) || !Number.isFinite(h)) return svg;
  const lines = wrapWords(title, Math.max(20, Math.floor((w - 16) / 7.2)));
  const band = 10 + lines.length * 18;
  const inner = svg.replace(/^\s*<svg\b/, `<svg x="0" y="${band}"`);
  const text = lines.map((l, i) => `<text x="8" y="${22 + i * 18}" font-family="sans-serif" font-size="13" font-weight="bold" fill="#1f2328">${xmlEscape(l)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" data-falign-title="1" width="${w}" height="${h + band}" viewBox="0 0 ${w} ${h + band}" role="img" aria-label="${xmlEscape(title)}"><title>${xmlEscape(title)}</title><rect width="${w}" height="${h + band}" fill="white"/>${text}${inner}</svg>`;
}

/**
 * Line chart of several series overlaid (training curves). Points with a non-finite y are
 * dropped; series with `lo`/`hi` get a translucent band of their colour. More than
 * {@link MAX_SERIES_PER_PANEL} series are faceted (see {@link panelsOf}).
 */
export async function lineChartSvg(series: LineSeries[], opts: ChartOptions = {}): Promise<string> {
  const assign = panelsOf(series.map((s) => s.name));
  const faceted = assign.some((a) => a.panel !== '');
  const values = series.flatMap((s, i) =>
    s.points
      .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
      .map((p) => ({ series: assign[i].colorKey, panel: assign[i].panel, x: p.x, y: p.y, ...(finite(p.lo) && finite(p.hi) ? { lo: p.lo, hi: p.hi } : {}) })),
  );
  const hasBand = values.some((v) => 'lo' in v);
  const x = { field: 'x', type: 'quantitative' as const, title: opts.xLabel ?? 'step' };
  const colorKeys = [...new Set(assign.map((a) => a.colorKey))];
  const color = { field: 'series', type: 'nominal' as const, title: null, sort: colorKeys, legend: LEGEND, ...(colorKeys.length > 10 ? { scale: { scheme: 'tableau20' } } : {}) };
  const layers: object[] = [];
  if (hasBand) {
    layers.push({
      transform: [{ filter: 'isValid(datum.lo)' }],
      mark: { type: 'area', opacity: 0.2 },
      encoding: { x, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color },
    });
  }
  layers.push({
    mark: { type: 'line', strokeWidth: 1.75, ...(values.length <= 60 ? { point: { size: 18 } } : {}) },
    encoding: { x, y: { field: 'y', type: 'quantitative', title: opts.yLabel ?? 'value', scale: { zero: false } }, color },
  });
  const panels = [...new Set(assign.map((a) => a.panel))];
  const width = opts.width ?? 480;
  const base = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(opts.title ? { title: opts.title } : {}),
    background: 'white',
    data: { values },
  };
  if (!faceted) return vegaLiteToSvg({ ...base, width, height: opts.height ?? 280, layer: layers } as TopLevelSpec);
  return vegaLiteToSvg({
    ...base,
    facet: { column: { field: 'panel', type: 'nominal', sort: panels, title: null, header: { labelFontSize: 13, labelFontWeight: 'bold' } } },
    spec: { width: Math.max(260, Math.round(width / panels.length)), height: opts.height ?? 260, layer: layers },
    resolve: { scale: { y: 'shared' } },
  } as TopLevelSpec);
}

/**
 * Grouped bar chart (benchmarks on x, one coloured bar per method) with mean ± stderr error bars.
 * More than {@link MAX_SERIES_PER_PANEL} series are faceted into panels stacked vertically (see
 * {@link panelsOf}), each with its own slots on x.
 */
export async function barChartSvg(bars: Bar[], opts: ChartOptions = {}): Promise<string> {
  const finiteBars = bars.filter((b) => Number.isFinite(b.mean));
  const allSeries = [...new Set(finiteBars.map((b) => b.series))];
  const assign = new Map(allSeries.map((n, i) => [n, panelsOf(allSeries)[i]]));
  const values = finiteBars.map((b) => ({
    group: b.group,
    series: assign.get(b.series)!.colorKey,
    panel: assign.get(b.series)!.panel,
    mean: b.mean,
    ...(finite(b.stderr) ? { lo: b.mean - b.stderr, hi: b.mean + b.stderr } : {}),
  }));
  const groups = [...new Set(values.map((v) => v.group))];
  const seriesNames = [...new Set(values.map((v) => v.series))];
  const panels = [...new Set(values.map((v) => v.panel))];
  const faceted = panels.length > 1;
  const perPanel = Math.max(...panels.map((p) => new Set(values.filter((v) => v.panel === p).map((v) => v.series)).size));
  const x = { field: 'group', type: 'nominal' as const, title: opts.xLabel ?? null, sort: groups, axis: { labelAngle: 0 } };
  const xOffset = { field: 'series', sort: seriesNames };
  const layer = [
    {
      mark: { type: 'bar' },
      encoding: {
        x,
        xOffset,
        y: { field: 'mean', type: 'quantitative', title: opts.yLabel ?? 'score' },
        color: { field: 'series', type: 'nominal', title: null, sort: seriesNames, legend: LEGEND, ...(seriesNames.length > 10 ? { scale: { scheme: 'tableau20' } } : {}) },
      },
    },
    {
      transform: [{ filter: 'isValid(datum.lo)' }],
      mark: { type: 'rule', color: 'black', strokeWidth: 1.2 },
      encoding: { x, xOffset, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
    },
  ];
  const width = opts.width ?? Math.max(240, groups.length * Math.max(60, perPanel * 18));
  const base = { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', ...(opts.title ? { title: opts.title } : {}), background: 'white', data: { values } };
  if (!faceted) return vegaLiteToSvg({ ...base, width, height: opts.height ?? 280, layer } as TopLevelSpec);
  return vegaLiteToSvg({
    ...base,
    facet: { row: { field: 'panel', type: 'nominal', sort: panels, title: null, header: { labelFontSize: 12, labelFontWeight: 'bold', labelAngle: 0, labelAlign: 'left' } } },
    spec: { width, height: opts.height ?? 200, layer },
    resolve: { scale: { xOffset: 'independent', y: 'shared' } },
  } as TopLevelSpec);
}
