/**
 * The shape of a routing strategy (SPEC §3.5) and the views its rules read.
 *
 * A strategy is one module in this folder (weighted.ts, priority.ts, latency.ts), registered
 * in index.ts. Each module holds, in one place:
 *   - its name (config value) and table code (the VMF_FLAGS strategy field);
 *   - its order rule: the build-time order of a virtual model's targets (the table's VF_ORDER,
 *     written by compiler/lower.ts) and the size of the pick set precomputed from it;
 *   - its pick-set rule twice: written the obvious way on arrays ({@link StrategyRules.pickSet},
 *     used by `vmc explain` and the reference router), and allocation-free on typed arrays
 *     (exported functions the router's hot-path switch calls). A property test
 *     (test/runtime/routing/router.test.ts) checks that the two agree;
 *   - its pick (the shared weighted and rendezvous picks live in ./pick.ts).
 *
 * The modules cannot import ../format.ts (format.ts derives STRATEGY_CODES from the registry,
 * and the source has no import cycles), so their hot-path functions read the table and the
 * latency measurements through the two small interfaces below.
 */

/** A target as the order rules see it (a NormTarget or a table target). */
export interface RankedTarget {
  /** ≥ 0; the traffic share under `weighted`, the tie-break elsewhere. */
  readonly weight: number;
  /** Integer ≥ 0, lower first. */
  readonly priority: number;
}

/**
 * Measured latency by target index (a vm's relative index), for the cold rules. The router
 * reads the same facts from {@link LatencyState}.
 */
export interface LatencyView {
  /** Measured time to first byte in ms (EWMA) of target i, or null when unmeasured or stale. */
  latency(i: number): number | null;
  /** True when target i may be explored now: unmeasured and no probe of it in flight. */
  explorable(i: number): boolean;
}

/** Every target unmeasured and explorable: a gateway that has not measured anything yet (explain). */
export const NO_MEASUREMENTS: LatencyView = { latency: () => null, explorable: () => true };

/** What a strategy's pick-set rule makes of a primary pool (cold form, relative indices). */
export interface PickSet {
  /** The primary pool in the order the strategy considers it now (the fallback order within the pool). */
  readonly pool: readonly number[];
  /** The targets the pick chooses among, by weight or by sticky key (a prefix of `pool`). */
  readonly pick: readonly number[];
  /** A target to explore instead of picking (latency: an unmeasured target), or null. */
  readonly explore: number | null;
}

/** One strategy's rules in their cold form (lowering, explain, reference router). */
export interface StrategyRules {
  /** Config value (`strategy:`), e.g. `weighted`. */
  readonly name: string;
  /** Table code in the VMF_FLAGS strategy field; equals the index in the registry (index.ts). */
  readonly code: number;
  /** One line for `vmc explain` and the docs: how the strategy picks. */
  readonly summary: string;
  /**
   * True when picks depend on what the runtime measured (latency): explain, which reads only
   * the table, cannot show traffic shares for it.
   */
  readonly measured: boolean;
  /**
   * Build-time order of a vm's targets (indices into `targets`): the table's VF_ORDER. Ties
   * keep the configured order.
   */
  order(targets: readonly RankedTarget[]): number[];
  /**
   * How many targets at the head of `order` form the pick set when no target has a metadata
   * condition (VF_PRIMARY_COUNT; the table's cumulative weights cover exactly these).
   */
  precomputedPickCount(targets: readonly RankedTarget[], order: readonly number[]): number;
  /**
   * The pick-set rule on a primary pool (target indices, any order), written the obvious way
   * (SPEC §3.5). `latency` is read only by strategies that measure.
   */
  pickSet(pool: readonly number[], targets: readonly RankedTarget[], latency: LatencyView): PickSet;
}

/**
 * What the hot-path rules read of a routing table (runtime/table/reader.ts `RoutingTable`
 * implements it). Indices are global target ids.
 */
export interface StrategyTable {
  /** f64 per target: its weight. */
  readonly weights: Float64Array;
  /** f64 pool: per vm, cumulative weights over the precomputed pick set. */
  readonly cumWeights: Float64Array;
  targetPriority(t: number): number;
  /** FNV-1a of the target's label `provider/model` (sticky rendezvous hashing). */
  targetLabelHash(t: number): number;
}

/**
 * Measured latency per global target id, as the latency strategy reads it on the hot path
 * (runtime/routing/health.ts `HealthState` implements it; the contract does not import
 * routing). Typed arrays, not methods returning doubles: a double returned by a call V8 does
 * not inline is boxed.
 */
export interface LatencyState {
  /** EWMA of time to first byte, ms; meaningful when {@link isMeasured}. */
  readonly ttfbEwma: Float64Array;
  /** Time of the last sample or probe claim, ms since epoch. Written by {@link claimProbe} of latency.ts. */
  readonly lastSampleAt: Float64Array;
  /** A sample older than this (ms) is stale: the target is measured again. */
  readonly staleMs: number;
  /** Has t a fresh latency measurement? */
  isMeasured(t: number, nowMs: number): boolean;
}
