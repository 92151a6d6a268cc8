/**
 * Beyond one machine (SPEC §14), with real parts on loopback: three `vmc serve` processes
 * sharing a redis-server (`--state redis://…`), behind nginx running deploy/nginx.conf, with
 * simulated providers. Under traffic (bounded loops), it checks that
 *
 *   - an admin change made through one replica is served by every replica within 1 s;
 *   - ETags agree across replicas, and two writes with one If-Match: exactly one wins (across
 *     replicas and on one replica);
 *   - many concurrent writers through different replicas lose no update;
 *   - a key revoked through one replica is refused by the others within 1 s;
 *   - a cooldown opened by one replica is honoured by the others;
 *   - Redis killed under load: no inference request fails, /health says degraded, admin
 *     reads answer and writes get 503, a replica started meanwhile starts degraded; Redis
 *     back empty: the replicas write their state back, nothing is lost, writes work again;
 *   - a rolling table update (deploy/rolling-update.sh) under load fails no request.
 *
 * Propagation times are measured and printed (the report's numbers).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { buildTableFromYaml } from '../../compiler/testing.js';
import { startMockProvider, type MockProvider } from '../../bench/sim/simulated-provider.js';
import { ADMIN_TOKEN, NGINX, Nginx, REDIS_SERVER, ROOT, RedisServer, Replica, skipNote, sleep } from './procs.js';

const missing = [REDIS_SERVER === null ? 'redis-server' : '', NGINX === null ? 'nginx' : ''].filter((m) => m !== '');
skipNote('replicas behind nginx with Redis', missing);

const FILE_KEY = 'vmc-replicas-file-key-0123456789abcdefghijklmnop';
const sha = (s: string) => 'sha256:' + createHash('sha256').update(s).digest('hex');
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };
/** Propagation bound of SPEC §14. */
const WITHIN_MS = 1000;

const config = (extra = '') => `
version: 1
providers:
  up: { type: openai, base_url: UP_URL/v1, models: [a, b, c] }
  down: { type: openai, base_url: DOWN_URL/v1, models: [x] }
virtual_models:
  base-model: { target: up/a }
  pair:
    strategy: priority
    retry: { attempts: 1 }
    targets:
      - { target: down/x, priority: 0 }
      - { target: up/b, priority: 1 }
${extra}`;

interface LoadResult {
  sent: number;
  ok: number;
  failed: Map<string, number>;
}

/** A bounded closed loop of inference requests: `concurrency` workers until stop() (or `maxMs`). */
function startLoad(url: string, key: string, concurrency = 6, maxMs = 30_000): { stop(): Promise<LoadResult> } {
  const result: LoadResult = { sent: 0, ok: 0, failed: new Map() };
  let running = true;
  const t0 = Date.now();
  const worker = async () => {
    while (running && Date.now() - t0 < maxMs) {
      result.sent++;
      try {
        const r = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'base-model', messages: [{ role: 'user', content: 'hi' }] }),
        });
        await r.arrayBuffer();
        if (r.status === 200) result.ok++;
        else result.failed.set(String(r.status), (result.failed.get(String(r.status)) ?? 0) + 1);
      } catch (err) {
        const k = (err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
        result.failed.set(k, (result.failed.get(k) ?? 0) + 1);
      }
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, worker));
  return {
    async stop() {
      running = false;
      await done;
      return result;
    },
  };
}

async function until<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 10_000, everyMs = 10): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  for (;;) {
    const value = await fn();
    if (value) return { value, ms: performance.now() - t0 };
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

const chat = (base: string, model: string, key: string) =>
  fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  }).then(async (r) => ({
    status: r.status,
    target: r.headers.get('x-vmc-target'),
    attempts: r.headers.get('x-vmc-attempts'),
    body: await r.text(),
  }));

const admin = (base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}${path}`, { method, headers: { ...ADMIN, ...headers }, body: body === undefined ? undefined : JSON.stringify(body) }).then(
    async (r) => ({ status: r.status, etag: r.headers.get('etag'), json: (await r.json().catch(() => null)) as any }),
  );

const health = (base: string) => fetch(`${base}/health`).then((r) => r.json() as Promise<Record<string, unknown>>);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: number[]) => `${xs.map((x) => x.toFixed(0)).join(', ')} ms (max ${Math.max(...xs).toFixed(0)})`;

describe.skipIf(missing.length > 0)('three replicas behind nginx sharing Redis (SPEC §14)', () => {
  let redis: RedisServer;
  let raw: Redis;
  let up: MockProvider;
  let down: MockProvider;
  let nginx: Nginx;
  const replicas: Replica[] = [];
  const tables: string[] = [];
  let keysFile: string;
  let dir: string;
  let tableV1: Uint8Array;
  const report: string[] = [];
  const replicaArgs = () => ['--state', redis.url, '--keys', keysFile];

  beforeAll(async () => {
    redis = await RedisServer.start();
    raw = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true, retryStrategy: () => 100, maxRetriesPerRequest: 1 });
    raw.on('error', () => undefined);
    await raw.connect();
    up = await startMockProvider({ name: 'up' });
    down = await startMockProvider({ name: 'down', behavior: { status: 500 } });
    dir = await mkdtemp(join(tmpdir(), 'vmc-replicas-'));
    keysFile = join(dir, 'keys.yaml');
    await writeFile(keysFile, `keys:\n  - { id: file-key, hash: "${sha(FILE_KEY)}", user_path: /team }\n`);
    tableV1 = await buildTableFromYaml(config().replace('UP_URL', up.url).replace('DOWN_URL', down.url));
    // one directory per replica, as on separate machines (the rolling update replaces each)
    for (let i = 0; i < 3; i++) {
      await mkdir(join(dir, `r${i}`));
      tables.push(join(dir, `r${i}`, 'table.vmct'));
      await writeFile(tables[i], tableV1);
    }
    replicas.push(...(await Promise.all(tables.map((t) => Replica.start(t, replicaArgs())))));
    nginx = await Nginx.start(replicas.map((r) => r.port));
  }, 60_000);

  afterAll(async () => {
    await nginx?.stop();
    await Promise.all(replicas.map((r) => r.stop()));
    await Promise.all([up?.close(), down?.close()]);
    raw?.disconnect();
    await redis?.kill('SIGTERM');
    if (report.length > 0) console.log(['SPEC §14 on loopback (3 replicas, nginx, redis-server):', ...report].join('\n  '));
  });

  it('serves through nginx; every replica reports state ok and the built table hash', async () => {
    const r = await chat(nginx.url, 'base-model', FILE_KEY);
    expect(r.status).toBe(200);
    // --keys FILE seeded the store with the file's key (hash only)
    await until('the keys file seeded', async () => ((await raw.hget('vmc:state', 'doc')) ?? '').includes('file-key'), 3000);
    const doc = JSON.parse((await raw.hget('vmc:state', 'doc'))!) as { keys: { created: Record<string, { hash: string }> } };
    expect(doc.keys.created['file-key'].hash).toBe(sha(FILE_KEY));
    expect(JSON.stringify(doc)).not.toContain(FILE_KEY);
    const wantHash = Buffer.from(tableV1.subarray(8, 40)).toString('hex');
    for (const rep of replicas) {
      const h = await health(rep.url);
      expect(h.status).toBe('ok');
      expect(h.state).toBe('ok');
      expect(h.table_hash).toBe(wantHash);
    }
  });

  it('an admin change made through one replica is served by every replica within 1 s', async () => {
    const times: number[] = [];
    for (let round = 0; round < 3; round++) {
      const [writer, ...others] = [replicas[round % 3], replicas[(round + 1) % 3], replicas[(round + 2) % 3]];
      const name = `fresh-${round}`;
      const t0 = performance.now();
      const put = await admin(writer.url, 'PUT', '/admin/virtual-models', { source: name, target_model: 'up/c' });
      expect(put.status).toBe(200);
      const writeMs = performance.now() - t0;
      // read-your-writes on the writer
      expect((await chat(writer.url, name, FILE_KEY)).status).toBe(200);
      for (const o of others) {
        await until(`${name} on ${o.url}`, async () => (await chat(o.url, name, FILE_KEY)).target === 'up/c', 5000);
        times.push(performance.now() - t0 - writeMs);
      }
    }
    report.push(`admin change (PUT) served by the other replicas after ${fmt(times)}; median ${median(times).toFixed(0)} ms`);
    for (const t of times) expect(t).toBeLessThan(WITHIN_MS);
  });

  it('ETags agree across replicas; two writes with one If-Match: exactly one wins (across replicas, and on one)', async () => {
    const gets = await Promise.all(replicas.map((r) => admin(r.url, 'GET', '/admin/virtual-models/fresh-0')));
    expect(gets.map((g) => g.status)).toEqual([200, 200, 200]);
    const etag = gets[0].etag!;
    expect(etag).toMatch(/^"[0-9a-f]+"$/);
    expect(gets.map((g) => g.etag)).toEqual([etag, etag, etag]);
    const race = await Promise.all([
      admin(replicas[0].url, 'PATCH', '/admin/virtual-models/fresh-0', { description: 'by replica 0' }, { 'if-match': etag }),
      admin(replicas[1].url, 'PATCH', '/admin/virtual-models/fresh-0', { description: 'by replica 1' }, { 'if-match': etag }),
    ]);
    expect(race.map((r) => r.status).sort()).toEqual([200, 409]);
    const winner = race.find((r) => r.status === 200)!;
    // every replica converges on the winner's content and ETag
    for (const r of replicas) {
      await until(
        'the winning ETag everywhere',
        async () => (await admin(r.url, 'GET', '/admin/virtual-models/fresh-0')).etag === winner.etag,
        3000,
      );
    }
    // on one replica too
    const single = await Promise.all([
      admin(replicas[2].url, 'PATCH', '/admin/virtual-models/fresh-0', { description: 'first' }, { 'if-match': winner.etag! }),
      admin(replicas[2].url, 'PATCH', '/admin/virtual-models/fresh-0', { description: 'second' }, { 'if-match': winner.etag! }),
    ]);
    expect(single.map((r) => r.status).sort()).toEqual([200, 409]);
  });

  it('many concurrent writers through different replicas lose no update', async () => {
    const N = 8;
    const t0 = performance.now();
    const writes = await Promise.all(
      replicas.flatMap((r, k) =>
        Array.from({ length: N }, (_, i) => admin(r.url, 'PUT', '/admin/virtual-models', { source: `w${k}-${i}`, target_model: 'up/a' })),
      ),
    );
    const ms = performance.now() - t0;
    expect(writes.map((w) => w.status)).toEqual(Array(3 * N).fill(200));
    const want = replicas.flatMap((_, k) => Array.from({ length: N }, (_, i) => `w${k}-${i}`)).sort();
    for (const r of replicas) {
      await until(
        `all ${want.length} on ${r.url}`,
        async () => {
          const list = await admin(r.url, 'GET', '/admin/virtual-models');
          const names = new Set((list.json as { source: string }[]).map((v) => v.source));
          return want.every((n) => names.has(n));
        },
        3000,
      );
    }
    report.push(`${3 * N} concurrent PUTs through 3 replicas: all 200, all served everywhere; ${ms.toFixed(0)} ms for the burst`);
  });

  it('a key created through one replica works on all; revoked through another, it is refused everywhere within 1 s', async () => {
    const created = await admin(replicas[0].url, 'POST', '/admin/keys', { id: 'shared-key', user_path: '/team/x' });
    expect(created.status).toBe(201);
    const key = created.json.key as string;
    for (const r of replicas) await until(`key on ${r.url}`, async () => (await chat(r.url, 'base-model', key)).status === 200, 3000);
    const t0 = performance.now();
    const del = await admin(replicas[1].url, 'DELETE', '/admin/keys/shared-key');
    expect(del.status).toBe(200);
    const delMs = performance.now() - t0;
    expect((await chat(replicas[1].url, 'base-model', key)).status).toBe(401);
    const times: number[] = [];
    for (const r of [replicas[0], replicas[2]]) {
      await until(`revocation on ${r.url}`, async () => (await chat(r.url, 'base-model', key)).status === 401, 5000);
      times.push(performance.now() - t0 - delMs);
    }
    report.push(`key revocation refused by the other replicas after ${fmt(times)}`);
    for (const t of times) expect(t).toBeLessThan(WITHIN_MS);
    // a key of the keys file seeded the store: revoking it through admin reaches every replica too
    expect((await admin(replicas[2].url, 'DELETE', '/admin/keys/file-key')).status).toBe(200);
    for (const r of replicas)
      await until(`file key revoked on ${r.url}`, async () => (await chat(r.url, 'base-model', FILE_KEY)).status === 401, 3000);
  });

  it('a cooldown opened by one replica is honoured by the others', async () => {
    const key = (await admin(replicas[0].url, 'POST', '/admin/keys', { id: 'cooldown-key', user_path: '/team' })).json.key as string;
    for (const r of replicas) await until('key everywhere', async () => (await chat(r.url, 'base-model', key)).status === 200, 3000);
    // replica 0 keeps failing on down/x until its breaker ejects it (attempts drop to 1)
    const [a, b, c] = replicas;
    let ejectedAt = 0;
    for (let i = 0; i < 40 && ejectedAt === 0; i++) {
      const r = await chat(a.url, 'pair', key);
      expect(r.status).toBe(200);
      if (r.attempts === '1') ejectedAt = performance.now();
    }
    expect(ejectedAt).toBeGreaterThan(0);
    const times: number[] = [];
    for (const o of [b, c]) {
      // the others skip down/x without having failed on it (at most a couple of tries of their own)
      await until(`cooldown honoured on ${o.url}`, async () => (await chat(o.url, 'pair', key)).attempts === '1', 5000, 20);
      times.push(performance.now() - ejectedAt);
    }
    report.push(`cooldown honoured by the other replicas after ${fmt(times)}`);
    for (const t of times) expect(t).toBeLessThan(WITHIN_MS);
    for (const o of [b, c]) expect(o.lines(/cooldown honoured/).length).toBeGreaterThan(0);
  });

  it('Redis killed under load: no request fails, degraded, reads answer, writes 503; back empty: state written back, writes again', async () => {
    const key = (await admin(replicas[0].url, 'POST', '/admin/keys', { id: 'outage-key', user_path: '/team' })).json.key as string;
    for (const r of replicas) await until('key everywhere', async () => (await chat(r.url, 'base-model', key)).status === 200, 3000);
    const before = (await raw.hget('vmc:state', 'doc'))!;
    const load = startLoad(nginx.url, key, 6, 30_000);
    await sleep(300);
    const tKill = performance.now();
    await redis.kill();
    for (const r of replicas) await until(`degraded on ${r.url}`, async () => (await health(r.url)).state === 'degraded', 5000);
    const degradedMs = performance.now() - tKill;
    // reads answer from the last state; writes of both kinds get 503
    const list = await admin(replicas[1].url, 'GET', '/admin/virtual-models');
    expect(list.status).toBe(200);
    expect((list.json as { source: string }[]).some((v) => v.source === 'w0-0')).toBe(true);
    expect((await admin(replicas[1].url, 'PUT', '/admin/virtual-models', { source: 'during-outage', target_model: 'up/a' })).status).toBe(
      503,
    );
    expect((await admin(replicas[2].url, 'POST', '/admin/keys', { id: 'during-outage', user_path: '/team' })).status).toBe(503);
    expect((await admin(replicas[0].url, 'DELETE', '/admin/keys/outage-key')).status).toBe(503);
    // a replica that starts now starts degraded, on the table alone
    const late = await Replica.start(tables[0], replicaArgs());
    try {
      expect((await health(late.url)).state).toBe('degraded');
      await sleep(500);
      // Redis comes back without its data
      await redis.restart();
      const tBack = performance.now();
      await raw.connect().catch(() => undefined);
      for (const r of [...replicas, late]) await until(`ok on ${r.url}`, async () => (await health(r.url)).state === 'ok', 8000);
      const okMs = performance.now() - tBack;
      // written back: every admin change and key is in Redis again, and served by the late one
      await until('state written back', async () => (await raw.hget('vmc:state', 'doc')) !== null, 3000);
      const after = JSON.parse((await raw.hget('vmc:state', 'doc'))!) as {
        upserts: Record<string, unknown>;
        keys: { created: Record<string, unknown> };
      };
      const prior = JSON.parse(before) as typeof after;
      expect(Object.keys(after.upserts).sort()).toEqual(Object.keys(prior.upserts).sort());
      expect(Object.keys(after.keys.created).sort()).toEqual(Object.keys(prior.keys.created).sort());
      await until('late replica serves the admin changes', async () => (await chat(late.url, 'fresh-1', key)).status === 200, 3000);
      // writes are accepted again and reach everyone
      expect((await admin(replicas[1].url, 'PUT', '/admin/virtual-models', { source: 'after-outage', target_model: 'up/a' })).status).toBe(
        200,
      );
      for (const r of [...replicas, late])
        await until('after-outage everywhere', async () => (await chat(r.url, 'after-outage', key)).status === 200, 3000);
      const res = await load.stop();
      report.push(
        `Redis outage under load (6 clients through nginx): ${res.sent} requests, ${res.ok} ok, ${[...res.failed.values()].reduce((a, b) => a + b, 0)} failed; ` +
          `all replicas degraded ${degradedMs.toFixed(0)} ms after the kill, ok and written back ${okMs.toFixed(0)} ms after Redis returned empty`,
      );
      expect(Object.fromEntries(res.failed)).toEqual({});
      expect(res.ok).toBeGreaterThan(50);
    } finally {
      await load.stop();
      await late.stop();
    }
  });

  it('a rolling table update (deploy/rolling-update.sh) under load fails no request', async () => {
    const key = (await admin(replicas[0].url, 'POST', '/admin/keys', { id: 'rolling-key', user_path: '/team' })).json.key as string;
    for (const r of replicas) await until('key everywhere', async () => (await chat(r.url, 'base-model', key)).status === 200, 3000);
    const v2 = await buildTableFromYaml(
      config('  added-in-v2: { target: up/b }\n').replace('UP_URL', up.url).replace('DOWN_URL', down.url),
    );
    const v2Path = join(dir, 'table-v2.vmct');
    await writeFile(v2Path, v2);
    const want = Buffer.from(v2.subarray(8, 40)).toString('hex');
    const load = startLoad(nginx.url, key, 6, 30_000);
    await sleep(300);
    const script = spawn('bash', [join(ROOT, 'deploy/rolling-update.sh'), v2Path, ...replicas.map((r, i) => `${r.url}=${tables[i]}`)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    script.stdout.on('data', (d) => (out += d));
    script.stderr.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((r) => script.on('exit', r));
    await sleep(300);
    const res = await load.stop();
    expect(code, out).toBe(0);
    expect(out).toContain('every replica serves');
    for (const r of replicas) {
      const h = await health(r.url);
      expect(h.table_hash).toBe(want);
      // admin changes still apply on top of the new table
      expect((await chat(r.url, 'added-in-v2', key)).status).toBe(200);
      expect((await chat(r.url, 'after-outage', key)).status).toBe(200);
    }
    report.push(
      `rolling update of 3 replicas under load (6 clients through nginx): ${res.sent} requests, ${res.ok} ok, ${[...res.failed.values()].reduce((a, b) => a + b, 0)} failed\n    ${out.trim().split('\n').join('\n    ')}`,
    );
    expect(Object.fromEntries(res.failed)).toEqual({});
    expect(res.ok).toBeGreaterThan(20);
  });
});
