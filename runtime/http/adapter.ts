/**
 * The HTTP adapter contract: what the gateway sees of an HTTP engine (SPEC §10: uWebSockets.js
 * where a native build loads, `node:http` otherwise, same behaviour). The server, the engine
 * and the relay use only these types; an engine module (runtime/http/uws.ts, …) implements
 * them, and runtime/http/listen.ts picks the engine.
 */

/** The request as the server sees it: copied out of the engine, safe to use after awaits. */
export interface HttpRequest {
  /** Upper-case method, e.g. `POST`. */
  readonly method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  readonly url: string;
  /** Raw query string without `?` ('' when none). */
  readonly query: string;
  /** Flat `[name, value, name, value, …]`; names lower-case, in arrival order. */
  readonly headers: string[];
  /** The whole body (empty Buffer when none). */
  readonly body: Buffer;
  /** First value of a header (`name` lower-case), or null. Linear scan: headers are few. */
  header(name: string): string | null;
  /**
   * The client's IP address as text ('' when unknown), read on first use (the engine appends it
   * to `x-forwarded-for` upstream). Valid until the response is finished.
   */
  readonly remoteAddress: string;
}

/** The response writer. All methods are no-ops once the client aborted or the response ended. */
export interface HttpResponse {
  /** True once the client went away; nothing more can be sent. */
  readonly aborted: boolean;
  /** True once the status line has been written (no more fallback possible). */
  readonly headersSent: boolean;
  /** True once `end`/`respond` ran or the client aborted. */
  readonly finished: boolean;
  /** The status set by writeHead/respond (200 before either). */
  readonly status: number;
  /** Registers the (single) callback run when the client aborts. */
  onAbort(cb: (() => void) | null): void;
  /**
   * Stores the status and headers (flat `[name, value, …]`; values may be raw bytes, as
   * undici hands them, so non-ASCII values pass through unchanged); flushed with the first
   * write/end.
   */
  writeHead(status: number, headers: readonly HeaderValue[]): void;
  /** Streams a chunk; resolves when the engine has drained it (immediately when there is no backpressure). */
  write(chunk: Uint8Array): Promise<void>;
  /** Ends the response, optionally with a last chunk. */
  end(chunk?: Uint8Array): void;
  /** writeHead + end in one corked batch, with a Content-Length. */
  respond(status: number, headers: readonly HeaderValue[], body: Uint8Array | string): void;
  /** Forcefully closes the connection (used when a non-SSE body breaks mid-way). */
  close(): void;
}

/** A header name or value in a flat header list: names are strings, values may be bytes. */
export type HeaderValue = string | Uint8Array;

/**
 * Index of the first `name` in a flat `[name, value, …]` list (names lower-case), or -1.
 * A linear scan: header lists are short, and a Map would cost more to build than it saves.
 */
export function headerIndex(flat: readonly HeaderValue[], name: string): number {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return i;
  return -1;
}

/** `content-type: application/json`, as a flat header list (shared, never mutated). */
export const JSON_HEADERS: readonly HeaderValue[] = Object.freeze(['content-type', 'application/json']);

/** Request handler; a rejection is logged and answered with 500 if nothing was sent yet. */
export type HttpHandler = (req: HttpRequest, res: HttpResponse) => void | Promise<void>;

export interface HttpServerOptions {
  host: string;
  /** 0 = ephemeral. */
  port: number;
  /** Bodies larger than this get 413 (SPEC §9, `--max-body`). */
  maxBodyBytes: number;
  handler: HttpHandler;
  /** Body of the 413 answer (the server's JSON error envelope). */
  payloadTooLargeBody: Uint8Array;
  /** Body of the 500 answer when the handler throws before responding. */
  internalErrorBody: Uint8Array;
  /** Called with handler rejections (for logging). */
  onError?: (err: unknown, req: HttpRequest) => void;
  /** Called when a request was refused with 413 (the server logs and counts it). */
  onPayloadTooLarge?: (req: { readonly method: string; readonly url: string }) => void;
  /** Host header values admitted (lower-case, `host` or `host:port`); absent = any (SPEC §10 hardening). */
  allowedHosts?: readonly string[];
  /** Open client connections at most; further connections are refused cleanly. Absent = no cap. */
  maxConnections?: number;
  /** Request body bytes held in memory across all requests at most; absent = no cap. */
  maxInflightBodyBytes?: number;
  /**
   * The engine to run, overriding `VMC_HTTP_ENGINE` and the automatic choice (runtime/http/listen.ts).
   * `uws` throws when no native uWebSockets.js build loads.
   */
  engine?: HttpEngineName;
  /**
   * Called for every request the engine answered by itself, without the handler (SPEC §10
   * refusals, docs/runtime.md "HTTP engines"): `kind` is one of `payload_too_large` (413),
   * `bad_request` (400), `headers_too_large` (431), `host_not_allowed` (421),
   * `too_many_connections` (503), `body_budget_exhausted` (503), `request_timeout` (408).
   * `req` is null when the request could not be parsed. For logging and counting.
   */
  onRefusal?: (status: number, kind: string, req: { readonly method: string; readonly url: string } | null) => void;
  /** Engine incidents worth a warning line (accepting paused at the descriptor limit, resumed). */
  onNotice?: (msg: string, fields: Record<string, unknown>) => void;
}

/** The HTTP engines (SPEC §10). */
export type HttpEngineName = 'uws' | 'node';

/** A listening server, whichever engine runs it. */
export interface HttpServer {
  /** The bound port (resolved when 0 was asked). */
  readonly port: number;
  /** Which engine serves (`GET /health` reports it as `http_engine`). */
  readonly engine: HttpEngineName;
  /** Why this engine was chosen (the start-up log line says it). */
  readonly engineReason: string;
  /** Requests received and not yet finished (ended or aborted). */
  readonly inFlight: number;
  /** Stops accepting connections; in-flight requests continue; later responses close their connection. */
  stopListening(): void;
  /** Resolves when no request is in flight (immediately if none). */
  whenIdle(): Promise<void>;
  /** Closes every socket, including idle keep-alive ones. Call after `stopListening` + `whenIdle`. */
  closeAll(): void;
}
