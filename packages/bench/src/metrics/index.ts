/** Metrics: mean ± stderr, bootstrap CIs, pass@k, maj@k. */
export * from './stats.js';
export * from './pass-at-k.js';
export * from './maj-at-k.js';
export * from './bootstrap.js';
