/**
 * Strategy `priority` (SPEC §3.5): the lowest priority number first; targets of that tier
 * share by weight.
 *
 *   order     priority asc, weight desc, configured order;
 *   pick set  the primary pool's lowest-priority tier (precomputed when no target has a
 *             metadata condition);
 *   pick      weighted random over the tier (sticky: weighted rendezvous), ./pick.ts.
 */
import { byPriority } from './pick.js';
import type { LatencyView, PickSet, RankedTarget, StrategyRules, StrategyTable } from './types.js';

/** Table code (VMF_FLAGS strategy field). Written into tables: never renumber. */
export const PRIORITY_CODE = 1;

/** Length of the run at the head of `order` that shares the first target's priority. */
function topTier(targets: readonly RankedTarget[], order: readonly number[]): number {
  if (order.length === 0) return 0;
  const top = targets[order[0]].priority;
  let n = 1;
  while (n < order.length && targets[order[n]].priority === top) n++;
  return n;
}

export const priority = {
  name: 'priority',
  code: PRIORITY_CODE,
  summary: 'the lowest priority number first; targets of that tier share by weight',
  measured: false,
  order(targets: readonly RankedTarget[]): number[] {
    return targets.map((_, i) => i).sort(byPriority(targets));
  },
  precomputedPickCount: topTier,
  pickSet(pool: readonly number[], targets: readonly RankedTarget[], _latency: LatencyView): PickSet {
    const sorted = [...pool].sort(byPriority(targets));
    return { pool: sorted, pick: sorted.slice(0, topTier(targets, sorted)), explore: null };
  },
} as const satisfies StrategyRules;

/**
 * HOT PATH: allocation-free. Size of the pick set: the run of pool[0, n) (in priority order)
 * that shares pool[0]'s priority.
 */
export function priorityPickCount(table: StrategyTable, pool: Int32Array, n: number, first: number): number {
  const top = table.targetPriority(first + pool[0]);
  let sn = 1;
  while (sn < n && table.targetPriority(first + pool[sn]) === top) sn++;
  return sn;
}
