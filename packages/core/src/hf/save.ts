/**
 * Saving a falign model in Hugging Face layout (what `AutoModelForCausalLM.from_pretrained`
 * opens): config.json with `architectures`/`model_type`, model.safetensors with HF tensor names
 * and layouts (F32, tied heads omitted as `save_pretrained` does), generation_config.json, and the
 * tokenizer files. Written into a temp directory and renamed into place, like falign checkpoints.
 */
import { copyFile, open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathExists, replaceDirAtomically, writeSynced } from '../checkpoints/atomic-dir.js';
import type { DecoderLM } from '../model/decoder.js';
import { HfTokenizer } from '../tokenizers/hf.js';
import type { Tokenizer } from '../types.js';
import { modelConfigToHf, type HfArchitecture } from './config.js';

/** What {@link saveHfCheckpoint} stores. */
export interface SaveHfInput {
  model: DecoderLM;
  /** Must be an {@link HfTokenizer}: HF layout has no place for falign's char/byte/llama2c tokenizers. */
  tokenizer: Tokenizer;
  /**
   * The HF directory the model was loaded from: its config.json fields are kept (falign's own
   * fields win) and its tokenizer side files (vocab.json, merges.txt, tokenizer.model,
   * special_tokens_map.json, and the tokenizer JSON files themselves) are copied byte for byte.
   */
  sourceDir?: string;
  /** Architecture to declare; default from the config (see modelConfigToHf). */
  architecture?: HfArchitecture;
}

/** Tokenizer files copied verbatim from the source directory when present. */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.json', 'merges.txt', 'tokenizer.model', 'added_tokens.json'];

/** Writes the model's weights as F32 safetensors, one tensor at a time after the header. */
async function writeWeights(path: string, model: DecoderLM): Promise<void> {
  const shapes = model.weightShapes();
  const names = Object.keys(shapes).sort();
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const n of names) {
    const count = shapes[n].reduce((a, b) => a * b, 1);
    header[n] = { dtype: 'F32', shape: shapes[n], data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const fh = await open(path, 'w');
  try {
    await fh.write(len);
    await fh.write(json);
    const weights = model.getWeights();
    try {
      for (const n of names) {
        const t = weights[n];
        const data = (await t.data()) as Float32Array; // awaited: webgpu in Node has no synchronous read
        await fh.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        t.dispose();
        delete weights[n];
      }
    } finally {
      for (const t of Object.values(weights)) t.dispose();
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Saves `model` and its HF tokenizer to `dir` in Hugging Face layout; `loadHfModel(dir)` (falign)
 * and `from_pretrained(dir)` (transformers) read it back.
 */
export async function saveHfCheckpoint(dir: string, input: SaveHfInput): Promise<void> {
  const { model, tokenizer, sourceDir } = input;
  if (!(tokenizer instanceof HfTokenizer)) {
    throw new Error(`saveHfCheckpoint: a "${tokenizer.kind}" tokenizer has no Hugging Face form; only models with an HF tokenizer (hf:DIR) can be saved in HF layout`);
  }
  let base: Record<string, unknown> | undefined;
  if (sourceDir && (await pathExists(join(sourceDir, 'config.json')))) {
    base = JSON.parse(await readFile(join(sourceDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  }
  const tokJson = tokenizer.toJSON() as { tokenizer: object; config: object; generation?: Record<string, unknown> };
  const eos = tokenizer.eosIds.length > 1 ? [...tokenizer.eosIds] : tokenizer.eosId;
  const config = modelConfigToHf(model.config, {
    ...(base ? { base } : {}),
    ...(input.architecture ? { architecture: input.architecture } : {}),
    bosTokenId: tokenizer.bosId ?? (typeof base?.bos_token_id === 'number' ? base.bos_token_id : null),
    eosTokenId: eos,
  });

  await replaceDirAtomically(dir, async (tmp) => {
    await writeWeights(join(tmp, 'model.safetensors'), model);
    await writeSynced(join(tmp, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    const generation: Record<string, unknown> = { ...(tokJson.generation ?? {}) };
    if (eos !== null) generation.eos_token_id = eos;
    if (tokenizer.bosId !== null) generation.bos_token_id = tokenizer.bosId;
    await writeSynced(join(tmp, 'generation_config.json'), `${JSON.stringify(generation, null, 2)}\n`);
    const copied = new Set<string>();
    if (sourceDir) {
      for (const f of TOKENIZER_FILES) {
        if (await pathExists(join(sourceDir, f))) {
          await copyFile(join(sourceDir, f), join(tmp, f));
          copied.add(f);
        }
      }
    }
    if (!copied.has('tokenizer.json')) await writeSynced(join(tmp, 'tokenizer.json'), JSON.stringify(tokJson.tokenizer));
    if (!copied.has('tokenizer_config.json')) await writeSynced(join(tmp, 'tokenizer_config.json'), `${JSON.stringify(tokJson.config, null, 2)}\n`);
  });
}
