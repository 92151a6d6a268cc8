/**
 * Everything the engine needs about one target (a provider model inside a virtual model),
 * derived once per table generation: its upstream pool and paths, credentials, header and body
 * rules, timeouts, retry settings and metric series.
 *
 * What a provider type means (URL rule, translation, credential placement, default headers)
 * comes from its module in runtime/providers/; this class only applies it to one target.
 */
import type { Pool } from 'undici';
import { headerIndex } from './http/adapter.js';
import type { CompiledMiddleware } from './middleware.js';
import type { Metrics, SeriesSet } from './metrics.js';
import { CREDENTIAL_HEADER_NAMES, credentialHeaders, providerModule, wireModule, type WireFormat } from './providers/index.js';
import { ENDPOINT_COUNT } from './table/endpoints.js';
import type { RoutingTable } from './table/reader.js';
import {
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  FORWARD_ALWAYS,
  FORWARD_NEVER,
  forwardedRequestHeader,
  splitBaseUrl,
  type UpstreamPools,
} from './upstream.js';
import { XLATE_NONE } from './wire/translate.js';

export class TargetRuntime {
  readonly id: number;
  readonly label: string;
  readonly model: string;
  readonly providerName: string;
  /** Wire format spoken upstream: `backend_format`, else the provider type's. */
  readonly wire: WireFormat;
  readonly pool: Pool;
  /** Upstream path by client endpoint; null = this target cannot serve that endpoint. */
  readonly paths: (string | null)[];
  /** XLATE_* mode by client endpoint. */
  readonly xlate: number[];
  /** The model name JSON-escaped, without quotes: spliced into bodies as is. */
  readonly modelJsonBytes: Buffer;
  /** Parsed override_params, or null. */
  readonly overrides: Record<string, unknown> | null;
  readonly headersSet: readonly [string, string][];
  readonly headersRemove: readonly string[];
  /** Credential headers `[name, value, …]` when the provider's key env var is set, else null. */
  readonly credentials: string[] | null;
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

  /**
   * `providerUrls` (provider name → base URL, `vmc serve --provider-url NAME=URL`) replaces the
   * table's base URL of a provider; everything else — type, credentials, headers — stays the
   * provider's.
   */
  constructor(
    table: RoutingTable,
    t: number,
    vmName: string,
    pools: UpstreamPools,
    metrics: Metrics,
    providerUrls?: ReadonlyMap<string, string>,
  ) {
    const p = table.targetProvider(t);
    this.id = t;
    this.label = table.targetLabel(t);
    this.model = table.targetModel(t);
    this.providerName = table.providerName(p);
    const type = table.providerType(p);
    const speaks = wireModule(type, table.targetBackendFormat(t));
    this.wire = speaks.wire;
    const { origin, prefix, query } = splitBaseUrl(providerUrls?.get(this.providerName) ?? table.providerBaseUrl(p));
    this.pool = pools.get(origin);
    this.paths = [];
    this.xlate = [];
    const upstream = { prefix, query, model: this.model };
    for (let ep = 0; ep < ENDPOINT_COUNT; ep++) {
      const route = speaks.route(ep, upstream);
      this.paths.push(route === null ? null : route.path);
      this.xlate.push(route === null ? XLATE_NONE : route.xlate);
    }
    this.defaultHeaders = speaks.defaultHeaders;
    this.modelJsonBytes = Buffer.from(JSON.stringify(this.model).slice(1, -1), 'utf8');
    const ov = table.targetOverrideParams(t);
    this.overrides = ov === null ? null : (JSON.parse(ov) as Record<string, unknown>);
    this.headersSet = table.targetHeadersSet(t);
    this.headersRemove = table.targetHeadersRemove(t);
    const keyEnv = table.providerApiKeyEnv(p);
    const key = keyEnv === null ? undefined : process.env[keyEnv];
    // credentials follow the provider type, even when backend_format changes the wire format
    this.credentials = key !== undefined && key !== '' ? credentialHeaders(providerModule(type).auth, key) : null;
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
  }

  /**
   * Does a request with these client headers send the client's own credentials upstream?
   * (The provider has no key and the client brought one.) Then the upstream's 401/403/429
   * judge that credential, not the target (engine.ts: they do not count against its health).
   */
  usesClientCredentials(client: readonly string[]): boolean {
    if (this.credentials !== null) return false;
    for (let i = 0; i < client.length; i += 2) if (CREDENTIAL_HEADER_NAMES.includes(client[i])) return true;
    return false;
  }

  /**
   * Upstream request headers from the client's (SPEC §3.6). Order of precedence, lowest
   * first: the client headers on the allow-list (upstream.ts `forwardedRequestHeader`: the
   * credential and account headers only when the provider has no key of its own) and
   * `x-forwarded-for` (the client's value with `peer` appended; dropped when the peer is
   * unknown), virtual-model `set-headers` middleware, provider credentials, target `headers`
   * overrides (explicit config wins); then the wire module's default headers where no source
   * set them, and `content-type: application/json`.
   */
  buildHeaders(client: readonly string[], mw: CompiledMiddleware, peer: string | null = null): string[] {
    const out: string[] = [];
    const creds = this.credentials;
    const mwSet = mw.requestHeadersSet;
    const mwRemove = mw.requestHeadersRemove;
    let forwardedFor: string | null = null;
    for (let i = 0; i < client.length; i += 2) {
      const name = client[i];
      const fwd = forwardedRequestHeader(name, CREDENTIAL_HEADER_NAMES);
      if (fwd === FORWARD_NEVER) {
        if (name === 'x-forwarded-for') forwardedFor = forwardedFor === null ? client[i + 1] : `${forwardedFor}, ${client[i + 1]}`;
        continue;
      }
      if (fwd !== FORWARD_ALWAYS && creds !== null) continue; // the gateway's key: not the client's account
      if (this.#keeps(name, mwSet, mwRemove)) out.push(name, client[i + 1]);
    }
    if (peer !== null && this.#keeps('x-forwarded-for', mwSet, mwRemove)) {
      out.push('x-forwarded-for', forwardedFor === null ? peer : `${forwardedFor}, ${peer}`);
    }
    for (const [n, v] of mwSet) {
      if (!overridden(n, this.headersSet) && !this.headersRemove.includes(n)) out.push(n, v);
    }
    if (creds !== null) {
      for (let i = 0; i < creds.length; i += 2) if (!overridden(creds[i], this.headersSet)) out.push(creds[i], creds[i + 1]);
    }
    for (const [n, v] of this.headersSet) out.push(n, v);
    const defaults = this.defaultHeaders;
    for (let i = 0; i < defaults.length; i++) if (headerIndex(out, defaults[i][0]) < 0) out.push(defaults[i][0], defaults[i][1]);
    if (!overridden('content-type', this.headersSet) && !overridden('content-type', mwSet)) out.push('content-type', 'application/json');
    return out;
  }

  /** A client-side header survives the target's and the middleware's removals and overrides. */
  #keeps(name: string, mwSet: readonly [string, string][], mwRemove: readonly string[]): boolean {
    if (this.headersRemove.length > 0 && this.headersRemove.includes(name)) return false;
    if (mwRemove.length > 0 && mwRemove.includes(name)) return false;
    return !overridden(name, this.headersSet) && !overridden(name, mwSet);
  }
}

function overridden(name: string, set: readonly [string, string][]): boolean {
  for (let i = 0; i < set.length; i++) if (set[i][0] === name) return true;
  return false;
}
