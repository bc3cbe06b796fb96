/**
 * Chat templates (Jinja, as in Hugging Face tokenizer_config.json) rendered with
 * @huggingface/jinja, a sandboxed interpreter: templates are data, never JS. This is the one
 * loader behind both `falign eval --chat-template` and `falign serve --chat-template`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Template } from '@huggingface/jinja';

/** A chat turn as templates see it (eval's ChatMessage and the server's messages both fit). */
export interface TemplateTurn {
  role: string;
  content: string;
}

/** A parsed chat template. */
export interface EvalChatTemplate {
  source: string;
  sha256: string;
  render(messages: readonly TemplateTurn[]): string;
}

/**
 * Parses a chat template; special tokens are passed to the template as variables. `origin`
 * (a file name) prefixes parse errors.
 */
export function createChatTemplate(source: string, specials: { bos_token?: string; eos_token?: string } = {}, origin?: string): EvalChatTemplate {
  let tpl: Template;
  try {
    tpl = new Template(source);
  } catch (e) {
    throw new Error(`${origin ? `${origin}: ` : ''}invalid chat template: ${(e as Error).message}`);
  }
  return {
    source,
    sha256: createHash('sha256').update(source).digest('hex'),
    render: (messages) => tpl.render({ messages, add_generation_prompt: true, bos_token: specials.bos_token ?? '', eos_token: specials.eos_token ?? '' }),
  };
}

/** `chat_template` of a tokenizer_config.json: a string, or HF's list of named templates. */
function pickTemplate(file: string, value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value.filter((t): t is { name: string; template: string } => !!t && typeof t.name === 'string' && typeof t.template === 'string');
    const chosen = named.find((t) => t.name === 'default') ?? named[0];
    if (chosen) return chosen.template;
  }
  throw new Error(`${file}: field "chat_template" must be a string (or a list of {name, template})`);
}

/**
 * Reads a chat template file: a raw Jinja template (.jinja, .txt, any name), or a JSON file with
 * a `chat_template` field (a Hugging Face tokenizer_config.json, whose `bos_token`/`eos_token`
 * are passed to the template). Errors name the file.
 */
export function readChatTemplate(file: string): EvalChatTemplate {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`chat template ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  if (file.endsWith('.json')) {
    let obj: { chat_template?: unknown; bos_token?: unknown; eos_token?: unknown };
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new Error(`${file}: invalid JSON (${(e as Error).message})`);
    }
    const tok = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'object' && v && 'content' in v ? String((v as { content: unknown }).content) : undefined);
    return createChatTemplate(pickTemplate(file, obj.chat_template), { bos_token: tok(obj.bos_token), eos_token: tok(obj.eos_token) }, file);
  }
  return createChatTemplate(text, {}, file);
}
