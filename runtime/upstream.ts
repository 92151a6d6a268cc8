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
import { H1Pool } from './http1/client.js';
import { keepShape, Shape } from './shapes.js';

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
/**
 * undici refused to send the request (an argument or validation error, e.g. a header value
 * with a control byte): the request's fault, never the target's (issue 8).
 */
export const FAIL_REFUSED = 5;
/** The gateway's own upstream pool was closed or destroyed (drain): not the target's fault. */
export const FAIL_LOCAL = 6;
/** The response body passed the size the gateway was willing to hold; the attempt was aborted. */
export const FAIL_TOO_LARGE = 7;

/**
 * Runtime defaults when a provider has no `timeout_ms` (SPEC leaves them to us): the first
 * body byte within 60 s of sending (headers included), then at most 300 s between body
 * chunks (a long stream may run as long as it keeps producing).
 */
export const DEFAULT_HEADERS_TIMEOUT_MS = 60_000;
export const DEFAULT_BODY_TIMEOUT_MS = 300_000;

/** Unconsumed chunks above this many bytes pause the upstream socket. */
const QUEUE_HIGH_WATER_BYTES = 64 * 1024;

const EMPTY = Buffer.alloc(0);
const RESOLVED = Promise.resolve();

/** Hears of an attempt's progress without a promise: {@link UpstreamCall.listen}. */
export interface UpstreamListener {
  upstreamReady(): void;
}

/** The timeouts of an attempt (a TargetRuntime has these fields). */
export interface UpstreamTimeouts {
  /** The transport's idle timers: headers (for the lean client: until the first body byte), then between body chunks (coarse, ~1 s). */
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  /** 0 = no SLA. */
  readonly maxTtftMs: number;
  /** The first body byte must arrive within this many ms of the start (FAIL_TIMEOUT); 0 = none. */
  readonly firstByteTimeoutMs: number;
  /** The whole attempt — headers and the entire body — within this many ms (FAIL_TIMEOUT); 0 = none. */
  readonly deadlineMs: number;
}

/** Options of one attempt. */
export interface UpstreamRequest {
  /** Path relative to the pool's origin, including the base URL's path prefix. */
  path: string;
  /** Flat `[name, value, …]`, lower-case names. */
  headers: string[];
  body: Buffer;
  /** undici's idle timers: headers, then between body chunks (backstops; coarse, ~1 s). */
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  /** 0 = no SLA. */
  maxTtftMs: number;
  /** The first body byte must arrive within this many ms of the start (FAIL_TIMEOUT); 0 = none. */
  firstByteTimeoutMs: number;
  /** The whole attempt — headers and the entire body — within this many ms (FAIL_TIMEOUT); 0 = none. */
  deadlineMs: number;
}

/**
 * One upstream attempt. Create, `start()`, then `await headers()`; read the body with
 * `take()`/`wait()`. Or, on the lean client, `listen()` instead of awaiting: no promise per
 * step (the engine's first attempt, issue 13). Fields are plain for cheap access by the engine.
 */
export class UpstreamCall {
  /** HTTP status once headers arrived; 0 before, or after a failure before headers. */
  status = 0;
  /** Response headers `[name, value, …]`: names lower-cased, values latin1, in the upstream's order. */
  rawHeaders: string[] | null = null;
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
  /** True once undici wrote the whole request (headers and body) to the socket. */
  requestSent = false;

  #abort: ((err?: Error) => void) | null = null;
  #resume: (() => void) | null = null;
  #paused = false;
  #queue: Buffer[] = [];
  #queueBytes = 0;
  #waiter: (() => void) | null = null;
  #listener: UpstreamListener | null = null;
  /** A failure's notice to the listener is queued (a microtask). */
  #noticeQueued = false;
  #noticeCb: (() => void) | null = null;
  /** Fires when the first body byte is late: the SLA (FAIL_TTFT) or the first-byte timeout (FAIL_TIMEOUT). */
  #firstByteTimer: NodeJS.Timeout | null = null;
  /** Fires at the whole attempt's deadline, or the bounded body read's (readBody). */
  #deadlineTimer: NodeJS.Timeout | null = null;

  constructor() {
    keepShape(Shape.UpstreamCall, this);
  }

  /**
   * Dispatches the request on `pool` — through the lean HTTP/1.1 client when the pools gave
   * the origin one (plain http:, the default), else through undici. Never throws: failures
   * land in `failure`.
   */
  start(pool: Pool, req: UpstreamRequest): void {
    const lean = LEAN.get(pool);
    this.#arm(req, lean !== undefined);
    try {
      if (lean !== undefined) lean.dispatch(req.path, req.headers, req.body, req.headersTimeoutMs, req.bodyTimeoutMs, this);
      else
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
      this.fail(failureKind(err as Error), err as Error);
    }
  }

  /**
   * The proxy's fast path on the lean client (runtime/http1/client.ts `dispatchSpliced`): a
   * request head prebuilt by the target and the client's body with `model` spliced over
   * `src[s, e)`. `t` gives the timeouts (a TargetRuntime). Never throws.
   */
  startSpliced(lean: H1Pool, head: string, src: Uint8Array, s: number, e: number, model: Uint8Array, t: UpstreamTimeouts): void {
    this.#arm(t, true);
    try {
      lean.dispatchSpliced(head, src, s, e, model, t.headersTimeoutMs, t.bodyTimeoutMs, this);
    } catch (err) {
      this.fail(failureKind(err as Error), err as Error);
    }
  }

  /**
   * Precise timers of our own (the transports' are coarse): the earlier of the SLA and the
   * first-byte timeout, and the whole-attempt deadline. The lean client enforces a first-byte
   * bound of its own (its headers timeout lasts until the first body byte), so the default
   * first-byte timeout — 60 s, the same as the headers timeout — needs no timer per request
   * there; within its ~2 s precision.
   */
  #arm(t: UpstreamTimeouts, leanFirstByte: boolean): void {
    this.startedAt = performance.now();
    const ttft = t.maxTtftMs;
    let first = t.firstByteTimeoutMs;
    if (leanFirstByte && first > 0 && first === t.headersTimeoutMs) first = 0;
    if (ttft > 0 || first > 0) {
      const sla = ttft > 0 && (first <= 0 || ttft <= first);
      const ms = sla ? ttft : first;
      this.#firstByteTimer = setTimeout(() => {
        this.#firstByteTimer = null;
        if (this.ttfbMs >= 0) return;
        if (sla) this.fail(FAIL_TTFT, new Error(`no response byte within sla.max_ttft_ms (${ms} ms)`));
        else this.fail(FAIL_TIMEOUT, new Error(`no response byte within ${ms} ms`));
      }, ms);
    }
    if (t.deadlineMs > 0) {
      const ms = t.deadlineMs;
      this.#deadlineTimer = setTimeout(() => {
        this.#deadlineTimer = null;
        this.fail(FAIL_TIMEOUT, new Error(`attempt not complete within timeout_ms (${ms} ms)`));
      }, ms);
    }
  }

  /** Aborts the attempt (idempotent; the first failure wins). */
  fail(kind: number, err: Error): void {
    if (this.failure !== FAIL_NONE || this.ended) return;
    this.failure = kind;
    this.error = err;
    this.#clearTimers();
    const abort = this.#abort;
    this.#abort = null;
    if (abort !== null) abort(err);
    this.#wake();
    if (this.#listener !== null && !this.#noticeQueued) {
      // not from inside whatever called fail() (a timer, the client's abort, the transport)
      this.#noticeQueued = true;
      void RESOLVED.then((this.#noticeCb ??= () => this.#notice()));
    }
  }

  /**
   * The promise-free alternative to `headers()` and `wait()`, for attempts on the lean client
   * (its reads end with `onReadEnd`): `l.upstreamReady()` is called once, at the end of the
   * first socket read that brings the headers or more body bytes or the end, or from a
   * microtask after a failure (a timer, an abort, a broken connection). The listener is
   * cleared before it is called; to hear of more, check `take()` and listen again. Call it
   * before `start…`, so a failure while starting is heard too. The listener must not throw.
   */
  listen(l: UpstreamListener): void {
    this.#listener = l;
  }

  #notice(): void {
    this.#noticeQueued = false;
    const l = this.#listener;
    if (l === null) return;
    this.#listener = null;
    l.upstreamReady();
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

  /**
   * Reads the rest of the body into one Buffer, `first` (already taken) included: the whole
   * body, or null when it did not end within `deadlineMs` (FAIL_TIMEOUT; 0 = no deadline of
   * its own), grew past `limit` bytes (FAIL_TOO_LARGE: the upstream is aborted rather than
   * read on), or broke (check `failure`). Never a cut body that looks whole.
   */
  async readBody(first: Buffer, limit: number, deadlineMs: number): Promise<Buffer | null> {
    const parts: Buffer[] = first.length > 0 ? [first] : [];
    let size = first.length;
    if (deadlineMs > 0 && !this.ended && this.failure === FAIL_NONE) {
      this.#clearDeadline();
      this.#deadlineTimer = setTimeout(() => {
        this.#deadlineTimer = null;
        this.fail(FAIL_TIMEOUT, new Error(`response body not complete within ${deadlineMs} ms`));
      }, deadlineMs);
    }
    for (;;) {
      const c = this.take();
      if (c === undefined) {
        await this.wait();
        continue;
      }
      if (c === null) break;
      size += c.length;
      if (size > limit) {
        this.fail(FAIL_TOO_LARGE, new Error(`response body exceeds ${limit} bytes`));
        return null;
      }
      parts.push(c);
    }
    if (this.failure !== FAIL_NONE) return null;
    return parts.length === 1 ? parts[0] : parts.length === 0 ? EMPTY : Buffer.concat(parts, size);
  }

  #wake(): void {
    const w = this.#waiter;
    if (w !== null) {
      this.#waiter = null;
      w();
    }
  }

  #clearFirstByte(): void {
    if (this.#firstByteTimer !== null) {
      clearTimeout(this.#firstByteTimer);
      this.#firstByteTimer = null;
    }
  }

  #clearDeadline(): void {
    if (this.#deadlineTimer !== null) {
      clearTimeout(this.#deadlineTimer);
      this.#deadlineTimer = null;
    }
  }

  #clearTimers(): void {
    this.#clearFirstByte();
    this.#clearDeadline();
  }

  #firstByte(): void {
    this.ttfbMs = performance.now() - this.startedAt;
    this.#clearFirstByte();
  }

  // ---- undici dispatch handler (classic callbacks) ----

  onConnect(abort: (err?: Error) => void): void {
    if (this.failure !== FAIL_NONE) abort(this.error ?? undefined);
    else this.#abort = abort;
  }

  onHeaders(statusCode: number, rawHeaders: (Buffer | string)[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx informational: wait for the real response
    this.status = statusCode;
    // the lean client gives strings (names lower-cased); undici Buffers
    this.rawHeaders =
      rawHeaders.length > 0 && typeof rawHeaders[0] !== 'string' ? headerStrings(rawHeaders as Buffer[]) : (rawHeaders as string[]);
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
    this.#clearTimers();
    this.#wake();
  }

  onError(err: Error): void {
    if (this.failure !== FAIL_NONE) return; // our own abort coming back
    this.#abort = null;
    this.fail(failureKind(err), err);
  }

  /** The lean client finished handing over one socket read: the listener hears of it, if there is news. */
  onReadEnd(): void {
    if (this.#listener !== null && (this.status !== 0 || this.failure !== FAIL_NONE)) this.#notice();
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

  onRequestSent(): void {
    this.requestSent = true;
  }
}

/** undici's raw headers as the lean client gives them: names lower-cased, values latin1. */
function headerStrings(raw: Buffer[]): string[] {
  const out = new Array<string>(raw.length);
  for (let i = 0; i + 1 < raw.length; i += 2) {
    out[i] = raw[i].toString('latin1').toLowerCase();
    out[i + 1] = raw[i + 1].toString('latin1');
  }
  return out;
}

/** The lean client's pool serving an undici pool's origin, if {@link UpstreamPools} gave it one. */
export function leanPoolOf(pool: Pool): H1Pool | null {
  return LEAN.get(pool) ?? null;
}

/**
 * FAIL_* class of an undici error (the lean client's errors carry the same codes). Argument and validation errors mean undici refused to
 * send this request (a header value it will not write, …): the request's fault, so never
 * counted against the target (issue 8: two requests with a 0x7F byte in a header used to
 * put a target into cooldown for everyone). A closed or destroyed pool is the gateway's own
 * doing (drain).
 */
export function failureKind(err: Error): number {
  switch ((err as { code?: string }).code) {
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return FAIL_TIMEOUT;
    case 'UND_ERR_INVALID_ARG':
    case 'UND_ERR_NOT_SUPPORTED':
    case 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH':
      return FAIL_REFUSED;
    case 'UND_ERR_DESTROYED':
    case 'UND_ERR_CLOSED':
      return FAIL_LOCAL;
    case 'UND_ERR_ABORTED':
      return FAIL_ABORTED;
    default:
      return FAIL_NETWORK;
  }
}

/**
 * The lean HTTP/1.1 client (runtime/http1/client.ts) serving an undici pool's origin, when
 * {@link UpstreamPools} gave it one. The undici `Pool` stays the origin's handle (its type is
 * what targets hold), and opens no connection while the lean pool carries the traffic.
 */
const LEAN = new WeakMap<Pool, H1Pool>();

/** Which HTTP client carries upstream requests to plain-http origins: `h1` (default) or `undici`. */
export type UpstreamClient = 'h1' | 'undici';

/**
 * The client for plain-http origins: `VMC_UPSTREAM_CLIENT=undici|h1` (default h1, the lean
 * client; `https:` origins always use undici). Anything else is a start-up error.
 */
export function upstreamClientFromEnv(env: NodeJS.ProcessEnv = process.env): UpstreamClient {
  const v = env.VMC_UPSTREAM_CLIENT ?? '';
  if (v === '' || v === 'h1') return 'h1';
  if (v === 'undici') return 'undici';
  throw new Error(`VMC_UPSTREAM_CLIENT must be h1 or undici (got ${JSON.stringify(v)})`);
}

/** Keep-alive pools by origin. Shared across table generations; closed with the server. */
export class UpstreamPools {
  #pools = new Map<string, Pool>();
  #closed = false;
  readonly client: UpstreamClient;

  constructor(client: UpstreamClient = upstreamClientFromEnv()) {
    this.client = client;
  }

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
      if (this.client === 'h1' && H1Pool.supports(origin)) {
        LEAN.set(p, new H1Pool(origin, { keepAliveTimeout: 10_000, keepAliveMaxTimeout: 600_000, connectTimeout: 10_000 }));
      }
      this.#pools.set(origin, p);
    }
    return p;
  }

  /** The lean client's pool for an origin's pool, if it has one (tests, metrics). */
  lean(pool: Pool): H1Pool | undefined {
    return LEAN.get(pool);
  }

  /** Closes every pool (waits for in-flight requests on them to finish). */
  async close(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(
      pools.map((p) => {
        const lean = LEAN.get(p);
        return Promise.all([p.close().catch(() => p.destroy()), lean?.close()]);
      }),
    );
  }

  /** Destroys every pool at once (aborts in-flight upstream requests). */
  async destroy(): Promise<void> {
    this.#closed = true;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => Promise.all([p.destroy().catch(() => undefined), LEAN.get(p)?.destroy()])));
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

/** {@link forwardedRequestHeader}: the client's header is not forwarded. */
export const FORWARD_NEVER = 0;
/** Forwarded to every provider. */
export const FORWARD_ALWAYS = 1;
/** Forwarded only when the client's own credentials go upstream (the provider has no key). */
export const FORWARD_WITH_CLIENT_CREDENTIALS = 2;

/**
 * The allow-list of client request headers forwarded upstream (SPEC §3.6; issue 8). Every
 * other client header is dropped: cookies, `origin`, hop-by-hop and framing headers,
 * `accept-encoding` (the gateway splices bodies and injects SSE events: it asks for identity
 * encoding), `x-vmc-*` (they steer the gateway) and anything a provider might act on that the
 * operator did not choose. Configuration (`headers.set`, `set-headers` middleware) adds
 * headers regardless.
 *
 * - always: `accept`, `user-agent`, `x-request-id`, `traceparent`, `tracestate` (tracing),
 *   `anthropic-version` (the API version a client's SDK speaks);
 * - only with the client's own credentials (a provider without `api_key_env`): the credential
 *   headers themselves (`credentialNames`: `authorization`, `x-api-key`) and the account
 *   selectors `openai-organization`, `openai-project`, `anthropic-beta` — with the gateway's
 *   key a client must not pick the billing organization, project or beta features.
 *
 * `x-forwarded-for` is not forwarded as sent: the engine sets it to the client's value with
 * the peer address appended (target.ts).
 */
export function forwardedRequestHeader(name: string, credentialNames: readonly string[]): number {
  switch (name) {
    case 'accept':
    case 'user-agent':
    case 'x-request-id':
    case 'traceparent':
    case 'tracestate':
    case 'anthropic-version':
      return FORWARD_ALWAYS;
    case 'openai-organization':
    case 'openai-project':
    case 'anthropic-beta':
      return FORWARD_WITH_CLIENT_CREDENTIALS;
    default:
      return credentialNames.includes(name) ? FORWARD_WITH_CLIENT_CREDENTIALS : FORWARD_NEVER;
  }
}

/**
 * Index (in a flat `[name, value, …]` list) of the first value undici would refuse to write —
 * a byte other than HTAB, 0x20–0x7E or 0x80–0xFF, e.g. DEL (0x7F) or a control character —
 * or -1. The engine answers such a request 400 before any attempt (a client fault, never
 * the target's).
 */
export function invalidHeaderValue(flat: readonly string[]): number {
  for (let i = 1; i < flat.length; i += 2) {
    const v = flat[i];
    for (let j = 0; j < v.length; j++) {
      const c = v.charCodeAt(j);
      if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return i - 1;
    }
  }
  return -1;
}

/**
 * `Retry-After` of an upstream answer (RFC 9110 §10.2.3: delay-seconds or an HTTP-date) as
 * a delay in ms from `nowMs`; -1 when absent or unparsable. Cold (429/503 answers only).
 */
export function retryAfterMs(raw: readonly string[] | null, nowMs: number): number {
  if (raw === null) return -1;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i] !== 'retry-after') continue;
    const v = raw[i + 1].trim();
    if (/^\d+$/.test(v)) return Number(v) * 1000;
    const at = Date.parse(v);
    return Number.isNaN(at) ? -1 : Math.max(0, at - nowMs);
  }
  return -1;
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
