/**
 * Everything the engine needs about one target (a provider model inside a virtual model),
 * derived once per table generation: its upstream pool and paths, credentials, header and body
 * rules, timeouts, retry settings and metric series.
 *
 * What a provider type means (URL rule, translation, credential placement, default headers)
 * comes from its module in runtime/providers/, composed by providers/routes.ts
 * (`targetRoutes`); the provider's credentials and SPEC §13 extras (`auth`, `headers`,
 * `query`, signers) come from providers/credentials.ts (`setupProvider`, one per provider and
 * generation). This class only applies them to one target.
 */
import type { Pool } from 'undici';
import type { H1Pool } from './http1/client.js';
import type { HeaderValue } from './http/adapter.js';
import type { CompiledMiddleware } from './middleware.js';
import type { Metrics, SeriesSet } from './metrics.js';
import { setupProvider, tableProvider, type ProviderSetup } from './providers/credentials.js';
import { CREDENTIAL_HEADER_NAMES, type WireFormat } from './providers/index.js';
import { targetRoutes } from './providers/routes.js';
import type { RequestSigner } from './providers/signer.js';
import type { BackendFormat, ProviderType } from './table/normalized.js';
import type { RoutingTable } from './table/reader.js';
import {
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  FORWARD_ALWAYS,
  FORWARD_NEVER,
  forwardedRequestHeader,
  invalidHeaderValue,
  leanPoolOf,
  type UpstreamPools,
} from './upstream.js';
import { XLATE_NONE } from './wire/translate.js';

/** What a target takes from its generation besides the table. */
export interface TargetOptions {
  /**
   * Provider name → base URL replacing the table's (`vmc serve --provider-url NAME=URL`);
   * everything else — type, credentials, headers — stays the provider's.
   */
  readonly providerUrls?: ReadonlyMap<string, string>;
  /**
   * The provider's credentials and extras (the Generation computes one per provider); default:
   * `setupProvider` over `process.env` now.
   */
  readonly setup?: ProviderSetup;
  /**
   * Gateway keys are on (SPEC §12): the client's `authorization` and `x-api-key` authenticate
   * it to the gateway and are never forwarded upstream, whatever the provider.
   */
  readonly gatewayKeys?: boolean;
}

export class TargetRuntime {
  readonly id: number;
  readonly label: string;
  readonly model: string;
  readonly providerName: string;
  readonly providerType: ProviderType;
  /** NeMo `backend_format` of the target, or null. */
  readonly backendFormat: BackendFormat;
  /** Wire format spoken upstream: `backend_format`, else the provider type's. */
  readonly wire: WireFormat;
  /** Pool origin (`http(s)://host[:port]`): what a signer signs as the host. */
  readonly origin: string;
  readonly pool: Pool;
  /** The lean HTTP/1.1 client's pool for `origin` (plain http), else null: undici carries the requests. */
  readonly lean: H1Pool | null;
  /** Upstream path (query included) by client endpoint; null = this target cannot serve that endpoint. */
  readonly paths: (string | null)[];
  /**
   * Upstream path for a streaming request (client body `stream: true`) by client endpoint: the
   * same string as `paths[ep]` unless the provider streams elsewhere (Bedrock, Gemini, Vertex).
   */
  readonly streamPaths: (string | null)[];
  /** XLATE_* mode by client endpoint. */
  readonly xlate: number[];
  /** Model written into upstream bodies that carry one: the target's model, or Azure v1's deployment. */
  readonly bodyModel: string;
  /** `bodyModel` JSON-escaped, without quotes: spliced into bodies as is. */
  readonly modelJsonBytes: Buffer;
  /** Parsed override_params, or null. */
  readonly overrides: Record<string, unknown> | null;
  readonly headersSet: readonly [string, string][];
  readonly headersRemove: readonly string[];
  /** Static credential headers `[name, value, …]` (a key placed in a header), or null. */
  readonly credentials: string[] | null;
  /**
   * The provider authenticates itself (a key is set, in a header or the query, or it signs):
   * the client's credential headers are not forwarded (SPEC §3.6).
   */
  readonly ownsCredentials: boolean;
  /** The provider's `headers` settings, `${ENV}` resolved: `[name, value, …]`. */
  readonly providerHeaders: readonly string[];
  /** Per-request credentials (SigV4, OAuth), or null: the engine signs every attempt. */
  readonly signer: RequestSigner | null;
  /** SPEC §12: the client's `authorization` / `x-api-key` are never forwarded. */
  readonly gatewayKeys: boolean;
  /** `[name, value]` pairs sent when no other source set the name (the wire module's). */
  readonly defaultHeaders: readonly (readonly [string, string])[];
  /** undici's idle timers (backstops): headers, and between body chunks. */
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  /** First body byte within this many ms of sending; 0 = none (the deadline covers it). */
  readonly firstByteTimeoutMs: number;
  /** The whole attempt (headers and entire body) within this many ms: provider `timeout_ms`; 0 = none. */
  readonly deadlineMs: number;
  readonly maxTtftMs: number;
  readonly retryAttempts: number;
  readonly retryDelayMs: number;
  readonly series: SeriesSet;
  /** The last credentials problem logged for this target (engine.ts logs each new one once). */
  lastCredentialsProblem: string | null = null;
  /** The engine's x-vmc-* response headers for a first-attempt answer from this target (cached; engine.ts). */
  vmcHeaders1: readonly HeaderValue[] | null = null;
  /**
   * Prebuilt request heads (issue 13), for the lean client and a target without a signer: per
   * endpoint the request line and `host` (null: not prebuilt), the static header lines (the
   * provider's headers, credentials, `headers.set`, as {@link buildHeaders} orders them), the
   * wire module's defaults each as its line (sent unless a forwarded client header has the
   * name), and the content-type line. Null when any static value could not be sent.
   */
  readonly #headStart: (string | null)[] = [];
  #staticLines: string | null = null;
  #defaultNames: string[] = [];
  #defaultLines: string[] = [];
  #contentTypeLine = '';
  /**
   * The wire format is one no client speaks (Bedrock, Gemini): every request is translated, and
   * the client's `accept` and `anthropic-version` describe the client's format, not this one.
   */
  readonly #ownFormat: boolean;

  constructor(table: RoutingTable, t: number, vmName: string, pools: UpstreamPools, metrics: Metrics, opts: TargetOptions = {}) {
    const p = table.targetProvider(t);
    this.id = t;
    this.label = table.targetLabel(t);
    this.model = table.targetModel(t);
    this.providerName = table.providerName(p);
    this.providerType = table.providerType(p);
    this.backendFormat = table.targetBackendFormat(t);
    const setup = opts.setup ?? setupProvider(tableProvider(table, p), process.env);
    const baseUrl = opts.providerUrls?.get(this.providerName) ?? table.providerBaseUrl(p);
    const routes = targetRoutes(this.providerType, this.backendFormat, baseUrl, this.model, table.providerOptions(p), setup.query);
    this.wire = routes.wire;
    this.#ownFormat = routes.wire !== 'openai' && routes.wire !== 'anthropic';
    this.origin = routes.origin;
    this.pool = pools.get(routes.origin);
    this.lean = leanPoolOf(this.pool);
    this.paths = routes.paths;
    this.streamPaths = routes.streamPaths;
    this.xlate = routes.xlate;
    this.defaultHeaders = routes.defaultHeaders;
    this.bodyModel = routes.bodyModel;
    this.modelJsonBytes = Buffer.from(JSON.stringify(routes.bodyModel).slice(1, -1), 'utf8');
    const ov = table.targetOverrideParams(t);
    this.overrides = ov === null ? null : (JSON.parse(ov) as Record<string, unknown>);
    this.headersSet = table.targetHeadersSet(t);
    this.headersRemove = table.targetHeadersRemove(t);
    // credentials follow the provider type, even when backend_format changes the wire format
    this.credentials = setup.credentials;
    this.ownsCredentials = setup.ownsCredentials;
    this.providerHeaders = setup.headers;
    this.signer = setup.signer;
    this.gatewayKeys = opts.gatewayKeys === true;
    // `timeout_ms` bounds the whole attempt (README: "upstream timeout for one whole attempt");
    // without it: the first body byte within 60 s, then at most 300 s between chunks.
    const timeout = table.providerTimeoutMs(p);
    this.headersTimeoutMs = timeout > 0 ? timeout : DEFAULT_HEADERS_TIMEOUT_MS;
    this.bodyTimeoutMs = timeout > 0 ? timeout : DEFAULT_BODY_TIMEOUT_MS;
    this.firstByteTimeoutMs = timeout > 0 ? 0 : DEFAULT_HEADERS_TIMEOUT_MS;
    this.deadlineMs = timeout > 0 ? timeout : 0;
    this.maxTtftMs = table.targetMaxTtftMs(t);
    this.retryAttempts = table.targetRetryAttempts(t);
    this.retryDelayMs = table.targetRetryDelayMs(t);
    this.series = metrics.series(vmName, this.label);
    if (this.lean !== null && this.signer === null) this.#prebuildHeads(this.lean.hostHeader);
  }

  /** The static parts of {@link fastHead} (see #headStart). */
  #prebuildHeads(host: string): void {
    // the general rule with no client headers and no middleware: sources 3–5, defaults, content-type
    const all = this.#build([], [], [], null);
    if (invalidHeaderValue(all) >= 0 || !all.every((v, i) => i % 2 === 1 || HEADER_NAME.test(v))) return;
    if (!LINE_SAFE.test(host)) return;
    const defaults = this.defaultHeaders;
    let lines = '';
    let contentType = '';
    for (let i = 0; i < all.length; i += 2) {
      const name = all[i];
      const line = name + ': ' + all[i + 1] + '\r\n';
      const d = defaults.findIndex((x) => x[0] === name);
      if (d >= 0 && !this.#setByStatic(name)) {
        this.#defaultNames.push(name);
        this.#defaultLines.push(line);
      } else if (name === 'content-type' && i === all.length - 2 && !overridden('content-type', this.headersSet)) contentType = line;
      else lines += line;
    }
    this.#staticLines = lines;
    this.#contentTypeLine = contentType;
    for (let ep = 0; ep < this.paths.length; ep++) {
      const path = this.paths[ep];
      const ok =
        path !== null && path === this.streamPaths[ep] && this.xlate[ep] === XLATE_NONE && LINE_SAFE.test(path) && !path.includes(' ');
      this.#headStart.push(ok ? 'POST ' + path + ' HTTP/1.1\r\nhost: ' + host + '\r\n' : null);
    }
  }

  /** A static source (provider headers, credentials, `headers.set`) sets `name`. */
  #setByStatic(name: string): boolean {
    return (
      hasName(this.providerHeaders, name) ||
      (this.credentials !== null && hasName(this.credentials, name)) ||
      overridden(name, this.headersSet)
    );
  }

  /**
   * HOT PATH — the upstream request head for endpoint `ep` as the lean client sends it (request
   * line, host, then exactly the headers {@link buildHeaders} gives with no middleware, in its
   * order; no content-length), from the prebuilt parts and the client's forwarded headers; or
   * null when this target or request takes the general path (a signer, undici, an endpoint the
   * target does not serve, a translated or stream-routed endpoint, or a forwarded value that
   * cannot be sent: the general path answers 400 for it). The caller checks that the virtual
   * model has no request-header middleware.
   */
  fastHead(ep: number, client: readonly string[], peer: string | null): string | null {
    const start = this.#headStart[ep];
    if (start === undefined || start === null || this.#staticLines === null) return null;
    let head = start;
    let forwardedFor: string | null = null;
    let seenDefaults = 0;
    const defaultNames = this.#defaultNames;
    for (let i = 0; i < client.length; i += 2) {
      const name = client[i];
      const fwd = forwardedRequestHeader(name, CREDENTIAL_HEADER_NAMES);
      if (fwd === FORWARD_NEVER) {
        if (name === 'x-forwarded-for') forwardedFor = appendHop(forwardedFor, client[i + 1]);
        continue;
      }
      if (this.#dropsClientHeader(name, fwd) || this.#shadowed(name, 2)) continue;
      const value = client[i + 1];
      if (!sendable(value)) return null;
      for (let d = 0; d < defaultNames.length; d++) if (defaultNames[d] === name) seenDefaults |= 1 << d;
      head += name + ': ' + value + '\r\n';
    }
    if (peer !== null && !this.#shadowed('x-forwarded-for', 2)) {
      const xff = appendHop(forwardedFor, peer);
      if (!sendable(xff)) return null;
      head += 'x-forwarded-for: ' + xff + '\r\n';
    }
    head += this.#staticLines;
    for (let d = 0; d < defaultNames.length; d++) if ((seenDefaults & (1 << d)) === 0) head += this.#defaultLines[d];
    return head + this.#contentTypeLine;
  }

  /**
   * Does a request with these client headers send the client's own credentials upstream?
   * (The provider has no credentials and the client brought some.) Then the upstream's
   * 401/403/429 judge that credential, not the target (engine.ts: they do not count against
   * its health).
   */
  usesClientCredentials(client: readonly string[]): boolean {
    if (this.ownsCredentials) return false;
    for (let i = 0; i < client.length; i += 2) {
      const name = client[i];
      if (this.gatewayKeys && isGatewayKeyHeader(name)) continue;
      if (CREDENTIAL_HEADER_NAMES.includes(name)) return true;
    }
    return false;
  }

  /**
   * Upstream request headers from the client's (SPEC §3.6, §12, §13). Sources, lowest
   * precedence first — a name set by a later source replaces the earlier ones:
   *
   *   1. the client headers on the allow-list (upstream.ts `forwardedRequestHeader`: the
   *      credential and account headers only when the provider has no credentials of its own,
   *      never the client's `authorization` / `x-api-key` when gateway keys are on, and not
   *      `accept` / `anthropic-version` to a format no client speaks: Bedrock, Gemini) and
   *      `x-forwarded-for` (the client's value with `peer` appended; dropped when the peer is
   *      unknown), minus the middleware's removals;
   *   2. the virtual model's `set-headers` middleware;
   *   3. the provider's `headers` settings;
   *   4. the provider's static credentials (a key in its header);
   *   5. the target's `headers.set` (explicit config wins, even over credentials).
   *
   * The target's `headers.remove` drops a name from every source (credentials included: the
   * issue's `headers.remove: [authorization]`) and from the defaults; then the wire module's
   * default headers where no source set them, and `content-type: application/json`. A signer's
   * per-request headers are added later by the engine, over all of these (engine.ts).
   */
  buildHeaders(client: readonly string[], mw: CompiledMiddleware, peer: string | null = null): string[] {
    return this.#build(client, mw.requestHeadersSet, mw.requestHeadersRemove, peer);
  }

  /**
   * A forwardable client header (`fwd`: its forwardedRequestHeader verdict, not NEVER) this
   * target drops whatever the configuration says: a credential header when the provider has
   * credentials of its own (not the client's account), the client's gateway key (SPEC §12),
   * a header about the client's wire format sent to a format no client speaks.
   */
  #dropsClientHeader(name: string, fwd: number): boolean {
    return (
      (fwd !== FORWARD_ALWAYS && this.ownsCredentials) ||
      (this.gatewayKeys && isGatewayKeyHeader(name)) ||
      (this.#ownFormat && isClientFormatHeader(name))
    );
  }

  #build(client: readonly string[], mwSet: readonly [string, string][], mwRemove: readonly string[], peer: string | null): string[] {
    const out: string[] = [];
    const prov = this.providerHeaders;
    const creds = this.credentials;
    let forwardedFor: string | null = null;
    for (let i = 0; i < client.length; i += 2) {
      const name = client[i];
      const fwd = forwardedRequestHeader(name, CREDENTIAL_HEADER_NAMES);
      if (fwd === FORWARD_NEVER) {
        if (name === 'x-forwarded-for') forwardedFor = appendHop(forwardedFor, client[i + 1]);
        continue;
      }
      if (!this.#dropsClientHeader(name, fwd) && this.#keepsClient(name, mwSet, mwRemove)) out.push(name, client[i + 1]);
    }
    if (peer !== null && this.#keepsClient('x-forwarded-for', mwSet, mwRemove)) {
      out.push('x-forwarded-for', appendHop(forwardedFor, peer));
    }
    for (const [n, v] of mwSet) if (!this.#shadowed(n, 2)) out.push(n, v);
    for (let i = 0; i < prov.length; i += 2) if (!this.#shadowed(prov[i], 3)) out.push(prov[i], prov[i + 1]);
    if (creds !== null) for (let i = 0; i < creds.length; i += 2) if (!this.#shadowed(creds[i], 4)) out.push(creds[i], creds[i + 1]);
    for (const [n, v] of this.headersSet) out.push(n, v);
    const defaults = this.defaultHeaders;
    for (let i = 0; i < defaults.length; i++) {
      const n = defaults[i][0];
      if (!hasName(out, n) && !this.headersRemove.includes(n)) out.push(n, defaults[i][1]);
    }
    if (!overridden('content-type', this.headersSet) && !overridden('content-type', mwSet)) out.push('content-type', 'application/json');
    return out;
  }

  /** A client-side header survives the middleware's removals and every later source. */
  #keepsClient(name: string, mwSet: readonly [string, string][], mwRemove: readonly string[]): boolean {
    if (mwRemove.length > 0 && mwRemove.includes(name)) return false;
    return !overridden(name, mwSet) && !this.#shadowed(name, 2);
  }

  /**
   * Is `name` removed by the target, or set by a source at `from` or later (2 provider
   * headers, 3 credentials, 4 the target's `headers.set`)?
   */
  #shadowed(name: string, from: number): boolean {
    if (this.headersRemove.length > 0 && this.headersRemove.includes(name)) return true;
    if (from <= 2 && hasName(this.providerHeaders, name)) return true;
    if (from <= 3 && this.credentials !== null && hasName(this.credentials, name)) return true;
    return overridden(name, this.headersSet);
  }
}

/** A header name that may go on the wire as is. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
/** No CR, LF or other control byte, nothing above U+00FF: safe inside a request line or header. */
const LINE_SAFE = /^[^\x00-\x08\x0a-\x1f\x7f\u0100-\uffff]*$/;

/** A header value the lean client may write: HTAB, 0x20–0x7E, 0x80–0xFF (invalidHeaderValue's rule). */
function sendable(v: string): boolean {
  for (let j = 0; j < v.length; j++) {
    const c = v.charCodeAt(j);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return false;
  }
  return true;
}

/** Client headers about the client's own wire format (not forwarded to Bedrock or Gemini). */
function isClientFormatHeader(name: string): boolean {
  return name === 'accept' || name === 'anthropic-version';
}

/** The headers a client authenticates to the gateway with when gateway keys are on (SPEC §12). */
function isGatewayKeyHeader(name: string): boolean {
  return name === 'authorization' || name === 'x-api-key';
}

function overridden(name: string, set: readonly [string, string][]): boolean {
  for (let i = 0; i < set.length; i++) if (set[i][0] === name) return true;
  return false;
}

/** `name` among the names of a flat `[name, value, …]` list. */
function hasName(flat: readonly string[], name: string): boolean {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return true;
  return false;
}

/**
 * An `x-forwarded-for` list with one more hop: the client's values joined in order, then the
 * peer (fastHead and buildHeaders build the same list).
 */
function appendHop(list: string | null, hop: string): string {
  return list === null ? hop : `${list}, ${hop}`;
}
