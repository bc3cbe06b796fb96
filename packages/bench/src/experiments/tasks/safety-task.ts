/**
 * The safety task of Experiment 2, built deterministically from its data config: prompt split,
 * preference pairs (training pairs for the reward model and the offline objectives, held-out
 * pairs for the reward model's accuracy) and the base policy's demonstrations.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { SafetyDataConfig } from '../config/schema.js';
import {
  buildPreferencePairs,
  buildSafetyDemonstrations,
  loadSafetyPrompts,
  resolveSafetySource,
  splitSafetyPrompts,
  type Demonstration,
  type PreferencePair,
  type SafetyPrompt,
} from '../generators/safety.js';

/** Everything the safety pipelines need. */
export interface SafetyTask {
  source: 'datasets' | 'templates';
  dataDir: string;
  train: SafetyPrompt[];
  test: SafetyPrompt[];
  trainPairs: PreferencePair[];
  testPairs: PreferencePair[];
  demos: Demonstration[];
}

/** The data directory: the config's, else FALIGN_DATA_DIR, else ../shared/datasets from the working directory. */
export function resolveDataDir(configured?: string): string {
  if (configured) return resolve(configured);
  if (process.env.FALIGN_DATA_DIR) return resolve(process.env.FALIGN_DATA_DIR);
  const fallback = resolve(process.cwd(), '..', 'shared', 'datasets');
  return existsSync(fallback) ? fallback : resolve(process.cwd(), 'datasets');
}

/**
 * Where the task's prompts come from under this config and environment: `"auto"` resolves to
 * `datasets` when AdvBench and XSTest are in the data directory, else `templates`.
 */
export function safetyPromptSource(cfg: Pick<SafetyDataConfig, 'source' | 'dataDir'>): 'datasets' | 'templates' {
  return resolveSafetySource({ source: cfg.source, dataDir: resolveDataDir(cfg.dataDir) });
}

/** Builds the task. */
export function buildSafetyTask(cfg: SafetyDataConfig): SafetyTask {
  const dataDir = resolveDataDir(cfg.dataDir);
  const source = resolveSafetySource({ source: cfg.source, dataDir });
  const prompts = loadSafetyPrompts({ source, dataDir, maxPromptChars: cfg.maxPromptChars });
  const { train, test } = splitSafetyPrompts(prompts, { seed: cfg.seed, testPerLabel: cfg.testPerLabel, trainPerLabel: cfg.trainPerLabel });
  const pairOpts = {
    pairsPerPrompt: cfg.pairsPerPrompt,
    maxResponseChars: cfg.maxResponseChars,
    tailRateChosen: cfg.tailRateChosen,
    tailRateRejected: cfg.tailRateRejected,
  };
  const trainPairs = buildPreferencePairs(train, { ...pairOpts, seed: cfg.seed });
  const testPairs = buildPreferencePairs(test, { ...pairOpts, seed: cfg.seed + 1 });
  const demoPrompts = [
    ...train.filter((p) => p.label === 'harmful').slice(0, cfg.sftDemosPerLabel),
    ...train.filter((p) => p.label === 'benign').slice(0, cfg.sftDemosPerLabel),
  ];
  const demos = buildSafetyDemonstrations(demoPrompts, {
    seed: cfg.seed,
    harmfulComplianceRate: cfg.sftHarmfulComplianceRate,
    benignRefusalRate: cfg.sftBenignRefusalRate,
    tailRate: cfg.sftTailRate,
    maxResponseChars: cfg.maxResponseChars,
  });
  return { source, dataDir, train, test, trainPairs, testPairs, demos };
}
