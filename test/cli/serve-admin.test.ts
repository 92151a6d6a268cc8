/**
 * `vmc serve` as a process: admin changes (GoModel PUT/DELETE, NeMo GET/PATCH) are compiled,
 * applied, persisted beside the table, and survive a restart; SIGTERM exits 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildTableFromYaml } from '../../compiler/testing.js';
import { startMockProvider, type MockProvider } from '../../bench/sim/simulated-provider.js';

const ROOT = resolve(__dirname, '../..');
const TOKEN = 'test-admin-token';

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

async function startServe(tablePath: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/vmc.js'), 'serve', '--table', tablePath, '--port', String(port)], {
    env: { ...process.env, VMC_ADMIN_TOKEN: TOKEN, VMC_LOG: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.ok) return child;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null) throw new Error(`vmc serve exited ${child.exitCode}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`vmc serve did not come up: ${stderr}`);
}

const stop = (child: ChildProcess): Promise<number | null> =>
  new Promise((res) => {
    child.once('exit', (code) => res(code));
    child.kill('SIGTERM');
  });

let dir: string;
let mock: MockProvider;
let tablePath: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vmc-admin-'));
  mock = await startMockProvider({ name: 'up' });
  tablePath = join(dir, 'table.vmct');
  await writeFile(
    tablePath,
    await buildTableFromYaml(`
version: 1
providers:
  up: { type: openai, base_url: ${mock.url}/v1, api_key_env: UP_KEY, models: [a, b, c] }
virtual_models:
  base-model: { target: up/a }
  ws/bot: { default_model_entity: up/a, models: [{ model: up/a }, { model: up/b }] }
`),
  );
});
afterAll(async () => {
  await mock.close();
  await rm(dir, { recursive: true, force: true });
});

describe('admin API through vmc serve', () => {
  it('upserts, patches and deletes, persists across a restart, exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    let child = await startServe(tablePath, port);
    try {
      expect((await fetch(`${base}/admin/virtual-models`)).status).toBe(401);

      const put = await fetch(`${base}/admin/virtual-models`, {
        method: 'PUT',
        headers: auth,
        body: JSON.stringify({ source: 'fresh', target_model: 'up/c', user_paths: ['/team'] }),
      });
      expect(put.status).toBe(200);
      expect(await put.json()).toMatchObject({ source: 'fresh', model: 'up/c', user_paths: ['/team'] });

      const bad = await fetch(`${base}/admin/virtual-models`, {
        method: 'PUT',
        headers: auth,
        body: JSON.stringify({ source: 'broken', target_model: 'up/zzz' }),
      });
      expect(bad.status).toBe(400);
      expect((await bad.json()).error.diagnostics[0].code).toBe('VMC2001');

      const routed = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'x-vmc-user-path': '/team/x' },
        body: JSON.stringify({ model: 'fresh', messages: [] }),
      });
      expect(routed.status).toBe(200);
      expect(routed.headers.get('x-vmc-target')).toBe('up/c');

      const nemo = `${base}/apis/inference-gateway/v2/workspaces/ws/virtual-models/bot`;
      const got = await fetch(nemo, { headers: auth });
      expect(got.status).toBe(200);
      const etag = got.headers.get('etag')!;
      expect((await got.json()).default_model_entity).toBe('up/a');
      expect((await fetch(nemo, { method: 'PATCH', headers: { ...auth, 'if-match': '"stale"' }, body: '{}' })).status).toBe(409);
      expect(
        (await fetch(`${base}/apis/inference-gateway/v2/workspaces/ws/virtual-models/nope`, { method: 'PATCH', headers: auth, body: '{}' }))
          .status,
      ).toBe(404);
      expect(
        (await fetch(nemo, { method: 'PATCH', headers: auth, body: JSON.stringify({ default_model_entity: 'up/missing' }) })).status,
      ).toBe(422);
      const patched = await fetch(nemo, {
        method: 'PATCH',
        headers: { ...auth, 'if-match': etag },
        body: JSON.stringify({ default_model_entity: 'up/b' }),
      });
      expect(patched.status).toBe(200);
      const view = await patched.json();
      expect(view.default_model_entity).toBe('up/b');
      expect(view.models.map((m: { model: string }) => m.model)).toEqual(['up/b', 'up/a']); // absent `models` kept

      expect((await fetch(`${base}/admin/virtual-models/base-model`, { method: 'DELETE', headers: auth })).status).toBe(200);
      expect((await fetch(`${base}/admin/virtual-models/base-model`, { method: 'DELETE', headers: auth })).status).toBe(404);
      const state = JSON.parse(await readFile(`${tablePath}.admin.json`, 'utf8'));
      expect(Object.keys(state.upserts).sort()).toEqual(['fresh', 'ws/bot']);
      expect(state.deletes).toEqual(['base-model']);

      expect(await stop(child)).toBe(0);
      child = await startServe(tablePath, port);
      const after = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'x-vmc-user-path': '/team' },
        body: JSON.stringify({ model: 'fresh', messages: [] }),
      });
      expect(after.headers.get('x-vmc-target')).toBe('up/c');
      const gone = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'base-model', messages: [] }),
      });
      expect(gone.status).toBe(404);
      const bot = await (await fetch(nemo, { headers: auth })).json();
      expect(bot.default_model_entity).toBe('up/b');
    } finally {
      if (child.exitCode === null) expect(await stop(child)).toBe(0);
    }
  });
});
