/**
 * The tokenizer of the synthetic tasks: one id per printable ASCII character and the newline,
 * plus pad, BOS and EOS. Every generated text (math problems, safety prompts and responses) is
 * made of these characters, and so is every prompt kept from AdvBench/XSTest.
 */
import { CharTokenizer } from '@falign/core';

/** Printable ASCII (space … ~) followed by the newline. */
export const TASK_ALPHABET: readonly string[] = [...Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)), '\n'];

/** A fresh tokenizer of the synthetic tasks (pad = 0, BOS = 1, EOS = 2, then {@link TASK_ALPHABET}). */
export function taskTokenizer(): CharTokenizer {
  return new CharTokenizer(TASK_ALPHABET, { pad: '<pad>', bos: '<s>', eos: '</s>' });
}
