/**
 * The weights of a Hugging Face checkpoint directory: `model.safetensors`, or the shards listed
 * by `model.safetensors.index.json`. Only headers are read when opened; tensors are read one at a
 * time on request, so loading never holds the file and the model side by side.
 */
import { readFile, stat } from 'node:fs/promises';
import { join, basename } from 'node:path';
import { SafetensorsReader, type RawTensor, type SafetensorsEntry } from '../checkpoints/safetensors.js';

/** Where one tensor lives. */
export interface HfTensorInfo {
  file: string;
  dtype: SafetensorsEntry['dtype'];
  shape: number[];
}

/** Lazily readable weights of an HF checkpoint; close() releases the files. */
export class HfWeights {
  private constructor(
    /** The file the tensor list came from (model.safetensors or the index), for errors. */
    readonly source: string,
    private readonly readers: Map<string, SafetensorsReader>,
    private readonly where: Map<string, string>,
  ) {}

  /**
   * Opens the weights of `dir`: the sharded index when present, else model.safetensors. Every
   * shard named by the index must exist and hold the tensors the index assigns to it.
   */
  static async open(dir: string): Promise<HfWeights> {
    const indexPath = join(dir, 'model.safetensors.index.json');
    const single = join(dir, 'model.safetensors');
    const readers = new Map<string, SafetensorsReader>();
    const where = new Map<string, string>();
    const closeAll = async () => {
      for (const r of readers.values()) await r.close();
    };
    try {
      if (await exists(indexPath)) {
        let index: unknown;
        try {
          index = JSON.parse(await readFile(indexPath, 'utf8'));
        } catch (err) {
          throw new Error(`${indexPath}: invalid JSON: ${(err as Error).message}`);
        }
        const map = (index as { weight_map?: unknown } | null)?.weight_map;
        if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new Error(`${indexPath}: "weight_map" must be an object of tensor name → shard file`);
        for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
          if (typeof file !== 'string' || file !== basename(file) || file === '..') {
            throw new Error(`${indexPath}: "weight_map.${name}" must be a file name in the checkpoint directory, got ${JSON.stringify(file)}`);
          }
          if (!readers.has(file)) readers.set(file, await SafetensorsReader.open(join(dir, file)));
          if (!readers.get(file)!.entries.has(name)) throw new Error(`${join(dir, file)}: missing tensor "${name}" (listed in ${indexPath})`);
          where.set(name, file);
        }
        return new HfWeights(indexPath, readers, where);
      }
      if (!(await exists(single))) throw new Error(`${dir}: no model.safetensors or model.safetensors.index.json (PyTorch .bin weights are not supported)`);
      const r = await SafetensorsReader.open(single);
      readers.set('model.safetensors', r);
      for (const name of r.entries.keys()) where.set(name, 'model.safetensors');
      return new HfWeights(single, readers, where);
    } catch (err) {
      await closeAll();
      throw err;
    }
  }

  /** Every tensor name. */
  names(): string[] {
    return [...this.where.keys()];
  }

  /** File, dtype and shape of a tensor, or undefined. */
  info(name: string): HfTensorInfo | undefined {
    const file = this.where.get(name);
    if (file === undefined) return undefined;
    const e = this.readers.get(file)!.entries.get(name)!;
    return { file: this.readers.get(file)!.path, dtype: e.dtype, shape: [...e.shape] };
  }

  /** Reads one tensor as float32/int32 data. */
  read(name: string): Promise<RawTensor> {
    const file = this.where.get(name);
    if (file === undefined) throw new Error(`${this.source}: missing tensor "${name}"`);
    return this.readers.get(file)!.read(name);
  }

  async close(): Promise<void> {
    for (const r of this.readers.values()) await r.close();
    this.readers.clear();
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
