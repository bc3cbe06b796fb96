/** Character tokenizer for synthetic tasks: one id per alphabet symbol, plus pad/BOS/EOS. */
import type { Tokenizer, TokenizerJSON } from '../types.js';
import { assignSpecials, specialsJSON, type SpecialTokens } from './specials.js';

/**
 * Ids: pad = 0, then BOS and EOS when present, then the alphabet in order. Alphabet symbols may
 * be longer than one character; encoding takes the longest symbol that matches at each position.
 * Special tokens decode to nothing.
 */
export class CharTokenizer implements Tokenizer {
  readonly kind = 'char' as const;
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number;
  readonly alphabet: readonly string[];
  readonly specials: SpecialTokens;
  private readonly firstSymbolId: number;
  private readonly idOf: Map<string, number>;
  private readonly maxSymbolLength: number;

  constructor(alphabet: readonly string[], specials: SpecialTokens = { pad: '<pad>' }) {
    const where = 'CharTokenizer';
    if (!Array.isArray(alphabet) || alphabet.length === 0) throw new Error(`${where}: alphabet must be a non-empty array of strings`);
    const ids = assignSpecials(specials, 0, where);
    this.padId = ids.padId;
    this.bosId = ids.bosId;
    this.eosId = ids.eosId;
    this.specials = specialsJSON(specials);
    this.firstSymbolId = ids.names.size;
    this.idOf = new Map();
    alphabet.forEach((sym, i) => {
      if (typeof sym !== 'string' || sym.length === 0) throw new Error(`${where}: alphabet[${i}] must be a non-empty string`);
      if (this.idOf.has(sym)) throw new Error(`${where}: alphabet[${i}] "${sym}" appears twice`);
      this.idOf.set(sym, this.firstSymbolId + i);
    });
    this.alphabet = [...alphabet];
    this.maxSymbolLength = Math.max(...alphabet.map((s) => s.length));
    this.vocabSize = this.firstSymbolId + alphabet.length;
  }

  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const out: number[] = [];
    if (opts.bos) out.push(this.requireSpecial(this.bosId, 'bos'));
    let i = 0;
    while (i < text.length) {
      let matched = false;
      for (let len = Math.min(this.maxSymbolLength, text.length - i); len > 0; len--) {
        const id = this.idOf.get(text.slice(i, i + len));
        if (id !== undefined) {
          out.push(id);
          i += len;
          matched = true;
          break;
        }
      }
      if (!matched) throw new Error(`CharTokenizer: character ${JSON.stringify(text[i])} at offset ${i} is not in the alphabet`);
    }
    if (opts.eos) out.push(this.requireSpecial(this.eosId, 'eos'));
    return out;
  }

  decode(ids: readonly number[]): string {
    let s = '';
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`CharTokenizer: token id ${id} is outside [0, ${this.vocabSize})`);
      }
      if (id >= this.firstSymbolId) s += this.alphabet[id - this.firstSymbolId];
    }
    return s;
  }

  toJSON(): TokenizerJSON {
    return { kind: 'char', alphabet: [...this.alphabet], specials: specialsJSON(this.specials) };
  }

  private requireSpecial(id: number | null, name: string): number {
    if (id === null) throw new Error(`CharTokenizer: asked to add ${name} but the tokenizer has no ${name} token`);
    return id;
  }
}
