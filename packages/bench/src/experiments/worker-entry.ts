/**
 * Child-process entry of the experiment pool: receives one job over IPC, runs it with its own
 * tfjs backend, sends back the result (or the error) and exits.
 */
import { executeJob, type Job } from './jobs.js';
import type { WorkerReply } from './pool.js';

if (typeof process.send !== 'function') {
  process.stderr.write('worker-entry: must be started by the experiment pool (no IPC channel)\n');
  process.exit(2);
}

// The parent went away (killed, crashed): stop instead of training for nobody.
process.once('disconnect', () => process.exit(1));

process.once('message', (job: Job) => {
  // Finished work units go to the parent's progress bar as they come.
  executeJob(job, (units) => process.send!({ progress: units })).then(
    (result) => process.send!({ ok: true, result } satisfies WorkerReply, () => process.exit(0)),
    (err: Error) => process.send!({ ok: false, error: err.message, stack: err.stack } satisfies WorkerReply, () => process.exit(1)),
  );
});
