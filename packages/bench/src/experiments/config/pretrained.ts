/**
 * A pretrained policy as the model of a pipeline or experiment config:
 *
 * ```json
 * "model": { "spec": "hf:../models/Qwen2.5-0.5B-Instruct", "maxSeqLen": 512 }
 * ```
 *
 * instead of the small decoder's dimensions. The pipeline then starts from those weights (SFT is
 * optional) and uses the model's own tokenizer throughout. Relative paths are resolved against
 * the config file's folder. This module holds only the schema and the config-time checks (it
 * imports nothing but zod and node built-ins, so config/schema.ts can import it).
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';

/** The schemes a pretrained `model.spec` may use (the in-process ones of `loadPolicy`). */
export const PRETRAINED_SCHEMES = ['hf', 'falign', 'llama2c'] as const;

const SPEC = /^(hf|falign|llama2c):(.+)$/s;

/** `model: { spec, maxSeqLen? }` of a config. */
export const pretrainedModelSchema = z
  .object({
    /** `hf:DIR` (Hugging Face checkpoint folder), `falign:DIR` (falign checkpoint) or `llama2c:PATH.bin`. */
    spec: z.string().regex(SPEC, 'expected "hf:DIR", "falign:DIR" or "llama2c:PATH.bin"'),
    /** Cap on the context length of an hf: model (RoPE tables are sized by it); default config.json's. */
    maxSeqLen: z.number().int().positive().optional(),
  })
  .strict();
export type PretrainedModelConfig = z.infer<typeof pretrainedModelSchema>;

/** Whether a config's `model` names a pretrained policy (rather than a decoder to train from scratch). */
export function isPretrainedModel<M extends object>(model: M | PretrainedModelConfig): model is PretrainedModelConfig {
  return 'spec' in model && typeof (model as { spec?: unknown }).spec === 'string';
}

/**
 * Cross-field check of a pipeline/experiment: a decoder trained from scratch needs its `sft`
 * block; a pretrained one may leave it out (then the pretrained weights are the base).
 */
export function requireSftForScratch(cfg: { model: object; sft?: unknown }, ctx: z.RefinementCtx): void {
  if (!isPretrainedModel(cfg.model) && cfg.sft === undefined) {
    ctx.addIssue({ code: 'custom', path: ['sft'], message: 'required when "model" gives decoder dimensions (only a pretrained {"spec": ...} model may leave it out)' });
  }
}

/**
 * Resolves a pretrained `model.spec` path against the folder of `configFile` and checks that it
 * exists. Returns the config with the absolute spec, and `model.spec: …` issue lines.
 */
export function resolveModelSpec<T extends { model: object }>(cfg: T, configFile: string): { cfg: T; issues: string[] } {
  const model = cfg.model as PretrainedModelConfig | object;
  if (!isPretrainedModel(model)) return { cfg, issues: [] };
  const m = SPEC.exec(model.spec);
  if (!m) return { cfg, issues: [`model.spec: expected "hf:DIR", "falign:DIR" or "llama2c:PATH.bin", got ${JSON.stringify(model.spec)}`] };
  const [, scheme, rest] = m;
  const path = isAbsolute(rest) ? rest : resolve(dirname(resolve(configFile)), rest);
  const issues: string[] = [];
  const isDir = existsSync(path) && statSync(path).isDirectory();
  if (!existsSync(path)) issues.push(`model.spec: ${path}: no such file or directory (relative paths are resolved against the config file's folder)`);
  else if (scheme === 'llama2c' && isDir) issues.push(`model.spec: ${path}: llama2c: needs a .bin file, not a folder`);
  else if (scheme !== 'llama2c' && !isDir) issues.push(`model.spec: ${path}: ${scheme}: needs a checkpoint folder`);
  else if (scheme === 'hf' && !existsSync(join(path, 'config.json'))) issues.push(`model.spec: ${path}: not a Hugging Face checkpoint folder (no config.json)`);
  else if (scheme === 'falign' && !existsSync(join(path, 'config.json')) && !existsSync(join(path, 'model.safetensors'))) {
    issues.push(`model.spec: ${path}: not a falign checkpoint folder`);
  }
  return { cfg: { ...cfg, model: { ...model, spec: `${scheme}:${path}` } }, issues };
}
