// The one error policy of every falign command (src/util/errors.ts): one line naming the
// file/line/column/field, exit 1 where the result would be wrong or incomplete, skipped lines
// never scored, --strict the same everywhere, ports checked before a model loads.
import { createServer, type Server } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { falignCaptured as falign } from './helpers-cli.js';
import { JsonlError, JsonlWriter } from '../src/util/jsonl.js';
import { readFileSync } from 'node:fs';
import { storiesPath, useDataDir } from './helpers-data.js';
import { LineSkipper, formatSkipped, lineColumn, parseJsonText, portArg, probePort, requireInputFile } from '../src/util/errors.js';

const tmp = mkdtempSync(join(tmpdir(), 'falign-errors-'));
const savedDataDir = process.env.FALIGN_DATA_DIR;
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  if (savedDataDir === undefined) delete process.env.FALIGN_DATA_DIR;
  else process.env.FALIGN_DATA_DIR = savedDataDir;
});

describe('parseJsonText: line and column of a syntax error', () => {
  it('names file:line:column of the offending character', () => {
    const text = '{\n  "a": 1,\n  "b" 2\n}';
    expect(() => parseJsonText(text, 'cfg.json')).toThrow(/^cfg\.json:3:7: invalid JSON \(/);
    expect(() => parseJsonText('{"a": [1, 2', 'x.json')).toThrow(/^x\.json:1:\d+: invalid JSON/);
    expect(parseJsonText('{"ok": true}', 'y.json')).toEqual({ ok: true });
  });

  it('lineColumn inverts the offset of any character (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 8 }).map((s) => s.replace(/\n/g, '')), { minLength: 1, maxLength: 6 }), fc.nat(), (rows, k) => {
        const text = rows.join('\n');
        const offset = k % (text.length + 1);
        const { line, column } = lineColumn(text, offset);
        const starts = [0];
        for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
        expect(starts[line - 1] + column - 1).toBe(offset);
      }),
    );
  });
});

describe('inputs and outputs', () => {
  it('unwritable outputs fail before any work, one line naming the flag and the reason', () => {
    expect(() => new JsonlWriter('/nonexistent/x.jsonl')).toThrow('--out /nonexistent/x.jsonl: cannot write: directory /nonexistent does not exist');
    expect(() => new JsonlWriter(tmp)).toThrow(`--out ${tmp}: cannot write: is a directory`);
  });

  it('missing or directory inputs are named', () => {
    expect(() => requireInputFile(join(tmp, 'nope.jsonl'), '--in')).toThrow(`--in ${join(tmp, 'nope.jsonl')}: no such file`);
    expect(() => requireInputFile(tmp)).toThrow(`${tmp}: is a directory, expected a file`);
  });

  it('verify and refusal with --out in a missing directory: exit 1, one line, no stack trace', async () => {
    const input = join(tmp, 'in.jsonl');
    writeFileSync(input, '{"gold":"1","pred":"1","completion":"I cannot help."}\n');
    for (const cmd of ['verify', 'refusal']) {
      const r = await falign(cmd, '--in', input, '--out', '/nonexistent/x.jsonl', '--quiet', ...(cmd === 'verify' ? ['--concurrency', '1'] : []));
      expect(r.code).toBe(1);
      expect(r.err).toBe('falign: --out /nonexistent/x.jsonl: cannot write: directory /nonexistent does not exist\n');
    }
  });
});

describe('bad lines: skipped, reported with line numbers, never scored; --strict is fatal', () => {
  it('LineSkipper counts and lists; strict throws the first', () => {
    const se = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const s = new LineSkipper({ command: 'x' });
      s.skip(new JsonlError('f.jsonl', 3, 'invalid JSON'));
      s.skipField('f.jsonl', 7, 'pred', 'must be a string, got number');
      expect(s.skipped).toEqual({ badLines: 2, badLineNumbers: [3, 7], badLineDetails: ['f.jsonl:3: invalid JSON', 'f.jsonl:7: field "pred" must be a string, got number'] });
      expect(formatSkipped(s.skipped)).toBe('; 2 bad line(s) skipped, not scored (lines 3, 7)');
      expect(formatSkipped({ badLines: 0, badLineNumbers: [], badLineDetails: [] })).toBe('');
      const strict = new LineSkipper({ command: 'x', strict: true });
      expect(() => strict.skip(new JsonlError('f.jsonl', 2, 'invalid JSON'))).toThrow('f.jsonl:2: invalid JSON');
    } finally {
      se.mockRestore();
    }
  });

  it('verify and refusal report skipped lines the same way and fail alike under --strict', async () => {
    const input = join(tmp, 'mixed.jsonl');
    writeFileSync(input, ['{"gold":"2","pred":"2","completion":"Sure."}', '{"gold": trunc', '{"gold":"3","pred":"3","completion":"I cannot help with that."}'].join('\n'));
    const v = await falign('verify', '--in', input, '--out', join(tmp, 'v.jsonl'), '--json', '--concurrency', '1');
    const rf = await falign('refusal', '--in', input, '--out', join(tmp, 'r.jsonl'), '--json');
    for (const r of [v, rf]) {
      expect(r.code).toBe(0);
      expect(JSON.parse(r.out)).toMatchObject({ n: 2, badLines: 1, badLineNumbers: [2] });
      expect(r.err).toContain(`${input}:2: invalid JSON`);
    }
    expect(JSON.parse(v.out)).toMatchObject({ correct: 2, accuracy: 1, errors: 0 });
    for (const cmd of ['verify', 'refusal']) {
      const r = await falign(cmd, '--in', input, '--out', join(tmp, 's.jsonl'), '--strict', '--quiet', ...(cmd === 'verify' ? ['--concurrency', '1'] : []));
      expect(r.code).toBe(1);
      expect(r.err).toMatch(new RegExp(`^falign: ${input.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:2: invalid JSON`));
    }
  });
});

describe('ports', () => {
  it('--port accepts 0..65535 and names the flag otherwise', () => {
    const p = portArg('--port');
    expect(p('8000')).toBe(8000);
    expect(p('0')).toBe(0);
    for (const bad of ['80000', '-1', '1.5', 'http', '']) expect(() => p(bad)).toThrow(`--port: expected an integer in 1..65535 (or 0 for any free port), got "${bad}"`);
  });

  it('a port in use is found before anything loads', async () => {
    const srv: Server = createServer();
    await new Promise<void>((ok) => srv.listen(0, '127.0.0.1', () => ok()));
    const port = (srv.address() as { port: number }).port;
    try {
      await expect(probePort('127.0.0.1', port)).rejects.toThrow(`--port ${port}: 127.0.0.1:${port} is already in use`);
      // serve fails on the port before it even looks at the (missing) model
      const r = await falign('serve', '--model', 'llama2c:/nonexistent/model.bin', '--port', String(port));
      expect(r.code).toBe(1);
      expect(r.err).toContain(`falign: --port ${port}: 127.0.0.1:${port} is already in use`);
      const bad = await falign('serve', '--model', 'llama2c:/nonexistent/model.bin', '--port', '80000');
      expect(bad.err).toContain('--port: expected an integer in 1..65535');
    } finally {
      srv.close();
    }
    await expect(probePort('127.0.0.1', 0)).resolves.toBeUndefined();
  });
});

describe('data check', () => {
  it('fails when a checked dataset is missing (0/0 verified is not success)', async () => {
    const prevData = process.env.FALIGN_DATA_DIR;
    process.env.FALIGN_DATA_DIR = join(tmp, 'empty-data');
    const prevCache = process.env.FALIGN_CACHE_DIR;
    process.env.FALIGN_CACHE_DIR = join(tmp, 'empty-cache');
    try {
      const r = await falign('data', 'check', 'xstest');
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^falign: data check: 1 file\(s\) missing \(xstest\); set FALIGN_DATA_DIR/m);
    } finally {
      if (prevCache === undefined) delete process.env.FALIGN_CACHE_DIR;
      else process.env.FALIGN_CACHE_DIR = prevCache;
      if (prevData === undefined) delete process.env.FALIGN_DATA_DIR;
      else process.env.FALIGN_DATA_DIR = prevData;
    }
  });
});

describe('config files and eval runs', () => {
  it('a config with a syntax error names file:line:column (train and run alike)', async () => {
    const bad = join(tmp, 'bad.json');
    writeFileSync(bad, '{\n  "name": "x",\n  "task" 1\n}');
    for (const args of [['train', '--config', bad], ['run', bad]]) {
      const r = await falign(...args);
      expect(r.code).toBe(1);
      expect(r.err).toBe(`falign: ${bad}:3:10: invalid JSON (Unexpected number)\n`);
    }
  });

  it('eval warns about truncated prompts and completions, records them, and says when it resumes', async () => {
    useDataDir();
    const out = join(tmp, 'eval-trunc');
    const args = ['eval', '--task', 'gsm8k', '--model', `llama2c:${storiesPath()}`, '--max-new-tokens', '4', '--backend', 'wasm', '--requests-per-call', '1', '--out', out, '--json'];
    const first = await falign(...args, '--limit', '2');
    expect(first.code, first.err).toBe(0);
    // five-shot GSM8K prompts do not fit stories260K's 512-token context
    expect(first.err).toMatch(/eval: warning: 2 prompt\(s\) did not fit the model's context with room for max_tokens=4 and lost their oldest tokens \(recorded as truncated_prompts in results\.json\)/);
    expect(first.err).toMatch(/eval: warning: 2\/2 completion\(s\) stopped at max_tokens=4 before a stop string \(recorded as length_completions/);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results).toMatchObject({ truncated_prompts: 2, length_completions: 2 });
    // lose the last sample, as an interrupted run would, and run the same command again
    const samples = join(out, 'samples.jsonl');
    writeFileSync(samples, `${readFileSync(samples, 'utf8').trim().split('\n')[0]}\n`);
    const second = await falign(...args, '--limit', '2');
    expect(second.code, second.err).toBe(0);
    expect(second.err).toContain(`eval: resuming ${out}: 1/2 samples already in samples.jsonl, 1 to generate`);
    expect(second.err).toMatch(/warning: 1 prompt\(s\) did not fit/);
  });
});
