/**
 * The Redis state store (runtime/state/redis-store.ts) against a real redis-server on
 * loopback: versions and compare-and-set, notifications and the reconciliation that repairs
 * a lost one, many writers losing no update, Redis killed (degraded, writes refused, the last
 * state kept) and restarted empty (the state written back), diverged histories merged, a
 * store started while Redis is down, shared cooldowns, passwords.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { connect, createServer, type AddressInfo } from 'node:net';
import { RedisStateStore } from '../../runtime/state/redis-store.js';
import { StateUnavailableError, type StateStore } from '../../runtime/state/store.js';
import { parseStateUrl } from '../../runtime/state/url.js';
import { mergeAdminStates, parseAdminState, serializeAdminState, emptyAdminState } from '../../runtime/state/admin-state.js';
import { createLogger } from '../../runtime/log.js';
import { commitAdminState } from '../../runtime/state/commit.js';
import { RedisServer, REDIS_SERVER, freePort, skipNote, sleep } from './procs.js';

skipNote('Redis state store tests', REDIS_SERVER === null ? ['redis-server'] : []);

const RECONCILE_MS = 200;
const lines: string[] = [];
const log = createLogger({ level: 'info', sink: (l) => lines.push(l) });

async function until<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 5000): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  for (;;) {
    const value = await fn();
    if (value) return { value, ms: performance.now() - t0 };
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe.skipIf(REDIS_SERVER === null)('RedisStateStore on a real redis-server', () => {
  let redis: RedisServer;
  let raw: Redis;
  const open: StateStore[] = [];
  let prefixSeq = 0;
  let prefix = '';

  const store = async (opts: { url?: string; merge?: (a: string, b: string) => string } = {}) => {
    const target = parseStateUrl(opts.url ?? `${redis.url}?prefix=${prefix}`);
    const s = await RedisStateStore.open({ target, log, reconcileMs: RECONCILE_MS, waitMs: 3000, merge: opts.merge });
    open.push(s);
    return s;
  };

  beforeAll(async () => {
    redis = await RedisServer.start();
    raw = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true, retryStrategy: () => 100, maxRetriesPerRequest: 1 });
    raw.on('error', () => undefined);
    await raw.connect();
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    prefix = `t${++prefixSeq}:`; // every test on its own keys
  });

  afterAll(async () => {
    raw?.disconnect();
    await redis?.kill('SIGTERM');
  });

  it('versions the document, notifies every store, and refuses a stale compare-and-set', async () => {
    prefix = 'versions:';
    const a = await store();
    const b = await store();
    expect(a.status).toBe('ok');
    expect(a.current()).toEqual({ version: 0, text: null });
    const seen: number[] = [];
    b.onChange((s, origin) => {
      expect(origin).toBe('remote');
      seen.push(s.version);
    });
    const w = await a.write(0, '{"n":1}');
    expect(w).toEqual({ ok: true, snapshot: { version: 1, text: '{"n":1}' } });
    const { ms } = await until('b to see version 1', () => b.current().version === 1);
    expect(b.current().text).toBe('{"n":1}');
    expect(seen).toEqual([1]);
    console.log(`state change seen by another store after ${ms.toFixed(1)} ms (notification)`);
    // b is at 1 now: a write expecting 0 conflicts and hands back the current state
    const stale = await b.write(0, '{"n":99}');
    expect(stale.ok).toBe(false);
    expect(!stale.ok && stale.current).toEqual({ version: 1, text: '{"n":1}' });
    expect((await b.write(1, '{"n":2}')).ok).toBe(true);
    await until('a to see version 2', () => a.current().version === 2);
    // a writes on top of 2 after it learnt it; 1 is stale everywhere
    expect((await a.write(1, '{"n":3}')).ok).toBe(false);
    expect(await raw.hget(`${prefix}state`, 'v')).toBe('2');
  });

  it('repairs a lost notification by reconciliation (a write made without PUBLISH)', async () => {
    const a = await store();
    await a.write(0, '{"n":1}');
    const lineage = await raw.hget(`${prefix}state`, 'lineage');
    // another writer changes the document without announcing it (as if the message was lost)
    await raw.hset(`${prefix}state`, 'v', '2', 'lineage', lineage!, 'doc', '{"n":2}');
    const { ms } = await until('a to adopt version 2', () => a.current().version === 2, 3000);
    expect(a.current().text).toBe('{"n":2}');
    expect(ms).toBeLessThan(3000);
    console.log(`unannounced change adopted after ${ms.toFixed(0)} ms (reconciliation every ${RECONCILE_MS} ms)`);
  });

  it('loses no update with many concurrent writers on several stores (compare-and-set, retry on conflict)', async () => {
    const stores = await Promise.all([store(), store(), store()]);
    const PER_WRITER = 8;
    const WRITERS_PER_STORE = 3;
    let conflicts = 0;
    const writer = async (s: StateStore, id: string) => {
      for (let i = 0; i < PER_WRITER; i++) {
        for (let tries = 0; ; tries++) {
          expect(tries).toBeLessThan(200);
          const cur = s.current();
          const doc = cur.text === null ? { items: [] as string[] } : (JSON.parse(cur.text) as { items: string[] });
          doc.items.push(`${id}-${i}`);
          const w = await s.write(cur.version, JSON.stringify(doc));
          if (w.ok) break;
          conflicts++;
        }
      }
    };
    await Promise.all(stores.flatMap((s, k) => Array.from({ length: WRITERS_PER_STORE }, (_, j) => writer(s, `s${k}w${j}`))));
    const total = stores.length * WRITERS_PER_STORE * PER_WRITER;
    const final = JSON.parse((await raw.hget(`${prefix}state`, 'doc'))!) as { items: string[] };
    expect(final.items.length).toBe(total);
    expect(new Set(final.items).size).toBe(total);
    expect(await raw.hget(`${prefix}state`, 'v')).toBe(String(total));
    for (const s of stores) await until('every store at the last version', () => s.current().version === total);
    console.log(
      `${total} writes from ${stores.length * WRITERS_PER_STORE} writers on ${stores.length} stores: ${conflicts} conflicts retried, none lost`,
    );
  });

  it('commitAdminState: parallel admin changes through three stores all land (changes re-run on conflict)', async () => {
    const stores = await Promise.all([store(), store(), store()]);
    const names = stores.flatMap((_, k) => Array.from({ length: 6 }, (_, i) => `vm-${k}-${i}`));
    await Promise.all(
      names.map((name, n) =>
        commitAdminState(stores[n % 3], async (state) => {
          const next = structuredClone(state);
          next.upserts[name] = { target: 'up/a' };
          next.updatedAt[name] = new Date().toISOString();
          return { next, result: name };
        }),
      ),
    );
    const saved = parseAdminState((await raw.hget(`${prefix}state`, 'doc'))!);
    expect(Object.keys(saved.upserts).sort()).toEqual([...names].sort());
  });

  it('keeps the last state while Redis is down, refuses writes, and writes the state back into an empty Redis', async () => {
    const a = await store();
    const b = await store();
    await a.write(0, '{"n":1}');
    await a.write(1, '{"n":2}');
    await until('b at 2', () => b.current().version === 2);
    const statuses: string[] = [];
    b.onStatus((s) => statuses.push(s));

    await redis.kill();
    await until('both degraded', () => a.status === 'degraded' && b.status === 'degraded', 5000);
    expect(a.current()).toEqual({ version: 2, text: '{"n":2}' });
    await expect(a.write(2, '{"n":3}')).rejects.toBeInstanceOf(StateUnavailableError);
    await expect(b.read()).rejects.toBeInstanceOf(StateUnavailableError);
    a.shareCooldown('x', 1000); // dropped, never throws

    await redis.restart(); // empty: no persistence
    await raw.connect().catch(() => undefined);
    const { ms } = await until('both ok again', () => a.status === 'ok' && b.status === 'ok', 8000);
    expect(await raw.hget(`${prefix}state`, 'doc')).toBe('{"n":2}');
    expect(await raw.hget(`${prefix}state`, 'v')).toBe('2');
    expect(statuses).toEqual(['degraded', 'ok']);
    console.log(`stores back and state written back ${ms.toFixed(0)} ms after Redis restarted empty`);
    // and writes are accepted again, on top of the written-back version
    expect((await b.write(2, '{"n":3}')).ok).toBe(true);
    await until('a at 3', () => a.current().version === 3);
    expect(lines.some((l) => l.includes('wrote back the state this replica holds'))).toBe(true);
  });

  it('merges when Redis holds another history, or an older version of its own (nothing of either is lost)', async () => {
    const doc = (names: Record<string, string>) => {
      const s = emptyAdminState();
      for (const [name, at] of Object.entries(names)) {
        s.upserts[name] = { target: `up/${name}` };
        s.updatedAt[name] = at;
      }
      return serializeAdminState(s);
    };
    const names = async () => Object.keys(parseAdminState((await raw.hget(`${prefix}state`, 'doc'))!).upserts).sort();
    const a = await store({ merge: mergeAdminStates });
    await a.write(0, doc({ 'kept-by-a': '2026-01-01T00:00:00.000Z' }));
    // Redis loses the state and another replica, which held nothing, writes a new history
    // into it (one transaction: no reconciliation of a's can fall in between)
    await raw
      .multi()
      .del(`${prefix}state`)
      .hset(`${prefix}state`, 'v', '1', 'lineage', 'other-history', 'doc', doc({ 'made-elsewhere': '2026-01-02T00:00:00.000Z' }))
      .exec();
    await until('both changes in Redis', async () => (await names()).length === 2, 3000);
    expect(await names()).toEqual(['kept-by-a', 'made-elsewhere']);
    expect(await raw.hget(`${prefix}state`, 'lineage')).toBe('other-history'); // the merge continues Redis's history
    expect(await raw.hget(`${prefix}state`, 'v')).toBe('2');
    await until('a serves both', () => a.current().text !== null && Object.keys(parseAdminState(a.current().text!).upserts).length === 2);
    expect(lines.some((l) => l.includes('wrote back the merge of both'))).toBe(true);

    // Redis rewinds to an older version of the same history (a restored snapshot): a's newer
    // change is written back on top, what only the snapshot has is kept
    await a.write(2, mergeAdminStates(a.current().text!, doc({ 'newer-on-a': '2026-01-03T00:00:00.000Z' })));
    await raw.hset(`${prefix}state`, 'v', '1', 'doc', doc({ 'only-in-snapshot': '2026-01-01T12:00:00.000Z' }));
    await until('all in Redis', async () => (await names()).length === 4, 3000);
    expect(await names()).toEqual(['kept-by-a', 'made-elsewhere', 'newer-on-a', 'only-in-snapshot']);
    expect(Number(await raw.hget(`${prefix}state`, 'v'))).toBe(4);
  });

  it('starts degraded when Redis is down, keeps retrying, and syncs once it is up', async () => {
    const down = await RedisServer.start();
    const port = down.port;
    await down.kill();
    const t0 = performance.now();
    const s = await RedisStateStore.open({
      target: parseStateUrl(`redis://127.0.0.1:${port}/0`),
      log,
      reconcileMs: RECONCILE_MS,
      waitMs: 5000,
    });
    open.push(s);
    const openMs = performance.now() - t0;
    expect(s.status).toBe('degraded');
    expect(openMs).toBeLessThan(4000); // it did not wait the whole waitMs: the refusal ended the wait
    expect(s.current()).toEqual({ version: 0, text: null });
    await expect(s.write(0, '{}')).rejects.toBeInstanceOf(StateUnavailableError);
    await down.restart();
    await until('ok once Redis is up', () => s.status === 'ok', 8000);
    expect((await s.write(0, '{"n":1}')).ok).toBe(true);
    await down.kill();
  });

  it('open() waits for the command connection even when the subscriber is ready first', async () => {
    // A TCP relay to the real Redis that holds the first connection's bytes (the command
    // connection: it connects first) for 600 ms: the subscriber is ready long before it, and
    // the reconciliation its 'ready' starts cannot reach Redis yet. That run must not end
    // open()'s wait (it did: open() returned a store still "not connected yet").
    prefix = 'relay:';
    let first = true;
    const relay = createServer((client) => {
      const held = first;
      first = false;
      const upstream = connect(redis.port, '127.0.0.1');
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
      upstream.pipe(client);
      // (pipe() resumes its source: the held connection is piped only after the delay)
      if (held) setTimeout(() => client.pipe(upstream), 600);
      else client.pipe(upstream);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    try {
      const s = await store({ url: `redis://127.0.0.1:${(relay.address() as AddressInfo).port}?prefix=${prefix}` });
      expect(s.status).toBe('ok');
      expect((await s.write(0, '{"n":1}')).ok).toBe(true);
    } finally {
      await Promise.all(open.splice(0).map((o) => o.close()));
      await new Promise((r) => relay.close(r));
    }
  });

  it('shares cooldowns: announced to the others, found by reconciliation by a store that missed the message', async () => {
    const a = await store();
    const b = await store();
    const heard: [string, number][] = [];
    b.onCooldown((t, ms) => heard.push([t, ms]));
    const mine: string[] = [];
    a.onCooldown((t) => mine.push(t));
    a.shareCooldown('["vm","up/a",0]', 3000);
    const { ms } = await until('b to hear the cooldown', () => heard.length === 1);
    expect(heard[0][0]).toBe('["vm","up/a",0]');
    expect(heard[0][1]).toBeGreaterThan(2500);
    expect(heard[0][1]).toBeLessThanOrEqual(3000);
    expect(mine).toEqual([]); // its own announcement is not news to a
    console.log(`cooldown heard by another store after ${ms.toFixed(1)} ms`);
    // a store that was not listening finds it running, with what is left of it
    const c = await store();
    const end = await until('c to know the cooldown', () => c.cooldowns().get('["vm","up/a",0]'));
    expect(end.value! - Date.now()).toBeGreaterThan(1500);
    expect(end.value! - Date.now()).toBeLessThanOrEqual(3000);
    // a longer ejection of the same target extends it; a shorter one does not shorten it
    b.shareCooldown('["vm","up/a",0]', 200);
    a.shareCooldown('["vm","up/a",0]', 10_000);
    await until('c to see the longer one', () => (c.cooldowns().get('["vm","up/a",0]') ?? 0) - Date.now() > 8000);
  });

  it('authenticates with the URL password and never shows it', async () => {
    const secret = 'pa ss:w/rd';
    const locked = await RedisServer.start({ password: secret });
    try {
      const ok = await RedisStateStore.open({ target: parseStateUrl(locked.url), log, reconcileMs: RECONCILE_MS, waitMs: 3000 });
      open.push(ok);
      expect(ok.status).toBe('ok');
      expect((await ok.write(0, '{"n":1}')).ok).toBe(true);
      expect(ok.location).not.toContain('pa ss');
      expect(ok.location).toContain(':***@');
      const bad = await RedisStateStore.open({
        target: parseStateUrl(`redis://:wrong@127.0.0.1:${locked.port}/0`),
        log,
        reconcileMs: RECONCILE_MS,
        waitMs: 3000,
      });
      open.push(bad);
      await until('bad degraded', () => bad.status === 'degraded');
      await expect(bad.write(0, '{}')).rejects.toThrow(/unreachable/);
      expect(lines.join('\n')).not.toContain(encodeURIComponent(secret));
      expect(lines.join('\n')).not.toContain(secret);
    } finally {
      await locked.kill();
    }
  });
});

describe('a store whose Redis never answers', () => {
  it('opens degraded within its wait, on a port nothing listens on', async () => {
    const port = await freePort();
    const s = await RedisStateStore.open({ target: parseStateUrl(`redis://127.0.0.1:${port}`), reconcileMs: 100, waitMs: 3000 });
    try {
      expect(s.status).toBe('degraded');
      expect(s.current().version).toBe(0);
      s.shareCooldown('t', 100); // dropped
      expect(s.cooldowns().size).toBe(0);
    } finally {
      await s.close();
    }
  });
});
