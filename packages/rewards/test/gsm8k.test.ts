import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cleanGsm8kNumber, extractGsm8k, extractGsm8kGold, gsm8kRule, lmEvalGsm8kClean, lmEvalGsm8kFilter, scoreGsm8k, verify } from '../src/index.js';
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

describe('lm-eval gsm8k, reproduced exactly', () => {
  // [completion, filtered string lm-eval compares (after regexes_to_ignore), strict-match?] against reference "…#### 18"
  const strict: [string, string | null][] = [
    ['#### 18', '18'],
    ['##### 18', '18'], // the regex is unanchored: five hashes contain "#### 18"
    ['abc#### 18', '18'],
    ['#### 18.00', '18.00'], // string comparison later: wrong
    ['#### 1,8', '18'], // commas are removed before comparing
    ['#### .', ''], // the first match wins even without a digit; cleaning leaves ""
    ['#### . then #### 18', ''],
    ['####18', null], // no space: no match → [invalid]
    ['#### -18', '-18'],
    ['The answer is 18', null],
  ];
  it.each(strict)('strict-match: %j → %j', (text, expected) => {
    expect(extractGsm8k(text, { extraction: 'strict-match' })).toBe(expected);
    expect(scoreGsm8k('x\n#### 18', text)['strict-match'].correct).toBe(expected === '18');
  });
  const flexible: [string, string | null][] = [
    ['so 18', '18'],
    ['18 apples, then 20', '20'], // the LAST match, group_select -1
    ['It costs $18.', '18'], // "$18." → "$" and the final "." are ignored
    ['total 18...', '18..'], // an ellipsis is part of the match; only one final "." is removed
    ['answer: -18', '-18'],
    ['see 1,000', '1000'],
    ['x', null],
    ['5 .. ', '.'], // ".." matches the first alternative and is the last match; its final "." is ignored
  ];
  it.each(flexible)('flexible-extract: %j → %j', (text, expected) => {
    expect(extractGsm8k(text, { extraction: 'flexible-extract' })).toBe(expected);
  });
  it('cleans like Python re.sub: "\\.$" also before a final newline; the reference is cleaned whole', () => {
    expect(lmEvalGsm8kClean('18.\n')).toBe('18\n');
    expect(lmEvalGsm8kClean('Natalia sold 48/2 = $24 clips.\n#### 1,072')).toBe('1072');
    expect(lmEvalGsm8kFilter('nothing here', 'strict-match')).toBe('[invalid]');
  });
  it('names: aliases map to the published names; falign is the default', () => {
    expect(gsm8kRule(undefined)).toBe('falign');
    expect(gsm8kRule('strict')).toBe('strict-match');
    expect(gsm8kRule('flexible')).toBe('flexible-extract');
    expect(() => gsm8kRule('loose' as never)).toThrow(/unknown GSM8K extraction/);
    const r = verify('x\n#### 18', '##### 18', { mode: 'gsm8k', gsm8kAllRules: true });
    expect(r.correct).toBe(false); // falign: a malformed answer line is no answer
    expect(r.gsm8k?.['strict-match'].correct).toBe(true);
  });
  it('falign is exact-format: #### N with four hashes; values compare as decimals', () => {
    expect(extractGsm8k('#### 1,234')).toBe('1234');
    expect(extractGsm8k('##### 4')).toBeNull();
    expect(extractGsm8k('#### four, so 4')).toBeNull();
    expect(verify('#### 18', 'so\n#### 18.00', { mode: 'gsm8k' }).correct).toBe(true);
  });
});
