/**
 * The shared state of replicas in Redis (SPEC §14, `vmc serve --state redis://…`).
 *
 * Keys (prefix `vmc:` unless the URL says `?prefix=`):
 *
 *   <prefix>state      hash  v = version, lineage = id of this history, doc = the admin state (JSON)
 *   <prefix>cooldowns  hash  target name → "<end ms, Redis clock>|<origin>"
 *   <prefix>events     channel: {"o":origin,"k":"state","v":N} | {"o":origin,"k":"cooldown","t":target,"ms":remaining}
 *
 * Every replica keeps the last document it knew in memory and serves from it; nothing on
 * the request path waits for Redis.
 *
 * **Propagation.** A write is a Lua compare-and-set on (version, lineage) that also
 * publishes the new version; every replica's subscriber then reconciles at once. A message
 * can be lost (a subscriber reconnecting, a network blip), so every replica also reconciles
 * every `reconcileMs` (500 ms): one script that returns the version and lineage, the document
 * only when they differ from the replica's, and the running cooldowns. A change therefore
 * reaches every replica within a round trip of the write, and within `reconcileMs` + a
 * round trip when the message was lost.
 *
 * **Lineage.** The version alone cannot tell "newer" from "another history": when Redis comes
 * back empty and one replica writes version 1 … 5 before another replica, which held
 * version 7, gets to write its state back, 5 < 7 would be wrong both ways. The lineage is a
 * random id given to a document written into an empty Redis, kept by every later write; a
 * replica adopts a document of its own lineage with a higher version, and merges anything
 * else (see {@link RedisStoreOptions.merge}).
 *
 * **Write-back.** Reconciliation also repairs Redis: when the state key is gone (Redis
 * restarted without its data) a replica that holds a state writes it back as it was (same
 * version, same lineage); when Redis holds an older version of the same history (a restored
 * snapshot) or another history, the replica writes the merge of both. Until the first
 * reconciliation after an outage succeeds the store is `degraded` and writes are refused, so
 * no admin change is accepted on top of a state that is about to be repaired.
 *
 * **Degraded.** Commands run with the offline queue off and a timeout (1 s): when Redis is
 * down or stalled they fail at once instead of piling up, `status` turns `degraded`, and
 * ioredis keeps reconnecting (every second at most). Cooldown announcements are dropped
 * meanwhile (they are fire-and-forget and expire anyway).
 *
 * **Cooldowns.** Ends are kept on Redis's clock (the scripts call TIME) and sent to replicas
 * as the time remaining, so replicas whose clocks disagree still end a cooldown together
 * (up to the network delay).
 */
import { randomBytes } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { refastStringPrototype } from '../fast-prototypes.js';
import type { Logger } from '../log.js';
import {
  Listeners,
  NO_STATE,
  StateUnavailableError,
  type ChangeOrigin,
  type StateSnapshot,
  type StateStore,
  type StoreStatus,
  type WriteOutcome,
} from './store.js';
import type { RedisTarget } from './url.js';

// ioredis subclasses String, which leaves String.prototype slow for every string method call
// of the process unless it is made fast again (runtime/fast-prototypes.ts)
refastStringPrototype();

export interface RedisStoreOptions {
  target: RedisTarget;
  log?: Logger;
  /** Reconciliation period, ms. Default 500 (a lost notification is repaired within it). */
  reconcileMs?: number;
  /** A Redis command that takes longer fails (and the store turns degraded). Default 1000 ms. */
  commandTimeoutMs?: number;
  /** Longest wait between reconnection attempts, ms. Default 1000. */
  maxReconnectDelayMs?: number;
  /**
   * Two documents that diverged (this replica's, Redis's) → the document to write back.
   * Default: this replica's. The admin state's merge keeps both sides' changes
   * (./admin-state.ts `mergeAdminStates`).
   */
  merge?: (ours: string, theirs: string) => string;
}

/** What the reconcile script sees in Redis. */
interface Remote {
  version: number;
  lineage: string;
  /** The document when it differs from the replica's (null: same, or absent). */
  doc: string | null;
}

/**
 * KEYS: state, cooldowns. ARGV: local version, local lineage.
 * → { version or '', lineage or '', doc when (version, lineage) differ else '', {target, ms left, origin, …} }
 * Expired cooldowns are removed on the way.
 */
const SNAPSHOT_LUA = `
local s = redis.call('HMGET', KEYS[1], 'v', 'lineage')
local v = s[1] or ''
local lineage = s[2] or ''
local doc = ''
if v ~= '' and (v ~= ARGV[1] or lineage ~= ARGV[2]) then doc = redis.call('HGET', KEYS[1], 'doc') or '' end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[2])
local out = {}
for i = 1, #all, 2 do
  local endMs, origin = string.match(all[i + 1], '^(%d+)|(.*)$')
  local left = (tonumber(endMs) or 0) - now
  if left > 0 then
    out[#out + 1] = all[i]; out[#out + 1] = tostring(left); out[#out + 1] = origin
  else
    redis.call('HDEL', KEYS[2], all[i])
  end
end
return { v, lineage, doc, out }
`;

/**
 * KEYS: state. ARGV: expected version ('' = absent), expected lineage, new version, new
 * lineage, doc, channel, message.
 * → { 1 } written (and published) | { 0 } conflict
 */
const CAS_LUA = `
local s = redis.call('HMGET', KEYS[1], 'v', 'lineage')
if (s[1] or '') ~= ARGV[1] or (ARGV[1] ~= '' and (s[2] or '') ~= ARGV[2]) then return { 0 } end
redis.call('HSET', KEYS[1], 'v', ARGV[3], 'lineage', ARGV[4], 'doc', ARGV[5])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return { 1 }
`;

/**
 * KEYS: cooldowns. ARGV: target, ms, origin, channel, message.
 * Keeps the later end when two replicas eject the same target.
 */
const COOLDOWN_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local endMs = now + tonumber(ARGV[2])
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local curEnd = cur and tonumber(string.match(cur, '^(%d+)')) or 0
if endMs > curEnd then redis.call('HSET', KEYS[1], ARGV[1], tostring(endMs) .. '|' .. ARGV[3]) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`;

/** A cooldown heard again (message, then reconciliation) is not announced twice unless it moved by more than this. */
const COOLDOWN_SLACK_MS = 250;

type RedisWithScripts = Redis & {
  vmcSnapshot(state: string, cooldowns: string, version: string, lineage: string): Promise<[string, string, string, string[]]>;
  vmcCas(state: string, ...argv: string[]): Promise<[number]>;
  vmcCooldown(cooldowns: string, ...argv: string[]): Promise<number>;
};

const newLineage = () => randomBytes(8).toString('hex');

export class RedisStateStore implements StateStore {
  readonly kind = 'redis';
  readonly shared = true;
  readonly location: string;
  /** Identifies this store in notifications (its own are ignored). */
  readonly origin = randomBytes(6).toString('hex');
  readonly #opts: RedisStoreOptions;
  readonly #log: Logger | undefined;
  readonly #cmd: RedisWithScripts;
  readonly #sub: Redis;
  readonly #keys: { state: string; cooldowns: string; events: string };
  readonly #changes = new Listeners<[StateSnapshot, ChangeOrigin]>();
  readonly #statuses = new Listeners<[StoreStatus, string]>();
  readonly #cooldownListeners = new Listeners<[string, number]>();
  /** Cooldowns opened by other replicas: target → end (this clock). */
  readonly #cooldowns = new Map<string, number>();
  #snap: StateSnapshot = NO_STATE;
  #lineage = '';
  #status: StoreStatus = 'degraded';
  #statusReason = 'not connected yet';
  #timer: NodeJS.Timeout | null = null;
  /** One reconciliation at a time; a request meanwhile runs one more after it. */
  #reconciling: Promise<void> | null = null;
  #again = false;
  #closed = false;
  /** The current outage was logged (the first failure to connect at start is one too). */
  #downLogged = false;
  /** Resolves once the first attempt to reach Redis ended (synced, or found down). */
  #firstAttempt: Promise<void>;
  #firstAttemptDone: () => void = () => undefined;

  private constructor(opts: RedisStoreOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    const t = opts.target;
    this.location = t.display;
    this.#keys = { state: `${t.prefix}state`, cooldowns: `${t.prefix}cooldowns`, events: `${t.prefix}events` };
    const maxDelay = opts.maxReconnectDelayMs ?? 1000;
    const base: RedisOptions = {
      host: t.host,
      port: t.port,
      db: t.db,
      lazyConnect: true,
      // fail fast while disconnected: nothing may pile up behind a dead Redis
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: opts.commandTimeoutMs ?? 1000,
      connectTimeout: 2000,
      // reconnect forever, at most every maxDelay ms
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), maxDelay),
      connectionName: 'vmc',
    };
    if (t.username !== undefined) base.username = t.username;
    if (t.password !== undefined) base.password = t.password;
    if (t.tls) base.tls = { servername: t.host };
    this.#cmd = new Redis(base) as RedisWithScripts;
    this.#cmd.defineCommand('vmcSnapshot', { numberOfKeys: 2, lua: SNAPSHOT_LUA });
    this.#cmd.defineCommand('vmcCas', { numberOfKeys: 1, lua: CAS_LUA });
    this.#cmd.defineCommand('vmcCooldown', { numberOfKeys: 1, lua: COOLDOWN_LUA });
    // the subscriber has no command timeout (it waits for messages) and resubscribes itself
    this.#sub = new Redis({ ...base, commandTimeout: undefined, autoResubscribe: true });
    this.#firstAttempt = new Promise((r) => (this.#firstAttemptDone = r));
  }

  /**
   * Connects and reads the state. Resolves once the state is read, or once Redis turned out
   * unreachable (the store then starts degraded and keeps retrying), or after `waitMs`.
   */
  static async open(opts: RedisStoreOptions & { waitMs?: number }): Promise<RedisStateStore> {
    const store = new RedisStateStore(opts);
    store.#start();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([store.#firstAttempt, new Promise<void>((r) => (timer = setTimeout(r, opts.waitMs ?? 5000)))]);
    clearTimeout(timer);
    return store;
  }

  get status(): StoreStatus {
    return this.#status;
  }

  /** Why the store is degraded (or 'ok'). */
  get statusReason(): string {
    return this.#statusReason;
  }

  current(): StateSnapshot {
    return this.#snap;
  }

  async read(): Promise<StateSnapshot> {
    if (this.#degraded()) throw this.#unavailable();
    await this.reconcile();
    if (this.#degraded()) throw this.#unavailable();
    return this.#snap;
  }

  async write(expectVersion: number, text: string): Promise<WriteOutcome> {
    if (this.#degraded()) throw this.#unavailable();
    if (expectVersion !== this.#snap.version) return { ok: false, current: this.#snap };
    const fresh = expectVersion === 0;
    const lineage = fresh ? newLineage() : this.#lineage;
    const version = expectVersion + 1;
    let r: [number];
    try {
      r = await this.#cmd.vmcCas(
        this.#keys.state,
        fresh ? '' : String(expectVersion),
        fresh ? '' : this.#lineage,
        String(version),
        lineage,
        text,
        this.#keys.events,
        JSON.stringify({ o: this.origin, k: 'state', v: version }),
      );
    } catch (err) {
      this.#degrade(`write failed: ${(err as Error).message}`);
      throw this.#unavailable();
    }
    if (r[0] === 1) {
      this.#snap = { version, text };
      this.#lineage = lineage;
      this.#changes.emit(this.#snap, 'self');
      return { ok: true, snapshot: this.#snap };
    }
    // Someone else wrote, or Redis lost what we knew: reconcile (adopt, merge or write back)
    // and let the caller re-apply its change on what is there now.
    await this.reconcile();
    if (this.#degraded()) throw this.#unavailable();
    return { ok: false, current: this.#snap };
  }

  onChange(listener: (snapshot: StateSnapshot, origin: ChangeOrigin) => void): () => void {
    return this.#changes.add(listener);
  }

  onStatus(listener: (status: StoreStatus, reason: string) => void): () => void {
    return this.#statuses.add(listener);
  }

  shareCooldown(target: string, remainingMs: number): void {
    if (this.#status === 'degraded' || this.#closed || !(remainingMs > 0)) return;
    const ms = String(Math.ceil(remainingMs));
    const message = JSON.stringify({ o: this.origin, k: 'cooldown', t: target, ms: Math.ceil(remainingMs) });
    this.#cmd.vmcCooldown(this.#keys.cooldowns, target, ms, this.origin, this.#keys.events, message).catch((err: Error) => {
      this.#log?.warn('state store: cooldown not shared', { target, error: err.message });
    });
  }

  onCooldown(listener: (target: string, remainingMs: number) => void): () => void {
    return this.#cooldownListeners.add(listener);
  }

  cooldowns(): ReadonlyMap<string, number> {
    const now = Date.now();
    for (const [t, end] of this.#cooldowns) if (end <= now) this.#cooldowns.delete(t);
    return this.#cooldowns;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    await this.#reconciling?.catch(() => undefined);
    this.#sub.disconnect();
    this.#cmd.disconnect();
  }

  /**
   * Reconciles now (coalesced with one already running): reads Redis, adopts a newer state,
   * writes back or merges when Redis lost or rewound data, refreshes cooldowns. Never throws;
   * a failure makes the store degraded.
   */
  reconcile(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#reconciling !== null) {
      this.#again = true; // the running one loops once more before it resolves
      return this.#reconciling;
    }
    const run = async (): Promise<void> => {
      do {
        this.#again = false;
        try {
          await this.#reconcileOnce();
        } catch (err) {
          this.#degrade((err as Error).message);
        }
      } while (this.#again && !this.#closed);
    };
    this.#reconciling = run().finally(() => {
      this.#reconciling = null;
      // a run before the command connection was ready did not try Redis (it fails at once):
      // it must not end open()'s wait, which the connection's 'ready' (a reconcile) or
      // 'error'/'close' end instead. (The subscriber's 'ready' or the timer can come first.)
      if (this.#cmd.status === 'ready') this.#firstAttemptDone();
    });
    return this.#reconciling;
  }

  #start(): void {
    const onError = (which: string) => (err: Error) => {
      // ioredis reports every failed (re)connection here; logged once per outage
      this.#degrade(`${which}: ${err.message}`);
      this.#firstAttemptDone();
    };
    this.#cmd.on('error', onError('redis'));
    this.#sub.on('error', onError('redis subscriber'));
    this.#cmd.on('close', () => {
      if (!this.#closed) this.#degrade('connection to redis closed');
      this.#firstAttemptDone();
    });
    this.#cmd.on('ready', () => void this.reconcile());
    this.#sub.on('ready', () => {
      // (re)subscribe, then reconcile: messages published while we were away are not replayed
      this.#sub.subscribe(this.#keys.events).then(
        () => void this.reconcile(),
        (err: Error) => this.#log?.warn('state store: subscribe failed', { error: err.message }),
      );
    });
    this.#sub.on('message', (_channel: string, message: string) => this.#onMessage(message));
    this.#cmd.connect().catch(() => undefined); // failures arrive as 'error' events; ioredis retries
    this.#sub.connect().catch(() => undefined);
    this.#timer = setInterval(() => void this.reconcile(), this.#opts.reconcileMs ?? 500);
    this.#timer.unref();
  }

  #onMessage(message: string): void {
    let m: { o?: unknown; k?: unknown; t?: unknown; ms?: unknown };
    try {
      m = JSON.parse(message) as typeof m;
    } catch {
      return;
    }
    if (m.o === this.origin) return;
    if (m.k === 'state') void this.reconcile();
    else if (m.k === 'cooldown' && typeof m.t === 'string' && typeof m.ms === 'number') this.#noteCooldown(m.t, m.ms);
  }

  #noteCooldown(target: string, remainingMs: number): void {
    const end = Date.now() + remainingMs;
    const known = this.#cooldowns.get(target);
    if (known !== undefined && end <= known + COOLDOWN_SLACK_MS) return;
    this.#cooldowns.set(target, end);
    this.#cooldownListeners.emit(target, remainingMs);
  }

  async #reconcileOnce(): Promise<void> {
    if (this.#cmd.status !== 'ready')
      throw new Error(this.#status === 'degraded' ? this.#statusReason : `redis connection ${this.#cmd.status}`);
    const [v, lineage, doc, cooldowns] = await this.#cmd.vmcSnapshot(
      this.#keys.state,
      this.#keys.cooldowns,
      this.#snap.version === 0 ? '' : String(this.#snap.version),
      this.#lineage,
    );
    for (let i = 0; i + 2 < cooldowns.length; i += 3) {
      if (cooldowns[i + 2] !== this.origin) this.#noteCooldown(cooldowns[i], Number(cooldowns[i + 1]));
    }
    const remote: Remote = { version: v === '' ? 0 : Number(v), lineage, doc: doc === '' ? null : doc };
    await this.#settle(remote);
    if (this.#status === 'degraded') this.#setStatus('ok', 'synced with redis');
  }

  /** Brings this replica and Redis to one state (see the module comment). */
  async #settle(remote: Remote): Promise<void> {
    const local = this.#snap;
    if (remote.version === 0) {
      if (local.version === 0 || local.text === null) return; // nothing anywhere
      // Redis lost the state (restarted empty): write back what we hold, as it was
      const lineage = this.#lineage === '' ? newLineage() : this.#lineage;
      if (await this.#cas('', '', local.version, lineage, local.text)) {
        this.#lineage = lineage;
        this.#log?.warn('state store: redis had no state; wrote back the state this replica holds', {
          version: local.version,
          store: this.location,
        });
      } else this.#again = true; // someone else wrote meanwhile: look again
      return;
    }
    const sameHistory = remote.lineage === this.#lineage;
    if (local.version === 0 || (sameHistory && remote.version > local.version)) {
      if (remote.doc === null) return; // (same version and lineage: nothing new)
      this.#snap = { version: remote.version, text: remote.doc };
      this.#lineage = remote.lineage;
      this.#changes.emit(this.#snap, 'remote');
      return;
    }
    if (sameHistory && remote.version === local.version) return;
    // Redis holds an older version of our history (a restored snapshot) or another history
    // (written while we could not reach it): keep both sides' changes.
    if (remote.doc === null || local.text === null) return;
    const merged = this.#opts.merge === undefined ? local.text : this.#opts.merge(local.text, remote.doc);
    const version = Math.max(local.version, remote.version) + 1;
    if (await this.#cas(String(remote.version), remote.lineage, version, remote.lineage, merged)) {
      this.#log?.warn('state store: redis held another version of the state; wrote back the merge of both', {
        local_version: local.version,
        redis_version: remote.version,
        version,
        store: this.location,
      });
      const changed = merged !== local.text;
      this.#snap = { version, text: merged };
      this.#lineage = remote.lineage;
      if (changed) this.#changes.emit(this.#snap, 'remote');
    } else this.#again = true;
  }

  async #cas(expectVersion: string, expectLineage: string, version: number, lineage: string, text: string): Promise<boolean> {
    const message = JSON.stringify({ o: this.origin, k: 'state', v: version });
    const r = await this.#cmd.vmcCas(
      this.#keys.state,
      expectVersion,
      expectLineage,
      String(version),
      lineage,
      text,
      this.#keys.events,
      message,
    );
    return r[0] === 1;
  }

  #degrade(reason: string): void {
    this.#statusReason = reason;
    if (this.#status !== 'degraded' || !this.#downLogged) this.#setStatus('degraded', reason);
  }

  #setStatus(status: StoreStatus, reason: string): void {
    this.#status = status;
    this.#statusReason = status === 'ok' ? 'ok' : reason;
    this.#downLogged = status === 'degraded';
    if (status === 'degraded') {
      this.#log?.error('state store unreachable: serving the last state known; admin writes answer 503 until it is back', {
        store: this.location,
        error: reason,
        version: this.#snap.version,
      });
    } else {
      this.#log?.info('state store reachable', { store: this.location, version: this.#snap.version });
    }
    this.#statuses.emit(status, reason);
  }

  /** (a method, not a narrowed field read: the status changes across awaits) */
  #degraded(): boolean {
    return this.#status === 'degraded';
  }

  #unavailable(): StateUnavailableError {
    return new StateUnavailableError(`the state store (${this.location}) is unreachable: ${this.#statusReason}`);
  }
}
