/** Datasets: manifests, resolution (FALIGN_DATA_DIR → cache → fetch), loaders with schema checks. */
export * from './manifest.js';
export * from './locate.js';
export * from './checksum.js';
export * from './fetch.js';
export * from './readers.js';
export * from './schemas.js';
export * from './load.js';
export * from './status.js';
