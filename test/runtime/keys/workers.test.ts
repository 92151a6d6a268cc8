/**
 * Caller keys with `vmc serve --workers 2 --keys FILE` (SPEC §12, §10): a key created through
 * one worker is served by every worker; a key revoked through one worker (DELETE /admin/keys)
 * or in the keys file (`vmc keys revoke`) is refused by every worker within 1 s; /metrics adds
 * the key series of all workers; no key shows up in the logs or the metrics. Requests go on
 * new connections, so the kernel spreads them over both workers.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockProvider, type MockProvider } from '../../../bench/sim/simulated-provider.js';
import { buildTableFromYaml } from '../../../compiler/testing.js';
import { ensureBuilt, freePort, metricSum, request, ROOT, spawnServe, type ServeProcess } from '../fixtures/gateway-process.js';

const TOKEN = 'keys-workers-token';
const ADMIN = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
let mock: MockProvider;
let dir: string;
let tablePath: string;
let keysFile: string;
let gw: ServeProcess | null = null;
const keys: string[] = [];

const vmc = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/vmc.js'), ...args], { encoding: 'utf8' });

beforeAll(async () => {
  ensureBuilt();
  mock = await startMockProvider({ name: 'up' });
  dir = await mkdtemp(join(tmpdir(), 'vmc-keys-workers-'));
  tablePath = join(dir, 'table.vmct');
  keysFile = join(dir, 'keys.yaml');
  await writeFile(
    tablePath,
    await buildTableFromYaml(`version: 1
providers:
  up: { type: openai, base_url: ${mock.url}/v1, models: [a] }
virtual_models:
  x: { target: up/a }
`),
  );
  for (const id of ['file-a', 'file-b']) {
    const r = vmc('keys', 'create', '--file', keysFile, '--id', id, '--user-path', '/');
    expect(r.status).toBe(0);
    keys.push(r.stdout.trim());
  }
}, 120_000);
afterAll(async () => {
  if (gw !== null) await gw.stop();
  await mock.close();
  await rm(dir, { recursive: true, force: true });
});

/** Statuses of `n` chat requests with `key`, each on a new connection, in parallel. */
async function statuses(base: string, key: string, n = 16): Promise<number[]> {
  const rs = await Promise.all(
    Array.from({ length: n }, () =>
      request(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hi' }] }),
      }),
    ),
  );
  return rs.map((r) => r.status);
}

/** Polls until every worker refuses `key` (a whole batch of 401s); returns the ms it took. */
async function refusedEverywhere(base: string, key: string, limitMs: number): Promise<number> {
  const start = Date.now();
  for (;;) {
    const s = await statuses(base, key);
    if (s.every((x) => x === 401)) return Date.now() - start;
    if (Date.now() - start > limitMs) throw new Error(`still served after ${limitMs} ms: ${s.join(',')}`);
  }
}

describe('--workers 2 with --keys', () => {
  it('admin keys reach every worker; revocations (admin, file) are refused by every worker within 1 s; no key leaks', async () => {
    const port = await freePort();
    gw = await spawnServe(tablePath, { port, workers: 2, args: ['--keys', keysFile], env: { VMC_ADMIN_TOKEN: TOKEN } });
    const base = gw.base;
    expect(await statuses(base, keys[0])).toEqual(Array(16).fill(200));

    const made = await request(`${base}/admin/keys`, {
      method: 'POST',
      headers: ADMIN,
      body: JSON.stringify({ id: 'made', user_path: '/' }),
    });
    expect(made.status).toBe(201);
    const key = made.json().key as string;
    keys.push(key);
    expect(await statuses(base, key)).toEqual(Array(16).fill(200)); // read-your-writes on one worker, told to the other

    const del = await request(`${base}/admin/keys/made`, { method: 'DELETE', headers: ADMIN });
    expect(del.status).toBe(200);
    expect(await refusedEverywhere(base, key, 1000)).toBeLessThanOrEqual(1000);

    const delFile = await request(`${base}/admin/keys/file-a`, { method: 'DELETE', headers: ADMIN });
    expect(delFile.status).toBe(200);
    expect(await refusedEverywhere(base, keys[0], 1000)).toBeLessThanOrEqual(1000);

    expect(vmc('keys', 'revoke', '--file', keysFile, '--id', 'file-b').status).toBe(0);
    expect(await refusedEverywhere(base, keys[1], 1000)).toBeLessThanOrEqual(1000);

    const metrics = (await request(`${base}/metrics`)).text;
    expect(metricSum(metrics, 'vmc_key_requests_total', 'key_id="file-a"')).toBeGreaterThanOrEqual(16);
    expect(metricSum(metrics, 'vmc_key_requests_total', 'key_id="made"')).toBeGreaterThanOrEqual(16);
    expect(metricSum(metrics, 'vmc_key_auth_failures_total', 'reason="unknown"')).toBeGreaterThanOrEqual(16); // deleted admin key
    expect(metricSum(metrics, 'vmc_key_auth_failures_total', 'reason="disabled"')).toBeGreaterThanOrEqual(32); // revoked file keys
    const listed = (await request(`${base}/admin/keys`, { headers: ADMIN })).text;

    const served = gw;
    expect(await served.stop()).toBe(0);
    gw = null;
    const everything = [listed, metrics, ...served.lines.map((l) => JSON.stringify(l))].join('\n');
    expect(everything).toContain('file-a'); // ids are there
    for (const k of keys) expect(everything.includes(k)).toBe(false);
  });
});
