/**
 * The compiler admin backend in process: every change recompiles base table + overlay in
 * memory; a change that does not compile answers with the compiler's codes and changes
 * nothing; accepted changes persist in the state file and survive a new base table.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTableFromYaml } from '../../../compiler/testing.js';
import { createAdminBackend, etagOf, statePath, type CompilerAdminBackend } from '../../../compiler/tools/admin-backend.js';
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
  backend = await createAdminBackend({ tablePath });
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
    const again = await createAdminBackend({ tablePath });
    const newBase = await buildTableFromYaml(BASE.replace('models: [a, b, c]', 'models: [a, b, c, d]'));
    const t = RoutingTable.decode(await again.overlay(newBase));
    expect(t.lookupString('fresh')).toBeGreaterThanOrEqual(0);
    expect(t.lookupString('up/d')).toBeGreaterThanOrEqual(0);
    const withoutC = await buildTableFromYaml(BASE.replace('models: [a, b, c]', 'models: [a, b]'));
    await expect(again.overlay(withoutC)).rejects.toThrow(/VMC2001/);
  });
});
