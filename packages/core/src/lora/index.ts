/** LoRA adapters: configuration, attachment to a DecoderLM, PEFT files, merging. */
export { LoraAdapter, PEFT_PREFIX, peftTensorNames, withAdaptersOff, type LoraCreateOptions } from './adapter.js';
export { resolveLoraConfig, loraScaling, peftAdapterConfig, parsePeftAdapterConfig, type LoraConfig, type ResolvedLoraConfig } from './config.js';
export { adaptableModules, selectTargets, type LoraTarget } from './targets.js';
export {
  saveLoraAdapter,
  loadLoraAdapter,
  mergeLora,
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  type SaveLoraOptions,
  type LoadLoraOptions,
  type MergeLoraOptions,
} from './peft.js';
