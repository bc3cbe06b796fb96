import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { formatVerifySummary, register, runVerify } from '../src/cli/commands/verify.js';

const dir = mkdtempSync(join(tmpdir(), 'falign-verify-'));

function lines(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

describe('falign verify', () => {
  it('writes one record per input line, reports bad lines with their number, summarises', async () => {
    const input = join(dir, 'in.jsonl');
    const out = join(dir, 'out.jsonl');
    writeFileSync(
      input,
      [
        '{"gold":"\\\\frac12","pred":"so \\\\boxed{0.5}","id":1}',
        '{"gold":"3","pred":"4"}',
        'not json',
        '{"gold":"5","pred":7}',
        '{"gold":"1/3","pred":"0.333","float_rounding":3}',
        '{"gold":"1/3","pred":"0.333"}',
        '',
        '{"gold":"\\\\frac{1}{","pred":"1"}',
        '{"gold":"5","pred":"10^{10^{10}}"}',
      ].join('\n'),
    );
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let summary;
    let err = '';
    try {
      summary = await runVerify({ in: input, out, concurrency: 1, quiet: false, timeoutMs: 5000 });
    } finally {
      err = stderr.mock.calls.map((c) => String(c[0])).join('');
      stderr.mockRestore();
    }
    const recs = lines(out);
    // Bad lines (3: not JSON, 4: pred not a string) are skipped: neither written nor scored.
    expect(recs.map((r) => r.correct)).toEqual([true, false, true, false, false, false]);
    expect(recs[0]).toMatchObject({ id: 1, extractedPred: '0.5', error: null });
    expect(recs[4].error).toMatch(/^gold:/);
    expect(recs[5].error).toMatch(/cannot decide/);
    expect(err).toMatch(/falign verify: skipped .*in\.jsonl:3: invalid JSON/);
    expect(err).toMatch(/in\.jsonl:4: field "pred" must be a string, got number/);
    expect(formatVerifySummary(summary!)).toBe(
      'verify: n=6 correct=2 accuracy=33.33% errors=2 (gold=1, pred=1); 2 bad line(s) skipped, not scored (lines 3, 4)',
    );
    expect(summary).toMatchObject({ n: 6, correct: 2, badLines: 2, badLineNumbers: [3, 4], errorsByKind: { gold: 1, pred: 1 } });

    // --strict: the first bad line is fatal, naming file and line.
    await expect(runVerify({ in: input, out, concurrency: 1, quiet: true, strict: true })).rejects.toThrow(/in\.jsonl:3: invalid JSON/);
  });

  it('an unwritable --out fails before any work with one line naming the path', async () => {
    const input = join(dir, 'w.jsonl');
    writeFileSync(input, '{"gold":"1","pred":"1"}\n');
    await expect(runVerify({ in: input, out: '/nonexistent/x.jsonl', quiet: true, concurrency: 1 })).rejects.toThrow(
      '--out /nonexistent/x.jsonl: cannot write: directory /nonexistent does not exist',
    );
    await expect(runVerify({ in: dir, quiet: true, concurrency: 1 })).rejects.toThrow(/is a directory, expected a file/);
  });

  it('gsm8k mode through the commander wiring, and clear errors for bad options/files', async () => {
    const input = join(dir, 'g.jsonl');
    const out = join(dir, 'g.out.jsonl');
    writeFileSync(input, '{"gold":"#### 1,234","pred":"so 1234."}\n{"gold":"#### 5","pred":"6"}\n');
    const program = new Command().exitOverride();
    register(program);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await program.parseAsync(['node', 'falign', 'verify', '--in', input, '--out', out, '--mode', 'gsm8k', '--quiet', '--concurrency', '1']);
      await expect(runVerify({ in: join(dir, 'missing.jsonl'), quiet: true, concurrency: 1 })).rejects.toThrow(/missing\.jsonl: no such file/);
      await expect(runVerify({ in: input, mode: 'latex' as 'math', quiet: true })).rejects.toThrow(/--mode must be math or gsm8k/);
      await expect(runVerify({ in: input, timeoutMs: -5, quiet: true })).rejects.toThrow(/--timeout-ms must be a positive integer/);
      await expect(runVerify({ in: input, out: input, quiet: true })).rejects.toThrow(/--out must differ from --in/);
    } finally {
      stderr.mockRestore();
    }
    expect(lines(out).map((r) => [r.correct, r.extractedPred])).toEqual([[true, '1234'], [false, '6']]);
  });
});

describe('falign verify --json: the rule shared with falign refusal', () => {
  async function cli(args: string[]): Promise<{ out: string; err: string }> {
    const program = new Command().exitOverride();
    register(program);
    let out = '';
    let err = '';
    const so = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
    const se = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
    try {
      await program.parseAsync(['node', 'falign', 'verify', ...args, '--quiet', '--concurrency', '1']);
    } finally {
      so.mockRestore();
      se.mockRestore();
    }
    return { out, err };
  }

  it('with --out the JSON summary is on stdout (the human line on stderr); without it stdout holds only the records', async () => {
    const input = join(dir, 'j.jsonl');
    writeFileSync(input, '{"gold":"2","pred":"2"}\n{"gold":"2","pred":"3"}\n');
    const withOut = await cli(['--in', input, '--out', join(dir, 'j.out.jsonl'), '--json']);
    expect(JSON.parse(withOut.out)).toMatchObject({ n: 2, correct: 1, accuracy: 0.5 });
    expect(withOut.err).toContain('verify: n=2 correct=1 accuracy=50.00%');
    const noOut = await cli(['--in', input, '--json']);
    expect(noOut.out.trim().split('\n').map((l) => JSON.parse(l).correct)).toEqual([true, false]);
    expect(JSON.parse(noOut.err.trim().split('\n').pop()!)).toMatchObject({ n: 2, correct: 1 });
  });
});
