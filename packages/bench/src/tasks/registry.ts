/** The task registry: every task the harness can run, by id. */
import { gsm8kTask, math500Task } from './math.js';
import { advbenchTask, harmbenchTask, saladDefenseTask, saladTask, xstestTask } from './safety.js';
import type { AnyTask, Task, TaskDoc } from './types.js';

const TASKS = new Map<string, AnyTask>();

/** Adds a task (ids are unique). */
export function registerTask<D extends TaskDoc>(task: Task<D>): void {
  if (TASKS.has(task.id)) throw new Error(`task "${task.id}" is already registered`);
  TASKS.set(task.id, task as unknown as AnyTask);
}

registerTask(gsm8kTask);
registerTask(math500Task);
registerTask(advbenchTask);
registerTask(xstestTask);
registerTask(saladTask);
registerTask(saladDefenseTask);
registerTask(harmbenchTask);

/** A task by id; the error lists the known ids. */
export function getTask(id: string): AnyTask {
  const t = TASKS.get(id);
  if (!t) throw new Error(`unknown task "${id}" (known: ${[...TASKS.keys()].join(', ')})`);
  return t;
}

/** All registered tasks. */
export function listTasks(): AnyTask[] {
  return [...TASKS.values()];
}
