/**
 * Caller keys through the real gateway (SPEC §12), with the official `openai` SDK (the key as
 * its apiKey: `Authorization: Bearer`) and `@anthropic-ai/sdk` (`x-api-key`): allowed,
 * narrowed, denied by path, denied by the model list, unknown, revoked (admin and file edit),
 * expired; `/v1/models` filtered; the admin routes; the gateway key never goes upstream; and
 * no key appears in logs, metrics, error bodies or admin output over the whole run.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockProvider } from '../../../bench/sim/simulated-provider.js';
import { buildTableFromYaml } from '../../../compiler/testing.js';
import { createAdminBackend } from '../../../compiler/tools/admin-backend.js';
import { generateKey, hashKey } from '../../../runtime/keys/entry.js';
import { disableEntryText, writeKeysFileAtomic } from '../../../runtime/keys/file.js';
import { chat, closeAll, startGateway, startMocks, type Gateway } from '../harness.js';

const TOKEN = 'keys-admin-token';
const ADMIN = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const UP_SECRET = 'provider-upstream-secret';

// every key this run uses: none may show up anywhere the gateway writes
const K = {
  alice: generateKey(), // /team/a, every model
  other: generateKey(), // /team/b
  limited: generateKey(), // /, models [public, claude/*]
  off: generateKey(), // enabled: false
  old: generateKey(), // expired
  fileRevoke: generateKey(), // revoked by a file edit
  adminRevoke: generateKey(), // revoked through DELETE /admin/keys
  unknown: generateKey(), // never registered
};
const created: string[] = [];
const seen: string[] = []; // every body and text the gateway handed back

let dir: string;
let keysFile: string;
let mocks: MockProvider[];
let gw: Gateway;

const entry = (id: string, key: string, rest: string) => `  - { id: ${id}, hash: ${hashKey(key)}, ${rest} }\n`;
const keysText = () =>
  'keys:\n' +
  entry('alice', K.alice, 'user_path: /team/a') +
  entry('other', K.other, 'user_path: /team/b') +
  entry('limited', K.limited, 'user_path: /, models: [public, claude/*]') +
  entry('off', K.off, 'user_path: /, enabled: false') +
  entry('old', K.old, 'user_path: /, expires_at: "2020-01-01T00:00:00Z"') +
  entry('file-revoke', K.fileRevoke, 'user_path: /') +
  entry('admin-revoke', K.adminRevoke, 'user_path: /');

beforeAll(async () => {
  process.env.VMC_T_KEYS_UP = UP_SECRET;
  dir = await mkdtemp(join(tmpdir(), 'vmc-keys-gw-'));
  keysFile = join(dir, 'keys.yaml');
  await writeFile(keysFile, keysText());
  mocks = await startMocks(['keyed', 'open', 'claude', 'slow']);
  mocks[3].setBehavior({ headersDelayMs: 600 });
  const yaml = `version: 1
providers:
  keyed: { type: openai, base_url: ${mocks[0].url}/v1, api_key_env: VMC_T_KEYS_UP, models: [m1, m2] }
  open: { type: openai, base_url: ${mocks[1].url}/v1, models: [m1] }
  claude: { type: anthropic, base_url: ${mocks[2].url}, models: [sonnet] }
  slow: { type: openai, base_url: ${mocks[3].url}/v1, models: [m1] }
settings: { passthrough: true }
virtual_models:
  public: { target: keyed/m1 }
  team-a: { target: keyed/m2, user_paths: [/team/a], slug: team-a-slug }
  bob-only: { target: keyed/m1, user_paths: [/team/a/bob] }
  keyless: { target: open/m1 }
  sonnet: { target: claude/sonnet }
  slow: { target: slow/m1 }
`;
  const tablePath = join(dir, 'table.vmct');
  await writeFile(tablePath, await buildTableFromYaml(yaml));
  const admin = await createAdminBackend({ tablePath, compileIn: 'inline' });
  gw = await startGateway(yaml, { keysFile, admin, adminToken: TOKEN });
}, 60_000);

afterAll(async () => {
  await closeAll(gw, ...mocks);
  await rm(dir, { recursive: true, force: true });
});

const openai = (key: string, headers: Record<string, string> = {}) =>
  new OpenAI({ baseURL: gw.url + '/v1', apiKey: key, maxRetries: 0, defaultHeaders: headers });
const anthropic = (key: string) => new Anthropic({ baseURL: gw.url, apiKey: key, maxRetries: 0 });

/** The SDK's error for a refused call (status, error type), recording its body. */
async function refusal(p: Promise<unknown>): Promise<[number, string]> {
  try {
    await p;
  } catch (err) {
    const e = err as { status?: number; error?: unknown };
    seen.push(JSON.stringify(e.error ?? null), String(err));
    const body = e.error as { error?: { type?: string }; type?: string } | undefined;
    return [e.status ?? 0, body?.error?.type ?? body?.type ?? ''];
  }
  throw new Error('the call succeeded');
}

/** A raw request; the answer's text is recorded (except the one answer that shows a new key). */
async function call(path: string, init: RequestInit = {}, record = true): Promise<{ status: number; json: any; text: string }> {
  const r = await fetch(gw.url + path, init);
  const text = await r.text();
  if (record) seen.push(text);
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: r.status, json, text };
}
const post = (model: string, headers: Record<string, string>) =>
  call('/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(chat(model)),
  });

const lastUpstream = (m: MockProvider) => m.requests[m.requests.length - 1];

describe('authentication (401 authentication_error)', () => {
  it('openai SDK: a valid key is served; the upstream gets the provider key, never the gateway key', async () => {
    const r = await openai(K.alice).chat.completions.create({ model: 'public', messages: [{ role: 'user', content: 'hi' }] });
    expect(r.choices[0].message.content).toBe('mock:keyed model=m1');
    expect(lastUpstream(mocks[0]).headers.authorization).toBe(`Bearer ${UP_SECRET}`);
  });

  it('a provider without a key of its own gets no credential at all (neither Authorization nor x-api-key)', async () => {
    await openai(K.alice).chat.completions.create({ model: 'keyless', messages: [{ role: 'user', content: 'hi' }] });
    const h = lastUpstream(mocks[1]).headers;
    expect([h.authorization, h['x-api-key']]).toEqual([undefined, undefined]);
    const both = await post('keyless', { authorization: `Bearer ${K.alice}`, 'x-api-key': K.alice });
    expect(both.status).toBe(200);
    expect([lastUpstream(mocks[1]).headers.authorization, lastUpstream(mocks[1]).headers['x-api-key']]).toEqual([undefined, undefined]);
  });

  it('anthropic SDK (x-api-key): served, and the key is not forwarded to the anthropic provider', async () => {
    const m = await anthropic(K.alice).messages.create({ model: 'sonnet', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
    expect(m.content[0]).toMatchObject({ type: 'text' });
    expect(lastUpstream(mocks[2]).headers['x-api-key']).toBeUndefined();
    expect(lastUpstream(mocks[2]).headers.authorization).toBeUndefined();
  });

  it.each([
    ['unknown', K.unknown],
    ['disabled in the file', K.off],
    ['expired', K.old],
  ])('%s key → 401 with both SDKs; the key is not echoed', async (_n, key) => {
    expect(await refusal(openai(key).chat.completions.create({ model: 'public', messages: [] }))).toEqual([401, 'authentication_error']);
    expect(
      await refusal(anthropic(key).messages.create({ model: 'sonnet', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })),
    ).toEqual([401, 'authentication_error']);
    const raw = await post('public', { authorization: `Bearer ${key}` });
    expect(raw.status).toBe(401);
    expect(raw.text).not.toContain(key);
  });

  it('no key → 401 on every inference endpoint and /v1/models; /health and /metrics need none', async () => {
    for (const path of ['/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/responses', '/v1/messages']) {
      const r = await call(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat('public')) });
      expect([path, r.status, r.json.error.type]).toEqual([path, 401, 'authentication_error']);
    }
    expect((await call('/v1/models')).status).toBe(401);
    // before anything else is looked at: a body that is not even JSON is 401 too
    expect((await call('/v1/chat/completions', { method: 'POST', body: 'x' })).status).toBe(401);
    expect((await call('/health')).status).toBe(200);
    expect((await call('/metrics')).status).toBe(200);
  });
});

describe('authorization (403 permission_error)', () => {
  it('the key’s user path is the caller’s; a model outside it is 403', async () => {
    await openai(K.alice).chat.completions.create({ model: 'team-a', messages: [] });
    expect(await refusal(openai(K.other).chat.completions.create({ model: 'team-a', messages: [] }))).toEqual([403, 'permission_error']);
  });

  it('x-vmc-user-path narrows (equal, below, trailing slash) but never widens', async () => {
    const bob = openai(K.alice, { 'x-vmc-user-path': '/team/a/bob' });
    expect((await bob.chat.completions.create({ model: 'bob-only', messages: [] })).choices[0].message.content).toBe('mock:keyed model=m1');
    expect((await bob.chat.completions.create({ model: 'team-a', messages: [] })).model).toBe('m2');
    expect(await refusal(openai(K.alice).chat.completions.create({ model: 'bob-only', messages: [] }))).toEqual([403, 'permission_error']);
    expect((await post('team-a', { authorization: `Bearer ${K.alice}`, 'x-vmc-user-path': '/team/a/' })).status).toBe(200);
    for (const wider of ['/team', '/', '/team/ab', '/other']) {
      const r = await post('public', { authorization: `Bearer ${K.alice}`, 'x-vmc-user-path': wider });
      expect([wider, r.status, r.json.error.type]).toEqual([wider, 403, 'permission_error']);
    }
  });

  it('anthropic SDK: narrowed by x-vmc-user-path, denied by path', async () => {
    const msg = { max_tokens: 20, messages: [{ role: 'user' as const, content: 'hi' }] };
    const bob = new Anthropic({ baseURL: gw.url, apiKey: K.alice, maxRetries: 0, defaultHeaders: { 'x-vmc-user-path': '/team/a/bob' } });
    expect((await bob.messages.create({ model: 'bob-only', ...msg })).content[0]).toMatchObject({ type: 'text' });
    expect(await refusal(anthropic(K.alice).messages.create({ model: 'bob-only', ...msg }))).toEqual([403, 'permission_error']);
    expect(await refusal(anthropic(K.other).messages.create({ model: 'team-a', ...msg }))).toEqual([403, 'permission_error']);
  });

  it('a model outside the key’s models is 403 (names admit slugs; provider/* admits catalogued provider models)', async () => {
    const c = openai(K.limited);
    await c.chat.completions.create({ model: 'public', messages: [] });
    await c.chat.completions.create({ model: 'claude/sonnet', messages: [] });
    for (const model of ['sonnet', 'keyless', 'keyed/m1']) {
      expect([model, ...(await refusal(c.chat.completions.create({ model, messages: [] })))]).toEqual([model, 403, 'permission_error']);
    }
    expect(
      await refusal(anthropic(K.limited).messages.create({ model: 'sonnet', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] })),
    ).toEqual([403, 'permission_error']);
  });

  it('/v1/models lists what the key may use: its user path (narrowed) and its models', async () => {
    const ids = async (key: string, headers: Record<string, string> = {}) =>
      (await openai(key, headers).models.list()).data.map((m) => m.id).sort();
    expect(await ids(K.limited)).toEqual(['claude/sonnet', 'public']);
    const alice = await ids(K.alice);
    expect(alice).toEqual(expect.arrayContaining(['public', 'team-a', 'team-a-slug', 'keyless', 'sonnet', 'keyed/m1']));
    expect(alice).not.toContain('bob-only');
    expect(await ids(K.alice, { 'x-vmc-user-path': '/team/a/bob' })).toContain('bob-only');
    expect(await ids(K.other)).not.toContain('team-a');
    expect((await call('/v1/models', { headers: { authorization: `Bearer ${K.alice}`, 'x-vmc-user-path': '/elsewhere' } })).status).toBe(
      403,
    );
    expect((await call('/v1/models', { headers: { 'x-api-key': K.off } })).status).toBe(401);
  });
});

describe('revocation and admin keys', () => {
  it('a file edit (by rename) revokes within 1 s; the previous keys stay when an edit is invalid', async () => {
    const c = openai(K.fileRevoke);
    await c.chat.completions.create({ model: 'public', messages: [] });
    await writeFile(keysFile, 'keys: [ this is not valid\n');
    await new Promise((r) => setTimeout(r, 700));
    await c.chat.completions.create({ model: 'public', messages: [] }); // still served
    expect(gw.logs.some((l) => l.level === 'error' && l.msg === 'keys file rejected; the previous keys stay in service')).toBe(true);
    await writeKeysFileAtomic(keysFile, disableEntryText(keysFile, keysText(), 'file-revoke')!);
    const start = Date.now();
    let status = 200;
    while (Date.now() - start < 1000) {
      status = (await post('public', { authorization: `Bearer ${K.fileRevoke}` })).status;
      if (status === 401) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe(401);
    expect(await refusal(c.chat.completions.create({ model: 'public', messages: [] }))).toEqual([401, 'authentication_error']);
    const msg = { model: 'sonnet', max_tokens: 5, messages: [{ role: 'user' as const, content: 'x' }] };
    expect(await refusal(anthropic(K.fileRevoke).messages.create(msg))).toEqual([401, 'authentication_error']);
    expect((await post('public', { authorization: `Bearer ${K.alice}` })).status).toBe(200);
  });

  it('GET /admin/keys lists ids, paths, models, expiry and state, never a hash', async () => {
    const r = await call('/admin/keys', { headers: ADMIN });
    expect(r.status).toBe(200);
    const byId = Object.fromEntries((r.json as { id: string }[]).map((k) => [k.id, k]));
    expect(byId.limited).toMatchObject({ user_path: '/', models: ['public', 'claude/*'], enabled: true, source: 'file' });
    expect(byId.off).toMatchObject({ enabled: false });
    expect(byId.old).toMatchObject({ expired: true, expires_at: '2020-01-01T00:00:00Z' });
    expect(r.text).not.toMatch(/sha256|hash/);
    expect((await call('/admin/keys')).status).toBe(401);
  });

  it('POST /admin/keys: 201 with the key once; it works at once; persisted as a hash; a duplicate id is 409', async () => {
    const body = JSON.stringify({ id: 'ci-bot', user_path: '/team/a/', models: ['team-a'] });
    const r = await call('/admin/keys', { method: 'POST', headers: ADMIN, body }, false);
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({ id: 'ci-bot', user_path: '/team/a', models: ['team-a'], enabled: true, source: 'admin' });
    const key = r.json.key as string;
    created.push(key);
    expect(key).toMatch(/^vmc-/);
    // the slug of an allowed name is allowed
    expect((await openai(key).chat.completions.create({ model: 'team-a-slug', messages: [] })).model).toBe('m2');
    expect(await refusal(openai(key).chat.completions.create({ model: 'public', messages: [] }))).toEqual([403, 'permission_error']);
    const state = await readFile(join(dir, 'table.vmct.admin.json'), 'utf8');
    expect(state).toContain(hashKey(key));
    expect(state).not.toContain(key);
    expect(await readFile(keysFile, 'utf8')).not.toContain('ci-bot');
    for (const id of ['ci-bot', 'alice']) {
      const dup = await call('/admin/keys', { method: 'POST', headers: ADMIN, body: JSON.stringify({ id, user_path: '/' }) });
      expect([id, dup.status]).toEqual([id, 409]);
    }
    const listed = await call('/admin/keys', { headers: ADMIN });
    expect(listed.text).not.toContain(key);
    expect((listed.json as { id: string; source: string }[]).find((k) => k.id === 'ci-bot')?.source).toBe('admin');
  });

  it('POST /admin/keys refuses bad bodies (400 naming the field)', async () => {
    for (const [body, param] of [
      [{ user_path: '/' }, 'id'],
      [{ id: 'x', user_path: 'rel' }, 'user_path'],
      [{ id: 'x', user_path: '/', models: 'all' }, 'models'],
      [{ id: 'x', user_path: '/', expires_at: 'soon' }, 'expires_at'],
      [{ id: 'x', user_path: '/', hash: hashKey('mine') }, 'hash'],
    ] as const) {
      const r = await call('/admin/keys', { method: 'POST', headers: ADMIN, body: JSON.stringify(body) });
      expect([r.status, r.json.error.param]).toEqual([400, param]);
    }
  });

  it('DELETE /admin/keys/{id}: a file key is revoked (in the admin state), an admin key deleted; in-flight requests finish', async () => {
    const slow = post('slow', { authorization: `Bearer ${K.adminRevoke}` }); // upstream answers after 600 ms
    await new Promise((r) => setTimeout(r, 150));
    const del = await call('/admin/keys/admin-revoke', { method: 'DELETE', headers: ADMIN });
    expect(del.status).toBe(200);
    expect(del.json).toMatchObject({ id: 'admin-revoke', enabled: false, revoked: true, source: 'file' });
    expect((await post('public', { authorization: `Bearer ${K.adminRevoke}` })).status).toBe(401);
    expect(await refusal(openai(K.adminRevoke).chat.completions.create({ model: 'public', messages: [] }))).toEqual([
      401,
      'authentication_error',
    ]);
    const msg = { model: 'sonnet', max_tokens: 5, messages: [{ role: 'user' as const, content: 'x' }] };
    expect(await refusal(anthropic(K.adminRevoke).messages.create(msg))).toEqual([401, 'authentication_error']);
    expect((await slow).status).toBe(200); // authenticated before the revocation: not dropped
    expect(await readFile(keysFile, 'utf8')).toContain('admin-revoke'); // the file is not touched

    const r = await call('/admin/keys', { method: 'POST', headers: ADMIN, body: JSON.stringify({ id: 'temp', user_path: '/' }) }, false);
    created.push(r.json.key);
    expect((await post('public', { 'x-api-key': r.json.key })).status).toBe(200);
    expect((await call('/admin/keys/temp', { method: 'DELETE', headers: ADMIN })).json).toMatchObject({ id: 'temp', deleted: true });
    expect((await post('public', { 'x-api-key': r.json.key })).status).toBe(401);
    expect((await call('/admin/keys/nobody', { method: 'DELETE', headers: ADMIN })).status).toBe(404);
  });
});

describe('observability without leaks', () => {
  it('access lines and metrics carry the key id and user path', async () => {
    await post('team-a', { authorization: `Bearer ${K.alice}`, 'x-vmc-user-path': '/team/a/carol' });
    const line = gw.logs.filter((l) => l.msg === 'request' && l.virtual_model === 'team-a').pop()!;
    expect(line).toMatchObject({ key_id: 'alice', user_path: '/team/a/carol', status: 200 });
    const denied = gw.logs.filter((l) => l.msg === 'request' && l.status === 401).pop()!;
    expect(denied.key_id === null || typeof denied.key_id === 'string').toBe(true);
    const metrics = (await call('/metrics')).text;
    expect(metrics).toMatch(/^vmc_key_requests_total\{key_id="alice",user_path="\/team\/a",status="200"\} \d+$/m);
    expect(metrics).toMatch(/^vmc_key_requests_total\{key_id="limited",user_path="\/",status="403"\} \d+$/m);
    expect(metrics).toMatch(/^vmc_key_auth_failures_total\{reason="unknown"\} \d+$/m);
    expect(metrics).toMatch(/^vmc_key_auth_failures_total\{reason="expired"\} \d+$/m);
  });

  it('no key appears in logs, metrics, error bodies, admin output or upstream requests', async () => {
    seen.push((await call('/metrics')).text, (await call('/admin/keys', { headers: ADMIN })).text);
    const haystacks = [
      ...gw.logs.map((l) => JSON.stringify(l)),
      ...seen,
      ...mocks.flatMap((m) => m.requests.map((r) => JSON.stringify(r))),
    ].join('\n');
    for (const key of [...Object.values(K), ...created]) {
      const at = haystacks.indexOf(key);
      expect(at < 0 ? '' : haystacks.slice(Math.max(0, at - 200), at + 60)).toBe(''); // shows where a key leaked
    }
    expect(haystacks).toContain('alice'); // the ids are there
  });
});

describe('without keys', () => {
  it('nothing changes for existing clients; the start-up log says policies trust x-vmc-user-path; /admin/keys is 404', async () => {
    const plain = await startGateway(
      `version: 1
providers:
  p: { type: openai, base_url: ${mocks[1].url}/v1, models: [m1] }
virtual_models:
  team: { target: p/m1, user_paths: [/team] }
`,
      { adminToken: TOKEN },
    );
    try {
      const ok = await fetch(plain.url + '/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-vmc-user-path': '/team/a' },
        body: JSON.stringify(chat('team')),
      });
      expect(ok.status).toBe(200);
      const no = await fetch(plain.url + '/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(chat('team')),
      });
      expect([no.status, (await no.json()).error.type]).toEqual([403, 'permission_error']);
      const keys = await fetch(plain.url + '/admin/keys', { headers: ADMIN });
      expect(keys.status).toBe(404);
      expect((await keys.json()).error.message).toMatch(/keys are off/);
      expect(plain.logs.some((l) => l.level === 'warn' && /trust.*x-vmc-user-path/.test(String(l.msg)))).toBe(true);
      expect(plain.logs.find((l) => l.msg === 'gateway listening')).toMatchObject({ keys: 'off' });
      const line = plain.logs.find((l) => l.msg === 'request')!;
      expect('key_id' in line).toBe(false);
    } finally {
      await plain.close();
    }
  });
});
