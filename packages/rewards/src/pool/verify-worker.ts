/**
 * Worker-thread side of {@link VerifierPool}: runs `verify` for each message. The test-only
 * `spinMs` field busy-waits first, so tests can exercise the hard timeout.
 */
import { parentPort } from 'node:worker_threads';
import { verify, type VerifyOptions } from '../math/verify.js';

interface Task {
  id: number;
  gold: string;
  pred: string;
  opts?: VerifyOptions;
  spinMs?: number;
  crash?: boolean;
}

const port = parentPort;
if (!port) throw new Error('verify-worker must run in a worker thread');
port.on('message', (t: Task) => {
  if (t.spinMs) {
    const end = Date.now() + t.spinMs;
    while (Date.now() < end) {
      /* busy: simulates a runaway check */
    }
  }
  if (t.crash) process.exit(3);
  port.postMessage({ id: t.id, result: verify(t.gold, t.pred, t.opts) });
});
port.postMessage({ ready: true });
