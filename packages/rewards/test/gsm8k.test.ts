import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanGsm8kNumber, extractGsm8k, extractGsm8kGold, verify } from '../src/index.js';
import { GSM8K_CASES } from './cases/math-equivalence.js';

const DATA = process.env.FALIGN_DATA_DIR ?? join(import.meta.dirname, '../../../../shared/datasets');

describe('GSM8K extraction (lm-eval semantics)', () => {
  it('applies the ignore-regexes', () => {
    expect(cleanGsm8kNumber('$1,000.')).toBe('1000');
    expect(cleanGsm8kNumber('blah\n#### 72')).toBe('72');
  });
  it('strict, flexible and auto', () => {
    expect(extractGsm8k('x #### 42 then 7', { extraction: 'strict' })).toBe('42');
    expect(extractGsm8k('x 42 then 7', { extraction: 'strict' })).toBeNull();
    expect(extractGsm8k('costs $1,250.50 total', { extraction: 'flexible' })).toBe('1250.50');
    expect(extractGsm8k('The answer is 12. Check: 3*4', { extraction: 'auto' })).toBe('12');
    expect(extractGsm8k('... . , 5 .', { extraction: 'flexible' })).toBe('5');
    expect(extractGsm8k('no digits', { extraction: 'flexible' })).toBeNull();
    expect(extractGsm8kGold('Janet sells 9 eggs\n#### 18')).toBe('18');
    expect(extractGsm8kGold('not a number')).toBeNull();
  });
  it.each(GSM8K_CASES.map((c) => [c[4], ...c] as const))('%s', (_n, gold, pred, expected, opts) => {
    expect(verify(gold, pred, opts).correct).toBe(expected);
  });
  it('gold without a number is an error', () => {
    const r = verify('no answer', '5', { mode: 'gsm8k' });
    expect(r.errorKind).toBe('gold');
  });
  it('every GSM8K test gold is read and matches its own solution and a flexible restatement', () => {
    const file = join(DATA, 'gsm8k/test.jsonl');
    if (!existsSync(file)) return;
    const rows = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { answer: string });
    expect(rows.length).toBeGreaterThan(1000);
    let ok = 0;
    for (const r of rows) {
      const g = extractGsm8kGold(r.answer);
      expect(g).not.toBeNull();
      if (verify(r.answer, r.answer, { mode: 'gsm8k' }).correct && verify(r.answer, `So the total is ${g}.`, { mode: 'gsm8k' }).correct) ok++;
    }
    expect(ok).toBe(rows.length);
  });
});

describe('lm-eval filter semantics of the explicit modes', () => {
  const text = 'First #### 12 then I reconsider: #### 15. Finally 1,234 apples.';
  it('strict takes the first #### match (regex filter, group_select 0)', () => {
    expect(extractGsm8k(text, { extraction: 'strict' })).toBe('12');
  });
  it('flexible takes the last number even when #### is present (group_select -1)', () => {
    expect(extractGsm8k(text, { extraction: 'flexible' })).toBe('1234');
  });
  it('auto (reward default) prefers the last #### answer', () => {
    expect(extractGsm8k(text)).toBe('15');
  });
});
