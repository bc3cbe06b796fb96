import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { agreement, loadEdgeCases } from '../src/bench/agreement.js';

const fixtures = join(import.meta.dirname, 'fixtures');

describe('edge-case fixtures (Math-Verify conventions)', () => {
  it('both splits load, cover the documented categories with both outcomes, and do not share pairs', () => {
    const dev = loadEdgeCases(join(fixtures, 'math-edge-dev.jsonl'));
    const held = loadEdgeCases(join(fixtures, 'math-edge-heldout.jsonl'));
    expect(held.length).toBeGreaterThanOrEqual(120);
    expect(dev.length).toBeGreaterThanOrEqual(60);
    for (const split of [dev, held]) {
      expect(new Set(split.map((c) => c.category)).size).toBeGreaterThanOrEqual(14);
      expect(split.filter((c) => !c.expected).length).toBeGreaterThanOrEqual(12);
    }
    const key = (c: { gold: string; pred: string }) => `${c.gold}\u0000${c.pred}`;
    const devKeys = new Set(dev.map(key));
    expect(held.filter((c) => devKeys.has(key(c)))).toEqual([]);
  });

  it('the development split agrees with the verifier on all but its documented miss', () => {
    const a = agreement(loadEdgeCases(join(fixtures, 'math-edge-dev.jsonl')));
    expect(a.goldErrors).toBe(0);
    // `3m` reads as 3 metres, so non-strict renaming cannot pair it with `3n` (README, known misses)
    expect(a.misses.map((m) => `${m.gold} | ${m.pred}`)).toEqual(['3m | 3n']);
  });

  it('a bad fixture record is named by file and line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'falign-edge-'));
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, '{"category":"x","gold":"1","pred":"1","expected":true}\n\n{"category":"x","gold":"1","pred":"1"}\n');
    expect(() => loadEdgeCases(file)).toThrow(`${file}:3: expected {category, gold, pred, expected[, opts]}`);
  });
});
