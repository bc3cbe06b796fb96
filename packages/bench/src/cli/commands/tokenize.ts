/**
 * `falign tokenize`: token ids and token strings of JSONL texts under a model's tokenizer, for
 * debugging prompts and chat templates.
 *
 *   falign tokenize --model hf:DIR --in texts.jsonl --out ids.jsonl            # {id, text} → {id, ids, tokens}
 *   falign tokenize --model hf:DIR --chat --in chats.jsonl --out ids.jsonl     # {id, messages} → {id, text, ids, tokens}
 *
 * Special tokens are added as the tokenizer does by default (HF `tokenizer(text)`: `<s>` for
 * Llama/TinyLlama, nothing for Qwen/GPT-2), unless `--no-special-tokens`. With `--chat` the
 * template's output is tokenized without adding specials again (as HF `apply_chat_template`).
 * Only the tokenizer is loaded for `hf:DIR`; other specs load their checkpoint.
 */
import type { Command } from 'commander';
import { checkMessages, HfTokenizer, loadPolicy, type Tokenizer } from '@falign/core';
import { JsonlError, JsonlWriter, readJsonl } from '../../util/jsonl.js';
import { markRequiredInHelp } from '../options.js';

/** Options of {@link runTokenize}. */
export interface TokenizeOptions {
  model: string;
  in: string;
  out?: string;
  /** Commander's `--no-special-tokens` (default true). */
  specialTokens?: boolean;
  chat?: boolean;
  /** Commander's `--no-generation-prompt` for --chat (default true). */
  generationPrompt?: boolean;
  tokenizer?: string;
}

/** Loads only the tokenizer a model spec names (the whole checkpoint for non-hf specs). */
export async function loadSpecTokenizer(spec: string, tokenizerFile?: string): Promise<Tokenizer> {
  if (spec.startsWith('hf:') && !tokenizerFile) return HfTokenizer.load(spec.slice(3));
  if (spec.startsWith('openai:')) throw new Error(`--model ${spec}: tokenize needs a local tokenizer (llama2c:PATH.bin, falign:DIR or hf:DIR)`);
  const policy = await loadPolicy(spec, { trainable: false, ...(tokenizerFile ? { tokenizer: tokenizerFile } : {}) });
  policy.dispose();
  return policy.tokenizer;
}

function encodeLine(tok: Tokenizer, text: string, special: boolean): { ids: number[]; tokens: string[] } {
  if (tok instanceof HfTokenizer) return tok.encodeWithTokens(text, { addSpecialTokens: special });
  const ids = tok.encode(text, { bos: special && tok.bosId !== null });
  return { ids, tokens: ids.map((id) => tok.decode([id])) };
}

/** Tokenizes every line of `o.in` into `o.out` (stdout when absent); returns the line count. */
export async function runTokenize(o: TokenizeOptions, log: (line: string) => void = () => {}): Promise<number> {
  const tok = await loadSpecTokenizer(o.model, o.tokenizer);
  if (o.chat && !(tok instanceof HfTokenizer && tok.chatTemplate !== null)) {
    throw new Error(`--chat: the tokenizer of ${o.model} has no chat template (needs an hf:DIR model with "chat_template" in tokenizer_config.json)`);
  }
  const out = new JsonlWriter(o.out);
  const special = o.specialTokens !== false;
  let n = 0;
  const t0 = Date.now();
  try {
    for await (const { value, line } of readJsonl<Record<string, unknown>>(o.in)) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new JsonlError(o.in, line, 'expected a JSON object');
      const id = value.id ?? null;
      if (o.chat) {
        let text: string;
        try {
          const messages = checkMessages(value.messages, 'messages');
          text = (tok as HfTokenizer).applyChatTemplate(messages, { addGenerationPrompt: o.generationPrompt !== false });
        } catch (e) {
          throw new JsonlError(o.in, line, (e as Error).message);
        }
        // The template already wrote the special tokens it wants; nothing is added again.
        await out.write({ id, text, ...encodeLine(tok, text, false) });
      } else {
        if (typeof value.text !== 'string') throw new JsonlError(o.in, line, `"text" must be a string, got ${JSON.stringify(value.text) ?? 'nothing'}`);
        await out.write({ id, ...encodeLine(tok, value.text, special) });
      }
      if (++n % 10_000 === 0) log(`[falign] tokenize: ${n} lines, ${((1000 * n) / Math.max(1, Date.now() - t0)).toFixed(0)} lines/s`);
    }
  } finally {
    await out.close();
  }
  return n;
}

export function register(program: Command): void {
  markRequiredInHelp(program.command('tokenize'))
    .description("token ids of JSONL texts under a model's tokenizer: {id, text} → {id, ids, tokens}; --chat: {id, messages} → {id, text, ids, tokens}")
    .requiredOption('--model <spec>', 'hf:DIR (only the tokenizer is read), falign:DIR or llama2c:PATH.bin')
    .requiredOption('--in <file>', 'input JSONL')
    .option('--out <file>', 'output JSONL (default stdout)')
    .option('--no-special-tokens', 'do not add the special tokens (BOS) the tokenizer adds by default')
    .option('--chat', "apply the model's chat template to each line's messages")
    .option('--no-generation-prompt', 'with --chat: do not end with the assistant turn opening')
    .option('--tokenizer <path>', 'tokenizer file overriding the one beside the model')
    .action(async (o: TokenizeOptions) => {
      const n = await runTokenize(o, (l) => process.stderr.write(`${l}\n`));
      process.stderr.write(`[falign] tokenize: ${n} lines → ${o.out ?? 'stdout'}\n`);
    });
}
