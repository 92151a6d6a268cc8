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
import type { Logger } from './log.js';
import type { Metrics, SeriesSet } from './metrics.js';
import { compileMiddleware, type CompiledMiddleware } from './middleware.js';
import { HealthState, type HealthOptions } from './routing/health.js';
import type { VmFacts } from './routing/resolve.js';
import { Router } from './routing/router.js';
import type { RoutingTable } from './table/reader.js';
import { failedSetup, setupProvider, tableProvider, type ProviderSetup } from './providers/credentials.js';
import { ProviderEnvError, type Env } from './providers/env.js';
import { TargetRuntime } from './target.js';
import type { UpstreamPools } from './upstream.js';
import { endpointMaskOf } from './table/endpoints.js';

/** Per-virtual-model runtime data (and the facts resolution reads, routing/resolve.ts). */
export class VmRuntime implements VmFacts {
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
  /** Provider name → base URL replacing the table's (`vmc serve --provider-url NAME=URL`, SPEC §11). */
  providerUrls?: ReadonlyMap<string, string>;
  /**
   * Gateway keys are on (`vmc serve --keys`, SPEC §12): the client's `authorization` and
   * `x-api-key` authenticate it to the gateway and are never forwarded upstream.
   */
  gatewayKeys?: boolean;
  /** The environment provider credentials and `${ENV}` references are read from (default process.env; tests). */
  env?: Env;
  /**
   * Seed of every generation's router (tests only: the same seed gives the same sequence
   * of draws, so a test knows the draw of a fresh table's first plan). Default: random.
   */
  routerSeed?: number;
}

export { TargetRuntime };

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
  /** Credentials and SPEC §13 extras by provider id, resolved once per generation. */
  readonly #setups: ProviderSetup[];

  /**
   * Resolves every provider's credentials and extras now (SPEC §13: at load, not per request)
   * and logs what is missing for a provider to authenticate, once. A `${ENV}` reference that
   * is unset is checked before a table is taken into service (server.ts, serve.ts); should a
   * generation still meet one, that provider's requests fail with a 502 naming the variable.
   */
  constructor(table: RoutingTable, deps: GenerationDeps) {
    this.table = table;
    this.#deps = deps;
    const env = deps.env ?? process.env;
    this.#setups = [];
    for (let p = 0; p < table.providerCount; p++) {
      let setup: ProviderSetup;
      try {
        setup = setupProvider(tableProvider(table, p), env);
      } catch (err) {
        if (!(err instanceof ProviderEnvError)) throw err;
        setup = failedSetup(err.message);
      }
      if (setup.problem !== null)
        deps.log.warn('provider credentials incomplete', { provider: table.providerName(p), problem: setup.problem });
      this.#setups.push(setup);
    }
    this.health = new HealthState(table.targetCount, deps.health, table); // pools: a vm's targets (maxEjectedShare)
    this.router = new Router(table, this.health, deps.routerSeed);
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
      const d = this.#deps;
      r = new TargetRuntime(this.table, t, this.table.vmName(this.#targetVm[t]), d.pools, d.metrics, {
        providerUrls: d.providerUrls,
        setup: this.#setups[this.table.targetProvider(t)],
        gatewayKeys: d.gatewayKeys,
      });
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
