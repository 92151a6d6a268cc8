/**
 * Strategy `weighted` (SPEC §3.5): traffic shared by weight over the whole primary pool.
 *
 *   order     weight desc, then configured order (the fallback order within the pool);
 *   pick set  the whole primary pool;
 *   pick      weighted random (sticky: weighted rendezvous), ./pick.ts. Without metadata
 *             conditions the pick set is the precomputed pool and the router binary-searches
 *             the table's cumulative weights.
 */
import { byWeight } from './pick.js';
import type { LatencyView, PickSet, RankedTarget, StrategyRules } from './types.js';

/** Table code (VMF_FLAGS strategy field). Written into tables: never renumber. */
export const WEIGHTED_CODE = 0;

export const weighted = {
  name: 'weighted',
  code: WEIGHTED_CODE,
  summary: 'random by weight over the primary pool',
  measured: false,
  order(targets: readonly RankedTarget[]): number[] {
    return targets.map((_, i) => i).sort(byWeight(targets));
  },
  precomputedPickCount(_targets: readonly RankedTarget[], order: readonly number[]): number {
    return order.length;
  },
  pickSet(pool: readonly number[], targets: readonly RankedTarget[], _latency: LatencyView): PickSet {
    const sorted = [...pool].sort(byWeight(targets));
    return { pool: sorted, pick: sorted, explore: null };
  },
} as const satisfies StrategyRules;
