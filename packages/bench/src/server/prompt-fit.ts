/**
 * Fitting a prompt into the model's context WITHOUT tokenizing all of it. A 20,000-character
 * prompt used to be encoded whole (about 210 MB of transient memory and ~0.9 s of blocked event
 * loop with the llama2.c tokenizer) only for all but its last few hundred tokens to be dropped.
 * Only the tail that can survive truncation matters, so it is encoded alone: a tail of `c`
 * characters, doubled until it yields enough tokens (or is the whole prompt). The first tokens
 * of a tail may be split differently than inside the whole prompt, so a margin of tokens at the
 * cut is thrown away; what is kept is what whole-prompt encoding keeps, except in the contrived
 * case of a merge chain longer than the margin crossing the cut.
 */

/** The tokenizer calls this needs. */
export interface FitTokenizer {
  encode(text: string, opts?: { bos?: boolean }): number[];
}

/** Tokens dropped at the cut of a tail (see the module comment). */
export const CUT_MARGIN_TOKENS = 16;

/** Result of {@link fitPromptTail}. */
export interface FittedPrompt {
  /** Prompt ids (BOS first when `bos`), at most `room` of them. */
  ids: number[];
  /** Whether tokens were dropped from the front. */
  truncated: boolean;
  /** Tokens of the whole prompt when it was encoded whole; a lower bound (`> room`) otherwise. */
  promptTokens: number;
}

/**
 * The last `room` tokens of `prompt` (BOS kept in front when `bos`), encoding only as much of its
 * tail as needed. `room` counts the BOS. Memory and time are O(room) characters per doubling
 * step, not O(prompt length).
 */
export function fitPromptTail(tok: FitTokenizer & { readonly bosId: number | null }, prompt: string, room: number, bos: boolean): FittedPrompt {
  if (!(room >= (bos ? 2 : 1))) throw new Error(`fitPromptTail: room must leave space for a token, got ${room}`);
  const body = room - (bos ? 1 : 0);
  // Start with ~4 characters per token (typical for BPE on English), then double.
  let chars = Math.max(64, 4 * (body + CUT_MARGIN_TOKENS));
  for (;;) {
    if (chars >= prompt.length) {
      const ids = tok.encode(prompt, { bos });
      if (ids.length <= room) return { ids, truncated: false, promptTokens: ids.length };
      const rest = bos ? ids.slice(1) : ids;
      const keep = rest.slice(rest.length - body);
      return { ids: bos ? [ids[0], ...keep] : keep, truncated: true, promptTokens: ids.length };
    }
    const tail = tok.encode(prompt.slice(prompt.length - chars), { bos: false });
    if (tail.length >= body + CUT_MARGIN_TOKENS) {
      const keep = tail.slice(tail.length - body);
      const ids = bos && tok.bosId !== null ? [tok.bosId, ...keep] : keep;
      return { ids, truncated: true, promptTokens: tail.length + (bos ? 1 : 0) };
    }
    chars *= 2;
  }
}

/**
 * Whether `prompt` holds more than `limit` tokens, encoding only as much of it as needed to tell
 * (for the reject-instead-of-truncate mode). Returns the token count when the whole prompt was
 * encoded, or `null` when a tail alone already exceeded `limit`.
 */
export function countTokensUpTo(tok: FitTokenizer, prompt: string, limit: number, bos: boolean): number | null {
  let chars = Math.max(64, 4 * (limit + CUT_MARGIN_TOKENS));
  for (;;) {
    if (chars >= prompt.length) return tok.encode(prompt, { bos }).length;
    const tail = tok.encode(prompt.slice(prompt.length - chars), { bos: false });
    if (tail.length > limit + CUT_MARGIN_TOKENS) return null;
    chars *= 2;
  }
}
