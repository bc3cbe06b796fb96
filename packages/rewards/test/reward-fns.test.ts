import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  boxedFormatReward,
  createRefusalJudge,
  gsm8kFormatReward,
  lengthPenalty,
  ngramRepetitionPenalty,
  refusalReward,
  regexFormatReward,
  repetitionPenalty,
  softOverlongPenalty,
  thinkFormatReward,
  type RewardSample,
} from '@falign/rewards';

const s = (completion: string, meta?: Record<string, unknown>, prompt = 'p'): RewardSample => ({ prompt, completion, meta });

describe('refusalReward', () => {
  const refusal = "I'm sorry, but I can't help with that.";
  const answer = 'Run `kill <PID>` to stop the process.';
  it('rewards refusing harmful prompts and answering benign ones', async () => {
    const r = refusalReward();
    expect(r.rewardName).toBe('refusal');
    const out = await r([
      s(refusal, { harmful: true }),
      s(answer, { harmful: true }),
      s(answer, { harmful: false }),
      s(refusal, { harmful: false }),
    ]);
    expect(out).toEqual([1, 0, 1, 0]);
  });
  it('reads XSTest labels, gives null when harmfulness is unknown', async () => {
    const r = refusalReward({ values: { benignRefused: -1 } });
    expect(await r([s(refusal, { label: 'unsafe' }), s(refusal, { label: 'safe' }), s(answer), s(answer, {})])).toEqual([
      1, -1, null, null,
    ]);
  });
  it('harmfulKey takes precedence over label and can be renamed', async () => {
    const r = refusalReward({ harmfulKey: 'isHarmful' });
    expect(await r([s(refusal, { isHarmful: false, label: 'unsafe' })])).toEqual([0]);
  });
  it('uses the given judge and passes the prompt', async () => {
    const byPrompt = refusalReward({ judge: createRefusalJudge('default') });
    expect(await byPrompt([s('No.', { harmful: false }, 'Is 7 even?'), s('No.', { harmful: true }, 'Can you help me make a bomb?')])).toEqual([1, 1]);
    const adv = refusalReward({ judge: 'advbench' });
    expect(await adv([s('As an example, here is a loop.', { harmful: false })])).toEqual([0]); // advbench's false positive
  });
  it('rejects malformed meta with a message naming sample and field', async () => {
    const r = refusalReward();
    await expect(r([s(answer, { harmful: 'yes' })])).rejects.toThrow('refusal: sample 0 meta.harmful must be a boolean, got "yes"');
    await expect(r([s(answer), s(answer, { label: 'maybe' })])).rejects.toThrow(/sample 1 meta\.label must be 'safe' or 'unsafe'/);
    await expect(r([{ prompt: 'p', completion: 3 as unknown as string, meta: { harmful: true } }])).rejects.toThrow(/sample 0 has no string "completion"/);
    expect(() => refusalReward({ values: { harmfulRefused: Number.NaN } })).toThrow(/harmfulRefused/);
  });
});

describe('format rewards', () => {
  it('boxedFormatReward needs a closed, non-empty \\boxed{}', async () => {
    const r = boxedFormatReward();
    expect(
      await r([s('so \\boxed{\\frac{1}{2}}'), s('\\boxed{}'), s('\\boxed{1'), s('answer: 5'), s('\\boxed {x}')]),
    ).toEqual([1, 0, 0, 0, 1]);
  });
  it('gsm8kFormatReward needs "#### N"', async () => {
    const r = gsm8kFormatReward();
    expect(await r([s('... #### 72'), s('#### -1,000.5'), s('####72'), s('#### ,'), s('The answer is 72')])).toEqual([1, 1, 0, 0, 0]);
  });
  it('regexFormatReward is stateless even for global regexes', async () => {
    const r = regexFormatReward(/answer:/g, { name: 'has_answer' });
    expect(r.rewardName).toBe('has_answer');
    expect(await r([s('answer: 1'), s('answer: 2'), s('none')])).toEqual([1, 1, 0]);
    expect(await regexFormatReward('^<a>', { flags: 'i' })([s('<A> x')])).toEqual([1]);
    expect(() => regexFormatReward('(')).toThrow(/invalid pattern/);
  });
  it('thinkFormatReward follows TRL semantics', async () => {
    const r = thinkFormatReward();
    expect(
      await r([
        s('<think>\nreason\n</think>\nanswer'),
        s('<think></think>'),
        s(' <think>x</think>'),
        s('<think>a<think>b</think>'),
        s('<think>x</think> then <think>again'),
        s('<think>unclosed'),
      ]),
    ).toEqual([1, 1, 0, 0, 0, 0]);
  });
});

describe('lengthPenalty (DAPO soft overlong)', () => {
  it('is 0, then linear to -1 over the cache, then -1', () => {
    // L_max = 20, L_cache = 4: expected length 16.
    expect([10, 16, 17, 18, 20, 21].map((l) => softOverlongPenalty(l, 20, 4))).toEqual([0, 0, -0.25, -0.5, -1, -1]);
  });
  it('reads token counts or token ids from meta, or a counter', async () => {
    const r = lengthPenalty({ maxCompletionLength: 20, softPunishCache: 4 });
    expect(await r([s('x', { completionLength: 18 }), s('x', { completionLength: new Array(17).fill(0) })])).toEqual([-0.5, -0.25]);
    const words = lengthPenalty({ maxCompletionLength: 4, softPunishCache: 2, countTokens: (x) => x.completion.split(' ').length });
    expect(await words([s('a b c')])).toEqual([-0.5]);
    await expect(r([s('x')])).rejects.toThrow(/sample 0 needs meta\.completionLength/);
    expect(() => lengthPenalty({ maxCompletionLength: 10, softPunishCache: 11 })).toThrow(/softPunishCache/);
  });
});

describe('repetitionPenalty (TRL n-gram)', () => {
  it('matches hand-computed values', () => {
    // "a b a b a b": 3-grams (a b a), (b a b), (a b a), (b a b) -> 2 distinct of 4 -> 0.5 * -1.
    expect(ngramRepetitionPenalty('a b a b a b', 3, -1)).toBeCloseTo(-0.5);
    expect(ngramRepetitionPenalty('A b A B', 2, -2)).toBeCloseTo((1 - 2 / 3) * -2); // lower-cased
    expect(ngramRepetitionPenalty('one two', 3, -1)).toBe(0);
    expect(ngramRepetitionPenalty('', 3, -1)).toBe(0);
    expect(ngramRepetitionPenalty('all words here differ', 2, -1)).toBe(0);
  });
  it('is within [maxPenalty, 0] for any text', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 40 }), fc.integer({ min: 1, max: 4 }), (ws, n) => {
        const p = ngramRepetitionPenalty(ws.join(' '), n, -1);
        return p <= 0 && p >= -1;
      }),
    );
  });
  it('is a RewardFn and rejects a positive maxPenalty', async () => {
    expect(await repetitionPenalty({ ngramSize: 3, maxPenalty: -1 })([s('a b a b a b')])).toEqual([-0.5]);
    expect(() => repetitionPenalty({ maxPenalty: 0.5 })).toThrow(/should not be positive/);
  });
});
