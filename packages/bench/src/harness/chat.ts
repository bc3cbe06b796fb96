/**
 * Chat templates (Jinja, as in Hugging Face tokenizer_config.json) rendered with
 * @huggingface/jinja, a sandboxed interpreter: templates are data, never JS.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Template } from '@huggingface/jinja';
import type { ChatMessage } from '../models/types.js';

/** A parsed chat template. */
export interface EvalChatTemplate {
  source: string;
  sha256: string;
  render(messages: readonly ChatMessage[]): string;
}

/** Parses a chat template; special tokens are passed to the template as variables. */
export function createChatTemplate(source: string, specials: { bos_token?: string; eos_token?: string } = {}): EvalChatTemplate {
  let tpl: Template;
  try {
    tpl = new Template(source);
  } catch (e) {
    throw new Error(`invalid chat template: ${(e as Error).message}`);
  }
  return {
    source,
    sha256: createHash('sha256').update(source).digest('hex'),
    render: (messages) => tpl.render({ messages, add_generation_prompt: true, bos_token: specials.bos_token ?? '', eos_token: specials.eos_token ?? '' }),
  };
}

/**
 * Reads a chat template file: a .jinja/.txt template, or a JSON file with a `chat_template` field
 * (tokenizer_config.json).
 */
export function readChatTemplate(file: string): EvalChatTemplate {
  const text = readFileSync(file, 'utf8');
  if (file.endsWith('.json')) {
    let obj: { chat_template?: unknown; bos_token?: unknown; eos_token?: unknown };
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
    }
    if (typeof obj.chat_template !== 'string') throw new Error(`${file}: field "chat_template" must be a string`);
    const tok = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'object' && v && 'content' in v ? String((v as { content: unknown }).content) : undefined);
    return createChatTemplate(obj.chat_template, { bos_token: tok(obj.bos_token), eos_token: tok(obj.eos_token) });
  }
  return createChatTemplate(text);
}
