import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecoderLM, LoraAdapter, loadLoraAdapter, loadPolicy, readSafetensors, tf, tokenLogprobs, type ScoreBatch } from '@falign/core';
import { falignStdout as cli } from './helpers-cli.js';
import { demonstrationNll, trainSft } from '../src/experiments/sft.js';
import { runStage } from '../src/experiments/stages.js';
import { taskTokenizer } from '../src/experiments/tokenizer.js';
import { loadServablePolicy } from '../src/server/load-policy.js';
import { runGenerate } from '../src/cli/commands/generate.js';

function logps(model: DecoderLM, batch: ScoreBatch): number[] {
  const s = tokenLogprobs(model, batch);
  const v = Array.from(s.logp.dataSync());
  tf.dispose([s.logp, s.mask]);
  return v;
}

describe('LoRA through falign train --config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'falign-lora-run-'));
  process.env.FALIGN_CACHE_DIR = join(dir, 'cache');
  process.env.FALIGN_QUIET = '1';

  it('trains an f-GRPO stage with LoRA, saves the PEFT adapter, and base + reloaded adapter = the saved policy', async () => {
    const cfg = {
      name: 'micro-lora',
      // Safety: its learned reward model gives every group a non-zero advantage to learn from.
      task: 'safety',
      seed: 1,
      backend: 'cpu',
      model: { arch: 'llama', dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 128 },
      data: { source: 'templates', testPerLabel: 2, trainPerLabel: 4, sftDemosPerLabel: 3 },
      rewardModel: { model: { arch: 'llama', dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 128 }, steps: 2, batchSize: 4, lr: 0.003 },
      sft: { steps: 2, batchSize: 4, lr: 0.003, warmupSteps: 1 },
      stages: [{ algorithm: 'fgrpo', divergence: 'pearson', steps: 2, lr: 0.05, promptsPerStep: 2, groupSize: 2, maxNewTokens: 6 }],
      eval: { maxNewTokens: 6 },
      lora: { r: 4, alpha: 8, targetModules: ['q_proj', 'v_proj', 'down_proj'] },
    };
    const file = join(dir, 'lora.json');
    writeFileSync(file, JSON.stringify(cfg));
    const out = join(dir, 'out');
    const json = JSON.parse(await cli(['train', '--config', file, '--out', out, '--json']));
    expect(json.adapter).toBe(join(out, 'adapter'));
    const peft = JSON.parse(readFileSync(join(out, 'adapter', 'adapter_config.json'), 'utf8'));
    expect(peft).toMatchObject({ peft_type: 'LORA', r: 4, lora_alpha: 8, lora_dropout: 0, target_modules: ['q_proj', 'v_proj', 'down_proj'], fan_in_fan_out: false });
    const st = await readSafetensors(join(out, 'adapter', 'adapter_model.safetensors'));
    expect(Object.keys(st.tensors).sort()).toEqual(
      ['self_attn.q_proj', 'self_attn.v_proj', 'mlp.down_proj'].flatMap((m) => ['A', 'B'].map((f) => `base_model.model.model.layers.0.${m}.lora_${f}.weight`)).sort(),
    );
    // Training moved B away from its zero initialisation.
    expect(Array.from(st.tensors['base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight'].data).some((x) => x !== 0)).toBe(true);

    // Reload: the base named in adapter_config.json + the adapter, frozen.
    const base = await loadPolicy(peft.base_model_name_or_path, { trainable: false });
    const batch: ScoreBatch = { promptTokenIds: [[1, 5, 9, 12], [1, 7]], completionTokenIds: [[20, 21, 22], [23, 24, 25, 26]] };
    const baseLogp = logps(base.model, batch);
    const adapter = await loadLoraAdapter(join(out, 'adapter'), base.model, { trainable: false });
    const adapted = logps(base.model, batch);
    // Saved → reloaded → saved again is bit-identical, and reloading twice scores identically.
    const again = new DecoderLM(base.model.config, { trainable: false });
    const w = base.model.getWeights();
    again.setWeights(w);
    tf.dispose(Object.values(w));
    const second = await loadLoraAdapter(join(out, 'adapter'), again, { trainable: false });
    expect(logps(again, batch)).toEqual(adapted);
    // The saved policy (checkpoints/final) is the merged adapter: same log-probs up to rounding.
    const merged = await loadPolicy(`falign:${json.checkpoint}`, { trainable: false });
    const mergedLogp = logps(merged.model, batch);
    for (let i = 0; i < adapted.length; i++) expect(Math.abs(mergedLogp[i] - adapted[i])).toBeLessThan(1e-4);
    expect(adapted).not.toEqual(baseLogp);
    second.dispose();
    again.dispose();
    adapter.dispose();
    merged.dispose();
    base.dispose();

    // serve/generate path: base + adapter generates what the merged policy generates (greedy).
    const served = await loadServablePolicy(peft.base_model_name_or_path, { adapter: join(out, 'adapter'), backend: 'cpu' });
    const mergedAgain = await loadPolicy(`falign:${json.checkpoint}`, { trainable: false });
    const prompts = [[1, 5, 9], [1, 7, 3, 4]];
    const a = await served.generate(prompts, { maxNewTokens: 8, temperature: 0 });
    const b = await mergedAgain.generate(prompts, { maxNewTokens: 8, temperature: 0 });
    expect(a.map((c) => c.tokenIds)).toEqual(b.map((c) => c.tokenIds));
    served.dispose?.();
    mergedAgain.dispose();
    const gen = (o: { model: string; adapter?: string }) => runGenerate({ ...o, prompt: 'How do I', maxNewTokens: 8, temperature: 0, numSamples: 1, backend: 'cpu' });
    expect((await gen({ model: peft.base_model_name_or_path, adapter: join(out, 'adapter') })).tokenIds).toEqual((await gen({ model: `falign:${json.checkpoint}` })).tokenIds);
    await expect(gen({ model: peft.base_model_name_or_path, adapter: join(dir, 'missing') })).rejects.toThrow(/--adapter .*missing.*adapter_config\.json: cannot read/);
    expect(existsSync(join(out, 'metrics.jsonl'))).toBe(true);
  });

  it('the sft stage with LoRA lowers the demonstration NLL and leaves the base untouched', async () => {
    const tokenizer = taskTokenizer();
    const model = new DecoderLM({ arch: 'gpt2', vocabSize: tokenizer.vocabSize, dModel: 16, nLayers: 1, nHeads: 2, maxSeqLen: 64 }, { seed: 3, trainable: false });
    const adapter = LoraAdapter.create(model, { r: 4, alpha: 16, targetModules: 'all-linear' });
    const demos = [
      { prompt: 'Q: 2+2?', response: ' 4' },
      { prompt: 'Q: 3+4?', response: ' 7' },
    ];
    const w0 = model.getWeights();
    const before = await demonstrationNll(model, tokenizer, demos);
    await trainSft(model, tokenizer, demos, { steps: 15, batchSize: 2, lr: 0.02, warmupSteps: 0, weightDecay: 0, maxGradNorm: 1, seed: 0 }, undefined, adapter);
    const afterBase = await demonstrationNll(model, tokenizer, demos);
    expect(afterBase).toBeLessThan(before - 0.1);
    // The continued-SFT stage of a pipeline trains the adapter the same way.
    const ms = await runStage(
      { algorithm: 'sft', steps: 10, lr: 0.02, warmupSteps: 0, weightDecay: 0, maxGradNorm: 1, batchSize: 2 },
      { model, tokenizer, reference: adapter.reference(), adapter, prompts: [], rewards: [], pairs: demos.map((d) => ({ prompt: d.prompt, chosen: d.response, rejected: ' 0' })), runDir: '', seed: 1 },
    );
    expect(ms).toHaveLength(10);
    expect(await demonstrationNll(model, tokenizer, demos)).toBeLessThan(afterBase);
    const w1 = model.getWeights();
    for (const k of Object.keys(w0)) expect(Array.from(w1[k].dataSync()), k).toEqual(Array.from(w0[k].dataSync()));
    tf.dispose([...Object.values(w0), ...Object.values(w1)]);
    adapter.dispose();
    model.dispose();
  });
});
