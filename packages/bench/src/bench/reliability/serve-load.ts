/**
 * `falign serve` under hostile load on loopback: C concurrent clients, each sending R requests
 * drawn (seeded) from a mix of valid completions and chats, 20,000-character prompts, malformed
 * JSON, schema errors, oversized bodies, unknown routes and requests abandoned mid-body; a
 * prober hits /health throughout. Counts served (2xx) / rejected (4xx) / failed (5xx) /
 * abandoned / transport errors / hangs, and samples the server's RSS.
 */
import { request } from 'node:http';
import { rng } from '../fuzz-inputs.js';
import { peakRssOf, rssOf, spawnFalign } from './spawn.js';

/** Options of {@link serveLoad}. */
export interface ServeLoadOptions {
  model: string;
  clients: number;
  requestsPerClient: number;
  seed?: number;
  /** A request with no answer after this long counts as a hang (default 120 s). */
  hangMs?: number;
}

/** What {@link serveLoad} measured. */
export interface ServeLoadResult {
  requests: number;
  served: number;
  rejected: number;
  failed: number;
  abandoned: number;
  /** Connection reset while an oversized body was still being sent (the server had answered 413 and closed). */
  resetAfterReject: number;
  transportErrors: number;
  hangs: number;
  statusCounts: Record<string, number>;
  idleRss: number | null;
  peakRss: number | null;
  healthMaxMs: number;
  healthProbes: number;
  serverLog500: number;
  wallS: number;
  /** The server still answered a valid request after the load. */
  aliveAfter: boolean;
}

type Kind = 'valid' | 'chat' | 'long-prompt' | 'malformed' | 'schema' | 'oversized' | 'route' | 'abandon';
const MIX: [Kind, number][] = [
  ['valid', 30],
  ['chat', 10],
  ['long-prompt', 15],
  ['malformed', 10],
  ['schema', 10],
  ['oversized', 5],
  ['route', 5],
  ['abandon', 15],
];

function drawKind(r: () => number): Kind {
  let x = r() * 100;
  for (const [k, w] of MIX) {
    if (x < w) return k;
    x -= w;
  }
  return 'valid';
}

interface Outcome {
  status?: number;
  error?: string;
  abandoned?: boolean;
  hang?: boolean;
}

function send(base: URL, path: string, body: string | Buffer, opts: { hangMs: number; abandonAfter?: number; method?: string }): Promise<Outcome> {
  return new Promise((done) => {
    let settled = false;
    const finish = (o: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      done(o);
    };
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    const req = request(
      { host: base.hostname, port: base.port, path, method: opts.method ?? 'POST', headers: { 'content-type': 'application/json', 'content-length': buf.length }, agent: false },
      (res) => {
        res.resume();
        res.on('end', () => finish({ status: res.statusCode }));
        res.on('error', (e) => finish({ status: res.statusCode, error: e.message }));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      finish({ hang: true });
    }, opts.hangMs);
    req.on('error', (e) => finish({ error: (e as NodeJS.ErrnoException).code ?? e.message }));
    if (opts.abandonAfter !== undefined) {
      req.write(buf.subarray(0, opts.abandonAfter));
      setTimeout(() => {
        req.destroy();
        finish({ abandoned: true });
      }, 20);
      return;
    }
    req.end(buf);
  });
}

/** Runs the load; the server is started and stopped here. */
export async function serveLoad(o: ServeLoadOptions): Promise<ServeLoadResult> {
  const hangMs = o.hangMs ?? 120_000;
  const child = spawnFalign(['serve', '--model', o.model, '--port', '0', '--json', '--backend', process.env.FALIGN_BACKEND ?? 'wasm']);
  let log = '';
  child.stderr?.on('data', (d) => (log += String(d)));
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    child.stdout?.on('data', (d) => {
      out += String(d);
      const nl = out.indexOf('\n');
      if (nl >= 0) ok((JSON.parse(out.slice(0, nl)) as { url: string }).url);
    });
    child.on('exit', (code) => fail(new Error(`falign serve exited (${code}) before listening: ${log.trim().split('\n').pop() ?? ''}`)));
    setTimeout(() => fail(new Error(`falign serve did not listen within 180 s: ${log.trim().split('\n').pop() ?? ''}`)), 180_000).unref();
  }).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });
  const base = new URL(url);
  const v1 = base.pathname.replace(/\/$/, '');
  const pid = child.pid!;
  const idleRss = rssOf(pid);
  const t0 = Date.now();

  let stop = false;
  let healthMax = 0;
  let healthProbes = 0;
  const prober = (async () => {
    while (!stop) {
      const h0 = performance.now();
      const r = await send(base, '/health', '', { hangMs, method: 'GET' });
      if (r.status === 200) {
        healthMax = Math.max(healthMax, performance.now() - h0);
        healthProbes++;
      }
      await new Promise((s) => setTimeout(s, 100));
    }
  })();

  const res: ServeLoadResult = {
    requests: 0, served: 0, rejected: 0, failed: 0, abandoned: 0, resetAfterReject: 0, transportErrors: 0, hangs: 0,
    statusCounts: {}, idleRss, peakRss: null, healthMaxMs: 0, healthProbes: 0, serverLog500: 0, wallS: 0, aliveAfter: false,
  };
  const longPrompt = (r: () => number) => Array.from({ length: 20_000 }, () => String.fromCharCode(97 + Math.floor(r() * 26))).join('');
  const client = async (c: number) => {
    const r = rng((o.seed ?? 7) * 1000 + c);
    for (let i = 0; i < o.requestsPerClient; i++) {
      const kind = drawKind(r);
      let out: Outcome;
      const max = 1 + Math.floor(r() * 16);
      switch (kind) {
        case 'valid':
          out = await send(base, `${v1}/completions`, JSON.stringify({ prompt: 'Once upon a time', max_tokens: max, temperature: 0 }), { hangMs });
          break;
        case 'chat':
          out = await send(base, `${v1}/chat/completions`, JSON.stringify({ messages: [{ role: 'user', content: 'Tell me a story.' }], max_tokens: max }), { hangMs });
          break;
        case 'long-prompt':
          out = await send(base, `${v1}/completions`, JSON.stringify({ prompt: longPrompt(r), max_tokens: max, temperature: 0 }), { hangMs });
          break;
        case 'malformed':
          out = await send(base, `${v1}/completions`, '{"prompt": "unterminated', { hangMs });
          break;
        case 'schema':
          out = await send(base, `${v1}/completions`, JSON.stringify({ prompt: 42, max_tokens: -3, temperature: 'hot' }), { hangMs });
          break;
        case 'oversized':
          out = await send(base, `${v1}/completions`, Buffer.alloc(2 * 1024 * 1024 + 17, 0x61), { hangMs });
          break;
        case 'route':
          out = await send(base, `${v1}/nothing-here`, '{}', { hangMs });
          break;
        default:
          out = await send(base, `${v1}/completions`, JSON.stringify({ prompt: longPrompt(r).slice(0, 4000), max_tokens: 8 }), { hangMs, abandonAfter: 1 + Math.floor(r() * 3000) });
      }
      res.requests++;
      if (out.hang) res.hangs++;
      else if (out.abandoned) res.abandoned++;
      else if (out.status !== undefined) {
        res.statusCounts[out.status] = (res.statusCounts[out.status] ?? 0) + 1;
        if (out.status < 300) res.served++;
        else if (out.status < 500) res.rejected++;
        else res.failed++;
      } else if (kind === 'oversized' && (out.error === 'ECONNRESET' || out.error === 'EPIPE')) res.resetAfterReject++;
      else res.transportErrors++;
    }
  };
  const sampler = setInterval(() => {
    const rss = rssOf(pid);
    if (rss !== null) res.peakRss = Math.max(res.peakRss ?? 0, rss);
  }, 100);
  try {
    await Promise.all(Array.from({ length: o.clients }, (_, c) => client(c)));
    const after = await send(base, `${v1}/completions`, JSON.stringify({ prompt: 'The end', max_tokens: 4, temperature: 0 }), { hangMs });
    res.aliveAfter = after.status === 200;
  } finally {
    stop = true;
    clearInterval(sampler);
    await prober;
    const hwm = peakRssOf(pid);
    if (hwm !== null) res.peakRss = Math.max(res.peakRss ?? 0, hwm);
    child.kill('SIGTERM');
    await new Promise((s) => child.once('exit', s));
  }
  res.healthMaxMs = healthMax;
  res.healthProbes = healthProbes;
  res.serverLog500 = (log.match(/ 5\d\d /g) ?? []).length;
  res.wallS = (Date.now() - t0) / 1000;
  return res;
}
