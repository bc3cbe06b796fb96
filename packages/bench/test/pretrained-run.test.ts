/**
 * Pipelines on a pretrained `hf:DIR` base (`"model": { "spec": "hf:…" }`): `falign train --config`
 * with f-GRPO on the tiny HF-layout Llama fixture, with and without LoRA; the saved policy is in
 * Hugging Face layout and loads back with `loadPolicy('hf:…')` into exactly the trained policy.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { DecoderLM, LoraAdapter, initBackend, loadLoraAdapter, loadPolicy, tf, tokenLogprobs, type ScoreBatch } from '@falign/core';
import { falignStdout as cli } from './helpers-cli.js';
import { ConfigError, loadPipelineConfig } from '../src/experiments/config/load.js';
import type { MathPipelineConfig } from '../src/experiments/config/schema.js';
import { evaluateMath, type MathSampleRecord } from '../src/experiments/eval/math-eval.js';
import { chunkedNll, savePolicy, toTaskAlphabet } from '../src/experiments/pretrained-base.js';
import { demonstrationNll } from '../src/experiments/sft.js';
import { TASK_ALPHABET, taskTokenizer } from '../src/experiments/tokenizer.js';
import fc from 'fast-check';
import { runStage } from '../src/experiments/stages.js';
import { buildMathTask } from '../src/experiments/tasks/math-task.js';

const LLAMA = resolve(__dirname, '../../core/test/fixtures/hf/llama');

function logps(model: DecoderLM, batch: ScoreBatch): number[] {
  const s = tokenLogprobs(model, batch);
  const v = Array.from(s.logp.dataSync());
  tf.dispose([s.logp, s.mask]);
  return v;
}

const dir = mkdtempSync(join(tmpdir(), 'falign-pretrained-run-'));
process.env.FALIGN_CACHE_DIR = join(dir, 'cache');
process.env.FALIGN_QUIET = '1';

/** A math pipeline on the Llama fixture; the spec is relative to the config's folder. */
function config(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const tiers = { t1: 1, t2: 1, t3: 1, distractor: 1 };
  return {
    name,
    task: 'math',
    seed: 3,
    backend: 'cpu',
    model: { spec: `hf:${relative(join(dir, 'configs'), LLAMA)}`, maxSeqLen: 96 },
    data: { testPerTier: 1, valPerTier: 1, sftDemosPerTier: tiers, rlPromptsPerTier: { t1: 2, t2: 2, t3: 2, distractor: 2 } },
    // The random model never solves a problem (every group's reward is 0, no advantage): the
    // random-reward control gives groups a spread to learn from, so 2 steps move the weights.
    stages: [{ algorithm: 'fgrpo', divergence: 'pearson', steps: 2, lr: 0.05, promptsPerStep: 2, groupSize: 2, maxNewTokens: 6, randomReward: 0.5 }],
    eval: { maxNewTokens: 6 },
    ...extra,
  };
}

function writeConfig(name: string, value: unknown): string {
  mkdirSync(join(dir, 'configs'), { recursive: true });
  const f = join(dir, 'configs', `${name}.json`);
  writeFileSync(f, JSON.stringify(value));
  return f;
}

function configError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

/** The final greedy records of a run, and the same evaluation of the reloaded checkpoint. */
async function reEvaluate(cfgFile: string, runDir: string, spec: string): Promise<{ saved: MathSampleRecord[]; again: MathSampleRecord[] }> {
  const cfg = loadPipelineConfig(cfgFile) as MathPipelineConfig;
  const saved = readFileSync(join(runDir, 'eval', 'math', 'samples.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as MathSampleRecord);
  const policy = await loadPolicy(spec, { trainable: false, maxSeqLen: 96 });
  try {
    const r = await evaluateMath(policy.model, policy.tokenizer, buildMathTask(cfg.data).test, { maxNewTokens: cfg.eval.maxNewTokens, samples: 0, temperature: 1, seed: cfg.seed });
    return { saved, again: r.records };
  } finally {
    policy.dispose();
  }
}

describe('pretrained hf: base in pipeline configs', () => {
  it('config: relative spec resolved against the config folder; sft optional; errors name model.spec / sft', () => {
    const cfg = loadPipelineConfig(writeConfig('ok', config('ok')));
    expect(cfg.model).toEqual({ spec: `hf:${LLAMA}`, maxSeqLen: 96 });
    expect(cfg.sft).toBeUndefined();

    const bad = configError(() => loadPipelineConfig(writeConfig('bad-scheme', config('x', { model: { spec: 'openai:http://x#m' } }))));
    expect(bad.issues).toEqual([expect.stringMatching(/^model\.spec: expected "hf:DIR", "falign:DIR" or "llama2c:PATH\.bin"/)]);
    const missing = configError(() => loadPipelineConfig(writeConfig('missing', config('x', { model: { spec: 'hf:no/such/dir' } }))));
    expect(missing.issues).toEqual([`model.spec: ${join(dir, 'configs', 'no/such/dir')}: no such file or directory (relative paths are resolved against the config file's folder)`]);
    const notHf = configError(() => loadPipelineConfig(writeConfig('not-hf', config('x', { model: { spec: `hf:${dir}` } }))));
    expect(notHf.issues).toEqual([`model.spec: ${dir}: not a Hugging Face checkpoint folder (no config.json)`]);
    const extra = configError(() => loadPipelineConfig(writeConfig('extra', config('x', { model: { spec: `hf:${LLAMA}`, dModel: 16 } }))));
    expect(extra.issues.join('\n')).toMatch(/^model/);
    const neither = configError(() => loadPipelineConfig(writeConfig('neither', config('x', { model: { maxSeqLen: 64 } }))));
    expect(neither.issues).toEqual([expect.stringMatching(/^model: expected decoder dimensions .* or a pretrained model \{ "spec": "hf:DIR" \}/)]);
    // "model": "hf:DIR" is short for { "spec": "hf:DIR" }.
    expect(loadPipelineConfig(writeConfig('short', config('x', { model: `hf:${LLAMA}` }))).model).toEqual({ spec: `hf:${LLAMA}` });
    // A from-scratch decoder still needs its SFT block.
    const noSft = configError(() => loadPipelineConfig(writeConfig('no-sft', config('x', { model: { dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 64 } }))));
    expect(noSft.issues).toEqual([expect.stringMatching(/^sft: required when "model" gives decoder dimensions/)]);
  });

  it('falign train --config: SFT + f-GRPO on hf:llama saves an hf: checkpoint that evaluates exactly like the trained policy', async () => {
    // Full-weight SFT from the pretrained weights, then f-GRPO.
    const file = writeConfig('full', config('hf-full', { sft: { steps: 2, batchSize: 2, lr: 0.01, warmupSteps: 0 } }));
    const out = join(dir, 'full');
    const json = JSON.parse(await cli(['train', '--config', file, '--out', out, '--json']));
    const ck = join(out, 'checkpoints', 'final');
    expect(json.policy).toBe(`hf:${ck}`);
    const hfConfig = JSON.parse(readFileSync(join(ck, 'config.json'), 'utf8'));
    expect(hfConfig).toMatchObject({ architectures: ['LlamaForCausalLM'], model_type: 'llama', vocab_size: 313, num_key_value_heads: 1, rope_scaling: { rope_type: 'llama3' } });
    // The fixture's tokenizer files travel with the checkpoint, byte for byte.
    expect(readFileSync(join(ck, 'tokenizer.json'))).toEqual(readFileSync(join(LLAMA, 'tokenizer.json')));
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);

    // Training moved the weights away from the pretrained ones.
    const batch: ScoreBatch = { promptTokenIds: [[1, 40, 41, 42], [1, 50]], completionTokenIds: [[60, 61, 62], [70, 71, 72, 2]] };
    const base = await loadPolicy(`hf:${LLAMA}`, { trainable: false });
    const trained = await loadPolicy(json.policy, { trainable: false });
    expect(logps(trained.model, batch)).not.toEqual(logps(base.model, batch));
    base.dispose();
    trained.dispose();

    // The held-out evaluation of the run was done by the in-memory trained policy with the
    // fixture's BPE tokenizer; the reloaded checkpoint reproduces every greedy completion.
    const { saved, again } = await reEvaluate(file, out, json.policy);
    expect(saved.length).toBe(4);
    expect(again).toEqual(saved);
  });

  it('with a lora block: the PEFT adapter on the hf: base scores exactly like the merged hf: checkpoint', async () => {
    const file = writeConfig('lora', config('hf-lora', { lora: { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'down_proj'] } }));
    const out = join(dir, 'lora');
    const json = JSON.parse(await cli(['train', '--config', file, '--out', out, '--json']));
    expect(json.policy).toBe(`hf:${join(out, 'checkpoints', 'final')}`);
    const peft = JSON.parse(readFileSync(join(out, 'adapter', 'adapter_config.json'), 'utf8'));
    // No SFT block: the adapter's base is the pretrained folder itself.
    expect(peft.base_model_name_or_path).toBe(`hf:${LLAMA}`);
    const batch: ScoreBatch = { promptTokenIds: [[1, 40, 41, 42], [1, 50]], completionTokenIds: [[60, 61, 62], [70, 71, 72, 2]] };
    const base = await loadPolicy(peft.base_model_name_or_path, { trainable: false });
    const baseLogp = logps(base.model, batch);
    const adapter = await loadLoraAdapter(join(out, 'adapter'), base.model, { trainable: false });
    const adapted = logps(base.model, batch);
    const merged = await loadPolicy(json.policy, { trainable: false });
    const mergedLogp = logps(merged.model, batch);
    expect(adapted).not.toEqual(baseLogp);
    for (let i = 0; i < adapted.length; i++) expect(Math.abs(mergedLogp[i] - adapted[i])).toBeLessThan(1e-5);
    adapter.dispose();
    merged.dispose();
    base.dispose();
    const { saved, again } = await reEvaluate(file, out, json.policy);
    expect(again).toEqual(saved);
  });

  it('with an sft block (LoRA, merged): the cached base is an hf: folder the run starts from', async () => {
    const file = writeConfig('sft', config('hf-sft', { sft: { steps: 3, batchSize: 2, lr: 0.05, warmupSteps: 0 }, lora: { r: 2, alpha: 4, targetModules: 'all-linear' } }));
    const out = join(dir, 'sft');
    const json = JSON.parse(await cli(['train', '--config', file, '--out', out, '--json']));
    const peft = JSON.parse(readFileSync(join(out, 'adapter', 'adapter_config.json'), 'utf8'));
    const baseDir = String(peft.base_model_name_or_path).replace(/^hf:/, '');
    expect(peft.base_model_name_or_path).toMatch(/^hf:.*\/sft-base\/[0-9a-f]{16}\/model$/);
    expect(existsSync(join(baseDir, 'config.json')) && existsSync(join(baseDir, 'tokenizer.json'))).toBe(true);
    expect(readFileSync(join(baseDir, '..', 'sft-log.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);
    // SFT changed the pretrained weights.
    const batch: ScoreBatch = { promptTokenIds: [[1, 40, 41]], completionTokenIds: [[60, 61]] };
    const pre = await loadPolicy(`hf:${LLAMA}`, { trainable: false });
    const sftBase = await loadPolicy(peft.base_model_name_or_path, { trainable: false });
    expect(logps(sftBase.model, batch)).not.toEqual(logps(pre.model, batch));
    pre.dispose();
    sftBase.dispose();
    const { saved, again } = await reEvaluate(file, out, json.policy);
    expect(again).toEqual(saved);
  });

  it('savePolicy of an in-memory trained hf: policy reloads with identical log-probs, without leaking tensors', async () => {
    await initBackend('cpu');
    const policy = await loadPolicy(`hf:${LLAMA}`, { maxSeqLen: 64 });
    const reference = policy.model.clone({ trainable: false });
    const batch: ScoreBatch = { promptTokenIds: [[1, 40, 41, 42], [1, 50]], completionTokenIds: [[60, 61, 62], [70, 71, 72, 2]] };
    const before = logps(policy.model, batch);
    const pairs = [
      { prompt: 'What is 2+3?', chosen: ' 5', rejected: ' 7' },
      { prompt: 'What is 4+4?', chosen: ' 8', rejected: ' 9' },
    ];
    const run = () => runStage({ algorithm: 'dpo', steps: 1, lr: 0.05, warmupSteps: 0, weightDecay: 0, maxGradNorm: 1, beta: 0.1, batchSize: 2 }, { model: policy.model, tokenizer: policy.tokenizer, reference, prompts: [], rewards: [], pairs, runDir: '', seed: 1 });
    await run();
    const n = tf.memory().numTensors;
    await run();
    expect(tf.memory().numTensors).toBe(n);
    const trained = logps(policy.model, batch);
    expect(trained).not.toEqual(before);
    const spec = await savePolicy(join(dir, 'saved'), { model: policy.model, tokenizer: policy.tokenizer, baseSpec: `hf:${LLAMA}`, meta: { kind: 'test' } });
    expect(spec).toBe(`hf:${join(dir, 'saved')}`);
    const back = await loadPolicy(spec, { trainable: false, maxSeqLen: 64 });
    expect(logps(back.model, batch)).toEqual(trained);
    expect(back.tokenizer.encode('What is 2+3?')).toEqual(policy.tokenizer.encode('What is 2+3?'));
    back.dispose();
    reference.dispose();
    policy.dispose();
    // A LoRA adapter created on an hf: base targets its HF module names.
    const again = await loadPolicy(`hf:${LLAMA}`, { trainable: false });
    const a = LoraAdapter.create(again.model, { r: 2, alpha: 4, targetModules: ['q_proj'] });
    expect(a.targets.map((t) => t.module)).toEqual(['model.layers.0.self_attn.q_proj', 'model.layers.1.self_attn.q_proj']);
    a.dispose();
    again.dispose();
  });
});

describe('chunkedNll', () => {
  it('equals the one-batch demonstration NLL for any chunk size', async () => {
    await initBackend('cpu');
    const p = await loadPolicy(`hf:${LLAMA}`, { trainable: false });
    const demos = ['1+1', '22-3', 'k=5; 7+8', 'abc', 'x'].map((q, i) => ({ prompt: `${q}\n`, response: `${'#'.repeat(i + 1)} ${i}` }));
    const whole = await demonstrationNll(p.model, p.tokenizer, demos);
    for (const chunk of [1, 2, 3, 5, 8]) expect(await chunkedNll(p.model, p.tokenizer, demos, chunk)).toBeCloseTo(whole, 5);
    p.dispose();
  });
});

describe('toTaskAlphabet (a pretrained policy\'s text for the char-tokenized reward model)', () => {
  it('keeps task text unchanged and maps any other code point to one "?"', () => {
    const tok = taskTokenizer();
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...TASK_ALPHABET)), (chars) => toTaskAlphabet(chars.join('')) === chars.join('')),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        const out = toTaskAlphabet(s);
        expect([...out]).toHaveLength([...s].length);
        tok.encode(out); // throws on a character outside the alphabet
      }),
    );
    expect(toTaskAlphabet('héllo\t😀\n')).toBe('h?llo??\n');
  });
});

describe('falign generate --help', () => {
  it('lists each option once (one --chat row; --system refers to it)', async () => {
    const help = await cli(['generate', '--help']);
    const rows = help.split('\n').filter((l) => /^ {2}-/.test(l)).map((l) => l.trim().split(/\s{2,}/)[0]);
    expect(new Set(rows).size).toBe(rows.length);
    expect(rows.filter((r) => r === '--chat')).toHaveLength(1);
    expect(rows).toContain('--system <text>');
  });
});
