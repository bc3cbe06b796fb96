/** Tasks: prompt templates, scorers and metric declarations of each benchmark. */
export * from './types.js';
export * from './templates.js';
export * from './request.js';
export * from './math.js';
export * from './safety.js';
export * from './registry.js';
