/**
 * The per-request key checks (SPEC §12): which key a request presents (Bearer or x-api-key),
 * authentication outcomes, user-path narrowing, and model allow-lists against a real table
 * (names, slugs, `provider/*`).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTableFromYaml } from '../../../compiler/testing.js';
import { generateKey, hashKey, type KeySpec } from '../../../runtime/keys/entry.js';
import { KeyMetrics } from '../../../runtime/keys/metrics.js';
import {
  AUTH_DISABLED,
  AUTH_EXPIRED,
  AUTH_MISSING,
  AUTH_OK,
  AUTH_UNKNOWN,
  Caller,
  KeyEntry,
  KeyRing,
  authenticate,
  narrowUserPath,
  presentedKey,
} from '../../../runtime/keys/ring.js';
import { RoutingTable } from '../../../runtime/table/reader.js';

const metrics = new KeyMetrics();
const entry = (spec: KeySpec, extra = {}) => new KeyEntry(spec, 'file', metrics.series(spec.id, spec.user_path), extra);
const headers = (h: Record<string, string>) => ({ header: (n: string) => h[n] ?? null });

const live = generateKey();
const off = generateKey();
const old = generateKey();
const revoked = generateKey();
const ring = new KeyRing([
  entry({ id: 'live', hash: hashKey(live), user_path: '/team/a' }),
  entry({ id: 'off', hash: hashKey(off), user_path: '/', enabled: false }),
  entry({ id: 'old', hash: hashKey(old), user_path: '/', expires_at: '2020-01-01T00:00:00Z' }),
  entry({ id: 'revoked', hash: hashKey(revoked), user_path: '/' }, { revokedAt: '2026-01-01T00:00:00Z' }),
]);

describe('presentedKey', () => {
  it.each([
    ['Bearer', { authorization: 'Bearer abc' }, 'abc'],
    ['bearer in any case, extra spaces', { authorization: 'bEaReR   abc  ' }, 'abc'],
    ['x-api-key', { 'x-api-key': 'abc' }, 'abc'],
    ['Bearer wins over x-api-key', { authorization: 'Bearer one', 'x-api-key': 'two' }, 'one'],
    ['another scheme falls back to x-api-key', { authorization: 'Basic zzz', 'x-api-key': 'two' }, 'two'],
    ['an empty Bearer falls back to x-api-key', { authorization: 'Bearer ', 'x-api-key': 'two' }, 'two'],
    ['none', {}, null],
    ['empty x-api-key', { 'x-api-key': '' }, null],
  ])('%s', (_n, h, want) => {
    expect(presentedKey(headers(h))).toBe(want);
  });
});

describe('authenticate', () => {
  const now = Date.parse('2026-06-01T00:00:00Z');
  it.each([
    ['a live key', { authorization: `Bearer ${live}` }, AUTH_OK, 'live'],
    ['a live key as x-api-key', { 'x-api-key': live }, AUTH_OK, 'live'],
    ['no key', {}, AUTH_MISSING, null],
    ['an unknown key', { authorization: `Bearer ${generateKey()}` }, AUTH_UNKNOWN, null],
    ['a key one character off', { authorization: `Bearer ${live.slice(0, -1)}x` }, AUTH_UNKNOWN, null],
    ['a very long key', { 'x-api-key': 'k'.repeat(10_000) }, AUTH_UNKNOWN, null],
    ['a disabled key', { 'x-api-key': off }, AUTH_DISABLED, 'off'],
    ['an expired key', { 'x-api-key': old }, AUTH_EXPIRED, 'old'],
    ['a revoked key', { 'x-api-key': revoked }, AUTH_DISABLED, 'revoked'],
  ])('%s', (_n, h, status, id) => {
    const c = new Caller();
    expect(authenticate(ring, headers(h), now, c)).toBe(status);
    expect(c.entry?.id ?? null).toBe(id);
  });

  it('a key is usable until its expiry instant', () => {
    const k = generateKey();
    const r = new KeyRing([entry({ id: 'e', hash: hashKey(k), user_path: '/', expires_at: '2026-06-01T00:00:00Z' })]);
    const c = new Caller();
    expect(authenticate(r, headers({ 'x-api-key': k }), Date.parse('2026-05-31T23:59:59Z'), c)).toBe(AUTH_OK);
    expect(authenticate(r, headers({ 'x-api-key': k }), Date.parse('2026-06-01T00:00:00Z'), c)).toBe(AUTH_EXPIRED);
  });
});

describe('narrowUserPath', () => {
  it.each([
    ['absent: the key’s path', null, true, '/team/a'],
    ['equal', '/team/a', true, '/team/a'],
    ['equal with a trailing slash', '/team/a/', true, '/team/a'],
    ['below', '/team/a/bob', true, '/team/a/bob'],
    ['below, without the leading slash', 'team/a/bob', true, '/team/a/bob'],
    ['below, trailing slashes ignored', '/team/a/bob//', true, '/team/a/bob'],
    ['a sibling sharing a prefix', '/team/ab', false, null],
    ['above', '/team', false, null],
    ['the root', '/', false, null],
    ['elsewhere', '/other', false, null],
  ])('%s', (_n, header, ok, path) => {
    const c = new Caller();
    authenticate(ring, headers({ 'x-api-key': live }), 0, c);
    expect(narrowUserPath(c, header)).toBe(ok);
    if (ok) expect(c.userPath).toBe(path);
  });

  it('a key at / may send any path', () => {
    const k = generateKey();
    const c = new Caller();
    authenticate(new KeyRing([entry({ id: 'root', hash: hashKey(k), user_path: '/' })]), headers({ 'x-api-key': k }), 0, c);
    expect(narrowUserPath(c, '/anything/below')).toBe(true);
    expect(c.userPath).toBe('/anything/below');
  });
});

describe('model allow-lists', () => {
  let table: RoutingTable;
  beforeAll(async () => {
    table = RoutingTable.decode(
      await buildTableFromYaml(`version: 1
settings: { passthrough: true }
providers:
  openai: { type: openai, base_url: https://o.example/v1, models: [gpt-4o, gpt-4o-mini] }
  anth: { type: anthropic, base_url: https://a.example, models: [sonnet] }
virtual_models:
  smart: { target: openai/gpt-4o, slug: smart-slug }
  other: { target: anth/sonnet }
  openai/gpt-4o-mini: { user_paths: [/team] }
`),
    );
  });
  const admits = (models: string[] | undefined, name: string) =>
    entry({ id: 'x', hash: hashKey('x'), user_path: '/', ...(models === undefined ? {} : { models }) }).admits(
      table,
      table.lookupString(name),
    );

  it.each([
    ['no list: everything', undefined, ['smart', 'smart-slug', 'other', 'openai/gpt-4o', 'anth/sonnet'], []],
    ['a name admits its slug', ['smart'], ['smart', 'smart-slug'], ['other', 'openai/gpt-4o']],
    ['a slug admits its name', ['smart-slug'], ['smart', 'smart-slug'], ['other']],
    [
      'provider/* admits catalogued provider models (access policies too), not virtual models routing there',
      ['openai/*'],
      ['openai/gpt-4o', 'openai/gpt-4o-mini'],
      ['smart', 'anth/sonnet', 'other'],
    ],
    ['provider/model', ['anth/sonnet'], ['anth/sonnet'], ['other', 'openai/gpt-4o']],
    ['names the table lacks admit nothing', ['nope', 'nobody/*'], [], ['smart', 'other', 'openai/gpt-4o']],
    ['an empty list admits nothing', [], [], ['smart', 'openai/gpt-4o']],
  ])('%s', (_n, models, yes, no) => {
    for (const name of yes) expect([name, admits(models, name)]).toEqual([name, true]);
    for (const name of no) expect([name, admits(models, name)]).toEqual([name, false]);
  });

  it('the allowed set follows the table (recomputed for a new table)', async () => {
    const e = entry({ id: 'x', hash: hashKey('x'), user_path: '/', models: ['later'] });
    expect(e.admits(table, table.lookupString('smart'))).toBe(false);
    const next = RoutingTable.decode(
      await buildTableFromYaml(`version: 1
providers:
  openai: { type: openai, base_url: https://o.example/v1, models: [gpt-4o] }
virtual_models:
  later: { target: openai/gpt-4o }
`),
    );
    expect(e.admits(next, next.lookupString('later'))).toBe(true);
  });

  it('views never carry the hash', () => {
    const view = entry({ id: 'v', hash: hashKey('secret'), user_path: '/p', models: ['smart'] }).view(0);
    expect(view).toEqual({ id: 'v', user_path: '/p', models: ['smart'], expires_at: null, enabled: true, expired: false, source: 'file' });
    expect(JSON.stringify(view)).not.toContain('sha256');
  });
});
