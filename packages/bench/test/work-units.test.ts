import { afterEach, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipelineSchema, type PipelineConfig, type StageConfig } from '../src/experiments/config/schema.js';
import {
  COMPUTE_BOUND_WIDTH,
  FORWARD_FACTOR,
  GENERATE_FACTOR,
  TASK_VOCAB,
  TRAIN_FACTOR,
  UNIT_PARAM_TOKENS,
  UNKNOWN_PRETRAINED_PARAMS,
  baseEvalUnits,
  curvePoints,
  curveUnits,
  decoderComputeParams,
  effectiveParams,
  evalUnits,
  policyParams,
  prepareUnits,
  quantizeUnits,
  rmStepUnits,
  runUnits,
  sampleTokens,
  sftStepUnits,
  stageStepUnits,
} from '../src/experiments/work.js';
import { legacyStageStepUnits } from '../src/bench/eta-legacy.js';
import { etaErrors, formatEtaTable, parseDuration, parseProgressLog, replayEta, simulatePool } from '../src/bench/eta.js';
import { startProgress } from '../src/util/progress.js';

const mathCfg = (over: Record<string, unknown> = {}): PipelineConfig =>
  pipelineSchema.parse({
    name: 'm',
    task: 'math',
    model: { dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 80 },
    data: { testPerTier: 100, sftDemosPerTier: { t1: 1, t2: 1, t3: 1, distractor: 1 }, rlPromptsPerTier: { t1: 1, t2: 1, t3: 1, distractor: 1 } },
    sft: { steps: 2000, batchSize: 32, lr: 0.01 },
    stages: [{ algorithm: 'grpo', steps: 60, lr: 5e-4, promptsPerStep: 8, groupSize: 8, maxNewTokens: 48 }],
    eval: { every: 25, curvePrompts: 16, maxNewTokens: 48, baseSamples: 8 },
    ...over,
  });

const safetyCfg = (over: Record<string, unknown> = {}, data: Record<string, unknown> = {}): PipelineConfig =>
  pipelineSchema.parse({
    name: 's',
    task: 'safety',
    model: { dModel: 96, nLayers: 3, nHeads: 4, maxSeqLen: 128 },
    data: { testPerLabel: 80, trainPerLabel: 120, sftDemosPerLabel: 120, maxPromptChars: 64, maxResponseChars: 40, ...data },
    sft: { steps: 500, batchSize: 32, lr: 0.003 },
    rewardModel: { model: { dModel: 64, nLayers: 2, nHeads: 4, maxSeqLen: 128 }, steps: 400, batchSize: 32, lr: 0.002 },
    stages: [{ algorithm: 'fhal', steps: 150, lr: 1e-4, promptsPerStep: 8, groupSize: 4, maxNewTokens: 48, divergence: 'kl', lambda: 0.5, offlineBatchSize: 8 }],
    eval: { every: 25, curvePrompts: 16, maxNewTokens: 48 },
    ...over,
  });

describe('work units (experiments/work.ts)', () => {
  it('counts the compute parameters of a decoder in closed form', () => {
    // GPT-2 block: attention 4d², MLP 2·d·4d; plus the tied output projection V·d.
    expect(decoderComputeParams({ dModel: 64, nLayers: 2, nHeads: 4 })).toBe(2 * (4 * 64 * 64 + 8 * 64 * 64) + TASK_VOCAB * 64);
    // Llama with grouped KV heads and a gated MLP: q,o d² each, k,v d·dKv each, 3·d·dFF.
    expect(decoderComputeParams({ arch: 'llama', dModel: 64, nLayers: 3, nHeads: 8, nKvHeads: 2, dFF: 172 }, 100)).toBe(3 * (2 * 64 * 64 + 2 * 64 * 16 + 3 * 64 * 172) + 100 * 64);
    // Narrow models are charged as memory-bound (∝ width), wide ones by their parameters.
    expect(effectiveParams(1000, COMPUTE_BOUND_WIDTH / 4)).toBe(4000);
    expect(effectiveParams(1000, COMPUTE_BOUND_WIDTH * 2)).toBe(1000);
  });

  it('SFT and RM step units are batch × train factor × effective parameters × tokens', () => {
    const m = mathCfg();
    const pm = effectiveParams(decoderComputeParams({ dModel: 64, nLayers: 2, nHeads: 4 }), 64);
    expect(policyParams(m)).toBe(pm);
    expect(sftStepUnits(m)).toBe(quantizeUnits((32 * TRAIN_FACTOR * pm * (12 + 34)) / UNIT_PARAM_TOKENS));
    expect(rmStepUnits(m)).toBe(0);
    const s = safetyCfg();
    const t = sampleTokens(s);
    expect(t).toEqual({ prompt: Math.ceil(0.85 * 64) + 1, response: 41 });
    const prm = effectiveParams(decoderComputeParams({ dModel: 64, nLayers: 2, nHeads: 4 }), 64);
    expect(rmStepUnits(s)).toBe(quantizeUnits((2 * 32 * TRAIN_FACTOR * prm * (t.prompt + t.response)) / UNIT_PARAM_TOKENS));
  });

  it('units grow with the model: linearly in layers, and with the width', () => {
    const u = (nLayers: number, dModel: number) => sftStepUnits(mathCfg({ model: { dModel, nLayers, nHeads: 4, maxSeqLen: 80 } }));
    const vocabPart = quantizeUnits((32 * TRAIN_FACTOR * (TASK_VOCAB * 64 * (COMPUTE_BOUND_WIDTH / 64)) * 46) / UNIT_PARAM_TOKENS);
    // Per-layer cost is the same for every layer: 4 layers add what 2 layers cost (beyond the vocabulary part).
    expect(u(4, 64) - u(2, 64)).toBeCloseTo(u(2, 64) - vocabPart, 2);
    expect(u(2, 128)).toBeGreaterThan(u(2, 64));
    // Memory-bound regime: doubling a narrow width doubles the per-layer cost (not ×4).
    const perLayer = (d: number) => (u(4, d) - u(2, d)) / 2;
    expect(perLayer(128) / perLayer(64)).toBeCloseTo(2, 2);
    // Compute-bound regime: doubling a wide width quadruples it.
    expect(perLayer(1024) / perLayer(512)).toBeCloseTo(4, 2);
  });

  it('units grow linearly with the sequence length', () => {
    const tokens = (c: PipelineConfig) => sampleTokens(c).prompt + sampleTokens(c).response;
    const a = safetyCfg({}, { maxPromptChars: 40, maxResponseChars: 20 });
    const b = safetyCfg({}, { maxPromptChars: 80, maxResponseChars: 60 });
    expect(sftStepUnits(b) / sftStepUnits(a)).toBeCloseTo(tokens(b) / tokens(a), 3);
    // Offline pairs: both sequences trained on and scored by the reference.
    const dpo: StageConfig = { algorithm: 'dpo', steps: 1, lr: 1e-4, warmupSteps: 0, weightDecay: 0, maxGradNorm: 1, beta: 0.1, batchSize: 16 };
    expect(stageStepUnits(dpo, a)).toBe(quantizeUnits((16 * 2 * (TRAIN_FACTOR + FORWARD_FACTOR) * policyParams(a) * tokens(a)) / UNIT_PARAM_TOKENS));
  });

  it('on-policy steps count generation (capped by maxNewTokens), scoring, training and the reward model', () => {
    const c = mathCfg();
    const p = policyParams(c);
    const step = (maxNewTokens: number) => stageStepUnits({ ...(c.stages[0] as Extract<StageConfig, { algorithm: 'grpo' }>), maxNewTokens }, c);
    const expected = (gen: number) => quantizeUnits((64 * p * (12 * FORWARD_FACTOR + gen * GENERATE_FACTOR + (12 + gen) * (FORWARD_FACTOR + TRAIN_FACTOR))) / UNIT_PARAM_TOKENS);
    expect(step(48)).toBe(expected(34)); // the math answer (34 tokens) ends before 48
    expect(step(10)).toBe(expected(10));
    // Safety adds the reward model's forward pass over prompt + completion.
    const s = safetyCfg();
    const t = sampleTokens(s);
    const rm = effectiveParams(decoderComputeParams({ dModel: 64, nLayers: 2, nHeads: 4 }), 64);
    const gen = Math.min(48, t.response);
    const sample = (policyParams(s) * (t.prompt + gen * GENERATE_FACTOR) + rm * (t.prompt + gen)) / UNIT_PARAM_TOKENS;
    expect(evalUnits(s)).toBe(160 * quantizeUnits(sample));
  });

  it('runUnits and prepareUnits are the sums of what the jobs report step by step (exactly)', () => {
    for (const c of [mathCfg(), safetyCfg()]) {
      let run = 0;
      for (const st of c.stages) for (let i = 0; i < st.steps; i++) run += stageStepUnits(st, c);
      for (let i = 0; i < curvePoints(c); i++) run += curveUnits(c);
      run += evalUnits(c);
      expect(run).toBe(runUnits(c));
      let prep = 0;
      for (let i = 0; i < c.sft!.steps; i++) prep += sftStepUnits(c);
      if (c.task === 'safety') for (let i = 0; i < c.rewardModel.steps; i++) prep += rmStepUnits(c);
      prep += baseEvalUnits(c);
      expect(prep).toBe(prepareUnits(c));
      expect(prepareUnits(c, { base: false, rm: false, baseEval: true })).toBe(baseEvalUnits(c));
    }
    expect(curvePoints(mathCfg())).toBe(2); // steps 25 and 50 of 60; the final evaluation is the last point
  });

  it('a safety fhal run is worth several math GRPO runs (the old sample counts said 1.5×)', () => {
    // Measured on the 2-core reference: ≈125 s against ≈16.5 s (eta-calibrate.ts); ±30 %.
    const ratio = runUnits(safetyCfg()) / runUnits(mathCfg());
    expect(ratio).toBeGreaterThan((125 / 16.5) * 0.7);
    expect(ratio).toBeLessThan((125 / 16.5) * 1.3);
  });

  it('keeps the old sample-count units (for the comparison in eta-error.ts) apart from work.ts', () => {
    const grpo = mathCfg().stages[0];
    expect(legacyStageStepUnits(grpo)).toBe(8 * 8 * 3);
  });

  it('sizes a pretrained model from its config.json, with a fallback', () => {
    const dir = mkdtempSync(join(tmpdir(), 'falign-work-hf-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ hidden_size: 512, num_hidden_layers: 4, num_attention_heads: 8, num_key_value_heads: 2, intermediate_size: 1024, vocab_size: 1000 }));
    const c = mathCfg({ model: { spec: `hf:${dir}` }, sft: undefined });
    expect(policyParams(c)).toBe(decoderComputeParams({ arch: 'llama', dModel: 512, nLayers: 4, nHeads: 8, nKvHeads: 2, dFF: 1024 }, 1000));
    expect(policyParams(mathCfg({ model: { spec: `hf:${join(dir, 'missing')}` }, sft: undefined }))).toBe(UNKNOWN_PRETRAINED_PARAMS);
    expect(sftStepUnits(c)).toBe(0);
    expect(runUnits(c)).toBeGreaterThan(0);
    // A subword vocabulary: ~4 characters a token plus the chat template's markers.
    expect(sampleTokens(c)).toEqual({ prompt: 3 + 16, response: 9 });
    // A falign checkpoint (character vocabulary) reads one token per character.
    const fdir = mkdtempSync(join(tmpdir(), 'falign-work-ckpt-'));
    writeFileSync(join(fdir, 'config.json'), JSON.stringify({ format: 'falign-checkpoint-v1', model: { arch: 'gpt2', vocabSize: 99, dModel: 64, nLayers: 2, nHeads: 4 } }));
    const f = mathCfg({ model: { spec: `falign:${fdir}` }, sft: undefined });
    expect(policyParams(f)).toBe(policyParams(mathCfg()));
    expect(sampleTokens(f)).toEqual(sampleTokens(mathCfg()));
  });
});

describe('ETA replay and log parsing (bench/eta.ts)', () => {
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it('schedules like the job pool: FIFO per worker, jobs queue when their dependency ends', () => {
    const s = simulatePool(
      [
        { id: 'prep-a', seconds: 10 },
        { id: 'prep-b', seconds: 50 },
        { id: 'a1', seconds: 20, deps: ['prep-a'] },
        { id: 'a2', seconds: 20, deps: ['prep-a'] },
        { id: 'b1', seconds: 30, deps: ['prep-b'] },
      ],
      2,
    );
    expect(s).toEqual([
      { id: 'prep-a', start: 0, end: 10 },
      { id: 'prep-b', start: 0, end: 50 },
      { id: 'a1', start: 10, end: 30 },
      { id: 'a2', start: 30, end: 50 },
      { id: 'b1', start: 50, end: 80 },
    ]);
    expect(() => simulatePool([{ id: 'x', seconds: 1, deps: ['y'] }], 1)).toThrow(/unknown dependency y/);
  });

  it('replays the ETA in closed form', () => {
    // One worker: A (100 s, 100 units) then B (100 s, 300 units). 10 % = 40 units at t = 40 s,
    // rate 1 unit/s, ETA 360 s against 160 s left: +125 %.
    const jobs = [
      { id: 'A', start: 0, end: 100, units: 100 },
      { id: 'B', start: 100, end: 200, units: 300 },
    ];
    const r = replayEta(jobs, [0.1, 0.5]);
    expect(r[0]).toMatchObject({ fraction: 0.1, elapsed: 40, eta: 360, actual: 160 });
    expect(r[0].errorPct).toBeCloseTo(125, 9);
    // 50 % = 200 units: A done (100 s) plus a third of B → t = 100 + 100/3; ETA = 200·t/200 = t.
    expect(r[1].elapsed).toBeCloseTo(100 + 100 / 3, 9);
    expect(r[1].eta).toBeCloseTo(r[1].elapsed, 9);
    // Units proportional to time on a pool busy until the end (both workers finish at 40 s): exact.
    const ideal = replayEta(
      simulatePool([{ id: 'p', seconds: 30 }, { id: 'q', seconds: 10 }, ...[1, 2, 3, 4].map((i) => ({ id: `r${i}`, seconds: 10, deps: ['q'] }))], 2).map((j) => ({ ...j, units: j.end - j.start })),
    );
    for (const c of ideal) expect(Math.abs(c.errorPct)).toBeLessThan(1e-9);
  });

  it('reads logs of the version without the elapsed stamp (elapsed = done ÷ rate)', () => {
    const log = ['reproduce: 10944/575824 work units (1.9%) 1093.6 work units/s ETA 8m37s 0/45 runs', 'reproduce (quick) finished in 7m51s: 45 of 45 runs (0 reused), 0 failed'].join('\n');
    const { samples, wallSeconds } = parseProgressLog(log);
    expect(wallSeconds).toBe(471);
    expect(samples).toHaveLength(1);
    expect(samples[0].elapsed).toBeCloseTo(10944 / 1093.6, 9);
    expect(samples[0]).toMatchObject({ done: 10944, total: 575824, eta: 517 });
  });

  it('parses durations as progress.ts prints them', () => {
    expect(parseDuration('42s')).toBe(42);
    expect(parseDuration('4m05s')).toBe(245);
    expect(parseDuration('1h02m')).toBe(3720);
    expect(parseDuration('?')).toBeNull();
    expect(parseDuration('soon')).toBeNull();
  });

  it('round-trips: the plain progress lines are parsed back and checked against the real remaining time', () => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
    Object.defineProperty(process.stderr, 'isTTY', { value: false, configurable: true });
    const lines: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk)), true));
    const quiet = process.env.FALIGN_QUIET;
    delete process.env.FALIGN_QUIET;
    try {
      const bar = startProgress({ label: 'reproduce', total: 1000, unit: 'work units', intervalSec: 1 });
      // 100 units per 10 s for the first 500 units, then 50 per 10 s: the ETA at 10 % is half the truth.
      for (let i = 0; i < 5; i++) {
        vi.advanceTimersByTime(10_000);
        bar.tick(100, `${i}/9 runs`);
      }
      for (let i = 0; i < 10; i++) {
        vi.advanceTimersByTime(10_000);
        bar.tick(50);
      }
      bar.stop();
    } finally {
      if (quiet !== undefined) process.env.FALIGN_QUIET = quiet;
      delete (process.stderr as { isTTY?: boolean }).isTTY;
    }
    const log = lines.join('');
    expect(log).toContain('reproduce: 100/1000 work units (10.0%) 10.0 work units/s elapsed 10s ETA 1m30s 0/9 runs');
    const { samples, wallSeconds } = parseProgressLog(`noise line\n${log}`);
    expect(wallSeconds).toBe(150);
    expect(samples).toHaveLength(15);
    const checks = etaErrors(samples, wallSeconds!);
    expect(checks.map((c) => c.fraction)).toEqual([0.1, 0.25, 0.5, 0.75]);
    // At 10 %: 10 s elapsed, ETA 90 s, 140 s actually left.
    expect(checks[0]).toMatchObject({ elapsed: 10, eta: 90, actual: 140 });
    expect(checks[0].errorPct).toBeCloseTo((100 * (90 - 140)) / 140, 9);
    // At 50 % (t = 50 s): ETA 50 s, 100 s left.
    expect(checks[2]).toMatchObject({ elapsed: 50, eta: 50, actual: 100 });
    expect(formatEtaTable(checks).split('\n')[1]).toMatch(/^\s+10%\s+10s\s+90s\s+140s\s+-35\.7%$/);
  });
});
