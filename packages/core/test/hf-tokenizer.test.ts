/**
 * Hugging Face tokenizers and chat templates on the real upstream files in FALIGN_MODELS_DIR/hf:
 * ids must equal the reference tokenizations that llama.cpp publishes (made with HF AutoTokenizer).
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { HfTokenizer, loadTokenizerJSON, stopTokenSet, tokenizerFromJSON } from '@falign/core';

const modelsDir = process.env.FALIGN_MODELS_DIR ?? resolve(__dirname, '../../../../shared/models');
const hf = join(modelsDir, 'hf');

/** llama.cpp reference file → the HF tokenizer folder it applies to (see hf/SOURCE.md). */
const REFS = [
  { ref: 'qwen2', dir: 'qwen2.5-0.5b-instruct' },
  { ref: 'qwen2', dir: 'qwen3-30b-a3b' }, // same vocabulary and merges, newer tokenizer.json layout
  { ref: 'gpt-2', dir: 'gpt2' },
  { ref: 'llama-spm', dir: 'tinyllama-1.1b-chat-v1.0' },
  { ref: 'smollm', dir: 'smollm2-135m-instruct' },
] as const;

function readRefs(ref: string): { texts: string[]; ids: number[][] } {
  const base = join(hf, 'refs', 'llama.cpp', `ggml-vocab-${ref}.gguf`);
  // llama.cpp's test-tokenizer-0 format: strings separated by "\n__ggml_vocab_test__\n".
  const texts = readFileSync(`${base}.inp`, 'utf8').split('\n__ggml_vocab_test__\n');
  expect(texts.pop()).toBe('');
  const lines = readFileSync(`${base}.out`, 'utf8').split('\n');
  const ids = texts.map((_, i) => (lines[i].trim() === '' ? [] : lines[i].trim().split(/\s+/).map(Number)));
  return { texts, ids };
}

const toks = new Map<string, HfTokenizer>();
beforeAll(async () => {
  for (const { dir } of REFS) toks.set(dir, await HfTokenizer.load(join(hf, dir)));
});

describe('HF tokenizers reproduce the published reference ids', () => {
  it.each(REFS)('$dir = llama.cpp ggml-vocab-$ref (all 46 strings)', ({ ref, dir }) => {
    const t = toks.get(dir)!;
    const { texts, ids } = readRefs(ref);
    expect(texts.length).toBe(46);
    const mismatches = texts.filter((s, i) => JSON.stringify(t.encode(s)) !== JSON.stringify(ids[i]));
    console.log(`[hf tokenizer] ${dir} vs ${ref}: ${texts.length - mismatches.length}/${texts.length} equal`);
    expect(mismatches).toEqual([]);
  });

  // (GPT-2 is left out: without a tokenizer_config it keeps HF's clean_up_tokenization_spaces default, " ?" → "?".)
  it.each(['qwen2.5-0.5b-instruct', 'smollm2-135m-instruct'])('%s: byte-level decode inverts encode', (dir) => {
    const t = toks.get(dir)!;
    for (const s of readRefs('gpt-2').texts) expect(t.decode(t.encode(s))).toBe(s);
  });
});

describe('special tokens, BOS/EOS and generation_config', () => {
  it('TinyLlama adds <s> by default; Qwen2.5 and SmolLM2 add nothing', () => {
    const tl = toks.get('tinyllama-1.1b-chat-v1.0')!;
    expect(tl.bosId).toBe(1);
    expect(tl.encodeWithTokens('Hello world')).toEqual({ ids: [1, 15043, 3186], tokens: ['<s>', '▁Hello', '▁world'] });
    expect(tl.encodeWithTokens('Hello world', { addSpecialTokens: false }).ids).toEqual([15043, 3186]);
    expect(tl.encode('Hello world', { bos: true })).toEqual([1, 15043, 3186]);
    expect(tl.eosIds).toEqual([2]);
    const q = toks.get('qwen2.5-0.5b-instruct')!;
    expect(q.bosId).toBeNull();
    expect(q.encodeWithTokens('Hello world').ids).toEqual([9707, 1879]);
    expect(toks.get('smollm2-135m-instruct')!.bosId).toBeNull();
  });

  it('eos_token_id lists come from generation_config.json; pad from tokenizer_config', () => {
    const q = toks.get('qwen2.5-0.5b-instruct')!;
    expect(q.eosIds).toEqual([151645, 151643]);
    expect([...stopTokenSet(q)].sort()).toEqual([151643, 151645]); // generation stops at either
    expect(q.eosId).toBe(151645);
    expect(q.padId).toBe(151643);
    expect(q.vocabSize).toBe(151665);
  });

  it('added special tokens are single ids and skipped when decoding', () => {
    const q = toks.get('qwen2.5-0.5b-instruct')!;
    const ids = q.encode('<|im_start|>user\nhi<|im_end|>');
    expect(ids[0]).toBe(151644);
    expect(ids[ids.length - 1]).toBe(151645);
    expect(q.decode(ids)).toBe('user\nhi');
    expect(q.decode(ids, { skipSpecialTokens: false })).toBe('<|im_start|>user\nhi<|im_end|>');
  });

  it('byte fallback: characters outside the SentencePiece vocabulary become <0xXX> bytes', () => {
    const tl = toks.get('tinyllama-1.1b-chat-v1.0')!;
    const { tokens, ids } = tl.encodeWithTokens('𝔘', { addSpecialTokens: false });
    expect(tokens.slice(1)).toEqual(['<0xF0>', '<0x9D>', '<0x94>', '<0x98>']);
    expect(tl.decode(ids)).toBe('𝔘');
  });

  it('round-trips through toJSON (falign checkpoints keep the HF files verbatim)', () => {
    const q = toks.get('qwen2.5-0.5b-instruct')!;
    const back = tokenizerFromJSON(JSON.parse(JSON.stringify(q.toJSON())));
    expect(back.kind).toBe('hf');
    expect(back.encode('Hello world!')).toEqual(q.encode('Hello world!'));
    expect(back.eosIds).toEqual(q.eosIds);
  });

  it('loadTokenizerJSON recognises an HF tokenizer.json and reads its sibling configs', async () => {
    const t = await loadTokenizerJSON(join(hf, 'qwen2.5-0.5b-instruct', 'tokenizer.json'));
    expect(t.kind).toBe('hf');
    expect(t.eosIds).toEqual([151645, 151643]);
  });
});

describe('chat templates (tokenizer_config.json, @huggingface/jinja)', () => {
  const msgs = [{ role: 'user', content: 'What is 2+2?' }];

  it('Qwen2.5: default system prompt, ChatML, generation prompt', () => {
    const q = toks.get('qwen2.5-0.5b-instruct')!;
    expect(q.applyChatTemplate(msgs)).toBe(
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
        '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n',
    );
    const sys = [{ role: 'system', content: 'Be brief.' }, ...msgs, { role: 'assistant', content: '4' }];
    expect(q.applyChatTemplate(sys, { addGenerationPrompt: false })).toBe(
      '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n',
    );
    const ids = q.encodeChat(msgs);
    expect(ids[0]).toBe(151644);
    expect(ids.slice(-3)).toEqual(q.encode('<|im_start|>assistant\n'));
  });

  it('TinyLlama (Zephyr): eos_token comes from tokenizer_config', () => {
    const t = toks.get('tinyllama-1.1b-chat-v1.0')!;
    expect(t.applyChatTemplate(msgs)).toBe('<|user|>\nWhat is 2+2?</s>\n<|assistant|>\n');
  });

  it('SmolLM2 and Qwen3 (thinking switch) render', () => {
    expect(toks.get('smollm2-135m-instruct')!.applyChatTemplate(msgs)).toBe(
      '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' +
        '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n',
    );
    const q3 = toks.get('qwen3-30b-a3b')!;
    expect(q3.applyChatTemplate(msgs, { enable_thinking: false })).toBe(
      '<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
    );
    expect(q3.applyChatTemplate(msgs)).toBe('<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n');
  });

  it('bad messages are refused with the field named', () => {
    const q = toks.get('qwen2.5-0.5b-instruct')!;
    expect(() => q.applyChatTemplate([])).toThrow(/non-empty array/);
    expect(() => q.applyChatTemplate([{ role: 'user' } as never])).toThrow(/messages\[0\]\.content/);
    expect(() => toks.get('gpt2')!.applyChatTemplate(msgs)).toThrow(/no chat_template/);
  });
});
