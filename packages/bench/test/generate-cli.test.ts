import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildBenchCli, falignBin as falign } from './helpers-cli.js';

const repo = resolve(__dirname, '../../..');
const modelsDir = process.env.FALIGN_MODELS_DIR ?? resolve(repo, '../shared/models');
const storiesDir = join(modelsDir, 'stories260K');
const modelSpec = `llama2c:${join(storiesDir, 'stories260K.bin')}`;

function readExample(): { ids: number[]; text: string } {
  const md = readFileSync(join(storiesDir, 'EXAMPLE.md'), 'utf8');
  const blocks = [...md.matchAll(/```\n([\s\S]*?)\n```/g)].map((m) => m[1]);
  return { ids: JSON.parse(blocks[0]) as number[], text: blocks[1] };
}

describe('falign generate (built CLI)', () => {
  beforeAll(() => {
    buildBenchCli('generate');
  }, 300_000);

  it('reproduces EXAMPLE.md with --json (greedy from BOS, 256 new tokens)', () => {
    const { ids, text } = readExample();
    const r = falign(['generate', '--model', modelSpec, '--prompt', '', '--max-new-tokens', String(ids.length - 1), '--temperature', '0', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBe(1);
    const out = JSON.parse(lines[0]);
    expect(out.promptTokenIds).toEqual([1]);
    expect(out.tokenIds).toEqual(ids.slice(1));
    expect(out.text).toBe(text);
    expect(out.finishReason).toBe('length');
    expect(out.firstLogits.length).toBe(512);
    // Greedy: the first generated id is the argmax of the first-step logits.
    expect(out.firstLogits.indexOf(Math.max(...out.firstLogits))).toBe(ids[1]);
    expect(out.tokenLogprobs.every((v: number) => v <= 0)).toBe(true);
  });

  it('prints the text alone without --json, with an explicit tokenizer', () => {
    const { text } = readExample();
    const r = falign(['generate', '--model', modelSpec, '--tokenizer', join(storiesDir, 'tok512.bin'), '--max-new-tokens', '256', '--temperature', '0']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${text}\n`);
  });

  it('reports bad flags by name (seeded sampling is covered by core sampling tests)', () => {
    const bad = falign(['generate', '--model', modelSpec, '--temperature', 'hot']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/falign: --temperature: expected a number >= 0, got "hot"/);
  });
});
