/** @falign/core public API. */
export { tf, initBackend } from './backend.js';
export type * from './types.js';
export { Llama2cTokenizer } from './tokenizers/llama2c.js';
export { CharTokenizer } from './tokenizers/char.js';
export { ByteTokenizer } from './tokenizers/byte.js';
export type { SpecialTokens } from './tokenizers/specials.js';
export { tokenizerFromJSON, loadTokenizerJSON } from './tokenizers/json.js';
