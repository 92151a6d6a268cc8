/**
 * Server routes (SPEC §6, §9): /v1/models, /health, /metrics, the admin API and its
 * backend delegation, atomic reload (API, file watcher, admin), corrupt tables rejected,
 * reload under traffic without losing a request, and close() draining in-flight requests.
 */
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTableFromYaml } from '../../compiler/testing.js';
import { createAdminBackend } from '../../compiler/tools/admin-backend.js';
import type { MockProvider } from '../../bench/sim/simulated-provider.js';
import type { AdminBackend, AdminResult } from '../../runtime/server.js';
import { RoutingTable, TableFormatError } from '../../runtime/table/reader.js';
import { chat, closeAll, post, providersYaml, startGateway, startMocks, type Gateway } from './harness.js';

let mocks: MockProvider[];
beforeAll(async () => {
  mocks = await startMocks(['p0', 'p1']);
});
afterAll(() => closeAll(...mocks));

const yamlFor = (target: string, extra = '') => `version: 1
${providersYaml(mocks, ['m1', 'm2'])}
settings: { passthrough: true }
virtual_models:
  x: { target: ${target} }
${extra}`;

describe('GET /v1/models (SPEC §9)', () => {
  const vms = `
virtual_models:
  public-alias: { target: p0/m1, slug: pa, description: the public one, model_types: [chat] }
  team-alias: { target: p0/m1, user_paths: [/team] }
  off: { target: p0/m1, enabled: false }
  p1/m2: { user_paths: [/ops] }
`;
  let all: Gateway;
  let virtualOnly: Gateway;
  beforeAll(async () => {
    all = await startGateway(
      `version: 1\n${providersYaml(mocks, ['m1', 'm2'])}settings: { passthrough: true, models_endpoint: all }\n${vms}`,
    );
    virtualOnly = await startGateway(
      `version: 1\n${providersYaml(mocks, ['m1', 'm2'])}settings: { passthrough: true, models_endpoint: virtual_only }\n${vms}`,
    );
  });
  afterAll(() => closeAll(all, virtualOnly));

  const ids = async (g: Gateway, userPath?: string) => {
    const res = await fetch(g.url + '/v1/models', { headers: userPath ? { 'x-vmc-user-path': userPath } : {} });
    const body = (await res.json()) as { object: string; data: { id: string; object: string; owned_by: string }[] };
    expect(body.object).toBe('list');
    for (const m of body.data) expect(m.object).toBe('model');
    return body.data.map((m) => m.id).sort();
  };

  it('all: virtual names, slugs and catalogued provider/model, filtered by user path; disabled left out', async () => {
    expect(await ids(all)).toEqual(['p0/m1', 'p0/m2', 'p1/m1', 'pa', 'public-alias'].sort());
    expect(await ids(all, '/team/x')).toEqual(['p0/m1', 'p0/m2', 'p1/m1', 'pa', 'public-alias', 'team-alias'].sort());
    expect(await ids(all, '/ops')).toEqual(['p0/m1', 'p0/m2', 'p1/m1', 'p1/m2', 'pa', 'public-alias'].sort());
  });

  it('virtual_only: virtual models only (no provider models, no access policies)', async () => {
    expect(await ids(virtualOnly)).toEqual(['pa', 'public-alias']);
    expect(await ids(virtualOnly, '/team')).toEqual(['pa', 'public-alias', 'team-alias']);
  });
});

describe('health and metrics', () => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway(yamlFor('p0/m1'));
  });
  afterAll(() => gw.close());

  it('GET /health reports the table hash', async () => {
    const h = (await (await fetch(gw.url + '/health')).json()) as { status: string; table_hash: string };
    expect(h.status).toBe('ok');
    expect(h.table_hash).toBe(gw.server.table.hashHex);
    expect(h.table_hash).toMatch(/^[0-9a-f]{16,}$/);
  });

  it('GET /metrics is Prometheus text with requests, latency histograms and reloads', async () => {
    await post(gw.url + '/v1/chat/completions', chat('x'));
    await post(gw.url + '/v1/chat/completions', chat('nope'));
    const res = await fetch(gw.url + '/metrics');
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^# TYPE vmc_requests_total counter$/m);
    expect(text).toMatch(/^vmc_requests_total\{virtual_model="x",target="p0\/m1",status="200"\} 1$/m);
    expect(text).toMatch(/^vmc_requests_total\{virtual_model="",target="",status="404"\} 1$/m);
    expect(text).toMatch(/^# TYPE vmc_upstream_latency_seconds histogram$/m);
    expect(text).toMatch(/^vmc_upstream_latency_seconds_bucket\{virtual_model="x",target="p0\/m1",phase="ttfb",le="\+Inf"\} 1$/m);
    expect(text).toMatch(/^vmc_upstream_latency_seconds_count\{virtual_model="x",target="p0\/m1",phase="total"\} 1$/m);
    expect(text).toMatch(/^vmc_table_reloads_total\{result="ok"\} 0$/m);
    expect(text).toMatch(/^vmc_in_flight_requests 0$/m);
    // every sample line is `name{labels} value`
    for (const line of text.trim().split('\n')) if (!line.startsWith('#')) expect(line).toMatch(/^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$/);
  });

  it('one access-log line per request', async () => {
    await post(gw.url + '/v1/chat/completions', chat('x'), { 'x-log-probe': '1' });
    const line = gw.logs.filter((l) => l.msg === 'request').at(-1)!;
    expect(Object.keys(line).sort()).toEqual(
      ['attempts', 'level', 'method', 'ms', 'msg', 'path', 'status', 'target', 'ts', 'virtual_model'].sort(),
    );
    expect(line).toMatchObject({
      method: 'POST',
      path: '/v1/chat/completions',
      status: 200,
      virtual_model: 'x',
      target: 'p0/m1',
      attempts: 1,
    });
  });
});

describe('reload (SPEC §6)', () => {
  it('reload(bytes) swaps atomically; a corrupt table is rejected and the old one kept', async () => {
    const gw = await startGateway(yamlFor('p0/m1'));
    try {
      const before = gw.server.table.hashHex;
      const bytes = await buildTableFromYaml(yamlFor('p1/m1'));
      const corrupt = bytes.slice();
      corrupt[corrupt.length - 1] ^= 0xff;
      expect(() => gw.server.reload(corrupt)).toThrow(TableFormatError);
      expect(gw.server.table.hashHex).toBe(before);
      expect((await post(gw.url + '/v1/chat/completions', chat('x'))).headers.get('x-vmc-target')).toBe('p0/m1');
      expect(gw.logs.some((l) => l.level === 'error' && l.msg === 'table rejected; the previous table stays in service')).toBe(true);
      gw.server.reload(bytes);
      expect(gw.server.table.hashHex).not.toBe(before);
      expect((await post(gw.url + '/v1/chat/completions', chat('x'))).headers.get('x-vmc-target')).toBe('p1/m1');
      const metrics = await (await fetch(gw.url + '/metrics')).text();
      expect(metrics).toMatch(/vmc_table_reloads_total\{result="ok"\} 1/);
      expect(metrics).toMatch(/vmc_table_reloads_total\{result="rejected"\} 1/);
    } finally {
      await gw.close();
    }
  });

  it('reload under traffic loses no request; in-flight requests finish on their table', async () => {
    const gw = await startGateway(yamlFor('p0/m1'));
    const a = await buildTableFromYaml(yamlFor('p0/m1'));
    const b = await buildTableFromYaml(yamlFor('p1/m1'));
    mocks[0].setBehavior({ firstByteDelayMs: 5 });
    mocks[1].setBehavior({ firstByteDelayMs: 5 });
    try {
      let stop = false;
      const statuses: number[] = [];
      const workers = Array.from({ length: 16 }, async () => {
        while (!stop) statuses.push((await post(gw.url + '/v1/chat/completions', chat('x'))).status);
      });
      for (let i = 0; i < 20; i++) {
        gw.server.reload(i % 2 === 0 ? b : a);
        await new Promise((r) => setTimeout(r, 15));
      }
      gw.server.reload(b);
      stop = true;
      await Promise.all(workers);
      expect(statuses.length).toBeGreaterThan(50);
      expect(statuses.every((s) => s === 200)).toBe(true);
      expect((await post(gw.url + '/v1/chat/completions', chat('x'))).headers.get('x-vmc-target')).toBe('p1/m1');
    } finally {
      mocks[0].setBehavior({});
      mocks[1].setBehavior({});
      await gw.close();
    }
  });

  it('watches the table file: atomic rename reloads, a corrupt file is rejected', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vmc-watch-'));
    const file = join(dir, 'table.vmct');
    const a = await buildTableFromYaml(yamlFor('p0/m1'));
    const b = await buildTableFromYaml(yamlFor('p1/m1'));
    await writeFile(file, a);
    const gw = await startGateway(yamlFor('p0/m1'), { tablePath: file, watch: true, watchDebounceMs: 30 });
    const hashB = RoutingTable.decode(b).hashHex;
    const health = async () => ((await (await fetch(gw.url + '/health')).json()) as { table_hash: string }).table_hash;
    try {
      await writeFile(join(dir, 'table.tmp'), b);
      await rename(join(dir, 'table.tmp'), file);
      for (let i = 0; i < 100 && (await health()) !== hashB; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await health()).toBe(hashB);
      await writeFile(file, Buffer.from('garbage, not a table'));
      for (let i = 0; i < 100 && !gw.logs.some((l) => l.msg === 'table rejected; the previous table stays in service'); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(await health()).toBe(hashB);
      expect((await post(gw.url + '/v1/chat/completions', chat('x'))).status).toBe(200);
    } finally {
      await gw.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('close() closes the upstream pools: no connection to the provider is left open', async () => {
    const gw = await startGateway(yamlFor('p0/m1'));
    await Promise.all(Array.from({ length: 8 }, () => post(gw.url + '/v1/chat/completions', chat('x'))));
    expect(mocks[0].openConnections).toBeGreaterThan(0); // keep-alive connections to the provider
    await gw.close();
    for (let i = 0; i < 100 && mocks[0].openConnections > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(mocks[0].openConnections).toBe(0);
  });

  it('close() drains: in-flight requests finish, new connections are refused', async () => {
    const gw = await startGateway(yamlFor('p0/m1'));
    mocks[0].setBehavior({ firstByteDelayMs: 300 });
    try {
      const inflight = post(gw.url + '/v1/chat/completions', chat('x'));
      await new Promise((r) => setTimeout(r, 100));
      const closed = gw.close();
      await new Promise((r) => setTimeout(r, 20));
      await expect(fetch(gw.url + '/health')).rejects.toThrow();
      const r = await inflight;
      expect(r.status).toBe(200);
      await closed;
    } finally {
      mocks[0].setBehavior({});
    }
  });
});

describe('admin API (SPEC §6, §9)', () => {
  const TOKEN = 'admin-secret';
  const calls: unknown[][] = [];
  let gw: Gateway;
  let dir: string;
  let tablePath: string;

  const backend: AdminBackend = {
    async upsertVirtualModel(body, ctx): Promise<AdminResult> {
      calls.push(['upsert', body, ctx.table.hashHex]);
      const b = body as { source?: string; target_model?: string };
      if (typeof b?.source !== 'string')
        return { status: 400, body: { error: { type: 'invalid_request_error', message: 'source is required' } } };
      const bytes = await buildTableFromYaml(yamlFor('p0/m1', `  ${b.source}: { target: ${b.target_model} }\n`));
      return { status: 200, body: { source: b.source, target_model: b.target_model }, tableBytes: bytes };
    },
    async deleteVirtualModel(name) {
      calls.push(['delete', name]);
      return { status: 404, body: { error: { type: 'not_found_error', message: `no ${name}` } } };
    },
    async getVirtualModel(name) {
      calls.push(['get', name]);
      return { status: 200, body: { source: name }, headers: { etag: '"g1"' } };
    },
    async patchVirtualModel(name, body, ifMatch) {
      calls.push(['patch', name, body, ifMatch]);
      return { status: 200, body: { source: name } };
    },
    async getNemoVirtualModel(workspace, name) {
      calls.push(['nemo-get', workspace, name]);
      return { status: 200, body: { workspace, name }, headers: { ETag: '"v1"' } };
    },
    async patchNemoVirtualModel(workspace, name, body, ifMatch) {
      calls.push(['nemo-patch', workspace, name, body, ifMatch]);
      return ifMatch === '"stale"' ? { status: 409, body: { detail: 'stale' } } : { status: 200, body: { workspace, name } };
    },
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vmc-admin-'));
    tablePath = join(dir, 'table.vmct');
    await writeFile(tablePath, await buildTableFromYaml(yamlFor('p0/m1')));
    gw = await startGateway(yamlFor('p0/m1'), { adminToken: TOKEN, admin: backend, tablePath });
  });
  afterAll(async () => {
    await gw.close();
    await rm(dir, { recursive: true, force: true });
  });

  const admin = (path: string, init: RequestInit = {}, token: string | null = TOKEN) =>
    fetch(gw.url + path, {
      ...init,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        'content-type': 'application/json',
        ...(init.headers as Record<string, string>),
      },
    });

  it('401 without or with a wrong bearer token', async () => {
    expect((await admin('/admin/virtual-models', {}, null)).status).toBe(401);
    expect((await admin('/admin/virtual-models', {}, 'wrong')).status).toBe(401);
    const r = await admin('/admin/reload', { method: 'POST' }, 'admin-secreT');
    expect(r.status).toBe(401);
    expect(((await r.json()) as { error: { type: string } }).error.type).toBe('authentication_error');
  });

  it('403 "admin is disabled" on every admin route when no admin token is configured (SPEC §12); the start-up log says so', async () => {
    const open = await startGateway(yamlFor('p0/m1'), { admin: backend });
    try {
      for (const [method, path] of [
        ['GET', '/admin/virtual-models'],
        ['PUT', '/admin/virtual-models'],
        ['PATCH', '/admin/virtual-models/x'],
        ['DELETE', '/admin/virtual-models/x'],
        ['POST', '/admin/reload'],
        ['GET', '/admin/keys'],
        ['GET', '/apis/inference-gateway/v2/workspaces/ws/virtual-models/x'],
      ]) {
        const r = await fetch(open.url + path, {
          method,
          headers: { authorization: 'Bearer x' },
          body: method === 'GET' ? undefined : '{}',
        });
        expect([method, path, r.status]).toEqual([method, path, 403]);
        const e = ((await r.json()) as { error: { type: string; message: string } }).error;
        expect([e.type, e.message]).toEqual(['permission_error', expect.stringMatching(/admin API is disabled/)]);
      }
      expect(open.logs.find((l) => l.msg === 'gateway listening')).toMatchObject({ admin: 'disabled' });
      expect(open.logs.some((l) => l.level === 'warn' && String(l.msg).includes('admin API disabled'))).toBe(true);
    } finally {
      await open.close();
    }
  });

  it('GET and PATCH /admin/virtual-models/{name} go to the backend with the decoded name, body and If-Match', async () => {
    const g = await admin('/admin/virtual-models/' + encodeURIComponent('group/name'));
    expect(g.status).toBe(200);
    expect(g.headers.get('etag')).toBe('"g1"');
    expect(calls.at(-1)).toEqual(['get', 'group/name']);
    const p = await admin('/admin/virtual-models/x', {
      method: 'PATCH',
      body: JSON.stringify({ description: null }),
      headers: { 'if-match': '"g1"' },
    });
    expect(p.status).toBe(200);
    expect(calls.at(-1)).toEqual(['patch', 'x', { description: null }, '"g1"']);
    expect((await admin('/admin/virtual-models/x', { method: 'PATCH', body: '{nope' })).status).toBe(422);
    expect((await admin('/admin/virtual-models/x', { method: 'POST', body: '{}' })).status).toBe(405);
  });

  it('GET /admin/virtual-models returns GoModel views of the loaded table', async () => {
    const r = await admin('/admin/virtual-models');
    expect(r.status).toBe(200);
    const views = (await r.json()) as Record<string, unknown>[];
    expect(views).toEqual([
      expect.objectContaining({
        source: 'x',
        kind: 'redirect',
        model: 'p0/m1',
        provider_name: 'p0',
        provider_type: 'openai',
        enabled: true,
        user_paths: [],
        valid: true,
        targets: [{ provider: 'p0', model: 'm1', weight: 1 }],
      }),
    ]);
  });

  it('PUT /admin/virtual-models goes to the backend and swaps the compiled table in', async () => {
    const r = await admin('/admin/virtual-models', { method: 'PUT', body: JSON.stringify({ source: 'fresh', target_model: 'p1/m2' }) });
    expect(r.status).toBe(200);
    expect(calls.at(-1)![0]).toBe('upsert');
    const served = await post(gw.url + '/v1/chat/completions', chat('fresh'));
    expect(served.status).toBe(200);
    expect(served.headers.get('x-vmc-target')).toBe('p1/m2');
    const bad = await admin('/admin/virtual-models', { method: 'PUT', body: '{not json' });
    expect(bad.status).toBe(400);
  });

  it('DELETE passes the URL-decoded name; NeMo GET/PATCH pass workspace, name, body and If-Match', async () => {
    expect((await admin('/admin/virtual-models/' + encodeURIComponent('group/name'), { method: 'DELETE' })).status).toBe(404);
    expect(calls.at(-1)).toEqual(['delete', 'group/name']);
    const g = await admin('/apis/inference-gateway/v2/workspaces/ws1/virtual-models/vm1');
    expect(g.status).toBe(200);
    expect(g.headers.get('etag')).toBe('"v1"');
    const p = await admin('/apis/inference-gateway/v2/workspaces/ws1/virtual-models/vm1', {
      method: 'PATCH',
      body: JSON.stringify({ description: null }),
      headers: { 'if-match': '"stale"' },
    });
    expect(p.status).toBe(409);
    expect(calls.at(-1)).toEqual(['nemo-patch', 'ws1', 'vm1', { description: null }, '"stale"']);
  });

  it('POST /admin/reload re-reads the table file; a corrupt file answers 422 and keeps the table', async () => {
    await writeFile(tablePath, await buildTableFromYaml(yamlFor('p1/m1')));
    const ok = await admin('/admin/reload', { method: 'POST' });
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as { table_hash: string };
    expect(body.table_hash).toBe(gw.server.table.hashHex);
    expect((await post(gw.url + '/v1/chat/completions', chat('x'))).headers.get('x-vmc-target')).toBe('p1/m1');
    await writeFile(tablePath, Buffer.from('VMCT but not really'));
    const bad = await admin('/admin/reload', { method: 'POST' });
    expect(bad.status).toBe(422);
    expect(gw.server.table.hashHex).toBe(body.table_hash);
  });
});

describe('rejected reloads are logged at error and counted (SPEC §10)', () => {
  const rejected = async (g: Gateway) => {
    const text = await (await fetch(g.url + '/metrics')).text();
    return Number(/^vmc_table_reloads_total\{result="rejected"\} (\d+)$/m.exec(text)![1]);
  };

  it('file watch with the admin overlay: a corrupt table file is rejected (the overlay throws before the swap)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vmc-watch-admin-'));
    const file = join(dir, 'table.vmct');
    await writeFile(file, await buildTableFromYaml(yamlFor('p0/m1')));
    const admin = await createAdminBackend({ tablePath: file, compileIn: 'inline' });
    const gw = await startGateway(yamlFor('p0/m1'), { tablePath: file, watch: true, watchDebounceMs: 30, admin, adminToken: 't' });
    try {
      await writeFile(file, Buffer.from('garbage, not a table'));
      for (let i = 0; i < 150 && (await rejected(gw)) === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(await rejected(gw)).toBe(1);
      const line = gw.logs.find((l) => l.msg === 'table rejected; the previous table stays in service');
      expect(line).toMatchObject({ level: 'error', reason: 'watch' });
      expect((await post(gw.url + '/v1/chat/completions', chat('x'))).status).toBe(200);
      // POST /admin/reload of the same file: 422, counted again
      const r = await fetch(gw.url + '/admin/reload', { method: 'POST', headers: { authorization: 'Bearer t' } });
      expect(r.status).toBe(422);
      expect(await rejected(gw)).toBe(2);
    } finally {
      await gw.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('an admin change the compiler refuses is logged at error and counted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vmc-admin-reject-'));
    const file = join(dir, 'table.vmct');
    await writeFile(file, await buildTableFromYaml(yamlFor('p0/m1')));
    const admin = await createAdminBackend({ tablePath: file, compileIn: 'inline' });
    const gw = await startGateway(yamlFor('p0/m1'), { tablePath: file, admin, adminToken: 't' });
    try {
      const r = await fetch(gw.url + '/admin/virtual-models', {
        method: 'PUT',
        headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
        body: JSON.stringify({ source: 'bad', target_model: 'p0/nope' }),
      });
      expect(r.status).toBe(400);
      expect(await rejected(gw)).toBe(1);
      expect(gw.logs.find((l) => l.msg === 'table rejected; the previous table stays in service')).toMatchObject({
        level: 'error',
        reason: 'admin',
      });
    } finally {
      await gw.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a reload that read the state before an admin answer was swapped in reads again: the answer is not undone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vmc-admin-race-'));
    const file = join(dir, 'table.vmct');
    await writeFile(file, await buildTableFromYaml(yamlFor('p0/m1')));
    const real = await createAdminBackend({ tablePath: file, compileIn: 'inline' });
    // The overlay reads the state at once and answers when the test says: a slow read.
    let gate: Promise<void> | null = null;
    const overlay = async (bytes: Uint8Array) => {
      const out = await real.overlay!(bytes);
      await gate;
      return out;
    };
    const admin = new Proxy(real, {
      get: (t, k) => {
        if (k === 'overlay') return overlay;
        const v: unknown = Reflect.get(t, k);
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
    const gw = await startGateway(yamlFor('p0/m1'), { tablePath: file, admin, adminToken: 't' });
    try {
      let open!: () => void;
      gate = new Promise((r) => (open = r));
      const reloading = gw.server.reloadFromFile('test'); // reads the state without `late`
      await new Promise((r) => setTimeout(r, 50));
      const put = await fetch(gw.url + '/admin/virtual-models', {
        method: 'PUT',
        headers: { authorization: 'Bearer t', 'content-type': 'application/json' },
        body: JSON.stringify({ source: 'late', target_model: 'p0/m2' }),
      });
      expect(put.status).toBe(200);
      expect((await post(gw.url + '/v1/chat/completions', chat('late'))).status).toBe(200);
      open();
      await reloading;
      expect((await post(gw.url + '/v1/chat/completions', chat('late'))).status).toBe(200);
    } finally {
      await gw.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('HTTP engine, 413s and start-up checks (SPEC §10, §11)', () => {
  it('GET /health and the start-up line name the HTTP engine; the line says why', async () => {
    const gw = await startGateway(yamlFor('p0/m1'));
    try {
      const h = (await (await fetch(gw.url + '/health')).json()) as { http_engine: string };
      expect(['uws', 'node']).toContain(h.http_engine);
      expect(h.http_engine).toBe(gw.server.engine);
      const line = gw.logs.find((l) => l.msg === 'gateway listening')!;
      expect(line.http_engine).toBe(h.http_engine);
      expect(typeof line.http_engine_reason).toBe('string');
      expect(String(line.http_engine_reason).length).toBeGreaterThan(0);
    } finally {
      await gw.close();
    }
  });

  it('a 413 is logged (access line) and counted once in vmc_requests_total, and by kind', async () => {
    const gw = await startGateway(yamlFor('p0/m1'), { maxBodyBytes: 1024 });
    try {
      const r = await post(gw.url + '/v1/chat/completions', chat('x', { pad: 'x'.repeat(4096) }));
      expect(r.status).toBe(413);
      const text = await (await fetch(gw.url + '/metrics')).text();
      expect(text).toMatch(/^vmc_requests_total\{virtual_model="",target="",status="413"\} 1$/m);
      expect(text).toMatch(/^vmc_http_refusals_total\{kind="payload_too_large"\} 1$/m);
      expect(gw.logs.some((l) => l.msg === 'request' && l.status === 413 && l.path === '/v1/chat/completions')).toBe(true);
    } finally {
      await gw.close();
    }
  });

  it('--provider-url names are checked: an unknown provider or a bad URL stops the start with a clear error', async () => {
    await expect(startGateway(yamlFor('p0/m1'), { providerUrls: new Map([['nope', 'http://127.0.0.1:1']]) })).rejects.toThrow(
      /no provider "nope" \(providers: p0, p1\)/,
    );
    await expect(startGateway(yamlFor('p0/m1'), { providerUrls: new Map([['p0', 'ftp://x']]) })).rejects.toThrow(/http/);
  });
});
