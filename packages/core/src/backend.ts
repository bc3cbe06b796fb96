/**
 * The one tfjs instance every falign package shares, and the function that picks its backend.
 * (Minimal first version: the core-model work extends it with tensorflow/webgpu and the wasm fixes.)
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendName } from './types.js';

export { tf };

let initialised: string | null = null;

/** Initialises (once) and returns the name of the backend in use. `FALIGN_BACKEND` overrides the default. */
export async function initBackend(name?: BackendName): Promise<string> {
  const wanted = name ?? (process.env.FALIGN_BACKEND as BackendName | undefined) ?? 'wasm';
  if (initialised === wanted) return initialised;
  await tf.setBackend(wanted);
  await tf.ready();
  initialised = tf.getBackend();
  return initialised;
}
