/**
 * What both HTTP engines share (SPEC §10: "same behaviour"): the protocol limits and the
 * refusals the engine answers by itself, the request-body accumulator with its size limit and
 * the global in-flight budget, the Host allow-list, drain bookkeeping and handler dispatch.
 * runtime/http/uws.ts and runtime/http/node.ts implement the wire side; docs/runtime.md
 * ("HTTP engines") lists the limits and statuses.
 */
import { gatewayErrorBody, type GatewayErrorType } from '../errors.js';
import { headerIndex, JSON_HEADERS, type HeaderValue, type HttpRequest, type HttpResponse, type HttpServerOptions } from './adapter.js';
import { keepShape, Shape } from '../shapes.js';

/** Lingering close after an early answer (SPEC §10): discard at least this much of the unread body… */
export const LINGER_BYTES = 8 * 1024 * 1024;
/** …or for this long, before closing (whichever comes first). */
export const LINGER_MS = 5_000;
/** A request body that makes no progress for this long is abandoned (uWS's fixed HTTP idle timeout). */
export const BODY_IDLE_TIMEOUT_MS = 10_000;
/** Request head (request line + headers) larger than this: 431. */
export const MAX_HEADER_BYTES = 64 * 1024;
/** `Retry-After` (seconds) of the 503 refusals of the connection and body caps. */
export const RETRY_AFTER_SECONDS = '1';

const RESOLVED: Promise<void> = Promise.resolve();
export { RESOLVED };
export const EMPTY = Buffer.alloc(0);

const REASONS: Record<number, string> = {
  100: 'Continue',
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
  421: 'Misdirected Request',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
  529: 'Overloaded',
};

/** `"200 OK"`-style status lines for every code (uWS wants the whole line). */
const STATUS_LINES: string[] = (() => {
  const lines: string[] = [];
  for (let s = 0; s < 600; s++) lines.push(`${s} ${REASONS[s] ?? 'Status'}`);
  return lines;
})();

/** The status line of `status` (500's for anything outside 100–599). */
export function statusLine(status: number): string {
  return status >= 100 && status < 600 ? STATUS_LINES[status] : STATUS_LINES[500];
}

/** The reason phrase of `status`. */
export function reasonPhrase(status: number): string {
  return REASONS[status] ?? 'Status';
}

// ---- refusals: answers the engine gives by itself ----

/** Why the engine answered a request without calling the handler (docs/runtime.md lists them). */
export type RefusalKind =
  | 'payload_too_large' // 413: body over maxBodyBytes
  | 'bad_request' // 400: malformed request (parser error), duplicate Content-Length
  | 'headers_too_large' // 431: request head over MAX_HEADER_BYTES
  | 'host_not_allowed' // 421: Host not in allowedHosts
  | 'too_many_connections' // 503: over maxConnections
  | 'body_budget_exhausted' // 503: over maxInflightBodyBytes
  | 'request_timeout'; // 408: request head or body stalled

/** A ready-to-send refusal: status, extra headers and the SPEC §3 error envelope. */
export interface Refusal {
  readonly kind: RefusalKind;
  readonly status: number;
  readonly headers: readonly HeaderValue[];
  readonly body: Uint8Array;
}

function refusal(kind: RefusalKind, status: number, type: GatewayErrorType, message: string, retryAfter = false): Refusal {
  const headers: HeaderValue[] = [...JSON_HEADERS];
  if (retryAfter) headers.push('retry-after', RETRY_AFTER_SECONDS);
  return Object.freeze({ kind, status, headers: Object.freeze(headers), body: gatewayErrorBody(status, type, message) });
}

/** The refusals of one server (bodies built once; the 413 body comes from the server's options). */
export class Refusals {
  readonly payloadTooLarge: Refusal;
  readonly badRequest = refusal('bad_request', 400, 'invalid_request_error', 'malformed HTTP request');
  /** Parser reasons seen so far → their 400 (llhttp has a few dozen fixed reasons). */
  readonly #badRequestBy = new Map<string, Refusal>();
  readonly duplicateContentLength = refusal(
    'bad_request',
    400,
    'invalid_request_error',
    'conflicting Content-Length headers (or Content-Length with Transfer-Encoding)',
  );
  readonly headersTooLarge = refusal(
    'headers_too_large',
    431,
    'invalid_request_error',
    `request headers exceed ${MAX_HEADER_BYTES} bytes (or too many header fields)`,
  );
  readonly hostNotAllowed = refusal(
    'host_not_allowed',
    421,
    'invalid_request_error',
    'the Host header names a host this gateway does not serve (allowed hosts)',
  );
  readonly tooManyConnections = refusal(
    'too_many_connections',
    503,
    'provider_error',
    'gateway busy: too many open connections; retry later',
    true,
  );
  readonly bodyBudgetExhausted = refusal(
    'body_budget_exhausted',
    503,
    'provider_error',
    'gateway busy: too many request bytes in flight; retry later',
    true,
  );
  readonly requestTimeout = refusal('request_timeout', 408, 'invalid_request_error', 'request not received in time');

  constructor(opts: HttpServerOptions) {
    const headers = Object.freeze([...JSON_HEADERS]);
    this.payloadTooLarge = Object.freeze({ kind: 'payload_too_large', status: 413, headers, body: opts.payloadTooLargeBody });
  }

  /** The 400 naming the parser's reason (e.g. "Invalid header value char"). */
  badRequestFor(reason: string | undefined): Refusal {
    if (reason === undefined || reason === '' || !/^[\x20-\x7e]{1,100}$/.test(reason)) return this.badRequest;
    let r = this.#badRequestBy.get(reason);
    if (r === undefined) {
      r = refusal('bad_request', 400, 'invalid_request_error', `malformed HTTP request: ${reason}`);
      if (this.#badRequestBy.size < 64) this.#badRequestBy.set(reason, r);
    }
    return r;
  }
}

// ---- Host allow-list (DNS rebinding: a web page must not make a local browser call the gateway) ----

/**
 * Compiles `allowedHosts` into a predicate over the Host header value. An entry `name` admits
 * that host on any port, `name:port` only that port; names compare case-insensitively;
 * IPv6 literals are written in brackets (`[::1]`). A request without Host is refused.
 * Returns null when every host is admitted (no list configured).
 */
export function hostMatcher(allowed: readonly string[] | undefined): ((host: string | null) => boolean) | null {
  if (allowed === undefined) return null;
  const anyPort = new Set<string>();
  const exact = new Set<string>();
  for (const raw of allowed) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (splitHost(entry)[1] === '') anyPort.add(entry);
    else exact.add(entry);
  }
  return (host) => {
    if (host === null || host === '') return false;
    const h = host.trim().toLowerCase();
    if (exact.has(h)) return true;
    return anyPort.has(splitHost(h)[0]);
  };
}

/** `[name, port]` of a Host value (`port` '' when absent); IPv6 names keep their brackets. */
function splitHost(h: string): [string, string] {
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end < 0) return [h, ''];
    return [h.slice(0, end + 1), h.charCodeAt(end + 1) === 58 /* : */ ? h.slice(end + 2) : ''];
  }
  const colon = h.lastIndexOf(':');
  return colon < 0 ? [h, ''] : [h.slice(0, colon), h.slice(colon + 1)];
}

// ---- request-body bytes held in memory, across all requests ----

/**
 * The global budget of request-body bytes held in memory (`maxInflightBodyBytes`). Bodies
 * reserve the capacity of their buffer as it grows and give it back when their exchange
 * finishes; a growth that does not fit is refused with 503 (no unbounded memory: 400
 * stalled 4 MiB uploads used to hold 1.7 GB).
 */
export class BodyBudget {
  /** Bytes reserved now. */
  used = 0;
  readonly #max: number;

  constructor(max: number | undefined) {
    this.#max = max === undefined || !(max > 0) ? Infinity : max;
  }

  /** Reserves `n` bytes; false (nothing reserved) when they do not fit. */
  tryReserve(n: number): boolean {
    if (this.used + n > this.#max) return false;
    this.used += n;
    return true;
  }

  release(n: number): void {
    this.used -= n;
  }
}

/** First buffer for a body announced with `Content-Length` (larger ones grow as bytes arrive). */
const BODY_PREALLOC = 64 * 1024;

/**
 * Result of {@link BodyReader.push}: 0 = keep reading, or the refusal's status (413 over the
 * size limit, 503 over the global budget).
 */
export type PushResult = 0 | 413 | 503;

/**
 * One request body being read: a buffer that grows with the bytes that actually arrived
 * (never sized from a `Content-Length` the client has not sent yet, beyond
 * {@link BODY_PREALLOC}), bounded by the size limit, with its capacity reserved in the
 * server's {@link BodyBudget}. Small bodies (the common case) get one exact allocation.
 */
export class BodyReader {
  buf: Buffer = EMPTY;
  len = 0;
  /** Bytes reserved in the budget (the buffer's capacity). */
  reserved = 0;

  constructor() {
    keepShape(Shape.BodyReader, this);
  }

  /** Appends a chunk (copied); 0, or the status of the refusal to send. */
  // HOT PATH: allocation-free — change with care (per body chunk; allocates only when the buffer grows)
  push(chunk: Uint8Array, declared: number, max: number, budget: BodyBudget): PushResult {
    const n = chunk.byteLength;
    const len = this.len + n;
    if (len > max) return 413;
    if (len > this.buf.length) {
      // first chunk: the announced length when small, else enough for what arrived; then double
      // (a Content-Length body never outgrows its announced length: the parsers frame it)
      const want =
        this.buf.length === 0 && declared > 0 && declared <= BODY_PREALLOC
          ? Math.max(declared, len)
          : Math.max(len, Math.min(declared > 0 ? declared : max, Math.max(this.buf.length * 2, declared > 0 ? BODY_PREALLOC : 1024)));
      if (!budget.tryReserve(want - this.reserved)) return 503;
      const grown = Buffer.allocUnsafe(want);
      if (this.len > 0) this.buf.copy(grown, 0, 0, this.len);
      this.buf = grown;
      this.reserved = want;
    }
    this.buf.set(chunk, this.len);
    this.len = len;
    return 0;
  }

  /** The body read so far (a view, no copy). */
  result(): Buffer {
    return this.len === this.buf.length ? this.buf : this.buf.subarray(0, this.len);
  }

  /** Gives the reservation back (exchange finished). */
  release(budget: BodyBudget): void {
    if (this.reserved > 0) {
      budget.release(this.reserved);
      this.reserved = 0;
    }
  }
}

// ---- drain bookkeeping ----

/** Server-wide state both engines keep: in-flight count, drain flag, idle waiters, body budget. */
export class ServerState {
  inFlight = 0;
  draining = false;
  idleWaiters: (() => void)[] = [];
  readonly budget: BodyBudget;
  readonly refusals: Refusals;
  readonly hostAllowed: ((host: string | null) => boolean) | null;

  constructor(readonly opts: HttpServerOptions) {
    this.budget = new BodyBudget(opts.maxInflightBodyBytes);
    this.refusals = new Refusals(opts);
    this.hostAllowed = hostMatcher(opts.allowedHosts);
  }

  done(): void {
    this.inFlight--;
    if (this.inFlight === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return RESOLVED;
    return new Promise<void>((r) => this.idleWaiters.push(r));
  }

  /** Reports a refusal to the server's hooks (413 → onPayloadTooLarge; all → onRefusal). */
  refused(r: Refusal, req: { readonly method: string; readonly url: string } | null): void {
    if (r.status === 413 && req !== null) this.opts.onPayloadTooLarge?.(req);
    this.opts.onRefusal?.(r.status, r.kind, req);
  }
}

// ---- request checks shared by the engines ----

/**
 * True when a flat lower-case header list has more than one `content-length` (request
 * smuggling: a front proxy may honour the other one). RFC 9112 §6.3 allows rejecting even
 * identical duplicates; llhttp (the node engine's parser) does, so both engines do.
 */
export function duplicateContentLength(headers: readonly string[]): boolean {
  let seen = false;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] !== 'content-length') continue;
    if (seen) return true;
    seen = true;
  }
  return false;
}

// ---- handler dispatch ----

// ---- the exchange both engines build ----

/**
 * What the engines' exchanges (node.ts NodeExchange, uws.ts UwsExchange) share: the request
 * fields the handler reads, the response head set by writeHead, the abort callback, and the
 * in-flight bookkeeping (`settle`: the exchange no longer counts, its body reservation is
 * returned). Each engine adds how it reads and writes bytes.
 */
export abstract class ExchangeBase<S extends ServerState = ServerState> {
  method = '';
  url = '';
  query = '';
  headers: string[] = [];
  body: Buffer = EMPTY;
  aborted = false;
  headersSent = false;
  finished = false;

  protected readonly state: S;
  protected reader: BodyReader | null = null;
  protected statusCode = 200;
  protected head: readonly HeaderValue[] | null = null;
  protected abortCb: (() => void) | null = null;
  /** Still counted in the server's in-flight requests. */
  protected counted = true;

  constructor(state: S) {
    this.state = state;
    // the object, not its map: by the time a GC runs, the subclass's constructor has finished
    keepShape(Shape.HttpExchange, this);
  }

  /** The exchange is over for the server: no longer in flight, body reservation returned. */
  protected settle(): void {
    if (!this.counted) return;
    this.counted = false;
    this.reader?.release(this.state.budget);
    this.state.done();
  }

  // ---- HttpRequest ----

  header(name: string): string | null {
    const i = headerIndex(this.headers, name);
    return i < 0 ? null : this.headers[i + 1];
  }

  // ---- HttpResponse ----

  get status(): number {
    return this.statusCode;
  }

  onAbort(cb: (() => void) | null): void {
    this.abortCb = cb;
  }

  writeHead(status: number, headers: readonly HeaderValue[]): void {
    this.statusCode = status;
    this.head = headers;
  }
}

/** An engine's exchange, as dispatch sees it. */
export type Exchange = HttpRequest & HttpResponse;

/** Calls the handler; a throw or rejection is reported and answered with 500 (or a close). */
export function dispatch(ex: Exchange, opts: HttpServerOptions): void {
  let p: void | Promise<void>;
  try {
    p = opts.handler(ex, ex);
  } catch (err) {
    fail(ex, opts, err);
    return;
  }
  if (p !== undefined) p.then(undefined, (err) => fail(ex, opts, err));
}

function fail(ex: Exchange, opts: HttpServerOptions, err: unknown): void {
  opts.onError?.(err, ex);
  answerInternalError(ex, opts.internalErrorBody);
}

/** The answer to a request whose handling threw: 500 with `body`, or a close when the response had started. */
export function answerInternalError(res: HttpResponse, body: Uint8Array | string): void {
  if (res.finished) return;
  if (!res.headersSent) res.respond(500, JSON_HEADERS, body);
  else res.close();
}
