// The report page as a reader sees it, in headless Chromium at 1,400 px: no horizontal overflow of
// the page (wide tables scroll inside their own box with the method column fixed), Markdown
// rendered (no raw ** or backticks; raw HTML escaped), legends complete, at most 8 series per
// panel, every standalone SVG titled. Saves a screenshot to artifacts/ (kept by CI).
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { lineChartSvg, MAX_SERIES_PER_PANEL, panelsOf, withSvgTitle, barChartSvg } from '../src/report/plots.js';
import { renderMarkdown } from '../src/report/html.js';
import { pipelineResultsAsHarness } from '../src/report/eval-runs.js';
import { writeReport } from '../src/report/write.js';
import type { ResultTable } from '../src/report/table.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'falign-report-page-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const methods = ['GRPO (reverse KL)', 'f-GRPO forward KL', 'f-GRPO Jensen-Shannon', 'f-GRPO Hellinger', 'f-GRPO total variation', 'f-HAL Pearson chi-squared'];

describe('chart readability rules', () => {
  it('panelsOf: ≤ 8 series stay together; "method: variant" names facet by variant with one colour per method', () => {
    expect(panelsOf(['a', 'b']).every((p) => p.panel === '')).toBe(true);
    const names = [...methods.map((m) => `${m}: RM`), ...methods.map((m) => `${m}: true`)];
    const p = panelsOf(names);
    expect(new Set(p.map((x) => x.panel))).toEqual(new Set(['RM', 'true']));
    expect(p[0].colorKey).toBe(p[6].colorKey);
    const many = panelsOf(Array.from({ length: 20 }, (_, i) => `s${i}`));
    const counts = new Map<string, number>();
    for (const x of many) counts.set(x.panel, (counts.get(x.panel) ?? 0) + 1);
    expect([...counts.values()].every((c) => c <= MAX_SERIES_PER_PANEL)).toBe(true);
    expect(counts.size).toBe(3);
  });

  it('bars: more than 8 methods are faceted into panels of at most 8, each bar and error bar drawn once', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `method ${i + 1}`);
    const svg = await barChartSvg(names.flatMap((m, i) => ['t1', 't2'].map((g) => ({ group: g, series: m, mean: 10 + i, stderr: 1 }))), { yLabel: 'pass@1 (%)' });
    expect(svg).toContain('series 1–8 of 12');
    expect(svg).toContain('series 9–12 of 12');
    expect(svg.match(/aria-roledescription="bar"/g)).toHaveLength(24);
    for (const m of names) expect(svg).toContain(`series: ${m}"`);
  });

  it('pipeline results (falign run/train eval/<task>/results.json) read as harness metrics with directions', () => {
    const safety = pipelineResultsAsHarness({ task: 'safety', scores: { nHarmful: 4, nBenign: 4, refusalHarmful: 0.75, overRefusalBenign: 0.25, trueScore: 0.75, rmScore: 1.2, rmNormalized: 0.8, hackingGap: 0.05 } }) as { results: Record<string, { value: number; stderr: number | null; higher_is_better: boolean }> };
    expect(Object.keys(safety.results)).toEqual(['true_score', 'refusal_harmful', 'over_refusal_benign', 'rm_normalized', 'hacking_gap']);
    expect(safety.results.refusal_harmful).toMatchObject({ value: 0.75, higher_is_better: true });
    expect(safety.results.refusal_harmful.stderr).toBeCloseTo(Math.sqrt((0.75 * 0.25) / 4), 12);
    expect(safety.results.over_refusal_benign.higher_is_better).toBe(false);
    expect(safety.results.hacking_gap).toMatchObject({ value: 0.05, stderr: null, higher_is_better: false });
    const math = pipelineResultsAsHarness({ task: 'math', meanGreedy: 0.5, tiers: { t1: { n: 10, greedy: 0.6, sampled: null }, t2: { n: 10, greedy: 0.4, sampled: null } } }) as { results: Record<string, { value: number }> };
    expect(Object.entries(math.results).map(([k, v]) => [k, v.value])).toEqual([['pass@1,greedy-mean', 0.5], ['pass@1,greedy-t1', 0.6], ['pass@1,greedy-t2', 0.4]]);
    const harness = { task: 'gsm8k', results: {} };
    expect(pipelineResultsAsHarness(harness)).toBe(harness);
  });

  it('Markdown notes render; raw HTML is escaped, not interpreted', () => {
    expect(renderMarkdown('**Incomplete:** 3 of `39` runs <script>alert(1)</script>')).toBe(
      '<p><strong>Incomplete:</strong> 3 of <code>39</code> runs &lt;script&gt;alert(1)&lt;/script&gt;</p>',
    );
  });

  it('withSvgTitle gives a standalone SVG a visible and accessible title, well-formed and idempotent', async () => {
    const svg = await barChartSvg([{ group: 'gsm8k', series: 'a', mean: 0.5 }], { yLabel: 'pass@1 (%)' });
    const titled = withSvgTitle(svg, 'A & B <title>');
    expect(titled).toMatch(/^<svg [^>]*aria-label="A &amp; B &lt;title&gt;"><title>A &amp; B &lt;title&gt;<\/title>/);
    expect(withSvgTitle(titled, 'other')).toBe(titled);
    const h = (s: string) => Number(/height="([\d.]+)"/.exec(s)![1]);
    expect(h(titled)).toBeGreaterThan(h(svg));
  });
});

describe('report page at 1,400 px in headless Chromium', () => {
  it('no horizontal page overflow, sticky method column, rendered Markdown, complete legends; screenshot kept', async () => {
    // A deliberately wide table: 14 benchmarks with long labels.
    const cols = Array.from({ length: 14 }, (_, i) => ({ key: `b${i}`, label: `benchmark number ${i} (strict-match)`, higherIsBetter: i % 3 !== 0 }));
    const table: ResultTable = {
      columns: cols,
      rows: methods.map((name, r) => ({ name, cells: Object.fromEntries(cols.map((c, i) => [c.key, { mean: ((r + 1) * (i + 3)) % 97, stderr: 1.25 }])) })),
    };
    const curves = (shift: number) => methods.map((m, i) => ({ name: m, points: Array.from({ length: 12 }, (_, s) => ({ x: s * 10, y: 40 + i * 5 + shift * Math.sin(s / 2) })) }));
    const both = [...curves(5).map((s) => ({ ...s, name: `${s.name}: RM` })), ...curves(-5).map((s) => ({ ...s, name: `${s.name}: true` }))];
    const spec = {
      title: 'Stress report',
      meta: ['commit `abc123`, **quick** run'],
      tables: [{ name: 'wide', title: 'A wide table', table, options: { digits: 1, base: methods[0] } }],
      charts: [
        { name: 'rm-vs-true', title: 'Normalised RM score vs true score during training (%)', svg: await lineChartSvg(both, { xLabel: 'optimizer step', yLabel: 'score (%)', width: 640 }) },
        {
          name: 'bars-12',
          title: 'pass@1 per tier, 12 methods (%)',
          svg: await barChartSvg([...methods, ...methods.map((m) => `${m} + SFT`)].flatMap((m, i) => ['t1', 't2', 't3'].map((g, j) => ({ group: g, series: m, mean: 5 + i + j * 4, stderr: 1 }))), { yLabel: 'pass@1 (%)' }),
        },
        { name: 'bars', title: 'pass@1 per tier (%)', svg: await barChartSvg(methods.flatMap((m, i) => ['easy', 'medium', 'hard'].map((g, j) => ({ group: g, series: m, mean: 10 + i + j * 3, stderr: 1 }))), { yLabel: 'pass@1 (%)' }) },
      ],
      notes: [
        '**Incomplete:** 3 of 39 runs finished; the tables show the finished ones.',
        'Reward = strict GSM8K verification (`#### N`) by @falign/rewards.',
        '- a claim that held\n- a claim that did not',
        `A long path that must wrap: ${'/very/long/directory/name'.repeat(12)} and a model answer <script>alert(1)</script>.`,
      ],
    };
    const out = join(tmp, 'report');
    await writeReport(out, spec);
    for (const stem of ['rm-vs-true', 'bars', 'bars-12']) {
      const svg = readFileSync(join(out, 'plots', `${stem}.svg`), 'utf8');
      expect(svg).toMatch(/^<svg [^>]*><title>[^<]+<\/title>/);
    }

    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(`file://${join(out, 'index.html')}`);
      const m = await page.evaluate(() => {
        const doc = document.documentElement;
        const wrap = document.querySelector('.table-wrap') as HTMLElement;
        const text = document.body.innerText;
        const legendLabels = Array.from(document.querySelectorAll('figure svg .role-legend-label text, figure svg [class*="legend"] text')).map((t) => t.textContent ?? '');
        return {
          pageScroll: doc.scrollWidth,
          viewport: doc.clientWidth,
          wrapScrolls: wrap.scrollWidth > wrap.clientWidth,
          wrapInside: wrap.getBoundingClientRect().right <= doc.clientWidth,
          rawMarkdown: /\*\*|`/.test(text),
          strong: document.querySelectorAll('section strong').length,
          listItems: document.querySelectorAll('section li').length,
          scripts: document.querySelectorAll('script').length,
          escapedScript: text.includes('<script>alert(1)</script>'),
          legendLabels,
        };
      });
      expect(m.pageScroll).toBeLessThanOrEqual(m.viewport);
      expect(m.wrapScrolls).toBe(true);
      expect(m.wrapInside).toBe(true);
      expect(m.rawMarkdown).toBe(false);
      expect(m.strong).toBeGreaterThan(0);
      expect(m.listItems).toBe(2);
      expect(m.scripts).toBe(0);
      expect(m.escapedScript).toBe(true);
      // legends: every method name complete (never cut with an ellipsis)
      expect(m.legendLabels.some((l) => l.endsWith('…'))).toBe(false);
      for (const name of methods) expect(m.legendLabels).toContain(name);

      // the method column stays in place when the table scrolls sideways
      const before = await page.$eval('.table-wrap tbody th.name', (el) => el.getBoundingClientRect().left);
      await page.$eval('.table-wrap', (el) => (el.scrollLeft = 400));
      const after = await page.$eval('.table-wrap tbody th.name', (el) => el.getBoundingClientRect().left);
      expect(after).toBe(before);
      await page.$eval('.table-wrap', (el) => (el.scrollLeft = 0));

      const shotDir = join(root, 'artifacts');
      mkdirSync(shotDir, { recursive: true });
      const shot = join(shotDir, 'report-1400px.png');
      await page.screenshot({ path: shot, fullPage: true });
      process.stdout.write(`report screenshot (1400 px, no page overflow): ${shot}\n`);
    } finally {
      await browser.close();
    }
  });
});
