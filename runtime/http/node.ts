/**
 * The `node:http` engine (SPEC §10): the adapter contract on Node's own HTTP server, for every
 * Node line and platform where no native uWebSockets.js build loads (Node 22 and 24 on glibc
 * < 2.38, musl, …) or when `VMC_HTTP_ENGINE=node`. Same behaviour as runtime/http/uws.ts:
 *
 * - the request (method, url, query, lower-case flat headers) is copied into one exchange
 *   object; the body is read once with the size limit and the global in-flight budget
 *   (runtime/http/common.ts); a body that stalls for 10 s closes the connection;
 * - `write()` resolves when the socket drained (`'drain'`); `respond()` sends status, headers
 *   and body with a `Content-Length` in one write; an exchange counts as in flight until
 *   its response was flushed (`'finish'`), so a drain's `closeAll` cuts nothing already ended;
 * - while draining, responses whose headers are not sent yet carry `connection: close`;
 * - early answers (413, 503, 421, 400, 431) are followed by a lingering close: FIN after the
 *   answer, then the rest of the request is read and discarded (at least 8 MiB or 5 s) before
 *   the socket is destroyed, so the client reads the answer instead of a reset;
 * - parser errors (llhttp: malformed request, duplicate `Content-Length`, head too large) are
 *   answered at once with the JSON error envelope, then the same lingering close;
 * - `maxConnections`: connections beyond it get `503` + `Retry-After` on their first request
 *   (and are closed after 2 s without one); far beyond it Node refuses them at accept.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import { headerIndex, type HeaderValue, type HttpRequest, type HttpResponse, type HttpServer, type HttpServerOptions } from './adapter.js';
import {
  BODY_IDLE_TIMEOUT_MS,
  BodyReader,
  dispatch,
  ExchangeBase,
  LINGER_BYTES,
  LINGER_MS,
  MAX_HEADER_BYTES,
  RESOLVED,
  ServerState,
  statusLine,
  type Refusal,
} from './common.js';

/** Keep-alive idle timeout, ms (uWS closes idle connections after 10 s too). */
const KEEP_ALIVE_MS = 10_000;
/** A connection over `maxConnections` that sends no request is closed after this long, ms. */
const OVER_CAP_GRACE_MS = 2_000;

function noop(): void {}

const NON_ASCII = /[^\x00-\x7f]/;

/** Node-engine state on top of the shared one: connections and lingering sockets. */
class NodeState extends ServerState {
  connections = 0;
  /** Connections over `maxConnections` (their requests are refused with 503). */
  readonly overCap = new WeakSet<Socket>();
  /** Sockets in lingering close → `bytesRead` when it started. */
  readonly lingering = new WeakMap<Socket, number>();

  /** Starts a lingering close on `socket` after an early answer: FIN, discard, destroy. */
  linger(socket: Socket): void {
    if (this.lingering.has(socket)) return;
    this.lingering.set(socket, socket.bytesRead);
    socket.end();
    const timer = setTimeout(() => socket.destroy(), LINGER_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  /** True (and the socket destroyed) once a lingering socket read its byte allowance. */
  lingerDone(socket: Socket): boolean {
    const start = this.lingering.get(socket);
    if (start === undefined) return false;
    if (socket.bytesRead - start > LINGER_BYTES) socket.destroy();
    return true;
  }
}

/**
 * One request/response pair on `node:http`, in one fixed-shape object.
 * Implements both {@link HttpRequest} and {@link HttpResponse}.
 */
class NodeExchange extends ExchangeBase<NodeState> implements HttpRequest, HttpResponse {
  get remoteAddress(): string {
    return this.#req.socket.remoteAddress ?? '';
  }

  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  #contentLength = '';
  #chunked = false;
  #host: string | null = null;
  #declared = 0;
  #lingering = false;
  #drainResolve: (() => void) | null = null;
  readonly #onData: (chunk: Buffer) => void;
  readonly #onEnd: () => void;
  readonly #onDrain: () => void;
  readonly #onFinish: () => void;
  readonly #onClose: () => void;

  constructor(req: IncomingMessage, res: ServerResponse, state: NodeState) {
    super(state);
    this.#req = req;
    this.#res = res;
    this.method = req.method ?? 'GET';
    const u = req.url ?? '/';
    const q = u.indexOf('?');
    this.url = q < 0 ? u : u.slice(0, q);
    this.query = q < 0 ? '' : u.slice(q + 1);
    const raw = req.rawHeaders;
    const headers = this.headers;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const k = raw[i].toLowerCase();
      const v = raw[i + 1];
      headers.push(k, v);
      if (k === 'content-length') this.#contentLength = v;
      else if (k === 'transfer-encoding') this.#chunked = true;
      else if (k === 'host') this.#host = v;
    }
    this.#onData = (chunk) => this.#data(chunk);
    this.#onEnd = () => this.#bodyDone();
    this.#onDrain = () => {
      const r = this.#drainResolve;
      this.#drainResolve = null;
      if (r !== null) r();
    };
    this.#onFinish = () => this.settle();
    this.#onClose = () => {
      // after 'finish' this is the normal end; before it, the client went away
      if (!this.#res.writableFinished) this.handleAbort();
    };
    req.on('error', noop); // a client reset mid-body: 'close' below handles it
    res.on('drain', this.#onDrain);
    res.on('finish', this.#onFinish);
    res.on('close', this.#onClose);
    state.inFlight++;
  }

  /** Checks the request, then reads the body (if any) and calls the handler. */
  start(): void {
    const state = this.state;
    const refusals = state.refusals;
    const socket = this.#req.socket;
    const n = this.#contentLength === '' ? 0 : Number(this.#contentLength);
    this.#declared = Number.isSafeInteger(n) && n > 0 ? n : 0;
    const hasBody = this.#declared > 0 || this.#chunked;
    if (state.overCap.has(socket)) return this.#refuse(refusals.tooManyConnections, hasBody);
    if (state.hostAllowed !== null && !state.hostAllowed(this.#host)) return this.#refuse(refusals.hostNotAllowed, hasBody);
    if (!hasBody) return dispatch(this, state.opts);
    if (this.#declared > state.opts.maxBodyBytes) return this.#refuse(refusals.payloadTooLarge, true);
    this.reader = new BodyReader();
    socket.setTimeout(BODY_IDLE_TIMEOUT_MS); // a stalled upload: Node destroys the socket
    this.#req.on('data', this.#onData);
    this.#req.on('end', this.#onEnd);
  }

  #data(chunk: Buffer): void {
    if (this.#lingering) {
      this.state.lingerDone(this.#req.socket);
      return;
    }
    if (this.aborted) return;
    const state = this.state;
    const r = (this.reader as BodyReader).push(chunk, this.#declared, state.opts.maxBodyBytes, state.budget);
    if (r !== 0) this.#refuse(r === 413 ? state.refusals.payloadTooLarge : state.refusals.bodyBudgetExhausted, true);
  }

  #bodyDone(): void {
    if (this.#lingering || this.aborted) return;
    this.#req.socket?.setTimeout(0);
    this.body = (this.reader as BodyReader).result();
    dispatch(this, this.state.opts);
  }

  /**
   * Answers without the handler, `connection: close`. With body bytes still to come, Node's
   * close after the answer becomes a lingering close (NodeState.linger: the parser goes on
   * reading and discarding the body).
   */
  #refuse(r: Refusal, bodyUnread: boolean): void {
    const state = this.state;
    state.refused(r, this);
    this.finished = true;
    if (this.reader !== null) {
      this.reader.release(state.budget);
      this.reader = null;
    }
    const res = this.#res;
    if (bodyUnread) {
      this.#lingering = true;
      const socket = this.#req.socket;
      // Node ends a `connection: close` response with socket.destroySoon(), which would reset a
      // connection whose body is still arriving; linger instead (this socket is not reused)
      socket.destroySoon = () => state.linger(socket);
      if (this.#req.listenerCount('data') === 0) this.#req.on('data', this.#onData); // counts the discarded bytes
    }
    this.headersSent = true;
    const headers = [...(r.headers as string[]), 'content-length', String(r.body.byteLength), 'connection', 'close'];
    res.writeHead(r.status, headers);
    res.end(r.body);
  }

  handleAbort(): void {
    if (!this.counted) return;
    this.aborted = true;
    this.finished = true;
    this.settle();
    const cb = this.abortCb;
    this.abortCb = null;
    if (cb !== null) cb();
    this.#onDrain();
  }

  /** Sends status and headers (`contentLength` ≥ 0: add a Content-Length unless present). */
  #flushHead(contentLength: number): void {
    if (this.headersSent) return;
    this.headersSent = true;
    const h = this.head ?? [];
    this.head = null;
    const out: string[] = [];
    for (let i = 0; i + 1 < h.length; i += 2) {
      const v = h[i + 1];
      // Node writes header strings as latin1 and refuses characters above U+00FF; uWS writes
      // strings as UTF-8 and bytes as they are. Same bytes on the wire: byte values become
      // latin1 strings, non-ASCII strings their UTF-8 bytes as latin1
      out.push(
        h[i] as string,
        typeof v !== 'string'
          ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1')
          : NON_ASCII.test(v)
            ? Buffer.from(v, 'utf8').toString('latin1')
            : v,
      );
    }
    if (contentLength >= 0 && headerIndex(h, 'content-length') < 0) out.push('content-length', String(contentLength));
    if (this.state.draining) out.push('connection', 'close');
    try {
      this.#res.writeHead(this.statusCode, out);
    } catch {
      // a relayed header Node refuses to write (uWS would pass it): drop just that one
      this.#res.writeHead(this.statusCode, validHeaders(out));
    }
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.finished) return RESOLVED;
    this.#flushHead(-1);
    if (this.#res.write(chunk)) return RESOLVED;
    return new Promise<void>((resolve) => {
      if (this.finished) return resolve();
      this.#drainResolve = resolve;
    });
  }

  end(chunk?: Uint8Array): void {
    if (this.finished) return;
    this.finished = true;
    this.#flushHead(this.headersSent ? -1 : (chunk?.byteLength ?? 0));
    if (chunk !== undefined) this.#res.end(chunk);
    else this.#res.end();
  }

  respond(status: number, headers: readonly HeaderValue[], body: Uint8Array | string): void {
    if (this.finished) return;
    this.finished = true;
    this.statusCode = status;
    this.head = headers;
    // bytes, not a string: Node would send headers and a string body as one UTF-8 write,
    // turning latin1 header bytes into UTF-8
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    this.#flushHead(bytes.byteLength);
    this.#res.end(bytes);
  }

  close(): void {
    if (this.finished) return;
    this.finished = true;
    this.settle(); // a close we asked for is not a client abort
    this.#res.destroy();
  }
}

/** `out` without the pairs Node's header validation refuses. */
function validHeaders(out: string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i + 1 < out.length; i += 2) {
    try {
      http.validateHeaderName(out[i]);
      http.validateHeaderValue(out[i], out[i + 1]);
      kept.push(out[i], out[i + 1]);
    } catch {
      /* dropped */
    }
  }
  return kept;
}

/** A refusal as raw bytes, for sockets whose request could not be parsed. */
function rawRefusal(r: Refusal): Buffer {
  let head = `HTTP/1.1 ${statusLine(r.status)}\r\n`;
  for (let i = 0; i + 1 < r.headers.length; i += 2) head += `${r.headers[i] as string}: ${r.headers[i + 1] as string}\r\n`;
  head += `content-length: ${r.body.byteLength}\r\nconnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), r.body]);
}

/** llhttp error → the refusal it gets. */
function parseErrorRefusal(state: NodeState, err: NodeJS.ErrnoException & { reason?: string }): Refusal {
  const r = state.refusals;
  if (err.code === 'HPE_HEADER_OVERFLOW') return r.headersTooLarge;
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return r.requestTimeout;
  if (err.code === 'HPE_UNEXPECTED_CONTENT_LENGTH' || /content-length/i.test(err.reason ?? '')) return r.duplicateContentLength;
  return r.badRequestFor(err.reason);
}

/**
 * Starts a `node:http` server that hands every request to `opts.handler`. `reason` is why this
 * engine was chosen (runtime/http/listen.ts). Rejects when the port cannot be bound.
 */
export function listenNode(opts: HttpServerOptions, reason: string): Promise<HttpServer> {
  const state = new NodeState(opts);
  const server = http.createServer({
    maxHeaderSize: MAX_HEADER_BYTES,
    // uWS does not require Host either; with allowedHosts a missing Host is refused (421)
    requireHostHeader: false,
    headersTimeout: BODY_IDLE_TIMEOUT_MS,
    requestTimeout: 0, // bodies are bounded by their idle timeout, as on uWS
    keepAliveTimeout: KEEP_ALIVE_MS,
    connectionsCheckingInterval: 1_000,
    noDelay: true,
  });

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (state.lingering.has(req.socket)) {
      // a request after a refused body on a connection we are closing: not served
      req.resume();
      return;
    }
    new NodeExchange(req, res, state).start();
  };
  server.on('request', onRequest);
  // Expect: 100-continue — no "100 Continue" for a body the limit refuses anyway (413 at once)
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    const cl = Number(req.headers['content-length'] ?? 0);
    if (!(cl > opts.maxBodyBytes)) res.writeContinue();
    onRequest(req, res);
  });
  server.on('clientError', (err: NodeJS.ErrnoException & { reason?: string }, socket: Socket) => {
    if (state.lingerDone(socket)) return; // the parser re-reports its error for every chunk while we linger
    const parseError = typeof err.code === 'string' && (err.code.startsWith('HPE_') || err.code === 'ERR_HTTP_REQUEST_TIMEOUT');
    const busy = (socket as Socket & { _httpMessage?: unknown })._httpMessage != null;
    if (!parseError || !socket.writable || busy) {
      // a socket error, or a bad request pipelined behind a response in progress: nothing to answer
      socket.destroy();
      return;
    }
    const r = parseErrorRefusal(state, err);
    state.refused(r, null);
    socket.write(rawRefusal(r));
    state.linger(socket);
  });
  const cap = opts.maxConnections;
  if (cap !== undefined && cap > 0) {
    // beyond the soft cap plus slack, Node drops connections at accept
    server.maxConnections = cap + Math.max(16, Math.ceil(cap / 10));
    server.on('connection', (socket: Socket) => {
      state.connections++;
      socket.once('close', () => state.connections--);
      if (state.connections > cap) {
        state.overCap.add(socket);
        const t = setTimeout(() => socket.destroy(), OVER_CAP_GRACE_MS);
        t.unref();
        socket.once('close', () => clearTimeout(t));
      }
    });
  }

  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new Error(`vmc: cannot listen on ${opts.host}:${opts.port} (${err.code ?? err.message})`));
    };
    server.once('error', onError);
    server.listen({ host: opts.host, port: opts.port }, () => {
      server.off('error', onError);
      server.on('error', noop); // after listening: accept errors (EMFILE) are libuv's to handle
      const port = (server.address() as { port: number }).port;
      let listening = true;
      resolve({
        port,
        engine: 'node',
        engineReason: reason,
        get inFlight() {
          return state.inFlight;
        },
        stopListening() {
          state.draining = true;
          if (listening) {
            listening = false;
            // net's close only: http's also destroys every connection whose response was
            // ended, flushed or not (a large answer still going out would be cut)
            net.Server.prototype.close.call(server);
          }
        },
        whenIdle() {
          return state.whenIdle();
        },
        closeAll() {
          listening = false;
          server.close(); // stops the connections-checking timer too
          server.closeAllConnections();
        },
      } satisfies HttpServer);
    });
  });
}
