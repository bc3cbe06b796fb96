/**
 * Chat templating for base language models served by `falign serve`. A base LM (stories260K, a
 * llama2.c checkpoint) was never trained on a chat format, so the default is the plainest
 * transcript a story model can continue:
 *
 * ```
 * <system content>\n\n            (only when a system/developer message is present)
 * User: <content>\n
 * Assistant: <content>\n
 * ...
 * Assistant:                      (generation prompt: the model writes the next turn)
 * ```
 *
 * and generation also stops at `"\nUser:"` so the model does not write the user's next turn.
 * A Jinja chat template (Hugging Face `chat_template` syntax, `messages` + `add_generation_prompt`)
 * can replace it with `falign serve --chat-template FILE`: a raw Jinja file or a
 * tokenizer_config.json, read by the same loader as `falign eval --chat-template`.
 */
import { basename } from 'node:path';
import { HfTokenizer } from '@falign/core';
import { createChatTemplate, readChatTemplate, type EvalChatTemplate } from '../harness/chat.js';

/** A message with plain-text content. */
export interface TemplateMessage {
  role: string;
  content: string;
}

/** Renders messages to the prompt string the model continues. */
export interface ChatTemplate {
  readonly name: string;
  render(messages: TemplateMessage[]): string;
  /** Stop strings added to every chat request. */
  readonly stop: string[];
}

/** The default transcript template described above. */
export const defaultChatTemplate: ChatTemplate = {
  name: 'falign-default',
  stop: ['\nUser:'],
  render(messages: TemplateMessage[]): string {
    let out = '';
    for (const m of messages) {
      if (m.role === 'system' || m.role === 'developer') out += `${m.content}\n\n`;
      else if (m.role === 'user') out += `User: ${m.content}\n`;
      else out += `Assistant: ${m.content}\n`;
    }
    return `${out}Assistant:`;
  },
};

function fromEvalTemplate(tpl: EvalChatTemplate, name: string, stop: string[]): ChatTemplate {
  return { name, stop, render: (messages: TemplateMessage[]) => tpl.render(messages) };
}

/** A template from Jinja source (HF `chat_template`); `bos_token`/`eos_token` are given as ''. */
export function jinjaChatTemplate(source: string, name = 'jinja', stop: string[] = []): ChatTemplate {
  return fromEvalTemplate(createChatTemplate(source, {}, name), name, stop);
}

/**
 * The template of `--chat-template FILE`: a raw Jinja file or a tokenizer_config.json (whose
 * bos/eos tokens are passed on), exactly as `falign eval --chat-template` reads it.
 */
export function chatTemplateFromFile(file: string, stop: string[] = []): ChatTemplate {
  return fromEvalTemplate(readChatTemplate(file), basename(file), stop);
}

/**
 * The chat template an HF tokenizer carries (tokenizer_config.json `chat_template`, with its
 * bos/eos token strings), or undefined for tokenizers without one. Generation already stops at
 * the tokenizer's EOS ids (e.g. `<|im_end|>`), so no stop strings are added.
 */
export function tokenizerChatTemplate(tokenizer: unknown): ChatTemplate | undefined {
  if (!(tokenizer instanceof HfTokenizer) || tokenizer.chatTemplate === null) return undefined;
  const { bos_token, eos_token } = tokenizer.specialTokens;
  return fromEvalTemplate(createChatTemplate(tokenizer.chatTemplate, { bos_token, eos_token }, 'tokenizer_config.json'), 'tokenizer_config.json', []);
}
