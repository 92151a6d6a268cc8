/**
 * Reference router: SPEC §3.4–§3.7 written the obvious way, on the normalized config, with
 * arrays, sorts and objects. The table router (runtime/router.ts) must agree with it for
 * every input (test/table/router.test.ts, property-based).
 */
import type { NormTarget, NormVirtualModel } from '../../runtime/table/normalized.js';
import { LATENCY_TOLERANCE, LATENCY_TOLERANCE_MS, rendezvousScore } from '../../runtime/routing/router.js';
import { fnv1aString } from '../../runtime/table/format.js';

export interface LatencyView {
  /** Measured EWMA ms for target index i, or null when unmeasured. */
  latency(i: number): number | null;
  /** True when target i may be explored (unmeasured and not being probed). */
  explorable(i: number): boolean;
}

const label = (t: NormTarget): string => `${t.provider}/${t.model}`;

function matches(t: NormTarget, metadata: Record<string, string> | null): boolean {
  return t.metadataMatch.every(([k, v]) => metadata !== null && metadata[k] === v);
}

function weightedIndex(ws: number[], r: number): number {
  const total = ws.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return Math.min(ws.length - 1, Math.floor(r * ws.length));
  let acc = 0;
  for (let j = 0; j < ws.length; j++) {
    acc += ws[j];
    if (acc > r * total) return j;
  }
  return ws.length - 1;
}

/** Try order as target indices within vm.targets; [] when nothing is eligible. */
export function referencePlan(
  vm: NormVirtualModel,
  input: { metadata: Record<string, string> | null; stickyKey: string | null },
  r: number,
  lat: LatencyView,
): number[] {
  const ts = vm.targets;
  const all = ts.map((_, i) => i);
  if (ts.length === 1) return matches(ts[0], input.metadata) ? [0] : [];
  const byPriority = (a: number, b: number): number => ts[a].priority - ts[b].priority || ts[b].weight - ts[a].weight || a - b;
  const byWeight = (a: number, b: number): number => ts[b].weight - ts[a].weight || a - b;
  const eligible = all.filter((i) => matches(ts[i], input.metadata));
  const withMeta = eligible.filter((i) => ts[i].metadataMatch.length > 0);
  let pool = withMeta.length > 0 ? withMeta : eligible;
  const others = eligible.filter((i) => !pool.includes(i)).sort(byPriority);
  if (pool.length === 0) return [];
  pool = [...pool].sort(vm.strategy === 'weighted' ? byWeight : byPriority);
  let pick: number[] = pool;
  let explored: number | null = null;
  if (vm.strategy === 'priority') {
    pick = pool.filter((i) => ts[i].priority === ts[pool[0]].priority);
  } else if (vm.strategy === 'latency') {
    const measured = pool.filter((i) => lat.latency(i) !== null).sort((a, b) => lat.latency(a)! - lat.latency(b)!);
    const unmeasured = pool.filter((i) => lat.latency(i) === null);
    pool = [...measured, ...unmeasured];
    explored = unmeasured.find((i) => lat.explorable(i)) ?? null;
    if (explored === null && measured.length > 0) {
      const limit = lat.latency(measured[0])! * (1 + LATENCY_TOLERANCE) + LATENCY_TOLERANCE_MS;
      pick = measured.filter((i) => lat.latency(i)! <= limit);
    }
  }
  let chosen: number;
  if (explored !== null) chosen = explored;
  else if (input.stickyKey !== null) {
    const kh = fnv1aString(input.stickyKey);
    const total = pick.reduce((a, i) => a + ts[i].weight, 0);
    let best = -1;
    chosen = pick[0];
    for (const i of pick) {
      const w = total > 0 ? ts[i].weight : 1;
      if (w <= 0) continue;
      const s = rendezvousScore(kh, fnv1aString(label(ts[i])), w);
      if (s > best) {
        best = s;
        chosen = i;
      }
    }
  } else chosen = pick[weightedIndex(pick.map((i) => ts[i].weight), r)];
  const rest = pool.filter((i) => i !== chosen);
  return [chosen, ...[...rest, ...others].filter((i) => ts[i].fallbackCandidate)];
}
