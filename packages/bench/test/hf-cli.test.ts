/**
 * Hugging Face models through the built CLI: `falign generate --model hf:DIR --chat` and
 * `falign tokenize`, on the tiny HF-layout fixtures of packages/core/test/fixtures/hf and the
 * real tokenizer files in FALIGN_MODELS_DIR/hf.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBenchCli, falignBin as falign } from './helpers-cli.js';
import { HfTokenizer, initBackend, loadPolicy, tf } from '@falign/core';
import { loadEvalModel } from '../src/models/load.js';
import { startServer } from '../src/server/app.js';
import { tokenizerChatTemplate } from '../src/server/chat-template.js';

const repo = resolve(__dirname, '../../..');
const FIX = join(repo, 'packages/core/test/fixtures/hf');
const modelsDir = process.env.FALIGN_MODELS_DIR ?? resolve(repo, '../shared/models');
let tmp: string;

/** Greedy decoding by repeated full forward passes: independent of the KV-cache sampler. */
async function greedyByForward(dir: string, prompt: number[], n: number, stops: Set<number>): Promise<number[]> {
  const policy = await loadPolicy(`hf:${dir}`, { trainable: false });
  const ids = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const logits = tf.tidy(() => {
      const l = policy.model.forward(tf.tensor2d([ids], [1, ids.length], 'int32'));
      return tf.squeeze(tf.slice(l, [0, ids.length - 1, 0], [1, 1, -1]));
    });
    const next = (await tf.argMax(logits).data())[0];
    logits.dispose();
    out.push(next);
    ids.push(next);
    if (stops.has(next)) break;
  }
  policy.dispose();
  return out;
}

beforeAll(async () => {
  await initBackend((process.env.FALIGN_BACKEND as 'wasm' | 'cpu' | undefined) ?? 'wasm');
  tmp = mkdtempSync(join(tmpdir(), 'falign-hf-cli-'));
  buildBenchCli('tokenize');
}, 300_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('falign generate --model hf:DIR --chat', () => {
  it.each([
    ['qwen2', undefined],
    ['llama', 'Be brief.'],
  ] as const)('%s: prompt rendered by the chat template, greedy continuation as a plain forward loop', async (name, system) => {
    const dir = join(FIX, name);
    const args = ['generate', '--model', `hf:${dir}`, '--chat', '--prompt', 'hello there', '--max-new-tokens', '6', '--temperature', '0', '--json'];
    const r = falign(system ? [...args, '--system', system] : args);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    const tok = await HfTokenizer.load(dir);
    const messages = [...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content: 'hello there' }];
    expect(out.promptTokenIds).toEqual(tok.encodeChat(messages));
    const rendered = tok.decode(out.promptTokenIds, { skipSpecialTokens: false });
    if (name === 'qwen2') {
      // Byte-level BPE decodes back to exactly the rendered template.
      expect(rendered).toBe(tok.applyChatTemplate(messages));
      expect(rendered.endsWith('<|im_start|>assistant\n')).toBe(true);
    } else {
      expect(tok.applyChatTemplate(messages)).toBe('<|system|>\nBe brief.</s>\n<|user|>\nhello there</s>\n<|assistant|>\n');
      // The template's eos_token strings become the special id 2, not text.
      expect(out.promptTokenIds.filter((id: number) => id === 2).length).toBe(2);
    }
    const want = await greedyByForward(dir, out.promptTokenIds, 6, new Set(tok.eosIds));
    expect(out.tokenIds).toEqual(want);
  });

  it('a model without a chat template is refused with a clear error', () => {
    const r = falign(['generate', '--model', `hf:${join(FIX, 'gpt2')}`, '--chat', '--prompt', 'hi', '--max-new-tokens', '2']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--chat: the model's tokenizer \(hf\) has no chat template/);
  });
});

describe('falign tokenize', () => {
  it('{id, text} → {id, ids, tokens} with default specials, and --no-special-tokens', () => {
    const inp = join(tmp, 'texts.jsonl');
    writeFileSync(inp, `${JSON.stringify({ id: 'a', text: 'the cat sat' })}\n${JSON.stringify({ id: 7, text: 'Hi!' })}\n`);
    const dir = join(FIX, 'llama');
    const out = join(tmp, 'ids.jsonl');
    let r = falign(['tokenize', '--model', `hf:${dir}`, '--in', inp, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    const rows = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((x) => x.id)).toEqual(['a', 7]);
    expect(rows[0].ids[0]).toBe(1); // <s>, added by the SentencePiece-style post-processor
    expect(rows[0].tokens[0]).toBe('<s>');
    expect(rows[1].tokens).toContain('<0x48>'); // "H" is not in the tiny vocabulary: byte fallback
    r = falign(['tokenize', '--model', `hf:${dir}`, '--in', inp, '--out', out, '--no-special-tokens']);
    expect(r.status, r.stderr).toBe(0);
    const bare = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(bare[0].ids).toEqual(rows[0].ids.slice(1));
  });

  it('--chat renders {messages} lines; bad lines name the file and line', () => {
    const inp = join(tmp, 'chats.jsonl');
    writeFileSync(inp, `${JSON.stringify({ id: 1, messages: [{ role: 'user', content: 'hi' }] })}\n`);
    const r = falign(['tokenize', '--model', `hf:${join(FIX, 'qwen2')}`, '--chat', '--in', inp]);
    expect(r.status, r.stderr).toBe(0);
    const row = JSON.parse(r.stdout.trim());
    expect(row.text).toBe('<|im_start|>system\nYou are a tiny test model.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
    expect(row.tokens[0]).toBe('<|im_start|>');
    const bad = join(tmp, 'bad.jsonl');
    writeFileSync(bad, `${JSON.stringify({ id: 1, text: 'ok' })}\n${JSON.stringify({ id: 2, txt: 'typo' })}\n`);
    const e = falign(['tokenize', '--model', `hf:${join(FIX, 'qwen2')}`, '--in', bad]);
    expect(e.status).not.toBe(0);
    expect(e.stderr).toContain(`${bad}:2: "text" must be a string`);
  });

  it('reads only the tokenizer of a real HF folder (no weights there) and matches the reference ids', () => {
    const base = join(modelsDir, 'hf', 'refs', 'llama.cpp', 'ggml-vocab-qwen2.gguf');
    const texts = readFileSync(`${base}.inp`, 'utf8').split('\n__ggml_vocab_test__\n').slice(0, -1);
    const want = readFileSync(`${base}.out`, 'utf8').split('\n');
    const inp = join(tmp, 'refs.jsonl');
    writeFileSync(inp, texts.map((text, id) => JSON.stringify({ id, text })).join('\n') + '\n');
    const r = falign(['tokenize', '--model', `hf:${join(modelsDir, 'hf', 'qwen2.5-0.5b-instruct')}`, '--in', inp]);
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.length).toBe(texts.length);
    rows.forEach((row, i) => expect(row.ids.join(' ')).toBe(want[i].trim()));
  });
});

describe('hf: specs in the harness', () => {
  it('loadEvalModel opens hf:DIR and exposes its chat template to chat-formatted tasks', async () => {
    const m = await loadEvalModel(`hf:${join(FIX, 'qwen2')}`, { backend: 'wasm' });
    const info = m.info();
    expect(info.format).toBe('hf');
    expect(info.chat_template).toContain('<|im_start|>');
    expect(info.chat_template_specials).toEqual({ eos_token: '<|im_end|>' });
    const [[res]] = await m.generate([{ prompt: 'the cat', maxTokens: 3, temperature: 0 }]);
    expect(res.completionTokens).toBeGreaterThan(0);
    await m.close();
  });
});

describe('serve /v1/chat/completions with an hf: model', () => {
  it("renders the model's own chat template (as `falign serve` does without --chat-template)", async () => {
    const dir = join(FIX, 'qwen2');
    const policy = await loadPolicy(`hf:${dir}`, { trainable: false });
    const chatTemplate = tokenizerChatTemplate(policy.tokenizer);
    expect(chatTemplate?.name).toBe('tokenizer_config.json');
    const server = await startServer({ policy, modelId: 'tiny-qwen2', chatTemplate });
    try {
      const messages = [{ role: 'user', content: 'hello there' }];
      const res = await fetch(`${server.url}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'tiny-qwen2', messages, max_tokens: 4, temperature: 0 }),
      });
      expect(res.status).toBe(200);
      const body = await res.json();
      const tok = policy.tokenizer as HfTokenizer;
      expect(body.usage.prompt_tokens).toBe(tok.encodeChat(messages).length);
      const want = await greedyByForward(dir, tok.encodeChat(messages), 4, new Set(tok.eosIds));
      const stopped = tok.eosIds.includes(want[want.length - 1]);
      expect(body.choices[0].finish_reason).toBe(stopped ? 'stop' : 'length');
      expect(body.choices[0].message.content).toBe(tok.decode(stopped ? want.slice(0, -1) : want));
    } finally {
      await server.close();
      policy.dispose();
    }
  });
});
