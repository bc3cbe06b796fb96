/** Chat templates (Jinja, from tokenizer_config.json) rendered with `@huggingface/jinja`. */
import { Template } from '@huggingface/jinja';

/** One chat message as HF chat templates expect it. */
export interface ChatMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}

/** Variables of a chat-template rendering beyond the messages. */
export interface ChatTemplateOptions {
  /** End with the assistant turn's opening (HF `add_generation_prompt`); default true. */
  addGenerationPrompt?: boolean;
  /** Extra template variables (`tools`, `enable_thinking`, special-token strings, …). */
  [key: string]: unknown;
}

const cache = new Map<string, Template>();

/** Checks that `messages` is a list of {role, content} objects; `where` prefixes errors. */
export function checkMessages(messages: unknown, where = 'messages'): ChatMessage[] {
  if (!Array.isArray(messages) || messages.length === 0) throw new Error(`${where}: expected a non-empty array of {role, content}`);
  messages.forEach((m, i) => {
    if (m === null || typeof m !== 'object') throw new Error(`${where}[${i}]: expected an object {role, content}`);
    const r = m as Record<string, unknown>;
    if (typeof r.role !== 'string' || r.role.length === 0) throw new Error(`${where}[${i}].role: expected a non-empty string`);
    if (typeof r.content !== 'string') throw new Error(`${where}[${i}].content: expected a string`);
  });
  return messages as ChatMessage[];
}

/**
 * Renders a chat template as HF `apply_chat_template(messages, tokenize=False)` does; `vars`
 * carries special-token strings (bos_token, eos_token, …) and template options.
 */
export function renderChatTemplate(template: string, messages: readonly ChatMessage[], vars: ChatTemplateOptions = {}): string {
  checkMessages(messages);
  let t = cache.get(template);
  if (!t) {
    try {
      t = new Template(template);
    } catch (err) {
      throw new Error(`chat template does not parse: ${(err as Error).message}`);
    }
    cache.set(template, t);
  }
  const { addGenerationPrompt, ...rest } = vars;
  try {
    return t.render({ ...rest, messages, add_generation_prompt: addGenerationPrompt ?? true });
  } catch (err) {
    throw new Error(`chat template failed: ${(err as Error).message}`);
  }
}
