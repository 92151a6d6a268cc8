/**
 * `vmc serve` as a real process, for what only shows with processes: `--workers N` share the
 * admin state (one writer, every worker reloads from the persisted state, no lost update),
 * `/metrics` reports the whole gateway, a bad admin state file is quarantined instead of
 * stopping the start, and workers that keep failing at start make the primary give up
 * (non-zero exit) after backing off.
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockProvider, type MockProvider } from '../../bench/sim/simulated-provider.js';
import { buildTableFromYaml } from '../../compiler/testing.js';
import { ensureBuilt, freePort, metricSum, request, sleep, spawnServe } from './fixtures/gateway-process.js';

const TOKEN = 'workers-admin-token';
const AUTH = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
let mock: MockProvider;
let dir: string;
let tablePath: string;

const chat = (model: string) => JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] });

beforeAll(async () => {
  ensureBuilt();
  mock = await startMockProvider({ name: 'up' });
  dir = await mkdtemp(join(tmpdir(), 'vmc-workers-'));
  tablePath = join(dir, 'table.vmct');
  await writeFile(
    tablePath,
    await buildTableFromYaml(`version: 1
providers:
  up: { type: openai, base_url: ${mock.url}/v1, models: [a, b, c] }
virtual_models:
  x: { target: up/a }
`),
  );
}, 120_000);
afterAll(async () => {
  await mock.close();
  await rm(dir, { recursive: true, force: true });
});

const statePath = () => `${tablePath}.admin.json`;

/** Polls `check` (bounded) until it returns true. */
async function eventually(check: () => Promise<boolean>, ms = 8000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await sleep(50);
  }
  return check();
}

describe('--workers: shared admin state', () => {
  it('PUTs through different workers: none lost, every worker serves every change, all survive a restart', async () => {
    await rm(statePath(), { force: true });
    const port = await freePort();
    let s = await spawnServe(tablePath, { port, workers: 2, env: { VMC_ADMIN_TOKEN: TOKEN } });
    try {
      const names = Array.from({ length: 16 }, (_, i) => `vm${i}`);
      const puts = await Promise.all(
        names.map((name, i) =>
          request(`${s.base}/admin/virtual-models`, {
            method: 'PUT',
            headers: AUTH,
            body: JSON.stringify({ source: name, target_model: i % 2 ? 'up/b' : 'up/c' }),
          }),
        ),
      );
      expect(puts.map((r) => r.status)).toEqual(names.map(() => 200));
      const state = JSON.parse(await readFile(statePath(), 'utf8')) as { upserts: Record<string, unknown> };
      expect(Object.keys(state.upserts).sort()).toEqual([...names].sort());

      // Every worker serves every change (new connection per request: both workers are hit).
      // (what was refused last, so a failure says which model and status)
      let refused: string[] = [];
      const servedEverywhere = async () => {
        const rs = await Promise.all(
          names.flatMap((n) =>
            [0, 1, 2].map(async () => {
              const r = await request(`${s.base}/v1/chat/completions`, {
                method: 'POST',
                headers: { 'content-type': 'application/json' },
                body: chat(n),
              });
              return r.status === 200 ? '' : `${n}: ${r.status} ${r.text.slice(0, 120)}`;
            }),
          ),
        );
        refused = rs.filter((r) => r !== '');
        return refused.length === 0;
      };
      await eventually(servedEverywhere);
      expect(refused).toEqual([]);
      const listed = await Promise.all([0, 1, 2, 3, 4, 5].map(() => request(`${s.base}/admin/virtual-models`, { headers: AUTH })));
      for (const l of listed) expect((l.json() as { source: string }[]).map((v) => v.source).sort()).toEqual([...names, 'x'].sort());

      expect(await s.stop()).toBe(0);
      s = await spawnServe(tablePath, { port, workers: 2, env: { VMC_ADMIN_TOKEN: TOKEN } });
      await servedEverywhere();
      expect(refused).toEqual([]);
    } finally {
      await s.stop();
    }
  }, 90_000);
});

describe('--workers: POST /admin/reload', () => {
  it('reloads every worker, not only the one that took the call', async () => {
    await rm(statePath(), { force: true });
    const copy = join(dir, 'reload.vmct');
    const first = await readFile(tablePath);
    await writeFile(copy, first);
    const port = await freePort();
    const s = await spawnServe(copy, { port, workers: 2, env: { VMC_ADMIN_TOKEN: TOKEN }, args: ['--no-watch'] });
    try {
      const next = await buildTableFromYaml(`version: 1
providers:
  up: { type: openai, base_url: ${mock.url}/v1, models: [a, b, c] }
virtual_models:
  x: { target: up/b }
`);
      await writeFile(copy, next);
      const r = await request(`${s.base}/admin/reload`, { method: 'POST', headers: AUTH });
      expect(r.status).toBe(200);
      const want = (r.json() as { table_hash: string }).table_hash;
      const allNew = async () => {
        const hs = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(() => request(`${s.base}/health`)));
        return hs.every((h) => (h.json() as { table_hash: string }).table_hash === want);
      };
      expect(await eventually(allNew)).toBe(true);
    } finally {
      await s.stop();
      await rm(copy, { force: true });
    }
  }, 60_000);
});

describe('--workers: metrics of the whole gateway', () => {
  it('every scrape counts the requests of every worker; counters never go down, even when a worker dies', async () => {
    const port = await freePort();
    const s = await spawnServe(tablePath, { port, workers: 2 });
    try {
      const n = 24;
      const rs = await Promise.all(
        Array.from({ length: n }, () =>
          request(`${s.base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chat('x') }),
        ),
      );
      expect(rs.every((r) => r.status === 200)).toBe(true);
      let last = 0;
      for (let i = 0; i < 8; i++) {
        const m = await request(`${s.base}/metrics`);
        expect(m.status).toBe(200);
        const count = metricSum(m.text, 'vmc_requests_total', 'virtual_model="x",target="up/a",status="200"');
        expect(count).toBe(n);
        expect(count).toBeGreaterThanOrEqual(last);
        last = count;
        expect(metricSum(m.text, 'vmc_workers')).toBe(2);
      }
      // A worker killed: its counters stay in the totals, the restart is counted.
      const pids = s.lines.filter((l) => l.msg === 'gateway listening').map((l) => Number(l.pid));
      expect(pids).toHaveLength(2);
      process.kill(pids[0], 'SIGKILL');
      const restarted = await eventually(async () => s.lines.filter((l) => l.msg === 'gateway listening').length === 3);
      expect(restarted).toBe(true);
      const after = await request(`${s.base}/metrics`);
      expect(metricSum(after.text, 'vmc_requests_total', 'virtual_model="x",target="up/a",status="200"')).toBe(n);
      expect(metricSum(after.text, 'vmc_worker_restarts_total')).toBe(1);
      expect(s.lines.some((l) => l.msg === 'worker exited; restarting' && l.signal === 'SIGKILL')).toBe(true);
    } finally {
      await s.stop();
    }
  }, 60_000);
});

describe('bad admin state file at start', () => {
  const cases: [string, string][] = [
    ['truncated', '{"version":1,"upserts":{"late":{"source":"late","target_model":"up/b"'],
    [
      'stale (no longer compiles against the table)',
      JSON.stringify({ version: 1, upserts: { gone: { source: 'gone', target_model: 'up/zzz' } }, deletes: [], updatedAt: {} }),
    ],
  ];
  for (const workers of [1, 2]) {
    for (const [what, text] of cases) {
      it(`${what}, --workers ${workers}: quarantined with a loud error; the gateway starts on the table alone`, async () => {
        for (const f of readdirSync(dir)) if (f.includes('.admin.json')) await rm(join(dir, f));
        await writeFile(statePath(), text);
        const port = await freePort();
        const s = await spawnServe(tablePath, { port, workers, env: { VMC_ADMIN_TOKEN: TOKEN } });
        try {
          expect((await request(`${s.base}/health`)).status).toBe(200);
          const r = await request(`${s.base}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: chat('x'),
          });
          expect(r.status).toBe(200);
          const aside = readdirSync(dir).filter((f) => f.startsWith('table.vmct.admin.json.quarantined-'));
          expect(aside).toHaveLength(1);
          expect(await readFile(join(dir, aside[0]), 'utf8')).toBe(text);
          expect(existsSync(statePath())).toBe(false);
          const loud = s.lines.filter((l) => l.level === 'error' && String(l.msg).includes('quarantined'));
          expect(loud.length).toBeGreaterThanOrEqual(1);
          expect(String(loud[0].quarantined_to)).toContain('quarantined-');
          // Admin works again on top of the table alone.
          const put = await request(`${s.base}/admin/virtual-models`, {
            method: 'PUT',
            headers: AUTH,
            body: JSON.stringify({ source: 'fresh', target_model: 'up/c' }),
          });
          expect(put.status).toBe(200);
          expect(await s.stop()).toBe(0);
        } finally {
          await s.stop();
        }
      }, 60_000);
    }
  }
});

describe('workers that keep failing at start', () => {
  it('the primary restarts them with growing back-off, then gives up with a non-zero exit', async () => {
    // Another socket holds the port without SO_REUSEPORT: every worker fails to listen.
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const s = await spawnServe(tablePath, { port, workers: 2, readyMsg: null });
      const code = await Promise.race([s.exit, sleep(40_000).then(() => 'still running' as const)]);
      if (code === 'still running') s.child.kill('SIGKILL');
      expect(code).not.toBe('still running');
      expect(code).not.toBe(0);
      const backoffs = s.lines
        .filter((l) => l.msg === 'worker failed at start; restarting after a back-off')
        .map((l) => Number(l.backoff_ms));
      expect(backoffs.length).toBeGreaterThanOrEqual(2);
      expect(backoffs[backoffs.length - 1]).toBeGreaterThan(backoffs[0]);
      expect(s.lines.some((l) => l.level === 'error' && String(l.msg).includes('giving up'))).toBe(true);
    } finally {
      blocker.close();
    }
  }, 60_000);
});
