/**
 * Prompt templates, kept as data. `{field}` is replaced by the document's field; `{{` and `}}` are
 * literal braces. Nothing in a template or a document is ever evaluated.
 */

/** A prompt template of a task. */
export interface PromptTemplate {
  /** Text of one document (the question). */
  doc: string;
  /** Text after `doc` in a few-shot example (the worked answer). */
  target?: string;
  /** Between few-shot examples and before the question. */
  fewshotSeparator?: string;
  /** Strings that end a completion. */
  stop: string[];
  /** Where the template comes from. */
  source: string;
}

/** The templates, by name. */
export const TEMPLATES = {
  gsm8k: {
    doc: 'Question: {question}\nAnswer:',
    target: ' {answer}',
    fewshotSeparator: '\n\n',
    stop: ['Question:', '</s>', '<|im_end|>'],
    source: 'lm-evaluation-harness lm_eval/tasks/gsm8k/gsm8k.yaml (anchors.md B.2)',
  },
  math500: {
    doc: 'Problem:\n{problem}\n\nGive the final answer in \\boxed{{}}.\n\nSolution:',
    target: ' {solution}',
    fewshotSeparator: '\n\n',
    stop: ['Problem:', '</s>', '<|im_end|>'],
    source: 'Minerva/lm-eval "Problem:/Solution:" format with a \\boxed{} instruction',
  },
  instruction: {
    doc: '{prompt}',
    stop: ['</s>', '<|im_end|>'],
    source: 'the prompt as given (AdvBench goal, XSTest prompt, SALAD question, HarmBench behavior)',
  },
} as const satisfies Record<string, PromptTemplate>;

/** Fills `{field}` placeholders from `values`; an unknown field is an error naming it. */
export function fillTemplate(template: string, values: Record<string, unknown>): string {
  return template.replace(/\{\{|\}\}|\{([A-Za-z0-9_-]+)\}/g, (m, field: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    if (field === undefined || !(field in values)) throw new Error(`template field "{${field}}" is not in the document (fields: ${Object.keys(values).join(', ')})`);
    return String(values[field]);
  });
}
