/**
 * LoRA settings and their PEFT form (adapter_config.json). Pure functions: validation, the
 * scaling factor, and the translation to and from Hugging Face PEFT's LoraConfig fields.
 */

/** LoRA hyper-parameters (PEFT's LoraConfig, in falign's naming). */
export interface LoraConfig {
  /** Rank r of the update B·A (≥ 1). */
  r: number;
  /** α: the update is scaled by α / r (α / √r with `rsLora`). */
  alpha: number;
  /** Dropout on the adapter's input while gradients are recorded (training); default 0. */
  dropout?: number;
  /**
   * Modules that get an adapter, by PEFT name (`q_proj`, `k_proj`, `v_proj`, `o_proj`,
   * `gate_proj`, `up_proj`, `down_proj`; GPT-2 `c_attn`, `c_proj`, `c_fc`), by short name (`q`,
   * `k`, `v`, `o`, `gate`, `up`, `down`), or `'all-linear'` (every projection but the output head).
   */
  targetModules: readonly string[] | 'all-linear';
  /** Rank-stabilised scaling α / √r (PEFT `use_rslora`). Default false. */
  rsLora?: boolean;
  /** Seed of A's Kaiming-uniform initialisation and of the dropout masks (default 0). */
  seed?: number;
}

/** A validated {@link LoraConfig} with defaults filled in and target names in PEFT form. */
export interface ResolvedLoraConfig {
  r: number;
  alpha: number;
  dropout: number;
  targetModules: string[] | 'all-linear';
  rsLora: boolean;
  seed: number;
}

const SHORT: Record<string, string> = { q: 'q_proj', k: 'k_proj', v: 'v_proj', o: 'o_proj', gate: 'gate_proj', up: 'up_proj', down: 'down_proj' };

/** Validates `c` (errors name the field) and fills the defaults. */
export function resolveLoraConfig(c: LoraConfig, where = 'lora'): ResolvedLoraConfig {
  if (!Number.isInteger(c.r) || c.r < 1) throw new Error(`${where}.r must be a positive integer, got ${JSON.stringify(c.r)}`);
  if (typeof c.alpha !== 'number' || !Number.isFinite(c.alpha) || c.alpha <= 0) throw new Error(`${where}.alpha must be a number > 0, got ${JSON.stringify(c.alpha)}`);
  const dropout = c.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) throw new Error(`${where}.dropout must be in [0, 1), got ${JSON.stringify(c.dropout)}`);
  let targetModules: string[] | 'all-linear';
  if (c.targetModules === 'all-linear') targetModules = 'all-linear';
  else {
    if (!Array.isArray(c.targetModules) || c.targetModules.length === 0) {
      throw new Error(`${where}.targetModules must be a non-empty list of module names or "all-linear", got ${JSON.stringify(c.targetModules)}`);
    }
    targetModules = [...new Set(c.targetModules.map((t) => SHORT[t] ?? t))];
  }
  const seed = c.seed ?? 0;
  if (!Number.isInteger(seed)) throw new Error(`${where}.seed must be an integer, got ${JSON.stringify(c.seed)}`);
  return { r: c.r, alpha: c.alpha, dropout, targetModules, rsLora: c.rsLora ?? false, seed };
}

/** The factor s of W + s·B·A: α / r, or α / √r for rank-stabilised LoRA. */
export function loraScaling(c: Pick<ResolvedLoraConfig, 'r' | 'alpha' | 'rsLora'>): number {
  return c.rsLora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r;
}

/** PEFT's adapter_config.json for `c` (the fields PEFT ≥ 0.10 reads; defaults spelled out). */
export function peftAdapterConfig(c: ResolvedLoraConfig, opts: { baseModel?: string; fanInFanOut: boolean; targetModules: string[] }): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: opts.baseModel ?? null,
    r: c.r,
    lora_alpha: c.alpha,
    lora_dropout: c.dropout,
    target_modules: opts.targetModules,
    bias: 'none',
    fan_in_fan_out: opts.fanInFanOut,
    use_rslora: c.rsLora,
    use_dora: false,
    init_lora_weights: true,
    inference_mode: true,
    modules_to_save: null,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    revision: null,
  };
}

/**
 * Reads a PEFT adapter_config.json object into a {@link ResolvedLoraConfig}. Refuses what falign
 * cannot apply exactly (other PEFT types, bias training, DoRA, per-module ranks, extra modules),
 * naming the file and field.
 */
export function parsePeftAdapterConfig(json: unknown, file: string): ResolvedLoraConfig {
  const fail = (field: string, msg: string): never => {
    throw new Error(`${file}: ${field}: ${msg}`);
  };
  if (json === null || typeof json !== 'object' || Array.isArray(json)) fail('(root)', 'expected a JSON object');
  const j = json as Record<string, unknown>;
  if (j.peft_type !== 'LORA') fail('peft_type', `only "LORA" adapters are supported, got ${JSON.stringify(j.peft_type)}`);
  if (j.bias !== undefined && j.bias !== 'none') fail('bias', `only "none" is supported, got ${JSON.stringify(j.bias)}`);
  if (j.use_dora === true) fail('use_dora', 'DoRA adapters are not supported');
  for (const f of ['rank_pattern', 'alpha_pattern'] as const) {
    const v = j[f];
    if (v !== undefined && v !== null && (typeof v !== 'object' || Object.keys(v).length > 0)) fail(f, 'per-module ranks/alphas are not supported');
  }
  const mts = j.modules_to_save;
  if (mts !== undefined && mts !== null && !(Array.isArray(mts) && mts.length === 0)) fail('modules_to_save', 'fully trained extra modules are not supported');
  for (const f of ['layers_to_transform', 'layers_pattern'] as const) {
    if (j[f] !== undefined && j[f] !== null) fail(f, 'is not supported (every layer gets its adapter)');
  }
  const tm = j.target_modules;
  let targetModules: string[] | 'all-linear';
  if (tm === 'all-linear') targetModules = 'all-linear';
  else if (Array.isArray(tm) && tm.length > 0 && tm.every((t) => typeof t === 'string')) targetModules = tm as string[];
  else if (typeof tm === 'string') fail('target_modules', `regular-expression targets are not supported, got ${JSON.stringify(tm)}`);
  else fail('target_modules', `expected a non-empty list of module names, got ${JSON.stringify(tm)}`);
  const cfg = {
    r: j.r as number,
    alpha: (j.lora_alpha ?? 8) as number,
    dropout: (j.lora_dropout ?? 0) as number,
    targetModules: targetModules!,
    rsLora: j.use_rslora === true,
  };
  try {
    return resolveLoraConfig(cfg, file);
  } catch (e) {
    throw new Error((e as Error).message.replace(`${file}.`, `${file}: `).replace(': alpha', ': lora_alpha').replace(': dropout', ': lora_dropout'));
  }
}
