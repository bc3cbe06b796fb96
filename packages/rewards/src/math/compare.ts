/**
 * Equivalence of a gold tree and a predicted tree (Math-Verify's grader stage): exact rationals,
 * float rounding, random-point symbolic testing, structures (sets, intervals, tuples, matrices),
 * relations — with Math-Verify's deliberate asymmetries (see {@link answersMatch}).
 */
import { type MathNode, type RelOp, freeVars, hasFloat, nodeCount, show, someNode } from './ast.js';
import { type Complex, constantValue, exactValue, isScalar, numericValue } from './evaluate.js';
import { Rational, TooLargeError } from './rational.js';
import { simplifiesToZero } from './symbolic.js';

/** Options of the comparison stage. */
export interface CompareOptions {
  /** Decimal places both sides are rounded to when either contains a float literal. Default 6. */
  floatRounding: number;
  /** Optional relative tolerance accepted in addition to rounding (e.g. 1e-4 like Qwen). */
  relTol?: number;
  /** Accept a relation prediction for a gold interval (Math-Verify `allow_set_relation_comp`). Default false. */
  allowSetRelationComp?: boolean;
  /** Epoch ms after which the comparison gives up with a {@link DeadlineError}. */
  deadline?: number;
}

/** Thrown when the cooperative deadline passes during a comparison. */
export class DeadlineError extends Error {
  constructor() {
    super('deadline exceeded');
    this.name = 'DeadlineError';
  }
}

const MAX_ITEMS = 64;
const RANDOM_POINTS = 7;
const MIN_VALID_POINTS = 4;

function checkDeadline(o: CompareOptions): void {
  if (o.deadline !== undefined && Date.now() > o.deadline) throw new DeadlineError();
}

// ---------- numbers ----------

/** Rounds an exact rational half away from zero to `p` decimals, as a scaled BigInt. */
function roundRational(v: Rational, p: number): bigint {
  const scale = 10n ** BigInt(p);
  const num = v.n * scale;
  const neg = num < 0n;
  const a = neg ? -num : num;
  const q = (2n * a + v.d) / (2n * v.d);
  return neg ? -q : q;
}

function roundedEqualNumbers(a: number, b: number, p: number): boolean {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  const scale = 10 ** p;
  const m = Math.max(Math.abs(a), Math.abs(b)) * scale;
  if (m > 2 ** 50) return Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b));
  const r = (x: number) => {
    const y = x * scale;
    return Math.round(y + (y >= 0 ? 1e-7 : -1e-7) * Math.max(1, Math.abs(y) * 1e-9));
  };
  return r(a) === r(b);
}

function relClose(a: number, b: number, tol: number): boolean {
  if (!Number.isFinite(a) || !Number.isFinite(b)) return a === b;
  return Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b));
}

function complexEqual(a: Complex, b: Complex, float: boolean, o: CompareOptions): boolean {
  if ([a.re, a.im, b.re, b.im].some(Number.isNaN)) return false;
  const both = (f: (x: number, y: number) => boolean) => f(a.re, b.re) && f(a.im, b.im);
  if (o.relTol !== undefined && both((x, y) => relClose(x, y, o.relTol as number) || Math.abs(x - y) < 1e-12)) return true;
  if (float) return both((x, y) => roundedEqualNumbers(x, y, o.floatRounding));
  const scale = Math.max(1, Math.hypot(a.re, a.im), Math.hypot(b.re, b.im));
  if (!Number.isFinite(scale)) return a.re === b.re && a.im === b.im;
  return Math.hypot(a.re - b.re, a.im - b.im) <= 1e-9 * scale;
}

/** Seeded PRNG (mulberry32) so the random-point test is reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomEnvs(vars: string[]): Map<string, Complex>[] {
  const r = rng(0x5eed + vars.length);
  const envs: Map<string, Complex>[] = [];
  for (let k = 0; k < RANDOM_POINTS; k++) {
    const env = new Map<string, Complex>();
    // positive reals first (domains of sqrt/log), then a few negative and complex points
    for (const v of vars) {
      const x = 0.3 + 2.7 * r();
      env.set(v, k < 5 ? { re: x, im: 0 } : k === 5 ? { re: -x, im: 0 } : { re: x, im: 0.5 + r() });
    }
    envs.push(env);
  }
  return envs;
}

/** Scalar equivalence: exact, then numeric, then random points, then mathjs simplify. */
export function scalarsEqual(g: MathNode, p: MathNode, o: CompareOptions): boolean {
  if (show(g) === show(p)) return true;
  const float = hasFloat(g) || hasFloat(p);
  const ge = exactValue(g);
  const pe = ge ? exactValue(p) : null;
  if (ge && pe) {
    if (ge.equals(pe)) return true;
    if (o.relTol !== undefined && relClose(ge.toNumber(), pe.toNumber(), o.relTol)) return true;
    if (float) return roundRational(ge, o.floatRounding) === roundRational(pe, o.floatRounding);
    return false;
  }
  const vars = new Set([...freeVars(g), ...freeVars(p)]);
  if (vars.size === 0) return complexEqual(constantValue(g), constantValue(p), float, o);
  if (vars.size > 8) return false;
  // a constant side must have a finite value (overflow → cannot decide; 1/0 → not equal)
  for (const side of [g, p]) {
    if (freeVars(side).size > 0) continue;
    const v = constantValue(side);
    if (![v.re, v.im].every(Number.isFinite)) return false;
  }
  const envs = randomEnvs([...vars].sort());
  let valid = 0;
  let gFinite = false;
  let pFinite = false;
  for (const env of envs) {
    checkDeadline(o);
    const a = numericValue(g, env);
    const b = numericValue(p, env);
    const fa = Number.isFinite(a.re) && Number.isFinite(a.im);
    const fb = Number.isFinite(b.re) && Number.isFinite(b.im);
    gFinite ||= fa;
    pFinite ||= fb;
    if (!fa || !fb) continue;
    if (!complexEqual(a, b, float, o)) return false;
    valid++;
  }
  if (valid >= MIN_VALID_POINTS) return true;
  checkDeadline(o);
  // a side that is undefined (or overflows) at every point is not an answer we can match
  if (!gFinite || !pFinite) return false;
  // simplify cannot be interrupted: only small trees without factorials go to it (the pool bounds it hard anyway)
  const unsupported = (x: MathNode) => x.k === 'fn' && ['fact', 'binom', 'floor', 'ceil', 'sum', 'prod'].includes(x.name);
  if (nodeCount(g) + nodeCount(p) > 120 || someNode(g, unsupported) || someNode(p, unsupported)) return false;
  return simplifiesToZero(g, p);
}

/** Whether d1 = c·d2 for a constant c ≠ 0 (c > 0 when `positive`), by random points. */
function proportional(d1: MathNode, d2: MathNode, positive: boolean, o: CompareOptions): boolean {
  const vars = [...new Set([...freeVars(d1), ...freeVars(d2)])].sort();
  if (vars.length === 0 || vars.length > 8) return false;
  let ratio: Complex | null = null;
  let valid = 0;
  for (const env of randomEnvs(vars)) {
    checkDeadline(o);
    const a = numericValue(d1, env);
    const b = numericValue(d2, env);
    if (![a.re, a.im, b.re, b.im].every(Number.isFinite)) continue;
    const bm = Math.hypot(b.re, b.im);
    const am = Math.hypot(a.re, a.im);
    if (bm < 1e-12 || am < 1e-12) {
      if (bm < 1e-12 && am < 1e-12) continue;
      return false;
    }
    const d = b.re * b.re + b.im * b.im;
    const r = { re: (a.re * b.re + a.im * b.im) / d, im: (a.im * b.re - a.re * b.im) / d };
    if (!ratio) ratio = r;
    else if (!complexEqual(ratio, r, false, { floatRounding: o.floatRounding })) return false;
    valid++;
  }
  if (!ratio || valid < MIN_VALID_POINTS - 1) return false;
  if (positive && !(ratio.re > 0 && Math.abs(ratio.im) < 1e-9 * Math.abs(ratio.re))) return false;
  return true;
}

// ---------- helpers on trees ----------

const isSym = (n: MathNode): n is { k: 'sym'; name: string } => n.k === 'sym' && !['pi', 'e', 'i', 'inf'].includes(n.name);
const isConstant = (n: MathNode) => isScalar(n) && freeVars(n).size === 0;
/** Left side of an assignment: a name (`x`, `f_{(x)}`) or a tuple of names (`(p, q)`). */
const isAssignTarget = (n: MathNode): boolean => isSym(n) || (n.k === 'tuple' && n.items.length > 0 && n.items.every(isSym));

/**
 * An assignment chain `x = e_1 = … = v` (Math-Verify's rule: the first left side is a name)
 * reduced to `x = v`; other relations are returned unchanged.
 */
function truncateAssignment(r: Extract<MathNode, { k: 'rel' }>): Extract<MathNode, { k: 'rel' }> {
  if (r.args.length > 2 && r.ops.every((x) => x === '=') && isAssignTarget(r.args[0]))
    return { k: 'rel', ops: ['='], args: [r.args[0], r.args[r.args.length - 1]] };
  return r;
}
const sub = (a: MathNode, b: MathNode): MathNode => ({ k: 'add', args: [a, { k: 'neg', arg: b }] });
const INF: MathNode = { k: 'sym', name: 'inf' };
const NEG_INF: MathNode = { k: 'neg', arg: INF };

function hasPm(n: MathNode): boolean {
  if (n.k === 'pm') return true;
  if (n.k === 'add' || n.k === 'mul') return n.args.some(hasPm);
  if (n.k === 'neg') return hasPm(n.arg);
  if (n.k === 'div') return hasPm(n.num) || hasPm(n.den);
  if (n.k === 'pow') return hasPm(n.base) || hasPm(n.exp);
  if (n.k === 'fn') return n.args.some(hasPm);
  return false;
}

/** Expands ± into its variants (at most 16), for scalar trees. */
function expandPm(n: MathNode): MathNode[] {
  const prod = (lists: MathNode[][], build: (xs: MathNode[]) => MathNode): MathNode[] => {
    let acc: MathNode[][] = [[]];
    for (const l of lists) {
      const next: MathNode[][] = [];
      for (const a of acc) for (const x of l) next.push([...a, x]);
      acc = next;
      if (acc.length > 16) throw new TooLargeError('± expansion');
    }
    return acc.map(build);
  };
  switch (n.k) {
    case 'pm': {
      const as = expandPm(n.a);
      const bs = expandPm(n.b);
      const out: MathNode[] = [];
      for (const a of as)
        for (const b of bs) {
          out.push({ k: 'add', args: [a, n.sign > 0 ? b : { k: 'neg', arg: b }] });
          out.push({ k: 'add', args: [a, n.sign > 0 ? { k: 'neg', arg: b } : b] });
        }
      if (out.length > 16) throw new TooLargeError('± expansion');
      return out;
    }
    case 'add':
      return prod(n.args.map(expandPm), (xs) => ({ k: 'add', args: xs }));
    case 'mul':
      return prod(n.args.map(expandPm), (xs) => ({ k: 'mul', args: xs }));
    case 'fn':
      return prod(n.args.map(expandPm), (xs) => ({ k: 'fn', name: n.name, args: xs }));
    case 'neg':
      return expandPm(n.arg).map((a) => ({ k: 'neg', arg: a }));
    case 'div':
      return prod([expandPm(n.num), expandPm(n.den)], ([a, b]) => ({ k: 'div', num: a, den: b }));
    case 'pow':
      return prod([expandPm(n.base), expandPm(n.exp)], ([a, b]) => ({ k: 'pow', base: a, exp: b }));
    default:
      return [n];
  }
}

/** Interval (or union) equivalent to a one-variable inequality, or null. */
export function relationToSet(r: Extract<MathNode, { k: 'rel' }>): MathNode | null {
  const lessish = (op: RelOp) => op === '<' || op === '<=';
  const moreish = (op: RelOp) => op === '>' || op === '>=';
  if (r.args.length === 2) {
    let [a, b] = r.args;
    let op = r.ops[0];
    if (!isSym(a) && isSym(b)) {
      [a, b] = [b, a];
      op = op === '<' ? '>' : op === '>' ? '<' : op === '<=' ? '>=' : op === '>=' ? '<=' : op;
    }
    if (!isSym(a) || !isConstant(b)) return null;
    if (lessish(op)) return { k: 'interval', lo: NEG_INF, hi: b, loClosed: false, hiClosed: op === '<=' };
    if (moreish(op)) return { k: 'interval', lo: b, hi: INF, loClosed: op === '>=', hiClosed: false };
    if (op === '!=') return { k: 'union', args: [
      { k: 'interval', lo: NEG_INF, hi: b, loClosed: false, hiClosed: false },
      { k: 'interval', lo: b, hi: INF, loClosed: false, hiClosed: false },
    ] };
    return null;
  }
  if (r.args.length === 3 && isSym(r.args[1]) && isConstant(r.args[0]) && isConstant(r.args[2])) {
    const [o1, o2] = r.ops;
    if (lessish(o1) && lessish(o2)) return { k: 'interval', lo: r.args[0], hi: r.args[2], loClosed: o1 === '<=', hiClosed: o2 === '<=' };
    if (moreish(o1) && moreish(o2)) return { k: 'interval', lo: r.args[2], hi: r.args[0], loClosed: o2 === '>=', hiClosed: o1 === '>=' };
  }
  return null;
}

// ---------- relations ----------

type Rel = Extract<MathNode, { k: 'rel' }>;

/** `lhs op rhs` rewritten as `d op' 0` with op' in {<, <=} (or '=' / '!='). */
function toZeroForm(a: MathNode, op: RelOp, b: MathNode): { d: MathNode; op: RelOp } {
  if (op === '>' || op === '>=') return { d: sub(b, a), op: op === '>' ? '<' : '<=' };
  return { d: sub(a, b), op };
}

function relationsEqual(g: Rel, p: Rel, o: CompareOptions): boolean {
  const eqOnly = (r: Rel) => r.ops.every((x) => x === '=');
  if (eqOnly(g) && eqOnly(p)) {
    if (g.args.length === 2 && p.args.length === 2) {
      const [gl, gr] = g.args;
      const [pl, pr] = p.args;
      if (isSym(gl) && isSym(pl) && gl.name === pl.name) return answersMatch(gr, pr, o);
      if (isAssignTarget(gl) && isAssignTarget(pl)) return show(gl) === show(pl) && answersMatch(gr, pr, o);
      if (isScalar(gl) && isScalar(gr) && isScalar(pl) && isScalar(pr)) {
        if (freeVars(gl).size + freeVars(gr).size === 0) return false;
        return proportional(sub(gl, gr), sub(pl, pr), false, o);
      }
      return answersMatch(gl, pl, o) && answersMatch(gr, pr, o);
    }
    return g.args.length === p.args.length && g.args.every((a, i) => answersMatch(a, p.args[i], o));
  }
  if (g.args.length === 2 && p.args.length === 2 && g.ops[0] !== '=' && p.ops[0] !== '=') {
    if (!g.args.every(isScalar) || !p.args.every(isScalar)) return false;
    const gz = toZeroForm(g.args[0], g.ops[0], g.args[1]);
    const pz = toZeroForm(p.args[0], p.ops[0], p.args[1]);
    if (gz.op !== pz.op) return false;
    return proportional(gz.d, pz.d, gz.op !== '!=', o);
  }
  const gs = relationToSet(g);
  const ps = relationToSet(p);
  if (gs && ps) return answersMatch(gs, ps, o);
  return g.ops.length === p.ops.length && g.ops.every((x, i) => x === p.ops[i]) && g.args.every((a, i) => answersMatch(a, p.args[i], o));
}

// ---------- collections ----------

type Coll = 'tuple' | 'list' | 'set' | 'interval' | 'union';
const isColl = (n: MathNode): boolean => ['tuple', 'list', 'set', 'interval', 'union'].includes(n.k);

function dedupe(items: MathNode[]): MathNode[] {
  const seen = new Set<string>();
  return items.filter((x) => {
    const s = show(x);
    if (seen.has(s)) return false;
    seen.add(s);
    return true;
  });
}

function unorderedEqual(gs: MathNode[], ps: MathNode[], o: CompareOptions): boolean {
  if (gs.length !== ps.length || gs.length > MAX_ITEMS) return false;
  const used = new Array<boolean>(ps.length).fill(false);
  for (const g of gs) {
    let found = false;
    for (let j = 0; j < ps.length && !found; j++) {
      if (!used[j] && answersMatch(g, ps[j], o)) {
        used[j] = true;
        found = true;
      }
    }
    if (!found) return false;
  }
  return true;
}

function orderedEqual(gs: MathNode[], ps: MathNode[], o: CompareOptions): boolean {
  return gs.length === ps.length && gs.length <= MAX_ITEMS && gs.every((g, i) => answersMatch(g, ps[i], o));
}

/** Flattens a union into its finite points and its intervals. */
function flattenUnion(n: MathNode): { points: MathNode[]; intervals: MathNode[] } | null {
  const points: MathNode[] = [];
  const intervals: MathNode[] = [];
  const visit = (x: MathNode): boolean => {
    if (x.k === 'union') return x.args.every(visit);
    if (x.k === 'set') {
      points.push(...x.items);
      return true;
    }
    if (x.k === 'interval') {
      intervals.push(x);
      return true;
    }
    if (x.k === 'tuple' && x.items.length === 2) {
      intervals.push({ k: 'interval', lo: x.items[0], hi: x.items[1], loClosed: false, hiClosed: false });
      return true;
    }
    return false;
  };
  return visit(n) ? { points: dedupe(points), intervals } : null;
}

function collectionsEqual(g: MathNode, p: MathNode, o: CompareOptions): boolean {
  if (!isColl(g) || !isColl(p)) return false;
  const gk = g.k as Coll;
  const pk = p.k as Coll;
  if (gk === 'union' || pk === 'union' || (gk === 'set' && pk === 'interval') || (gk === 'interval' && pk === 'set')) {
    const fg = flattenUnion(g);
    const fp = flattenUnion(p);
    if (!fg || !fp) return false;
    return unorderedEqual(fg.points, fp.points, o) && unorderedEqual(fg.intervals, fp.intervals, o);
  }
  if (gk === 'interval' || pk === 'interval') {
    const asInterval = (x: MathNode) =>
      x.k === 'interval' ? x : x.k === 'tuple' && x.items.length === 2 ? { k: 'interval' as const, lo: x.items[0], hi: x.items[1], loClosed: false, hiClosed: false } : null;
    const gi = asInterval(g);
    const pi = asInterval(p);
    if (!gi || !pi) return false;
    return gi.loClosed === pi.loClosed && gi.hiClosed === pi.hiClosed && answersMatch(gi.lo, pi.lo, o) && answersMatch(gi.hi, pi.hi, o);
  }
  const gi = (g as { items: MathNode[] }).items;
  const pi = (p as { items: MathNode[] }).items;
  if (gk === 'tuple' || pk === 'tuple') return orderedEqual(gi, pi, o);
  return unorderedEqual(dedupe(gi), dedupe(pi), o);
}

// ---------- text ----------

function cleanText(s: string): string {
  return s.toLowerCase().replace(/\\text\{|\}|\s+|[().,:;!"'`*]/g, '');
}

function textsEqual(g: MathNode, p: MathNode): boolean {
  if (g.k === 'text' && p.k === 'text') return cleanText(g.s) !== '' && cleanText(g.s) === cleanText(p.s);
  const [t, other] = g.k === 'text' ? [g, p] : [p, g];
  if (t.k !== 'text') return false;
  // an MCQ letter written as \text{C} / \text{(C)} matches the bare letter C
  const letter = /^\(?\s*([A-Za-z])\s*\)?$/.exec(t.s);
  return !!letter && other.k === 'sym' && other.name === letter[1];
}

// ---------- entry point ----------

const HUNDRED: MathNode = { k: 'num', v: Rational.int(100), float: false };

/**
 * Whether `pred` answers `gold`. Not symmetric, like Math-Verify: a gold inequality accepts an
 * interval prediction but a gold interval does not accept an inequality (unless
 * `allowSetRelationComp`), and a gold value accepts a prediction chain `x = … = value` but a gold
 * chain does not accept its value. Throws TooLargeError / DeadlineError when it cannot decide.
 */
export function answersMatch(g: MathNode, p: MathNode, o: CompareOptions): boolean {
  checkDeadline(o);
  if (hasPm(g) || hasPm(p)) {
    const gs = hasPm(g) ? expandPm(g) : [g];
    const ps = hasPm(p) ? expandPm(p) : [p];
    if (p.k === 'list' || p.k === 'set') return unorderedEqual(dedupe(gs), dedupe(p.items), o);
    if (g.k === 'list' || g.k === 'set') return unorderedEqual(dedupe(g.items), dedupe(ps), o);
    return unorderedEqual(dedupe(gs), dedupe(ps), o);
  }
  if (p.k === 'in') return g.k === 'in' ? answersMatch(g.set, p.set, o) : answersMatch(g, p.set, o);
  if (g.k === 'in') return answersMatch(g.set, p, o);
  if (g.k === 'rel' && p.k === 'rel') return relationsEqual(truncateAssignment(g), truncateAssignment(p), o);
  if (g.k === 'rel') {
    // gold assignment `x = 5` (or `x = 2 + 3 = 5`, `(p, q) = (3, 2)`) accepts `5`; a gold inequality accepts its interval
    const ga = truncateAssignment(g);
    if (ga.args.length === 2 && ga.ops[0] === '=' && isAssignTarget(ga.args[0])) return answersMatch(ga.args[1], p, o);
    const set = relationToSet(g);
    return !!set && isColl(p) && answersMatch(set, p, o);
  }
  if (p.k === 'rel') {
    if (p.ops.every((x) => x === '=')) return answersMatch(g, p.args[p.args.length - 1], o);
    if (o.allowSetRelationComp && isColl(g)) {
      const set = relationToSet(p);
      return !!set && answersMatch(g, set, o);
    }
    return false;
  }
  if (g.k === 'ratio' || p.k === 'ratio') return g.k === 'ratio' && p.k === 'ratio' && orderedEqual(g.items, p.items, o);
  if (g.k === 'pct' && p.k === 'pct') return answersMatch(g.arg, p.arg, o);
  if (g.k === 'pct') return answersMatch(g.arg, p, o) || answersMatch({ k: 'div', num: g.arg, den: HUNDRED }, p, o);
  if (p.k === 'pct') return answersMatch(g, p.arg, o) || answersMatch(g, { k: 'div', num: p.arg, den: HUNDRED }, o);
  if (g.k === 'text' || p.k === 'text') return textsEqual(g, p);
  if (g.k === 'matrix' || p.k === 'matrix') {
    if (g.k !== 'matrix' || p.k !== 'matrix') return false;
    if (g.rows.length !== p.rows.length || g.rows[0].length !== p.rows[0].length) return false;
    return g.rows.every((row, i) => row.every((x, j) => answersMatch(x, p.rows[i][j], o)));
  }
  // `x < -1 \text{ or } x > 1` (a list of one-variable inequalities) is the union of their sets
  if (g.k === 'list' && (isColl(p) || p.k === 'union') && g.items.every((x) => x.k === 'rel')) {
    const sets = g.items.map((x) => relationToSet(x as Rel));
    if (sets.every((x): x is MathNode => x !== null)) return answersMatch({ k: 'union', args: sets }, p, o);
  }
  // several boxes that all give the gold answer (`\boxed{15\frac{39}{40}}, or \boxed{\frac{639}{40}}`)
  if (p.k === 'list' && !isColl(g) && p.items.length <= MAX_ITEMS) return p.items.every((x) => answersMatch(g, x, o));
  if (isColl(g) || isColl(p)) return collectionsEqual(g, p, o);
  if (isScalar(g) && isScalar(p)) return scalarsEqual(g, p, o);
  return false;
}
