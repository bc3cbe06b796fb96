/**
 * Reading and validating config files, and expanding an experiment grid into pipelines.
 * Errors name the file and the field path: `math-quick.json: methods[2].stage.divergence: …`.
 */
import { readFileSync, existsSync } from 'node:fs';
import type { z } from 'zod';
import { parseJsonText } from '../../util/errors.js';
import {
  experimentSchema,
  pipelineSchema,
  stageSchema,
  grpoStageSchema,
  fgrpoStageSchema,
  fhalStageSchema,
  fdoStageSchema,
  dpoStageSchema,
  sftStageSchema,
  type ExperimentConfig,
  type PipelineConfig,
  type StageConfig,
  type MethodConfig,
} from './schema.js';
import { resolveModelSpec } from './pretrained.js';
import { safetyPromptSource } from '../tasks/safety-task.js';

/** Raised for an invalid config; `issues` holds one `path: message` line per problem. */
export class ConfigError extends Error {
  constructor(
    readonly where: string,
    readonly issues: string[],
  ) {
    super(`${where}: invalid config\n  ${issues.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** `a.b[2].c` from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number') out += `[${k}]`;
    else out += out === '' ? String(k) : `.${String(k)}`;
  }
  return out === '' ? '(root)' : out;
}

function issueLines(error: z.ZodError, prefix: readonly PropertyKey[] = []): string[] {
  return error.issues.map((iss) => {
    const path = formatPath([...prefix, ...iss.path]);
    let msg = iss.message;
    if (iss.code === 'invalid_value' && 'values' in iss && Array.isArray(iss.values)) {
      msg = `expected one of ${iss.values.map((v) => String(v)).join(', ')}`;
    } else if (iss.code === 'unrecognized_keys' && 'keys' in iss) {
      msg = `unknown field(s) ${(iss.keys as string[]).map((k) => `"${k}"`).join(', ')}`;
    } else if (iss.code === 'invalid_union' && path.endsWith('(root)') === false && /discriminator/i.test(iss.message)) {
      msg = iss.message;
    }
    return `${path}: ${msg}`;
  });
}

/** Validates `value` with `schema`; throws a {@link ConfigError} naming every bad field. */
export function validate<S extends z.ZodType>(schema: S, value: unknown, where: string, prefix: readonly PropertyKey[] = []): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ConfigError(where, issueLines(r.error, prefix));
  return r.data;
}

/** Reads a JSON file; errors name the file (and the position of a syntax error). */
export function readJsonFile(file: string): unknown {
  if (!existsSync(file)) throw new Error(`${file}: no such file`);
  // Syntax errors name file:line:column (the error policy of util/errors.ts).
  return parseJsonText(readFileSync(file, 'utf8'), file);
}

/** Loads and validates a pipeline config (`falign run`). */
export function loadPipelineConfig(file: string): PipelineConfig {
  return withResolvedSource(withResolvedModel(validate(pipelineSchema, readJsonFile(file), file), file));
}

/**
 * A safety config's `"source": "auto"` replaced by the source found now (datasets or templates),
 * so that store keys, run hashes, the run's config.json and the report name the prompts actually
 * used: the two sources give different experiments, and a cached artefact of one must never be
 * reused for the other.
 */
export function withResolvedSource<T extends PipelineConfig | ExperimentConfig>(cfg: T): T {
  if (cfg.task !== 'safety' || cfg.data.source !== 'auto') return cfg;
  return { ...cfg, data: { ...cfg.data, source: safetyPromptSource(cfg.data) } };
}

/** A pretrained `model.spec` resolved against the config's folder and checked to exist. */
function withResolvedModel<T extends { model: object }>(cfg: T, file: string): T {
  const r = resolveModelSpec(cfg, file);
  if (r.issues.length > 0) throw new ConfigError(file, r.issues);
  return r.cfg;
}

/** Loads and validates an experiment config (`falign reproduce`). */
export function loadExperimentConfig(file: string): ExperimentConfig {
  const exp = withResolvedSource(withResolvedModel(validate(experimentSchema, readJsonFile(file), file), file));
  // Expanding validates every method's stage; do it now so a bad file fails before any training.
  expandExperiment(exp, file);
  return exp;
}

const STAGE_SCHEMAS = {
  grpo: grpoStageSchema,
  fgrpo: fgrpoStageSchema,
  fhal: fhalStageSchema,
  fdo: fdoStageSchema,
  dpo: dpoStageSchema,
  sft: sftStageSchema,
} as const;

function stageKeys(algorithm: keyof typeof STAGE_SCHEMAS): Set<string> {
  return new Set(Object.keys(STAGE_SCHEMAS[algorithm].shape));
}

/** Directory-safe id of a method: its `id`, else its name lower-cased with runs of other characters as `-`. */
export function methodId(m: Pick<MethodConfig, 'name' | 'id'>): string {
  if (m.id) return m.id;
  const id = m.name
    .toLowerCase()
    .replace(/λ/g, 'lambda')
    .replace(/[^a-z0-9.]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return id || 'method';
}

/**
 * The stage of one method: the shared `training` fields the method's algorithm knows, overridden
 * by the method's own `stage` fields. Errors point at `methods[i].stage.X` or `training.X`.
 */
export function methodStage(exp: Pick<ExperimentConfig, 'training' | 'methods'>, index: number, where: string): StageConfig {
  const m = exp.methods[index];
  const algorithm = (m.stage.algorithm ?? exp.training.algorithm) as unknown;
  if (typeof algorithm !== 'string' || !(algorithm in STAGE_SCHEMAS)) {
    throw new ConfigError(where, [`methods[${index}].stage.algorithm: expected one of ${Object.keys(STAGE_SCHEMAS).join(', ')}`]);
  }
  const known = stageKeys(algorithm as keyof typeof STAGE_SCHEMAS);
  const merged: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(exp.training)) if (known.has(k)) merged[k] = v;
  Object.assign(merged, m.stage);
  const r = stageSchema.safeParse(merged);
  if (r.success) return r.data;
  const lines = r.error.issues.map((iss) => {
    const key = iss.path[0];
    const fromMethod = typeof key === 'string' ? key in m.stage : iss.code === 'unrecognized_keys';
    const prefix: PropertyKey[] = fromMethod ? ['methods', index, 'stage'] : key === undefined ? ['methods', index, 'stage'] : ['training'];
    return issueLines({ issues: [iss] } as unknown as z.ZodError, prefix)[0];
  });
  throw new ConfigError(where, lines);
}

/** One cell of an experiment grid. */
export interface GridRun {
  methodIndex: number;
  methodName: string;
  methodId: string;
  seed: number;
  pipeline: PipelineConfig;
}

/** Expands an experiment into one pipeline per (method, seed), methods outermost. */
export function expandExperiment(exp: ExperimentConfig, where = exp.name): GridRun[] {
  const ids = new Set<string>();
  const runs: GridRun[] = [];
  exp.methods.forEach((m, i) => {
    const id = methodId(m);
    if (ids.has(id)) throw new ConfigError(where, [`methods[${i}]: method id "${id}" repeats an earlier method (set "id")`]);
    ids.add(id);
    const stage = methodStage(exp, i, where);
    for (const seed of exp.seeds) {
      const common = {
        name: `${exp.name}-${id}-seed-${seed}`,
        backend: exp.backend,
        seed,
        model: exp.model,
        sft: exp.sft,
        stages: [stage],
        eval: exp.eval,
        ...(exp.lora ? { lora: exp.lora } : {}),
      };
      const pipeline: PipelineConfig =
        exp.task === 'math' ? { ...common, task: 'math', data: exp.data } : { ...common, task: 'safety', data: exp.data, rewardModel: exp.rewardModel };
      runs.push({ methodIndex: i, methodName: m.name, methodId: id, seed, pipeline });
    }
  });
  return runs;
}
