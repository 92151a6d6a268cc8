/**
 * The parts of runtime/state that need no Redis: `--state` URLs, the admin state merge
 * (tombstones keep deletions and revocations), the local file store's compare-and-set, and
 * the stable names of targets that cooldowns are shared under.
 */
import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseStateUrl, StateUrlError } from '../../runtime/state/url.js';
import {
  emptyAdminState,
  mergeAdminStates,
  parseAdminState,
  serializeAdminState,
  type AdminState,
} from '../../runtime/state/admin-state.js';
import { FileStateStore } from '../../runtime/state/file-store.js';
import { openStateStore, stateUrlFrom } from '../../runtime/state/open.js';
import { cooldownNames } from '../../runtime/state/cooldowns.js';
import { commitAdminState, UnusableStateError } from '../../runtime/state/commit.js';
import { seedKeys } from '../../runtime/state/seed-keys.js';
import type { KeySpec } from '../../runtime/keys/entry.js';
import { RoutingTable } from '../../runtime/table/reader.js';
import { buildTableFromYaml } from '../../compiler/testing.js';
import { createLogger } from '../../runtime/log.js';

describe('--state URLs', () => {
  const cases: [string, Partial<ReturnType<typeof parseStateUrl>>][] = [
    ['redis://localhost', { host: 'localhost', port: 6379, db: 0, tls: false, prefix: 'vmc:', display: 'redis://localhost:6379/0' }],
    ['redis://10.0.0.5:6380/3', { host: '10.0.0.5', port: 6380, db: 3, display: 'redis://10.0.0.5:6380/3' }],
    ['redis://:s3cret@redis:6379', { password: 's3cret', display: 'redis://:***@redis:6379/0' }],
    ['redis://app:p%40ss@redis/1', { username: 'app', password: 'p@ss', db: 1, display: 'redis://app:***@redis:6379/1' }],
    ['rediss://cache.example:6380', { tls: true, port: 6380, display: 'rediss://cache.example:6380/0' }],
    ['redis://[::1]:7000', { host: '::1', port: 7000, display: 'redis://[::1]:7000/0' }],
    ['redis://h/2?prefix=staging:', { db: 2, prefix: 'staging:', display: 'redis://h:6379/2?prefix=staging%3A' }],
  ];
  it.each(cases)('%s', (url, want) => {
    expect(parseStateUrl(url)).toMatchObject(want);
  });

  const bad: [string, RegExp][] = [
    ['localhost:6379', /unsupported scheme|not a URL/],
    ['http://localhost', /unsupported scheme "http"/],
    ['redis://h/db0', /database number/],
    ['redis://h?db=1', /unknown parameter "db"/],
    ['redis://h?prefix=', /prefix must be non-empty/],
    ['redis://', /names no host|not a URL/],
  ];
  it.each(bad)('refuses %s', (url, message) => {
    expect(() => parseStateUrl(url)).toThrow(StateUrlError);
    expect(() => parseStateUrl(url)).toThrow(message);
  });

  it('never repeats a password in an error', () => {
    try {
      parseStateUrl('redis://:hunter2@h/x');
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  it('takes the flag, else VMC_STATE_URL', () => {
    expect(stateUrlFrom(undefined, { VMC_STATE_URL: 'redis://a' })).toBe('redis://a');
    expect(stateUrlFrom('redis://b', { VMC_STATE_URL: 'redis://a' })).toBe('redis://b');
    expect(stateUrlFrom(undefined, { VMC_STATE_URL: ' ' })).toBeUndefined();
    expect(stateUrlFrom(undefined, {})).toBeUndefined();
  });
});

describe('admin state merge', () => {
  const at = (d: number) => new Date(Date.UTC(2026, 0, d)).toISOString();
  const state = (f: (s: AdminState) => void): string => {
    const s = emptyAdminState();
    f(s);
    return serializeAdminState(s);
  };
  const key = (hash: string, d: number) => ({ hash: `sha256:${hash.repeat(64)}`, user_path: '/t', created_at: at(d) });

  it('keeps what only one side has, and the later change of a name both sides changed', () => {
    const ours = state((s) => {
      s.upserts.a = { target: 'up/a1' };
      s.updatedAt.a = at(2);
      s.upserts.both = { target: 'up/ours' };
      s.updatedAt.both = at(5);
    });
    const theirs = state((s) => {
      s.upserts.b = { target: 'up/b' };
      s.updatedAt.b = at(3);
      s.upserts.both = { target: 'up/theirs' };
      s.updatedAt.both = at(4);
      s.deletes.push('base-model');
    });
    const m = parseAdminState(mergeAdminStates(ours, theirs));
    expect(Object.keys(m.upserts).sort()).toEqual(['a', 'b', 'both']);
    expect(m.upserts.both).toEqual({ target: 'up/ours' });
    expect(m.deletes).toEqual(['base-model']);
    // symmetric on the outcome
    expect(parseAdminState(mergeAdminStates(theirs, ours)).upserts.both).toEqual({ target: 'up/ours' });
  });

  it('does not resurrect a model deleted after the other side last wrote it (removedAt is a tombstone)', () => {
    const older = state((s) => {
      s.upserts.gone = { target: 'up/x' };
      s.updatedAt.gone = at(1);
    });
    const newer = state((s) => {
      s.removedAt = { gone: at(2) };
    });
    expect(parseAdminState(mergeAdminStates(newer, older)).upserts).toEqual({});
    expect(parseAdminState(mergeAdminStates(older, newer)).upserts).toEqual({});
    // a re-creation after the deletion wins
    const recreated = state((s) => {
      s.upserts.gone = { target: 'up/y' };
      s.updatedAt.gone = at(3);
    });
    expect(parseAdminState(mergeAdminStates(newer, recreated)).upserts.gone).toEqual({ target: 'up/y' });
  });

  it('keeps a revoked key revoked and a deleted admin key deleted', () => {
    const withKeys = state((s) => {
      s.keys = { created: { ci: key('a', 1), bot: key('b', 1) }, revoked: {} };
    });
    const revokedLater = state((s) => {
      s.keys = {
        created: {},
        revoked: { ci: { hash: key('a', 1).hash, at: at(2) }, filekey: { hash: `sha256:${'c'.repeat(64)}`, at: at(2) } },
      };
    });
    for (const m of [mergeAdminStates(withKeys, revokedLater), mergeAdminStates(revokedLater, withKeys)]) {
      const k = parseAdminState(m).keys!;
      expect(Object.keys(k.created)).toEqual(['bot']);
      expect(Object.keys(k.revoked).sort()).toEqual(['ci', 'filekey']);
    }
    // a new key under a revoked id (another hash) is not born revoked
    const reissued = state((s) => {
      s.keys = { created: { ci: key('d', 3) }, revoked: {} };
    });
    expect(Object.keys(parseAdminState(mergeAdminStates(revokedLater, reissued)).keys!.created)).toEqual(['ci']);
  });

  it('prefers the side that parses', () => {
    const good = state((s) => {
      s.upserts.a = { target: 'up/a' };
    });
    expect(mergeAdminStates('{not json', good)).toBe(good);
    expect(mergeAdminStates(good, '{"version":2}')).toBe(good);
  });
});

describe('FileStateStore', () => {
  it('versions what it reads and writes, and refuses a write over a change it has not seen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vmc-filestore-'));
    const file = join(dir, 'sub', 'table.vmct.admin.json');
    const s = new FileStateStore(file);
    expect(await s.read()).toEqual({ version: 0, text: null });
    const w = await s.write(0, '{"n":1}');
    expect(w).toEqual({ ok: true, snapshot: { version: 1, text: '{"n":1}' } });
    expect(await readFile(file, 'utf8')).toBe('{"n":1}');
    expect((await s.write(0, '{"n":2}')).ok).toBe(false);
    await writeFile(file, '{"n":"edited"}'); // an operator's edit
    const c = await s.write(1, '{"n":2}');
    expect(c).toEqual({ ok: false, current: { version: 2, text: '{"n":"edited"}' } });
    expect((await s.write(2, '{"n":3}')).ok).toBe(true);
    expect(s.status).toBe('ok');
    expect(s.shared).toBe(false);
    const aside = await s.moveAside('quarantined-x');
    expect(aside).toBe(`${file}.quarantined-x`);
    expect(await readFile(aside!, 'utf8')).toBe('{"n":3}');
    expect(await s.moveAside('again')).toBeNull();
  });

  it('is what openStateStore gives without --state; with --state a local state file is ignored, with a warning', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vmc-filestore-'));
    const file = join(dir, 'table.vmct.admin.json');
    expect((await openStateStore({ filePath: file })).kind).toBe('file');
    await writeFile(file, '{}');
    const lines: string[] = [];
    const log = createLogger({ level: 'info', sink: (l) => lines.push(l) });
    // nothing listens on port 1: the store starts degraded at once
    const s = await openStateStore({ url: 'redis://127.0.0.1:1/0', filePath: file, log, waitMs: 3000 });
    try {
      expect(s.kind).toBe('redis');
      expect(s.status).toBe('degraded');
      expect(lines.some((l) => l.includes('a local admin state file exists and is ignored') && l.includes(file))).toBe(true);
      expect(lines.some((l) => l.includes('state store unreachable'))).toBe(true);
    } finally {
      await s.close();
    }
    await expect(openStateStore({ url: 'memcached://x', filePath: file })).rejects.toThrow(/unsupported scheme/);
  });
});

describe('cooldown names', () => {
  it('name targets by virtual model, provider/model and occurrence: the same in two builds with other ids', async () => {
    const yaml = (extra: string) => `
version: 1
providers:
  up: { type: openai, base_url: http://127.0.0.1:9/v1, models: [a, b] }
virtual_models:
${extra}
  pair: { targets: [{ target: up/a }, { target: up/b }, { target: up/a, weight: 2 }], strategy: weighted }
`;
    const one = RoutingTable.decode(await buildTableFromYaml(yaml('')));
    const two = RoutingTable.decode(await buildTableFromYaml(yaml('  first: { target: up/b }')));
    const names1 = cooldownNames(one).filter((n) => n.startsWith('["pair"'));
    const names2 = cooldownNames(two).filter((n) => n.startsWith('["pair"'));
    expect(names1).toEqual(['["pair","up/a",0]', '["pair","up/b",0]', '["pair","up/a",1]']);
    expect(names2).toEqual(names1);
    expect(new Set(cooldownNames(two)).size).toBe(two.targetCount);
  });
});

describe('commitAdminState and seedKeys on the file store', () => {
  const spec = (id: string, extra: Partial<KeySpec> = {}): KeySpec => ({
    id,
    hash: `sha256:${id
      .padEnd(64, '0')
      .slice(0, 64)
      .replace(/[^0-9a-f]/g, 'a')}`,
    user_path: '/t',
    ...extra,
  });

  it('re-runs a change on the newer state after a conflict, and answers without writing when the plan says so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vmc-commit-'));
    const store = new FileStateStore(join(dir, 'state.json'));
    let runs = 0;
    const r = await commitAdminState(store, async (state) => {
      runs++;
      if (runs === 1) await writeFile(store.path, serializeAdminState({ ...emptyAdminState(), deletes: ['x'] })); // a concurrent writer
      const next = structuredClone(state);
      next.upserts.mine = { target: 'up/a' };
      return { next, result: 'written' };
    });
    expect(runs).toBe(2);
    expect(r.written).toBe(true);
    const saved = parseAdminState(await readFile(store.path, 'utf8'));
    expect(saved.deletes).toEqual(['x']); // the other writer's change survived
    expect(Object.keys(saved.upserts)).toEqual(['mine']);
    const none = await commitAdminState(store, async () => ({ result: 404 }));
    expect(none).toMatchObject({ result: 404, written: false });
    await writeFile(store.path, '{"version": 9}');
    await expect(commitAdminState(store, async () => ({ result: 0 }))).rejects.toBeInstanceOf(UnusableStateError);
  });

  it('seeds the keys the store lacks: not the ones it has, revoked, or disabled', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vmc-seed-'));
    const store = new FileStateStore(join(dir, 'state.json'));
    const revoked = spec('gone');
    await store.write(
      0,
      serializeAdminState({
        ...emptyAdminState(),
        keys: {
          created: { have: { hash: spec('have').hash, user_path: '/x', created_at: 'then' } },
          revoked: { gone: { hash: revoked.hash, at: 'then' } },
        },
      }),
    );
    const added = await seedKeys(store, [
      spec('have'),
      revoked,
      spec('off', { enabled: false }),
      spec('new', { models: ['m'], expires_at: '2099-01-01' }),
    ]);
    expect(added).toEqual(['new']);
    const keys = parseAdminState(store.current().text!).keys!;
    expect(Object.keys(keys.created).sort()).toEqual(['have', 'new']);
    expect(keys.created.have.user_path).toBe('/x');
    expect(keys.created.new).toMatchObject({ hash: spec('new').hash, user_path: '/t', models: ['m'], expires_at: '2099-01-01' });
    expect(await seedKeys(store, [spec('new')])).toEqual([]);
  });
});
