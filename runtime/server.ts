/**
 * The gateway server (SPEC §6): routes, table generations, reload and drain.
 *
 *   uWS adapter (http/uws.ts) ──▶ route by path ──▶ engine (inference) | models | health |
 *                                                   metrics | admin (http/admin.ts)
 *
 * Reload (SPEC §6): the loaded table, its router and its health state form one
 * {@link Generation}; a reload decodes the new bytes first and swaps one reference only if
 * they are valid. A request holds the generation it started with until it ends, so a swap
 * never changes a table under a request, and nothing is dropped. A corrupt table
 * (TableFormatError) is rejected, logged and counted; the old one stays in service.
 * Triggers: `reload(bytes)`, `reloadFromFile()` (SIGHUP and `POST /admin/reload` in
 * `runServe`), and a watcher on the table file's directory (`watch: true`; atomic renames
 * included, debounced). A reload from the file goes through the admin backend's overlay;
 * whatever fails on the way — an unreadable or corrupt file, an overlay that no longer
 * compiles, a provider `${ENV}` reference the environment lacks (SPEC §13) — is a rejected reload: logged at `error` and counted in
 * `vmc_table_reloads_total{result="rejected"}` (SPEC §10).
 *
 * Close = drain: stop accepting, let in-flight requests finish (bounded), then close every
 * socket and the upstream pools.
 *
 * Caller keys (SPEC §12, `keysFile`): a {@link KeyStore} authenticates every inference request
 * (engine.ts) and `GET /v1/models` (here); `/health`, `/metrics` and the admin routes (their
 * own token) need no key. With keys on, the client's `authorization` / `x-api-key` are never
 * sent upstream (`GenerationDeps.gatewayKeys`), and `/metrics` adds the key series.
 */
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Engine } from './engine.js';
import { INTERNAL_ERROR_BODY, gatewayErrorBody } from './errors.js';
import { Generation, type GenerationDeps } from './generation.js';
import { isAdminPath, serveAdmin, type AdminBackend, type AdminHost } from './http/admin.js';
import { sendError, sendJson } from './http/respond.js';
import { logKeyedAccess } from './keys/access.js';
import { KeyMetrics } from './keys/metrics.js';
import { AUTH_MESSAGES, AUTH_OK, AUTH_REASONS, Caller, authenticate, narrowUserPath } from './keys/ring.js';
import { KeyStore } from './keys/store.js';
import type { HttpRequest, HttpResponse, HttpServer } from './http/adapter.js';
import { listenHttp } from './http/listen.js';
import { createLogger, logAccess, type Logger } from './log.js';
import { LOOP_DELAY_INTERVAL_MS, Metrics } from './metrics.js';
import type { HealthOptions } from './routing/health.js';
import { RESOLVE_OK, visibility, type CallerPolicy } from './routing/resolve.js';
import { endpointOfPath } from './table/endpoints.js';
import { RoutingTable } from './table/reader.js';
import { normalizeUserPath } from './table/user-path.js';
import { UpstreamPools } from './upstream.js';
import { assertTableEnvironment } from './providers/credentials.js';
import { CooldownBridge } from './state/cooldowns.js';
import type { StateStore } from './state/store.js';

export type { AdminBackend, AdminContext, AdminResult } from './http/admin.js';

/** SPEC §9 default for `--max-body`. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** How long `close()` waits for in-flight requests before cutting them. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;

export interface ServerOptions {
  table: RoutingTable;
  /** Table file for `reloadFromFile()` and the watcher. */
  tablePath?: string;
  host: string;
  /** 0 = ephemeral (tests). */
  port: number;
  maxBodyBytes: number;
  /** Bearer token of the admin API; without one every admin route answers 403 "admin is disabled" (SPEC §12). */
  adminToken?: string;
  admin?: AdminBackend;
  log?: Logger;
  /** Watch `tablePath` and reload on change. Default false (runServe turns it on). */
  watch?: boolean;
  /** Debounce of the file watcher, ms. Default 150. */
  watchDebounceMs?: number;
  drainTimeoutMs?: number;
  /** Cooldown tuning (SPEC §3.10); tests shorten it. */
  health?: HealthOptions;
  /** Called after every successful swap (cluster mode tells the other workers). */
  onSwap?: (table: RoutingTable, reason: string) => void;
  /** Provider name → base URL replacing the table's (`vmc serve --provider-url NAME=URL`, SPEC §11); names are checked. */
  providerUrls?: ReadonlyMap<string, string>;
  /** Host header values admitted (`--allowed-hosts`); absent = any. */
  allowedHosts?: readonly string[];
  /** `--forwarded-for`: send the client's address upstream in `x-forwarded-for`. Default false: the header is not sent. */
  forwardedFor?: boolean;
  /** Open client connections at most (`--max-connections`); absent = no cap. */
  maxConnections?: number;
  /** Request body bytes held in memory across requests at most (`--max-inflight-body`); absent = no cap. */
  maxInflightBodyBytes?: number;
  /**
   * Renders `GET /metrics` instead of this process's counters: with `--workers N` the worker
   * asks the primary for the whole gateway's (SPEC §10). Falls back to the local metrics if it throws.
   */
  metricsText?: () => Promise<string>;
  /**
   * Seed of the router's random draws, for every table generation (tests only: explain's
   * property test knows the draw of a fresh table's first plan). Default: random.
   */
  routerSeed?: number;
  /**
   * Caller keys file (`vmc serve --keys FILE`, SPEC §12): every inference request and
   * `GET /v1/models` then need a key. A missing or invalid file makes the start fail
   * (KeysFileError). Admin keys come from `admin.readKeys`.
   */
  keysFile?: string;
  /** Stat poll interval of the keys file, ms (the backstop of its watch). Default 500. */
  keysPollMs?: number;
  /**
   * Where the admin state lives (runtime/state): `/health` reports its status (`"state":
   * "ok" | "degraded"`, SPEC §14), and with a shared store (Redis) this replica's cooldowns are
   * announced and the other replicas' honoured.
   */
  state?: StateStore;
  /** Hash of the table file `table` was built from (admin changes applied on top do not change it). Default: `table`'s. */
  baseTableHash?: string;
}

export interface RunningServer {
  readonly port: number;
  /** This process's counters (cluster workers send snapshots of them to the primary). */
  readonly metrics: Metrics;
  /** Caller-key counters (cluster workers send snapshots of them too). */
  readonly keyMetrics: KeyMetrics;
  /** The caller keys, or null when keys are off. */
  readonly keys: KeyStore | null;
  /** Re-reads the keys file and the admin keys (another worker's admin change, SIGHUP); never throws. */
  refreshKeys(reason: string): Promise<void>;
  /** The HTTP engine serving (SPEC §10). */
  readonly engine: HttpServer['engine'];
  /** The table in service. */
  readonly table: RoutingTable;
  /** Decodes and swaps in a new table; throws TableFormatError (old table kept) when invalid. */
  reload(bytes: Uint8Array): void;
  /** Re-reads `tablePath` (through the admin backend's overlay, if any) and swaps it in; `reason` is logged. */
  reloadFromFile(reason?: string): Promise<RoutingTable>;
  /** Drains: stop accepting, wait for in-flight requests (bounded), close everything. */
  close(): Promise<void>;
}

/**
 * The generation in service and the ways to replace it (SPEC §6 reload): decode first, swap
 * one reference only when the bytes are valid; a rejected table is logged and counted.
 */
class GenerationSlot {
  gen: Generation;
  /** Set by close(): the watcher's late events no longer reload. */
  closing = false;
  /**
   * Content hash of the table file in service (SPEC §14 `/health` `table_hash`): what `vmc
   * build` wrote, the same on every replica that loaded it; admin changes do not change it.
   */
  baseHash: string;
  /** Swaps so far: a reload that saw another swap while it read reads again. */
  #swaps = 0;
  /** Bytes of the table file last loaded, to ignore touches that change nothing. */
  #lastFileBytes: Buffer | null = null;
  readonly #opts: ServerOptions;
  readonly #deps: GenerationDeps;
  readonly #cooldowns: CooldownBridge | null;

  constructor(opts: ServerOptions, deps: GenerationDeps, cooldowns: CooldownBridge | null) {
    this.#opts = opts;
    this.#deps = deps;
    this.#cooldowns = cooldowns;
    // SPEC §13: a `${ENV}` the table references and the environment lacks stops the start
    assertTableEnvironment(opts.table, deps.env ?? process.env);
    this.gen = new Generation(opts.table, deps);
    this.baseHash = opts.baseTableHash ?? opts.table.hashHex;
    cooldowns?.attach(this.gen.table, this.gen.health);
  }

  /** Counts and logs a rejected reload (SPEC §10); the table in service stays. */
  reject(reason: string, err: unknown): void {
    this.#deps.metrics.reloadsRejected++;
    this.#deps.log.error('table rejected; the previous table stays in service', {
      reason,
      error: err instanceof Error ? err.message : String(err),
      table_hash: this.gen.table.hashHex,
    });
  }

  /** Swaps in `bytes`; `fileHash` is the hash of the table file they were built from (absent: unchanged, an admin change). */
  swap(bytes: Uint8Array, reason: string, fileHash?: string): RoutingTable {
    const { metrics, log } = this.#deps;
    let table: RoutingTable;
    try {
      table = RoutingTable.decode(bytes);
      // SPEC §13: a table whose `${ENV}` references are unset is rejected like a corrupt one
      assertTableEnvironment(table, this.#deps.env ?? process.env);
    } catch (err) {
      this.reject(reason, err);
      throw err;
    }
    const previous = this.gen.table.hashHex;
    this.gen = new Generation(table, this.#deps);
    this.#swaps++;
    if (fileHash !== undefined) this.baseHash = fileHash;
    this.#cooldowns?.attach(table, this.gen.health); // cooldowns still running elsewhere apply to the new generation
    metrics.reloadsOk++;
    log.info('table loaded', {
      reason,
      table_hash: this.baseHash,
      served_table_hash: table.hashHex,
      previous_hash: previous,
      virtual_models: table.vmCount,
    });
    this.#opts.onSwap?.(table, reason);
    return table;
  }

  /**
   * Runs `read` (of the table file and the admin state) until no swap landed while it ran. An
   * admin answer swapped in meanwhile may be newer than what was read (its state was persisted
   * before it was answered), so a reload reads again rather than put an older state on top of
   * it (bounded: after READ_AGAIN_MAX reads the last one wins).
   */
  async #readUnswapped(read: () => Promise<void>): Promise<void> {
    for (let i = 0, seen = -1; i < READ_AGAIN_MAX && seen !== this.#swaps; i++) {
      seen = this.#swaps;
      await read();
    }
  }

  /** The table file's bytes through the admin backend's overlay, if any. */
  async #overlaid(file: Buffer): Promise<Uint8Array> {
    const admin = this.#opts.admin;
    return admin?.overlay !== undefined ? admin.overlay(file) : file;
  }

  /**
   * Reads the table file, applies the admin overlay and swaps the result in. Every failure
   * on the way (unreadable file, corrupt table, an overlay that throws) is a rejected reload.
   */
  async reloadFromFile(reason = 'file'): Promise<RoutingTable> {
    const path = this.#opts.tablePath;
    if (path === undefined) throw new Error('no table file configured');
    let file!: Buffer;
    let bytes!: Uint8Array;
    try {
      await this.#readUnswapped(async () => {
        file = await readFile(path);
        bytes = await this.#overlaid(file);
      });
    } catch (err) {
      this.reject(reason, err);
      throw err;
    }
    const table = this.swap(bytes, reason, fileHashOf(file));
    this.#lastFileBytes = file;
    return table;
  }

  /** Remembers the file's current bytes (the watcher's baseline). */
  async rememberFile(): Promise<void> {
    this.#lastFileBytes = this.#opts.tablePath === undefined ? null : await readFile(this.#opts.tablePath).catch(() => null);
  }

  /** Watcher event: reload when the file's bytes changed. Never throws. */
  async reloadIfChanged(): Promise<void> {
    if (this.closing || this.#opts.tablePath === undefined) return;
    let bytes: Buffer;
    try {
      bytes = await readFile(this.#opts.tablePath);
    } catch {
      return; // mid-rename or deleted: the next event (or SIGHUP) brings it back
    }
    if (this.#lastFileBytes !== null && this.#lastFileBytes.equals(bytes)) return; // touched, not changed
    this.#lastFileBytes = bytes;
    let overlaid!: Uint8Array;
    try {
      await this.#readUnswapped(async () => {
        overlaid = await this.#overlaid(bytes);
      });
    } catch (err) {
      this.reject('watch', err); // e.g. the admin overlay decodes the file first and throws
      return;
    }
    try {
      this.swap(overlaid, 'watch', fileHashOf(bytes));
    } catch {
      // logged and counted by swap(); a half-written file is followed by another event
    }
  }
}

/** How many times a reload reads the file and state when swaps keep landing while it reads. */
const READ_AGAIN_MAX = 4;

/** The content hash a table file carries (bytes 8..39 of its header, runtime/table/format.ts): what `/health` reports. */
function fileHashOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + 8, 32).toString('hex');
}

const PROMETHEUS_HEADERS = ['content-type', 'text/plain; version=0.0.4; charset=utf-8'];
/** `GET /v1/models` caller scratch: authentication to listing runs synchronously. */
const modelsCaller = new Caller();
/** What the access line shows for a request the engine could not parse. */
const UNPARSED_REQUEST = { method: '', url: '' };

/** Routes one request by method and path (SPEC §6). */
function requestHandler(
  slot: GenerationSlot,
  engine: Engine,
  adminHost: AdminHost,
  metrics: Metrics,
  log: Logger,
  httpEngine: () => string,
  metricsText: (() => Promise<string>) | undefined,
  keys: KeyStore | null,
  keyMetrics: KeyMetrics,
  state: StateStore | undefined,
): (req: HttpRequest, res: HttpResponse) => void | Promise<void> {
  const localMetrics = keys === null ? () => metrics.render() : () => metrics.render() + keyMetrics.render();
  return (req, res) => {
    const url = req.url;
    const method = req.method;
    const ep = endpointOfPath(url);
    const gen = slot.gen;
    if (method === 'POST' && ep >= 0) return engine.serve(gen, ep, req, res);
    if (method === 'GET') {
      switch (url) {
        case '/health': // probes: not access-logged
          // 200 even when the state store is unreachable: the gateway serves (SPEC §14)
          return sendJson(res, 200, {
            status: 'ok',
            table_hash: slot.baseHash,
            served_table_hash: gen.table.hashHex,
            virtual_models: gen.table.vmCount,
            loaded_at: new Date(gen.loadedAt).toISOString(),
            http_engine: httpEngine(),
            state: state?.status ?? 'ok',
            state_store: state?.kind ?? 'none',
            state_version: state?.current().version ?? 0,
          });
        case '/metrics': // scrapes: not access-logged
          if (metricsText === undefined) return res.respond(200, PROMETHEUS_HEADERS, localMetrics());
          return metricsText().then(
            (text) => res.respond(200, PROMETHEUS_HEADERS, text),
            (err: Error) => {
              log.warn('cluster metrics unavailable; answering with this worker only', { error: err.message });
              res.respond(200, PROMETHEUS_HEADERS, localMetrics());
            },
          );
        case '/v1/models': {
          const startedAt = performance.now();
          if (keys !== null) return serveModelsWithKey(gen.table, keys, keyMetrics, log, req, res, startedAt);
          sendJson(res, 200, listModels(gen.table, req.header('x-vmc-user-path')));
          return logAccess(log, req, 200, startedAt);
        }
      }
    }
    const startedAt = performance.now();
    if (isAdminPath(url)) {
      return serveAdmin(adminHost, req, res).then(() => logAccess(log, req, res.status, startedAt));
    }
    if (ep >= 0 || url === '/v1/models' || url === '/health' || url === '/metrics') {
      sendError(res, 405, 'invalid_request_error', `method ${method} not allowed on ${url}`);
      return logAccess(log, req, 405, startedAt);
    }
    sendError(res, 404, 'not_found_error', `no route ${method} ${url}`);
    logAccess(log, req, 404, startedAt);
  };
}

/** `GET /v1/models` with caller keys on (SPEC §12): 401 without a usable key, 403 for a widening user path, else what the key may use. */
function serveModelsWithKey(
  table: RoutingTable,
  keys: KeyStore,
  keyMetrics: KeyMetrics,
  log: Logger,
  req: HttpRequest,
  res: HttpResponse,
  startedAt: number,
): void {
  const c = modelsCaller;
  const st = authenticate(keys.ring, req, Date.now(), c);
  if (st !== AUTH_OK) {
    sendError(res, 401, 'authentication_error', AUTH_MESSAGES[st], null, { 'www-authenticate': 'Bearer' });
    keyMetrics.countFailure(AUTH_REASONS[st]);
    return logKeyedAccess(log, req, 401, startedAt, c.entry, null);
  }
  const entry = c.entry!;
  let status = 200;
  if (!narrowUserPath(c, req.header('x-vmc-user-path'))) {
    status = 403;
    sendError(
      res,
      403,
      'permission_error',
      `x-vmc-user-path is outside this API key's user path '${entry.userPath}' (it may only narrow it)`,
    );
  } else sendJson(res, 200, listModels(table, null, c));
  entry.series.count(status);
  logKeyedAccess(log, req, status, startedAt, entry, status === 200 ? c.userPath : null);
}

/**
 * Watches the table file's directory, not the file: deploys replace the file by atomic
 * rename, which detaches a watch on the old inode. Events are debounced.
 */
function watchTableFile(path: string, debounceMs: number, onChange: () => void, log: Logger): { close(): void } {
  const file = basename(path);
  let debounce: NodeJS.Timeout | null = null;
  const watcher: FSWatcher = fsWatch(dirname(path), (_event, name) => {
    if (name !== null && name !== file) return;
    if (debounce !== null) clearTimeout(debounce);
    debounce = setTimeout(() => {
      debounce = null;
      onChange();
    }, debounceMs);
  });
  watcher.on('error', (err) => log.warn('table watcher failed', { error: err.message }));
  return {
    close() {
      watcher.close();
      if (debounce !== null) clearTimeout(debounce);
    },
  };
}

/** Drain (SPEC §6): stop accepting, wait for in-flight requests (bounded), close sockets and pools. */
async function drain(http: HttpServer, pools: UpstreamPools, log: Logger, timeoutMs: number): Promise<void> {
  http.stopListening();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    http.whenIdle().then(() => false),
    new Promise<boolean>((r) => {
      timer = setTimeout(() => r(true), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut) log.warn('drain timeout: closing with requests in flight', { in_flight: http.inFlight, drain_timeout_ms: timeoutMs });
  http.closeAll();
  if (timedOut) await pools.destroy();
  else await pools.close();
  log.info('gateway closed', { port: http.port });
}

/** Starts the gateway. Resolves once it listens. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const log = opts.log ?? createLogger();
  if (opts.providerUrls !== undefined) checkProviderUrls(opts.table, opts.providerUrls);
  const keyMetrics = new KeyMetrics();
  const admin = opts.admin;
  // a missing or invalid keys file stops the start here (KeysFileError), before anything runs
  const keys =
    opts.keysFile === undefined
      ? null
      : await KeyStore.open({
          file: opts.keysFile,
          readAdmin: admin?.readKeys === undefined ? undefined : () => admin.readKeys!(),
          log,
          metrics: keyMetrics,
          pollMs: opts.keysPollMs,
        });
  const metrics = new Metrics();
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_DELAY_INTERVAL_MS });
  loopDelay.enable();
  metrics.watchEventLoop(loopDelay, LOOP_DELAY_INTERVAL_MS);
  const pools = new UpstreamPools();
  const onHandlerError = (err: unknown, req: HttpRequest): void =>
    log.error('request handler failed', {
      method: req.method,
      path: req.url,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
  const engine = new Engine({ metrics, log, keys, keyMetrics, forwardedFor: opts.forwardedFor, onError: onHandlerError });
  // SPEC §14: with a shared store, ejections are announced and other replicas' honoured
  const cooldowns = opts.state?.shared === true ? new CooldownBridge(opts.state, log) : null;
  const slot = new GenerationSlot(
    opts,
    {
      pools,
      metrics,
      log,
      health: opts.health,
      routerSeed: opts.routerSeed,
      providerUrls: opts.providerUrls,
      gatewayKeys: keys !== null,
    },
    cooldowns,
  );
  const reloadFromFile = (reason?: string): Promise<RoutingTable> => slot.reloadFromFile(reason);
  const adminEnabled = opts.adminToken !== undefined && opts.adminToken !== '';
  const adminHost: AdminHost = {
    token: opts.adminToken,
    backend: opts.admin,
    table: () => slot.gen.table,
    swap: (bytes, reason) => {
      slot.swap(bytes, reason);
    },
    reject: (reason, message) => slot.reject(reason, new Error(message)),
    reloadFromFile: () => reloadFromFile('admin reload'),
    tableHash: () => slot.baseHash,
    keys,
  };

  let http: HttpServer | null = null;
  const engineName = () => http?.engine ?? 'uws';
  try {
    http = await listenHttp({
      host: opts.host,
      port: opts.port,
      maxBodyBytes: opts.maxBodyBytes,
      handler: requestHandler(slot, engine, adminHost, metrics, log, engineName, opts.metricsText, keys, keyMetrics, opts.state),
      payloadTooLargeBody: gatewayErrorBody(413, 'invalid_request_error', `request body exceeds ${opts.maxBodyBytes} bytes`),
      internalErrorBody: INTERNAL_ERROR_BODY,
      onError: onHandlerError,
      // SPEC §10: every answer the engine gives by itself (413, 400, 431, 421, 503 caps, 408) is
      // logged (an access line) and counted like any answer given before resolution. (The
      // engines also call onPayloadTooLarge for a 413; onRefusal covers it, so it is not wired.)
      onRefusal: (status, kind, req) => {
        metrics.countRefusal(status, kind);
        logAccess(log, req ?? UNPARSED_REQUEST, status, performance.now());
      },
      onNotice: (msg, fields) => log.warn(msg, fields),
      allowedHosts: opts.allowedHosts,
      maxConnections: opts.maxConnections,
      maxInflightBodyBytes: opts.maxInflightBodyBytes,
    });
  } catch (err) {
    loopDelay.disable();
    keys?.close();
    throw err;
  }
  const server: HttpServer = http;

  let watcher: { close(): void } | null = null;
  if (opts.watch === true && opts.tablePath !== undefined) {
    await slot.rememberFile();
    watcher = watchTableFile(opts.tablePath, opts.watchDebounceMs ?? 150, () => void slot.reloadIfChanged(), log);
  }

  log.info('gateway listening', {
    pid: process.pid,
    host: opts.host,
    port: server.port,
    table_hash: slot.gen.table.hashHex,
    virtual_models: slot.gen.table.vmCount,
    http_engine: server.engine,
    http_engine_reason: server.engineReason,
    admin: adminEnabled ? 'enabled' : 'disabled',
    keys: keys === null ? 'off' : 'on',
  });
  if (!adminEnabled) log.warn('admin API disabled: VMC_ADMIN_TOKEN is not set; every /admin/* route answers 403');
  if (keys === null) {
    log.warn(
      "caller keys off: access policies trust the client's x-vmc-user-path header (start with --keys FILE to bind user paths to keys)",
    );
  } else {
    log.info('caller keys on', { file: keys.file, keys: keys.ring.size, file_keys: keys.counts.file, admin_keys: keys.counts.admin });
  }

  let closing: Promise<void> | null = null;
  return {
    get port() {
      return server.port;
    },
    get table() {
      return slot.gen.table;
    },
    metrics,
    keyMetrics,
    keys,
    refreshKeys: (reason) => keys?.refresh(reason) ?? Promise.resolve(),
    engine: server.engine,
    reload(bytes: Uint8Array) {
      slot.swap(bytes, 'api', fileHashOf(bytes));
    },
    reloadFromFile,
    close() {
      if (closing === null) {
        slot.closing = true;
        watcher?.close();
        keys?.close();
        cooldowns?.close();
        closing = drain(server, pools, log, opts.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS).finally(() => loopDelay.disable());
      }
      return closing;
    },
  };
}

/**
 * Checks `--provider-url NAME=URL` overrides (SPEC §11) against a table: every NAME must be a
 * provider of the table and every URL an absolute http(s) URL. Throws with a message naming
 * the table's providers otherwise.
 */
export function checkProviderUrls(table: RoutingTable, urls: ReadonlyMap<string, string>): void {
  const names: string[] = [];
  for (let p = 0; p < table.providerCount; p++) names.push(table.providerName(p));
  for (const [name, url] of urls) {
    if (!names.includes(name)) {
      throw new Error(
        `--provider-url ${name}=…: the table has no provider ${JSON.stringify(name)} (providers: ${names.join(', ') || 'none'})`,
      );
    }
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new Error(`--provider-url ${name}=${url}: not an absolute URL`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new Error(`--provider-url ${name}=${url}: use an http:// or https:// URL`);
  }
}

/**
 * `GET /v1/models` (SPEC §9): configured virtual models by name and by slug, and — unless
 * `models_endpoint: virtual_only` — catalogued provider models as `provider/model` (the
 * table's implicit passthrough entries, present when passthrough is on); disabled entries
 * and entries the caller may not use (its user path; with caller keys, the key's user path,
 * narrowed by `x-vmc-user-path`, and the key's `models`, SPEC §12) are left out. In `virtual_only` mode,
 * access policies (entries without a target of their own) are not listed either: they
 * gate a provider model rather than define a new name (GoModel lists only redirects).
 *
 * Provider types (issue 11): a catalogued model carries `provider_type` (`bedrock`, …); a
 * virtual model `provider_types`, the distinct types of its targets in target order (a
 * NeMo `backend_format` does not change a type) — the types, not the targets' names, which
 * `virtual_only` keeps private.
 */
export function listModels(
  table: RoutingTable,
  userPathHeader: string | null,
  caller: CallerPolicy | null = null,
): { object: 'list'; data: Record<string, unknown>[] } {
  const userPath = caller === null ? normalizeUserPath(userPathHeader) : caller.userPath;
  const virtualOnly = table.modelsEndpoint === 'virtual_only';
  const data: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  const add = (id: string, ownedBy: string, extra: Record<string, unknown>) => {
    if (seen.has(id)) return;
    seen.add(id);
    data.push({ id, object: 'model', created: 0, owned_by: ownedBy, ...extra });
  };
  for (let vm = 0; vm < table.vmCount; vm++) {
    if (visibility(table, vm, userPath, caller) !== RESOLVE_OK) continue;
    const implicit = table.vmIsImplicit(vm);
    if (virtualOnly && (implicit || table.vmKind(vm) === 'policy')) continue;
    const name = table.vmName(vm);
    if (implicit) {
      const p = table.targetProvider(table.vmFirstTarget(vm));
      add(name, table.providerName(p), { provider_type: table.providerType(p) });
      continue;
    }
    const types = table.vmModelTypes(vm);
    const extra: Record<string, unknown> = { virtual: true, provider_types: providerTypesOf(table, vm) };
    if (types.length > 0) extra.model_types = types;
    const description = table.vmDescription(vm);
    if (description !== '') extra.description = description;
    add(name, 'vmc', extra);
    const slug = table.vmSlug(vm);
    if (slug !== null) add(slug, 'vmc', { ...extra, slug_of: name });
  }
  return { object: 'list', data };
}

/** The distinct provider types of a virtual model's targets, in target order. */
function providerTypesOf(table: RoutingTable, vm: number): string[] {
  const out: string[] = [];
  const first = table.vmFirstTarget(vm);
  for (let i = 0; i < table.vmTargetCount(vm); i++) {
    const type = table.providerType(table.targetProvider(first + i));
    if (!out.includes(type)) out.push(type);
  }
  return out;
}
