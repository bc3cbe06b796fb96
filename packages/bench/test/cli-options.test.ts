// The conventions every `falign` subcommand shares: required options, aliases, backend lists,
// where --json output goes, data fetch skipping, report row labels.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { falignCaptured as falign } from './helpers-cli.js';
import { commandModules } from '../src/cli/commands/index.js';
import { resolveLabelBy } from '../src/cli/commands/report.js';
import { anyIntArg, BACKENDS, intArg, writeSummary } from '../src/cli/options.js';
import { useDataDir } from './helpers-data.js';

const tmp = mkdtempSync(join(tmpdir(), 'falign-cli-options-'));
beforeAll(() => useDataDir());
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Captures what `fn` writes to stdout and stderr. */
async function capture(fn: () => Promise<void> | void): Promise<{ out: string; err: string }> {
  let out = '';
  let err = '';
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  try {
    await fn();
  } finally {
    so.mockRestore();
    se.mockRestore();
  }
  return { out, err };
}

/** The registered program, with every action replaced by one that records the parsed options. */
function dryProgram(): { program: Command; parsed: Map<string, Record<string, unknown>> } {
  const program = new Command().exitOverride();
  for (const m of commandModules) m.register(program);
  const parsed = new Map<string, Record<string, unknown>>();
  for (const c of program.commands) c.action((...args: unknown[]) => void parsed.set(c.name(), (args.at(-1) as Command).opts()));
  return { program, parsed };
}

const flat = (s: string) => s.replace(/\s+/g, ' ');

describe('falign option conventions', () => {
  const required: Record<string, string[]> = {
    generate: ['--model <spec>'],
    verify: ['--in <file>'],
    refusal: ['--in <file>'],
    eval: ['--task <id>', '--model <spec>', '--out <dir>'],
    serve: ['--model <spec>'],
    report: ['--out <dir>'],
  };
  for (const [cmd, flags] of Object.entries(required)) {
    it(`${cmd}: --help marks exactly its required options; a missing one is reported by commander`, async () => {
      const help = await falign(cmd, '--help');
      const text = flat(help.out);
      expect(text.match(/\(required\)/g)?.length).toBe(flags.length);
      for (const f of flags) expect(text.split(` ${f} `)[1].split(' --')[0]).toMatch(/\(required\)$/);
      const missing = await falign(cmd, ...(cmd === 'report' ? ['somewhere'] : []));
      expect(missing.code).toBe(1);
      expect(missing.err).toContain(`error: required option '${flags[0]}' not specified`);
    });
  }

  it('aliases parse to the primary option: generate --samples, eval --max-tokens', async () => {
    const { program, parsed } = dryProgram();
    await program.parseAsync(['node', 'falign', 'generate', '--model', 'llama2c:x.bin', '--samples', '3', '--batch-size', '2']);
    expect(parsed.get('generate')).toMatchObject({ numSamples: 3, batchSize: 2 });
    await program.parseAsync(['node', 'falign', 'generate', '--model', 'llama2c:x.bin', '--num-samples', '4']);
    expect(parsed.get('generate')).toMatchObject({ numSamples: 4 });
    const two = dryProgram();
    await two.program.parseAsync(['node', 'falign', 'eval', '--task', 't', '--model', 'm', '--out', 'o', '--max-tokens', '9', '--seed', '-3', '--requests-per-call', '4', '--batch-size', '8', '--request-timeout', '2500', '--max-retries', '0']);
    expect(two.parsed.get('eval')).toMatchObject({ maxNewTokens: 9, seed: -3, requestsPerCall: 4, batchSize: 8, requestTimeout: 2500, maxRetries: 0 });
  });

  it('every --backend help lists the backends in one order, and --batch-size means sampler sequences', async () => {
    for (const cmd of ['generate', 'eval', 'serve']) {
      const text = flat((await falign(cmd, '--help')).out);
      expect(text).toContain(`tfjs backend: ${BACKENDS.join(', ')}`);
      if (cmd !== 'serve') expect(text).toMatch(/--batch-size <n> most sequences the (in-process )?sampler decodes at once/);
    }
    expect(BACKENDS).toEqual(['tensorflow', 'webgpu', 'wasm', 'cpu']);
    expect(flat((await falign('serve', '--help')).out)).toContain('--max-batch <n> requests merged into one generate call');
  });

  it('help descriptions start lower-case and have no trailing period', async () => {
    for (const cmd of ['generate', 'verify', 'refusal', 'eval', 'rescore', 'serve', 'report', 'data', 'data list', 'data fetch', 'data check']) {
      const help = (await falign(...cmd.split(' '), '--help')).out;
      const description = help.split('\n\n')[1].trim();
      expect(description[0], cmd).toBe(description[0].toLowerCase());
      expect(description.endsWith('.'), cmd).toBe(false);
      for (const line of help.split('\n').filter((l) => /^ {2}-/.test(l))) {
        const text = line.replace(/^\s+(-\S+,? )+(<[^>]+>|\[[^\]]+\])?\s+/, '');
        expect(text[0], line).toBe(text[0].toLowerCase());
      }
    }
  });

  it('number parsers name the flag; seeds take any integer', () => {
    expect(() => intArg('--limit', 1)('0')).toThrow('--limit: expected an integer >= 1, got "0"');
    expect(() => intArg('--limit', 1)('')).toThrow('--limit: expected an integer >= 1, got ""');
    expect(anyIntArg('--seed')('-12')).toBe(-12);
    expect(() => anyIntArg('--seed')('1e30')).toThrow('--seed: expected an integer');
  });

  it('verify and refusal: one rule for where the --json summary goes', async () => {
    const s = { n: 1 };
    expect(await capture(() => writeSummary({ out: 'f.jsonl', json: true }, s, 'human'))).toEqual({ out: '{"n":1}\n', err: 'human\n' });
    expect(await capture(() => writeSummary({ json: true }, s, 'human'))).toEqual({ out: '', err: '{"n":1}\n' });
    expect(await capture(() => writeSummary({ out: '-', json: true }, s, 'human'))).toEqual({ out: '', err: '{"n":1}\n' });
    expect(await capture(() => writeSummary({ out: 'f.jsonl' }, s, 'human'))).toEqual({ out: '', err: 'human\n' });
  });

  it('data fetch skips files already present and verified under FALIGN_DATA_DIR, and says so', async () => {
    const r = await falign('data', 'fetch', 'xstest', 'advbench', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ downloaded: 0, skipped: 3 });
    expect(j.datasets[0].files[0]).toMatchObject({ status: 'present', source: 'data-dir' });
    expect(r.err).toContain('xstest/test: already present and verified in FALIGN_DATA_DIR');
    const human = await falign('data', 'fetch', 'xstest');
    expect(human.out).toContain('downloaded 0 file(s)');
    expect(human.out).toContain('1 already present and verified, skipped (--force downloads again)');
  });
});

describe('falign report --label-by', () => {
  function evalRun(dir: string, task: string, model: string, value: number): string {
    mkdirSync(dir, { recursive: true });
    const results = { [`acc,${task}`]: { value, stderr: 0.01, n: 10, higher_is_better: true } };
    writeFileSync(join(dir, 'results.json'), JSON.stringify({ task, results, config: { model } }));
    return dir;
  }

  it('default (auto): one model on several tasks in several directories is one row', async () => {
    const a = evalRun(join(tmp, 'stories-gsm8k'), 'gsm8k', 'llama2c:/m/stories260K.bin', 0.1);
    const b = evalRun(join(tmp, 'stories-xstest'), 'xstest', 'llama2c:/m/stories260K.bin', 0.2);
    expect(resolveLabelBy([a, b], 'auto')).toEqual({ labelBy: 'model' });
    const out = join(tmp, 'report-auto');
    const r = await falign('report', a, b, '--out', out);
    expect(r.code, r.err).toBe(0);
    const md = readFileSync(join(out, 'tables/results.md'), 'utf8').trim().split('\n');
    expect(md.filter((l) => l.startsWith('| stories260K |'))).toHaveLength(1);
    expect(md.some((l) => l.startsWith('| stories-gsm8k'))).toBe(false);
    // --label-by run stays available: one row per directory
    const byRun = join(tmp, 'report-run');
    expect((await falign('report', a, b, '--out', byRun, '--label-by', 'run')).code).toBe(0);
    const rows = readFileSync(join(byRun, 'tables/results.md'), 'utf8').split('\n').filter((l) => /^\| stories-/.test(l));
    expect(rows).toHaveLength(2);
  });

  it('auto falls back to run directories when two runs of one model name cover the same task', async () => {
    const base = evalRun(join(tmp, 'base', 'eval', 'gsm8k'), 'gsm8k', 'falign:/r/base/final', 0.1);
    const tuned = evalRun(join(tmp, 'tuned', 'eval', 'gsm8k'), 'gsm8k', 'falign:/r/tuned/final', 0.3);
    expect(resolveLabelBy([join(tmp, 'base'), join(tmp, 'tuned')], 'auto')).toEqual({ labelBy: 'run', reason: "two runs of model 'final' on task 'gsm8k'" });
    expect(resolveLabelBy([join(tmp, 'base'), join(tmp, 'tuned')], 'model')).toEqual({ labelBy: 'model' });
    const r = await falign('report', join(tmp, 'base'), join(tmp, 'tuned'), '--out', join(tmp, 'report-clash'), '--json');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain("report: rows are run directories (two runs of model 'final' on task 'gsm8k')");
    const forced = await falign('report', join(tmp, 'base'), join(tmp, 'tuned'), '--out', join(tmp, 'report-forced'), '--label-by', 'model');
    expect(forced.err).toContain("two results for row 'final'");
    void [base, tuned];
  });
});
