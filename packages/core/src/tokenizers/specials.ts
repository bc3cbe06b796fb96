/** Special tokens shared by the synthetic tokenizers (char, byte). */

/** Names of the special tokens; `pad` is required, BOS/EOS optional. */
export interface SpecialTokens {
  bos?: string;
  eos?: string;
  pad: string;
}

/** Ids of the specials, assigned consecutively from `firstId` in the order pad, bos, eos. */
export interface SpecialIds {
  padId: number;
  bosId: number | null;
  eosId: number | null;
  /** Names by id, for the specials present. */
  names: Map<number, string>;
}

/** Validates special-token names and assigns them ids starting at `firstId`. */
export function assignSpecials(specials: SpecialTokens, firstId: number, where: string): SpecialIds {
  if (specials === null || typeof specials !== 'object') throw new Error(`${where}: "specials" must be an object`);
  const seen = new Set<string>();
  const names = new Map<number, string>();
  let next = firstId;
  const take = (key: 'pad' | 'bos' | 'eos', required: boolean): number | null => {
    const v = specials[key];
    if (v === undefined) {
      if (required) throw new Error(`${where}: specials.${key} is required`);
      return null;
    }
    if (typeof v !== 'string' || v.length === 0) throw new Error(`${where}: specials.${key} must be a non-empty string`);
    if (seen.has(v)) throw new Error(`${where}: specials.${key} "${v}" repeats another special token`);
    seen.add(v);
    names.set(next, v);
    return next++;
  };
  const padId = take('pad', true) as number;
  const bosId = take('bos', false);
  const eosId = take('eos', false);
  return { padId, bosId, eosId, names };
}

/** Copy of the specials with only the keys that are set (stable JSON). */
export function specialsJSON(s: SpecialTokens): SpecialTokens {
  const out: SpecialTokens = { pad: s.pad };
  if (s.bos !== undefined) out.bos = s.bos;
  if (s.eos !== undefined) out.eos = s.eos;
  return out;
}
