import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ByteTokenizer, CharTokenizer, Llama2cTokenizer, tokenizerFromJSON } from '@falign/core';
import type { TokenizerJSON } from '@falign/core';

const modelsDir = process.env.FALIGN_MODELS_DIR ?? resolve(__dirname, '../../../../shared/models');
const storiesDir = join(modelsDir, 'stories260K');

/** The ids and text of EXAMPLE.md's two code blocks. */
function readExample(): { ids: number[]; text: string } {
  const md = readFileSync(join(storiesDir, 'EXAMPLE.md'), 'utf8');
  const blocks = [...md.matchAll(/```\n([\s\S]*?)\n```/g)].map((m) => m[1]);
  return { ids: JSON.parse(blocks[0]) as number[], text: blocks[1] };
}

describe('Llama2cTokenizer (tok512.bin)', () => {
  const tok = Llama2cTokenizer.fromBuffer(readFileSync(join(storiesDir, 'tok512.bin')), 512, 'tok512.bin');

  it('reads the file layout SOURCE.md documents', () => {
    expect(tok.vocabSize).toBe(512);
    expect(tok.maxTokenLength).toBe(7);
    expect(tok.piece(0)).toBe('<unk>');
    expect(tok.piece(1)).toBe('\n<s>\n');
    expect(tok.piece(2)).toBe('\n</s>\n');
    expect(tok.piece(3)).toBe('<0x00>');
    expect(tok.piece(258)).toBe('<0xFF>');
    expect(tok.piece(259)).toBe(' t');
    expect(tok.score(260)).toBe(-1);
    expect(tok.score(511)).toBe(-252);
    expect(tok.piece(410)).toBe(' ');
    expect(tok.piece(485)).toBe('é');
  });

  it('infers the entry count from the file when no vocab size is given', () => {
    const t = Llama2cTokenizer.fromBuffer(readFileSync(join(storiesDir, 'tok512.bin')));
    expect(t.vocabSize).toBe(512);
  });

  it('decodes EXAMPLE.md ids to its text exactly', () => {
    const { ids, text } = readExample();
    // BOS + 256 generated tokens (run.c -n 256 feeds 256 positions and samples after each).
    expect(ids.length).toBe(257);
    expect(tok.decode(ids)).toBe(text);
    // run.c's byte-exact output agrees here (this text has no byte-fallback tokens).
    expect(new TextDecoder().decode(tok.decodeRunC(ids))).toBe(text);
  });

  it('encodes by run.c rules: hand-derived merges', () => {
    // "Lily": [BOS, ' ', L, i, l, y]; best pairs by score: "il"(-31) > " L"(-48) → [BOS, ' L', 'il', y]
    // → "ily"(-51) → [BOS, ' L', 'ily'] → " Lily" (317).
    expect(tok.encode('Lily', { bos: true })).toEqual([1, 317]);
    // "cat": " c"(-21) beats "at"(-35); then "at"; " cat" is not a piece.
    expect(tok.encode('cat')).toEqual([280, 294]);
    // "he": "he"(-1) beats " h"(-11), then " he" (281).
    expect(tok.encode('he')).toEqual([281]);
    // é is a whole piece (485); " é" is not.
    expect(tok.encode('é')).toEqual([410, 485]);
    // 😀 (F0 9F 98 80) is no piece: byte fallback id = byte + 3, nothing merges.
    expect(tok.encode('😀')).toEqual([410, 0xf0 + 3, 0x9f + 3, 0x98 + 3, 0x80 + 3]);
    expect(tok.encode('')).toEqual([]);
    expect(tok.encode('', { bos: true, eos: true })).toEqual([1, 2]);
  });

  it('encodes the EXAMPLE story back to its ids', () => {
    const { ids, text } = readExample();
    // The greedy story is one BPE-consistent segmentation except where the model chose otherwise;
    // what must hold is that encode∘decode keeps the text.
    expect(tok.decode(tok.encode(text, { bos: true }))).toBe(text);
    expect(tok.encode('Once upon a time', { bos: true })).toEqual(ids.slice(0, 5));
  });

  it('matches a literal transcription of run.c encode() on random text', () => {
    // run.c, line by line: code points (≤ 4 bytes) → ids or byte fallback, then rescan all pairs each round.
    const ids = new Map<string, number>();
    for (let i = 0; i < tok.vocabSize; i++) ids.set(tok.piece(i), i);
    const reference = (text: string): number[] => {
      const out: number[] = [1];
      if (text.length > 0) out.push(ids.get(' ')!);
      for (const ch of text) {
        const id = ids.get(ch);
        if (id !== undefined) out.push(id);
        else for (const b of new TextEncoder().encode(ch)) out.push(b + 3);
      }
      for (;;) {
        let best = -1e10;
        let bestId = -1;
        let bestIdx = -1;
        for (let i = 0; i < out.length - 1; i++) {
          const id = ids.get(tok.piece(out[i]) + tok.piece(out[i + 1]));
          if (id !== undefined && tok.score(id) > best) [best, bestId, bestIdx] = [tok.score(id), id, i];
        }
        if (bestIdx === -1) return out;
        out.splice(bestIdx, 2, bestId);
      }
    };
    const words = fc.constantFrom('Once', ' upon', 'a', ' time', 'Lily', ' the', 'ball', '.', ',', '\n', ' ', 'é', '“', '😀', 'xyz', 'happily', 'She', ' said');
    fc.assert(
      fc.property(fc.array(words, { maxLength: 30 }), (parts) => {
        const text = parts.join('');
        expect(tok.encode(text, { bos: true })).toEqual(reference(text));
      }),
      { numRuns: 200 },
    );
  });

  it('round-trips arbitrary text through encode/decode (byte fallback included)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => {
        expect(tok.decode(tok.encode(s, { bos: true }))).toBe(s);
      }),
      { numRuns: 200 },
    );
  });

  it('strips the leading space only right after BOS and treats <0xHH> as raw bytes', () => {
    expect(tok.decode([403])).toBe(' Once');
    expect(tok.decode([1, 403])).toBe('Once');
    expect(tok.decode([1, 410, 0xc3 + 3, 0xa9 + 3])).toBe('é');
    // run.c's safe_printf drops lone bytes >= 0x80 but keeps printable ones.
    expect(Array.from(tok.decodeRunC([1, 0xc3 + 3, 0x41 + 3]))).toEqual([0x41]);
  });

  it('round-trips through toJSON / tokenizerFromJSON', () => {
    const json = JSON.parse(JSON.stringify(tok.toJSON())) as TokenizerJSON;
    const back = tokenizerFromJSON(json);
    const { ids, text } = readExample();
    expect(back.decode(ids)).toBe(text);
    expect(back.encode(text, { bos: true })).toEqual(tok.encode(text, { bos: true }));
  });

  it('reports truncated and malformed files', () => {
    const buf = readFileSync(join(storiesDir, 'tok512.bin'));
    expect(() => Llama2cTokenizer.fromBuffer(buf.subarray(0, 3000), 512, 'cut.bin')).toThrow(/cut\.bin: truncated/);
    expect(() => Llama2cTokenizer.fromBuffer(buf, 300, 'tok.bin')).toThrow(/bytes after its 300 entries/);
    expect(() => Llama2cTokenizer.fromBuffer(buf.subarray(0, 2), 512, 'tiny.bin')).toThrow(/tiny\.bin/);
    expect(() => tok.decode([512])).toThrow(/outside/);
  });
});

describe('CharTokenizer', () => {
  const tok = new CharTokenizer(['0', '1', '2', '+', '=', '10'], { pad: '<pad>', bos: '<s>', eos: '</s>' });

  it('assigns pad, bos, eos, then the alphabet', () => {
    expect([tok.padId, tok.bosId, tok.eosId, tok.vocabSize]).toEqual([0, 1, 2, 9]);
    // longest match: "10" is one symbol (id 8)
    expect(tok.encode('10+2=12', { bos: true, eos: true })).toEqual([1, 8, 6, 5, 7, 4, 5, 2]);
    expect(tok.decode([1, 8, 6, 5, 7, 4, 5, 2, 0])).toBe('10+2=12');
  });

  it('names the offending character', () => {
    expect(() => tok.encode('1+x')).toThrow(/"x" at offset 2/);
    expect(() => new CharTokenizer(['a', 'a'])).toThrow(/appears twice/);
    expect(() => new CharTokenizer(['a'], { pad: 'a', bos: 'a' })).toThrow(/repeats/);
  });

  it('round-trips through JSON', () => {
    const back = tokenizerFromJSON(JSON.parse(JSON.stringify(tok.toJSON())) as TokenizerJSON);
    expect(back.vocabSize).toBe(tok.vocabSize);
    expect(back.encode('12=10', { eos: true })).toEqual(tok.encode('12=10', { eos: true }));
  });
});

describe('ByteTokenizer', () => {
  const tok = new ByteTokenizer({ pad: '<pad>', eos: '<eos>' });

  it('maps UTF-8 bytes to ids and specials after 255', () => {
    expect([tok.padId, tok.bosId, tok.eosId, tok.vocabSize]).toEqual([256, null, 257, 258]);
    expect(tok.encode('aé', { eos: true })).toEqual([0x61, 0xc3, 0xa9, 257]);
    expect(() => tok.encode('a', { bos: true })).toThrow(/no bos/);
  });

  it('round-trips text and JSON', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (s) => tok.decode(tok.encode(s)) === s));
    const back = tokenizerFromJSON(JSON.parse(JSON.stringify(tok.toJSON())) as TokenizerJSON);
    expect(back.encode('hi', { eos: true })).toEqual([0x68, 0x69, 257]);
  });

  it('rejects unknown kinds by name', () => {
    expect(() => tokenizerFromJSON({ kind: 'bpe' } as unknown as TokenizerJSON, 'x/tokenizer.json')).toThrow(
      /x\/tokenizer\.json: "kind" must be one of char, byte, llama2c/,
    );
  });
});
