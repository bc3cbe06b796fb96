/**
 * Pipelines whose `model` is a pretrained policy (`{ "spec": "hf:DIR" }`, see config/pretrained.ts)
 * instead of a decoder trained from scratch. The base cache entry then holds either
 *
 * - `base.json` `{ "spec": "hf:/abs/DIR" }` only: no `sft` block, the pretrained weights are the
 *   base (nothing is copied); or
 * - `base.json` `{ "local": "hf" }` + `model/`: the pretrained weights after the config's SFT,
 *   saved in Hugging Face layout (falign layout for falign:/llama2c: sources), so the cached base
 *   is itself `hf:`-loadable. With a `lora` block the SFT trains a LoRA adapter that is merged.
 *
 * Everything downstream (RL stages, reference, evaluation, checkpoints) uses the policy's own
 * tokenizer; the task's prompts and rewards are text, so they do not change. A run's saved policy
 * of an HF base is written in HF layout (config.json, model.safetensors, tokenizer files).
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import {
  HfTokenizer,
  LoraAdapter,
  loadCheckpoint,
  loadPolicy,
  mergeLora,
  saveCheckpoint,
  saveHfCheckpoint,
  tf,
  tokenLogprobs,
  type DecoderLM,
  type Tokenizer,
} from '@falign/core';
import type { PipelineConfig, ModelSpecConfig, SftConfig } from './config/schema.js';
import { isPretrainedModel, type PretrainedModelConfig } from './config/pretrained.js';
import type { CacheEntry } from './store.js';
import { encodeDemonstrations, trainSft, type SftExample } from './sft.js';
import { mathSftExamples, type MathTask } from './tasks/math-task.js';
import type { SafetyTask } from './tasks/safety-task.js';
import type { BaseInfo } from './steps/sft-base.js';
import { TASK_ALPHABET } from './tokenizer.js';
import { reportWork, sftStepUnits } from './work.js';

export { isPretrainedModel };

/** A pipeline with a pretrained model. */
export type PretrainedPipelineConfig = PipelineConfig & { model: PretrainedModelConfig };

/**
 * Narrows a pipeline to one with decoder dimensions and an `sft` block (the schema guarantees the
 * block whenever the model is not pretrained; this says so to the type checker and at run time).
 */
export function assertScratchModel(cfg: PipelineConfig): asserts cfg is PipelineConfig & { model: ModelSpecConfig; sft: SftConfig } {
  if (isPretrainedModel(cfg.model)) throw new Error(`${cfg.name}: model.spec: a pretrained model has no from-scratch base`);
  if (!cfg.sft) throw new Error(`${cfg.name}: sft: required when "model" gives decoder dimensions`);
}

/** What a pretrained base artefact records (`done.json` info): a base's, plus where it came from. */
export interface PretrainedBaseInfo extends BaseInfo {
  pretrained: string;
  sft: boolean;
}

/** What `base.json` of a pretrained base entry records. */
interface BaseRecord {
  /** The source spec when the pretrained weights are the base (no SFT). */
  spec?: string;
  /** The format of `<entry>/model` when the base was fine-tuned. */
  local?: 'hf' | 'falign';
  maxSeqLen?: number;
}

/**
 * Identity of the files behind a spec for the cache key: the content hash of small JSON files
 * (config, tokenizer) and size + mtime of the rest, so a changed checkpoint builds a new base
 * without hashing gigabytes of weights.
 */
export function specFingerprint(spec: string): Record<string, string> {
  const path = spec.slice(spec.indexOf(':') + 1);
  const files = statSync(path).isDirectory() ? readdirSync(path).map((f) => join(path, f)) : [path];
  const out: Record<string, string> = {};
  for (const f of files.sort()) {
    const st = statSync(f);
    if (!st.isFile()) continue;
    const name = f.slice(path.length + 1) || f;
    out[name] = f.endsWith('.json') && st.size < 64 << 20 ? createHash('sha256').update(readFileSync(f)).digest('hex').slice(0, 16) : `${st.size}@${st.mtimeMs}`;
  }
  return out;
}

/** Cache key of the base of a pretrained pipeline. */
export function pretrainedBaseKey(cfg: PretrainedPipelineConfig, backend: string, versions: Record<string, number>): unknown {
  const files = specFingerprint(cfg.model.spec);
  if (!cfg.sft) return { kind: 'pretrained-base', model: cfg.model, files, backend };
  // The RL prompt pool is drawn after the demonstrations and does not change them.
  const data = cfg.task === 'math' ? { ...cfg.data, rlPromptsPerTier: undefined } : cfg.data;
  return { kind: 'pretrained-sft-base', task: cfg.task, data, model: cfg.model, files, sft: cfg.sft, lora: cfg.lora ?? null, backend, versions };
}

function taskDemos(cfg: PipelineConfig, task: MathTask | SafetyTask): { examples: SftExample[]; heldOut: SftExample[] } {
  if (cfg.task === 'math') {
    const t = task as MathTask;
    const heldOut = Object.values(t.test)
      .flat()
      .slice(0, 64)
      .map((p) => ({ prompt: p.prompt, response: p.solution }));
    return { examples: mathSftExamples(t), heldOut };
  }
  return { examples: (task as SafetyTask).demos.map((d) => ({ prompt: d.prompt, response: d.response })), heldOut: [] };
}

/**
 * Mean NLL per response token of `demos`, scored a few at a time: one batch of 64 through a
 * pretrained model's full-vocabulary logits (150k entries per token for Qwen) would not fit.
 * Reads are awaited (webgpu in Node has no synchronous one).
 */
export async function chunkedNll(model: DecoderLM, tokenizer: Tokenizer, demos: readonly SftExample[], chunk = 4): Promise<number> {
  let nll = 0;
  let tokens = 0;
  for (let i = 0; i < demos.length; i += chunk) {
    const part = demos.slice(i, i + chunk);
    const sums = tf.tidy(() => {
      const { logp, mask } = tokenLogprobs(model, encodeDemonstrations(tokenizer, part));
      return tf.stack([tf.sum(logp), tf.sum(mask)]);
    });
    try {
      const [sum, count] = await sums.data();
      nll -= sum;
      tokens += count;
    } finally {
      sums.dispose();
    }
  }
  return nll / Math.max(1, tokens);
}

async function nllOrNull(model: DecoderLM, tokenizer: Tokenizer, demos: readonly SftExample[]): Promise<number | null> {
  return demos.length > 0 ? chunkedNll(model, tokenizer, demos) : null;
}

/**
 * Builds the base artefact of a pretrained pipeline into `dir` (see the module comment) and
 * returns its info: the fields of the SFT base's BaseInfo plus `pretrained` (the source spec) and
 * `sft` (whether it ran); without SFT, `firstLoss` = `lastLoss` = the pretrained model's NLL on
 * the demonstrations.
 */
export async function buildPretrainedBase(cfg: PretrainedPipelineConfig, dir: string, task: MathTask | SafetyTask, log: (msg: string) => void): Promise<PretrainedBaseInfo> {
  const { spec, maxSeqLen } = cfg.model;
  const { examples, heldOut } = taskDemos(cfg, task);
  const sft = cfg.sft;
  log(`base: ${spec}${sft ? `, SFT ${sft.steps} steps on ${examples.length} demonstrations${cfg.lora ? ' (LoRA, merged)' : ''}` : ' (no SFT)'}`);
  const t0 = Date.now();
  const policy = await loadPolicy(spec, { trainable: sft !== undefined && !cfg.lora, ...(maxSeqLen ? { maxSeqLen } : {}) });
  let model: DecoderLM = policy.model;
  const tokenizer = policy.tokenizer;
  try {
    const probe = examples.slice(0, 64);
    if (!sft) {
      const nll = probe.length > 0 ? await chunkedNll(model, tokenizer, probe) : 0;
      writeFileSync(join(dir, 'base.json'), `${JSON.stringify({ spec, ...(maxSeqLen ? { maxSeqLen } : {}) } satisfies BaseRecord)}\n`);
      return { steps: 0, firstLoss: nll, lastLoss: nll, heldOutNll: await nllOrNull(model, tokenizer, heldOut), seconds: (Date.now() - t0) / 1000, numParams: model.numParams(), demonstrations: 0, pretrained: spec, sft: false };
    }
    // LoRA: the base stays frozen while the adapter learns, then the adapter is merged in.
    const adapter = cfg.lora ? LoraAdapter.create(model, { ...cfg.lora, seed: sft.seed }) : undefined;
    let logs;
    try {
      logs = await trainSft(
        model,
        tokenizer,
        examples,
        sft,
        (l) => {
          reportWork(sftStepUnits(cfg));
          if (l.step % 50 === 0 || l.step === sft.steps - 1) log(`SFT step ${l.step + 1}/${sft.steps} loss ${l.loss.toFixed(3)}`);
        },
        adapter,
      );
      if (adapter) model = mergeLora(adapter);
    } finally {
      adapter?.dispose();
    }
    writeFileSync(join(dir, 'sft-log.jsonl'), logs.map((l) => JSON.stringify(l)).join('\n') + '\n');
    const local: BaseRecord['local'] = tokenizer instanceof HfTokenizer ? 'hf' : 'falign';
    if (local === 'hf') await saveHfCheckpoint(join(dir, 'model'), { model, tokenizer, ...(spec.startsWith('hf:') ? { sourceDir: spec.slice(3) } : {}) });
    else await saveCheckpoint(join(dir, 'model'), { model, tokenizer, meta: { kind: 'sft-base', task: cfg.task, pretrained: spec } });
    writeFileSync(join(dir, 'base.json'), `${JSON.stringify({ local, ...(maxSeqLen ? { maxSeqLen } : {}) } satisfies BaseRecord)}\n`);
    return {
      steps: logs.length,
      firstLoss: logs[0].loss,
      lastLoss: logs[logs.length - 1].loss,
      heldOutNll: await nllOrNull(model, tokenizer, heldOut),
      seconds: (Date.now() - t0) / 1000,
      numParams: model.numParams(),
      demonstrations: examples.length,
      pretrained: spec,
      sft: true,
    };
  } finally {
    model.dispose();
    if (model !== policy.model) policy.model.dispose();
  }
}

function baseRecord(entry: CacheEntry): BaseRecord | null {
  const f = join(entry.dir, 'base.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as BaseRecord) : null;
}

/** The model spec of a base entry: `falign:<entry>/model` for a from-scratch base, else the pretrained (or fine-tuned) policy. */
export function baseSpec(entry: CacheEntry): string {
  const rec = baseRecord(entry);
  if (!rec) return `falign:${join(entry.dir, 'model')}`;
  if (rec.spec) return rec.spec;
  return `${rec.local ?? 'falign'}:${join(entry.dir, 'model')}`;
}

/** Opens the base policy of an entry (from-scratch or pretrained) with its tokenizer. */
export async function openBase(entry: CacheEntry, opts: { trainable: boolean }): Promise<{ model: DecoderLM; tokenizer: Tokenizer; spec: string }> {
  const rec = baseRecord(entry);
  const spec = baseSpec(entry);
  if (!rec) {
    const ck = await loadCheckpoint(join(entry.dir, 'model'), { trainable: opts.trainable });
    return { model: ck.model, tokenizer: ck.tokenizer, spec };
  }
  const p = await loadPolicy(spec, { trainable: opts.trainable, ...(rec.maxSeqLen ? { maxSeqLen: rec.maxSeqLen } : {}) });
  return { model: p.model, tokenizer: p.tokenizer, spec };
}

/**
 * Saves a run's trained policy: Hugging Face layout when its tokenizer is an HF one (the base's
 * config fields and tokenizer files carried over from `baseSpec`), else a falign checkpoint.
 * Returns the spec that loads it back (`hf:DIR` or `falign:DIR`).
 */
export async function savePolicy(dir: string, input: { model: DecoderLM; tokenizer: Tokenizer; meta: Record<string, unknown>; baseSpec: string }): Promise<string> {
  if (input.tokenizer instanceof HfTokenizer) {
    const src = input.baseSpec.startsWith('hf:') ? input.baseSpec.slice(3) : undefined;
    await saveHfCheckpoint(dir, { model: input.model, tokenizer: input.tokenizer, ...(src ? { sourceDir: src } : {}) });
    // Run metadata beside the HF files (transformers ignores unknown files).
    writeFileSync(join(dir, 'falign_run.json'), `${JSON.stringify({ ...input.meta, base: input.baseSpec }, null, 2)}\n`);
    return `hf:${dir}`;
  }
  await saveCheckpoint(dir, { model: input.model, tokenizer: input.tokenizer, meta: input.meta });
  return `falign:${dir}`;
}

/** The report's sentence about a pretrained base (info as written by {@link buildPretrainedBase}). */
export function describePretrainedBase(
  model: PretrainedModelConfig,
  info: { numParams: number; steps: number; demonstrations: number; firstLoss: number; lastLoss: number; heldOutNll: number | null },
): string {
  const nll = info.heldOutNll !== null ? `, held-out NLL/token ${info.heldOutNll.toFixed(3)}` : '';
  const sft = info.steps > 0 ? `, SFT on ${info.demonstrations} demonstrations for ${info.steps} steps (loss ${info.firstLoss.toFixed(2)} → ${info.lastLoss.toFixed(2)}${nll})` : `, no SFT${nll}`;
  return `Base policy: pretrained ${model.spec} (${info.numParams.toLocaleString('en-US')} parameters)${sft}.`;
}

const TASK_CHARS = new Set(TASK_ALPHABET);

/**
 * `text` with every character outside the task alphabet replaced by "?": a pretrained policy's
 * completions may hold any Unicode, but the safety task's reward model reads the char tokenizer's
 * alphabet only. Text of a from-scratch policy is returned unchanged.
 */
export function toTaskAlphabet(text: string): string {
  let out = '';
  for (const ch of text) out += TASK_CHARS.has(ch) ? ch : '?';
  return out;
}
