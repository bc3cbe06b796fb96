/**
 * Stage "sft-base": the base policy every pipeline of a task starts from. From scratch: a decoder
 * trained with SFT on the task's demonstrations; with a pretrained model: its weights, optionally
 * after SFT (pretrained-base.ts). Artefact: `model/` (a checkpoint; or `base.json` naming the
 * pretrained source), `sft-log.jsonl` and the {@link BaseInfo}.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DecoderLM, saveCheckpoint } from '@falign/core';
import type { PipelineConfig } from '../config/schema.js';
import { assertScratchModel, buildPretrainedBase, isPretrainedModel, pretrainedBaseKey } from '../pretrained-base.js';
import { demonstrationNll, trainSft } from '../sft.js';
import { EXPERIMENT_CODE_VERSION, type StoredStage } from '../store.js';
import { taskTokenizer } from '../tokenizer.js';
import { reportWork, sftStepUnits } from '../work.js';
import { sftExamples, taskOf, taskVersions, type TaskData } from './data.js';

/** Inputs of the SFT base: the pipeline config, its task data and the backend it trains on. */
export interface SftBaseInputs {
  cfg: PipelineConfig;
  data: TaskData;
  backend: string;
}

/** What the SFT base artefact records. */
export interface BaseInfo {
  steps: number;
  firstLoss: number;
  lastLoss: number;
  heldOutNll: number | null;
  seconds: number;
  numParams: number;
  demonstrations: number;
}

/** Store key of the SFT base of a pipeline (only the config slice it reads). */
export function baseKey(cfg: PipelineConfig, backend: string): unknown {
  if (isPretrainedModel(cfg.model)) return pretrainedBaseKey({ ...cfg, model: cfg.model }, backend, taskVersions(cfg.task));
  // The RL prompt pool is drawn after the demonstrations and does not change them.
  const data = cfg.task === 'math' ? { ...cfg.data, rlPromptsPerTier: undefined } : cfg.data;
  return { kind: 'sft-base', task: cfg.task, data, model: cfg.model, sft: cfg.sft, backend, versions: taskVersions(cfg.task) };
}

/** Stage "sft-base" (its version is the experiment code version, inside the key's `versions`). */
export const sftBase: StoredStage<SftBaseInputs, BaseInfo> = {
  name: 'sft-base',
  version: EXPERIMENT_CODE_VERSION,
  key: ({ cfg, backend }) => baseKey(cfg, backend),
  async run({ cfg, data }, dir, log) {
    if (isPretrainedModel(cfg.model)) return buildPretrainedBase({ ...cfg, model: cfg.model }, dir, taskOf(data), log);
    assertScratchModel(cfg);
    const examples = sftExamples(cfg, data);
    const tokenizer = taskTokenizer();
    log(`SFT base: ${examples.length} demonstrations, ${cfg.sft.steps} steps`);
    const t0 = Date.now();
    const model = new DecoderLM({ ...cfg.model, vocabSize: tokenizer.vocabSize }, { seed: cfg.sft.seed });
    try {
      const logs = await trainSft(model, tokenizer, examples, cfg.sft, (l) => {
        reportWork(sftStepUnits(cfg));
        if (l.step % 50 === 0 || l.step === cfg.sft.steps - 1) log(`SFT step ${l.step + 1}/${cfg.sft.steps} loss ${l.loss.toFixed(3)}`);
      });
      writeFileSync(join(dir, 'sft-log.jsonl'), logs.map((l) => JSON.stringify(l)).join('\n') + '\n');
      // Held-out NLL on the first 64 test solutions (math; safety has no gold responses).
      const heldOut =
        data.task === 'math'
          ? Object.values(data.math.test)
              .flat()
              .slice(0, 64)
              .map((p) => ({ prompt: p.prompt, response: p.solution }))
          : [];
      await saveCheckpoint(join(dir, 'model'), { model, tokenizer, meta: { kind: 'sft-base', task: cfg.task } });
      return {
        steps: logs.length,
        firstLoss: logs[0].loss,
        lastLoss: logs[logs.length - 1].loss,
        heldOutNll: heldOut.length > 0 ? await demonstrationNll(model, tokenizer, heldOut) : null,
        seconds: (Date.now() - t0) / 1000,
        numParams: model.numParams(),
        demonstrations: examples.length,
      };
    } finally {
      model.dispose();
    }
  },
};
