/**
 * Upstream calls with undici (SPEC §3.6, §3.9).
 *
 * One keep-alive `Pool` per provider origin, shared by every table generation (a reload does
 * not drop warm connections). Each attempt is an {@link UpstreamCall}: an undici dispatch
 * handler with a small pull interface, so that the engine can
 *
 *   1. wait for the status and headers (and decide: retry, fall back, or commit),
 *   2. wait for the first body byte under the SLA (`sla.max_ttft_ms`, SPEC §9: time to first
 *      byte is measured to the first byte of the body, not to the headers),
 *   3. pull chunks one by one, only as fast as the client drains them (backpressure: the
 *      socket is paused while unconsumed chunks pile up).
 *
 * The handler implements undici's classic callbacks (`onConnect`/`onHeaders`/`onData`/
 * `onComplete`/`onError`) rather than the controller API: they are what the HTTP/1.1 client
 * calls natively, so no adapter object and no parsed-header object is allocated per call.
 *
 * Where a request goes (the path per client endpoint) and which credentials it carries is
 * the provider type's rule, in its module under runtime/providers/; this module only moves
 * bytes to the origin it is given.
 */
import { Pool } from 'undici';

/** Attempt outcome classes stored in {@link UpstreamCall.failure}. */
export const FAIL_NONE = 0;
/** Connection refused/reset, socket error, malformed response. */
export const FAIL_NETWORK = 1;
/** undici headers/body/connect timeout (provider `timeout_ms`). */
export const FAIL_TIMEOUT = 2;
/** `sla.max_ttft_ms` passed before the first body byte. */
export const FAIL_TTFT = 3;
/** We aborted (client went away, or the engine gave up on this attempt). */
export const FAIL_ABORTED = 4;

/** Runtime defaults when a provider has no `timeout_ms` (SPEC leaves them to us). */
export const DEFAULT_HEADERS_TIMEOUT_MS = 60_000;
export const DEFAULT_BODY_TIMEOUT_MS = 300_000;

/** Unconsumed chunks above this many bytes pause the upstream socket. */
const QUEUE_HIGH_WATER_BYTES = 64 * 1024;

const EMPTY = Buffer.alloc(0);

/** Options of one attempt. */
export interface UpstreamRequest {
  /** Path relative to the pool's origin, including the base URL's path prefix. */
  path: string;
  /** Flat `[name, value, …]`, lower-case names. */
  headers: string[];
  body: Buffer;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** 0 = no SLA. */
  maxTtftMs: number;
}

/**
 * One upstream attempt. Create, `start()`, then `await headers()`; read the body with
 * `take()`/`wait()`. Fields are plain for cheap access by the engine.
 */
export class UpstreamCall {
  /** HTTP status once headers arrived; 0 before, or after a failure before headers. */
  status = 0;
  /** Raw response headers `[name, value, …]` as undici hands them (Buffers). */
  rawHeaders: Buffer[] | null = null;
  /** One of `FAIL_*`. */
  failure = FAIL_NONE;
  error: Error | null = null;
  /** performance.now() at start. */
  startedAt = 0;
  /** ms from start to the first body byte (or the end of an empty body); -1 until then. */
  ttfbMs = -1;
  /** True once the whole body was received. */
  ended = false;
  /** Body bytes received so far. */
  bytesReceived = 0;

  #abort: ((err?: Error) => void) | null = null;
  #resume: (() => void) | null = null;
  #paused = false;
  #queue: Buffer[] = [];
  #queueBytes = 0;
  #waiter: (() => void) | null = null;
  #ttftTimer: NodeJS.Timeout | null = null;

  /** Dispatches the request on `pool`. Never throws: failures land in `failure`. */
  start(pool: Pool, req: UpstreamRequest): void {
    this.startedAt = performance.now();
    if (req.maxTtftMs > 0) {
      this.#ttftTimer = setTimeout(() => {
        this.#ttftTimer = null;
        if (this.ttfbMs < 0) this.fail(FAIL_TTFT, new Error(`no response byte within sla.max_ttft_ms (${req.maxTtftMs} ms)`));
      }, req.maxTtftMs);
    }
    try {
      pool.dispatch(
        {
          path: req.path,
          method: 'POST',
          headers: req.headers,
          body: req.body,
          headersTimeout: req.headersTimeoutMs,
          bodyTimeout: req.bodyTimeoutMs,
        },
        this,
      );
    } catch (err) {
      this.fail(FAIL_NETWORK, err as Error);
    }
  }

  /** Aborts the attempt (idempotent; the first failure wins). */
  fail(kind: number, err: Error): void {
    if (this.failure !== FAIL_NONE || this.ended) return;
    this.failure = kind;
    this.error = err;
    this.#clearTimer();
    const abort = this.#abort;
    this.#abort = null;
    if (abort !== null) abort(err);
    this.#wake();
  }

  /** Resolves once the headers arrived or the attempt failed (check `failure`). */
  headers(): Promise<void> {
    if (this.status !== 0 || this.failure !== FAIL_NONE) return Promise.resolve();
    return new Promise((r) => {
      this.#waiter = r;
    });
  }

  /**
   * Next body chunk: a Buffer; `null` when the body is over (ended, or failed — check
   * `failure`); `undefined` when nothing is buffered yet (then `await wait()`).
   */
  take(): Buffer | null | undefined {
    const q = this.#queue;
    if (q.length > 0) {
      const c = q.shift()!;
      this.#queueBytes -= c.length;
      if (this.#paused && this.#queueBytes < QUEUE_HIGH_WATER_BYTES) {
        this.#paused = false;
        this.#resume?.();
      }
      return c;
    }
    if (this.failure !== FAIL_NONE || this.ended) return null;
    return undefined;
  }

  /** Resolves when `take()` may return something new. */
  wait(): Promise<void> {
    if (this.#queue.length > 0 || this.failure !== FAIL_NONE || this.ended) return Promise.resolve();
    return new Promise((r) => {
      this.#waiter = r;
    });
  }

  /** Reads the rest of the body into one Buffer, keeping at most `limit` bytes. */
  async readAll(limit: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let size = 0;
    for (;;) {
      const c = this.take();
      if (c === undefined) {
        await this.wait();
        continue;
      }
      if (c === null) break;
      if (size < limit) {
        parts.push(size + c.length > limit ? c.subarray(0, limit - size) : c);
        size += c.length;
      }
    }
    return parts.length === 1 ? parts[0] : parts.length === 0 ? EMPTY : Buffer.concat(parts);
  }

  #wake(): void {
    const w = this.#waiter;
    if (w !== null) {
      this.#waiter = null;
      w();
    }
  }

  #clearTimer(): void {
    if (this.#ttftTimer !== null) {
      clearTimeout(this.#ttftTimer);
      this.#ttftTimer = null;
    }
  }

  #firstByte(): void {
    this.ttfbMs = performance.now() - this.startedAt;
    this.#clearTimer();
  }

  // ---- undici dispatch handler (classic callbacks) ----

  onConnect(abort: (err?: Error) => void): void {
    if (this.failure !== FAIL_NONE) abort(this.error ?? undefined);
    else this.#abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx informational: wait for the real response
    this.status = statusCode;
    this.rawHeaders = rawHeaders;
    this.#resume = resume;
    this.#wake();
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.ttfbMs < 0) this.#firstByte();
    this.bytesReceived += chunk.length;
    this.#queue.push(chunk);
    this.#queueBytes += chunk.length;
    this.#wake();
    if (this.#queueBytes >= QUEUE_HIGH_WATER_BYTES) {
      this.#paused = true;
      return false;
    }
    return true;
  }

  onComplete(): void {
    if (this.ttfbMs < 0) this.#firstByte();
    this.ended = true;
    this.#abort = null;
    this.#wake();
  }

  onError(err: Error): void {
    if (this.failure !== FAIL_NONE) return; // our own abort coming back
    const code = (err as { code?: string }).code;
    const timeout = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
    this.#abort = null;
    this.fail(timeout ? FAIL_TIMEOUT : FAIL_NETWORK, err);
  }

  onUpgrade(): void {
    /* never requested */
  }

  onResponseStarted(): void {
    /* no-op */
  }

  onBodySent(): void {
    /* no-op */
  }
}

/** Keep-alive pools by origin. Shared across table generations; closed with the server. */
export class UpstreamPools {
  #pools = new Map<string, Pool>();
  #closed = false;

  /** The pool for an origin (`http://host:port`), created on first use. */
  get(origin: string): Pool {
    let p = this.#pools.get(origin);
    if (p === undefined) {
      if (this.#closed) throw new Error('upstream pools are closed');
      p = new Pool(origin, {
        keepAliveTimeout: 10_000,
        keepAliveMaxTimeout: 600_000,
        connect: { timeout: 10_000 },
      });
      this.#pools.set(origin, p);
    }
    return p;
  }

  /** Closes every pool (waits for in-flight requests on them to finish). */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.close().catch(() => p.destroy())));
  }

  /** Destroys every pool at once (aborts in-flight upstream requests). */
  async destroy(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }
}

/**
 * Splits a base URL into the pool origin, the path prefix (no trailing slash) and the query
 * string (kept and appended after the endpoint suffix, e.g. Azure's `?api-version=…`).
 */
export function splitBaseUrl(baseUrl: string): { origin: string; prefix: string; query: string } {
  const u = new URL(baseUrl);
  let prefix = u.pathname;
  while (prefix.endsWith('/')) prefix = prefix.slice(0, -1);
  return { origin: u.origin, prefix, query: u.search };
}

/** Request headers never forwarded upstream (hop-by-hop, framing, gateway controls). */
export function isDroppedRequestHeader(name: string): boolean {
  switch (name) {
    case 'host':
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
    case 'proxy-authorization':
    case 'te':
    case 'trailer':
    case 'transfer-encoding':
    case 'upgrade':
    case 'content-length':
    case 'expect':
    // We splice and may rewrite bodies and inject SSE error events: ask for identity encoding.
    case 'accept-encoding':
      return true;
    default:
      // x-vmc-* steer the gateway (user path, metadata); they are not for the provider.
      return name.length > 6 && name.charCodeAt(0) === 120 && name.startsWith('x-vmc-');
  }
}

/** Response headers never forwarded to the client (uWS writes its own framing headers). */
export function isDroppedResponseHeader(name: string): boolean {
  switch (name) {
    case 'connection':
    case 'keep-alive':
    case 'transfer-encoding':
    case 'content-length':
    case 'date':
    case 'trailer':
    case 'upgrade':
    case 'proxy-connection':
    case 'uwebsockets': // uWS writes its own on every response; an upstream's would repeat it
      return true;
    default:
      return false;
  }
}
