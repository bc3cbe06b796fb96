/**
 * Stage "reward-model" (safety): the learned Bradley–Terry reward model the on-policy methods
 * train against, with its held-out accuracy, calibration and bias probes. Artefact: `model/`,
 * `rm-log.jsonl` and the {@link RewardModelInfo}.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RewardModelConfig, SafetyDataConfig, SafetyPipelineConfig } from '../config/schema.js';
import {
  RewardModelScorer,
  assessRewardModel,
  loadRewardModel,
  probeRewardModelBiases,
  saveRewardModel,
  trainRewardModel,
  type BiasProbe,
  type RewardModelQuality,
} from '../reward-model.js';
import { readCacheInfo, type CacheEntry, type StoredStage } from '../store.js';
import type { SafetyTask } from '../tasks/safety-task.js';
import { taskTokenizer } from '../tokenizer.js';
import { reportWork, rmStepUnits } from '../work.js';
import { taskVersions } from './data.js';

/** Version of the reward-model training and probe code (part of its key). */
export const REWARD_MODEL_CODE_VERSION = 2;

/** Inputs of the reward model: the safety pipeline config, its task data and the backend. */
export interface RewardModelInputs {
  cfg: SafetyPipelineConfig;
  safety: SafetyTask;
  backend: string;
}

/** What the reward-model artefact records. */
export interface RewardModelInfo {
  quality: RewardModelQuality;
  probes: BiasProbe[];
  trainPairs: number;
  firstLoss: number;
  lastLoss: number;
  seconds: number;
  numParams: number;
}

/** Store key of the reward model. */
export function rewardModelKey(data: SafetyDataConfig, rm: RewardModelConfig, backend: string): unknown {
  return { kind: 'reward-model', data, rewardModel: rm, backend, versions: { ...taskVersions('safety'), rewardModel: REWARD_MODEL_CODE_VERSION } };
}

/** Stage "reward-model". */
export const rewardModel: StoredStage<RewardModelInputs, RewardModelInfo> = {
  name: 'reward-model',
  version: REWARD_MODEL_CODE_VERSION,
  key: ({ cfg, backend }) => rewardModelKey(cfg.data, cfg.rewardModel, backend),
  async run({ cfg, safety }, dir, log) {
    const tokenizer = taskTokenizer();
    log(`reward model: ${safety.trainPairs.length} pairs, ${cfg.rewardModel.steps} steps`);
    const t0 = Date.now();
    const { model, logs } = await trainRewardModel(tokenizer, safety.trainPairs, cfg.rewardModel, (l) => {
      reportWork(rmStepUnits(cfg));
      if (l.step % 50 === 0 || l.step === cfg.rewardModel.steps - 1) log(`RM step ${l.step + 1}/${cfg.rewardModel.steps} loss ${l.loss.toFixed(3)}`);
    });
    try {
      writeFileSync(join(dir, 'rm-log.jsonl'), logs.map((l) => JSON.stringify(l)).join('\n') + '\n');
      const scorer = new RewardModelScorer(model, tokenizer);
      const quality = await assessRewardModel(scorer, safety.testPairs);
      const probes = await probeRewardModelBiases(scorer, safety.test, quality.calibration, cfg.data.maxResponseChars, cfg.data.seed);
      await saveRewardModel(join(dir, 'model'), model, tokenizer);
      log(`reward model held-out pair accuracy ${(quality.accuracy * 100).toFixed(1)}%`);
      return {
        quality,
        probes,
        trainPairs: safety.trainPairs.length,
        firstLoss: logs[0].loss,
        lastLoss: logs[logs.length - 1].loss,
        seconds: (Date.now() - t0) / 1000,
        numParams: model.numParams(),
      };
    } finally {
      model.dispose();
    }
  },
};

/** An opened (frozen) reward model with its scorer and calibration. */
export interface OpenedRewardModel {
  scorer: RewardModelScorer;
  info: RewardModelInfo;
  dispose: () => void;
}

/** Loads the frozen reward model of an artefact with its scorer and calibration. */
export async function openRewardModel(entry: CacheEntry): Promise<OpenedRewardModel> {
  const { model, tokenizer } = await loadRewardModel(join(entry.dir, 'model'));
  return { scorer: new RewardModelScorer(model, tokenizer), info: readCacheInfo<RewardModelInfo>(entry), dispose: () => model.dispose() };
}
