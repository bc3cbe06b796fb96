import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { averageRank, fractionalRanks, relativeOverall } from '../src/report/summary.js';
import { aggregateSeeds, validateTable, type ResultTable } from '../src/report/table.js';
import { escapeLatex, renderCsv, renderLatexTable, renderMarkdownTable } from '../src/report/render-table.js';
import { barChartSvg, lineChartSvg } from '../src/report/plots.js';
import { readTrainingRun, seedGroup, trainingCurves } from '../src/report/training.js';
import { evalRunsToTable, findEvalResults, modelDisplayName, readEvalRun } from '../src/report/eval-runs.js';
import { buildRunsReport } from '../src/report/from-runs.js';
import { writeReport } from '../src/report/write.js';

const tmp = mkdtempSync(join(tmpdir(), 'falign-report-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Columns A, B higher-is-better; C lower-is-better (an attack success rate). */
const table: ResultTable = {
  columns: [
    { key: 'A', higherIsBetter: true },
    { key: 'B', higherIsBetter: true },
    { key: 'C', higherIsBetter: false },
  ],
  rows: [
    { name: 'base', cells: { A: { mean: 0.2 }, B: { mean: 0.5 }, C: { mean: 0.4 } } },
    { name: 'm1', cells: { A: { mean: 0.3 }, B: { mean: 0.7 }, C: { mean: 0.3 } } },
    { name: 'm2', cells: { A: { mean: 0.4 }, B: { mean: 0.6 }, C: { mean: 0.2 } } },
    { name: 'm3', cells: { A: { mean: 0.3 }, B: { mean: 0.4 }, C: { mean: 0.4 } } },
  ],
};

describe('Relative Overall', () => {
  it('matches hand-computed values (direction respected, worse than base is negative)', () => {
    const ro = relativeOverall(table, { base: 'base' });
    // A: (v-0.2)/0.2 → 0, 50, 100, 50; B: (v-0.5)/0.2 → 0, 100, 50, -50; C (lower better, best 0.2): 0, 50, 100, 0
    expect(ro.perColumn.A.m1).toBeCloseTo(50, 10);
    expect(ro.perColumn.B.m3).toBeCloseTo(-50, 10);
    expect(ro.perColumn.C.m1).toBeCloseTo(50, 10);
    expect(ro.scores.base).toBe(0);
    expect(ro.scores.m1).toBeCloseTo(200 / 3, 10);
    expect(ro.scores.m2).toBeCloseTo(250 / 3, 10);
    expect(ro.scores.m3).toBeCloseTo(0, 10);
    expect(ro.excluded).toEqual([]);
  });

  it('leaves out a column where the base is best, and gives null to rows with a missing cell', () => {
    const t: ResultTable = {
      columns: [
        { key: 'A', higherIsBetter: true },
        { key: 'B', higherIsBetter: false },
      ],
      rows: [
        { name: 'base', cells: { A: { mean: 0.9 }, B: { mean: 0.5 } } },
        { name: 'x', cells: { A: { mean: 0.6 }, B: { mean: 0.25 } } },
        { name: 'y', cells: { A: { mean: 0.9 } } },
      ],
    };
    const ro = relativeOverall(t, { base: 'base' });
    expect(ro.excluded).toEqual([{ column: 'A', reason: 'base is the best (no range to normalise)' }]);
    expect(ro.scores).toEqual({ base: 0, x: 100, y: null });
    // every column excluded ⇒ no score at all
    const only = relativeOverall({ ...t, columns: [t.columns[0]] }, { base: 'base' });
    expect(only.scores).toEqual({ base: null, x: null, y: null });
    expect(() => relativeOverall(t, { base: 'nope' })).toThrow(/base row 'nope' not in table \(rows: base, x, y\)/);
  });
});

describe('average rank', () => {
  it('fractional ranks share tied positions', () => {
    expect(fractionalRanks([0.3, 0.5, 0.3, 0.1], true)).toEqual([2.5, 1, 2.5, 4]);
    expect(fractionalRanks([0.3, 0.5, 0.3, null], false)).toEqual([1.5, 3, 1.5, null]);
    expect(fractionalRanks([1, 1, 1], true)).toEqual([2, 2, 2]);
  });

  it('matches hand-computed ranks with ties and a lower-is-better column', () => {
    const ar = averageRank(table);
    // A: m2 1, m1/m3 2.5, base 4; B: m1 1, m2 2, base 3, m3 4; C (lower): m2 1, m1 2, base/m3 3.5
    expect(ar.perColumn.A).toEqual({ base: 4, m1: 2.5, m2: 1, m3: 2.5 });
    expect(ar.perColumn.C).toEqual({ base: 3.5, m1: 2, m2: 1, m3: 3.5 });
    expect(ar.ranks.base).toBeCloseTo(3.5, 12);
    expect(ar.ranks.m1).toBeCloseTo(5.5 / 3, 12);
    expect(ar.ranks.m2).toBeCloseTo(4 / 3, 12);
    expect(ar.ranks.m3).toBeCloseTo(10 / 3, 12);
    // ranks 1..4 always sum to 10 per column, so the averages do too
    const sum = Object.values(ar.ranks).reduce((a, r) => a! + r!, 0)!;
    expect(sum).toBeCloseTo(10, 12);
  });
});

describe('table helpers', () => {
  it('aggregateSeeds: mean of means, stderr = std(n-1)/sqrt(k)', () => {
    const c = aggregateSeeds([{ mean: 0.2, stderr: 0.01 }, { mean: 0.4 }, { mean: 0.3 }]);
    expect(c.mean).toBeCloseTo(0.3, 12);
    expect(c.stderr).toBeCloseTo(0.1 / Math.sqrt(3), 12);
    expect(c.n).toBe(3);
    expect(aggregateSeeds([{ mean: 0.5, stderr: 0.02, n: 10 }])).toEqual({ mean: 0.5, stderr: 0.02, n: 10 });
  });

  it('validateTable names the offending row and column', () => {
    expect(() => validateTable({ columns: [{ key: 'a', higherIsBetter: true }], rows: [{ name: 'r', cells: { b: { mean: 1 } } }] })).toThrow(
      "table: row 'r' has a cell for unknown column 'b'",
    );
    expect(() => validateTable({ columns: [{ key: 'a', higherIsBetter: true }], rows: [{ name: 'r', cells: { a: { mean: NaN } } }] })).toThrow(
      "row 'r', column 'a': mean is NaN",
    );
    expect(() => validateTable({ columns: [], rows: [{ name: 'r', cells: {} }, { name: 'r', cells: {} }] })).toThrow("duplicate row 'r'");
  });
});

describe('table renderers (golden outputs checked by hand)', () => {
  const t: ResultTable = {
    caption: 'Math & safety',
    columns: [
      { key: 'gsm8k', label: 'GSM8K', higherIsBetter: true },
      { key: 'asr', label: 'AdvBench ASR', higherIsBetter: false },
    ],
    rows: [
      { name: 'base', cells: { gsm8k: { mean: 0.25, stderr: 0.0125, n: 100 }, asr: { mean: 0.5, stderr: 0.05, n: 100 } } },
      { name: 'f-GRPO (KL)', cells: { gsm8k: { mean: 0.375, stderr: 0.02, n: 100 }, asr: { mean: 0.1 } } },
      { name: 'GRPO_v|2', cells: { gsm8k: { mean: 0.375, stderr: 0.0175, n: 100 } } },
    ],
  };

  it('Markdown: ×100, ties both bold, missing cells as —, Relative Overall and Avg. rank', () => {
    expect(renderMarkdownTable(t, { scale: 100, digits: 1, base: 'base' })).toBe(
      [
        '| Method | GSM8K ↑ | AdvBench ASR ↓ | Relative Overall ↑ | Avg. rank ↓ |',
        '|:---|---:|---:|---:|---:|',
        '| base | 25.0 ± 1.3 | 50.0 ± 5.0 | 0.0 | 2.5 |',
        '| f-GRPO (KL) | **37.5 ± 2.0** | **10.0** | **100.0** | **1.3** |',
        '| GRPO_v\\|2 | **37.5 ± 1.8** | — | — | — |',
        '',
      ].join('\n'),
    );
  });

  it('Markdown: no bold when every row ties; one column ⇒ no rank column by default', () => {
    const tie: ResultTable = {
      columns: [{ key: 'acc', higherIsBetter: true }],
      rows: [
        { name: 'a', cells: { acc: { mean: 0, stderr: 0, n: 20 } } },
        { name: 'b', cells: { acc: { mean: 0, stderr: 0, n: 20 } } },
      ],
    };
    expect(renderMarkdownTable(tie)).toBe('| Method | acc ↑ |\n|:---|---:|\n| a | 0.00 ± 0.00 |\n| b | 0.00 ± 0.00 |\n');
  });

  it('LaTeX: booktabs, escaped names, bold best mean', () => {
    expect(renderLatexTable(t, { scale: 100, digits: 1, label: 'tab:x' })).toBe(
      [
        '\\begin{table}[t]',
        '\\centering',
        '\\caption{Math \\& safety}',
        '\\label{tab:x}',
        '\\begin{tabular}{lrrr}',
        '\\toprule',
        'Method & GSM8K $\\uparrow$ & AdvBench ASR $\\downarrow$ & Avg. rank $\\downarrow$ \\\\',
        '\\midrule',
        'base & 25.0 $\\pm$ 1.3 & 50.0 $\\pm$ 5.0 & 2.5 \\\\',
        'f-GRPO (KL) & \\textbf{37.5} $\\pm$ 2.0 & \\textbf{10.0} & \\textbf{1.3} \\\\',
        'GRPO\\_v|2 & \\textbf{37.5} $\\pm$ 1.8 & -- & -- \\\\',
        '\\bottomrule',
        '\\end{tabular}',
        '\\end{table}',
        '',
      ].join('\n'),
    );
    expect(escapeLatex('50% of $x_1 & {y}# ~^\\')).toBe('50\\% of \\$x\\_1 \\& \\{y\\}\\# \\textasciitilde{}\\textasciicircum{}\\textbackslash{}');
  });

  it('CSV: raw numbers, empty fields for missing values, quoting', () => {
    const quoted: ResultTable = { ...t, rows: [...t.rows, { name: 'say "hi", ok', cells: { gsm8k: { mean: 0.1 } } }] };
    expect(renderCsv(quoted, { base: 'base' })).toBe(
      [
        'method,gsm8k,gsm8k_stderr,gsm8k_n,asr,asr_stderr,asr_n,relative_overall,avg_rank',
        'base,0.25,0.0125,100,0.5,0.05,100,0,2.5',
        'f-GRPO (KL),0.375,0.02,100,0.1,,,100,1.25',
        'GRPO_v|2,0.375,0.0175,100,,,,,',
        '"say ""hi"", ok",0.1,,,,,,,',
        '',
      ].join('\n'),
    );
  });
});

describe('SVG charts', () => {
  it('bar chart: one bar per (benchmark, method), one error bar per stderr, labels present', async () => {
    const svg = await barChartSvg(
      [
        { group: 'gsm8k', series: 'base', mean: 0.2, stderr: 0.05 },
        { group: 'gsm8k', series: 'ft', mean: 0.4, stderr: 0.03 },
        { group: 'math', series: 'base', mean: 0.1 },
        { group: 'math', series: 'ft', mean: 0.15, stderr: 0.02 },
      ],
      { title: 'Accuracy' },
    );
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/aria-roledescription="bar"/g)).toHaveLength(4);
    expect(svg.match(/aria-roledescription="rule mark"/g)).toHaveLength(3);
    expect(svg).toContain('aria-label="group: gsm8k; lo: 0.15; hi: 0.25; series: base"');
    expect(svg).toContain('>Accuracy</text>');
    // the error bar of a bar sits on the bar's centre
    const bar = /aria-label="group: gsm8k; score: 0.4; series: ft"[^>]*d="M([\d.]+),[\d.]+h([\d.]+)/.exec(svg)!;
    const rule = /aria-label="group: gsm8k; lo: 0.37; hi: 0.43; series: ft"[^>]*translate\(([\d.]+),/.exec(svg)!;
    expect(Number(rule[1])).toBeCloseTo(Number(bar[1]) + Number(bar[2]) / 2, 6);
  });

  it('line chart: one line per series, a band only for series with lo/hi, NaN points dropped', async () => {
    const svg = await lineChartSvg(
      [
        { name: 'f-GRPO (2 seeds)', points: [{ x: 0, y: 1, lo: 0.9, hi: 1.1 }, { x: 1, y: 0.8, lo: 0.7, hi: 0.9 }] },
        { name: 'GRPO', points: [{ x: 0, y: 1.2 }, { x: 1, y: Number.NaN }, { x: 2, y: 0.9 }] },
      ],
      { title: 'loss', yLabel: 'loss' },
    );
    expect(svg.match(/aria-roledescription="line mark"/g)).toHaveLength(2);
    expect(svg.match(/aria-roledescription="area mark"/g)).toHaveLength(1);
    expect(svg.match(/aria-roledescription="point"/g)).toHaveLength(4); // 2 + 2 finite points
    expect(svg).toContain('f-GRPO (2 seeds)');
  });
});

describe('reading runs', () => {
  const writeResults = (dir: string, task: string, model: string, results: Record<string, unknown>) => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'results.json'), JSON.stringify({ task, results, config: { model, task } }));
  };
  const m = (value: number, stderr: number | null, hib = true) => ({ value, stderr, ci: null, n: 20, higher_is_better: hib });

  it('eval results: run-dir and flat layouts, primary metric per task, errors name the file', () => {
    writeResults(join(tmp, 'runs/base/eval/gsm8k'), 'gsm8k', 'llama2c:/m/stories260K.bin', { 'exact_match,greedy': m(0.1, 0.05), 'exact_match,strict': m(0.05, 0.03) });
    writeResults(join(tmp, 'runs/base/eval/advbench'), 'advbench', 'llama2c:/m/stories260K.bin', { asr: m(0.9, 0.02, false) });
    writeResults(join(tmp, 'runs/tuned/eval/gsm8k'), 'gsm8k', 'falign:/ck/tuned', { 'exact_match,greedy': m(0.2, 0.07), 'exact_match,strict': m(0.1, 0.05) });
    const files = [...findEvalResults(join(tmp, 'runs/base')), ...findEvalResults(join(tmp, 'runs/tuned'))];
    expect(files.map((f) => f.slice(tmp.length))).toEqual([
      '/runs/base/eval/advbench/results.json',
      '/runs/base/eval/gsm8k/results.json',
      '/runs/tuned/eval/gsm8k/results.json',
    ]);
    const t = evalRunsToTable(files.map(readEvalRun));
    expect(t.columns).toEqual([
      { key: 'advbench/asr', label: 'advbench (asr)', higherIsBetter: false },
      { key: 'gsm8k/exact_match,greedy', label: 'gsm8k (greedy)', higherIsBetter: true },
    ]);
    expect(t.rows.map((r) => r.name)).toEqual(['base', 'tuned']);
    expect(t.rows[1].cells['gsm8k/exact_match,greedy']).toEqual({ mean: 0.2, stderr: 0.07, n: 20 });
    const all = evalRunsToTable(files.map(readEvalRun), { allMetrics: true, rowBy: 'model' });
    expect(all.columns.map((c) => c.label)).toEqual(['advbench (asr)', 'gsm8k (greedy)', 'gsm8k (strict)']);
    expect(all.rows.map((r) => r.name)).toEqual(['stories260K', 'tuned']);

    const bad = join(tmp, 'bad');
    mkdirSync(bad, { recursive: true });
    writeFileSync(join(bad, 'results.json'), JSON.stringify({ task: 'x', results: { acc: { value: 1 } } }));
    expect(() => readEvalRun(join(bad, 'results.json'))).toThrow(`${join(bad, 'results.json')}: metric 'acc' does not say higher_is_better`);
    writeFileSync(join(bad, 'results.json'), JSON.stringify({ results: {} }));
    expect(() => readEvalRun(join(bad, 'results.json'))).toThrow(/results\.json: task: /);
    expect(modelDisplayName('openai:http://h:1/v1#stories260K')).toBe('stories260K');
  });

  it('training runs: seed groups merge into mean ± stderr; a bad line names file:line', async () => {
    expect(seedGroup('fgrpo-kl-seed2')).toBe('fgrpo-kl');
    expect(seedGroup('fgrpo_s3')).toBe('fgrpo');
    expect(seedGroup('gpt2s1')).toBe('gpt2s1');
    const lines = (rows: object[]) => `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
    for (const [name, losses] of [
      ['fgrpo-seed1', [1.0, 0.8]],
      ['fgrpo-seed2', [1.2, 0.6]],
      ['grpo', [1.1, 0.9, 0.7]],
    ] as const) {
      mkdirSync(join(tmp, 'train', name), { recursive: true });
      writeFileSync(join(tmp, 'train', name, 'metrics.jsonl'), lines(losses.map((loss, step) => ({ step, loss, reward: { mean: step + losses[0] } }))));
    }
    const runs = await Promise.all(['fgrpo-seed1', 'fgrpo-seed2', 'grpo'].map((n) => readTrainingRun(join(tmp, 'train', n))));
    expect(runs[0].steps.get(1)).toEqual({ loss: 0.8, 'reward/mean': 2 });
    const curves = trainingCurves(runs, 'loss');
    expect(curves.map((c) => c.name)).toEqual(['fgrpo (2 seeds)', 'grpo']);
    const p0 = curves[0].points[0];
    expect(p0.y).toBeCloseTo(1.1, 12);
    // two seeds 1.0 and 1.2: sd = 0.1414, se = 0.1
    expect(p0.hi! - p0.y).toBeCloseTo(0.1, 12);
    expect(curves[1].points).toEqual([{ x: 0, y: 1.1 }, { x: 1, y: 0.9 }, { x: 2, y: 0.7 }]);
    expect(trainingCurves(runs, 'loss', { groupSeeds: false })).toHaveLength(3);

    mkdirSync(join(tmp, 'train', 'broken'), { recursive: true });
    writeFileSync(join(tmp, 'train', 'broken', 'metrics.jsonl'), '{"step":0,"loss":1}\n{"step":1,"loss":\n');
    await expect(readTrainingRun(join(tmp, 'train', 'broken'))).rejects.toThrow(/broken\/metrics\.jsonl:2: invalid JSON/);
  });
});

describe('report page in headless Chromium', () => {
  it('writes md/tex/csv/svg/html, and the page renders tables and plots', async () => {
    const out = join(tmp, 'report');
    const spec = await buildRunsReport(
      [join(tmp, 'runs/base'), join(tmp, 'runs/tuned'), join(tmp, 'train/fgrpo-seed1'), join(tmp, 'train/fgrpo-seed2'), join(tmp, 'train/grpo')],
      { title: 'Test <report>', base: 'base', scale: 100 },
    );
    const written = await writeReport(out, spec);
    expect(written.files.sort()).toEqual(
      [
        'index.html',
        'plots/results.svg',
        'plots/train-loss.svg',
        'plots/train-reward_mean.svg',
        'report.md',
        'tables/results.csv',
        'tables/results.md',
        'tables/results.tex',
      ].sort(),
    );
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).not.toMatch(/<script|<link|src="http|href="http/);
    expect(html).toContain('<title>Test &lt;report&gt;</title>');
    expect(readFileSync(join(out, 'tables/results.md'), 'utf8')).toContain('| tuned | — | **20.00 ± 7.00** | **100.00** | — |');

    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const page = await browser.newPage();
      const requests: string[] = [];
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(`file://${join(out, 'index.html')}`);
      expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
      expect(await page.title()).toBe('Test <report>');
      const cells = await page.$$eval('table.results tbody tr', (trs) => trs.map((tr) => Array.from(tr.children, (c) => c.textContent)));
      expect(cells).toEqual([
        ['base', '90.00 ± 2.00', '10.00 ± 5.00', '0.00', '1.50'],
        ['tuned', '—', '20.00 ± 7.00', '100.00', '—'],
      ]);
      const svgs = await page.$$eval('figure svg', (els) =>
        els.map((svg) => {
          const box = svg.getBoundingClientRect();
          const marks = Array.from(svg.querySelectorAll('[aria-roledescription="bar"], [aria-roledescription="line mark"], [aria-roledescription="area mark"]'));
          const markBoxes = marks.map((m) => (m as SVGGraphicsElement).getBBox());
          return {
            w: box.width,
            h: box.height,
            marks: marks.length,
            nonEmpty: markBoxes.filter((b) => b.width > 0 && b.height > 0).length,
            wellFormed: new DOMParser().parseFromString(svg.outerHTML, 'image/svg+xml').getElementsByTagName('parsererror').length === 0,
          };
        }),
      );
      expect(svgs).toHaveLength(3);
      for (const s of svgs) {
        expect(s.w).toBeGreaterThan(100);
        expect(s.h).toBeGreaterThan(100);
        expect(s.wellFormed).toBe(true);
        expect(s.marks).toBeGreaterThan(0);
        expect(s.nonEmpty).toBe(s.marks);
      }
      // bars: base has 2 benchmarks, tuned 1; loss curves: 2 lines + 1 seed band
      expect(svgs.map((s) => s.marks)).toEqual([3, 3, 3]);
    } finally {
      await browser.close();
    }
  });
});
