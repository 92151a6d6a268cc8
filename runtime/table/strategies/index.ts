/**
 * The strategy registry: every routing strategy (SPEC §3.5), in table-code order. The table's
 * STRATEGY_CODES (../format.ts), the config type `Strategy` (../normalized.ts), lowering, the
 * router's hot-path switch, explain and the reference router all derive from this list, so a
 * code cannot mean one strategy to the compiler and another to the runtime.
 *
 * Adding a strategy: docs/architecture.md, "Adding a strategy".
 */
import { latency } from './latency.js';
import { priority } from './priority.js';
import type { StrategyRules } from './types.js';
import { weighted } from './weighted.js';

export { LATENCY_CODE } from './latency.js';
export { PRIORITY_CODE } from './priority.js';
export { WEIGHTED_CODE } from './weighted.js';
export type { LatencyState, LatencyView, PickSet, RankedTarget, StrategyRules, StrategyTable } from './types.js';

/**
 * Width of the strategy field of VMF_FLAGS (../format.ts): 2 bits, room for four strategies,
 * three used. A fifth strategy does not fit: widen the field (it is followed by the kind
 * field at VMF_KIND_SHIFT, so the kind moves too), bump FORMAT_VERSION in ../format.ts
 * (old runtimes must reject the new tables) and update the byte diagram there.
 */
export const STRATEGY_FIELD_BITS = 2;

/** Every strategy, index = table code. Append only: codes are written into tables. */
export const STRATEGIES = [weighted, priority, latency] as const;

/** A strategy's config name: `weighted` | `priority` | `latency`. */
export type StrategyName = (typeof STRATEGIES)[number]['name'];

/**
 * Fails loudly (at module load, so every build, test and gateway start) when the registry
 * and the table format disagree: a code that is not its index, or more strategies than the
 * field holds.
 */
export function checkStrategyRegistry(list: readonly StrategyRules[], fieldBits = STRATEGY_FIELD_BITS): void {
  list.forEach((s, i) => {
    if (s.code !== i) throw new Error(`strategy registry: ${s.name} has code ${s.code} but sits at index ${i}; codes are registry indices`);
  });
  if (list.length > 1 << fieldBits) {
    throw new Error(
      `strategy registry: ${list.length} strategies do not fit the ${fieldBits}-bit strategy field of VMF_FLAGS; ` +
        'widen the field in runtime/table/format.ts and bump FORMAT_VERSION (see runtime/table/strategies/index.ts)',
    );
  }
}
checkStrategyRegistry(STRATEGIES);

/** Strategy names by table code. */
export const STRATEGY_NAMES: readonly StrategyName[] = STRATEGIES.map((s) => s.name);

/** The rules of a strategy by config name. Throws on an unknown name (normalize rejects those first). */
export function strategyByName(name: string): StrategyRules {
  const s = STRATEGIES.find((x) => x.name === name);
  if (s === undefined) throw new Error(`unknown strategy ${JSON.stringify(name)}`);
  return s;
}

/** The rules of a strategy by table code. Throws on a code no strategy has (the reader rejects those first). */
export function strategyByCode(code: number): StrategyRules {
  const s = STRATEGIES[code];
  if (s === undefined) throw new Error(`unknown strategy code ${code}`);
  return s;
}
