/**
 * The uWebSockets.js engine: the ONLY module that touches uWS (STYLE.md, "Hot path").
 *
 * uWS is fast because it hands us raw, short-lived native objects, and it is unforgiving
 * about how they are used. This module owns that protocol so that the rest of the runtime
 * sees a plain request (method, url, headers, one body Buffer) and a response writer:
 *
 * - `onAborted` is registered first, synchronously, for every request (uWS terminates the
 *   process otherwise once the handler returns without responding);
 * - everything needed from `HttpRequest` (method, url, query, all headers) is copied before
 *   the handler returns — the native request object is stack-allocated and dies then;
 * - the body is read once, into a buffer that grows with the bytes that arrived, bounded by
 *   `--max-body` and the global in-flight budget (runtime/http/common.ts);
 * - every write made after an `await` is wrapped in `cork` (one syscall per batch), using
 *   callbacks bound once per exchange, not closures per write;
 * - streaming writes report backpressure: `write()` resolves when uWS has drained
 *   (`onWritable`), so callers pull from upstream only as fast as the client reads; one-shot
 *   bodies go out with `tryEnd`, and an exchange counts as in flight until its last byte left
 *   uWS's buffer, so a drain's `closeAll` never cuts a response that was already ended;
 * - per-request state lives in one fixed-shape class ({@link UwsExchange}); nothing is attached
 *   to uWS's `res`.
 *
 * Work-arounds for the uWS build in use (docs/runtime.md "HTTP engines" has the list and what
 * the adapter cannot fix):
 * - `end(body, closeConnection)` writes a `Connection: close` header line even into a chunked
 *   body already under way; the adapter never asks uWS to close: while draining it adds
 *   `connection: close` itself, only to responses whose headers are not sent yet, and
 *   `closeAll` closes the connections once every response has been flushed.
 * - Early answers (413, 503, 421, 431) with a body still arriving are sent with
 *   `connection: close` and the rest of the body is read and discarded (lingering close,
 *   SPEC §10): the client reads the answer instead of a reset.
 * - HEAD answers carry no body (`endWithoutBody`); duplicate `Content-Length` headers → 400.
 * - At the file-descriptor limit uSockets retries `accept` in a busy loop (100 % CPU); the
 *   accept guard closes the listen socket before the limit (and at `maxConnections`) and
 *   listens again when descriptors are free (refused connections, no spinning).
 *
 * Loading (runtime/http/listen.ts decides): the native binary is required by file name
 * (never a package's JS entry, which may fall back to a broken pure-JS implementation), from
 * `@btc-vision/uwebsockets.js` (official builds, Node ABI 115/127/137/141, glibc ≥ 2.38) or
 * `@trufflesuite/uws-js-unofficial` (ABI 93/108/115); `VMC_UWS_MODULE` names another package.
 */
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type HeaderValue, type HttpRequest, type HttpResponse, type HttpServer, type HttpServerOptions } from './adapter.js';
import { BodyReader, dispatch, ExchangeBase, MAX_HEADER_BYTES, RESOLVED, ServerState, statusLine, type Refusal } from './common.js';

// ---- minimal structural types for the parts of uWS we use ----

interface UwsHttpRequest {
  getMethod(): string;
  getUrl(): string;
  getQuery(): string | undefined;
  getHeader(lowerCaseKey: string): string;
  forEach(cb: (key: string, value: string) => void): void;
}

interface UwsHttpResponse {
  writeStatus(status: string): UwsHttpResponse;
  writeHeader(key: string, value: string | Uint8Array): UwsHttpResponse;
  write(chunk: Uint8Array | string): boolean;
  end(body?: Uint8Array | string, closeConnection?: boolean): UwsHttpResponse;
  endWithoutBody(reportedContentLength?: number, closeConnection?: boolean): UwsHttpResponse;
  tryEnd(chunk: Uint8Array, totalSize: number): [boolean, boolean];
  getWriteOffset(): number;
  close(): UwsHttpResponse;
  getRemoteAddressAsText(): ArrayBuffer;
  onWritable(handler: (offset: number) => boolean): UwsHttpResponse;
  onAborted(handler: () => void): UwsHttpResponse;
  onData(handler: (chunk: ArrayBuffer, isLast: boolean) => void): UwsHttpResponse;
  cork(cb: () => void): UwsHttpResponse;
}

interface UwsApp {
  any(pattern: string, handler: (res: UwsHttpResponse, req: UwsHttpRequest) => void): UwsApp;
  listen(host: string, port: number, cb: (listenSocket: unknown) => void): UwsApp;
  close?(): void;
}

export interface UwsModule {
  App(options?: Record<string, unknown>): UwsApp;
  us_listen_socket_close(listenSocket: unknown): void;
  us_socket_local_port(socket: unknown): number;
}

// ---- loading ----

/** Outcome of looking for a native uWS build: the module and where it came from, or why none. */
export type UwsLoad = { ok: true; module: UwsModule; source: string } | { ok: false; reason: string };

/** Packages whose native binaries we know, in order of preference, and where the binaries sit. */
const UWS_PACKAGES: readonly { name: string; dir: string }[] = [
  { name: '@btc-vision/uwebsockets.js', dir: '' },
  { name: '@trufflesuite/uws-js-unofficial', dir: 'binaries' },
];

let loaded: UwsLoad | null = null;

/** True for a native addon's export (the JS fallbacks define `App` in JavaScript). */
function isNative(m: unknown): m is UwsModule {
  const app = (m as { App?: unknown } | null)?.App;
  return typeof app === 'function' && /\[native code\]/.test(Function.prototype.toString.call(app));
}

/** The C library as uWS builds care about it: `glibc 2.36`, `musl`, or the platform name. */
export function cLibrary(): string {
  if (process.platform !== 'linux') return process.platform;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return header?.glibcVersionRuntime !== undefined ? `glibc ${header.glibcVersionRuntime}` : 'musl';
}

/**
 * Looks for a native uWS build for this Node ABI, platform and C library: the module named by
 * `override` (`VMC_UWS_MODULE`; it must be native), else the known packages' binaries by file
 * name, found from `from` (a directory or file whose node_modules are searched; default: this
 * module's). Never a JS fallback. No caching (see {@link tryLoadUws}).
 */
export function findUws(override: string | undefined, from: string = import.meta.url): UwsLoad {
  const require = createRequire(from);
  if (override !== undefined && override !== '') {
    try {
      const m: unknown = require(override);
      return isNative(m)
        ? { ok: true, module: m, source: `${override} (VMC_UWS_MODULE)` }
        : { ok: false, reason: `VMC_UWS_MODULE=${override} is not a native uWebSockets.js build (a JS fallback is refused)` };
    } catch (err) {
      return { ok: false, reason: `VMC_UWS_MODULE=${override} does not load: ${firstLine(err)}` };
    }
  }
  const file = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  const tried: string[] = [];
  for (const pkg of UWS_PACKAGES) {
    const dir = packageDir(require, pkg.name);
    if (dir === null) {
      tried.push(`${pkg.name}: not installed`);
      continue;
    }
    const path = join(dir, pkg.dir, file);
    if (!existsSync(path)) {
      tried.push(`${pkg.name}: no ${file}`);
      continue;
    }
    try {
      const m: unknown = require(path);
      if (isNative(m)) return { ok: true, module: m, source: `${pkg.name}@${packageVersion(dir)} (${file})` };
      tried.push(`${pkg.name}: ${file} is not a native build`);
    } catch (err) {
      tried.push(`${pkg.name}: ${file} does not load (${firstLine(err)})`);
    }
  }
  return {
    ok: false,
    reason: `no native uWebSockets.js build for Node ABI ${process.versions.modules} / ${cLibrary()} (${tried.join('; ')})`,
  };
}

/** {@link findUws} with `VMC_UWS_MODULE`, once per process (a native module loads once anyway). */
export function tryLoadUws(): UwsLoad {
  if (loaded === null) loaded = findUws(process.env.VMC_UWS_MODULE);
  return loaded;
}

/** The native uWS module; throws (with the reason) when no build loads. Kept for the benchmarks' mock upstream. */
export function loadUws(): UwsModule {
  const r = tryLoadUws();
  if (!r.ok) throw new Error(`vmc: ${r.reason}`);
  return r.module;
}

/** The installed package's directory (found on the resolution paths, ignoring its `exports`), or null. */
function packageDir(require: NodeJS.Require, name: string): string | null {
  for (const base of require.resolve.paths(name) ?? []) {
    const dir = join(base, name);
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  return null;
}

function packageVersion(dir: string): string {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version ?? '?';
  } catch {
    return '?';
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

export type { HeaderValue, HttpHandler, HttpRequest, HttpResponse, HttpServer, HttpServerOptions } from './adapter.js';

// ---- the exchange ----

/** Discards body bytes after an early answer (lingering close). */
function discardData(): void {}

/** The exchange whose headers `collectHeader` is copying (forEach runs synchronously). */
let collecting: UwsExchange | null = null;
function collectHeader(k: string, v: string): void {
  (collecting as UwsExchange).addHeader(k, v);
}

/** The exchange whose cork() callback runs (cork calls it synchronously). */
let corking: UwsExchange | null = null;
const corkedWriteCb = (): void => (corking as UwsExchange).corkedWrite();
const corkedEndCb = (): void => (corking as UwsExchange).corkedEnd();
const corkedRespondCb = (): void => (corking as UwsExchange).corkedRespond();

/** `res.cork(cb)` with `ex` as the exchange the module callback works on (re-entrant). */
function corkThen(ex: UwsExchange, res: UwsHttpResponse, cb: () => void): void {
  const outer = corking;
  corking = ex;
  try {
    res.cork(cb);
  } finally {
    corking = outer;
  }
}

/**
 * One request/response pair: the per-request state, in one fixed-shape object.
 * Implements both {@link HttpRequest} and {@link HttpResponse}.
 */
class UwsExchange extends ExchangeBase<ServerState> implements HttpRequest, HttpResponse {
  readonly #res: UwsHttpResponse;
  readonly #isHead: boolean;
  // header facts gathered while copying
  #headerBytes: number;
  #contentLengths = 0;
  #contentLength = '';
  #chunked = false;
  #host: string | null = null;
  // body
  #declared = 0;
  /** An early answer was sent; body bytes still arriving are discarded. */
  #lingering = false;
  // response
  #chunk: Uint8Array | undefined = undefined;
  #writeOk = true;
  #drainResolve: (() => void) | null = null;
  /** One-shot body waiting for `onWritable` (tryEnd did not take it all). */
  #tail: Uint8Array | null = null;
  /** `end()` waiting for `onWritable` (its last chunk was buffered). */
  #endPending = false;
  /** The client's address, copied out of uWS on first use (null until then). */
  #remote: string | null = null;
  /** onWritable's callback, bound on first use (only a response the socket did not take at once needs it). */
  #onWritableCb: ((offset: number) => boolean) | null = null;

  get remoteAddress(): string {
    if (this.#remote === null) {
      // uWS's res is valid until the response ends or aborts; after that the address is gone.
      this.#remote = this.finished ? '' : Buffer.from(this.#res.getRemoteAddressAsText()).toString('latin1');
    }
    return this.#remote;
  }

  constructor(res: UwsHttpResponse, req: UwsHttpRequest, state: ServerState) {
    super(state);
    this.#res = res;
    this.method = req.getMethod().toUpperCase();
    this.url = req.getUrl();
    this.query = req.getQuery() ?? '';
    this.#isHead = this.method === 'HEAD';
    this.#headerBytes = this.url.length + this.query.length;
    collecting = this;
    req.forEach(collectHeader);
    collecting = null;
    state.inFlight++;
  }

  // cork() callbacks: module functions on the exchange being corked (`corking`), so that a
  // response allocates no closure (cork runs its callback synchronously).
  /** @internal (cork callback) */
  corkedWrite(): void {
    this.#flushHead();
    this.#writeOk = this.#res.write(this.#chunk as Uint8Array);
    this.#chunk = undefined;
  }

  /** @internal (cork callback) */
  corkedEnd(): void {
    this.#flushHead();
    const chunk = this.#chunk;
    this.#chunk = undefined;
    if (this.#isHead) {
      this.#res.endWithoutBody();
      return;
    }
    if (chunk !== undefined && chunk.byteLength > 0) this.#writeOk = this.#res.write(chunk);
    // a buffered last chunk: end (the chunked terminator) once uWS drained it, so the
    // exchange stays in flight until every byte left uWS's buffer
    if (this.#writeOk) this.#res.end();
    else this.#endPending = true;
  }

  /** @internal (cork callback) */
  corkedRespond(): void {
    this.#flushHead();
    const body = this.#chunk as Uint8Array;
    this.#chunk = undefined;
    if (this.#isHead) {
      // the length a GET would get, written by hand: this uWS build's endWithoutBody(n)
      // leaves the response pending (the connection's next request is then dropped)
      this.#res.writeHeader('content-length', String(body.byteLength)).endWithoutBody();
      return;
    }
    // tryEnd takes what the socket accepts now; the rest is offered again on onWritable
    // (uWS then buffers nothing of ours, and the exchange knows when it is all out)
    if (!this.#res.tryEnd(body, body.byteLength)[1]) this.#tail = body;
  }

  /** uWS's onWritable callback for this exchange (bound once, when first needed). */
  get #onWritable(): (offset: number) => boolean {
    if (this.#onWritableCb === null) this.#onWritableCb = (offset) => this.#writable(offset);
    return this.#onWritableCb;
  }

  #writable(offset: number): boolean {
    this.#writeOk = true;
    const tail = this.#tail;
    if (tail !== null) {
      const done = this.#res.tryEnd(tail.subarray(offset), tail.byteLength)[1];
      if (!done) return false; // not all taken: uWS calls again when writable
      this.#tail = null;
      this.settle();
      return true;
    }
    if (this.#endPending) {
      this.#endPending = false;
      this.#res.cork(() => this.#res.end());
      this.settle();
      return true;
    }
    const r = this.#drainResolve;
    this.#drainResolve = null;
    if (r !== null) r();
    return true; // uWS `write()` buffered everything; nothing left to retry here
  }

  /** Copies one header (forEach callback); gathers what the checks need on the way. */
  addHeader(k: string, v: string): void {
    this.headers.push(k, v);
    this.#headerBytes += k.length + v.length + 4;
    if (k === 'content-length') {
      this.#contentLengths++;
      this.#contentLength = v;
    } else if (k === 'transfer-encoding') this.#chunked = true;
    else if (k === 'host') this.#host = v;
  }

  /** Checks the request, then reads the body (if any) and calls the handler. */
  start(): void {
    const state = this.state;
    const refusals = state.refusals;
    // uWS's parser rejected malformed content-lengths already; be defensive anyway
    const n = this.#contentLength === '' ? 0 : Number(this.#contentLength);
    this.#declared = Number.isSafeInteger(n) && n > 0 ? n : 0;
    const hasBody = this.#declared > 0 || this.#chunked;
    if (this.#headerBytes > MAX_HEADER_BYTES) return this.#refuse(refusals.headersTooLarge, hasBody);
    // two Content-Lengths: uWS framed the body by one of them, and the bytes after it may be a
    // smuggled request that uWS would parse and serve even after an answer with `Connection:
    // close` (it parses the rest of its buffer first). Only closing at once stops that, so no
    // 400 can be sent on this build (the node engine answers 400).
    if (this.#contentLengths > 1) {
      this.state.refused(refusals.duplicateContentLength, this);
      this.finished = true;
      this.settle();
      this.#res.close();
      return;
    }
    if (state.hostAllowed !== null && !state.hostAllowed(this.#host)) return this.#refuse(refusals.hostNotAllowed, hasBody);
    if (!hasBody) return dispatch(this, state.opts);
    if (this.#declared > state.opts.maxBodyBytes) return this.#refuse(refusals.payloadTooLarge, true);
    this.reader = new BodyReader();
    this.#res.onData((ab, isLast) => this.#onData(ab, isLast));
  }

  #onData(ab: ArrayBuffer, isLast: boolean): void {
    if (this.#lingering || this.aborted) return; // answered early, or aborted: drop the rest
    const reader = this.reader as BodyReader;
    const state = this.state;
    // uWS neuters `ab` when this callback returns: push copies now
    const r = reader.push(new Uint8Array(ab), this.#declared, state.opts.maxBodyBytes, state.budget);
    if (r !== 0) {
      this.#refuse(r === 413 ? state.refusals.payloadTooLarge : state.refusals.bodyBudgetExhausted, !isLast);
      return;
    }
    if (isLast) {
      this.body = reader.result();
      dispatch(this, state.opts);
    }
  }

  /**
   * Answers without the handler. With body bytes still to come, the connection is marked
   * `connection: close` but left open: uWS goes on reading and discarding the body (lingering
   * close), and the client, which reads the answer instead of a reset, closes it (uWS closes a
   * silent one after its 10 s idle timeout). Otherwise uWS closes after sending.
   */
  #refuse(r: Refusal, bodyUnread: boolean): void {
    const state = this.state;
    state.refused(r, this);
    this.finished = true;
    this.#lingering = bodyUnread;
    const res = this.#res;
    if (this.reader !== null) {
      // the partial body is dropped now, not when the lingering connection goes
      this.reader.release(state.budget);
      this.reader = null;
    } else if (bodyUnread) res.onData(discardData);
    res.cork(() => {
      res.writeStatus(statusLine(r.status));
      const h = r.headers;
      for (let i = 0; i + 1 < h.length; i += 2) res.writeHeader(h[i] as string, h[i + 1]);
      this.headersSent = true;
      if (bodyUnread) res.writeHeader('connection', 'close').end(r.body, false);
      else res.end(r.body, true);
    });
    this.settle();
  }

  /** Aborted by the client (registered first thing in the route handler). */
  handleAbort(): void {
    if (!this.counted) {
      this.aborted = true; // after close() or an early answer: nothing more to do
      return;
    }
    this.aborted = true;
    this.finished = true;
    this.#tail = null;
    this.#endPending = false;
    this.settle();
    const cb = this.abortCb;
    this.abortCb = null;
    if (cb !== null) cb();
    const r = this.#drainResolve;
    this.#drainResolve = null;
    if (r !== null) r();
  }

  #flushHead(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    const res = this.#res;
    res.writeStatus(statusLine(this.statusCode));
    const h = this.head;
    if (h !== null) for (let i = 0; i + 1 < h.length; i += 2) res.writeHeader(h[i] as string, h[i + 1]);
    this.head = null;
    // draining: this response is the connection's last. Only here, before the body: never
    // into a body already under way (uWS's own end(…, true) would do exactly that)
    if (this.state.draining) res.writeHeader('connection', 'close');
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.finished) return RESOLVED;
    if (this.#isHead) return RESOLVED; // HEAD: headers go out with end()
    this.#chunk = chunk;
    corkThen(this, this.#res, corkedWriteCb);
    if (this.#writeOk) return RESOLVED;
    return new Promise<void>((resolve) => {
      if (this.finished) return resolve();
      this.#drainResolve = resolve;
      this.#res.onWritable(this.#onWritable);
    });
  }

  end(chunk?: Uint8Array): void {
    if (this.finished) return;
    this.finished = true;
    this.#chunk = chunk;
    corkThen(this, this.#res, corkedEndCb);
    if (this.#endPending) this.#res.onWritable(this.#onWritable);
    else this.settle();
  }

  respond(status: number, headers: readonly HeaderValue[], body: Uint8Array | string): void {
    if (this.finished) return;
    this.finished = true;
    this.statusCode = status;
    this.head = headers;
    this.#chunk = typeof body === 'string' ? Buffer.from(body) : body;
    corkThen(this, this.#res, corkedRespondCb);
    if (this.#tail !== null) this.#res.onWritable(this.#onWritable);
    else this.settle();
  }

  close(): void {
    if (this.finished) return;
    this.finished = true;
    this.settle(); // a close we asked for is not a client abort (handleAbort then does nothing)
    // after the current uWS callback: inside it, the corked bytes written so far would be dropped
    setImmediate(() => {
      if (!this.aborted) this.#res.close();
    });
  }
}

// ---- the accept guard (file descriptors) ----

/** Open file descriptors of this process: `/proc/self/fd`'s size on Linux ≥ 6.2, else its entries; -1 when unknown. */
function openFds(): number {
  try {
    const size = statSync('/proc/self/fd').size;
    return size > 0 ? size : readdirSync('/proc/self/fd').length - 1;
  } catch {
    return -1;
  }
}

/** The soft `RLIMIT_NOFILE` (Linux), or null. */
function fdLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

/** How often the accept guard counts descriptors, ms. */
const GUARD_INTERVAL_MS = 100;

/**
 * Keeps uSockets away from the descriptor limit, where a failing `accept` is retried in a
 * busy loop (100 % CPU, reproduced with `ulimit -n`), and enforces `maxConnections`: uWS
 * reports no connection events, so both count the process's open descriptors, every
 * {@link GUARD_INTERVAL_MS}. At the high mark the listen socket is closed (new connections
 * are refused by the kernel); below the low mark it listens again. Linux only (elsewhere
 * there is no cheap descriptor count; the guard is off).
 */
class AcceptGuard {
  readonly high: number;
  readonly low: number;
  readonly #timer: NodeJS.Timeout;

  constructor(
    baseline: number,
    limit: number,
    maxConnections: number | undefined,
    readonly check: (open: number, guard: AcceptGuard) => void,
  ) {
    let high = limit - Math.max(16, Math.floor(limit / 20));
    if (maxConnections !== undefined && maxConnections > 0) high = Math.min(high, baseline + maxConnections);
    this.high = Math.max(baseline + 1, high);
    this.low = this.high - Math.max(1, Math.floor((this.high - baseline) / 10));
    this.#timer = setInterval(() => {
      const open = openFds();
      if (open >= 0) this.check(open, this);
    }, GUARD_INTERVAL_MS);
    this.#timer.unref();
  }

  /**
   * While the listen socket is closed nothing else may keep the event loop alive: the guard's
   * timer does then (`true`), and lets go again once listening (`false`).
   */
  holdProcess(hold: boolean): void {
    if (hold) this.#timer.ref();
    else this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

// ---- the server ----

/**
 * Starts a uWS server that hands every request to `opts.handler`. `reason` is why uWS was
 * chosen (runtime/http/listen.ts). Rejects when the port cannot be bound.
 */
export function listenUws(uws: UwsModule, opts: HttpServerOptions, reason: string): Promise<HttpServer> {
  const app = uws.App();
  const state = new ServerState(opts);

  app.any('/*', (res, req) => {
    const ex = new UwsExchange(res, req, state);
    res.onAborted(() => ex.handleAbort());
    ex.start();
  });

  const listen = (port: number): Promise<unknown> =>
    new Promise((resolve) => app.listen(opts.host, port, (listenSocket) => resolve(listenSocket || null)));

  return listen(opts.port)
    .then(async (first) => {
      if (first === null || opts.port !== 0) return first;
      // uSockets sets SO_REUSEADDR/SO_REUSEPORT only for a given port, and the accept guard
      // can listen again while connections are open only if their listener had them: take
      // the ephemeral port, then listen on it by number
      const port = uws.us_socket_local_port(first);
      uws.us_listen_socket_close(first);
      return (await listen(port)) ?? listen(0);
    })
    .then((first) => {
      if (first === null) throw new Error(`vmc: cannot listen on ${opts.host}:${opts.port} (address in use or not permitted)`);
      let socket: unknown = first;
      let closed = false;
      const port = uws.us_socket_local_port(first);

      const limit = process.platform === 'linux' ? fdLimit() : null;
      const baseline = limit === null ? -1 : openFds();
      let relistening = false;
      const guard =
        limit === null || baseline < 0
          ? null
          : new AcceptGuard(baseline, limit, opts.maxConnections, (open, g) => {
              if (closed || relistening) return;
              if (socket !== null && open >= g.high) {
                uws.us_listen_socket_close(socket);
                socket = null;
                g.holdProcess(true);
                opts.onNotice?.('not accepting connections: open descriptors at the high mark', {
                  open_fds: open,
                  high_mark: g.high,
                  fd_limit: limit,
                  max_connections: opts.maxConnections ?? null,
                });
              } else if (socket === null && open <= g.low) {
                relistening = true;
                void listen(port).then((s) => {
                  relistening = false;
                  if (s === null) return; // try again on the next tick
                  if (closed) return uws.us_listen_socket_close(s);
                  socket = s;
                  g.holdProcess(false);
                  opts.onNotice?.('accepting connections again', { open_fds: openFds(), low_mark: g.low });
                });
              }
            });

      const stop = (): void => {
        closed = true;
        guard?.stop();
        if (socket !== null) {
          uws.us_listen_socket_close(socket);
          socket = null;
        }
      };

      return {
        port,
        engine: 'uws',
        engineReason: reason,
        get inFlight() {
          return state.inFlight;
        },
        stopListening() {
          state.draining = true;
          stop();
        },
        whenIdle() {
          return state.whenIdle();
        },
        closeAll() {
          stop();
          app.close?.();
        },
      } satisfies HttpServer;
    });
}
