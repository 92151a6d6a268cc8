/**
 * Strategy `latency` (SPEC §3.5, §9): the target with the lowest time to first byte measured
 * by this runtime (runtime/routing/health.ts), with exploration and near-ties.
 *
 *   order     priority asc, weight desc, configured order (build time); at run time the
 *             pool is re-sorted: measured targets by latency asc, then unmeasured ones in
 *             build-time order;
 *   explore   an unmeasured (or stale) target not already being probed is tried first, one
 *             probe at a time (the probe is claimed, so concurrent requests do not herd
 *             onto it); sticky keys do not override exploration;
 *   pick set  otherwise the measured targets within LATENCY_TOLERANCE (+ LATENCY_TOLERANCE_MS)
 *             of the fastest;
 *   pick      weighted random over the near-ties (sticky: weighted rendezvous), ./pick.ts.
 *             The build-time cumulative weights do not apply (the pool is re-sorted).
 */
import { byPriority } from './pick.js';
import type { LatencyState, LatencyView, PickSet, RankedTarget, StrategyRules } from './types.js';

/** Table code (VMF_FLAGS strategy field). Written into tables: never renumber. */
export const LATENCY_CODE = 2;

/** Near-tie tolerance: within 20 % (+1 ms) of the fastest measured target. */
export const LATENCY_TOLERANCE = 0.2;
export const LATENCY_TOLERANCE_MS = 1;

export const latency = {
  name: 'latency',
  code: LATENCY_CODE,
  summary:
    `by this gateway's measured time to first byte: unmeasured targets are explored first, one probe at a time; ` +
    `then the fastest and those within ${LATENCY_TOLERANCE * 100} % (+${LATENCY_TOLERANCE_MS} ms) of it share by weight`,
  measured: true,
  order(targets: readonly RankedTarget[]): number[] {
    return targets.map((_, i) => i).sort(byPriority(targets));
  },
  precomputedPickCount(_targets: readonly RankedTarget[], order: readonly number[]): number {
    return order.length;
  },
  pickSet(pool: readonly number[], targets: readonly RankedTarget[], lat: LatencyView): PickSet {
    const inOrder = [...pool].sort(byPriority(targets));
    const measured = inOrder.filter((i) => lat.latency(i) !== null).sort((a, b) => lat.latency(a)! - lat.latency(b)!);
    const unmeasured = inOrder.filter((i) => lat.latency(i) === null);
    const sorted = [...measured, ...unmeasured];
    const explore = unmeasured.find((i) => lat.explorable(i)) ?? null;
    if (explore !== null || measured.length === 0) return { pool: sorted, pick: sorted, explore };
    const limit = lat.latency(measured[0])! * (1 + LATENCY_TOLERANCE) + LATENCY_TOLERANCE_MS;
    return { pool: sorted, pick: measured.filter((i) => lat.latency(i)! <= limit), explore: null };
  },
} as const satisfies StrategyRules;

/**
 * HOT PATH: allocation-free. Stable insertion sort of pool[0, n): measured targets by EWMA
 * asc first, then unmeasured ones in their order. Returns the number of measured targets.
 */
export function sortByLatency(h: LatencyState, pool: Int32Array, n: number, first: number, nowMs: number): number {
  for (let i = 1; i < n; i++) {
    const v = pool[i];
    const mv = h.isMeasured(first + v, nowMs);
    const lv = h.ttfbEwma[first + v];
    let j = i - 1;
    while (j >= 0) {
      const u = pool[j];
      const mu = h.isMeasured(first + u, nowMs);
      const before = mv && (!mu || lv < h.ttfbEwma[first + u]);
      if (!before) break;
      pool[j + 1] = u;
      j--;
    }
    pool[j + 1] = v;
  }
  let measured = 0;
  while (measured < n && h.isMeasured(first + pool[measured], nowMs)) measured++;
  return measured;
}

/**
 * HOT PATH: allocation-free. Position in pool[measured, n) of the first unmeasured target not
 * already being probed (its last sample or probe claim is stale), or -1.
 */
export function latencyExplore(h: LatencyState, pool: Int32Array, measured: number, n: number, first: number, nowMs: number): number {
  for (let k = measured; k < n; k++) {
    if (nowMs - h.lastSampleAt[first + pool[k]] > h.staleMs) return k;
  }
  return -1;
}

/** HOT PATH: allocation-free. Size of the pick set: the measured targets within the tolerance of pool[0]. */
export function latencyNearTies(h: LatencyState, pool: Int32Array, measured: number, first: number): number {
  const limit = h.ttfbEwma[first + pool[0]] * (1 + LATENCY_TOLERANCE) + LATENCY_TOLERANCE_MS;
  let sn = 1;
  while (sn < measured && h.ttfbEwma[first + pool[sn]] <= limit) sn++;
  return sn;
}

/** Claims the probe of target t, so concurrent requests do not herd onto an unmeasured target. */
export function claimProbe(h: LatencyState, t: number, nowMs: number): void {
  h.lastSampleAt[t] = nowMs;
}
