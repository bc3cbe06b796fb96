/**
 * Stage "aggregate": one experiment's finished runs grouped by method, beside its shared
 * artefacts (base evaluation, base and reward-model info), rendered into its report section
 * (tables, charts, paired statistics, claims; report.ts and aggregate.ts do the work).
 */
import type { ExperimentConfig, StageConfig } from '../config/schema.js';
import { methodStage, type GridRun } from '../config/load.js';
import { groupByMethod } from '../aggregate.js';
import { mathSection, safetySection, type ExperimentOutcome, type ReportSection } from '../report.js';
import { readCacheInfo } from '../store.js';
import type { BaseEval } from './evaluate.js';
import type { RewardModelInfo } from './reward-model.js';
import type { RunResult, SharedArtefacts } from './run-dir.js';
import type { BaseInfo } from './sft-base.js';

/** Inputs of the aggregation of one experiment. */
export interface AggregateInputs {
  exp: ExperimentConfig;
  grid: readonly GridRun[];
  /** The finished runs (failed ones are absent). */
  results: readonly RunResult[];
  shared: SharedArtefacts;
  /** Run directory of a grid run. */
  runDir: (run: GridRun) => string;
}

/** The experiment's outcome: its methods' runs and the shared artefacts' infos. */
export function experimentOutcome({ exp, grid, results, shared, runDir }: AggregateInputs): ExperimentOutcome {
  const stages: StageConfig[] = exp.methods.map((_, k) => methodStage(exp, k, exp.name));
  const ids = [...new Set(grid.map((g) => g.methodId))];
  return {
    exp,
    methods: groupByMethod(exp, stages, ids, results),
    runDirs: new Map(grid.map((g) => [`${g.methodId}/${g.seed}`, runDir(g)])),
    base: readCacheInfo<BaseEval>(shared.baseEval),
    baseInfo: readCacheInfo<BaseInfo>(shared.base),
    rmInfo: shared.rm ? readCacheInfo<RewardModelInfo>(shared.rm) : null,
    expected: grid.length,
  };
}

/** Stage "aggregate": the experiment's report section. */
export async function aggregateExperiment(inputs: AggregateInputs): Promise<ReportSection> {
  const outcome = experimentOutcome(inputs);
  return inputs.exp.task === 'math' ? mathSection(outcome) : safetySection(outcome);
}
