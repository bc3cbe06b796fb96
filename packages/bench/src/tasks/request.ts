/** Builds raw and chat forms of a request from a template, a document and few-shot examples. */
import type { ChatMessage } from '../models/types.js';
import { fillTemplate, type PromptTemplate } from './templates.js';
import type { TaskRequest } from './types.js';

/**
 * Raw form: `ex1 doc+target SEP ex2 doc+target SEP question`; chat form: each example as a
 * user/assistant pair (the assistant turn is the target without its leading space), then the question.
 */
export function templatedRequest(
  template: PromptTemplate,
  fields: Record<string, unknown>,
  fewshot: readonly Record<string, unknown>[] = [],
): TaskRequest {
  if (fewshot.length > 0 && template.target === undefined) throw new Error('this task has no few-shot target template');
  const question = fillTemplate(template.doc, fields);
  const sep = template.fewshotSeparator ?? '\n\n';
  const messages: ChatMessage[] = [];
  const parts: string[] = [];
  for (const ex of fewshot) {
    const q = fillTemplate(template.doc, ex);
    const a = fillTemplate(template.target!, ex);
    parts.push(q + a);
    messages.push({ role: 'user', content: q }, { role: 'assistant', content: a.trimStart() });
  }
  parts.push(question);
  messages.push({ role: 'user', content: question });
  return { prompt: parts.join(sep), messages, stop: [...template.stop] };
}
