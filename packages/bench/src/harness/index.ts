/** The evaluation harness: run, resume and rescore evaluations. */
export * from './aggregate.js';
export * from './chat.js';
export * from './config.js';
export * from './docs.js';
export * from './invocations.js';
export * from './provenance.js';
export * from './results.js';
export * from './runner.js';
export * from './rescore.js';
export * from './samples.js';
export * from './seeds.js';
export * from './table.js';
