/**
 * A table generation: one loaded routing table with its router, health state and the
 * per-target / per-virtual-model runtime data derived from it.
 *
 * A reload builds a new Generation and swaps one reference (runtime/server.ts); requests in
 * flight keep the Generation they started with, so a table never changes under a request.
 *
 * Derived data is computed lazily, on the first request that needs it, and cached in arrays
 * indexed by table ids: tables of 100k virtual models load in the time it takes to decode
 * them, and only the routes that see traffic pay for their caches.
 */
import type { Pool } from 'undici';
import type { Logger } from './log.js';
import type { Metrics, SeriesSet } from './metrics.js';
import { compileMiddleware, type CompiledMiddleware } from './middleware.js';
import { HealthState, type HealthOptions } from './routing/health.js';
import { Router } from './routing/router.js';
import type { RoutingTable } from './table/reader.js';
import {
  DEFAULT_BODY_TIMEOUT_MS,
  DEFAULT_HEADERS_TIMEOUT_MS,
  isDroppedRequestHeader,
  splitBaseUrl,
  type UpstreamPools,
} from './upstream.js';
import { ENDPOINT_COUNT, EP_CHAT, EP_MESSAGES, endpointMaskOf } from './table/endpoints.js';
import { XLATE_CHAT_TO_MESSAGES, XLATE_MESSAGES_TO_CHAT, XLATE_NONE } from './wire/translate.js';

const OPENAI_SUFFIX: readonly string[] = ['/chat/completions', '/completions', '/embeddings', '/responses', '/chat/completions'];

/** Anthropic's API version header value sent when the client sent none. */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

/** Everything the engine needs about one target, derived once per generation. */
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

/** Per-virtual-model runtime data. */
export class VmRuntime {
  readonly name: string;
  /** Sticky session keys; empty = not sticky. */
  readonly stickyKeys: readonly { source: 'header' | 'metadata'; key: string }[];
  readonly middleware: CompiledMiddleware;
  /** Bit ep set when endpoint ep is allowed by `model_types` (all bits when empty). */
  readonly endpointMask: number;
  readonly modelTypes: readonly string[];
  /** Series for answers given before any target was chosen (403, 404 disabled, 503…). */
  readonly series: SeriesSet;

  constructor(table: RoutingTable, vm: number, metrics: Metrics, log: Logger) {
    this.name = table.vmName(vm);
    this.stickyKeys = table.vmIsSticky(vm) ? table.vmStickyKeys(vm) : [];
    this.middleware = compileMiddleware(table.vmMiddleware(vm), this.name, log);
    this.modelTypes = table.vmModelTypes(vm);
    this.endpointMask = endpointMaskOf(this.modelTypes);
    this.series = metrics.series(this.name, '');
  }
}

export interface GenerationDeps {
  pools: UpstreamPools;
  metrics: Metrics;
  log: Logger;
  health?: HealthOptions;
}

/** One loaded table and everything derived from it. Immutable once built, except caches. */
export class Generation {
  readonly table: RoutingTable;
  readonly health: HealthState;
  readonly router: Router;
  readonly loadedAt = Date.now();
  readonly #deps: GenerationDeps;
  readonly #targets: (TargetRuntime | undefined)[];
  readonly #vms: (VmRuntime | undefined)[];
  readonly #targetVm: Int32Array;

  constructor(table: RoutingTable, deps: GenerationDeps) {
    this.table = table;
    this.#deps = deps;
    this.health = new HealthState(table.targetCount, deps.health);
    this.router = new Router(table, this.health);
    this.#targets = new Array(table.targetCount);
    this.#vms = new Array(table.vmCount);
    // target id → owning vm id (targets are laid out per vm, contiguously)
    this.#targetVm = new Int32Array(table.targetCount);
    for (let vm = 0; vm < table.vmCount; vm++) {
      const first = table.vmFirstTarget(vm);
      const n = table.vmTargetCount(vm);
      for (let i = 0; i < n; i++) this.#targetVm[first + i] = vm;
    }
  }

  target(t: number): TargetRuntime {
    let r = this.#targets[t];
    if (r === undefined) {
      r = new TargetRuntime(this.table, t, this.table.vmName(this.#targetVm[t]), this.#deps.pools, this.#deps.metrics);
      this.#targets[t] = r;
    }
    return r;
  }

  vm(vm: number): VmRuntime {
    let r = this.#vms[vm];
    if (r === undefined) {
      r = new VmRuntime(this.table, vm, this.#deps.metrics, this.#deps.log);
      this.#vms[vm] = r;
    }
    return r;
  }
}
