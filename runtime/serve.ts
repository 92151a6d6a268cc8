/**
 * `vmc serve` process model: one process, or a node:cluster of N workers.
 *
 * Why processes (node:cluster) and not worker_threads: uWS listens with SO_REUSEPORT on
 * Linux, so N processes each run their own `App().listen(port)` and the kernel balances
 * connections between them — no primary-side accept/hand-off on the request path, same as
 * threads (the node:http engine goes through node:cluster's round-robin hand-off instead). Processes then add isolation (a crashing or stalled worker does not take the
 * others down, and the primary restarts it), independent GC heaps, and plain POSIX signal
 * semantics for SIGHUP/SIGTERM, at the cost of one table copy per worker (tables are
 * compact). The primary serves no traffic: it forks, relays signals, restarts workers, and
 * holds what must be one for the whole gateway:
 *
 *   - the admin writer (SPEC §6, §9): every admin call of every worker goes to the admin
 *     backend in the primary over the cluster channel, serialized there, so no change is
 *     lost; the worker that took the call swaps the compiled table in before answering, and
 *     the primary tells every other worker to reload, which re-reads the table file and the
 *     persisted admin state (never a private copy), and answers once they have (bounded);
 *   - the metrics (SPEC §10): `GET /metrics` on any worker asks the primary, which adds the
 *     snapshots of all live workers and of every worker that exited (so counters never go
 *     down across restarts);
 *   - caller-key changes (SPEC §12): a key created or revoked through a worker is persisted by
 *     the writer (hash only; the key itself never crosses the channel), then the primary tells
 *     every other worker to re-read the keys and answers once they have (bounded); each
 *     worker also watches the keys file itself.
 *
 * Replicas (SPEC §14, `stateUrl` = `--state redis://…`): the admin state lives in Redis
 * (runtime/state). Every serving process — the single process, or each worker — opens the
 * store itself: a change another replica wrote reloads the table (the overlay reads the new
 * state) and re-reads the keys; cooldowns are shared (server.ts). The admin writer (here,
 * or the cluster primary) writes with compare-and-set, so writers on other replicas lose
 * nothing. With `--keys FILE` the file seeds the store with the keys it lacks, once the store
 * answers. A shared state that does not fit this replica's table is never quarantined (it
 * is every replica's): the replica serves its table alone, with an `error` line.
 *
 * Start-up: a table file that does not decode stops the start (exit non-zero), and so does a
 * provider `headers`/`query` value referencing an unset `${ENV}` (SPEC §13: exit 1, the message
 * names the provider and the variable). An admin state
 * that cannot be applied (truncated, not a state, no longer compiles against the table) is
 * quarantined — renamed aside by the backend — with an `error` log line, and the gateway
 * starts on the table alone. In cluster mode the primary does this once before forking.
 *
 * Worker restarts back off (exponentially, up to 8 s); when workers keep failing before they
 * listen (`maxStartFailures` in a row, default 5) and none serves, the primary logs an error,
 * stops the others and exits 1 instead of crash-looping while looking alive.
 *
 * Signals:
 *   SIGHUP  — reload the table file (primary: relayed to every worker);
 *   SIGTERM / SIGINT — drain: stop accepting, finish in-flight requests (bounded by the
 *             drain timeout), exit 0 (primary: relayed, then waits for every worker).
 */
import cluster, { type Worker } from 'node:cluster';
import { readFile } from 'node:fs/promises';
import { readKeysFile } from './keys/file.js';
import { openStateStore, stateFilePath } from './state/open.js';
import { seedKeys } from './state/seed-keys.js';
import type { StateStore } from './state/store.js';
import { KeyMetrics, type KeyMetricsSnapshot } from './keys/metrics.js';
import { createLogger, type Logger } from './log.js';
import { Metrics, type MetricsSnapshot } from './metrics.js';
import { assertTableEnvironment } from './providers/credentials.js';
import { RoutingTable } from './table/reader.js';
import {
  checkProviderUrls,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  startServer,
  type RunningServer,
  type ServerOptions,
} from './server.js';
import { virtualModelViews, type AdminBackend, type AdminContext, type AdminResult } from './http/admin.js';

/** Options of `vmc serve` (the CLI maps its flags onto these). */
export interface ServeOptions {
  tablePath: string;
  /** Default 127.0.0.1 (SPEC §9). */
  host?: string;
  /** Default 8080. */
  port?: number;
  /** Default 1 (no cluster). */
  workers?: number;
  /** Request body limit in bytes; default 4 MiB. */
  maxBody?: number;
  /** Where the admin backend keeps its state (default: beside the table). Passed to `admin`. */
  stateDir?: string;
  /** Default `process.env.VMC_ADMIN_TOKEN`. */
  adminToken?: string;
  /**
   * The admin backend, or a factory called once per serving process (and in the cluster
   * primary, the writer), given the state store that process opened.
   */
  admin?: AdminBackend | ((ctx: AdminFactoryContext) => AdminBackend | Promise<AdminBackend>);
  /** `--state` / `VMC_STATE_URL` (SPEC §14): `redis://…` shares the admin state between replicas; absent = the local state file. */
  stateUrl?: string;
  /** Redis: reconciliation period, ms (default 500; tests shorten it). */
  stateReconcileMs?: number;
  drainTimeoutMs?: number;
  /** Default: reload when the table file changes. */
  watch?: boolean;
  log?: Logger;
  /** `--provider-url NAME=URL` (SPEC §11): names must be providers of the table. */
  providerUrls?: ReadonlyMap<string, string>;
  /** `--allowed-hosts`: Host header values admitted; absent = any. */
  allowedHosts?: readonly string[];
  /** `--forwarded-for`: send the client's address upstream in `x-forwarded-for` (default off). */
  forwardedFor?: boolean;
  /** `--max-connections`: open client connections at most, per process. */
  maxConnections?: number;
  /** `--max-inflight-body`: request body bytes held in memory at most, per process. */
  maxInflightBodyBytes?: number;
  /** Cluster: workers failing before they listen this many times in a row make the primary exit 1. Default 5. */
  maxStartFailures?: number;
  /** Caller keys file (`--keys FILE`, SPEC §12); absent = keys off. */
  keysFile?: string;
}

/** What an admin backend factory is given. */
export interface AdminFactoryContext {
  tablePath: string;
  stateDir?: string;
  /** Where the admin state lives: the backend reads and writes it there. */
  store: StateStore;
}

/** Handle of a running `serve` (single process or cluster primary). */
export interface ServeHandle {
  readonly port: number;
  /** Drains and stops (the worker processes, in cluster mode). Does not exit the process. */
  close(): Promise<void>;
}

/** Admin operations a worker may ask the primary's writer to run (method names of AdminBackend). */
const ADMIN_OPS = [
  'upsertVirtualModel',
  'deleteVirtualModel',
  'getVirtualModel',
  'patchVirtualModel',
  'getNemoVirtualModel',
  'patchNemoVirtualModel',
  'listVirtualModels',
  'createKey',
  'revokeKey',
] as const;
type AdminOp = (typeof ADMIN_OPS)[number];

/** Messages on the cluster channel (structured clone: `serialization: 'advanced'`). */
type ClusterMessage =
  | { vmc: 'listening'; port: number }
  | { vmc: 'reload'; reason: string; id?: number }
  | { vmc: 'reloaded-by-admin' }
  | { vmc: 'keys'; reason: string; id?: number }
  | { vmc: 'admin'; id: number; op: AdminOp; args: unknown[] }
  | { vmc: 'metrics'; id: number }
  | { vmc: 'snapshot'; id: number }
  | { vmc: 'final'; snap: WorkerSnapshot }
  | { vmc: 'reply'; id: number; value?: unknown; error?: string };

/** A worker's counters: the gateway's, and the caller-key series. */
type WorkerSnapshot = MetricsSnapshot & { keys?: KeyMetricsSnapshot };

/** How long a worker waits for the primary: admin calls compile, metrics only gather. */
const ADMIN_CALL_TIMEOUT_MS = 120_000;
const METRICS_CALL_TIMEOUT_MS = 5_000;
/** How long the primary waits for one worker's metrics snapshot before using its last one. */
const SNAPSHOT_TIMEOUT_MS = 1_000;
/** How long an admin answer waits for the other workers to apply the change (they catch up on their own after). */
const PROPAGATE_TIMEOUT_MS = 10_000;
const BACKOFF_BASE_MS = 250;
const BACKOFF_MAX_MS = 8_000;

/**
 * Runs the gateway until SIGTERM/SIGINT, then exits 0 after draining. Resolves once the
 * gateway listens (all workers, in cluster mode).
 */
export async function runServe(opts: ServeOptions): Promise<ServeHandle> {
  const log = opts.log ?? createLogger();
  const workers = Math.max(1, Math.floor(opts.workers ?? 1));
  if (workers > 1 && cluster.isPrimary) return runPrimary(opts, workers, log);
  return runWorker(opts, log);
}

async function adminOf(opts: ServeOptions, store: StateStore): Promise<AdminBackend | undefined> {
  return typeof opts.admin === 'function' ? opts.admin({ tablePath: opts.tablePath, stateDir: opts.stateDir, store }) : opts.admin;
}

/** The state store of this process: Redis with `--state`, else the local state file (runtime/state/open.ts). */
function openStore(opts: ServeOptions, log: Logger): Promise<StateStore> {
  return openStateStore({
    url: opts.stateUrl,
    filePath: stateFilePath(opts.tablePath, opts.stateDir),
    log,
    reconcileMs: opts.stateReconcileMs,
  });
}

/**
 * `--keys FILE` with a shared store (SPEC §14): seeds the store with the file's keys it lacks,
 * now or as soon as the store answers (a replica may start while Redis is down).
 */
function seedWhenReachable(store: StateStore, keysFile: string | undefined, log: Logger): void {
  if (!store.shared || keysFile === undefined) return;
  let done = false;
  let running = false;
  const attempt = () => {
    if (done || running || store.status !== 'ok') return;
    running = true;
    readKeysFile(keysFile)
      .then(({ parsed }) => seedKeys(store, parsed.entries))
      .then(
        (ids) => {
          done = true;
          unsubscribe();
          if (ids.length > 0) log.info('keys file seeded the state store', { file: keysFile, keys: ids.length, store: store.location });
        },
        (err: Error) => log.warn('keys file not seeded into the state store yet; retrying when it answers', { error: err.message }),
      )
      .finally(() => (running = false));
  };
  const unsubscribe = store.onStatus(() => attempt());
  attempt();
}

/** A file's content hash as `/health` reports it (bytes 8..39 of a table's header). */
const fileHash = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset + 8, 32).toString('hex');

/**
 * The table to start with: the file (which must decode) with the admin overlay. An overlay
 * that fails is quarantined when `quarantine` (primary, single process), else skipped
 * (a restarted worker: the primary decides about the state file); either way the gateway
 * starts on the table alone, with an `error` line.
 */
async function startTable(
  tablePath: string,
  admin: AdminBackend | undefined,
  log: Logger,
  quarantine: boolean,
): Promise<{ bytes: Uint8Array; table: RoutingTable; fileHash: string }> {
  const file = new Uint8Array(await readFile(tablePath));
  const base = RoutingTable.decode(file); // a corrupt table stops the start
  if (admin?.overlay === undefined) return { bytes: file, table: base, fileHash: fileHash(file) };
  try {
    const bytes = await admin.overlay(file);
    return { bytes, table: RoutingTable.decode(bytes), fileHash: fileHash(file) };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    if (quarantine && admin.quarantine !== undefined) {
      const aside = await admin.quarantine(error);
      log.error(
        'admin state quarantined: it cannot be applied to the table; serving the table alone (admin changes in it are not served)',
        {
          error,
          quarantined_to: aside,
        },
      );
    } else {
      log.error('admin state cannot be applied to the table; serving the table alone', { error });
    }
    return { bytes: file, table: base, fileHash: fileHash(file) };
  }
}

function serverOptions(opts: ServeOptions, log: Logger): Omit<ServerOptions, 'table'> {
  return {
    tablePath: opts.tablePath,
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 8080,
    maxBodyBytes: opts.maxBody ?? DEFAULT_MAX_BODY_BYTES,
    adminToken: opts.adminToken ?? process.env.VMC_ADMIN_TOKEN,
    log,
    watch: opts.watch ?? true,
    drainTimeoutMs: opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
    providerUrls: opts.providerUrls,
    allowedHosts: opts.allowedHosts,
    forwardedFor: opts.forwardedFor,
    maxConnections: opts.maxConnections,
    maxInflightBodyBytes: opts.maxInflightBodyBytes,
    keysFile: opts.keysFile,
  };
}

/** Request/response over the cluster channel, from a worker to the primary. */
class PrimaryChannel {
  #seq = 0;
  readonly #waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout }>();

  ask(msg: { vmc: 'admin'; op: AdminOp; args: unknown[] } | { vmc: 'metrics' }, timeoutMs: number): Promise<unknown> {
    const id = ++this.#seq;
    if (!process.connected) return Promise.reject(new Error('the cluster primary went away'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`the cluster primary did not answer ${msg.vmc} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(id, { resolve, reject, timer });
      process.send!({ ...msg, id } satisfies ClusterMessage);
    });
  }

  /** A reply from the primary; true when it was one. */
  settle(m: ClusterMessage): boolean {
    if (m.vmc !== 'reply') return false;
    const w = this.#waiting.get(m.id);
    if (w === undefined) return true;
    this.#waiting.delete(m.id);
    clearTimeout(w.timer);
    if (m.error !== undefined) w.reject(new Error(m.error));
    else w.resolve(m.value);
    return true;
  }

  failAll(reason: string): void {
    for (const w of this.#waiting.values()) {
      clearTimeout(w.timer);
      w.reject(new Error(reason));
    }
    this.#waiting.clear();
  }
}

/**
 * A worker's admin backend: every call goes to the writer in the primary; only the overlay
 * (applying the persisted state to a table read from disk) runs here.
 */
function clusterAdmin(channel: PrimaryChannel, local: AdminBackend | undefined): AdminBackend {
  const call = (op: AdminOp, args: unknown[]) => channel.ask({ vmc: 'admin', op, args }, ADMIN_CALL_TIMEOUT_MS) as Promise<AdminResult>;
  const backend: AdminBackend = {
    upsertVirtualModel: (body) => call('upsertVirtualModel', [body]),
    deleteVirtualModel: (name) => call('deleteVirtualModel', [name]),
    getVirtualModel: (name) => call('getVirtualModel', [name]),
    patchVirtualModel: (name, body, ifMatch) => call('patchVirtualModel', [name, body, ifMatch]),
    getNemoVirtualModel: (ws, name) => call('getNemoVirtualModel', [ws, name]),
    patchNemoVirtualModel: (ws, name, body, ifMatch) => call('patchNemoVirtualModel', [ws, name, body, ifMatch]),
    listVirtualModels: () => call('listVirtualModels', []),
    createKey: (id, key) => call('createKey', [id, key]),
    revokeKey: (id, fileHash) => call('revokeKey', [id, fileHash]),
  };
  if (local?.overlay !== undefined) backend.overlay = (bytes) => local.overlay!(bytes);
  // every process reads the persisted keys itself (never a copy sent over the channel)
  if (local?.readKeys !== undefined) backend.readKeys = () => local.readKeys!();
  return backend;
}

async function runWorker(opts: ServeOptions, log: Logger): Promise<ServeHandle> {
  const inCluster = cluster.isWorker && typeof process.send === 'function';
  const store = await openStore(opts, log);
  const local = await adminOf(opts, store);
  const channel = inCluster ? new PrimaryChannel() : null;
  const admin = channel !== null && local !== undefined ? clusterAdmin(channel, local) : local;
  // a shared state is every replica's: never quarantined by one whose table it does not fit
  const { table, fileHash: baseTableHash } = await startTable(opts.tablePath, local, log, !inCluster && !store.shared);
  const server: RunningServer = await startServer({
    ...serverOptions(opts, log),
    table,
    baseTableHash,
    state: store,
    admin,
    // POST /admin/reload reloads the whole gateway: the primary tells the other workers.
    onSwap: (_t, reason) => {
      if (inCluster && reason === 'admin reload' && process.connected) process.send!({ vmc: 'reloaded-by-admin' } satisfies ClusterMessage);
    },
    metricsText: channel === null ? undefined : () => channel.ask({ vmc: 'metrics' }, METRICS_CALL_TIMEOUT_MS) as Promise<string>,
  });

  // Reloads are coalesced: a burst of triggers (admin changes elsewhere, SIGHUPs) runs one
  // reload now and at most one more after it, which reads the latest file and state.
  // `done` runs once a reload that started after the call has finished.
  let reloading = false;
  let again: string | null = null;
  let afterAgain: (() => void)[] = [];
  const reload = (reason: string, done?: () => void): void => {
    if (reloading) {
      again = reason;
      if (done !== undefined) afterAgain.push(done);
      return;
    }
    reloading = true;
    server
      .reloadFromFile(reason)
      .catch(() => undefined) // logged and counted as a rejected reload by the server
      .finally(() => {
        reloading = false;
        done?.();
        const next = again;
        const waiting = afterAgain;
        again = null;
        afterAgain = [];
        if (next !== null) reload(next, () => waiting.forEach((w) => w()));
      });
  };
  if (store.shared) {
    // SPEC §14: a change written elsewhere (another replica, a write-back after an outage)
    // reloads the table (its overlay reads the new state) and re-reads the keys
    store.onChange((_snapshot, origin) => {
      if (origin === 'self') return; // this process's own write: swapped in before its answer
      reload('state change');
      void server.refreshKeys('state change');
    });
    if (!inCluster) seedWhenReachable(store, opts.keysFile, log); // in a cluster the primary seeds
  }
  const snapshot = (): WorkerSnapshot => ({ ...server.metrics.snapshot(), keys: server.keyMetrics.snapshot() });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('draining', { signal });
    server.close().then(
      async () => {
        await local?.close?.().catch(() => undefined);
        await store.close().catch(() => undefined);
        // The primary keeps this worker's final counters (metrics never go down).
        if (inCluster && process.connected) {
          await new Promise<void>((r) => process.send!({ vmc: 'final', snap: snapshot() } satisfies ClusterMessage, () => r()));
        }
        process.exit(0);
      },
      (err: Error) => {
        log.error('drain failed', { error: err.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGHUP', () => {
    reload('SIGHUP');
    void server.refreshKeys('SIGHUP');
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (channel !== null) {
    process.on('message', (m: ClusterMessage) => {
      if (m === null || typeof m !== 'object' || channel.settle(m)) return;
      // an `id` asks for an acknowledgement once done (the primary answers an admin change then)
      const ack = (id: number | undefined) => () => {
        if (id !== undefined && process.connected) process.send!({ vmc: 'reply', id } satisfies ClusterMessage);
      };
      if (m.vmc === 'reload') reload(m.reason, ack(m.id));
      else if (m.vmc === 'keys') void server.refreshKeys(m.reason).finally(ack(m.id));
      else if (m.vmc === 'snapshot' && process.connected)
        process.send!({ vmc: 'reply', id: m.id, value: snapshot() } satisfies ClusterMessage);
    });
    // The primary went away (killed): nothing restarts or coordinates this worker any more.
    process.on('disconnect', () => {
      channel.failAll('the cluster primary went away');
      stop('primary disconnected');
    });
    process.send!({ vmc: 'listening', port: server.port } satisfies ClusterMessage);
  }
  return {
    port: server.port,
    close: async () => {
      await server.close();
      await store.close().catch(() => undefined);
    },
  };
}

interface WorkerState {
  worker: Worker;
  startedAt: number;
  listening: boolean;
  /** The newest metrics snapshot received from it. */
  snap: WorkerSnapshot | null;
  waiting: Map<number, (v: unknown) => void>;
}

async function runPrimary(opts: ServeOptions, n: number, log: Logger): Promise<ServeHandle> {
  const port = opts.port ?? 8080;
  if (port === 0) throw new Error('--workers > 1 needs a fixed --port (the workers share it through SO_REUSEPORT)');
  const maxStartFailures = opts.maxStartFailures ?? 5;
  // A missing or invalid keys file stops the start once, here, rather than in every worker.
  if (opts.keysFile !== undefined) await readKeysFile(opts.keysFile);
  // The admin writer lives here; it also decides, once, about a state file that cannot be
  // applied (quarantine) before any worker reads it. A corrupt table fails here, before forking.
  const store = await openStore(opts, log);
  const writer = await adminOf(opts, store);
  const start = await startTable(opts.tablePath, writer, log, !store.shared);
  seedWhenReachable(store, opts.keysFile, log);
  if (opts.providerUrls !== undefined) checkProviderUrls(start.table, opts.providerUrls);
  // SPEC §13: an unset `${ENV}` of a provider stops the start here, before any worker forks
  // (each would fail the same way); a single process checks in startServer.
  assertTableEnvironment(start.table, process.env);
  /** Context of the writer's calls: the table the primary last knew to be in service. */
  let ctxTable = start.table;

  cluster.setupPrimary({ serialization: 'advanced' }); // Uint8Array table bytes over the channel
  let stopping = false;
  const live = new Map<Worker, WorkerState>();
  let ready = 0;
  let startFailures = 0;
  let restarts = 0;
  const crashes: number[] = [];
  const retired = new Metrics();
  const retiredKeys = new KeyMetrics();
  let seq = 0;
  let onAllReady: (() => void) | null = null;
  const allReady = new Promise<void>((r) => {
    onAllReady = r;
  });

  const send = (w: Worker, m: ClusterMessage) => {
    if (w.isConnected()) w.send(m);
  };
  /** Sends `make(id)` to a worker; resolves with its reply's value, or `fallback` (gone, exited, or no reply within `timeoutMs`). */
  const ask = <T>(st: WorkerState, make: (id: number) => ClusterMessage, timeoutMs: number, fallback: T): Promise<T> =>
    new Promise((resolve) => {
      if (!st.worker.isConnected()) return resolve(fallback);
      const id = ++seq;
      const timer = setTimeout(() => {
        st.waiting.delete(id);
        resolve(fallback);
      }, timeoutMs);
      st.waiting.set(id, (v) => {
        clearTimeout(timer);
        resolve(v as T);
      });
      send(st.worker, make(id));
    });
  const askSnapshot = async (st: WorkerState): Promise<WorkerSnapshot | null> => {
    st.snap = await ask(st, (id) => ({ vmc: 'snapshot', id }), SNAPSHOT_TIMEOUT_MS, st.snap);
    return st.snap;
  };
  /**
   * Tells every other serving worker to reload (or re-read the keys) and waits until each has
   * done so, so an admin answer means every worker serves the change (bounded: a worker that
   * does not answer in time catches up on its own).
   */
  const propagate = (from: Worker, make: (id: number) => ClusterMessage): Promise<unknown> =>
    Promise.all(
      [...live.values()].filter((st) => st.worker !== from && st.listening).map((st) => ask(st, make, PROPAGATE_TIMEOUT_MS, undefined)),
    );

  /** The whole gateway's metrics: exited workers' last counters + every live worker's snapshot. */
  const renderMetrics = async (): Promise<string> => {
    const serving = [...live.values()].filter((s) => s.listening);
    const snaps = await Promise.all(serving.map(askSnapshot));
    const m = new Metrics();
    m.absorb(retired.snapshot(), false);
    const k = new KeyMetrics();
    k.absorb(retiredKeys.snapshot());
    for (const s of snaps) {
      if (s === null) continue;
      m.absorb(s, true);
      if (s.keys !== undefined) k.absorb(s.keys);
    }
    m.rssBytes += process.memoryUsage.rss();
    m.workers = serving.length;
    m.workerRestarts = restarts;
    return opts.keysFile === undefined ? m.render(false) : m.render(false) + k.render();
  };

  let adminQueue: Promise<void> = Promise.resolve();
  const runAdmin = async (from: Worker, op: AdminOp, args: unknown[]): Promise<AdminResult> => {
    if (writer === undefined) throw new Error('no admin backend');
    const ctx: AdminContext = { table: ctxTable };
    if (op === 'listVirtualModels' && writer.listVirtualModels === undefined) return { status: 200, body: virtualModelViews(ctxTable) };
    const fn = writer[op] as (...a: unknown[]) => Promise<AdminResult>;
    const result = await fn.call(writer, ...args, ctx);
    if (result.tableBytes !== undefined) {
      ctxTable = RoutingTable.decode(result.tableBytes);
      // The state is persisted: every other worker reloads from it (the caller swaps the bytes).
      await propagate(from, (id) => ({ vmc: 'reload', reason: 'admin change (another worker)', id }));
    }
    // Persisted too: every other worker re-reads the keys (the caller does before answering).
    if (result.keysChanged === true) await propagate(from, (id) => ({ vmc: 'keys', reason: 'admin key change (another worker)', id }));
    return result;
  };

  const giveUp = (last: { pid?: number; code: number | null; signal: string | null }) => {
    stopping = true;
    log.error('workers keep failing at start; giving up', { failures: startFailures, ...last });
    for (const w of live.keys()) w.process.kill('SIGTERM');
    setTimeout(() => process.exit(1), 2_000).unref();
    void Promise.all([...live.keys()].map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))))).then(() =>
      process.exit(1),
    );
  };

  const fork = (): void => {
    const w = cluster.fork();
    const st: WorkerState = { worker: w, startedAt: Date.now(), listening: false, snap: null, waiting: new Map() };
    live.set(w, st);
    w.on('message', (m: ClusterMessage) => {
      if (m === null || typeof m !== 'object') return;
      switch (m.vmc) {
        case 'listening':
          st.listening = true;
          startFailures = 0;
          if (++ready === n) onAllReady?.();
          return;
        case 'final':
          st.snap = m.snap;
          return;
        case 'reloaded-by-admin':
          for (const other of live.keys()) if (other !== w) send(other, { vmc: 'reload', reason: 'admin reload (another worker)' });
          return;
        case 'reply': {
          const cb = st.waiting.get(m.id);
          st.waiting.delete(m.id);
          cb?.(m.value);
          return;
        }
        case 'metrics':
          void renderMetrics().then(
            (text) => send(w, { vmc: 'reply', id: m.id, value: text }),
            (err: Error) => send(w, { vmc: 'reply', id: m.id, error: err.message }),
          );
          return;
        case 'admin':
          if (!ADMIN_OPS.includes(m.op)) return send(w, { vmc: 'reply', id: m.id, error: `unknown admin operation ${String(m.op)}` });
          // One admin call at a time, its propagation and its answer included: the worker that
          // asked gets its answer (and swaps its bytes in) before any later change asks it to
          // reload, so an older answer never lands on top of a newer reload.
          adminQueue = adminQueue.then(() =>
            runAdmin(w, m.op, m.args).then(
              (value) => send(w, { vmc: 'reply', id: m.id, value }),
              (err: Error) => send(w, { vmc: 'reply', id: m.id, error: err.message }),
            ),
          );
          return;
      }
    });
    w.on('exit', (code, signal) => {
      live.delete(w);
      for (const cb of st.waiting.values()) cb(st.snap);
      if (st.snap !== null) {
        retired.absorb(st.snap, false); // its counters stay in the totals
        if (st.snap.keys !== undefined) retiredKeys.absorb(st.snap.keys);
      }
      if (stopping) return;
      const last = { pid: w.process.pid, code, signal };
      if (!st.listening) {
        startFailures++;
        const serving = [...live.values()].some((s) => s.listening);
        // Nothing serves and starts keep failing: exit non-zero rather than crash-loop behind
        // a primary that looks alive. While other workers serve, keep trying at the longest back-off.
        if (startFailures >= maxStartFailures && !serving) return giveUp(last);
        const backoff = Math.min(BACKOFF_BASE_MS * 2 ** (startFailures - 1), BACKOFF_MAX_MS);
        const fields = { ...last, failures: startFailures, backoff_ms: backoff };
        if (startFailures >= maxStartFailures) log.error('worker keeps failing at start; the other workers serve; retrying', fields);
        else log.warn('worker failed at start; restarting after a back-off', fields);
        setTimeout(() => stopping || fork(), backoff);
        return;
      }
      ready--;
      restarts++;
      const now = Date.now();
      crashes.push(now);
      while (crashes.length > 0 && crashes[0] < now - 60_000) crashes.shift();
      const backoff = crashes.length <= 1 ? 0 : Math.min(BACKOFF_BASE_MS * 2 ** (crashes.length - 2), BACKOFF_MAX_MS);
      log.warn('worker exited; restarting', { ...last, backoff_ms: backoff, crashes_last_minute: crashes.length });
      setTimeout(() => stopping || fork(), backoff);
    });
  };
  for (let i = 0; i < n; i++) fork();

  const close = async (): Promise<void> => {
    stopping = true;
    const exits = [...live.keys()].map((w) => new Promise<void>((r) => (w.isDead() ? r() : w.once('exit', () => r()))));
    for (const w of live.keys()) w.process.kill('SIGTERM');
    await Promise.all(exits);
    await writer?.close?.().catch(() => undefined);
    await store.close().catch(() => undefined);
  };
  process.on('SIGHUP', () => {
    for (const w of live.keys()) send(w, { vmc: 'reload', reason: 'SIGHUP' });
  });
  const stop = (signal: string) => {
    if (stopping) return;
    log.info('draining workers', { signal, workers: live.size });
    void close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  await allReady;
  log.info('cluster listening', { host: opts.host ?? '127.0.0.1', port, workers: n });
  return { port, close };
}
