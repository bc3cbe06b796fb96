/**
 * Format rewards: 1 when the completion has the required shape, else 0. They say nothing about
 * correctness; weight them low next to accuracy rewards or they dominate (anchors.md A.6 item 7).
 */
import type { RewardFn } from '../types.js';
import { completionOf, namedReward } from './named.js';

/** Content of every `\boxed{…}` in `text` with balanced braces (unclosed ones are skipped). */
export function boxedContents(text: string): string[] {
  const out: string[] = [];
  const re = /\\boxed\s*\{/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    let depth = 1;
    let i = m.index + m[0].length;
    const start = i;
    for (; i < text.length && depth > 0; i++) {
      if (text[i] === '{') depth++;
      else if (text[i] === '}') depth--;
    }
    if (depth === 0) out.push(text.slice(start, i - 1));
  }
  return out;
}

/** 1 when the completion holds a closed, non-empty `\boxed{…}`. */
export function boxedFormatReward(opts: { name?: string } = {}): RewardFn {
  const name = opts.name ?? 'boxed_format';
  return namedReward(name, (s, i) => (boxedContents(completionOf(s, i, name)).some((c) => c.trim() !== '') ? 1 : 0));
}

/** lm-eval GSM8K "strict-match" answer line: `#### <number>`. */
export const GSM8K_ANSWER_LINE = /#### (-?[0-9.,]+)/;

/** 1 when the completion has a GSM8K `#### N` answer line with at least one digit. */
export function gsm8kFormatReward(opts: { name?: string } = {}): RewardFn {
  const name = opts.name ?? 'gsm8k_format';
  return namedReward(name, (s, i) => {
    const m = GSM8K_ANSWER_LINE.exec(completionOf(s, i, name));
    return m && /[0-9]/.test(m[1]) ? 1 : 0;
  });
}

/**
 * 1 when `pattern` matches the completion (`RegExp.test`, so unanchored unless the pattern
 * anchors itself). A string pattern is compiled with `flags`.
 */
export function regexFormatReward(pattern: RegExp | string, opts: { name?: string; flags?: string } = {}): RewardFn {
  let re: RegExp;
  try {
    re = typeof pattern === 'string' ? new RegExp(pattern, opts.flags ?? '') : pattern;
  } catch (e) {
    throw new Error(`regexFormatReward: invalid pattern ${JSON.stringify(pattern)}: ${(e as Error).message}`);
  }
  // A global/sticky regex keeps lastIndex between calls; a flag-stripped copy keeps test() pure.
  const pure = new RegExp(re.source, re.flags.replace(/[gy]/g, ''));
  const name = opts.name ?? 'regex_format';
  return namedReward(name, (s, i) => (pure.test(completionOf(s, i, name)) ? 1 : 0));
}

/**
 * TRL `think_format_reward`: `^<think>(?!.*<think>)(.*?)</think>.*$` with DOTALL — the completion
 * starts with one `<think>` block, with no second `<think>` anywhere, closed by `</think>`.
 */
export const THINK_FORMAT = /^<think>(?![\s\S]*<think>)([\s\S]*?)<\/think>[\s\S]*$/;

/** 1 when the completion matches {@link THINK_FORMAT}. */
export function thinkFormatReward(opts: { name?: string } = {}): RewardFn {
  const name = opts.name ?? 'think_format';
  return namedReward(name, (s, i) => (THINK_FORMAT.test(completionOf(s, i, name)) ? 1 : 0));
}
