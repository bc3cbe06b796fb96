/**
 * From per-run results to the experiments' tables and to the "which claims held" verdicts.
 * Pure functions: run results in, tables and claims out. Claims are computed from the numbers,
 * never written by hand; each says what the paper reported, what happened here, and whether the
 * difference is larger than twice its standard error over seeds.
 */
import { aggregateSeeds, type Cell, type ResultTable } from '../report/table.js';
import { MATH_TIERS, tierSteps, type MathTier } from './generators/math.js';
import type { ExperimentConfig, StageConfig } from './config/schema.js';
import type { RunResult } from './steps/run-dir.js';
import type { BaseEval } from './steps/evaluate.js';
import type { SafetyScores } from './eval/safety-eval.js';
import type { ExperimentSummary, SummaryDifference } from './summary.js';
import { formatDifference, type Verdict } from './stats.js';

/** Name of the base-policy row in every table. */
export const BASE_ROW = 'Base (SFT)';

/** One method's finished runs. */
export interface MethodRuns {
  id: string;
  name: string;
  stage: StageConfig;
  runs: RunResult[];
}

/** Whether a method is the random-reward control (its training reward ignores the output). */
export function isRandomControl(m: Pick<MethodRuns, 'stage'>): boolean {
  return 'randomReward' in m.stage && m.stage.randomReward !== undefined;
}

/** The reference RL method of Experiment 1: GRPO with the task's reward (not the control). */
export function grpoMethod(methods: readonly MethodRuns[]): MethodRuns | undefined {
  return methods.find((m) => m.stage.algorithm === 'grpo' && !isRandomControl(m));
}

/** Header of a math tier column. */
export function tierLabel(tier: MathTier): string {
  return tier === 'distractor' ? `Distractor (${tierSteps(tier)} steps + noise)` : `Tier ${tier.slice(1)} (${tierSteps(tier)} step${tierSteps(tier) > 1 ? 's' : ''})`;
}

function meanOf(xs: readonly number[]): number {
  return xs.reduce((a, x) => a + x, 0) / xs.length;
}

function stderrOf(xs: readonly number[]): number {
  if (xs.length < 2) return Number.NaN;
  const m = meanOf(xs);
  return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1) / xs.length);
}

/** A seed-aggregated cell (mean ± stderr over seeds, n = seeds), or null without values. */
export function seedCell(values: readonly number[]): Cell | null {
  const ok = values.filter((v) => Number.isFinite(v));
  if (ok.length === 0) return null;
  return aggregateSeeds(ok.map((mean) => ({ mean })));
}

/** Experiment 1 table: pass@1 (%) per tier, base row first; `mode` picks greedy or sampled. */
export function mathTable(base: Extract<BaseEval, { task: 'math' }>, methods: readonly MethodRuns[], mode: 'greedy' | 'sampled' = 'greedy'): ResultTable {
  const pick = (tiers: Record<MathTier, { greedy: number; sampled: number | null }>, t: MathTier) => {
    const v = mode === 'greedy' ? tiers[t].greedy : tiers[t].sampled;
    return v === null ? Number.NaN : 100 * v;
  };
  const rows = [
    { name: BASE_ROW, cells: Object.fromEntries(MATH_TIERS.map((t) => [t, Number.isFinite(pick(base.tiers, t)) ? { mean: pick(base.tiers, t), n: 1 } : null])) },
    ...methods.map((m) => ({
      name: m.name,
      cells: Object.fromEntries(
        MATH_TIERS.map((t) => [t, seedCell(m.runs.map((r) => (r.final.task === 'math' ? pick(r.final.tiers, t) : Number.NaN)))]),
      ),
    })),
  ];
  return {
    columns: MATH_TIERS.map((t) => ({ key: t, label: tierLabel(t), higherIsBetter: true })),
    rows,
    caption: `Held-out pass@1 (${mode}, %) per tier; mean ± stderr over seeds.`,
  };
}

/**
 * Relative Overall per seed: each seed's tier accuracies normalised with the table's base and
 * best means (base = 0, best = 100) and averaged; the mean over seeds equals the table's value,
 * the spread gives a standard error.
 */
export function relativeOverallBySeed(table: ResultTable, methods: readonly MethodRuns[]): Record<string, { mean: number; stderr: number; perSeed: number[] }> {
  const baseRow = table.rows.find((r) => r.name === BASE_ROW);
  if (!baseRow) throw new Error(`relativeOverallBySeed: table has no '${BASE_ROW}' row`);
  const scale: Record<string, { base: number; best: number }> = {};
  for (const col of table.columns) {
    const b = baseRow.cells[col.key]?.mean;
    const vals = table.rows.map((r) => r.cells[col.key]?.mean).filter((v): v is number => v !== undefined && Number.isFinite(v));
    if (b === undefined || !Number.isFinite(b) || vals.length === 0) continue;
    const best = Math.max(...vals);
    if (best > b) scale[col.key] = { base: b, best };
  }
  const keys = Object.keys(scale) as MathTier[];
  const out: Record<string, { mean: number; stderr: number; perSeed: number[] }> = {};
  for (const m of methods) {
    const perSeed = m.runs
      .filter((r) => r.final.task === 'math')
      .map((r) => {
        const tiers = (r.final as Extract<BaseEval, { task: 'math' }>).tiers;
        return keys.length === 0 ? Number.NaN : meanOf(keys.map((k) => (100 * (100 * tiers[k].greedy - scale[k].base)) / (scale[k].best - scale[k].base)));
      });
    out[m.name] = { mean: meanOf(perSeed), stderr: stderrOf(perSeed), perSeed };
  }
  return out;
}

/**
 * The base policy per tier: greedy pass@1, sampled pass@1, pass@k and the share of prompts whose
 * k samples all agree (a GRPO group of that size would carry no signal), in %. Null without samples.
 */
export function baseTierTable(base: Extract<BaseEval, { task: 'math' }>, k: number): ResultTable | null {
  if (k <= 0 || MATH_TIERS.some((t) => base.tiers[t].passAtK === undefined || base.tiers[t].passAtK === null)) return null;
  const pct = (v: number | null | undefined): Cell | null => (v === null || v === undefined || !Number.isFinite(v) ? null : { mean: 100 * v });
  return {
    columns: [
      { key: 'greedy', label: 'pass@1 greedy (%)', higherIsBetter: true },
      { key: 'sampled', label: 'pass@1 sampled (%)', higherIsBetter: true },
      { key: 'passk', label: `pass@${k} (%)`, higherIsBetter: true },
      { key: 'zero', label: `zero-variance groups of ${k} (%)`, higherIsBetter: false },
    ],
    rows: MATH_TIERS.map((t) => ({
      name: tierLabel(t),
      cells: { greedy: pct(base.tiers[t].greedy), sampled: pct(base.tiers[t].sampled), passk: pct(base.tiers[t].passAtK), zero: pct(base.tiers[t].zeroVariance) },
    })),
    caption: `The SFT base per tier on the test split: greedy and sampled pass@1, pass@${k}, and the share of prompts whose ${k} samples are all right or all wrong.`,
  };
}

/** Experiment 2 columns (all on a 0–100 scale except the raw RM score). */
export const SAFETY_COLUMNS = [
  { key: 'refusal_harmful', label: 'Refusal on harmful (%)', higherIsBetter: true, of: (s: SafetyScores) => 100 * s.refusalHarmful },
  { key: 'over_refusal_benign', label: 'Over-refusal on benign (%)', higherIsBetter: false, of: (s: SafetyScores) => 100 * s.overRefusalBenign },
  { key: 'true_score', label: 'True safety score (%)', higherIsBetter: true, of: (s: SafetyScores) => 100 * s.trueScore },
  { key: 'rm_normalized', label: 'RM score (normalised, %)', higherIsBetter: true, of: (s: SafetyScores) => 100 * s.rmNormalized },
  { key: 'rm_raw', label: 'RM score (raw)', higherIsBetter: true, of: (s: SafetyScores) => s.rmScore },
  { key: 'hacking_gap', label: 'Hacking gap (points)', higherIsBetter: false, of: (s: SafetyScores) => 100 * s.hackingGap },
] as const;

/** Experiment 2 table, base row first. */
export function safetyTable(base: Extract<BaseEval, { task: 'safety' }>, methods: readonly MethodRuns[]): ResultTable {
  return {
    columns: SAFETY_COLUMNS.map((c) => ({ key: c.key, label: c.label, higherIsBetter: c.higherIsBetter })),
    rows: [
      { name: BASE_ROW, cells: Object.fromEntries(SAFETY_COLUMNS.map((c) => [c.key, finiteCell(c.of(base.scores))])) },
      ...methods.map((m) => ({
        name: m.name,
        cells: Object.fromEntries(SAFETY_COLUMNS.map((c) => [c.key, seedCell(m.runs.map((r) => (r.final.task === 'safety' ? c.of(r.final.scores) : Number.NaN)))])),
      })),
    ],
    caption: 'Held-out safety (greedy answers); mean ± stderr over seeds.',
  };
}

function finiteCell(v: number): Cell | null {
  return Number.isFinite(v) ? { mean: v, n: 1 } : null;
}

/** A verdict on one of the paper's claims at this scale. */
export interface Claim {
  claim: string;
  /** What the paper reported. */
  paper: string;
  /** true / false, or null when it could not be decided (missing methods or values). */
  held: boolean | null;
  /** The numbers behind the verdict. */
  detail: string;
}

/** Difference a − b with the stderr of the difference (independent seeds). */
export function difference(a: { mean: number; stderr: number }, b: { mean: number; stderr: number }): { delta: number; stderr: number; clear: boolean } {
  const se = Math.sqrt((Number.isFinite(a.stderr) ? a.stderr ** 2 : 0) + (Number.isFinite(b.stderr) ? b.stderr ** 2 : 0));
  const delta = a.mean - b.mean;
  return { delta, stderr: se, clear: se > 0 ? Math.abs(delta) > 2 * se : false };
}

function fmtDiff(d: { delta: number; stderr: number; clear: boolean }, unit = ''): string {
  const sign = d.delta >= 0 ? '+' : '';
  if (!(d.stderr > 0)) return `Δ = ${sign}${d.delta.toFixed(1)}${unit} (no spread over seeds, or one seed: no standard error, so no significance test)`;
  return `Δ = ${sign}${d.delta.toFixed(1)}${unit} ± ${d.stderr.toFixed(1)}${unit} (${d.clear ? 'more than 2 stderr' : 'within 2 stderr: not distinguishable at this number of seeds'})`;
}

/** Experiment 1 verdicts. */
export function mathClaims(table: ResultTable, methods: readonly MethodRuns[], summary?: ExperimentSummary): Claim[] {
  const ro = relativeOverallBySeed(table, methods);
  const grpo = grpoMethod(methods);
  const fgrpo = methods.filter((m) => m.stage.algorithm === 'fgrpo');
  const claims: Claim[] = summary ? pairedMathClaims(summary, methods) : [];
  if (!grpo || fgrpo.length === 0) {
    return [{ claim: 'f-GRPO beats GRPO on Relative Overall', paper: 'all six f-GRPO variants above GRPO', held: null, detail: 'the experiment lacks a GRPO or an f-GRPO method' }];
  }
  const g = ro[grpo.name];
  if (!Number.isFinite(g.mean) || fgrpo.some((m) => !Number.isFinite(ro[m.name].mean))) {
    claims.push({
      claim: 'f-GRPO beats GRPO on Relative Overall',
      paper: 'all six f-GRPO variants above GRPO',
      held: null,
      detail: 'Relative Overall is undefined: no method improved over the base on any tier, so there is no scale to normalise by',
    });
  } else {
    claims.push(...relativeOverallClaims(grpo, fgrpo, ro));
  }
  const baseMean = meanOf(MATH_TIERS.map((t) => table.rows.find((r) => r.name === BASE_ROW)?.cells[t]?.mean ?? Number.NaN));
  const rl = methods.filter((m) => (m.stage.algorithm === 'grpo' || m.stage.algorithm === 'fgrpo') && !isRandomControl(m));
  const improved = rl.filter((m) => {
    const row = table.rows.find((r) => r.name === m.name);
    return row ? meanOf(MATH_TIERS.map((t) => row.cells[t]?.mean ?? Number.NaN)) > baseMean : false;
  });
  claims.push({
    claim: 'RL training with the task reward improves mean pass@1 over the SFT base',
    paper: 'yes, for every method',
    held: improved.length === rl.length,
    detail: `${improved.length} of ${rl.length} GRPO/f-GRPO methods above the base's mean pass@1 (${baseMean.toFixed(1)}%)`,
  });
  return claims;
}

/** held = true / false / null from a verdict (null: the interval includes 0). */
function heldOf(v: Verdict, wanted: Verdict): boolean | null {
  if (v === 'not resolved') return null;
  return v === wanted;
}

/** `Δ = +12.3 points, 95 % CI [+4.1, +20.5] (better)` */
export function describeDifference(d: SummaryDifference | null, unit = ' points'): string {
  if (!d) return 'no paired difference';
  return `Δ = ${formatDifference(d)}${unit} (95 % CI over ${d.seeds.length} shared seed${d.seeds.length === 1 ? '' : 's'}; ${d.verdict})`;
}

/**
 * The paired (per-seed) verdicts of Experiment 1: GRPO vs the base, the controls vs the base and
 * vs GRPO, and every f-GRPO divergence vs GRPO — each with a 95 % t-interval.
 */
export function pairedMathClaims(summary: ExperimentSummary, methods: readonly MethodRuns[]): Claim[] {
  const row = (m: MethodRuns | undefined) => (m ? summary.rows.find((r) => r.name === m.name) : undefined);
  const grpo = row(grpoMethod(methods));
  const random = row(methods.find(isRandomControl));
  const noRl = row(methods.find((m) => m.stage.algorithm === 'sft'));
  const claims: Claim[] = [];
  if (grpo) {
    claims.push({
      claim: `${grpo.name} improves held-out mean pass@1 over the SFT base`,
      paper: 'yes (RLVR improves the base on every benchmark)',
      held: heldOf(grpo.vsBase?.verdict ?? 'not resolved', 'better'),
      detail: `${grpo.mean.toFixed(1)}% vs ${summary.rows[0].mean.toFixed(1)}%; ${describeDifference(grpo.vsBase)}`,
    });
  }
  if (random) {
    claims.push({
      claim: `The random-reward control (${random.name}) does not improve over the SFT base`,
      paper: 'expected: rewards independent of the output carry no information',
      held: random.vsBase ? random.vsBase.verdict !== 'better' : null,
      detail: `${random.mean.toFixed(1)}%; ${describeDifference(random.vsBase)}`,
    });
    if (grpo) {
      claims.push({
        claim: `${grpo.name} beats the random-reward control`,
        paper: 'expected: the learning comes from the reward, not from the update noise',
        held: heldOf(random.vsGrpo?.verdict ?? 'not resolved', 'worse'),
        detail: `control − ${grpo.name}: ${describeDifference(random.vsGrpo)}`,
      });
    }
  }
  if (noRl && grpo) {
    claims.push({
      claim: `${grpo.name} beats the SFT base trained on for the same number of steps (${noRl.name})`,
      paper: 'not reported (no such control in the paper)',
      held: heldOf(noRl.vsGrpo?.verdict ?? 'not resolved', 'worse'),
      detail: `${noRl.name} ${noRl.mean.toFixed(1)}%; ${noRl.name} − ${grpo.name}: ${describeDifference(noRl.vsGrpo)}`,
    });
  }
  for (const m of methods.filter((x) => x.stage.algorithm === 'fgrpo')) {
    const r = row(m);
    if (!r || !grpo) continue;
    claims.push({
      claim: `${r.name} beats ${grpo.name} on held-out mean pass@1`,
      paper: 'yes: every f-GRPO divergence above GRPO on Relative Overall (Qwen2.5-Math-1.5B)',
      held: heldOf(r.vsGrpo?.verdict ?? 'not resolved', 'better'),
      detail: `${r.mean.toFixed(1)}% vs ${grpo.mean.toFixed(1)}%; ${describeDifference(r.vsGrpo)}`,
    });
  }
  return claims;
}

/**
 * Paired table of Experiment 1: absolute mean pass@1 (± stderr over seeds), and the paired
 * differences vs the base and vs GRPO (± = half-width of the 95 % t-interval).
 */
export function mathPairedTable(summary: ExperimentSummary): ResultTable {
  const half = (d: SummaryDifference | null): Cell | null =>
    d && Number.isFinite(d.mean) ? { mean: d.mean, ...(d.ci95 ? { stderr: (d.ci95[1] - d.ci95[0]) / 2 } : {}), n: d.seeds.length } : null;
  return {
    columns: [
      { key: 'mean', label: 'Mean pass@1 (%)', higherIsBetter: true },
      { key: 'vs_base', label: 'Δ vs base (points, ± 95 % CI)', higherIsBetter: true },
      { key: 'vs_grpo', label: `Δ vs ${summary.reference} (points, ± 95 % CI)`, higherIsBetter: true },
    ],
    rows: summary.rows.map((r) => {
      const xs = Object.values(r.perSeed);
      return {
        name: r.name,
        cells: { mean: seedCell(xs), vs_base: half(r.vsBase), vs_grpo: half(r.vsGrpo) },
      };
    }),
    caption: 'Held-out mean pass@1 over the tiers and paired per-seed differences (95 % t-interval half-width after ±).',
  };
}

/**
 * How each method was optimised, from its metrics.jsonl lines: mean gradient norm, share of steps
 * whose gradient was clipped, share of zero-variance groups, and the last step's KL and entropy.
 */
export function optimisationTable(rows: readonly { name: string; steps: readonly Record<string, number>[][] }[]): ResultTable {
  const meanOfKey = (runs: readonly Record<string, number>[][], key: string, scale = 1, last = false) => {
    const perRun = runs
      .map((steps) => {
        const vs = (last ? steps.slice(-1) : steps).map((m) => m[key]).filter((v) => Number.isFinite(v));
        return vs.length ? (scale * vs.reduce((a, v) => a + v, 0)) / vs.length : Number.NaN;
      })
      .filter((v) => Number.isFinite(v));
    return seedCell(perRun);
  };
  return {
    columns: [
      { key: 'grad_norm', label: 'Grad norm (mean)', higherIsBetter: false },
      { key: 'clipped', label: 'Steps clipped (%)', higherIsBetter: false },
      { key: 'zero_std', label: 'Zero-variance groups (%)', higherIsBetter: false },
      { key: 'kl', label: 'KL to reference (last step)', higherIsBetter: false },
      { key: 'entropy', label: 'Entropy (last step, nats/token)', higherIsBetter: true },
    ],
    rows: rows.map((r) => ({
      name: r.name,
      cells: {
        grad_norm: meanOfKey(r.steps, 'grad_norm'),
        clipped: meanOfKey(r.steps, 'grad_clipped', 100),
        zero_std: meanOfKey(r.steps, 'frac_reward_zero_std', 100),
        kl: meanOfKey(r.steps, 'kl', 1, true),
        entropy: meanOfKey(r.steps, 'entropy', 1, true),
      },
    })),
    caption: 'Optimisation per method (mean ± stderr over seeds).',
  };
}

/** The Relative Overall claims of Experiment 1 (RO defined for every method). */
function relativeOverallClaims(grpo: MethodRuns, fgrpo: readonly MethodRuns[], ro: ReturnType<typeof relativeOverallBySeed>): Claim[] {
  const g = ro[grpo.name];
  const claims: Claim[] = [];
  const wins = fgrpo.filter((m) => ro[m.name].mean > g.mean);
  claims.push({
    claim: `Every f-GRPO variant beats ${grpo.name} on Relative Overall`,
    paper: 'yes: GRPO 74.26 vs f-GRPO 78.99–86.49 (Qwen2.5-Math-1.5B)',
    held: wins.length === fgrpo.length,
    detail: `${wins.length} of ${fgrpo.length} variants above ${grpo.name} (${g.mean.toFixed(1)}): ${fgrpo.map((m) => `${m.name} ${ro[m.name].mean.toFixed(1)}`).join(', ')}`,
  });
  const best = [...fgrpo].sort((a, b) => ro[b.name].mean - ro[a.name].mean)[0];
  const dBest = difference(ro[best.name], g);
  claims.push({
    claim: `The best f-GRPO variant (${best.name}) beats ${grpo.name} on Relative Overall`,
    paper: 'yes (Pearson best, 86.49 vs 74.26)',
    // Within two standard errors the sign is not resolved: undecided rather than held.
    held: dBest.clear ? dBest.delta > 0 : null,
    detail: fmtDiff(dBest),
  });
  const pearson = fgrpo.find((m) => m.stage.algorithm === 'fgrpo' && m.stage.divergence === 'pearson');
  if (pearson) {
    const d = difference(ro[pearson.name], g);
    claims.push({ claim: `${pearson.name} beats ${grpo.name} on Relative Overall`, paper: 'yes (the paper\'s best divergence for math)', held: d.clear ? d.delta > 0 : null, detail: fmtDiff(d) });
    claims.push({
      claim: 'Pearson χ² is the best divergence here',
      paper: 'Pearson best in the main math table; the best divergence differs across settings',
      held: best === pearson,
      detail: `best: ${best.name} (${ro[best.name].mean.toFixed(1)})`,
    });
  }
  return claims;
}

/** The safety method with algorithm `alg` (and λ when given). */
function findStage(methods: readonly MethodRuns[], alg: StageConfig['algorithm'], lambda?: number): MethodRuns | undefined {
  return methods.find((m) => m.stage.algorithm === alg && (lambda === undefined || (m.stage.algorithm === 'fhal' && m.stage.lambda === lambda)));
}

/** Per-method seed statistics of one safety metric. */
function safetyStat(m: MethodRuns, of: (s: SafetyScores) => number): { mean: number; stderr: number } {
  const xs = m.runs.filter((r) => r.final.task === 'safety').map((r) => of((r.final as Extract<BaseEval, { task: 'safety' }>).scores));
  return { mean: meanOf(xs), stderr: stderrOf(xs) };
}

/** Experiment 2 verdicts. */
export function safetyClaims(base: Extract<BaseEval, { task: 'safety' }>, methods: readonly MethodRuns[]): Claim[] {
  const onPolicy = findStage(methods, 'fgrpo');
  const half = findStage(methods, 'fhal', 0.5);
  const fdo = findStage(methods, 'fdo');
  const gap = (s: SafetyScores) => 100 * s.hackingGap;
  const truth = (s: SafetyScores) => 100 * s.trueScore;
  const claims: Claim[] = [];
  if (onPolicy) {
    const g = safetyStat(onPolicy, gap);
    const d = difference(g, { mean: gap(base.scores), stderr: 0 });
    claims.push({
      claim: `On-policy training against the learned reward model (${onPolicy.name}) hacks it: the hacking gap grows over the base's`,
      paper: 'pure on-policy optimisation of a learned reward model hacks it',
      held: d.delta > 0,
      detail: `gap ${g.mean.toFixed(1)} vs base ${gap(base.scores).toFixed(1)} points; ${fmtDiff(d, ' pts')}`,
    });
  }
  if (onPolicy && half) {
    const d = difference(safetyStat(onPolicy, gap), safetyStat(half, gap));
    claims.push({
      claim: `${half.name} has a smaller hacking gap than ${onPolicy.name}`,
      paper: 'yes: the offline term anchors the policy',
      held: d.delta > 0,
      detail: fmtDiff(d, ' pts'),
    });
    const t = difference(safetyStat(half, truth), safetyStat(onPolicy, truth));
    claims.push({
      claim: `${half.name} has a higher true (keyword-judge) safety score than ${onPolicy.name}`,
      paper: 'yes',
      held: t.delta > 0,
      detail: fmtDiff(t, ' pts'),
    });
  }
  if (half) {
    const ranked = [...methods].sort((a, b) => safetyStat(b, truth).mean - safetyStat(a, truth).mean);
    claims.push({
      claim: `${half.name} gives the best safety/utility balance (highest true safety score = mean of refusing harmful and answering benign prompts)`,
      paper: 'yes: λ around 0.5 balances safety and utility best',
      held: ranked[0] === half,
      detail: ranked.map((m) => `${m.name} ${safetyStat(m, truth).mean.toFixed(1)}`).join(', '),
    });
  }
  if (fdo && onPolicy) {
    const d = difference(safetyStat(onPolicy, gap), safetyStat(fdo, gap));
    claims.push({ claim: `Offline ${fdo.name} has a smaller hacking gap than on-policy ${onPolicy.name}`, paper: 'implied (offline data cannot exploit the reward model)', held: d.delta > 0, detail: fmtDiff(d, ' pts') });
  }
  if (claims.length === 0) claims.push({ claim: 'f-HAL resists reward hacking', paper: 'yes', held: null, detail: 'the experiment lacks the f-GRPO (λ = 0) or f-HAL methods' });
  return claims;
}

/** Markdown lines of a claims list. */
export function renderClaims(claims: readonly Claim[]): string[] {
  return claims.map((c) => `- **${c.held === null ? 'undecided' : c.held ? 'held' : 'did not hold'}** — ${c.claim}. Paper: ${c.paper}. Here: ${c.detail}.`);
}

/** Group run results by method, in the experiment's method order. */
export function groupByMethod(exp: ExperimentConfig, stages: readonly StageConfig[], ids: readonly string[], results: readonly RunResult[]): MethodRuns[] {
  return exp.methods.map((m, i) => ({
    id: ids[i],
    name: m.name,
    stage: stages[i],
    runs: results.filter((r) => r.labels.methodId === ids[i]).sort((a, b) => a.seed - b.seed),
  }));
}

/**
 * Paired table of Experiment 2: per method the hacking gap and the true safety score with their
 * paired differences vs the on-policy row (± = half-width of the 95 % t-interval).
 */
export function safetyPairedTable(summary: ExperimentSummary): ResultTable {
  const half = (d: SummaryDifference | null | undefined): Cell | null =>
    d && Number.isFinite(d.mean) ? { mean: d.mean, ...(d.ci95 ? { stderr: (d.ci95[1] - d.ci95[0]) / 2 } : {}), n: d.seeds.length } : null;
  return {
    columns: [
      { key: 'gap', label: 'Hacking gap (points)', higherIsBetter: false },
      { key: 'gap_vs_ref', label: `Δ gap vs ${summary.reference} (± 95 % CI)`, higherIsBetter: false },
      { key: 'true', label: 'True safety score (%)', higherIsBetter: true },
      { key: 'true_vs_ref', label: `Δ true score vs ${summary.reference} (± 95 % CI)`, higherIsBetter: true },
      { key: 'rm_vs_base', label: 'Δ RM score vs base (± 95 % CI)', higherIsBetter: true },
    ],
    rows: summary.rows.map((r) => {
      const gap = r.metrics?.hacking_gap;
      return {
        name: r.name,
        cells: {
          gap: gap ? seedCell(Object.values(gap.perSeed)) : null,
          gap_vs_ref: half(gap?.vsGrpo),
          true: seedCell(Object.values(r.perSeed)),
          true_vs_ref: half(r.vsGrpo),
          rm_vs_base: half(r.metrics?.rm_normalized?.vsBase),
        },
      };
    }),
    caption: 'Hacking gap and true safety score with paired per-seed differences (95 % t-interval half-width after ±).',
  };
}

/**
 * Paired verdicts of Experiment 2: does the on-policy row hack the RM (gap vs base), does each
 * other row (f-HAL λ, FDO, DPO) have a smaller hacking gap than it, and does each f-HAL row have a
 * higher true score (three-valued: better / worse / not resolved).
 */
export function pairedSafetyClaims(summary: ExperimentSummary): Claim[] {
  const ref = summary.rows.find((r) => r.name === summary.reference);
  if (!ref) return [];
  const claims: Claim[] = [];
  const gap = ref.metrics?.hacking_gap;
  if (gap?.vsBase) {
    claims.push({
      claim: `${ref.name} (on-policy against the learned RM) widens the hacking gap over the base`,
      paper: 'pure on-policy optimisation of a learned reward model hacks it',
      held: heldOf(gap.vsBase.verdict, 'worse'),
      detail: `gap ${gap.mean.toFixed(1)} points; ${describeDifference(gap.vsBase)}`,
    });
  }
  for (const r of summary.rows) {
    if (r === ref || r.name === BASE_ROW) continue;
    const g = r.metrics?.hacking_gap;
    claims.push({
      claim: `${r.name} has a smaller hacking gap than ${ref.name}`,
      paper: r.id.startsWith('fhal') ? 'yes for f-HAL: the offline term anchors the policy' : 'implied for offline methods: fixed data cannot exploit the reward model',
      held: g?.vsGrpo ? heldOf(g.vsGrpo.verdict, 'better') : null,
      detail: `gap ${g ? g.mean.toFixed(1) : 'n/a'} points; ${describeDifference(g?.vsGrpo ?? null)}; true score ${r.mean.toFixed(1)}% (${describeDifference(r.vsGrpo)}); RM score vs base ${describeDifference(r.metrics?.rm_normalized?.vsBase ?? null)}`,
    });
    if (r.id.startsWith('fhal')) {
      claims.push({
        claim: `${r.name} has a higher true (keyword-judge) safety score than ${ref.name}`,
        paper: 'yes',
        held: r.vsGrpo ? heldOf(r.vsGrpo.verdict, 'better') : null,
        detail: `true score ${r.mean.toFixed(1)}% vs ${ref.mean.toFixed(1)}%; ${describeDifference(r.vsGrpo)}`,
      });
    }
  }
  return claims;
}
