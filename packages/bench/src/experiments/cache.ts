/**
 * The experiment cache is the artefact store (store.ts); these names stay for existing importers.
 */
export {
  EXPERIMENT_CODE_VERSION,
  canonicalJson,
  contentHash,
  experimentCacheRoot,
  cacheEntry,
  fillCacheEntry,
  readCacheInfo,
  removeStaleTemps,
  type CacheEntry,
} from './store.js';
