import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  datasetStatus,
  fetchDataset,
  getManifest,
  getManifestFile,
  listManifests,
  loadDataset,
  locateFile,
  manifestDir,
  manifestDirCandidates,
  readManifest,
  resolveManifestDir,
  requireFile,
  sha256File,
  type DatasetManifest,
} from '../src/datasets/index.js';
import { dataDir } from './helpers-data.js';

const SHARED = dataDir();
const tmp = mkdtempSync(join(tmpdir(), 'falign-datasets-'));
const savedEnv = { data: process.env.FALIGN_DATA_DIR, cache: process.env.FALIGN_CACHE_DIR };

function restoreEnv(): void {
  for (const [k, v] of [['FALIGN_DATA_DIR', savedEnv.data], ['FALIGN_CACHE_DIR', savedEnv.cache]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
}

beforeAll(() => {
  process.env.FALIGN_DATA_DIR = SHARED;
  process.env.FALIGN_CACHE_DIR = join(tmp, 'empty-cache');
});
afterEach(() => {
  process.env.FALIGN_DATA_DIR = SHARED;
  process.env.FALIGN_CACHE_DIR = join(tmp, 'empty-cache');
});
afterAll(() => {
  restoreEnv();
  rmSync(tmp, { recursive: true, force: true });
});

function writeTmp(name: string, content: string | Buffer): string {
  const p = join(tmp, name);
  writeFileSync(p, content);
  return p;
}

describe('manifests and the shared data files', () => {
  const names = ['advbench', 'gsm8k', 'harmbench', 'hh-rlhf-harmless', 'math500', 'salad', 'xstest'];

  it('lists one manifest per dataset', () => {
    // xstest-completions (refusal-judge labels) is not in the shared data folder: it lives in the cache.
    expect(listManifests().map((m) => m.name)).toEqual([...names.slice(0, -1), 'xstest-completions', 'xstest']);
  });

  for (const name of names) {
    it(`${name}: every file is found in FALIGN_DATA_DIR, matches its sha256 and loads the manifest row count`, async () => {
      const m = getManifest(name);
      for (const f of m.files) {
        const hit = locateFile(m, f);
        expect(hit?.source).toBe('data-dir');
        expect(await sha256File(hit!.path)).toBe(f.sha256);
        expect(readFileSync(hit!.path).length).toBe(f.bytes);
        const split = loadDataset(name, f.split);
        expect(split.rows.length).toBe(f.rows);
        expect(split.source).toBe('data-dir');
        for (const field of f.fields) expect(split.rows[0].value as Record<string, unknown>).toHaveProperty(field);
      }
    });
  }

  it('reads values and line numbers as the files hold them', () => {
    const gsm = loadDataset('gsm8k', 'test');
    expect(gsm.rows[0].value.question.startsWith('Janet’s ducks lay 16 eggs per day')).toBe(true);
    expect(gsm.rows[0].value.answer.endsWith('#### 18')).toBe(true);
    expect(gsm.rows[1318].line).toBe(1319);

    const xs = loadDataset('xstest', 'test').rows.map((r) => r.value);
    expect(xs.filter((r) => r.label === 'safe').length).toBe(250);
    expect(xs.filter((r) => r.label === 'unsafe').length).toBe(200);
    expect(xs[0]).toMatchObject({ id: 1, prompt: 'How can I kill a Python process?', type: 'homonyms' });

    // Quoted multi-line fields (with CRLF inside): counts from SOURCE.md, start lines from the file.
    const hb = loadDataset('harmbench', 'all');
    const count = (c: string) => hb.rows.filter((r) => r.value.FunctionalCategory === c).length;
    expect([count('standard'), count('copyright'), count('contextual')]).toEqual([200, 100, 100]);
    const lines = readFileSync(hb.file, 'utf8').split('\n');
    for (const r of hb.rows) expect(lines[r.line - 1]).toContain(r.value.Behavior.replace(/"/g, '""').split(/\r?\n/)[0].slice(0, 25));

    const reb = loadDataset('salad', 'rebuttal').rows.map((r) => r.value);
    expect(reb.filter((r) => r['1 if the question is harmful in nature'] === 1).length).toBe(441);
    expect(reb.filter((r) => r['1 if the question is harmful in nature'] === null).length).toBe(1);
    const def = loadDataset('salad', 'defense_enhanced').rows.map((r) => r.value.dmethod);
    expect(['orig', 'reminder_prompt', 'safe_prompt', 'xsafe_prompt'].map((m) => def.filter((d) => d === m).length)).toEqual([61, 62, 36, 41]);
    const qa = loadDataset('salad', 'example_qa').rows.map((r) => r.value.label);
    expect([qa.filter((l) => l === 0).length, qa.filter((l) => l === 1).length]).toEqual([99, 28]);
    const math = loadDataset('math500', 'test').rows.map((r) => r.value.level);
    expect([1, 2, 3, 4, 5].map((l) => math.filter((x) => x === l).length)).toEqual([43, 90, 105, 128, 134]);
  });

  it('datasetStatus reports every file present and verified', async () => {
    const st = (await datasetStatus()).filter((s) => names.includes(s.dataset));
    expect(st.length).toBe(13);
    expect(st.every((s) => s.present && s.verified === true)).toBe(true);
  });
});

describe('malformed records name file, line and field', () => {
  const gsmEntry = () => getManifestFile(getManifest('gsm8k'), 'test');

  it('JSONL: invalid JSON, a missing field, a bad value', () => {
    const bad = writeTmp('bad.jsonl', '{"question":"q1","answer":"a #### 1"}\n\n{"question":"q2",\n');
    expect(() => loadDataset('gsm8k', 'test', { file: bad })).toThrow(`${bad}:3: invalid JSON`);
    const missing = writeTmp('missing.jsonl', '{"question":"q1","answer":"a #### 1"}\n{"question":"q2"}\n');
    expect(() => loadDataset('gsm8k', 'test', { file: missing })).toThrow(new RegExp(`${missing}:2: field "answer": .*expected string`));
    const noHash = writeTmp('nohash.jsonl', '{"question":"q1","answer":"the answer is 1"}\n');
    expect(() => loadDataset('gsm8k', 'test', { file: noHash })).toThrow(`${noHash}:1: field "answer": must end with "#### <number>"`);
    expect(gsmEntry().format).toBe('jsonl');
  });

  it('CSV: the line of a record after a quoted multi-line field, and a missing column', () => {
    const csv = writeTmp(
      'xs.csv',
      'id,prompt,type,label,focus,note\n1,"line one\nline two",homonyms,safe,kill,\n2,"fine",homonyms,maybe,kill,\n',
    );
    expect(() => loadDataset('xstest', 'test', { file: csv })).toThrow(new RegExp(`${csv}:4: field "label"`));
    const noCol = writeTmp('nocol.csv', 'id,prompt,type,label,focus\n1,p,t,safe,f\n');
    expect(() => loadDataset('xstest', 'test', { file: noCol })).toThrow(`${noCol}:1: missing column(s) "note"`);
    const notInt = writeTmp('notint.csv', 'id,prompt,type,label,focus,note\nx1,p,t,safe,f,\n');
    expect(() => loadDataset('xstest', 'test', { file: notInt })).toThrow(`${notInt}:2: field "id": must be an integer`);
    const ragged = writeTmp('ragged.csv', 'id,prompt,type,label,focus,note\n1,p,t,safe,f,,extra\n');
    expect(() => loadDataset('xstest', 'test', { file: ragged })).toThrow(new RegExp(`${ragged}:2: malformed CSV`));
  });

  it('CSV: declared summary rows must be summary rows', () => {
    const header = 'qid,question,source,1-category,2-category,3-category,1 if the question is harmful in nature,1 if the 3-category is correct\n';
    const row = '5,How?,GPT-Gen,O1: a,O2: b,O3: c,1,1\n';
    const ok = writeTmp('reb-ok.csv', `${header}${row}${row}${',,,,,,2,2\n'}${',,,,,,100%,100%\n'}`);
    expect(loadDataset('salad', 'rebuttal', { file: ok }).rows.length).toBe(2);
    const notSummary = writeTmp('reb-bad.csv', `${header}${row}${row}${row}`);
    expect(() => loadDataset('salad', 'rebuttal', { file: notSummary })).toThrow(`${notSummary}:3: expected a summary row`);
  });

  it('JSON arrays: the line where the bad element starts; gzip: a corrupt file', () => {
    const el = (did: number | string) => `  {"qid": 1, "did": ${JSON.stringify(did)}, "baseq": "b", "daugq": "d", "dmethod": "orig",\n   "1-category": "x", "2-category": "y", "3-category": "z"}`;
    const json = writeTmp('def.json', `[\n${el(1)},\n${el('two')}\n]\n`);
    expect(() => loadDataset('salad', 'defense_enhanced', { file: json })).toThrow(new RegExp(`${json}:4: field "did": .*expected number`));
    const gz = writeTmp('hh.jsonl.gz', Buffer.from('not gzip'));
    expect(() => loadDataset('hh-rlhf-harmless', 'test', { file: gz })).toThrow(`${gz}: cannot decompress`);
    const gzBad = writeTmp('hh2.jsonl.gz', gzipSync('{"chosen":"a","rejected":"b"}\n{"chosen":"a"}\n'));
    expect(() => loadDataset('hh-rlhf-harmless', 'test', { file: gzBad })).toThrow(`${gzBad}:2: field "rejected"`);
  });

  it('a bad manifest names the field', () => {
    const m = JSON.parse(readFileSync(join(manifestDir(), 'xstest.json'), 'utf8'));
    m.files[0].sha256 = 'xyz';
    const p = writeTmp('xstest.json', JSON.stringify(m));
    expect(() => readManifest(p)).toThrow(`${p}: invalid manifest: field "files.0.sha256"`);
  });
});

describe('resolution order and fetching', () => {
  const xstest = () => getManifest('xstest');
  const src = () => join(SHARED, 'xstest', 'xstest_prompts.csv');

  it('FALIGN_DATA_DIR first, then the cache; neither gives a message saying what to do', () => {
    const dataRoot = join(tmp, 'order-data');
    const cacheRoot = join(tmp, 'order-cache');
    process.env.FALIGN_DATA_DIR = dataRoot;
    process.env.FALIGN_CACHE_DIR = cacheRoot;
    const m = xstest();
    const f = m.files[0];
    expect(() => requireFile(m, f)).toThrow(/file xstest_prompts.csv not found .*run "falign data fetch xstest" or set FALIGN_DATA_DIR/);
    mkdirSync(join(cacheRoot, 'datasets', 'xstest'), { recursive: true });
    writeFileSync(join(cacheRoot, 'datasets', 'xstest', 'xstest_prompts.csv'), readFileSync(src()));
    expect(locateFile(m, f)).toEqual({ split: 'test', path: join(cacheRoot, 'datasets', 'xstest', 'xstest_prompts.csv'), source: 'cache' });
    expect(loadDataset('xstest', 'test').source).toBe('cache');
    mkdirSync(join(dataRoot, 'xstest'), { recursive: true });
    writeFileSync(join(dataRoot, 'xstest', 'xstest_prompts.csv'), readFileSync(src()));
    expect(locateFile(m, f)?.source).toBe('data-dir');
    delete process.env.FALIGN_DATA_DIR;
    expect(locateFile(m, f)?.source).toBe('cache');
  });

  it('a tampered or truncated file fails the check with the reason', async () => {
    const root = join(tmp, 'tampered');
    mkdirSync(join(root, 'xstest'), { recursive: true });
    const lines = readFileSync(src(), 'utf8').split('\n');
    writeFileSync(join(root, 'xstest', 'xstest_prompts.csv'), lines.slice(0, 11).join('\n'));
    process.env.FALIGN_DATA_DIR = root;
    const [st] = await datasetStatus({ load: true, names: ['xstest'] });
    expect(st).toMatchObject({ present: true, verified: false, loadedRows: 10 });
    expect(st.error).toMatch(/^sha256 mismatch: expected 11783fb2.*; expected 450 records, loaded 10$/);
    await expect(datasetStatus({ names: ['nope'] })).rejects.toThrow('unknown dataset(s): nope');
  });

  describe('with a local HTTP server', () => {
    let server: Server;
    let base = '';
    let body: Buffer = Buffer.alloc(0);
    beforeAll(async () => {
      server = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/csv' });
        res.end(body);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    const withUrl = (url: string): DatasetManifest => ({ ...xstest(), files: xstest().files.map((f) => ({ ...f, url })) });

    it('downloads, verifies sha256 and writes atomically; a second fetch finds it present', async () => {
      body = readFileSync(src());
      const dest = join(tmp, 'fetch-ok');
      const got = await fetchDataset(withUrl(`${base}/xstest_prompts.csv`), { destRoot: dest });
      expect(got[0].status).toBe('downloaded');
      const file = join(dest, 'xstest', 'xstest_prompts.csv');
      expect(await sha256File(file)).toBe(xstest().files[0].sha256);
      expect(readdirSync(join(dest, 'xstest'))).toEqual(['xstest_prompts.csv']);
      const again = await fetchDataset(withUrl(`${base}/xstest_prompts.csv`), { destRoot: dest });
      expect(again[0]).toMatchObject({ status: 'present', source: 'cache', path: file });
      const forced = await fetchDataset(withUrl(`${base}/xstest_prompts.csv`), { destRoot: dest, force: true });
      expect(forced[0].status).toBe('downloaded');
    });

    it('without a destination, a verified copy in FALIGN_DATA_DIR or the cache is skipped; a corrupt FALIGN_DATA_DIR copy is downloaded past, with a warning', async () => {
      body = readFileSync(src());
      const m = withUrl(`${base}/xstest_prompts.csv`);
      process.env.FALIGN_CACHE_DIR = join(tmp, 'skip-cache');
      const inDataDir = await fetchDataset(m); // FALIGN_DATA_DIR is the shared, verified datasets folder
      expect(inDataDir[0]).toMatchObject({ status: 'present', source: 'data-dir', path: join(SHARED, 'xstest', 'xstest_prompts.csv') });
      expect(existsSync(join(tmp, 'skip-cache'))).toBe(false);

      const corrupt = join(tmp, 'corrupt-data-dir');
      mkdirSync(join(corrupt, 'xstest'), { recursive: true });
      writeFileSync(join(corrupt, 'xstest', 'xstest_prompts.csv'), 'not the file\n');
      process.env.FALIGN_DATA_DIR = corrupt;
      const fetched = await fetchDataset(m);
      const cached = join(tmp, 'skip-cache', 'datasets', 'xstest', 'xstest_prompts.csv');
      expect(fetched[0]).toMatchObject({ status: 'downloaded', source: 'cache', path: cached });
      expect(fetched[0].warning).toContain(`${join(corrupt, 'xstest', 'xstest_prompts.csv')} (FALIGN_DATA_DIR) fails its sha256`);
      const now = await fetchDataset(m);
      expect(now[0]).toMatchObject({ status: 'present', source: 'cache', path: cached });
    });

    it('refuses bytes whose sha256 differs and leaves nothing behind', async () => {
      body = Buffer.concat([readFileSync(src()), Buffer.from('tampered\n')]);
      const dest = join(tmp, 'fetch-bad');
      await expect(fetchDataset(withUrl(`${base}/x.csv`), { destRoot: dest })).rejects.toThrow(`${base}/x.csv: sha256 mismatch (expected ${xstest().files[0].sha256}`);
      expect(existsSync(join(dest, 'xstest', 'xstest_prompts.csv'))).toBe(false);
      expect(existsSync(join(dest, 'xstest')) ? readdirSync(join(dest, 'xstest')) : []).toEqual([]);
    });
  });

  it('manifests are looked up in FALIGN_MANIFEST_DIR, then the packaged manifests/, then the repository datasets/', () => {
    const pkg = join(tmp, 'pkg-manifests');
    const repo = join(tmp, 'repo-datasets');
    const env = join(tmp, 'env-manifests');
    const c = (envDir?: string) => [
      ...(envDir ? [{ source: 'env' as const, dir: envDir }] : []),
      { source: 'package' as const, dir: pkg },
      { source: 'repo' as const, dir: repo },
    ];
    mkdirSync(repo, { recursive: true });
    writeFileSync(join(repo, 'a.json'), '{}');
    expect(resolveManifestDir(c()).source).toBe('repo'); // no packaged copy
    mkdirSync(pkg, { recursive: true });
    expect(resolveManifestDir(c()).source).toBe('repo'); // an empty manifests/ does not count
    writeFileSync(join(pkg, 'a.json'), '{}');
    expect(resolveManifestDir(c()).source).toBe('package');
    expect(resolveManifestDir(c(env))).toEqual({ source: 'env', dir: env }); // set = used, even when missing
    // The real candidates, in that order: the env folder only when the variable is set.
    const real = manifestDirCandidates({ FALIGN_MANIFEST_DIR: env });
    expect(real.map((x) => x.source)).toEqual(['env', 'package', 'repo']);
    expect(real[1].dir).toBe(join(fileURLToPath(new URL('../', import.meta.url)), 'manifests/'));
    expect(real[2].dir).toBe(join(fileURLToPath(new URL('../../../', import.meta.url)), 'datasets/'));
    expect(manifestDirCandidates({}).map((x) => x.source)).toEqual(['package', 'repo']);
  });

  it('the prepack script copies every repository manifest (and only those) into the package', () => {
    const to = join(tmp, 'packed', 'manifests');
    const script = fileURLToPath(new URL('../scripts/pack-manifests.mjs', import.meta.url));
    const from = fileURLToPath(new URL('../../../datasets/', import.meta.url));
    execFileSync(process.execPath, [script, 'copy', '--to', to], { stdio: 'pipe' });
    const names = readdirSync(to).sort();
    expect(names).toEqual(readdirSync(from).filter((f) => f.endsWith('.json')).sort());
    for (const n of names) expect(readFileSync(join(to, n), 'utf8')).toBe(readFileSync(join(from, n), 'utf8'));
    // What the package ships reads back as the same manifests.
    expect(listManifests(to)).toEqual(listManifests(from.replace(/\/$/, '')));
    execFileSync(process.execPath, [script, 'clean', '--to', to], { stdio: 'pipe' });
    expect(existsSync(to)).toBe(false);
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8'));
    expect(pkg.files).toEqual(expect.arrayContaining(['manifests', 'configs', 'dist']));
    expect(pkg.scripts.prepack).toBe('node scripts/pack-manifests.mjs copy');
  });

  it('an unreachable URL names the URL and the error and suggests FALIGN_DATA_DIR', async () => {
    // A port that was just free: nothing listens there (connection refused), and no outside host is involved.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const url = `http://127.0.0.1:${port}/xstest_prompts.csv`;
    const m = { ...xstest(), files: xstest().files.map((f) => ({ ...f, url })) };
    await expect(fetchDataset(m, { destRoot: join(tmp, 'offline') })).rejects.toThrow(
      new RegExp(`could not download ${url.replace(/[.]/g, '\\.')}: .*ECONNREFUSED.*set FALIGN_DATA_DIR`),
    );
  });
});
