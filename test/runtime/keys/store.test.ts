/**
 * The key store (SPEC §12): the keys file merged with the admin keys; edits in place and by
 * rename apply within a second; an invalid edit is logged at `error` and the previous keys stay.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emptyAdminKeys, generateKey, hashKey, type AdminKeys } from '../../../runtime/keys/entry.js';
import { KeysFileError } from '../../../runtime/keys/file.js';
import { KeyMetrics } from '../../../runtime/keys/metrics.js';
import { AUTH_DISABLED, AUTH_OK, AUTH_UNKNOWN, Caller, authenticate } from '../../../runtime/keys/ring.js';
import { KeyStore } from '../../../runtime/keys/store.js';
import { captureLogger } from '../harness.js';

let dir: string;
let file: string;
let store: KeyStore | null = null;
const keyA = generateKey();
const keyB = generateKey();
const fileText = (entries: string[]) => `keys:\n${entries.map((e) => `  - ${e}\n`).join('')}`;
const entryA = `{ id: a, hash: ${hashKey(keyA)}, user_path: /team/a }`;
const entryB = `{ id: b, hash: ${hashKey(keyB)}, user_path: /team/b }`;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vmc-keys-store-'));
  file = join(dir, 'keys.yaml');
});
afterEach(async () => {
  store?.close();
  store = null;
  await rm(dir, { recursive: true, force: true });
});

const status = (s: KeyStore, key: string) =>
  authenticate(s.ring, { header: (n) => (n === 'x-api-key' ? key : null) }, Date.now(), new Caller());

/** Polls (bounded) until `check` holds; returns the time it took, ms. */
async function within(ms: number, check: () => boolean): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}

describe('KeyStore', () => {
  it('a missing or invalid file at open is a KeysFileError', async () => {
    const { log } = captureLogger();
    await expect(KeyStore.open({ file, log, metrics: new KeyMetrics(), watch: false })).rejects.toBeInstanceOf(KeysFileError);
    await writeFile(file, 'keys: [oops]\n');
    await expect(KeyStore.open({ file, log, metrics: new KeyMetrics(), watch: false })).rejects.toThrow(/VMK004/);
  });

  it('in-place edits and atomic renames apply within 1 s; an invalid edit keeps the previous keys and logs an error', async () => {
    await writeFile(file, fileText([entryA]));
    const { log, lines } = captureLogger();
    store = await KeyStore.open({ file, log, metrics: new KeyMetrics() });
    const s = store;
    expect([status(s, keyA), status(s, keyB)]).toEqual([AUTH_OK, AUTH_UNKNOWN]);

    await writeFile(file, fileText([entryA, entryB])); // in place
    await within(1000, () => status(s, keyB) === AUTH_OK);

    await writeFile(file, 'keys:\n  - { id: a, hash: nope, user_path: /x }\n'); // a bad edit
    await within(1000, () => lines.some((l) => l.level === 'error' && l.msg === 'keys file rejected; the previous keys stay in service'));
    expect([status(s, keyA), status(s, keyB)]).toEqual([AUTH_OK, AUTH_OK]);
    const err = lines.find((l) => l.level === 'error')!;
    expect(err.error).toMatch(/keys\.yaml:2:\d+ - error VMK007/);

    const tmp = join(dir, '.keys.yaml.tmp');
    await writeFile(tmp, fileText([`{ id: b, hash: ${hashKey(keyB)}, user_path: /team/b, enabled: false }`]));
    await rename(tmp, file); // by rename
    await within(1000, () => status(s, keyB) === AUTH_DISABLED && status(s, keyA) === AUTH_UNKNOWN);
    expect(lines.filter((l) => l.msg === 'caller keys loaded').length).toBeGreaterThanOrEqual(2);
  });

  it('merges admin keys: created keys serve, a revocation applies to the file key with that id and hash, a clashing id is ignored', async () => {
    await writeFile(file, fileText([entryA, entryB]));
    const keyC = generateKey();
    const clash = generateKey();
    let admin: AdminKeys = emptyAdminKeys();
    const { log, lines } = captureLogger();
    store = await KeyStore.open({ file, log, metrics: new KeyMetrics(), watch: false, readAdmin: async () => admin });
    admin = {
      created: {
        c: { hash: hashKey(keyC), user_path: '/c', created_at: '2026-01-01T00:00:00Z' },
        a: { hash: hashKey(clash), user_path: '/', created_at: '2026-01-01T00:00:00Z' },
      },
      revoked: { b: { hash: hashKey(keyB), at: '2026-01-02T00:00:00Z' }, a: { hash: hashKey('another key'), at: '2026-01-02T00:00:00Z' } },
    };
    await store.refresh('admin');
    expect([status(store, keyA), status(store, keyB), status(store, keyC), status(store, clash)]).toEqual([
      AUTH_OK,
      AUTH_DISABLED,
      AUTH_OK,
      AUTH_UNKNOWN,
    ]);
    expect(lines.some((l) => l.level === 'warn' && l.key_id === 'a')).toBe(true);
    expect(store.counts).toEqual({ file: 2, admin: 1 });
    const views = store.list();
    expect(views.map((v) => [v.id, v.source, v.enabled])).toEqual([
      ['a', 'file', true],
      ['b', 'file', false],
      ['c', 'admin', true],
    ]);
    expect(views[1].revoked_at).toBe('2026-01-02T00:00:00Z');
    expect(JSON.stringify(views)).not.toMatch(/sha256|vmc-/);
  });

  it('an admin reader that fails keeps the previous admin keys', async () => {
    await writeFile(file, fileText([]));
    const keyC = generateKey();
    let fail = false;
    const { log, lines } = captureLogger();
    store = await KeyStore.open({
      file,
      log,
      metrics: new KeyMetrics(),
      watch: false,
      readAdmin: async () => {
        if (fail) throw new Error('state unreadable');
        return { created: { c: { hash: hashKey(keyC), user_path: '/', created_at: 'x' } }, revoked: {} };
      },
    });
    expect(status(store, keyC)).toBe(AUTH_OK);
    fail = true;
    await store.refresh('test');
    expect(status(store, keyC)).toBe(AUTH_OK);
    expect(lines.some((l) => l.level === 'error' && l.msg === 'admin keys unreadable; the previous admin keys stay in service')).toBe(true);
  });

  it('refreshes asked during a refresh are coalesced into one more, which sees the latest state', async () => {
    await writeFile(file, fileText([]));
    let reads = 0;
    const keyC = generateKey();
    let admin: AdminKeys = emptyAdminKeys();
    const { log } = captureLogger();
    store = await KeyStore.open({
      file,
      log,
      metrics: new KeyMetrics(),
      watch: false,
      readAdmin: async () => {
        reads++;
        await new Promise((r) => setTimeout(r, 20));
        return admin;
      },
    });
    reads = 0;
    const first = store.refresh('one');
    admin = { created: { c: { hash: hashKey(keyC), user_path: '/', created_at: 'x' } }, revoked: {} };
    await Promise.all([first, store.refresh('two'), store.refresh('three'), store.refresh('four')]);
    expect(reads).toBe(2);
    expect(status(store, keyC)).toBe(AUTH_OK);
  });
});
