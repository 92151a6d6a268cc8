/**
 * Everything the engine needs about one target (a provider model inside a virtual model),
 * derived once per table generation: its upstream pool and paths, credentials, header and body
 * rules, timeouts, retry settings and metric series.
 */
import type { Pool } from 'undici';
import type { CompiledMiddleware } from './middleware.js';
import type { Metrics, SeriesSet } from './metrics.js';
import { ENDPOINT_COUNT, EP_CHAT, EP_MESSAGES } from './table/endpoints.js';
import type { RoutingTable } from './table/reader.js';
import {
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  isDroppedRequestHeader,
  splitBaseUrl,
  type UpstreamPools,
} from './upstream.js';
import { XLATE_CHAT_TO_MESSAGES, XLATE_MESSAGES_TO_CHAT, XLATE_NONE } from './wire/translate.js';

const OPENAI_SUFFIX: readonly string[] = ['/chat/completions', '/completions', '/embeddings', '/responses', '/chat/completions'];

/** Anthropic's API version header value sent when the client sent none. */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

export class TargetRuntime {
  readonly id: number;
  readonly label: string;
  readonly model: string;
  readonly providerName: string;
  readonly wire: 'openai' | 'anthropic';
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
    this.wire = table.targetWireFormat(t);
    const { origin, prefix, query } = splitBaseUrl(table.providerBaseUrl(p));
    this.pool = pools.get(origin);
    this.paths = [];
    this.xlate = [];
    for (let ep = 0; ep < ENDPOINT_COUNT; ep++) {
      if (this.wire === 'openai') {
        this.paths.push(prefix + OPENAI_SUFFIX[ep] + query);
        this.xlate.push(ep === EP_MESSAGES ? XLATE_MESSAGES_TO_CHAT : XLATE_NONE);
      } else if (ep === EP_MESSAGES || ep === EP_CHAT) {
        this.paths.push(prefix + (prefix.endsWith('/v1') ? '/messages' : '/v1/messages') + query);
        this.xlate.push(ep === EP_CHAT ? XLATE_CHAT_TO_MESSAGES : XLATE_NONE);
      } else {
        this.paths.push(null);
        this.xlate.push(XLATE_NONE);
      }
    }
    this.modelJsonBytes = Buffer.from(JSON.stringify(this.model).slice(1, -1), 'utf8');
    const ov = table.targetOverrideParams(t);
    this.overrides = ov === null ? null : (JSON.parse(ov) as Record<string, unknown>);
    this.headersSet = table.targetHeadersSet(t);
    this.headersRemove = table.targetHeadersRemove(t);
    const keyEnv = table.providerApiKeyEnv(p);
    const key = keyEnv === null ? undefined : process.env[keyEnv];
    if (key !== undefined && key !== '') {
      this.credentials = table.providerType(p) === 'anthropic' ? ['x-api-key', key] : ['authorization', `Bearer ${key}`];
    } else {
      this.credentials = null;
    }
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
   * middleware, provider credentials (the client's `authorization`/`x-api-key` are dropped
   * when the provider has a key), target `headers` overrides (explicit config wins).
   */
  buildHeaders(client: readonly string[], mw: CompiledMiddleware, anthropicWire: boolean): string[] {
    const out: string[] = [];
    const creds = this.credentials;
    const mwSet = mw.requestHeadersSet;
    const mwRemove = mw.requestHeadersRemove;
    for (let i = 0; i < client.length; i += 2) {
      const name = client[i];
      if (isDroppedRequestHeader(name) || name === 'content-type') continue; // we always send JSON
      if (creds !== null && (name === 'authorization' || name === 'x-api-key')) continue;
      if (this.headersRemove.length > 0 && this.headersRemove.includes(name)) continue;
      if (mwRemove.length > 0 && mwRemove.includes(name)) continue;
      if (overridden(name, this.headersSet) || overridden(name, mwSet)) continue;
      out.push(name, client[i + 1]);
    }
    for (const [n, v] of mwSet) {
      if (!overridden(n, this.headersSet) && !this.headersRemove.includes(n)) out.push(n, v);
    }
    if (creds !== null && !overridden(creds[0], this.headersSet)) out.push(creds[0], creds[1]);
    for (const [n, v] of this.headersSet) out.push(n, v);
    if (anthropicWire && !hasHeader(out, 'anthropic-version')) out.push('anthropic-version', DEFAULT_ANTHROPIC_VERSION);
    if (!overridden('content-type', this.headersSet) && !overridden('content-type', mwSet)) out.push('content-type', 'application/json');
    return out;
  }
}

function overridden(name: string, set: readonly [string, string][]): boolean {
  for (let i = 0; i < set.length; i++) if (set[i][0] === name) return true;
  return false;
}

function hasHeader(flat: readonly string[], name: string): boolean {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return true;
  return false;
}

