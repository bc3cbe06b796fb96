/** The divergence registry: built-ins plus user-registered definitions, looked up by name. */
import { BUILTIN_DIVERGENCES } from './builtins.js';
import type { DivergenceDefinition, Interval } from './types.js';

const registry = new Map<string, DivergenceDefinition>(BUILTIN_DIVERGENCES.map((d) => [d.name, d]));

const NUMBER_FNS = ['f', 'fStar', 'link', 'posSide', 'negSide'] as const;
const TENSOR_FNS = ['fStar', 'link', 'posSide', 'negSide'] as const;

function intervalProblem(field: string, iv: unknown): string | null {
  if (typeof iv !== 'object' || iv === null) return `${field}: expected { lo, hi }`;
  const { lo, hi } = iv as Interval;
  if (typeof lo !== 'number' || typeof hi !== 'number' || Number.isNaN(lo) || Number.isNaN(hi)) {
    return `${field}: lo and hi must be numbers (±Infinity allowed)`;
  }
  if (!(lo < hi)) return `${field}: lo (${lo}) must be below hi (${hi})`;
  return null;
}

/** Structural problems of a definition (missing or ill-typed fields); empty when well-formed. */
export function definitionProblems(def: unknown): string[] {
  if (typeof def !== 'object' || def === null) return ['divergence: expected an object'];
  const d = def as Partial<DivergenceDefinition>;
  const problems: string[] = [];
  if (typeof d.name !== 'string' || !/^[a-z][a-z0-9_]*$/i.test(d.name)) {
    problems.push('name: expected an identifier-like string (letters, digits, _)');
  }
  for (const key of NUMBER_FNS) {
    if (typeof d[key] !== 'function') problems.push(`${key}: expected a function (number → number)`);
  }
  if (d.fPrime !== undefined && typeof d.fPrime !== 'function') problems.push('fPrime: expected a function when given');
  if (typeof d.tensor !== 'object' || d.tensor === null) {
    problems.push('tensor: expected { fStar, link, posSide, negSide } tensor functions');
  } else {
    for (const key of TENSOR_FNS) {
      if (typeof d.tensor[key] !== 'function') problems.push(`tensor.${key}: expected a function (Tensor → Tensor)`);
    }
  }
  const dom = intervalProblem('fStarDomain', d.fStarDomain);
  if (dom) problems.push(dom);
  if (d.fDomain !== undefined) {
    const fd = intervalProblem('fDomain', d.fDomain);
    if (fd) problems.push(fd);
  }
  const s = d.slopes;
  if (typeof s !== 'object' || s === null || !Number.isFinite(s.positive) || !Number.isFinite(s.negative)) {
    problems.push('slopes: expected { positive: number, negative: number } (slopes of both sides at v = 0)');
  }
  return problems;
}

/**
 * Registers a user divergence. Throws when the name is taken or a field is missing or ill-typed.
 * It does not run the numerical property checks (they take a moment): call {@link checkDivergence}
 * on your definition in a test, as the built-ins do.
 */
export function registerDivergence(def: DivergenceDefinition): void {
  const problems = definitionProblems(def);
  if (problems.length > 0) {
    const label = typeof def?.name === 'string' ? `'${def.name}'` : '(unnamed)';
    throw new Error(`registerDivergence ${label}: invalid definition:\n  - ${problems.join('\n  - ')}`);
  }
  if (registry.has(def.name)) {
    throw new Error(`registerDivergence: a divergence named '${def.name}' is already registered`);
  }
  registry.set(def.name, def);
}

/** Removes a user-registered divergence (built-ins cannot be removed). Returns whether one was removed. */
export function unregisterDivergence(name: string): boolean {
  if (BUILTIN_DIVERGENCES.some((d) => d.name === name)) {
    throw new Error(`unregisterDivergence: '${name}' is built in and cannot be removed`);
  }
  return registry.delete(name);
}

/** Looks a divergence up by name; unknown names throw an error listing the known ones. */
export function getDivergence(name: string): DivergenceDefinition {
  const def = registry.get(name);
  if (!def) {
    throw new Error(`unknown divergence '${name}'; known: ${[...registry.keys()].join(', ')}`);
  }
  return def;
}

/** Names of every registered divergence, built-ins first. */
export function listDivergences(): string[] {
  return [...registry.keys()];
}

/** Accepts a name or a definition and returns the definition. */
export function resolveDivergence(d: string | DivergenceDefinition): DivergenceDefinition {
  return typeof d === 'string' ? getDivergence(d) : d;
}
