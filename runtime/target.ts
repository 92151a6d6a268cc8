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
  isDroppedRequestHeader,
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
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  readonly maxTtftMs: number;
  readonly retryAttempts: number;
  readonly retryDelayMs: number;
  readonly series: SeriesSet;

  constructor(table: RoutingTable, t: number, vmName: string, pools: UpstreamPools, metrics: Metrics) {
    const p = table.targetProvider(t);
    this.id = t;
    this.label = table.targetLabel(t);
    this.model = table.targetModel(t);
    this.providerName = table.providerName(p);
    const type = table.providerType(p);
    const speaks = wireModule(type, table.targetBackendFormat(t));
    this.wire = speaks.wire;
    const { origin, prefix, query } = splitBaseUrl(table.providerBaseUrl(p));
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
    const timeout = table.providerTimeoutMs(p);
    this.headersTimeoutMs = timeout > 0 ? timeout : DEFAULT_HEADERS_TIMEOUT_MS;
    this.bodyTimeoutMs = timeout > 0 ? timeout : DEFAULT_BODY_TIMEOUT_MS;
    this.maxTtftMs = table.targetMaxTtftMs(t);
    this.retryAttempts = table.targetRetryAttempts(t);
    this.retryDelayMs = table.targetRetryDelayMs(t);
    this.series = metrics.series(vmName, this.label);
  }

  /**
   * Upstream request headers from the client's (SPEC §3.6). Order of precedence, lowest
   * first: client headers (minus hop-by-hop and x-vmc-*), virtual-model `set-headers`
   * middleware, provider credentials (the client's credential headers — every type's, see
   * CREDENTIAL_HEADER_NAMES — are dropped when the provider has a key), target `headers`
   * overrides (explicit config wins); then the wire module's default headers where no source
   * set them, and `content-type`.
   * The third parameter is no longer read (the defaults come from {@link defaultHeaders}).
   */
  buildHeaders(client: readonly string[], mw: CompiledMiddleware): string[] {
    const out: string[] = [];
    const creds = this.credentials;
    const mwSet = mw.requestHeadersSet;
    const mwRemove = mw.requestHeadersRemove;
    for (let i = 0; i < client.length; i += 2) {
      const name = client[i];
      if (isDroppedRequestHeader(name) || name === 'content-type') continue; // we always send JSON
      if (creds !== null && CREDENTIAL_HEADER_NAMES.includes(name)) continue;
      if (this.headersRemove.length > 0 && this.headersRemove.includes(name)) continue;
      if (mwRemove.length > 0 && mwRemove.includes(name)) continue;
      if (overridden(name, this.headersSet) || overridden(name, mwSet)) continue;
      out.push(name, client[i + 1]);
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
}

function overridden(name: string, set: readonly [string, string][]): boolean {
  for (let i = 0; i < set.length; i++) if (set[i][0] === name) return true;
  return false;
}
