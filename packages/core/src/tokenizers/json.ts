/** Rebuilding a tokenizer from its serialised form (tokenizer.json). */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Tokenizer, TokenizerJSON } from '../types.js';
import { ByteTokenizer } from './byte.js';
import { CharTokenizer } from './char.js';
import { Llama2cTokenizer } from './llama2c.js';
import { HfTokenizer } from './hf.js';

/** Builds the tokenizer a {@link TokenizerJSON} describes; `where` names the source in errors. */
export function tokenizerFromJSON(json: TokenizerJSON, where = 'tokenizer.json'): Tokenizer {
  if (json === null || typeof json !== 'object') throw new Error(`${where}: expected an object`);
  try {
    switch (json.kind) {
      case 'char': {
        if (!Array.isArray(json.alphabet)) throw new Error('"alphabet" must be an array of strings');
        return new CharTokenizer(json.alphabet, json.specials);
      }
      case 'byte':
        return new ByteTokenizer(json.specials);
      case 'llama2c':
        return Llama2cTokenizer.fromJSON(json);
      case 'hf':
        return HfTokenizer.fromJSON(json, where);
      default:
        throw new Error(`"kind" must be one of char, byte, llama2c, hf; got ${JSON.stringify((json as { kind?: unknown }).kind)}`);
    }
  } catch (err) {
    const msg = (err as Error).message;
    throw new Error(msg.startsWith(where) ? msg : `${where}: ${msg}`);
  }
}

/** Reads and parses a tokenizer.json file. */
export async function loadTokenizerJSON(path: string): Promise<Tokenizer> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read tokenizer ${path}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: invalid JSON: ${(err as Error).message}`);
  }
  // A Hugging Face tokenizer.json (no falign "kind"): read it with its sibling config files.
  if (json !== null && typeof json === 'object' && !('kind' in json) && 'model' in json) return HfTokenizer.load(dirname(path));
  return tokenizerFromJSON(json as TokenizerJSON, path);
}
