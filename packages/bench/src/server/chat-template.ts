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
 * can replace it with `falign serve --chat-template FILE`.
 */
import { Template } from '@huggingface/jinja';

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

/** A template from Jinja source (HF `chat_template`); `bos_token`/`eos_token` are given as ''. */
export function jinjaChatTemplate(source: string, name = 'jinja', stop: string[] = []): ChatTemplate {
  let template: Template;
  try {
    template = new Template(source);
  } catch (e) {
    throw new Error(`chat template ${name}: ${(e as Error).message}`);
  }
  return {
    name,
    stop,
    render(messages: TemplateMessage[]): string {
      return template.render({ messages, add_generation_prompt: true, bos_token: '', eos_token: '' });
    },
  };
}
