/**
 * The uWebSockets.js adapter: the ONLY module that touches uWS (STYLE.md, "Hot path").
 *
 * uWS is fast because it hands us raw, short-lived native objects, and it is unforgiving
 * about how they are used. This module owns that protocol so that the rest of the runtime
 * sees a plain request (method, url, headers, one body Buffer) and a response writer:
 *
 * - `onAborted` is registered first, synchronously, for every request (uWS terminates the
 *   process otherwise once the handler returns without responding);
 * - everything needed from `HttpRequest` (method, url, query, all headers) is copied before
 *   the handler returns — the native request object is stack-allocated and dies then;
 * - the body is read once into one Buffer, preallocated from `content-length`, with a size
 *   limit: over it we answer 413 at once and close, without buffering the rest;
 * - every write made after an `await` is wrapped in `cork` (one syscall per batch), using
 *   callbacks bound once per exchange, not closures per write;
 * - streaming writes report backpressure: `write()` resolves when uWS has drained
 *   (`onWritable`), so callers pull from upstream only as fast as the client reads;
 * - per-request state lives in one fixed-shape class ({@link UwsExchange}); nothing is attached
 *   to uWS's `res`.
 *
 * Loading: the native binary is required directly (the package main silently falls back to a
 * slow pure-JS implementation, which would make every benchmark meaningless). Set
 * `VMC_UWS_MODULE=uWebSockets.js` to use the official build instead, and
 * `VMC_ALLOW_UWS_FALLBACK=1` to accept the JS fallback when no binary fits this Node.
 */
import { createRequire } from 'node:module';
import {
  headerIndex,
  JSON_HEADERS,
  type HeaderValue,
  type HttpHandler,
  type HttpRequest,
  type HttpResponse,
  type HttpServer,
  type HttpServerOptions,
} from './adapter.js';

// ---- minimal structural types for the parts of uWS we use ----

interface UwsHttpRequest {
  getMethod(): string;
  getUrl(): string;
  getQuery(): string;
  getHeader(lowerCaseKey: string): string;
  forEach(cb: (key: string, value: string) => void): void;
}

interface UwsHttpResponse {
  writeStatus(status: string): UwsHttpResponse;
  writeHeader(key: string, value: string | Uint8Array): UwsHttpResponse;
  write(chunk: Uint8Array | string): boolean;
  end(body?: Uint8Array | string, closeConnection?: boolean): UwsHttpResponse;
  close(): UwsHttpResponse;
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

interface UwsModule {
  App(options?: Record<string, unknown>): UwsApp;
  us_listen_socket_close(listenSocket: unknown): void;
  us_socket_local_port(socket: unknown): number;
}

let uwsModule: UwsModule | null = null;

/**
 * Loads uWS once per process (see the module comment for the environment switches).
 * Throws an Error with instructions when no native binary matches this Node build.
 */
export function loadUws(): UwsModule {
  if (uwsModule !== null) return uwsModule;
  const require = createRequire(import.meta.url);
  const override = process.env.VMC_UWS_MODULE;
  if (override !== undefined && override !== '') {
    uwsModule = require(override) as UwsModule;
    return uwsModule;
  }
  const pkg = '@trufflesuite/uws-js-unofficial';
  const binary = `${pkg}/binaries/uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  try {
    uwsModule = require(binary) as UwsModule;
  } catch (err) {
    if (process.env.VMC_ALLOW_UWS_FALLBACK !== '1') {
      throw new Error(
        `vmc: no native uWebSockets.js binary for ${process.platform}-${process.arch} ` +
          `(Node ABI ${process.versions.modules}): ${(err as Error).message}\n` +
          `  Use a Node version the package ships binaries for, set VMC_UWS_MODULE=uWebSockets.js ` +
          `for the official build, or VMC_ALLOW_UWS_FALLBACK=1 to run on the slow JS fallback.`,
      );
    }
    process.stderr.write(
      '\n*** vmc WARNING: native uWebSockets.js binary unavailable; running on the pure-JS ' +
        'fallback (VMC_ALLOW_UWS_FALLBACK=1). Throughput and latency numbers are NOT representative. ***\n\n',
    );
    uwsModule = require(pkg) as UwsModule;
  }
  return uwsModule;
}

export type { HeaderValue, HttpHandler, HttpRequest, HttpResponse, HttpServer, HttpServerOptions } from './adapter.js';

// ---- implementation ----

const RESOLVED: Promise<void> = Promise.resolve();
const EMPTY = Buffer.alloc(0);

/** `"200 OK"`-style status lines for every code we may write (uWS wants the full line). */
const STATUS_LINES: string[] = (() => {
  const reasons: Record<number, string> = {
    200: 'OK',
    201: 'Created',
    202: 'Accepted',
    204: 'No Content',
    304: 'Not Modified',
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    405: 'Method Not Allowed',
    408: 'Request Timeout',
    409: 'Conflict',
    412: 'Precondition Failed',
    413: 'Payload Too Large',
    415: 'Unsupported Media Type',
    422: 'Unprocessable Entity',
    429: 'Too Many Requests',
    500: 'Internal Server Error',
    501: 'Not Implemented',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
    504: 'Gateway Timeout',
  };
  const lines: string[] = [];
  for (let s = 0; s < 600; s++) lines.push(`${s} ${reasons[s] ?? 'Status'}`);
  return lines;
})();

function statusLine(status: number): string {
  return status >= 100 && status < 600 ? STATUS_LINES[status] : STATUS_LINES[500];
}

/** Shared mutable server state the exchanges report to. */
class ServerState {
  inFlight = 0;
  draining = false;
  idleWaiters: (() => void)[] = [];

  done(): void {
    this.inFlight--;
    if (this.inFlight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}

/**
 * One request/response pair: the per-request state, in one fixed-shape object.
 * Implements both {@link HttpRequest} and {@link HttpResponse}.
 */
class UwsExchange implements HttpRequest, HttpResponse {
  method: string;
  url: string;
  query: string;
  headers: string[];
  body: Buffer = EMPTY;
  aborted = false;
  headersSent = false;
  finished = false;

  readonly #res: UwsHttpResponse;
  readonly #server: ServerState;
  readonly #opts: HttpServerOptions;
  #bodyLen = 0;
  #status = 200;
  #head: readonly HeaderValue[] | null = null;
  #chunk: Uint8Array | string | undefined = undefined;
  #writeOk = true;
  #abortCb: (() => void) | null = null;
  #drainResolve: (() => void) | null = null;
  #counted = true;
  // Callbacks bound once per exchange: cork() and onWritable() then allocate nothing per call.
  readonly #corkedWrite: () => void;
  readonly #corkedEnd: () => void;
  readonly #onWritable: () => boolean;

  constructor(res: UwsHttpResponse, req: UwsHttpRequest, server: ServerState, opts: HttpServerOptions) {
    this.#res = res;
    this.#server = server;
    this.#opts = opts;
    this.method = req.getMethod().toUpperCase();
    this.url = req.getUrl();
    this.query = req.getQuery() ?? '';
    const headers: string[] = [];
    req.forEach((k, v) => {
      headers.push(k, v);
    });
    this.headers = headers;
    this.#corkedWrite = () => {
      this.#flushHead();
      this.#writeOk = this.#res.write(this.#chunk as Uint8Array);
      this.#chunk = undefined;
    };
    this.#corkedEnd = () => {
      this.#flushHead();
      this.#res.end(this.#chunk, this.#server.draining);
      this.#chunk = undefined;
    };
    this.#onWritable = () => {
      const r = this.#drainResolve;
      this.#drainResolve = null;
      if (r !== null) r();
      return true; // uWS `write()` buffered everything; nothing left to retry here
    };
    server.inFlight++;
  }

  /** Aborted by the client (registered first thing in the route handler). */
  handleAbort(): void {
    if (this.finished && !this.#counted) return;
    this.aborted = true;
    this.#finish();
    const cb = this.#abortCb;
    this.#abortCb = null;
    if (cb !== null) cb();
    const r = this.#drainResolve;
    this.#drainResolve = null;
    if (r !== null) r();
  }

  #finish(): void {
    this.finished = true;
    if (this.#counted) {
      this.#counted = false;
      this.#server.done();
    }
  }

  // ---- body ----

  /** Starts reading the body; calls `ready` once it is complete (never, if 413 was sent). */
  readBody(contentLength: number, ready: () => void): void {
    const max = this.#opts.maxBodyBytes;
    if (contentLength > max) {
      this.#reject413();
      return;
    }
    let buf = contentLength > 0 ? Buffer.allocUnsafe(contentLength) : EMPTY;
    this.#res.onData((ab, isLast) => {
      if (this.finished) return; // 413 already sent, or aborted: drop the rest
      const n = ab.byteLength;
      const len = this.#bodyLen + n;
      if (len > max) {
        this.#reject413();
        return;
      }
      if (len > buf.length) {
        // chunked or lying content-length: grow geometrically, capped at the limit
        const grown = Buffer.allocUnsafe(Math.min(max, Math.max(len, buf.length * 2, 1024)));
        buf.copy(grown, 0, 0, this.#bodyLen);
        buf = grown;
      }
      // uWS neuters `ab` when this callback returns: copy now
      buf.set(new Uint8Array(ab, 0, n), this.#bodyLen);
      this.#bodyLen = len;
      if (isLast) {
        this.body = len === buf.length ? buf : buf.subarray(0, len);
        ready();
      }
    });
  }

  #reject413(): void {
    this.#status = 413;
    this.#head = JSON_HEADERS;
    // close the connection: the unread rest of the body must not be parsed as a request
    this.#res.cork(() => {
      this.#flushHead();
      this.#res.end(this.#opts.payloadTooLargeBody, true);
    });
    this.#finish();
  }

  // ---- HttpRequest ----

  header(name: string): string | null {
    const i = headerIndex(this.headers, name);
    return i < 0 ? null : this.headers[i + 1];
  }

  // ---- HttpResponse ----

  get status(): number {
    return this.#status;
  }

  onAbort(cb: (() => void) | null): void {
    this.#abortCb = cb;
  }

  writeHead(status: number, headers: readonly HeaderValue[]): void {
    this.#status = status;
    this.#head = headers;
  }

  #flushHead(): void {
    if (this.headersSent) return;
    this.headersSent = true;
    const res = this.#res;
    res.writeStatus(statusLine(this.#status));
    const h = this.#head;
    if (h !== null) for (let i = 0; i + 1 < h.length; i += 2) res.writeHeader(h[i] as string, h[i + 1]);
    this.#head = null;
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.finished) return RESOLVED;
    this.#chunk = chunk;
    this.#res.cork(this.#corkedWrite);
    if (this.#writeOk) return RESOLVED;
    return new Promise<void>((resolve) => {
      if (this.finished) return resolve();
      this.#drainResolve = resolve;
      this.#res.onWritable(this.#onWritable);
    });
  }

  end(chunk?: Uint8Array): void {
    if (this.finished) return;
    this.#chunk = chunk;
    this.#res.cork(this.#corkedEnd);
    this.#finish();
  }

  respond(status: number, headers: readonly HeaderValue[], body: Uint8Array | string): void {
    if (this.finished) return;
    this.#status = status;
    this.#head = headers;
    this.#chunk = body;
    this.#res.cork(this.#corkedEnd);
    this.#finish();
  }

  close(): void {
    if (this.finished) return;
    this.#finish();
    this.#res.close(); // runs onAborted; handleAbort sees `finished` and does nothing more
  }
}

/**
 * Starts a uWS server that hands every request to `opts.handler`.
 * Rejects when the port cannot be bound.
 */
export function listenHttp(opts: HttpServerOptions): Promise<HttpServer> {
  const uws = loadUws();
  const app = uws.App();
  const state = new ServerState();

  app.any('/*', (res, req) => {
    const ex = new UwsExchange(res, req, state, opts);
    res.onAborted(() => ex.handleAbort());
    const cl = req.getHeader('content-length');
    const chunked = req.getHeader('transfer-encoding') !== '';
    // uWS's parser has already rejected malformed content-lengths; be defensive anyway
    const n = cl === '' ? 0 : Number(cl);
    const contentLength = Number.isSafeInteger(n) && n > 0 ? n : 0;
    if (contentLength > 0 || chunked) ex.readBody(contentLength, () => dispatch(ex, opts));
    else dispatch(ex, opts);
  });

  return new Promise((resolve, reject) => {
    app.listen(opts.host, opts.port, (listenSocket) => {
      if (!listenSocket) {
        reject(new Error(`vmc: cannot listen on ${opts.host}:${opts.port} (address in use or not permitted)`));
        return;
      }
      let socket: unknown = listenSocket;
      const port = uws.us_socket_local_port(listenSocket);
      resolve({
        port,
        engine: 'uws',
        engineReason: 'native uWebSockets.js binary loaded',
        get inFlight() {
          return state.inFlight;
        },
        stopListening() {
          state.draining = true;
          if (socket !== null) {
            uws.us_listen_socket_close(socket);
            socket = null;
          }
        },
        whenIdle() {
          if (state.inFlight === 0) return RESOLVED;
          return new Promise<void>((r) => state.idleWaiters.push(r));
        },
        closeAll() {
          if (socket !== null) {
            uws.us_listen_socket_close(socket);
            socket = null;
          }
          app.close?.();
        },
      });
    });
  });
}

function dispatch(ex: UwsExchange, opts: HttpServerOptions): void {
  let p: void | Promise<void>;
  try {
    p = opts.handler(ex, ex);
  } catch (err) {
    fail(ex, opts, err);
    return;
  }
  if (p !== undefined) p.then(undefined, (err) => fail(ex, opts, err));
}

function fail(ex: UwsExchange, opts: HttpServerOptions, err: unknown): void {
  opts.onError?.(err, ex);
  if (ex.finished) return;
  if (!ex.headersSent) ex.respond(500, JSON_HEADERS, opts.internalErrorBody);
  else ex.close();
}
