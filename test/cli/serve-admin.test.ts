/**
 * `vmc serve` as a process: admin changes (GoModel PUT/PATCH/DELETE, NeMo GET/PATCH) are
 * compiled, applied, persisted beside the table, and survive a restart; SIGTERM exits 0.
 * Without VMC_ADMIN_TOKEN admin answers 403; the serve flags of SPEC §10/§11 are described
 * by `--help` and checked at start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildTableFromYaml } from '../../compiler/testing.js';
import { startMockProvider, type MockProvider } from '../../bench/sim/simulated-provider.js';
import { freePort } from '../../bench/harness/proc.js';

const ROOT = resolve(__dirname, '../..');
const TOKEN = 'test-admin-token';
const JSON_TYPE = { 'content-type': 'application/json' };

async function startServe(
  tablePath: string,
  port: number,
  extra: string[] = [],
  env: Record<string, string | undefined> = {},
): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/vmc.js'), 'serve', '--table', tablePath, '--port', String(port), ...extra], {
    env: { ...process.env, VMC_ADMIN_TOKEN: TOKEN, VMC_LOG: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  (child as ChildProcess & { stderrText: () => string }).stderrText = () => stderr;
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
        headers: { 'x-vmc-user-path': '/team/x', ...JSON_TYPE },
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

      // GoModel PATCH (SPEC §10): absent keeps, null clears, If-Match like the NeMo path.
      const one = await fetch(`${base}/admin/virtual-models/fresh`, { headers: auth });
      expect(one.status).toBe(200);
      const goEtag = one.headers.get('etag')!;
      const stale = await fetch(`${base}/admin/virtual-models/fresh`, {
        method: 'PATCH',
        headers: { ...auth, 'if-match': '"stale"' },
        body: JSON.stringify({ description: 'x' }),
      });
      expect(stale.status).toBe(409);
      const goPatched = await fetch(`${base}/admin/virtual-models/fresh`, {
        method: 'PATCH',
        headers: { ...auth, 'if-match': goEtag },
        body: JSON.stringify({ description: 'patched', user_paths: null }),
      });
      expect(goPatched.status).toBe(200);
      expect(goPatched.headers.get('etag')).not.toBe(goEtag);
      expect(await goPatched.json()).toMatchObject({ source: 'fresh', model: 'up/c', user_paths: [], description: 'patched' });
      const global = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: JSON_TYPE,
        body: JSON.stringify({ model: 'fresh', messages: [] }),
      });
      expect(global.status).toBe(200); // user_paths cleared: no longer limited to /team

      expect((await fetch(`${base}/admin/virtual-models/base-model`, { method: 'DELETE', headers: auth })).status).toBe(200);
      expect((await fetch(`${base}/admin/virtual-models/base-model`, { method: 'DELETE', headers: auth })).status).toBe(404);
      const state = JSON.parse(await readFile(`${tablePath}.admin.json`, 'utf8'));
      expect(Object.keys(state.upserts).sort()).toEqual(['fresh', 'ws/bot']);
      expect(state.deletes).toEqual(['base-model']);

      expect(await stop(child)).toBe(0);
      child = await startServe(tablePath, port);
      const after = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: JSON_TYPE,
        body: JSON.stringify({ model: 'fresh', messages: [] }),
      });
      expect(after.headers.get('x-vmc-target')).toBe('up/c');
      expect((await (await fetch(`${base}/admin/virtual-models/fresh`, { headers: auth })).json()).description).toBe('patched');
      const gone = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: JSON_TYPE,
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

describe('vmc serve flags and admin disabled', () => {
  const vmc = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'bin/vmc.js'), ...args], { encoding: 'utf8' });

  it('--help describes the serve flags and the environment', () => {
    const r = vmc('serve', '--help');
    expect(r.status).toBe(0);
    for (const flag of [
      '--workers',
      '--max-body',
      '--max-connections',
      '--max-inflight-body',
      '--allowed-hosts',
      '--provider-url',
      '--state-dir',
      '--no-watch',
      '--keys',
      '--require-keys',
      'VMC_ADMIN_TOKEN',
      'VMC_HTTP_ENGINE',
      '403',
    ]) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('--provider-url: a malformed value or a provider the table lacks is a usage error (exit 2) naming the providers', () => {
    const unknown = vmc('serve', '--table', tablePath, '--port', '0', '--provider-url', 'nope=http://127.0.0.1:9');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/no provider "nope" \(providers: up\)/);
    const malformed = vmc('serve', '--table', tablePath, '--provider-url', 'up');
    expect(malformed.status).toBe(2);
    expect(malformed.stderr).toMatch(/--provider-url takes NAME=URL/);
    expect(vmc('serve', '--table', tablePath, '--max-connections', '0').status).toBe(2);
  });

  it('--require-keys without --keys, and an invalid or missing keys file, refuse to start (exit 1, positioned diagnostics)', async () => {
    const required = vmc('serve', '--table', tablePath, '--port', '0', '--require-keys');
    expect(required.status).toBe(1);
    expect(required.stderr).toMatch(/--require-keys: no keys file given/);
    const bad = join(dir, 'bad-keys.yaml');
    await writeFile(bad, 'keys:\n  - id: a\n    hash: sha256:XYZ\n    user_path: /a\n');
    const invalid = vmc('serve', '--table', tablePath, '--port', '0', '--keys', bad, '--require-keys');
    expect(invalid.status).toBe(1);
    expect(invalid.stderr).toMatch(/bad-keys\.yaml:3:11 - error VMK007: hash must be/);
    const missing = vmc('serve', '--table', tablePath, '--port', '0', '--keys', join(dir, 'nope.yaml'));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/VMK001: cannot read the keys file: no such file/);
  });

  it("--provider-url NAME=URL sends that provider's requests to URL", async () => {
    const other = await startMockProvider({ name: 'staging' });
    const port = await freePort();
    const child = await startServe(tablePath, port, ['--provider-url', `up=${other.url}/v1`]);
    try {
      const before = mock.requests.length;
      const r = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
        method: 'POST',
        headers: JSON_TYPE,
        body: JSON.stringify({ model: 'ws/bot', messages: [] }),
      });
      expect(r.status).toBe(200);
      expect(other.requests).toHaveLength(1);
      expect(other.requests[0].path).toBe('/v1/chat/completions');
      // without --forwarded-for the provider learns nothing of the client's address
      expect(other.requests[0].headers['x-forwarded-for']).toBeUndefined();
      expect(mock.requests.length).toBe(before);
    } finally {
      await stop(child);
      await other.close();
    }
  });

  it("--forwarded-for sends the client's address upstream (cluster mode: the flag reaches the workers)", async () => {
    const port = await freePort();
    const child = await startServe(tablePath, port, ['--forwarded-for', '--workers', '2']);
    try {
      const before = mock.requests.length;
      for (let i = 0; i < 4; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
          method: 'POST',
          headers: { ...JSON_TYPE, 'x-forwarded-for': '203.0.113.7' },
          body: JSON.stringify({ model: 'ws/bot', messages: [] }),
        });
        expect(r.status).toBe(200);
      }
      const seen = mock.requests.slice(before).map((q) => q.headers['x-forwarded-for']);
      expect(seen).toEqual(Array(4).fill('203.0.113.7, 127.0.0.1'));
    } finally {
      await stop(child);
    }
  });

  it('--allowed-hosts and --max-inflight-body reach the HTTP engine; its refusals are counted by kind', async () => {
    const port = await freePort();
    const child = await startServe(tablePath, port, ['--allowed-hosts', 'LOCALHOST,127.0.0.1', '--max-inflight-body', '2000']);
    try {
      const base = `http://127.0.0.1:${port}`;
      const ok = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: JSON_TYPE,
        body: JSON.stringify({ model: 'ws/bot', messages: [] }),
      });
      expect(ok.status).toBe(200);
      const evil = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${base}/health`, { headers: { host: 'evil.example' }, agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      expect(evil).toBe(421);
      const big = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: JSON_TYPE,
        body: JSON.stringify({ model: 'ws/bot', messages: [{ role: 'user', content: 'x'.repeat(8000) }] }),
      });
      expect(big.status).toBe(503);
      const metrics = await (await fetch(`${base}/metrics`)).text();
      expect(metrics).toMatch(/^vmc_http_refusals_total\{kind="host_not_allowed"\} 1$/m);
      expect(metrics).toMatch(/^vmc_http_refusals_total\{kind="body_budget_exhausted"\} 1$/m);
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });

  it('without VMC_ADMIN_TOKEN every admin route answers 403 saying admin is disabled, and the start-up log says so', async () => {
    const port = await freePort();
    const child = await startServe(tablePath, port, [], { VMC_ADMIN_TOKEN: undefined, VMC_LOG: 'info' });
    try {
      const r = await fetch(`http://127.0.0.1:${port}/admin/virtual-models`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(r.status).toBe(403);
      expect((await r.json()).error.message).toMatch(/admin API is disabled/);
      const put = await fetch(`http://127.0.0.1:${port}/admin/virtual-models`, { method: 'PUT', body: '{}' });
      expect(put.status).toBe(403);
      const log = (child as ChildProcess & { stderrText: () => string }).stderrText();
      expect(log).toMatch(/"admin":"disabled"/);
      expect(log).toMatch(/admin API disabled: VMC_ADMIN_TOKEN is not set/);
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });
});
