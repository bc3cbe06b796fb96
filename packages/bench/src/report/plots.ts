/**
 * SVG charts rendered server-side: a Vega-Lite spec is compiled to Vega and rendered headless
 * with `View.toSVG()` (renderer 'none', no canvas, no network: data is always inline).
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

/**
 * Line chart of several series overlaid (training curves). Points with a non-finite y are
 * dropped; series with `lo`/`hi` get a translucent band of their colour.
 */
export async function lineChartSvg(series: LineSeries[], opts: ChartOptions = {}): Promise<string> {
  const values = series.flatMap((s) =>
    s.points
      .filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
      .map((p) => ({ series: s.name, x: p.x, y: p.y, ...(finite(p.lo) && finite(p.hi) ? { lo: p.lo, hi: p.hi } : {}) })),
  );
  const hasBand = values.some((v) => 'lo' in v);
  const x = { field: 'x', type: 'quantitative' as const, title: opts.xLabel ?? 'step' };
  const color = { field: 'series', type: 'nominal' as const, title: null, sort: series.map((s) => s.name) };
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
  return vegaLiteToSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(opts.title ? { title: opts.title } : {}),
    width: opts.width ?? 480,
    height: opts.height ?? 280,
    background: 'white',
    data: { values },
    layer: layers,
  } as TopLevelSpec);
}

/** Grouped bar chart (benchmarks on x, one coloured bar per method) with mean ± stderr error bars. */
export async function barChartSvg(bars: Bar[], opts: ChartOptions = {}): Promise<string> {
  const values = bars
    .filter((b) => Number.isFinite(b.mean))
    .map((b) => ({
      group: b.group,
      series: b.series,
      mean: b.mean,
      ...(finite(b.stderr) ? { lo: b.mean - b.stderr, hi: b.mean + b.stderr } : {}),
    }));
  const groups = [...new Set(values.map((v) => v.group))];
  const seriesNames = [...new Set(values.map((v) => v.series))];
  const x = { field: 'group', type: 'nominal' as const, title: opts.xLabel ?? null, sort: groups, axis: { labelAngle: 0 } };
  const xOffset = { field: 'series', sort: seriesNames };
  return vegaLiteToSvg({
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(opts.title ? { title: opts.title } : {}),
    width: opts.width ?? Math.max(240, groups.length * Math.max(60, seriesNames.length * 18)),
    height: opts.height ?? 280,
    background: 'white',
    data: { values },
    layer: [
      {
        mark: { type: 'bar' },
        encoding: {
          x,
          xOffset,
          y: { field: 'mean', type: 'quantitative', title: opts.yLabel ?? 'score' },
          color: { field: 'series', type: 'nominal', title: null, sort: seriesNames },
        },
      },
      {
        transform: [{ filter: 'isValid(datum.lo)' }],
        mark: { type: 'rule', color: 'black', strokeWidth: 1.2 },
        encoding: { x, xOffset, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' } },
      },
    ],
  } as TopLevelSpec);
}
