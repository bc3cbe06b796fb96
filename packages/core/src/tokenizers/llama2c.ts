/**
 * The llama2.c tokenizer (`tokenizer.bin`, e.g. stories260K's tok512.bin), with encode and decode
 * written to match llama2.c's run.c step for step.
 */
import { readFile } from 'node:fs/promises';
import type { Tokenizer, TokenizerJSON } from '../types.js';

const BOS_ID = 1;
const EOS_ID = 2;
const UNK_ID = 0;
/** run.c's starting best score in the merge loop; only strictly greater scores win. */
const MERGE_FLOOR = -1e10;
/** sscanf("<0x%02hhX>") in run.c: `<0x` followed by one or two hex digits. */
const BYTE_PIECE = /^<0x([0-9A-Fa-f]{1,2})/;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });
const utf8Lossy = new TextDecoder('utf-8');

/** Bytes → a string with one char per byte (char code = byte), used as an exact map key. */
function bytesToBinary(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

function binaryToBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** The byte a piece stands for when it has run.c's `<0xHH>` form, else null. */
function bytePieceValue(piece: string): number | null {
  const m = BYTE_PIECE.exec(piece);
  return m ? parseInt(m[1], 16) : null;
}

/** C's isprint || isspace in the "C" locale. */
function isCPrintableOrSpace(b: number): boolean {
  return (b >= 0x20 && b <= 0x7e) || (b >= 0x09 && b <= 0x0d);
}

/**
 * llama2.c tokenizer: BOS = 1, EOS = 2, byte fallback `<0xHH>` = byte + 3, BPE merges by score.
 * `padId` is 0 (`<unk>`): padding is never attended to nor scored, so any id works.
 */
export class Llama2cTokenizer implements Tokenizer {
  readonly kind = 'llama2c' as const;
  readonly bosId = BOS_ID;
  readonly eosId = EOS_ID;
  readonly padId = UNK_ID;
  readonly vocabSize: number;
  readonly maxTokenLength: number;
  /** Pieces as binary strings (one char per byte). */
  private readonly pieces: string[];
  private readonly scores: Float32Array;
  private readonly lookup: Map<string, number>;
  /** Bytes each id decodes to when it does not follow BOS. */
  private readonly pieceBytes: Uint8Array[];

  private constructor(maxTokenLength: number, pieces: string[], scores: Float32Array) {
    this.maxTokenLength = maxTokenLength;
    this.pieces = pieces;
    this.scores = scores;
    this.vocabSize = pieces.length;
    this.lookup = new Map();
    // run.c looks pieces up by bsearch over a sorted copy; with duplicate pieces that choice is
    // unspecified, so we keep the first id, which is what every real tokenizer.bin needs (none has duplicates).
    pieces.forEach((p, id) => {
      if (!this.lookup.has(p)) this.lookup.set(p, id);
    });
    this.pieceBytes = pieces.map((p) => binaryToBytes(p));
  }

  /**
   * Parses a llama2.c `tokenizer.bin`. The file does not store its entry count: pass the model's
   * vocab size and the file must hold exactly that many entries; without it, entries are read up
   * to the end of the file.
   */
  static fromBuffer(buf: Uint8Array, vocabSize?: number, name = '<buffer>'): Llama2cTokenizer {
    if (vocabSize !== undefined && (!Number.isInteger(vocabSize) || vocabSize < 3)) {
      throw new Error(`${name}: vocab size must be an integer >= 3, got ${vocabSize}`);
    }
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    if (buf.byteLength < 4) throw new Error(`${name}: truncated llama2.c tokenizer: ${buf.byteLength} bytes, header needs 4`);
    const maxTokenLength = view.getInt32(0, true);
    if (maxTokenLength <= 0) throw new Error(`${name}: bad max_token_length ${maxTokenLength} (not a llama2.c tokenizer?)`);
    let off = 4;
    const pieces: string[] = [];
    const scores: number[] = [];
    const wanted = vocabSize ?? Infinity;
    for (let id = 0; id < wanted && (vocabSize !== undefined || off < buf.byteLength); id++) {
      if (off + 8 > buf.byteLength) {
        throw new Error(`${name}: truncated llama2.c tokenizer: entry ${id} of ${wanted} starts at byte ${off} but the file has ${buf.byteLength} bytes`);
      }
      scores.push(view.getFloat32(off, true));
      const len = view.getInt32(off + 4, true);
      off += 8;
      if (len < 0 || off + len > buf.byteLength) {
        throw new Error(`${name}: truncated or corrupt llama2.c tokenizer: entry ${id} has length ${len} at byte ${off - 4} (file has ${buf.byteLength} bytes)`);
      }
      pieces.push(bytesToBinary(buf.subarray(off, off + len)));
      off += len;
    }
    if (off !== buf.byteLength) {
      throw new Error(`${name}: llama2.c tokenizer has ${buf.byteLength - off} bytes after its ${pieces.length} entries; is the vocab size (${vocabSize}) right?`);
    }
    if (pieces.length < 3) throw new Error(`${name}: llama2.c tokenizer has only ${pieces.length} entries`);
    return new Llama2cTokenizer(maxTokenLength, pieces, Float32Array.from(scores));
  }

  /** Reads a llama2.c `tokenizer.bin` (see {@link Llama2cTokenizer.fromBuffer}). */
  static async load(path: string, vocabSize?: number): Promise<Llama2cTokenizer> {
    let buf: Buffer;
    try {
      buf = await readFile(path);
    } catch (err) {
      throw new Error(`cannot read llama2.c tokenizer ${path}: ${(err as Error).message}`);
    }
    return Llama2cTokenizer.fromBuffer(buf, vocabSize, path);
  }

  /** Rebuilds from {@link Llama2cTokenizer.toJSON}'s output. */
  static fromJSON(json: Extract<TokenizerJSON, { kind: 'llama2c' }>): Llama2cTokenizer {
    if (!Array.isArray(json.vocab) || !Array.isArray(json.scores) || json.vocab.length !== json.scores.length) {
      throw new Error('llama2c tokenizer needs arrays "vocab" and "scores" of equal length');
    }
    if (json.vocab.length < 3) throw new Error('llama2c vocab must have at least 3 entries');
    json.scores.forEach((s, i) => {
      if (typeof s !== 'number' || !Number.isFinite(s)) throw new Error(`llama2c scores[${i}] is not a finite number`);
    });
    json.vocab.forEach((p, i) => {
      if (typeof p !== 'string') throw new Error(`llama2c vocab[${i}] is not a string`);
    });
    const pieces = json.vocab.map((p) => bytesToBinary(utf8.encode(p)));
    return new Llama2cTokenizer(json.maxTokenLength, pieces, Float32Array.from(json.scores));
  }

  /** The piece of `id` as text (UTF-8; lossy only for pieces that are not valid UTF-8 on their own). */
  piece(id: number): string {
    this.checkId(id);
    return utf8Lossy.decode(this.pieceBytes[id]);
  }

  /** Merge score of `id`. */
  score(id: number): number {
    this.checkId(id);
    return this.scores[id];
  }

  /**
   * run.c's `encode`: optional BOS, a dummy-prefix space token when the text is non-empty, one
   * token per UTF-8 code point (byte fallback `<0xHH>` = byte + 3 when the code point is not a
   * piece), then repeated merges of the adjacent pair whose merged piece has the highest score
   * (leftmost on ties). BOS takes part in the merge scan exactly as in run.c.
   */
  encode(text: string, opts: { bos?: boolean; eos?: boolean } = {}): number[] {
    const bytes = utf8.encode(text);
    const tokens: number[] = [];
    if (opts.bos) tokens.push(BOS_ID);
    if (bytes.length > 0) {
      const dummy = this.lookup.get(' ');
      if (dummy === undefined) throw new Error('llama2c tokenizer has no " " piece for the dummy prefix');
      tokens.push(dummy);
    }
    let buf: number[] = [];
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i];
      if ((c & 0xc0) !== 0x80) buf = [];
      buf.push(c);
      const next = i + 1 < bytes.length ? bytes[i + 1] : 0;
      if ((next & 0xc0) === 0x80 && buf.length < 4) continue;
      const id = this.lookup.get(String.fromCharCode(...buf));
      if (id !== undefined) tokens.push(id);
      else for (const b of buf) tokens.push(b + 3);
      buf = [];
    }
    // run.c rescans every adjacent pair each round; caching each pair's merge result and
    // refreshing only the neighbours of a merge gives the same choices without rebuilding strings.
    const pairMerge = (i: number): number => this.lookup.get(this.pieces[tokens[i]] + this.pieces[tokens[i + 1]]) ?? -1;
    const merges: number[] = [];
    for (let i = 0; i < tokens.length - 1; i++) merges.push(pairMerge(i));
    for (;;) {
      let bestScore = MERGE_FLOOR;
      let bestIdx = -1;
      for (let i = 0; i < merges.length; i++) {
        const id = merges[i];
        if (id !== -1 && this.scores[id] > bestScore) {
          bestScore = this.scores[id];
          bestIdx = i;
        }
      }
      if (bestIdx === -1) break;
      tokens.splice(bestIdx, 2, merges[bestIdx]);
      merges.splice(bestIdx, 1);
      if (bestIdx < merges.length) merges[bestIdx] = pairMerge(bestIdx);
      if (bestIdx > 0) merges[bestIdx - 1] = pairMerge(bestIdx - 1);
    }
    if (opts.eos) tokens.push(EOS_ID);
    return tokens;
  }

  /** The bytes run.c's `decode(prev, id)` yields for `id` (before safe_printf's filtering). */
  private pieceBytesAfter(prev: number | null, id: number): Uint8Array {
    let piece = this.pieces[id];
    if (prev === BOS_ID && piece.charCodeAt(0) === 0x20) piece = piece.slice(1);
    const byte = bytePieceValue(piece);
    if (byte !== null) return Uint8Array.of(byte);
    return piece === this.pieces[id] ? this.pieceBytes[id] : binaryToBytes(piece);
  }

  /**
   * run.c's piece rules over a whole sequence: a piece right after BOS drops one leading space,
   * `<0xHH>` pieces are raw bytes, and the concatenated bytes are decoded as UTF-8 (so byte
   * fallback of multi-byte characters round-trips). BOS and EOS are control tokens and print
   * nothing (run.c never prints BOS: it is the prompt or ends generation).
   */
  decode(ids: readonly number[]): string {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      this.checkId(id);
      if (id === BOS_ID || id === EOS_ID) continue;
      const b = this.pieceBytesAfter(i > 0 ? ids[i - 1] : null, id);
      parts.push(b);
      total += b.length;
    }
    const all = new Uint8Array(total);
    let off = 0;
    for (const p of parts) {
      all.set(p, off);
      off += p.length;
    }
    return utf8Lossy.decode(all);
  }

  /**
   * Exactly the bytes run.c's `safe_printf(decode(prev, id))` writes for `ids[1..]` (the first id
   * is the context token, e.g. BOS): single-byte pieces that are not printable ASCII or C
   * whitespace are dropped, which drops every byte-fallback byte >= 0x80. Returned as bytes
   * because they need not be valid UTF-8.
   */
  decodeRunC(ids: readonly number[]): Uint8Array {
    const out: number[] = [];
    for (let i = 1; i < ids.length; i++) {
      this.checkId(ids[i]);
      const b = this.pieceBytesAfter(ids[i - 1], ids[i]);
      if (b.length === 0) continue;
      if (b.length === 1 && !isCPrintableOrSpace(b[0])) continue;
      for (const x of b) out.push(x);
    }
    return Uint8Array.from(out);
  }

  /** Serialisable form; throws when a piece is not valid UTF-8 (JSON holds text only). */
  toJSON(): TokenizerJSON {
    const vocab = this.pieceBytes.map((b, id) => {
      try {
        return utf8Strict.decode(b);
      } catch {
        throw new Error(`llama2c tokenizer piece ${id} is not valid UTF-8 and cannot be stored in tokenizer.json`);
      }
    });
    return { kind: 'llama2c', maxTokenLength: this.maxTokenLength, vocab, scores: Array.from(this.scores) };
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new Error(`token id ${id} is outside the llama2c vocabulary [0, ${this.vocabSize})`);
    }
  }
}
