/**
 * Work units of the experiment jobs, for an overall progress bar whose rate and ETA mean
 * something. A unit is proportional to the expected compute: one unit is 10⁸
 * effective-parameter·tokens of a forward pass ({@link UNIT_PARAM_TOKENS}), so a sample costs
 * (effective parameters of the model) × (tokens it processes) × (a factor per kind of pass):
 * {@link TRAIN_FACTOR} for a token trained on (forward + backward + optimiser),
 * {@link FORWARD_FACTOR} for a token only scored (reference/old-policy log-probabilities, reward
 * model), {@link GENERATE_FACTOR} for a token sampled one at a time. "Effective" parameters
 * ({@link effectiveParams}) account for small models being memory-bound: below a width of
 * {@link COMPUTE_BOUND_WIDTH} the time per token grows with the width, not its square.
 *
 * Counting samples alone (as before) made a safety sample (a 3× larger model, 2× the tokens)
 * worth as much as a math one, and the full run's ETA was off by −39 %. The factors are
 * calibrated on measured timings: `packages/bench/src/bench/eta-calibrate.ts` prints measured
 * seconds against these units per job kind, `eta-error.ts --replay` the ETA error they give on a
 * past run. Only the ratios between units matter, since the bar's rate is measured.
 *
 * Jobs report the units they finish as they go (SFT and RM steps, RL steps, evaluations), so the
 * bar moves from the first second, preparation included.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelSpecConfig, PipelineConfig, StageConfig } from './config/schema.js';

/** Effective parameter·tokens of forward compute in one work unit (≈4 ms of the 2-core reference machine). */
export const UNIT_PARAM_TOKENS = 1e8;
/** Cost of a token scored by a forward pass only (reference or old-policy log-probabilities, reward model). */
export const FORWARD_FACTOR = 1;
/**
 * Cost of a token trained on, relative to a forward pass: forward + backward (≈2×) + optimiser.
 * Measured 3.35× (math) and 3.4× (safety) as `time/update` ÷ `time/scoring` per token of the
 * on-policy runs.
 */
export const TRAIN_FACTOR = 3.4;
/**
 * Cost of a sampled token, relative to a forward pass over a token: decoding runs the model once
 * per new token, on thin matrices (measured 1.6× math, 2.2× safety from `time/sampling`, with the
 * prompt read once at forward cost).
 */
export const GENERATE_FACTOR = 1.9;
/**
 * Width below which a decoder's time per token grows linearly with the width rather than with the
 * parameter count (memory-bound, per-op overheads): at equal tokens per step the measured update
 * time of the d=96×3 safety policy was 2.1× that of the d=64×2 math one, against 3.3× the
 * parameters and 2.25× the layers × width. Above it, compute-bound (∝ parameters); 256 is an
 * estimate, no model that wide was timed.
 */
export const COMPUTE_BOUND_WIDTH = 256;

/**
 * Vocabulary of the tasks' character tokenizer (both tasks use it for decoders trained from
 * scratch; 99 symbols make the measured numParams of the cached bases add up).
 */
export const TASK_VOCAB = 99;

/** Rough compute parameters of a pretrained model whose config cannot be read (a ~0.1 B-parameter model). */
export const UNKNOWN_PRETRAINED_PARAMS = 1e8;

/**
 * Compute parameters of a decoder: the matrices a token goes through (attention, MLP, the tied
 * output projection); position and token embeddings are look-ups and cost nothing.
 */
export function decoderComputeParams(m: Pick<ModelSpecConfig, 'dModel' | 'nLayers' | 'nHeads' | 'nKvHeads' | 'dFF'> & { arch?: string }, vocab = TASK_VOCAB): number {
  const d = m.dModel;
  const llama = m.arch === 'llama';
  const dKv = (d * (m.nKvHeads ?? m.nHeads)) / m.nHeads;
  const dFF = m.dFF ?? 4 * d;
  const attn = 2 * d * d + 2 * d * dKv;
  const mlp = (llama ? 3 : 2) * d * dFF;
  return m.nLayers * (attn + mlp) + vocab * d;
}

/**
 * Size of a pretrained checkpoint from its config.json: Hugging Face (`hidden_size`, …) or falign
 * (`model.dModel`, …) layout; null when it cannot be read.
 */
function checkpointSize(dir: string): { params: number; vocab: number } | null {
  try {
    const raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    if (raw.model && typeof raw.model === 'object') {
      const m = raw.model as ModelSpecConfig & { vocabSize?: number };
      if (!m.dModel || !m.nLayers || !m.nHeads || !m.vocabSize) return null;
      return { params: effectiveParams(decoderComputeParams(m, m.vocabSize), m.dModel), vocab: m.vocabSize };
    }
    const c = raw as Record<string, number | undefined>;
    const d = c.hidden_size ?? c.n_embd ?? c.d_model;
    const layers = c.num_hidden_layers ?? c.n_layer;
    const heads = c.num_attention_heads ?? c.n_head;
    const vocab = c.vocab_size;
    if (!d || !layers || !heads || !vocab) return null;
    const llama = c.intermediate_size !== undefined;
    const params = decoderComputeParams({ arch: llama ? 'llama' : 'gpt2', dModel: d, nLayers: layers, nHeads: heads, nKvHeads: c.num_key_value_heads ?? heads, dFF: c.intermediate_size ?? c.n_inner ?? 4 * d }, vocab);
    return { params: effectiveParams(params, d), vocab };
  } catch {
    return null;
  }
}

/**
 * Effective parameters: the compute parameters scaled up by {@link COMPUTE_BOUND_WIDTH}/width for
 * models narrower than that, whose time per token is ∝ layers × width (see the constant).
 */
export function effectiveParams(computeParams: number, width: number): number {
  return computeParams * Math.max(1, COMPUTE_BOUND_WIDTH / width);
}

const pretrainedSizes = new Map<string, { params: number; vocab: number }>();

/** Size of a pipeline's pretrained model (read once per spec); a rough default when unreadable. */
function pretrainedSize(spec: string): { params: number; vocab: number } {
  let size = pretrainedSizes.get(spec);
  if (size === undefined) {
    const m = /^(hf|falign):(.+)$/s.exec(spec);
    size = (m ? checkpointSize(m[2]) : null) ?? { params: UNKNOWN_PRETRAINED_PARAMS, vocab: 32_000 };
    pretrainedSizes.set(spec, size);
  }
  return size;
}

/** Effective parameters of a pipeline's policy (decoder dimensions, or a pretrained model's config.json). */
export function policyParams(cfg: PipelineConfig): number {
  const model = cfg.model as ModelSpecConfig | { spec: string };
  if (!('spec' in model)) return effectiveParams(decoderComputeParams(model), model.dModel);
  return pretrainedSize(model.spec).params;
}

/**
 * Token lengths of a pipeline's samples, as padded batches see them: the prompt, a demonstration
 * or preference response, and a sampled completion of at most `maxNewTokens`. The math generator
 * writes prompts of ≤13 and answers of ≤40 characters (means 10 and 29); safety prompts and
 * responses are cut at `maxPromptChars` / `maxResponseChars` (prompts average ~¾ of the cap, the
 * batch's longest reaches it).
 */
export function sampleTokens(cfg: PipelineConfig): { prompt: number; response: number } {
  const chars = cfg.task === 'math' ? { prompt: 12, response: 34 } : { prompt: Math.ceil(0.85 * cfg.data.maxPromptChars) + 1, response: cfg.data.maxResponseChars + 1 };
  // A character-level vocabulary (the tasks' own, ≤256 symbols) reads one token per character.
  if (!('spec' in cfg.model) || pretrainedSize(cfg.model.spec).vocab <= 256) return chars;
  // Subword tokenizers: ~4 characters a token, plus ~16 tokens of chat-template markers per prompt.
  return { prompt: Math.ceil(chars.prompt / 4) + 16, response: Math.ceil(chars.response / 4) };
}

/** Tokens a sampled completion runs to: the task's response length, capped by `maxNewTokens`. */
function generatedTokens(cfg: PipelineConfig, maxNewTokens: number): number {
  return Math.min(maxNewTokens, sampleTokens(cfg).response);
}

/** Effective parameters of the safety reward model (0 for math, whose verifier costs nothing here). */
function rewardParams(cfg: PipelineConfig): number {
  return cfg.task === 'safety' ? effectiveParams(decoderComputeParams(cfg.rewardModel.model), cfg.rewardModel.model.dModel) : 0;
}

/**
 * Rounds units to a multiple of 1/1024. Jobs report step by step what reproduce planned as
 * steps × step units + evaluations; with dyadic fractions those sums are exact in floating point,
 * so a finished job reports exactly its planned total (no drift, no float-equality surprises).
 */
export function quantizeUnits(units: number): number {
  // A positive amount never rounds to 0: a job of a tiny model must still move the bar.
  return units > 0 ? Math.max(1, Math.round(units * 1024)) / 1024 : 0;
}

/** Units of one trained sequence of `tokens` tokens (plus `refForward` forward passes, e.g. a frozen reference). */
function trainedSeqUnits(params: number, tokens: number, refForward = 0): number {
  return (params * tokens * (TRAIN_FACTOR + refForward * FORWARD_FACTOR)) / UNIT_PARAM_TOKENS;
}

/** Units of one sampled completion: generation, plus the reward model's forward pass on safety. */
function generatedSampleUnits(cfg: PipelineConfig, maxNewTokens: number): number {
  const t = sampleTokens(cfg);
  const gen = generatedTokens(cfg, maxNewTokens);
  const p = policyParams(cfg);
  // The prompt is read once (prefill), then each new token costs a decode step.
  const policy = p * (t.prompt * FORWARD_FACTOR + gen * GENERATE_FACTOR);
  const reward = rewardParams(cfg) * (t.prompt + gen) * FORWARD_FACTOR;
  return (policy + reward) / UNIT_PARAM_TOKENS;
}

/** Units of one on-policy sample: sampled, rewarded, scored (old/reference log-probs), trained on. */
function onPolicySampleUnits(cfg: PipelineConfig, stage: { maxNewTokens: number; numIterations: number }): number {
  const t = sampleTokens(cfg);
  const seq = t.prompt + generatedTokens(cfg, stage.maxNewTokens);
  const p = policyParams(cfg);
  return generatedSampleUnits(cfg, stage.maxNewTokens) + (p * seq * (FORWARD_FACTOR + TRAIN_FACTOR * stage.numIterations)) / UNIT_PARAM_TOKENS;
}

/** Units of one offline preference pair (chosen + rejected, trained on and scored by the reference). */
function offlinePairUnits(cfg: PipelineConfig): number {
  const t = sampleTokens(cfg);
  return 2 * trainedSeqUnits(policyParams(cfg), t.prompt + t.response, 1);
}

/** Units of one optimiser step of the SFT base's training (`cfg.sft`; 0 without one). */
export function sftStepUnits(cfg: PipelineConfig): number {
  if (!cfg.sft) return 0;
  const t = sampleTokens(cfg);
  return quantizeUnits(cfg.sft.batchSize * trainedSeqUnits(policyParams(cfg), t.prompt + t.response));
}

/** Units of one optimiser step of the reward model's training (safety: `batchSize` pairs; 0 for math). */
export function rmStepUnits(cfg: PipelineConfig): number {
  if (cfg.task !== 'safety') return 0;
  const t = sampleTokens(cfg);
  return quantizeUnits(2 * cfg.rewardModel.batchSize * trainedSeqUnits(rewardParams(cfg), t.prompt + t.response));
}

/** Units of one optimiser step of a stage of `cfg`'s pipeline. */
export function stageStepUnits(stage: StageConfig, cfg: PipelineConfig): number {
  return quantizeUnits(stageCompute(stage, cfg));
}

function stageCompute(stage: StageConfig, cfg: PipelineConfig): number {
  const t = sampleTokens(cfg);
  const p = policyParams(cfg);
  switch (stage.algorithm) {
    case 'grpo':
    case 'fgrpo':
      return stage.promptsPerStep * stage.groupSize * onPolicySampleUnits(cfg, stage);
    case 'fhal':
      return stage.promptsPerStep * stage.groupSize * onPolicySampleUnits(cfg, stage) + stage.offlineBatchSize * offlinePairUnits(cfg);
    case 'fdo':
    case 'dpo':
      return stage.batchSize * offlinePairUnits(cfg);
    case 'sft':
      return stage.batchSize * trainedSeqUnits(p, t.prompt + t.response);
  }
}

/** Held-out completions of one full evaluation of a pipeline's task (math: greedy + `samples` per prompt). */
function evalCompletions(cfg: PipelineConfig, samples: number): number {
  return cfg.task === 'math' ? 4 * cfg.data.testPerTier * (1 + samples) : 2 * cfg.data.testPerLabel;
}

/** Units of a full held-out evaluation. */
export function evalUnits(cfg: PipelineConfig): number {
  return evalCompletions(cfg, cfg.eval.samples) * quantizeUnits(generatedSampleUnits(cfg, cfg.eval.maxNewTokens));
}

/** Units of the base policy's evaluation (math: with `eval.baseSamples` samples per prompt). */
export function baseEvalUnits(cfg: PipelineConfig): number {
  if (cfg.task !== 'math') return evalUnits(cfg);
  return evalCompletions(cfg, cfg.eval.baseSamples || cfg.eval.samples) * quantizeUnits(generatedSampleUnits(cfg, cfg.eval.maxNewTokens));
}

/** Units of one in-training curve evaluation (a prefix of each tier or label, greedy). */
export function curveUnits(cfg: PipelineConfig): number {
  const groups = cfg.task === 'math' ? 4 : 2;
  const per = cfg.task === 'math' ? cfg.data.testPerTier : cfg.data.testPerLabel;
  return groups * Math.min(per, cfg.eval.curvePrompts) * quantizeUnits(generatedSampleUnits(cfg, cfg.eval.maxNewTokens));
}

/** Which parts of the shared preparation a job still has to do (all by default). */
export interface PrepareParts {
  base: boolean;
  rm: boolean;
  baseEval: boolean;
}

/** Units of the shared preparation of a pipeline's task (SFT base, reward model, base evaluation). */
export function prepareUnits(cfg: PipelineConfig, parts: PrepareParts = { base: true, rm: true, baseEval: true }): number {
  let u = 0;
  if (parts.base && cfg.sft) u += cfg.sft.steps * sftStepUnits(cfg);
  if (parts.rm && cfg.task === 'safety') u += cfg.rewardModel.steps * rmStepUnits(cfg);
  if (parts.baseEval) u += baseEvalUnits(cfg);
  return u;
}

/** Curve points of a run: one every `eval.every` steps, the last one being the final evaluation. */
export function curvePoints(cfg: PipelineConfig): number {
  const steps = cfg.stages.reduce((a, s) => a + s.steps, 0);
  return cfg.eval.every > 0 ? Math.max(0, Math.ceil(steps / cfg.eval.every) - 1) : 0;
}

/** Units of one pipeline run (training steps, curve points, final evaluation). */
export function runUnits(cfg: PipelineConfig): number {
  let u = 0;
  for (const s of cfg.stages) u += s.steps * stageStepUnits(s, cfg);
  return u + curvePoints(cfg) * curveUnits(cfg) + evalUnits(cfg);
}

let sink: ((units: number) => void) | null = null;

/**
 * Where {@link reportWork} goes in this process: the job runner sets it (a worker forwards the
 * units to the parent over IPC; the in-process runner adds them to the bar). null = nowhere.
 */
export function setWorkSink(fn: ((units: number) => void) | null): void {
  sink = fn;
}

/** Reports `units` of finished work to the current sink (no-op without one). */
export function reportWork(units: number): void {
  if (sink && units > 0) sink(units);
}
