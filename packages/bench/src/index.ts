/** @falign/bench public API. */
// Datasets, tasks, metrics, the evaluation harness and eval models (datasets/tasks/harness owner).
export * from './datasets/index.js';
export * from './metrics/index.js';
export * from './tasks/index.js';
export * from './harness/index.js';
export type * from './models/types.js';
export { loadEvalModel, modelSpecScheme, type LoadModelOptions } from './models/load.js';
export { createInProcessModel, type InProcessOptions } from './models/in-process.js';

// --- OpenAI-compatible client and server, reports (owner: endpoint/report engineer) ---
export {
  createOpenAIModel,
  parseOpenAISpec,
  parseRetryAfter,
  backoffDelay,
  OpenAIRequestError,
  type OpenAIModel,
  type OpenAIModelOptions,
  type OpenAISpec,
  type OpenAIStats,
  type OpenAIApi,
  type RetryInfo,
} from './models/openai.js';
export { startServer, type ServerOptions, type RunningServer } from './server/app.js';
export { MicroBatcher, type ServablePolicy, type BatchSettings, type BatcherStats, type MicroBatcherOptions } from './server/batcher.js';
export { chatTemplateFromFile, defaultChatTemplate, jinjaChatTemplate, type ChatTemplate, type TemplateMessage } from './server/chat-template.js';
export { loadServablePolicy, type LoadServableOptions } from './server/load-policy.js';
export { loadPolicyInWorker } from './server/worker-policy.js';
export { fitPromptTail, countTokensUpTo, type FittedPrompt } from './server/prompt-fit.js';
export { LineSkipper, formatSkipped, parseJsonText, portArg, probePort, requireInputFile, openOutputFile, type SkippedLines } from './util/errors.js';
export { ApiError } from './server/errors.js';
export { aggregateSeeds, validateTable, cellOf, type Cell, type Column, type Row, type ResultTable } from './report/table.js';
export { relativeOverall, averageRank, fractionalRanks, type RelativeOverall, type AverageRank } from './report/summary.js';
export {
  renderMarkdownTable,
  renderLatexTable,
  renderCsv,
  renderHtmlTable,
  escapeLatex,
  escapeHtml,
  type TableRenderOptions,
} from './report/render-table.js';
export { lineChartSvg, barChartSvg, vegaLiteToSvg, type LinePoint, type LineSeries, type Bar, type ChartOptions } from './report/plots.js';
export { renderHtmlReport, type HtmlReport, type HtmlSection } from './report/html.js';
export { writeReport, type ReportSpec, type ReportTable, type ReportChart, type WrittenReport } from './report/write.js';
export { buildRunsReport, type RunsReportOptions } from './report/from-runs.js';
export { readEvalRun, findEvalResults, evalRunsToTable, modelDisplayName, type EvalRun, type EvalMetric, type EvalTableOptions } from './report/eval-runs.js';
export { readTrainingRun, trainingCurves, seedGroup, metricNames, isTrainingRun, type TrainingRun } from './report/training.js';

// --- Experiments: generators, SFT/RM training, pipelines, reproduce (owner: experiments engineer) ---
export * from './experiments/index.js';

// Model-based safety judges (Llama Guard 3, WildGuard, HarmBench classifier) for --judge.
export * from './judges/index.js';
