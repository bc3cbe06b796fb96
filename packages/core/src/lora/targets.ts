/**
 * Which projections of a decoder can carry a LoRA adapter, and where each one sits inside the
 * decoder's (possibly fused) weight variables. Pure: reads the parameter table only.
 */
import { paramSpecs, type ArchDims } from '../model/params.js';

/** One adaptable projection: a Hugging Face module and its column block in an internal weight. */
export interface LoraTarget {
  /** HF module path, e.g. `model.layers.3.self_attn.q_proj` (its weight is `<module>.weight`). */
  module: string;
  /** Last path component (`q_proj`, `c_attn`…): what `target_modules` matches. */
  name: string;
  /** Internal weight variable key (e.g. the fused `model.layers.3.self_attn.qkv`). */
  key: string;
  /** First column of this module's block in the internal [in, out] weight, and its width (= out). */
  col: number;
  out: number;
  in: number;
  /** Whether HF stores the weight [out, in] (nn.Linear) rather than [in, out] (GPT-2 Conv1D). */
  hfTransposed: boolean;
}

/** Every projection of the model that LoRA can target (all 2-D weights but embeddings and head). */
export function adaptableModules(config: ArchDims): LoraTarget[] {
  const out: LoraTarget[] = [];
  for (const s of paramSpecs(config)) {
    if (s.shape.length !== 2 || !/\.(layers|h)\.\d+\./.test(s.key)) continue;
    let col = 0;
    for (const p of s.parts) {
      if (p.name.endsWith('.weight')) {
        const module = p.name.slice(0, -'.weight'.length);
        out.push({ module, name: module.slice(module.lastIndexOf('.') + 1), key: s.key, col, out: p.cols, in: s.shape[0], hfTransposed: p.transposed });
      }
      col += p.cols;
    }
  }
  return out;
}

/**
 * The modules matched by `targetModules` (PEFT semantics: a name matches a module whose path
 * ends with `.name`). A name matching nothing is an error that lists the known names.
 */
export function selectTargets(config: ArchDims, targetModules: readonly string[] | 'all-linear', where = 'lora.targetModules'): LoraTarget[] {
  const all = adaptableModules(config);
  if (targetModules === 'all-linear') return all;
  const known = [...new Set(all.map((t) => t.name))];
  for (const t of targetModules) {
    if (!all.some((m) => m.name === t || m.module === t || m.module.endsWith(`.${t}`))) {
      throw new Error(`${where}: "${t}" matches no projection of this ${config.arch} model (known: ${known.join(', ')})`);
    }
  }
  return all.filter((m) => targetModules.some((t) => m.name === t || m.module === t || m.module.endsWith(`.${t}`)));
}
