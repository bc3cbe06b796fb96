/**
 * Hugging Face tokenizers (tokenizer.json + tokenizer_config.json + generation_config.json)
 * through `@huggingface/tokenizers`, the maintained JS port of HF `tokenizers`, and chat
 * templates through `@huggingface/jinja`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer as HfLibTokenizer } from '@huggingface/tokenizers';
import type { HfTokenizerJSON, Tokenizer, TokenizerJSON } from '../types.js';
import { renderChatTemplate, type ChatMessage, type ChatTemplateOptions } from './chat.js';

type Json = Record<string, unknown>;

/** The text of a special-token entry of tokenizer_config.json (a string or an AddedToken dict). */
function tokenText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v !== null && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

/**
 * tokenizers.js splits digits on `\d` (ASCII in JS), but the Rust `Digits` pre-tokenizer splits
 * on `char::is_numeric` (Unicode N*: "½", "²", "٣"). Patch its pattern to match upstream ids.
 */
function fixDigits(pre: unknown): void {
  // The library's components are callable objects (typeof 'function').
  if (pre === null || (typeof pre !== 'object' && typeof pre !== 'function')) return;
  const d = pre as { config?: { type?: string; individual_digits?: boolean }; pattern?: RegExp };
  // (No `instanceof RegExp`: test runners may load the library in another realm.)
  if (d.config?.type === 'Digits' && d.pattern !== undefined) {
    d.pattern = new RegExp(`[^\\p{N}]+|\\p{N}${d.config.individual_digits ? '' : '+'}`, 'gu');
    return;
  }
  const kids = (pre as { tokenizers?: unknown }).tokenizers;
  if (Array.isArray(kids)) for (const k of kids) fixDigits(k);
}

/** Result of {@link HfTokenizer.encodeWithTokens}. */
export interface HfEncoding {
  ids: number[];
  /** Token strings as the vocabulary spells them (`Ġ`/`▁` markers, `<0x0A>` bytes). */
  tokens: string[];
}

/** A Hugging Face tokenizer behind falign's {@link Tokenizer} interface. */
export class HfTokenizer implements Tokenizer {
  readonly kind = 'hf' as const;
  readonly vocabSize: number;
  /** BOS id when the tokenizer adds one by default (Llama/TinyLlama `<s>`), else null (Qwen, GPT-2, SmolLM2). */
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly eosIds: readonly number[];
  readonly padId: number;
  /** The chat template of tokenizer_config.json, or null. */
  readonly chatTemplate: string | null;
  /** Special-token strings of tokenizer_config.json (bos_token, eos_token, …) as template variables. */
  readonly specialTokens: Record<string, string>;
  private readonly lib: HfLibTokenizer;
  private readonly specialIds: Set<number>;

  constructor(private readonly json: HfTokenizerJSON, where = 'tokenizer.json') {
    if (json.tokenizer === null || typeof json.tokenizer !== 'object' || typeof json.tokenizer.model !== 'object') {
      throw new Error(`${where}: not a Hugging Face tokenizer.json (no "model" object)`);
    }
    try {
      this.lib = new HfLibTokenizer(json.tokenizer, json.config ?? {});
    } catch (err) {
      throw new Error(`${where}: ${(err as Error).message}`);
    }
    fixDigits(this.lib.pre_tokenizer);
    const cfg = json.config ?? {};
    const vocab = this.lib.get_vocab(true);
    let maxId = -1;
    for (const id of vocab.values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
    this.specialIds = new Set([...this.lib.get_added_tokens_decoder()].filter(([, t]) => t.special).map(([id]) => id));

    const idOf = (field: string): number | null => {
      const text = tokenText(cfg[field]);
      if (text === null) return null;
      const id = this.lib.token_to_id(text);
      if (id === undefined) throw new Error(`${where}: tokenizer_config "${field}" ${JSON.stringify(text)} is not in the vocabulary`);
      return id;
    };
    this.specialTokens = {};
    for (const [k, v] of Object.entries(cfg)) {
      const t = k.endsWith('_token') ? tokenText(v) : null;
      if (t !== null) this.specialTokens[k] = t;
    }
    // BOS: only when the default encoding (add_special_tokens) prepends it, as HF encode() does.
    const probe = 'a';
    const withSp = this.lib.encode(probe, { add_special_tokens: true }).ids;
    const without = this.lib.encode(probe, { add_special_tokens: false }).ids;
    this.bosId = withSp.length > without.length && withSp[0] !== without[0] && this.specialIds.has(withSp[0]) ? withSp[0] : null;

    const gen = json.generation ?? {};
    const genEos = gen.eos_token_id;
    const eos: number[] = [];
    if (Array.isArray(genEos)) for (const v of genEos) if (Number.isInteger(v)) eos.push(v as number);
    if (Number.isInteger(genEos)) eos.push(genEos as number);
    const cfgEos = idOf('eos_token');
    if (cfgEos !== null && !eos.includes(cfgEos)) eos.push(cfgEos);
    for (const id of eos) {
      if (id < 0 || id >= this.vocabSize) throw new Error(`${where}: eos_token_id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    }
    this.eosIds = eos;
    this.eosId = eos.length > 0 ? eos[0] : null;
    this.padId = idOf('pad_token') ?? this.eosId ?? 0;
    this.chatTemplate = pickTemplate(cfg.chat_template, where);
  }

  /**
   * Reads a tokenizer from an HF model directory: tokenizer.json (required), tokenizer_config.json,
   * generation_config.json and special_tokens_map.json when present; config.json's eos_token_id is
   * the last resort for the EOS id.
   */
  static async load(dir: string): Promise<HfTokenizer> {
    const tokPath = join(dir, 'tokenizer.json');
    const tokenizer = await readJson(tokPath, true);
    const config = (await readJson(join(dir, 'tokenizer_config.json'), false)) ?? {};
    const map = await readJson(join(dir, 'special_tokens_map.json'), false);
    if (map) for (const [k, v] of Object.entries(map)) if (config[k] === undefined) config[k] = v;
    let generation = await readJson(join(dir, 'generation_config.json'), false);
    if (!generation) {
      const model = await readJson(join(dir, 'config.json'), false);
      if (model && model.eos_token_id !== undefined && model.eos_token_id !== null) generation = { eos_token_id: model.eos_token_id };
    }
    const json: HfTokenizerJSON = { kind: 'hf', tokenizer: tokenizer!, config };
    if (generation) json.generation = generation;
    return new HfTokenizer(json, tokPath);
  }

  /** Rebuilds the tokenizer saved by {@link toJSON}. */
  static fromJSON(json: HfTokenizerJSON, where?: string): HfTokenizer {
    return new HfTokenizer(json, where);
  }

  /** Ids of `text` without special tokens, with BOS/EOS added when asked (falign's convention). */
  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const ids = this.lib.encode(text, { add_special_tokens: false }).ids;
    if (opts.bos) {
      if (this.bosId === null) throw new Error('HfTokenizer: asked to add bos but this tokenizer adds no BOS token');
      ids.unshift(this.bosId);
    }
    if (opts.eos) {
      if (this.eosId === null) throw new Error('HfTokenizer: asked to add eos but this tokenizer has no eos token');
      ids.push(this.eosId);
    }
    return ids;
  }

  /**
   * Ids and token strings exactly as HF `tokenizer(text)` gives them: special tokens added the
   * way the tokenizer's post-processor does by default, unless `addSpecialTokens` is false.
   */
  encodeWithTokens(text: string, opts: { addSpecialTokens?: boolean } = {}): HfEncoding {
    const e = this.lib.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true });
    return { ids: e.ids, tokens: e.tokens };
  }

  /** Decodes ids; special tokens are skipped unless `skipSpecialTokens` is false. */
  decode(ids: readonly number[], opts: { skipSpecialTokens?: boolean } = {}): string {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`HfTokenizer: token id ${id} is outside [0, ${this.vocabSize})`);
      }
    }
    if (ids.length === 0) return '';
    return this.lib.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? true });
  }

  /** The vocabulary string of an id (undefined outside the vocabulary). */
  idToToken(id: number): string | undefined {
    return this.lib.id_to_token(id);
  }

  /** The id of a vocabulary string (undefined when absent). */
  tokenToId(token: string): number | undefined {
    return this.lib.token_to_id(token);
  }

  /** Whether `id` is a special added token (`<|im_end|>`, `<s>`, …). */
  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /**
   * Renders the chat template (HF `apply_chat_template(..., tokenize=False)`); throws when the
   * tokenizer has no template.
   */
  applyChatTemplate(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string {
    if (this.chatTemplate === null) throw new Error('HfTokenizer: tokenizer_config.json has no chat_template');
    return renderChatTemplate(this.chatTemplate, messages, { ...this.specialTokens, ...opts });
  }

  /** Template then ids, without adding special tokens again (as HF `apply_chat_template(tokenize=True)`). */
  encodeChat(messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): number[] {
    return this.lib.encode(this.applyChatTemplate(messages, opts), { add_special_tokens: false }).ids;
  }

  toJSON(): TokenizerJSON {
    return this.json;
  }
}

function pickTemplate(v: unknown, where: string): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v;
  // Older configs list named templates; HF uses "default".
  if (Array.isArray(v)) {
    const d = v.find((t) => t && (t as Json).name === 'default') as Json | undefined;
    if (d && typeof d.template === 'string') return d.template;
  }
  throw new Error(`${where}: "chat_template" must be a string or a list of {name, template} with a "default" entry`);
}

async function readJson(path: string, required: true): Promise<Json>;
async function readJson(path: string, required: false): Promise<Json | null>;
async function readJson(path: string, required: boolean): Promise<Json | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new Error(`cannot read ${path}: ${(err as Error).message}`);
  }
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: invalid JSON: ${(err as Error).message}`);
  }
  if (j === null || typeof j !== 'object' || Array.isArray(j)) throw new Error(`${path}: expected a JSON object`);
  return j as Json;
}
