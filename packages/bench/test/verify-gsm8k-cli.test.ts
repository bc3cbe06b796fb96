import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatVerifySummary, runVerify } from '../src/cli/commands/verify.js';

const dir = mkdtempSync(join(tmpdir(), 'falign-verify-gsm8k-'));

describe('falign verify --mode gsm8k', () => {
  // gold, pred, then the expected outcome under strict-match, flexible-extract, falign
  const rows: [string, string, boolean, boolean, boolean][] = [
    ['x\n#### 1,000', 'so 1000.\n#### 1,000', true, true, true],
    ['x\n#### 18', '##### 18', true, true, false], // lm-eval's strict regex is unanchored
    ['x\n#### 18', '#### 18.00', false, false, true], // lm-eval compares strings
    ['x\n#### 18', 'The answer is 18...', false, false, true], // flexible takes the last match: "..."
    ['x\n#### 18', '#### . then #### 18', false, true, true], // strict takes the first match, even "."
  ];

  it('reports every named rule per record and sets correct from --gsm8k-extraction', async () => {
    const input = join(dir, 'in.jsonl');
    writeFileSync(input, rows.map(([gold, pred]) => JSON.stringify({ gold, pred })).join('\n'));
    for (const rule of ['strict-match', 'flexible-extract', 'falign'] as const) {
      const out = join(dir, `out-${rule}.jsonl`);
      const summary = await runVerify({ in: input, out, mode: 'gsm8k', gsm8kExtraction: rule, concurrency: 1, quiet: true });
      const recs = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { correct: boolean; gsm8k: Record<string, { correct: boolean }> });
      const col = rule === 'strict-match' ? 2 : rule === 'flexible-extract' ? 3 : 4;
      expect(recs.map((r) => r.correct)).toEqual(rows.map((r) => r[col]));
      expect(recs.map((r) => [r.gsm8k['strict-match'].correct, r.gsm8k['flexible-extract'].correct, r.gsm8k.falign.correct])).toEqual(rows.map((r) => [r[2], r[3], r[4]]));
      expect(summary.correctByRule).toEqual({ 'strict-match': 2, 'flexible-extract': 3, falign: 4 });
      expect(formatVerifySummary(summary)).toContain('[strict-match=40.00% flexible-extract=60.00% falign=80.00%]');
    }
  });

  it('rejects an unknown rule', async () => {
    const input = join(dir, 'one.jsonl');
    writeFileSync(input, JSON.stringify({ gold: '#### 1', pred: '1' }));
    await expect(runVerify({ in: input, out: join(dir, 'x.jsonl'), mode: 'gsm8k', gsm8kExtraction: 'loose' as never, quiet: true })).rejects.toThrow(/unknown GSM8K extraction 'loose'/);
  });
});
