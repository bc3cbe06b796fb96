/** Byte tokenizer for synthetic tasks: ids 0–255 are UTF-8 bytes, then pad/BOS/EOS. */
import type { Tokenizer, TokenizerJSON } from '../types.js';
import { assignSpecials, specialsJSON, type SpecialTokens } from './specials.js';

const utf8 = new TextEncoder();
const utf8Lossy = new TextDecoder('utf-8');

/**
 * Ids 0–255 are bytes of the UTF-8 text; pad = 256, then BOS and EOS when present. Decoding
 * joins the bytes and decodes them as UTF-8 (invalid sequences become U+FFFD); specials decode
 * to nothing.
 */
export class ByteTokenizer implements Tokenizer {
  readonly kind = 'byte' as const;
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number;
  readonly specials: SpecialTokens;

  constructor(specials: SpecialTokens = { pad: '<pad>' }) {
    const ids = assignSpecials(specials, 256, 'ByteTokenizer');
    this.padId = ids.padId;
    this.bosId = ids.bosId;
    this.eosId = ids.eosId;
    this.specials = specialsJSON(specials);
    this.vocabSize = 256 + ids.names.size;
  }

  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const out: number[] = [];
    if (opts.bos) {
      if (this.bosId === null) throw new Error('ByteTokenizer: asked to add bos but the tokenizer has no bos token');
      out.push(this.bosId);
    }
    for (const b of utf8.encode(text)) out.push(b);
    if (opts.eos) {
      if (this.eosId === null) throw new Error('ByteTokenizer: asked to add eos but the tokenizer has no eos token');
      out.push(this.eosId);
    }
    return out;
  }

  decode(ids: readonly number[]): string {
    const bytes: number[] = [];
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`ByteTokenizer: token id ${id} is outside [0, ${this.vocabSize})`);
      }
      if (id < 256) bytes.push(id);
    }
    return utf8Lossy.decode(Uint8Array.from(bytes));
  }

  toJSON(): TokenizerJSON {
    return { kind: 'byte', specials: specialsJSON(this.specials) };
  }
}
