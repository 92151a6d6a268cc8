/**
 * Reference router: SPEC §3.4–§3.7 written the obvious way, on the normalized config, with
 * arrays, sorts and objects. It is built from the contract's cold rules: the primary pool
 * (runtime/table/strategies/pool.ts), each strategy's pick set (strategies/<name>.ts
 * `pickSet`) and the picks (strategies/pick.ts); the table router (runtime/routing/router.ts)
 * uses their hot forms. The two must agree for every input (test/runtime/routing/router.test.ts,
 * property-based).
 */
import type { NormTarget, NormVirtualModel } from '../../runtime/table/normalized.js';
import { fnv1aString } from '../../runtime/table/format.js';
import { byPriority, rendezvousIndex, weightedIndex } from '../../runtime/table/strategies/pick.js';
import { strategyByName, type LatencyView } from '../../runtime/table/strategies/index.js';
import { primaryPool } from '../../runtime/table/strategies/pool.js';

export type { LatencyView };

const label = (t: NormTarget): string => `${t.provider}/${t.model}`;

function matches(t: NormTarget, metadata: Record<string, string> | null): boolean {
  return t.metadataMatch.every(([k, v]) => metadata !== null && metadata[k] === v);
}

/** Try order as target indices within vm.targets; [] when nothing is eligible. */
export function referencePlan(
  vm: NormVirtualModel,
  input: { metadata: Record<string, string> | null; stickyKey: string | null },
  r: number,
  lat: LatencyView,
): number[] {
  const ts = vm.targets;
  if (ts.length === 1) return matches(ts[0], input.metadata) ? [0] : [];
  // SPEC §3.4: the primary pool is the eligible targets with a metadata_match, if any.
  const eligible = ts.map((_, i) => i).filter((i) => matches(ts[i], input.metadata));
  const { primary, others } = primaryPool(eligible, (i) => ts[i].metadataMatch.length > 0);
  if (primary.length === 0) return [];
  others.sort(byPriority(ts));
  // SPEC §3.5: the strategy's pick set, then the pick.
  const { pool, pick, explore } = strategyByName(vm.strategy).pickSet(primary, ts, lat);
  let chosen: number;
  if (explore !== null) chosen = explore;
  else if (input.stickyKey !== null) {
    const j = rendezvousIndex(
      fnv1aString(input.stickyKey),
      pick.map((i) => fnv1aString(label(ts[i]))),
      pick.map((i) => ts[i].weight),
    );
    chosen = pick[j];
  } else
    chosen =
      pick[
        weightedIndex(
          pick.map((i) => ts[i].weight),
          r,
        )
      ];
  // SPEC §3.7: the rest of the pool in strategy order, then the others; candidates only.
  const rest = pool.filter((i) => i !== chosen);
  return [chosen, ...[...rest, ...others].filter((i) => ts[i].fallbackCandidate)];
}
