/**
 * `vmc serve --state` as a process (SPEC §14): a bad URL is a usage error (exit 2) that never
 * shows the password; VMC_STATE_URL works like the flag; a local state file is ignored with a
 * warning; without --state `/health` says the local file is in use. With `--workers 2` every
 * worker follows the shared state: a change through a single-process replica is served by both
 * workers of a clustered one, and the other way round.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTableFromYaml } from '../../compiler/testing.js';
import { startMockProvider, type MockProvider } from '../../bench/sim/simulated-provider.js';
import { ADMIN_TOKEN, REDIS_SERVER, ROOT, RedisServer, Replica, freePort, skipNote, sleep } from './procs.js';

skipNote('vmc serve --state as a process', REDIS_SERVER === null ? ['redis-server'] : []);

const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

let dir: string;
let tablePath: string;
let mock: MockProvider;

beforeAll(async () => {
  mock = await startMockProvider({ name: 'up' });
  dir = await mkdtemp(join(tmpdir(), 'vmc-serve-state-'));
  tablePath = join(dir, 'table.vmct');
  await writeFile(
    tablePath,
    await buildTableFromYaml(`
version: 1
providers:
  up: { type: openai, base_url: ${mock.url}/v1, models: [a, b] }
virtual_models:
  base-model: { target: up/a }
`),
  );
});
afterAll(async () => {
  await mock?.close();
});

const health = (base: string) => fetch(`${base}/health`).then((r) => r.json() as Promise<Record<string, unknown>>);
const chat = (base: string, model: string) =>
  fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
  }).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });

describe('vmc serve --state: flags', () => {
  it('a bad URL is a usage error (exit 2) naming what is wrong, never the password', () => {
    for (const [args, env, want] of [
      [['--state', 'http://:hunter2@h'], {}, /--state: unsupported scheme "http"/],
      [['--state', 'redis://:hunter2@h/notadb'], {}, /database number/],
      [[], { VMC_STATE_URL: 'redis://:hunter2@h?x=1' }, /VMC_STATE_URL: unknown parameter "x"/],
    ] as const) {
      const r = spawnSync(process.execPath, [join(ROOT, 'bin/vmc.js'), 'serve', '--table', tablePath, '--port', '0', ...args], {
        env: { ...process.env, ...env },
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toMatch(want);
      expect(r.stderr).not.toContain('hunter2');
    }
  });

  it('without --state: the local state file, state ok', async () => {
    const r = await Replica.start(tablePath, []);
    try {
      const h = await health(r.url);
      expect(h).toMatchObject({ state: 'ok', state_store: 'file' });
    } finally {
      await r.stop();
    }
  });
});

describe.skipIf(REDIS_SERVER === null)('vmc serve --state: processes', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await RedisServer.start({ password: 's3cret pass' });
  });
  afterAll(async () => {
    await redis?.kill('SIGTERM');
  });

  it('VMC_STATE_URL works like the flag; a local state file is ignored with a warning; the password is not logged', async () => {
    await writeFile(`${tablePath}.admin.json`, JSON.stringify({ version: 1, upserts: { stale: { target: 'up/a' } }, deletes: [] }));
    const r = await Replica.start(tablePath, [], { VMC_STATE_URL: redis.url });
    try {
      const h = await health(r.url);
      expect(h).toMatchObject({ state: 'ok', state_store: 'redis' });
      expect(r.lines(/a local admin state file exists and is ignored/).length).toBe(1);
      expect(await chat(r.url, 'stale')).toBe(404); // not served from the ignored file
      expect(r.stderr).not.toContain('s3cret');
      expect(r.stderr).toContain(':***@');
    } finally {
      await r.stop();
    }
  });

  it('--workers 2: every worker follows the shared state, and writes through a worker reach other replicas', async () => {
    const port = await freePort();
    const cluster = await Replica.exec(['serve', '--table', tablePath, '--port', String(port), '--workers', '2', '--state', redis.url]);
    const single = await Replica.start(tablePath, ['--state', redis.url]);
    const clusterUrl = `http://127.0.0.1:${port}`;
    try {
      // wait for both workers (the start-up line is the first worker's)
      for (let i = 0; i < 100 && cluster.lines(/^gateway listening$/).length < 2; i++) await sleep(50);
      const put = await fetch(`${single.url}/admin/virtual-models`, {
        method: 'PUT',
        headers: ADMIN,
        body: JSON.stringify({ source: 'via-single', target_model: 'up/b' }),
      });
      expect(put.status).toBe(200);
      // every request on a new connection: the kernel spreads them over both workers
      const allServe = async (base: string, model: string) => {
        for (let i = 0; i < 40; i++) {
          const statuses = await Promise.all(Array.from({ length: 8 }, () => chat(base, model)));
          if (statuses.every((s) => s === 200)) return true;
          await sleep(50);
        }
        return false;
      };
      expect(await allServe(clusterUrl, 'via-single')).toBe(true);
      const put2 = await fetch(`${clusterUrl}/admin/virtual-models`, {
        method: 'PUT',
        headers: ADMIN,
        body: JSON.stringify({ source: 'via-cluster', target_model: 'up/a' }),
      });
      expect(put2.status).toBe(200);
      expect(await allServe(single.url, 'via-cluster')).toBe(true);
      expect(await allServe(clusterUrl, 'via-cluster')).toBe(true);
    } finally {
      await Promise.all([cluster.stop(), single.stop()]);
    }
  });
});
