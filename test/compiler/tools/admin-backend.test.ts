/**
 * The compiler admin backend in process: every change recompiles base table + overlay in
 * memory; a change that does not compile answers with the compiler's codes and changes
 * nothing; accepted changes persist in the state file and survive a new base table. GoModel
 * GET/PATCH with ETags; every overlay reads the persisted state; a state file that cannot be
 * used is an AdminStateError and can be quarantined; compiles run in a worker thread.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { ensureBuilt } from '../../runtime/fixtures/gateway-process.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTableFromYaml } from '../../../compiler/testing.js';
import {
  AdminStateError,
  createAdminBackend,
  etagOf,
  statePath,
  type CompilerAdminBackend,
} from '../../../compiler/tools/admin-backend.js';
import type { AdminResult } from '../../../runtime/server.js';
import { RoutingTable } from '../../../runtime/table/reader.js';

const BASE = `version: 1
providers:
  up: { type: openai, base_url: https://up.example/v1, api_key_env: UP_KEY, models: [a, b, c] }
virtual_models:
  base-model: { target: up/a }
  chained: { target: base-model }
  ws/bot: { default_model_entity: up/a, models: [{ model: up/a }, { model: up/b, backend_format: ANTHROPIC_MESSAGES }] }
`;

let dir: string;
let tablePath: string;
let table: RoutingTable;
let backend: CompilerAdminBackend;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vmc-admin-backend-'));
  tablePath = join(dir, 'table.vmct');
  const bytes = await buildTableFromYaml(BASE);
  await writeFile(tablePath, bytes);
  backend = await createAdminBackend({ tablePath, compileIn: 'inline' });
  table = RoutingTable.decode(await backend.overlay(bytes));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The table a successful result swapped in (the server does this in production). */
function accept(r: AdminResult): RoutingTable {
  expect(r.status).toBe(200);
  table = RoutingTable.decode(r.tableBytes!);
  return table;
}

const codes = (r: AdminResult) => (r.body as { error: { diagnostics: { code: string }[] } }).error.diagnostics.map((d) => d.code);
const ctx = () => ({ table });
const state = async () => JSON.parse(await readFile(statePath({ tablePath }), 'utf8'));

describe('CompilerAdminBackend', () => {
  it('an upsert compiles into the served table and is persisted', async () => {
    const t = accept(await backend.upsertVirtualModel({ source: 'fresh', target_model: 'up/c' }, ctx()));
    const vm = t.virtualModel(t.lookupString('fresh'));
    expect(vm.targets.map((x) => x.model)).toEqual(['c']);
    expect(Object.keys((await state()).upserts)).toEqual(['fresh']);
  });

  it('an upsert that does not compile is 400 with the compiler’s codes and changes nothing', async () => {
    const r = await backend.upsertVirtualModel({ source: 'broken', target_model: 'up/zzz' }, ctx());
    expect(r.status).toBe(400);
    expect(codes(r)).toEqual(['VMC2001']);
    expect(r.tableBytes).toBeUndefined();
    expect(await readdir(dir)).toEqual(['table.vmct']);
  });

  it('a body without a source is refused before compiling', async () => {
    expect((await backend.upsertVirtualModel({ target_model: 'up/c' }, ctx())).status).toBe(400);
    expect((await backend.upsertVirtualModel('nope', ctx())).status).toBe(400);
  });

  it('a delete is persisted; a redirect to the deleted model keeps its flattened route', async () => {
    const t = accept(await backend.deleteVirtualModel('base-model', ctx()));
    expect(t.lookupString('base-model')).toBeLessThan(0);
    // The table holds redirect chains flattened, so `chained` still routes to up/a.
    expect(t.virtualModel(t.lookupString('chained')).targets.map((x) => x.model)).toEqual(['a']);
    expect((await state()).deletes).toEqual(['base-model']);
    expect((await backend.deleteVirtualModel('base-model', ctx())).status).toBe(404);
  });

  it('NeMo GET shows backend formats by their NeMo names; PATCH needs a matching If-Match', async () => {
    const got = await backend.getNemoVirtualModel('ws', 'bot', ctx());
    expect(got.status).toBe(200);
    expect((got.body as { models: unknown[] }).models).toEqual([
      { model: 'up/a', backend_format: null },
      { model: 'up/b', backend_format: 'ANTHROPIC_MESSAGES' },
    ]);
    expect((await backend.patchNemoVirtualModel('ws', 'bot', {}, '"stale"', ctx())).status).toBe(409);
    expect((await backend.patchNemoVirtualModel('ws', 'bot', { bogus: 1 }, null, ctx())).status).toBe(422);
    expect((await backend.patchNemoVirtualModel('ws', 'bot', { request_middleware: 'x' }, null, ctx())).status).toBe(422);
    const bad = await backend.patchNemoVirtualModel('ws', 'bot', { default_model_entity: 'up/missing' }, null, ctx());
    expect([bad.status, codes(bad)]).toEqual([422, ['VMC2001']]);

    const patched = await backend.patchNemoVirtualModel('ws', 'bot', { default_model_entity: 'up/c' }, got.headers!.etag, ctx());
    const t = accept(patched);
    const vm = t.virtualModel(t.lookupString('ws/bot'));
    expect(vm.targets.map((x) => [x.model, x.backendFormat])).toEqual([
      ['c', null],
      ['a', null],
      ['b', 'anthropic'],
    ]);
    expect(patched.headers!.etag).toBe(etagOf(vm));
  });

  it('overlay re-applies persisted changes to a new base, and refuses a base they no longer compile against', async () => {
    accept(await backend.upsertVirtualModel({ source: 'fresh', target_model: 'up/c' }, ctx()));
    const again = await createAdminBackend({ tablePath, compileIn: 'inline' });
    const newBase = await buildTableFromYaml(BASE.replace('models: [a, b, c]', 'models: [a, b, c, d]'));
    const t = RoutingTable.decode(await again.overlay(newBase));
    expect(t.lookupString('fresh')).toBeGreaterThanOrEqual(0);
    expect(t.lookupString('up/d')).toBeGreaterThanOrEqual(0);
    const withoutC = await buildTableFromYaml(BASE.replace('models: [a, b, c]', 'models: [a, b]'));
    await expect(again.overlay(withoutC)).rejects.toThrow(/VMC2001/);
  });
});

describe('GoModel GET/PATCH /admin/virtual-models/{name} (SPEC §10)', () => {
  it('GET has an ETag; PATCH keeps absent fields, clears null ones, needs a matching If-Match', async () => {
    accept(await backend.upsertVirtualModel({ source: 'fresh', target_model: 'up/c', user_paths: ['/team'], description: 'first' }, ctx()));
    const got = await backend.getVirtualModel('fresh', ctx());
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ source: 'fresh', model: 'up/c', user_paths: ['/team'], description: 'first' });
    const etag = got.headers!.etag;
    expect(etag).toMatch(/^"[0-9a-f]{20}"$/);

    expect((await backend.patchVirtualModel('fresh', { description: 'x' }, '"stale"', ctx())).status).toBe(409);
    const p = await backend.patchVirtualModel('fresh', { description: null, enabled: false }, etag, ctx());
    const t = accept(p);
    const vm = t.virtualModel(t.lookupString('fresh'));
    expect([vm.description, vm.enabled, vm.userPaths, vm.targets.map((x) => x.model)]).toEqual(['', false, ['/team'], ['c']]);
    expect(p.body).toMatchObject({ source: 'fresh', model: 'up/c', enabled: false });
    expect(p.headers!.etag).toBe(etagOf(vm));
    expect(p.headers!.etag).not.toBe(etag);
    // A GoModel body stays a GoModel body in the state: absent keeps, null removes.
    expect((await state()).upserts.fresh).toEqual({ source: 'fresh', target_model: 'up/c', user_paths: ['/team'], enabled: false });

    const q = accept(await backend.patchVirtualModel('fresh', { target_model: 'up/b', user_paths: null }, null, ctx()));
    const vm2 = q.virtualModel(q.lookupString('fresh'));
    expect([vm2.targets.map((x) => x.model), vm2.userPaths, vm2.enabled]).toEqual([['b'], [], false]);
  });

  it('a model of the table file is patched in native form: target_model replaces the routing, the rest stays', async () => {
    const t = accept(await backend.patchVirtualModel('ws/bot', { target_model: 'up/c', description: 'now a redirect' }, null, ctx()));
    const vm = t.virtualModel(t.lookupString('ws/bot'));
    expect([vm.kind, vm.targets.map((x) => x.model), vm.description]).toEqual(['redirect', ['c'], 'now a redirect']);
    expect((await state()).upserts['ws/bot']).toMatchObject({ target: 'up/c', description: 'now a redirect' });
  });

  it('refuses unknown names (404), unknown fields, wrong types, a renaming source, targets that do not compile (422)', async () => {
    expect((await backend.getVirtualModel('nope', ctx())).status).toBe(404);
    expect((await backend.patchVirtualModel('nope', {}, null, ctx())).status).toBe(404);
    expect((await backend.patchVirtualModel('base-model', { routing_config: {} }, null, ctx())).status).toBe(422);
    expect((await backend.patchVirtualModel('base-model', { enabled: 'yes' }, null, ctx())).status).toBe(422);
    expect((await backend.patchVirtualModel('base-model', { source: 'other' }, null, ctx())).status).toBe(422);
    expect((await backend.patchVirtualModel('base-model', [1], null, ctx())).status).toBe(422);
    const bad = await backend.patchVirtualModel('base-model', { target_model: 'up/zzz' }, null, ctx());
    expect([bad.status, codes(bad)]).toEqual([422, ['VMC2001']]);
    expect(bad.rejected).toMatch(/VMC2001/);
    expect(await readdir(dir)).toEqual(['table.vmct']);
  });
});

describe('the state file is shared and checked', () => {
  it('overlay reads the persisted state every time: a change written by another backend is applied', async () => {
    const reader = await createAdminBackend({ tablePath, compileIn: 'inline' });
    const base = new Uint8Array(await readFile(tablePath));
    expect(RoutingTable.decode(await reader.overlay(base)).lookupString('fresh')).toBeLessThan(0);
    accept(await backend.upsertVirtualModel({ source: 'fresh', target_model: 'up/c' }, ctx()));
    expect(RoutingTable.decode(await reader.overlay(base)).lookupString('fresh')).toBeGreaterThanOrEqual(0);
  });

  it('a truncated or foreign state file is an AdminStateError; quarantine moves it aside and the table serves alone', async () => {
    const base = new Uint8Array(await readFile(tablePath));
    for (const text of ['{"version":1,"upserts":{"a":', '{"version":2}', '{"version":1,"upserts":{"a":1},"deletes":[]}']) {
      await writeFile(statePath({ tablePath }), text);
      await expect(backend.overlay(base)).rejects.toBeInstanceOf(AdminStateError);
      const aside = await backend.quarantine('test');
      expect(aside).toMatch(/table\.vmct\.admin\.json\.quarantined-\d{4}-\d\d-\d\dT/);
      expect(await readFile(aside!, 'utf8')).toBe(text);
      expect(await backend.overlay(base)).toEqual(base);
      await rm(aside!);
    }
    expect(await backend.quarantine('nothing there')).toBeNull();
  });
});

describe('caller keys in the admin state (SPEC §12)', () => {
  const HASH_A = 'sha256:' + 'a'.repeat(64);
  const HASH_F = 'sha256:' + 'f'.repeat(64);
  const stored = (hash: string) => ({ hash, user_path: '/team/a', models: ['base-model'], created_at: '2026-01-01T00:00:00.000Z' });

  it('createKey persists the hash beside the virtual-model changes, without a recompile; a duplicate id is 409', async () => {
    accept(await backend.upsertVirtualModel({ source: 'fresh', target_model: 'up/c' }, ctx()));
    const r = await backend.createKey('ci', stored(HASH_A), ctx());
    expect([r.status, r.keysChanged, r.tableBytes]).toEqual([201, true, undefined]);
    const s = await state();
    expect(Object.keys(s.upserts)).toEqual(['fresh']);
    expect(s.keys.created.ci).toEqual(stored(HASH_A));
    expect(await backend.readKeys()).toEqual({ created: { ci: stored(HASH_A) }, revoked: {} });
    expect((await backend.createKey('ci', stored(HASH_F), ctx())).status).toBe(409);
    // a later virtual-model change keeps the keys
    accept(await backend.upsertVirtualModel({ source: 'fresh2', target_model: 'up/b' }, ctx()));
    expect(Object.keys((await state()).keys.created)).toEqual(['ci']);
  });

  it('revokeKey deletes an admin key, records a file key revocation by id and hash, and 404s an unknown id', async () => {
    await backend.createKey('ci', stored(HASH_A), ctx());
    const del = await backend.revokeKey('ci', null, ctx());
    expect([del.status, del.body, del.keysChanged]).toEqual([200, { id: 'ci', revoked: false, deleted: true }, true]);
    const file = await backend.revokeKey('from-file', HASH_F, ctx());
    expect(file.status).toBe(200);
    const keys = await backend.readKeys();
    expect(keys.created).toEqual({});
    expect(keys.revoked['from-file'].hash).toBe(HASH_F);
    expect((await backend.revokeKey('nobody', null, ctx())).status).toBe(404);
  });

  it("a reader sees the writer's keys; an invalid keys part makes the state unusable", async () => {
    const reader = await createAdminBackend({ tablePath, compileIn: 'inline' });
    expect(await reader.readKeys()).toEqual({ created: {}, revoked: {} });
    await backend.createKey('ci', stored(HASH_A), ctx());
    expect(Object.keys((await reader.readKeys()).created)).toEqual(['ci']);
    await writeFile(
      statePath({ tablePath }),
      JSON.stringify({
        version: 1,
        upserts: {},
        deletes: [],
        keys: { created: { x: { hash: 'vmc-clear', user_path: '/', created_at: 'now' } }, revoked: {} },
      }),
    );
    await expect(reader.readKeys()).rejects.toBeInstanceOf(AdminStateError);
  });

  it('a quarantine keeps the keys part: a revocation survives a state whose virtual models no longer compile', async () => {
    const base = new Uint8Array(await readFile(tablePath));
    await writeFile(
      statePath({ tablePath }),
      JSON.stringify({
        version: 1,
        upserts: { broken: { target: 'up/zzz' } },
        deletes: [],
        keys: { created: { ci: stored(HASH_A) }, revoked: { old: { hash: HASH_F, at: '2026-01-01T00:00:00Z' } } },
      }),
    );
    await expect(backend.overlay(base)).rejects.toBeInstanceOf(AdminStateError);
    const aside = await backend.quarantine('test');
    expect(aside).not.toBeNull();
    const kept = await state();
    expect([kept.upserts, kept.keys.revoked.old.hash, Object.keys(kept.keys.created)]).toEqual([{}, HASH_F, ['ci']]);
    expect(await backend.overlay(base)).toEqual(base);
  });
});

describe('compiles off the event loop', () => {
  beforeAll(() => ensureBuilt(), 120_000);

  it('the default backend compiles in a worker thread, to the same bytes as an inline compile', async () => {
    const threaded = await createAdminBackend({ tablePath });
    try {
      expect(threaded.compilesIn).toBe('thread');
      const base = new Uint8Array(await readFile(tablePath));
      await threaded.overlay(base);
      const a = await threaded.upsertVirtualModel({ source: 'fresh', target_model: 'up/c' }, ctx());
      await rm(statePath({ tablePath }));
      await backend.overlay(base);
      const b = await backend.upsertVirtualModel({ source: 'fresh', target_model: 'up/c' }, ctx());
      expect(a.status).toBe(200);
      expect(Buffer.from(a.tableBytes!).equals(Buffer.from(b.tableBytes!))).toBe(true);
      const bad = await threaded.upsertVirtualModel({ source: 'broken', target_model: 'up/zzz' }, ctx());
      expect([bad.status, codes(bad)]).toEqual([400, ['VMC2001']]);
      // An ended thread (idle, or closed) is replaced by the next compile.
      await threaded.close();
      const again = await threaded.upsertVirtualModel({ source: 'fresh2', target_model: 'up/b' }, ctx());
      expect(again.status).toBe(200);
    } finally {
      await threaded.close();
    }
  });
});
