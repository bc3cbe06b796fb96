/** @falign/core public API. */
export { tf, initBackend } from './backend.js';
export type * from './types.js';
