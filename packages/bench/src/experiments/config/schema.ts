/**
 * Config files of the experiments (`falign reproduce`) and of single pipelines (`falign run`),
 * validated with zod. Every error names the field path (`stages[1].divergence: …`).
 *
 * A pipeline is one seed of one method: base model (SFT on the task's demonstrations, cached) →
 * training stages → evaluation on the task's held-out sets. An experiment is a grid of pipelines
 * (methods × seeds) sharing data, base model, reward model and hyper-parameters.
 */
import { z } from 'zod';
import { pretrainedModelSchema, requireSftForScratch } from './pretrained.js';

/** The divergences of the f-GRPO paper plus the two extra built-ins. */
export const DIVERGENCE_NAMES = ['kl', 'reverse_kl', 'pearson', 'hellinger', 'jensen_shannon', 'total_variation', 'neyman', 'gan'] as const;

const positiveInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();
const probability = z.number().min(0).max(1);
const positive = z.number().positive();

/** A small decoder (packages/core ModelConfig without the vocabulary, which the task fixes). */
export const modelSchema = z
  .object({
    arch: z.enum(['gpt2', 'llama']).default('gpt2'),
    dModel: positiveInt,
    nLayers: positiveInt,
    nHeads: positiveInt,
    nKvHeads: positiveInt.optional(),
    dFF: positiveInt.optional(),
    maxSeqLen: positiveInt,
  })
  .strict()
  .refine((m) => m.dModel % m.nHeads === 0, { message: 'dModel must be divisible by nHeads', path: ['nHeads'] });
export type ModelSpecConfig = z.infer<typeof modelSchema>;

/** A pipeline's model: decoder dimensions (trained from scratch by SFT) or a pretrained `{ spec: "hf:DIR" }` (see config/pretrained.ts). */
export const pipelineModelSchema = z.preprocess(
  // "model": "hf:DIR" is short for { "spec": "hf:DIR" }.
  (v) => (typeof v === 'string' ? { spec: v } : v),
  z.union([pretrainedModelSchema, modelSchema], {
    error: (iss) => (iss.code === 'invalid_union' ? 'expected decoder dimensions { dModel, nLayers, nHeads, maxSeqLen, … } or a pretrained model { "spec": "hf:DIR" } (or "hf:DIR")' : undefined),
  }),
);
export type PipelineModelConfig = z.infer<typeof pipelineModelSchema>;

/** Supervised fine-tuning of the base policy. */
export const sftSchema = z
  .object({
    steps: positiveInt,
    batchSize: positiveInt,
    lr: positive,
    warmupSteps: nonNegInt.default(10),
    weightDecay: z.number().min(0).default(0.01),
    maxGradNorm: positive.default(1),
    /** Seed of initialisation and batch order (fixed across experiment seeds: one shared base). */
    seed: z.number().int().default(0),
  })
  .strict();
export type SftConfig = z.infer<typeof sftSchema>;

/** Learned Bradley–Terry reward model (safety). */
export const rewardModelSchema = z
  .object({
    model: modelSchema,
    steps: positiveInt,
    batchSize: positiveInt,
    lr: positive,
    warmupSteps: nonNegInt.default(10),
    weightDecay: z.number().min(0).default(0.01),
    seed: z.number().int().default(0),
  })
  .strict();
export type RewardModelConfig = z.infer<typeof rewardModelSchema>;

const tiersSchema = z.object({ t1: nonNegInt, t2: nonNegInt, t3: nonNegInt, distractor: nonNegInt }).strict();

/** Math task data. */
export const mathDataSchema = z
  .object({
    seed: z.number().int().default(1234),
    /** Held-out problems per tier (the benchmarks; never used to choose settings). */
    testPerTier: positiveInt,
    /** Validation problems per tier (disjoint from test and training; settings are chosen on these). */
    valPerTier: positiveInt.default(50),
    /** Demonstrations per tier the SFT base sees (limited, so the base is partly competent). */
    sftDemosPerTier: tiersSchema,
    /** RL prompts per tier (disjoint from the demonstrations and the held-out sets). */
    rlPromptsPerTier: tiersSchema,
    /**
     * The demonstrations' systematic mistake: at a step that carries or borrows, the teacher
     * forgets the carry with this probability (generators/math.ts carelessSteps). 0 = exact.
     */
    sftCarryDropRate: probability.default(0),
  })
  .strict();
export type MathDataConfig = z.infer<typeof mathDataSchema>;

/** Safety task data. */
export const safetyDataSchema = z
  .object({
    seed: z.number().int().default(1234),
    source: z.enum(['auto', 'datasets', 'templates']).default('auto'),
    /** Folder with advbench/ and xstest/; default FALIGN_DATA_DIR, then ../shared/datasets. */
    dataDir: z.string().optional(),
    maxPromptChars: positiveInt.default(64),
    maxResponseChars: positiveInt.default(48),
    testPerLabel: positiveInt,
    trainPerLabel: positiveInt,
    pairsPerPrompt: positiveInt.default(1),
    /** Spurious feature of the preference data (see generators/safety.ts). */
    tailRateChosen: probability.default(0.6),
    tailRateRejected: probability.default(0.1),
    /** The base policy's imperfect demonstrations. */
    sftHarmfulComplianceRate: probability.default(0.6),
    sftBenignRefusalRate: probability.default(0.1),
    sftTailRate: probability.default(0.3),
    /** Demonstrations per label for SFT, drawn from the training prompts. */
    sftDemosPerLabel: positiveInt,
  })
  .strict();
export type SafetyDataConfig = z.infer<typeof safetyDataSchema>;

/** Sampling settings shared by on-policy stages. */
const onPolicyCommon = {
  /** Prompts per optimiser step; each gets `groupSize` completions. */
  promptsPerStep: positiveInt,
  groupSize: z.number().int().min(2),
  temperature: positive.default(1),
  maxNewTokens: positiveInt,
  /** Optimiser updates per sampled batch. */
  numIterations: positiveInt.default(1),
  /**
   * Random-reward control: when set, the training reward is Bernoulli(p), drawn independently of
   * the completions (the task's own reward is still logged, with weight 0). Gives the noise floor.
   */
  randomReward: probability.optional(),
};

const stageCommon = {
  steps: positiveInt,
  lr: positive,
  warmupSteps: nonNegInt.default(0),
  weightDecay: z.number().min(0).default(0),
  /** Global gradient-norm clip; 0 disables clipping. */
  maxGradNorm: z.number().min(0).default(1),
};

const divergence = z.enum(DIVERGENCE_NAMES);

export const grpoStageSchema = z
  .object({
    algorithm: z.literal('grpo'),
    ...stageCommon,
    ...onPolicyCommon,
    /** Per-token KL to the reference (k3); TRL's default is 0. */
    klCoef: z.number().min(0).default(0),
    clipEps: positive.default(0.2),
    clipEpsHigh: positive.optional(),
    lossAggregation: z.enum(['grpo', 'bnpo', 'dr_grpo', 'dapo']).default('dapo'),
  })
  .strict();

export const fgrpoStageSchema = z
  .object({
    algorithm: z.literal('fgrpo'),
    ...stageCommon,
    ...onPolicyCommon,
    divergence,
    beta: positive.default(0.1),
    gamma: z.number().min(0).default(1),
  })
  .strict();

export const fhalStageSchema = z
  .object({
    algorithm: z.literal('fhal'),
    ...stageCommon,
    ...onPolicyCommon,
    divergence,
    beta: positive.default(0.1),
    gamma: z.number().min(0).default(1),
    lambda: probability,
    /** Offline (aligned/unaligned) examples per step for the FDO half. */
    offlineBatchSize: positiveInt,
  })
  .strict();

export const fdoStageSchema = z
  .object({
    algorithm: z.literal('fdo'),
    ...stageCommon,
    divergence,
    beta: positive.default(0.1),
    /** Pairs per step (each gives one aligned and one unaligned example). */
    batchSize: positiveInt,
  })
  .strict();

export const dpoStageSchema = z
  .object({
    algorithm: z.literal('dpo'),
    ...stageCommon,
    beta: positive.default(0.1),
    batchSize: positiveInt,
  })
  .strict();

/**
 * Supervised training continued on the task's demonstrations (the "no RL" control: the base
 * trained for the same number of steps without any reward).
 */
export const sftStageSchema = z
  .object({
    algorithm: z.literal('sft'),
    ...stageCommon,
    /** Demonstrations per step. */
    batchSize: positiveInt,
  })
  .strict();

/** One training stage. */
export const stageSchema = z.discriminatedUnion('algorithm', [grpoStageSchema, fgrpoStageSchema, fhalStageSchema, fdoStageSchema, dpoStageSchema, sftStageSchema]);
export type StageConfig = z.infer<typeof stageSchema>;
export type Algorithm = StageConfig['algorithm'];

/** Evaluation settings. */
export const evalSchema = z
  .object({
    /** Evaluate every N training steps (curves); 0 = only at the start and the end. */
    every: nonNegInt.default(0),
    /** Held-out prompts used for the in-training curve points (a prefix of the test set). */
    curvePrompts: positiveInt.default(32),
    maxNewTokens: positiveInt,
    /** Sampled completions per prompt for the sampled pass@1 (0 = greedy only). */
    samples: nonNegInt.default(0),
    /**
     * Sampled completions per prompt in the base policy's evaluation only (math): its pass@k for
     * k = this, and the share of prompts whose k samples are all right or all wrong (groups
     * without a learning signal). 0 = as `samples`.
     */
    baseSamples: nonNegInt.default(0),
    temperature: positive.default(1),
  })
  .strict();
export type EvalConfig = z.infer<typeof evalSchema>;

/**
 * LoRA for the training stages (Hugging Face PEFT's LoraConfig): the base stays frozen, only the
 * adapters train, the reference is the base with the adapters off; the run saves the adapter in
 * PEFT layout (`<runDir>/adapter/`).
 */
export const loraSchema = z
  .object({
    r: positiveInt,
    alpha: positive,
    dropout: z.number().min(0).lt(1).default(0),
    /** PEFT module names (q_proj, v_proj…; GPT-2 c_attn, c_proj, c_fc), short names (q, v…) or "all-linear". */
    targetModules: z.union([z.literal('all-linear'), z.array(z.string().min(1)).min(1)]),
    rsLora: z.boolean().default(false),
  })
  .strict();
export type LoraSpecConfig = z.infer<typeof loraSchema>;

const backend = z.enum(['auto', 'wasm', 'cpu', 'webgpu', 'tensorflow']).default('wasm');

/** A name used as a directory name: non-empty, letters, digits, ".", "_" and "-" only. */
const safeName = z.string().min(1).regex(/^[A-Za-z0-9._-]+$/, 'use letters, digits, ".", "_" and "-" only');

/** The part of a pipeline that depends on the task. */
const pipelineBase = {
  /** Free text for humans (ignored). */
  $comment: z.string().optional(),
  name: safeName,
  backend,
  seed: z.number().int().default(1),
  model: pipelineModelSchema,
  sft: sftSchema.optional(),
  stages: z.array(stageSchema).min(1),
  eval: evalSchema,
  lora: loraSchema.optional(),
};

/** A single pipeline (`falign run CONFIG.json`). */
export const pipelineSchema = z.discriminatedUnion('task', [
  z.object({ ...pipelineBase, task: z.literal('math'), data: mathDataSchema }).strict(),
  z.object({ ...pipelineBase, task: z.literal('safety'), data: safetyDataSchema, rewardModel: rewardModelSchema }).strict(),
]).superRefine(requireSftForScratch);
export type PipelineConfig = z.infer<typeof pipelineSchema>;
export type MathPipelineConfig = Extract<PipelineConfig, { task: 'math' }>;
export type SafetyPipelineConfig = Extract<PipelineConfig, { task: 'safety' }>;

/** One method of an experiment: a display name and the fields that make its stage. */
export const methodSchema = z
  .object({
    name: z.string().min(1),
    /** Directory-safe id; derived from the name when absent. */
    id: safeName.optional(),
    /** Stage fields that differ from the experiment's shared `training` block. */
    stage: z.record(z.string(), z.unknown()),
  })
  .strict();
export type MethodConfig = z.infer<typeof methodSchema>;

/** An experiment grid (`falign reproduce`, one file per experiment and size). */
const experimentBase = {
  /** Free text for humans (ignored). */
  $comment: z.string().optional(),
  name: safeName,
  backend,
  seeds: z.array(z.number().int()).min(1),
  model: pipelineModelSchema,
  sft: sftSchema.optional(),
  /** Hyper-parameters shared by every method (same budget, same settings). */
  training: z.record(z.string(), z.unknown()),
  methods: z.array(methodSchema).min(1),
  eval: evalSchema,
  lora: loraSchema.optional(),
};

export const experimentSchema = z.discriminatedUnion('task', [
  z.object({ ...experimentBase, task: z.literal('math'), data: mathDataSchema }).strict(),
  z.object({ ...experimentBase, task: z.literal('safety'), data: safetyDataSchema, rewardModel: rewardModelSchema }).strict(),
]).superRefine(requireSftForScratch);
export type ExperimentConfig = z.infer<typeof experimentSchema>;
