/** @falign/core public API. */
export { tf, initBackend, backendName, probeWebgpuAdapter, softwareAdapterReason, type AdapterInfoLike } from './backend.js';
export { Rng } from './rng.js';
export { DecoderLM, KVCache, type ForwardOptions, type DecoderOptions } from './model/decoder.js';
export { resolveConfig, llamaHiddenDim } from './model/config.js';
export { linear, layerNorm, rmsNorm, geluTanh, silu } from './model/ops.js';
export { ScalarRewardModel, bradleyTerryLoss } from './model/reward-model.js';
export { AdamW, decayMatricesOnly, type AdamWOptions, type AdamWState } from './train/adamw.js';
export { clipByGlobalNorm, globalNorm, globalNormAsync, globalNormTensor, NonFiniteGradientError } from './train/clip.js';
export { constantLr, warmupCosineLr, linearDecayLr, type DecayScheduleOptions } from './train/schedules.js';
export { GradientAccumulator } from './train/accumulate.js';
export { gradEntries, disposeGradients, type Gradients } from './train/grads.js';
export { trainStep, trainStepAsync, countParams, type TrainStepResult, type HasVariables } from './train/step.js';
export { DeferredReads, withDeferredReads, readWhenReady, afterReads, activeDeferredReads, canReadSync, type HostValues } from './readback.js';
export type * from './types.js';
export { Llama2cTokenizer } from './tokenizers/llama2c.js';
export { CharTokenizer } from './tokenizers/char.js';
export { ByteTokenizer } from './tokenizers/byte.js';
export type { SpecialTokens } from './tokenizers/specials.js';
export { tokenizerFromJSON, loadTokenizerJSON } from './tokenizers/json.js';
export { parseSafetensors, readSafetensors, serializeSafetensors, type RawTensor, type SafetensorsFile } from './checkpoints/safetensors.js';
export {
  loadLlama2c,
  readLlama2c,
  parseLlama2c,
  parseLlama2cHeader,
  llama2cConfig,
  permuteRotaryRows,
  findLlama2cTokenizer,
  type Llama2cHeader,
} from './checkpoints/llama2c.js';
export { generate, stopTokenSet } from './sampling/generate.js';
export { samplingProbs, sampleToken, argmax, logSoftmaxAt, drawFrom, type DistributionOptions } from './sampling/distribution.js';
export { decodeContinuation } from './sampling/decode-text.js';
export { tokenLogprobs, sequenceLogprobs, type TokenLogprobOptions, type SequenceLogprobOptions } from './scoring/logprobs.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  type CheckpointExtra,
  type SaveCheckpointInput,
  type CheckpointConfig,
  type LoadedCheckpoint,
} from './checkpoints/checkpoint.js';
export { tensorsToRaw, tensorsToRawAsync, rawToTensors } from './checkpoints/raw.js';
export { FALIGN_VERSION } from './checkpoints/version.js';
export { Policy, loadPolicy, POLICY_SCHEMES, type LoadPolicyOptions } from './policy.js';
export * from './lora/index.js';
export { HfTokenizer, type HfEncoding } from './tokenizers/hf.js';
export { renderChatTemplate, checkMessages, type ChatMessage, type ChatTemplateOptions } from './tokenizers/chat.js';
export { SafetensorsReader, type SafetensorsEntry } from './checkpoints/safetensors.js';
export {
  HF_ARCHITECTURES,
  hfToModelConfig,
  modelConfigToHf,
  type HfArchitecture,
  type HfConfigOptions,
  type HfModelConfig,
  type ToHfOptions,
} from './hf/config.js';
export { HfWeights, type HfTensorInfo } from './hf/weights.js';
export { loadHfModel, readHfConfig, type LoadHfOptions, type LoadedHfModel } from './hf/load.js';
export { ropeInvFreq } from './model/config.js';
export { saveHfCheckpoint, type SaveHfInput } from './hf/save.js';
