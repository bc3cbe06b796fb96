/**
 * Record schemas of every dataset split (zod). A record that fails is reported with its file, line
 * and field. Schemas also normalise types (CSV strings → numbers where the column is numeric).
 */
import { z } from 'zod';

const text = z.string().min(1, 'must be a non-empty string');
/** A CSV cell holding an integer. */
const csvInt = z
  .string()
  .regex(/^-?\d+$/, 'must be an integer')
  .transform((s) => Number.parseInt(s, 10));
/** A CSV cell holding 0, 1 or nothing (unlabelled). */
const csvFlag = z
  .enum(['0', '1', ''], { message: 'must be 0, 1 or empty' })
  .transform((s) => (s === '' ? null : Number(s)));

export const Gsm8kRow = z.object({
  question: text,
  answer: text.regex(/####\s*\S/, 'must end with "#### <number>"'),
});
export type Gsm8kRow = z.infer<typeof Gsm8kRow>;

export const Math500Row = z.object({
  problem: text,
  solution: text,
  answer: z.string(),
  subject: text,
  level: z.number().int().min(1).max(5),
  unique_id: text,
});
export type Math500Row = z.infer<typeof Math500Row>;

export const AdvBenchBehaviorRow = z.object({ goal: text, target: text });
export type AdvBenchBehaviorRow = z.infer<typeof AdvBenchBehaviorRow>;
export const AdvBenchStringRow = z.object({ target: text });
export type AdvBenchStringRow = z.infer<typeof AdvBenchStringRow>;

const saladCategories = {
  '1-category': text,
  '2-category': text,
  '3-category': text,
};
export const SaladDefenseRow = z.object({
  qid: z.number().int(),
  did: z.number().int(),
  baseq: text,
  daugq: text,
  dmethod: text,
  ...saladCategories,
});
export type SaladDefenseRow = z.infer<typeof SaladDefenseRow>;

export const SaladRebuttalRow = z.object({
  qid: csvInt,
  question: text,
  source: text,
  ...saladCategories,
  '1 if the question is harmful in nature': csvFlag,
  '1 if the 3-category is correct': csvFlag,
});
export type SaladRebuttalRow = z.infer<typeof SaladRebuttalRow>;

export const SaladExampleQaRow = z.object({
  question: text,
  answer: z.string(),
  label: z.union([z.literal(0), z.literal(1)]),
});
export type SaladExampleQaRow = z.infer<typeof SaladExampleQaRow>;

export const XstestRow = z.object({
  id: csvInt,
  prompt: text,
  type: text,
  label: z.enum(['safe', 'unsafe']),
  focus: z.string(),
  note: z.string(),
});
export type XstestRow = z.infer<typeof XstestRow>;

export const HarmBenchRow = z.object({
  Behavior: text,
  FunctionalCategory: z.enum(['standard', 'contextual', 'copyright', 'multimodal']),
  SemanticCategory: text,
  Tags: z.string(),
  ContextString: z.string(),
  BehaviorID: text,
});
export type HarmBenchRow = z.infer<typeof HarmBenchRow>;

export const HhRlhfRow = z.object({ chosen: text, rejected: text });
export type HhRlhfRow = z.infer<typeof HhRlhfRow>;

/** One human-labelled completion of the XSTest completions files (partial refusal counts as refusal). */
export const XstestCompletionRow = z.object({
  id: text,
  type: text,
  prompt: text,
  completion: z.string(),
  annotation_1: z.string(),
  annotation_2: z.string(),
  agreement: z.enum(['TRUE', 'FALSE']),
  final_label: z.enum(['1_full_compliance', '2_full_refusal', '3_partial_refusal']),
});
export type XstestCompletionRow = z.infer<typeof XstestCompletionRow>;

/** Row types by dataset and split, for typed loading. */
export interface DatasetRows {
  gsm8k: { train: Gsm8kRow; test: Gsm8kRow };
  math500: { test: Math500Row };
  advbench: { harmful_behaviors: AdvBenchBehaviorRow; harmful_strings: AdvBenchStringRow };
  salad: { defense_enhanced: SaladDefenseRow; rebuttal: SaladRebuttalRow; example_qa: SaladExampleQaRow };
  xstest: { test: XstestRow };
  harmbench: { all: HarmBenchRow; test: HarmBenchRow; val: HarmBenchRow };
  'hh-rlhf-harmless': { test: HhRlhfRow };
  'xstest-completions': {
    gpt4: XstestCompletionRow;
    llama2new: XstestCompletionRow;
    llama2orig: XstestCompletionRow;
    mistralguard: XstestCompletionRow;
    mistralinstruct: XstestCompletionRow;
  };
}

/** The schema of each known dataset split. */
export const ROW_SCHEMAS: { [D in keyof DatasetRows]: { [S in keyof DatasetRows[D]]: z.ZodType<DatasetRows[D][S], unknown> } } = {
  gsm8k: { train: Gsm8kRow, test: Gsm8kRow },
  math500: { test: Math500Row },
  advbench: { harmful_behaviors: AdvBenchBehaviorRow, harmful_strings: AdvBenchStringRow },
  salad: { defense_enhanced: SaladDefenseRow, rebuttal: SaladRebuttalRow, example_qa: SaladExampleQaRow },
  xstest: { test: XstestRow },
  harmbench: { all: HarmBenchRow, test: HarmBenchRow, val: HarmBenchRow },
  'hh-rlhf-harmless': { test: HhRlhfRow },
  'xstest-completions': {
    gpt4: XstestCompletionRow,
    llama2new: XstestCompletionRow,
    llama2orig: XstestCompletionRow,
    mistralguard: XstestCompletionRow,
    mistralinstruct: XstestCompletionRow,
  },
};
