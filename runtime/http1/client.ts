/**
 * A lean HTTP/1.1 client for the gateway's proxy path (issue 13): plain-text HTTP/1.1 to one
 * origin, keep-alive, one request at a time per connection, no pipelining, no TLS, no
 * redirects, no decompression. What the proxy path needs and nothing else, so that a
 * proxied request costs a few microseconds of JavaScript instead of undici's tens (request
 * object and validation, dispatcher queues, a WebAssembly llhttp that calls back into
 * JavaScript for every header field and value, per-request timers).
 *
 * undici stays for everything else: TLS origins (`https:`), and every other HTTP client use
 * in vmc. {@link H1Pool.supports} says which origins this client takes.
 *
 * Interface: {@link H1Pool.dispatch} takes the request and a handler with undici's classic
 * dispatch callbacks (`onConnect`, `onHeaders`, `onData`, `onComplete`, `onError`,
 * `onRequestSent`), so runtime/upstream.ts's `UpstreamCall` drives either transport; error
 * `code`s are undici's, so one `failureKind` classifies both.
 *
 * Wire behaviour:
 * - request: `POST path HTTP/1.1`, `host`, the given headers, `content-length`; head and
 *   body in one write (one `writev`-free `write` of one buffer). Header names and values are
 *   refused (UND_ERR_INVALID_ARG, before anything is sent) when they hold CR, LF, NUL, other
 *   control bytes but HTAB, DEL, or characters above U+00FF — no request smuggling through a
 *   value;
 * - response: status line and headers parsed in JavaScript on the socket's bytes (`onread`:
 *   reads land in a per-connection buffer, no stream machinery per read), at most
 *   `maxHeaderSize` bytes of head (UND_ERR_HEADERS_OVERFLOW); 1xx answers are skipped (101
 *   is an error: no upgrades); bodies framed by `content-length`, `transfer-encoding:
 *   chunked` (extensions ignored, trailers read and dropped) or, without either, by the end
 *   of the connection; 204 and 304 have none. Conflicting `content-length`s, a
 *   `transfer-encoding` that does not end in chunked, bytes after a response on a kept
 *   connection, a malformed status line, header or chunk size are protocol errors
 *   (UND_ERR_SOCKET-like, a network failure): the connection is closed, never reused;
 * - keep-alive: a connection returns to the pool when its response ended, its request was
 *   written whole, and neither side said `connection: close` (HTTP/1.0 answers close).
 *   Idle connections are reused most recently used first and dropped after
 *   `keepAliveTimeout` (or the server's `Keep-Alive: timeout=N` minus a 2 s margin, capped
 *   at `keepAliveMaxTimeout` — undici's rule), so the pool does not send on a connection
 *   the server is about to close. A connection the server closes while idle leaves the
 *   pool at once. A request on a reused connection that breaks before any response byte
 *   is a network failure like any other (no silent resend of a POST: the engine's retry
 *   policy decides — as with undici);
 * - backpressure: `onData` returning false pauses the socket until `resume()`;
 * - timeouts (coarse, like undici's: one sweep per second for all connections): connect
 *   (`connectTimeout`, UND_ERR_CONNECT_TIMEOUT), headers (from the request's write,
 *   UND_ERR_HEADERS_TIMEOUT), body (between body bytes, UND_ERR_BODY_TIMEOUT). The engine's
 *   precise SLA and deadline timers are UpstreamCall's own.
 */
import { connect, type Socket } from 'node:net';

/** The callbacks a dispatch drives (undici's classic dispatch handler). */
export interface H1Handler {
  /** Called once, before anything else; `abort` destroys the connection and ends the exchange. */
  onConnect(abort: (err?: Error) => void): void;
  /**
   * Status and headers (`[name, value, …]`: names lower-cased, values as latin1 strings, in the
   * upstream's order); false pauses the socket until `resume()`.
   */
  onHeaders(statusCode: number, headers: string[], resume: () => void): boolean;
  /** A body chunk (the handler may keep it); false pauses the socket until `resume()`. */
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  onError(err: Error): void;
  /**
   * Optional: the bytes of one socket read have been handed over (headers, chunks, the end,
   * or a failure) — called after every read that reached this handler, once the connection
   * is consistent again (released to the pool when the exchange completed). Lets a handler
   * act once per read on everything that arrived, without a promise (runtime/upstream.ts).
   */
  onReadEnd?(): void;
  /** The whole request (head and body) has been handed to the socket. */
  onRequestSent(): void;
}

export interface H1PoolOptions {
  /** Idle time after which a kept connection is closed (default 4 s). */
  keepAliveTimeout?: number;
  /** Upper bound for a server's `Keep-Alive: timeout=` hint (default 600 s). */
  keepAliveMaxTimeout?: number;
  /** Connect timeout in ms (default 10 s). */
  connectTimeout?: number;
  /** Largest response head in bytes (default 16 KiB, undici's). */
  maxHeaderSize?: number;
}

/** An error with undici's `code`, so UpstreamCall's failureKind classifies it. */
export class H1Error extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'H1Error';
  }
}

/** Margin subtracted from a server's keep-alive hint (undici's keepAliveTimeoutThreshold). */
const KEEP_ALIVE_THRESHOLD_MS = 2000;
/** Bytes read per socket read (and the largest body chunk handed over). */
const READ_BUFFER_BYTES = 32 * 1024;
const SWEEP_MS = 1000;

// Connection states.
const CONNECTING = 0;
const IDLE = 1;
const BUSY = 2;
const CLOSED = 3;

// Response parser states.
const P_HEAD = 0;
const P_BODY_LENGTH = 1;
const P_CHUNK_SIZE = 2;
const P_CHUNK_DATA = 3;
const P_CHUNK_DATA_END = 4;
const P_TRAILERS = 5;
const P_BODY_UNTIL_CLOSE = 6;
const P_DONE = 7;

const CR = 0x0d;
const LF = 0x0a;

/** Refused in header names and values: C0 controls but HTAB, DEL, anything above U+00FF. */
const BAD_HEADER_CHAR = /[\x00-\x08\x0a-\x1f\x7f\u0100-\uffff]/;
/** RFC 9110 token: what a header name may be. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

// A coarse clock for the timeouts: sweeps counted, no clock read per event. A timeout of T ms
// fires after at least T ms and at most T + 2 s; a kept connection is dropped after at most
// its keep-alive time (earlier is the safe side).
let tick = 0;
const livePools = new Set<H1Pool>();
let sweeper: NodeJS.Timeout | null = null;

/** Has a timeout of `ms` passed since tick `since`? (at least `ms` of real time, in whole sweeps) */
function expired(since: number, now: number, ms: number): boolean {
  return (now - since - 1) * SWEEP_MS >= ms;
}

function startSweeper(): void {
  if (sweeper !== null) return;
  sweeper = setInterval(() => {
    tick++;
    for (const p of livePools) p.sweep(tick);
    if (livePools.size === 0 && sweeper !== null) {
      clearInterval(sweeper);
      sweeper = null;
    }
  }, SWEEP_MS);
  sweeper.unref();
}

/** Keep-alive connections to one `http:` origin. */
export class H1Pool {
  readonly origin: string;
  readonly #host: string;
  readonly #port: number;
  /** `host` header value: host[:port], the port left out when it is 80. */
  readonly #hostHeader: string;
  readonly keepAliveTimeout: number;
  readonly keepAliveMaxTimeout: number;
  readonly connectTimeout: number;
  readonly maxHeaderSize: number;
  /** Idle connections, most recently used last. */
  readonly #idle: H1Connection[] = [];
  readonly #all = new Set<H1Connection>();
  #closing = false;
  #destroyed = false;
  #closeWaiters: (() => void)[] = [];

  /** True for origins this client serves: `http://host[:port]` (TLS stays with undici). */
  static supports(origin: string): boolean {
    return origin.startsWith('http://');
  }

  constructor(origin: string, opts: H1PoolOptions = {}) {
    const u = new URL(origin);
    if (u.protocol !== 'http:') throw new Error(`H1Pool: only http: origins (${origin})`);
    this.origin = u.origin;
    this.#host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    this.#port = u.port === '' ? 80 : Number(u.port);
    this.#hostHeader = u.host;
    this.keepAliveTimeout = opts.keepAliveTimeout ?? 4000;
    this.keepAliveMaxTimeout = opts.keepAliveMaxTimeout ?? 600_000;
    this.connectTimeout = opts.connectTimeout ?? 10_000;
    this.maxHeaderSize = opts.maxHeaderSize ?? 16 * 1024;
  }

  /** Connections open (idle or busy). */
  get size(): number {
    return this.#all.size;
  }

  /** Idle connections kept for reuse. */
  get idle(): number {
    return this.#idle.length;
  }

  /**
   * Sends `POST path` with `headers` (flat `[name, value, …]`, lower-case names) and `body`,
   * driving `handler`. Throws (before anything is sent) when the pool is closed (UND_ERR_CLOSED /
   * UND_ERR_DESTROYED) or a header cannot be written (UND_ERR_INVALID_ARG).
   */
  dispatch(
    path: string,
    headers: readonly string[],
    body: Uint8Array,
    headersTimeout: number,
    bodyTimeout: number,
    handler: H1Handler,
  ): void {
    this.#check();
    this.#send(buildRequest(path, this.#hostHeader, headers, body), headersTimeout, bodyTimeout, handler);
  }

  /**
   * The proxy's fast path: `head` is the request line, `host` and the header lines (each ending
   * in CRLF; no content-length, no blank line), built and checked by the caller — the gateway's
   * targets prebuild everything but the client's forwarded headers ({@link H1Pool.hostHeader},
   * runtime/target.ts). The body is `src` with `src[s, e)` replaced by `model`, written with
   * the head as one buffer: one allocation, no intermediate body.
   */
  dispatchSpliced(
    head: string,
    src: Uint8Array,
    s: number,
    e: number,
    model: Uint8Array,
    headersTimeout: number,
    bodyTimeout: number,
    handler: H1Handler,
  ): void {
    this.#check();
    const bodyLength = src.length - (e - s) + model.length;
    const full = head + 'content-length: ' + bodyLength + '\r\n\r\n';
    const h = full.length;
    const out = requestBuffer(h + bodyLength);
    out.write(full, 0, h, 'latin1');
    out.set(src.subarray(0, s), h);
    out.set(model, h + s);
    out.set(src.subarray(e), h + s + model.length);
    this.#send(out, headersTimeout, bodyTimeout, handler);
  }

  /** `host` header value of this origin (what {@link dispatchSpliced} heads carry). */
  get hostHeader(): string {
    return this.#hostHeader;
  }

  #check(): void {
    if (this.#destroyed) throw new H1Error('the upstream pool was destroyed', 'UND_ERR_DESTROYED');
    if (this.#closing) throw new H1Error('the upstream pool is closed', 'UND_ERR_CLOSED');
  }

  #send(request: Buffer, headersTimeout: number, bodyTimeout: number, handler: H1Handler): void {
    let conn: H1Connection | undefined;
    const now = tick;
    while ((conn = this.#idle.pop()) !== undefined) {
      if (conn.reusableAt(now)) break;
      conn.destroy(null); // expired or closed meanwhile
    }
    if (conn === undefined) {
      conn = new H1Connection(this, this.#host, this.#port);
      this.#all.add(conn);
      if (this.#all.size === 1) {
        livePools.add(this);
        startSweeper();
      }
    }
    conn.start(request, headersTimeout, bodyTimeout, handler);
  }

  /** A connection finished its exchange and may be reused. */
  release(conn: H1Connection): void {
    if (this.#closing || this.#destroyed) {
      conn.destroy(null);
      return;
    }
    this.#idle.push(conn);
  }

  /** A connection closed (for whatever reason): forget it. */
  forget(conn: H1Connection): void {
    this.#all.delete(conn);
    const i = this.#idle.indexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
    if (this.#all.size === 0) {
      livePools.delete(this);
      const w = this.#closeWaiters;
      this.#closeWaiters = [];
      for (const f of w) f();
    }
  }

  /** Timeouts of every connection (called by the sweeper about once a second). */
  sweep(now: number): void {
    for (const c of this.#all) c.sweep(now);
  }

  /** Stops taking requests; resolves once every running exchange ended (idle connections close now). */
  close(): Promise<void> {
    this.#closing = true;
    for (const c of this.#idle.splice(0)) c.destroy(null);
    if (this.#all.size === 0) return Promise.resolve();
    return new Promise((r) => this.#closeWaiters.push(r));
  }

  /** Destroys every connection; running exchanges fail with UND_ERR_DESTROYED. */
  destroy(): Promise<void> {
    this.#destroyed = true;
    this.#idle.length = 0;
    for (const c of [...this.#all]) c.destroy(new H1Error('the upstream pool was destroyed', 'UND_ERR_DESTROYED'));
    if (this.#all.size === 0) return Promise.resolve();
    return new Promise((r) => this.#closeWaiters.push(r));
  }
}

/** Request head + body as one buffer. Throws UND_ERR_INVALID_ARG for a header that cannot be written. */
function buildRequest(path: string, hostHeader: string, headers: readonly string[], body: Uint8Array): Buffer {
  if (BAD_HEADER_CHAR.test(path) || path.indexOf(' ') >= 0) throw new H1Error(`invalid request path`, 'UND_ERR_INVALID_ARG');
  let head = 'POST ' + path + ' HTTP/1.1\r\nhost: ' + hostHeader + '\r\n';
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i];
    const value = headers[i + 1];
    if (!TOKEN.test(name)) throw new H1Error(`invalid header name ${JSON.stringify(name)}`, 'UND_ERR_INVALID_ARG');
    if (BAD_HEADER_CHAR.test(value)) throw new H1Error(`invalid ${name} header`, 'UND_ERR_INVALID_ARG');
    if (name === 'host' || name === 'content-length' || name === 'transfer-encoding' || name === 'connection') continue; // ours
    head += name + ': ' + value + '\r\n';
  }
  head += 'content-length: ' + body.length + '\r\n\r\n';
  const out = requestBuffer(head.length + body.length);
  out.write(head, 0, 'latin1');
  out.set(body, head.length);
  return out;
}

/**
 * Request buffers are cut from slabs of {@link SLAB_BYTES}, never reused: a slab is dropped
 * when full and freed by the GC once the last write from it is done (a request buffer lives
 * until its write completes, unless the upstream stops reading). Measured (issue 13):
 * `Buffer.allocUnsafe` takes these from Node's 8 KiB pool, which the 2 KiB request bodies
 * share, so a chat request used up about half a pool: an ArrayBuffer (malloc, backing
 * store, sweeper) per two requests; perf billed ArrayBuffer backing stores ~2 % of the
 * gateway's CPU.
 */
const SLAB_BYTES = 64 * 1024;
/** Larger requests get a buffer of their own. */
const SLAB_MAX_REQUEST = 16 * 1024;
let slab = Buffer.allocUnsafeSlow(0);
let slabUsed = 0;

function requestBuffer(n: number): Buffer {
  if (n > SLAB_MAX_REQUEST) return Buffer.allocUnsafeSlow(n);
  if (slabUsed + n > slab.length) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + n);
  slabUsed = (slabUsed + n + 7) & ~7; // 8-byte aligned starts
  return out;
}

/** One keep-alive connection and the exchange running on it. */
class H1Connection {
  readonly #pool: H1Pool;
  readonly #socket: Socket;
  #state = CONNECTING;
  #handler: H1Handler | null = null;
  /** Bound once: handed to every handler. */
  readonly #abort: (err?: Error) => void;
  readonly #resume: () => void;
  /** Write callback, bound once. */
  readonly #written: (err?: Error | null) => void;
  #paused = false;
  #requestSent = false;
  #headersTimeout = 0;
  #bodyTimeout = 0;
  /** Sweep tick of the last progress (connect, write, response bytes). */
  #since = 0;
  #idleUntil = 0;
  /** Response state. */
  #p = P_HEAD;
  #head: Buffer | null = null; // a head split over reads, gathered
  #remaining = 0; // body bytes left (P_BODY_LENGTH) or chunk bytes left (P_CHUNK_DATA)
  #keepAlive = true;
  #keepAliveHint = -1;
  #line: Buffer | null = null; // a chunk-size or trailer line split over reads
  #gotBytes = false;
  /** A body byte arrived (the headers timeout no longer applies; the body timeout does). */
  #gotBody = false;

  constructor(pool: H1Pool, host: string, port: number) {
    this.#pool = pool;
    // Reads land in this connection's buffer and come to onRead directly (no Readable stream,
    // no Buffer per read); what is kept past the callback is copied.
    const socket = connect({
      host,
      port,
      noDelay: true,
      onread: {
        buffer: Buffer.allocUnsafeSlow(READ_BUFFER_BYTES),
        callback: (n: number, buf: Uint8Array) => this.#onReadThenTell(n, buf as Buffer),
      },
    });
    this.#socket = socket;
    this.#since = tick;
    this.#written = (err?: Error | null) => {
      if (err == null) this.#sent();
    };
    this.#abort = (err?: Error) => this.#fail(err ?? new H1Error('aborted', 'UND_ERR_ABORTED'));
    this.#resume = () => {
      if (this.#paused) {
        this.#paused = false;
        this.#socket.resume();
      }
    };
    socket.setKeepAlive(true, 60_000);
    socket.on('connect', () => {
      if (this.#state === CONNECTING) this.#state = BUSY;
      this.#since = tick;
    });
    socket.on('end', () => this.#onEnd());
    socket.on('error', (err: Error) => this.#fail(err));
    socket.on('close', () => this.#onClose());
  }

  /** Idle, alive and not past its keep-alive time (in sweep ticks): may carry the next request. */
  reusableAt(now: number): boolean {
    return this.#state === IDLE && now < this.#idleUntil && !this.#socket.destroyed;
  }

  start(request: Buffer, headersTimeout: number, bodyTimeout: number, handler: H1Handler): void {
    if (this.#state === IDLE) this.#state = BUSY;
    this.#handler = handler;
    this.#headersTimeout = headersTimeout;
    this.#bodyTimeout = bodyTimeout;
    this.#requestSent = false;
    this.#p = P_HEAD;
    this.#head = null;
    this.#line = null;
    this.#keepAlive = true;
    this.#keepAliveHint = -1;
    this.#gotBytes = false;
    this.#gotBody = false;
    this.#since = tick;
    handler.onConnect(this.#abort);
    if (this.#handler === null) return; // aborted in onConnect
    const socket = this.#socket;
    socket.write(request, this.#written);
    // a write the kernel took at once is done now (the callback comes a tick later)
    if (socket.writableLength === 0 && !socket.connecting) this.#sent();
  }

  #sent(): void {
    if (this.#handler === null || this.#requestSent) return;
    this.#requestSent = true;
    this.#since = tick;
    this.#handler.onRequestSent();
  }

  /** Timeouts (coarse). */
  sweep(now: number): void {
    if (this.#state === CONNECTING) {
      if (expired(this.#since, now, this.#pool.connectTimeout))
        this.#fail(new H1Error(`connect timeout (${this.#pool.connectTimeout} ms)`, 'UND_ERR_CONNECT_TIMEOUT'));
    } else if (this.#state === BUSY && this.#handler !== null && !this.#paused) {
      if (!this.#gotBody) {
        // until the first body byte (or the end of an empty body): the headers timeout — the
        // gateway's "first response byte" bound (runtime/upstream.ts lets it stand in for its own timer)
        if (this.#headersTimeout > 0 && expired(this.#since, now, this.#headersTimeout))
          this.#fail(new H1Error(`no response byte within ${this.#headersTimeout} ms`, 'UND_ERR_HEADERS_TIMEOUT'));
      } else if (this.#bodyTimeout > 0 && expired(this.#since, now, this.#bodyTimeout)) {
        this.#fail(new H1Error(`body timeout (${this.#bodyTimeout} ms)`, 'UND_ERR_BODY_TIMEOUT'));
      }
    } else if (this.#state === IDLE && now >= this.#idleUntil) {
      this.destroy(null);
    }
  }

  /** Closes the connection; a running exchange fails with `err` (or a socket error). */
  destroy(err: Error | null): void {
    if (this.#state === CLOSED) return;
    const h = this.#handler;
    this.#handler = null;
    this.#state = CLOSED;
    this.#socket.destroy();
    this.#pool.forget(this);
    if (h !== null) h.onError(err ?? new H1Error('the connection was closed', 'UND_ERR_SOCKET'));
  }

  #fail(err: Error): void {
    this.destroy(err);
  }

  #onEnd(): void {
    if (this.#handler !== null && this.#p === P_BODY_UNTIL_CLOSE) {
      this.#p = P_DONE;
      this.#keepAlive = false;
      this.#complete();
      return;
    }
    const why = this.#gotBytes ? 'the upstream closed the connection mid-response' : 'the upstream closed the connection before answering';
    this.destroy(this.#handler === null ? null : new H1Error(why, 'UND_ERR_SOCKET'));
  }

  #onClose(): void {
    if (this.#state !== CLOSED) this.destroy(this.#handler === null ? null : new H1Error('the connection closed', 'UND_ERR_SOCKET'));
  }

  /** {@link #protocol} for the line parsers' return convention. */
  #protocolLine(what: string): number {
    this.#protocol(what);
    return -1;
  }

  /** Protocol error: the exchange fails and the connection is never reused. */
  #protocol(what: string): false {
    this.#fail(new H1Error(`invalid HTTP response from upstream: ${what}`, 'UND_ERR_SOCKET'));
    return false;
  }

  /** {@link onRead}, then the handler that was running when the bytes came hears that the read is over. */
  #onReadThenTell(nread: number, buf: Buffer): boolean {
    const h = this.#handler;
    const more = this.onRead(nread, buf);
    if (h !== null) h.onReadEnd?.();
    return more;
  }

  /**
   * `onread` callback: `buf[0, nread)` arrived. Returns false to pause the socket. The read
   * buffer is reused by the next read, so whatever is kept is copied (body chunks, a split head).
   */
  onRead(nread: number, buf: Buffer): boolean {
    if (this.#handler === null) {
      // bytes on an idle connection, or after the exchange ended: nothing may come unasked
      if (this.#state !== CLOSED) this.destroy(null);
      return false;
    }
    this.#gotBytes = true;
    this.#since = tick;
    let pos = 0;
    let pause = false;
    while (pos < nread && this.#handler !== null) {
      switch (this.#p) {
        case P_HEAD: {
          const r = this.#parseHead(buf, pos, nread);
          if (r < 0) return false; // failed or waiting for more (handled)
          if (r === nread + 1) return true; // head incomplete: kept, wait
          pos = r;
          if (this.#headPaused) {
            this.#headPaused = false;
            pause = true;
          }
          break;
        }
        case P_BODY_LENGTH: {
          const n = Math.min(this.#remaining, nread - pos);
          this.#remaining -= n;
          this.#gotBody = true;
          if (!this.#handler.onData(copyOut(buf, pos, pos + n))) pause = true;
          pos += n;
          if (this.#remaining === 0) this.#p = P_DONE;
          break;
        }
        case P_BODY_UNTIL_CLOSE: {
          this.#gotBody = true;
          if (!this.#handler.onData(copyOut(buf, pos, nread))) pause = true;
          pos = nread;
          break;
        }
        case P_CHUNK_SIZE:
        case P_CHUNK_DATA_END:
        case P_TRAILERS: {
          const r = this.#chunkLine(buf, pos, nread);
          if (r < 0) return false;
          if (r === nread + 1) return !pause;
          pos = r;
          break;
        }
        case P_CHUNK_DATA: {
          const n = Math.min(this.#remaining, nread - pos);
          this.#remaining -= n;
          this.#gotBody = true;
          if (!this.#handler.onData(copyOut(buf, pos, pos + n))) pause = true;
          pos += n;
          if (this.#remaining === 0) this.#p = P_CHUNK_DATA_END;
          break;
        }
        case P_DONE:
          return this.#protocol('bytes after the end of the response');
      }
      if (this.#p === P_DONE && this.#handler !== null) {
        if (pos < nread) return this.#protocol('bytes after the end of the response');
        this.#complete();
        return true;
      }
    }
    if (pause && this.#handler !== null) {
      this.#paused = true;
      return false;
    }
    return true;
  }

  #headPaused = false;

  /**
   * Parses a response head starting at buf[pos] (after any bytes kept from earlier reads).
   * Returns the offset after the head, nread + 1 when the head is not complete yet (kept), or -1
   * after a failure.
   */
  #parseHead(buf: Buffer, pos: number, nread: number): number {
    let data = buf;
    let from = pos;
    let end = nread;
    const kept = this.#head;
    // find the blank line, searching from just before the new bytes
    let at: number;
    if (kept !== null) {
      data = Buffer.concat([kept, buf.subarray(pos, nread)]);
      from = 0;
      end = data.length;
      at = data.indexOf('\r\n\r\n', Math.max(0, kept.length - 3));
    } else {
      // the buffer holds older bytes past nread: a match must end inside this read (the first
      // match found is then the first real one)
      at = buf.indexOf('\r\n\r\n', pos);
      if (at + 4 > nread) at = -1;
    }
    if (at < 0) {
      if (end - from > this.#pool.maxHeaderSize) {
        this.#fail(new H1Error(`response head larger than ${this.#pool.maxHeaderSize} bytes`, 'UND_ERR_HEADERS_OVERFLOW'));
        return -1;
      }
      this.#head = Buffer.from(data.subarray(from, end));
      return nread + 1;
    }
    this.#head = null;
    const headEnd = at + 4;
    if (headEnd - from > this.#pool.maxHeaderSize) {
      this.#fail(new H1Error(`response head larger than ${this.#pool.maxHeaderSize} bytes`, 'UND_ERR_HEADERS_OVERFLOW'));
      return -1;
    }
    // the offset in `buf` after the head (when the head was gathered, the new bytes start at kept.length)
    const after = kept !== null ? pos + (headEnd - kept.length) : headEnd;
    if (!this.#onHead(data, from, at)) return -1;
    return after;
  }

  /** Interprets one complete head data[from, at) (without the blank line). False after a failure. */
  #onHead(data: Buffer, from: number, at: number): boolean {
    // status line: HTTP/1.x SP 3DIGIT [SP reason]
    const eol = data.indexOf(CR, from);
    if (
      eol - from < 12 ||
      data[eol + 1] !== LF ||
      data[from] !== 0x48 ||
      data[from + 1] !== 0x54 ||
      data[from + 2] !== 0x54 ||
      data[from + 3] !== 0x50 ||
      data[from + 4] !== 0x2f ||
      data[from + 5] !== 0x31 ||
      data[from + 6] !== 0x2e ||
      (data[from + 7] !== 0x31 && data[from + 7] !== 0x30) ||
      data[from + 8] !== 0x20 ||
      !isDigit(data[from + 9]) ||
      !isDigit(data[from + 10]) ||
      !isDigit(data[from + 11]) ||
      (eol - from > 12 && data[from + 12] !== 0x20)
    ) {
      return this.#protocol('status line');
    }
    const http10 = data[from + 7] === 0x30;
    const status = (data[from + 9] - 0x30) * 100 + (data[from + 10] - 0x30) * 10 + (data[from + 11] - 0x30);
    if (status < 100) return this.#protocol('status code');
    // headers: [name, value, …] strings (names lower-cased), read from the head in place
    const block = data;
    const raw: string[] = [];
    let contentLength = -1;
    let chunked = false;
    let te = false;
    let connClose = http10;
    let hint = -1;
    let p = eol + 2;
    const n = at + 2;
    while (p < n) {
      let le = p;
      let colon = -1;
      let upper = false;
      // the name: token characters up to the colon
      for (; le < n; le++) {
        const c = block[le];
        if (c === 0x3a) {
          colon = le;
          break;
        }
        if (TCHAR[c] === 0) return this.#protocol('header name');
        if (c >= 0x41 && c <= 0x5a) upper = true;
      }
      if (colon <= p) return this.#protocol('header line');
      // the value: no control bytes but HTAB, up to CRLF
      for (le = colon + 1; le < n; le++) {
        const c = block[le];
        if (c < 0x20 || c === 0x7f) {
          if (c === CR) break;
          if (c !== 0x09) return this.#protocol('header value');
        }
      }
      if (le >= n || block[le + 1] !== LF) return this.#protocol('header line');
      let vs = colon + 1;
      while (vs < le && (block[vs] === 0x20 || block[vs] === 0x09)) vs++;
      let ve = le;
      while (ve > vs && (block[ve - 1] === 0x20 || block[ve - 1] === 0x09)) ve--;
      const name = block.toString('latin1', p, colon);
      raw.push(upper ? name.toLowerCase() : name, block.toString('latin1', vs, ve));
      // framing and connection headers (names compared case-insensitively by length first)
      const len = colon - p;
      if (len === 14 && equalsLower(block, p, 'content-length')) {
        const v = parseLength(block, vs, ve);
        if (v < 0 || (contentLength >= 0 && v !== contentLength)) return this.#protocol('content-length');
        contentLength = v;
      } else if (len === 17 && equalsLower(block, p, 'transfer-encoding')) {
        te = true;
        chunked = endsWithChunked(block, vs, ve);
      } else if (len === 10 && equalsLower(block, p, 'connection')) {
        const v = raw[raw.length - 1].toLowerCase();
        if (v.includes('close')) connClose = true;
        else if (http10 && v.includes('keep-alive')) connClose = false;
      } else if (len === 10 && equalsLower(block, p, 'keep-alive')) {
        const m = /(?:^|[\s,])timeout\s*=\s*(\d+)/i.exec(raw[raw.length - 1]);
        if (m) hint = Number(m[1]) * 1000;
      }
      p = le + 2;
    }
    if (status < 200) {
      if (status === 101) return this.#protocol('unexpected upgrade (101)');
      this.#p = P_HEAD; // informational: the real response follows
      return true;
    }
    if (te && !chunked) return this.#protocol('transfer-encoding without chunked');
    this.#keepAlive = !connClose;
    this.#keepAliveHint = hint;
    if (status === 204 || status === 304) this.#p = P_DONE;
    else if (te) this.#p = P_CHUNK_SIZE;
    else if (contentLength >= 0) {
      this.#remaining = contentLength;
      this.#p = contentLength === 0 ? P_DONE : P_BODY_LENGTH;
    } else {
      this.#p = P_BODY_UNTIL_CLOSE;
      this.#keepAlive = false;
    }
    const h = this.#handler!;
    if (!h.onHeaders(status, raw, this.#resume)) this.#headPaused = true;
    return this.#handler !== null;
  }

  /**
   * A chunk-size line, the CRLF after chunk data, or a trailer line, starting at buf[pos].
   * Returns the offset after it, nread + 1 when it is not complete (kept), or -1 after a failure.
   */
  #chunkLine(buf: Buffer, pos: number, nread: number): number {
    let data = buf;
    let from = pos;
    let lf = buf.indexOf(LF, pos);
    if (lf >= nread) lf = -1;
    const kept = this.#line;
    if (kept !== null) {
      data = Buffer.concat([kept, buf.subarray(pos, lf < 0 ? nread : lf + 1)]);
      from = 0;
      if (lf >= 0) lf = data.length - 1;
    }
    if (lf < 0) {
      const size = (kept?.length ?? 0) + (nread - pos);
      if (size > this.#pool.maxHeaderSize) return this.#protocolLine('chunk line too long');
      this.#line = Buffer.from(data === buf ? buf.subarray(pos, nread) : data);
      return nread + 1;
    }
    this.#line = null;
    const after = kept !== null ? pos + (lf + 1 - kept.length) : lf + 1;
    if (lf === from || data[lf - 1] !== CR) return this.#protocolLine('chunk line ending');
    const lineEnd = lf - 1; // exclusive, before CR
    switch (this.#p) {
      case P_CHUNK_DATA_END:
        if (lineEnd !== from) return this.#protocolLine('chunk data length');
        this.#p = P_CHUNK_SIZE;
        return after;
      case P_TRAILERS:
        if (lineEnd === from) this.#p = P_DONE; // the blank line ends the message
        return after;
      default: {
        // chunk-size [; extensions]
        let size = 0;
        let i = from;
        let digits = 0;
        for (; i < lineEnd; i++) {
          const d = hexValue(data[i]);
          if (d < 0) break;
          size = size * 16 + d;
          if (++digits > 12) return this.#protocolLine('chunk size');
        }
        if (digits === 0) return this.#protocolLine('chunk size');
        while (i < lineEnd && (data[i] === 0x20 || data[i] === 0x09)) i++;
        if (i < lineEnd && data[i] !== 0x3b /* ; */) return this.#protocolLine('chunk size');
        if (size === 0) this.#p = P_TRAILERS;
        else {
          this.#remaining = size;
          this.#p = P_CHUNK_DATA;
        }
        return after;
      }
    }
  }

  /** The response ended: hand the connection back (or close it), then tell the handler. */
  #complete(): void {
    const h = this.#handler!;
    this.#handler = null;
    if (this.#keepAlive && this.#requestSent && this.#state === BUSY && !this.#socket.destroyed) {
      this.#state = IDLE;
      const hint = this.#keepAliveHint;
      const pool = this.#pool;
      const ms = hint >= 0 ? Math.min(hint - KEEP_ALIVE_THRESHOLD_MS, pool.keepAliveMaxTimeout) : pool.keepAliveTimeout;
      if (ms <= 0) this.destroy(null);
      else {
        this.#idleUntil = tick + Math.floor(ms / SWEEP_MS); // whole sweeps, rounded down: never kept longer
        pool.release(this);
      }
    } else {
      this.destroy(null);
    }
    h.onComplete();
  }
}

/** A copy of buf[s, e) that outlives the read buffer (small copies come from Buffer's pool). */
function copyOut(buf: Buffer, s: number, e: number): Buffer {
  const out = Buffer.allocUnsafe(e - s);
  buf.copy(out, 0, s, e);
  return out;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** RFC 9110 tchar, as a table (1 = allowed) for the header-name loop. */
const TCHAR = new Uint8Array(256);
for (let c = 0; c < 256; c++) TCHAR[c] = isTokenChar(c) ? 1 : 0;

/** RFC 9110 tchar. */
function isTokenChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === 0x21 ||
    (c >= 0x23 && c <= 0x27) ||
    c === 0x2a ||
    c === 0x2b ||
    c === 0x2e ||
    c === 0x5e ||
    c === 0x5f ||
    c === 0x60 ||
    c === 0x7c ||
    c === 0x7e
  );
}

/** buf[at, at + lower.length) equals `lower` (ASCII, case-insensitive). */
function equalsLower(buf: Buffer, at: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) if ((buf[at + i] | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}

/** A content-length value: 1*DIGIT (at most 15 digits), else -1. */
function parseLength(buf: Buffer, s: number, e: number): number {
  if (e <= s || e - s > 15) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const c = buf[i];
    if (!isDigit(c)) return -1;
    v = v * 10 + (c - 0x30);
  }
  return v;
}

/** The last transfer coding of a transfer-encoding value is `chunked`. */
function endsWithChunked(buf: Buffer, s: number, e: number): boolean {
  const v = buf.toString('latin1', s, e).toLowerCase();
  const parts = v.split(',');
  return parts[parts.length - 1].trim() === 'chunked';
}
