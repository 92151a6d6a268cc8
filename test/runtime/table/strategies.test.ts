/**
 * The strategy modules (runtime/table/strategies/): the registry and its fit in the table
 * format, each strategy's order rule and pick-set rule, and the hot forms the router calls
 * against the cold forms explain and the reference router use.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { STRATEGY_CODES, VMF_KIND_SHIFT, VMF_STRATEGY_MASK, VMF_STRATEGY_SHIFT } from '../../../runtime/table/format.js';
import {
  LATENCY_CODE,
  PRIORITY_CODE,
  STRATEGIES,
  STRATEGY_FIELD_BITS,
  WEIGHTED_CODE,
  checkStrategyRegistry,
  strategyByCode,
  strategyByName,
  type LatencyState,
  type LatencyView,
  type StrategyRules,
  type StrategyTable,
} from '../../../runtime/table/strategies/index.js';
import { LATENCY_TOLERANCE, latency, latencyExplore, latencyNearTies, sortByLatency } from '../../../runtime/table/strategies/latency.js';
import {
  pickCumulative,
  pickRendezvous,
  pickWeighted,
  rendezvousIndex,
  sortByPriority,
  byPriority,
  weightedIndex,
  weightShares,
} from '../../../runtime/table/strategies/pick.js';
import { priority, priorityPickCount } from '../../../runtime/table/strategies/priority.js';
import { weighted } from '../../../runtime/table/strategies/weighted.js';
import { primaryPool } from '../../../runtime/table/strategies/pool.js';

const t = (weight: number, priority = 0) => ({ weight, priority });

describe('strategy registry', () => {
  it('codes are registry indices, and the table format reads its names from it', () => {
    STRATEGIES.forEach((s, i) => expect(s.code).toBe(i));
    expect(STRATEGY_CODES).toEqual(STRATEGIES.map((s) => s.name));
    expect([WEIGHTED_CODE, PRIORITY_CODE, LATENCY_CODE]).toEqual([0, 1, 2]); // written into tables: never renumbered
    for (const s of STRATEGIES) {
      expect(strategyByName(s.name)).toBe(s);
      expect(strategyByCode(s.code)).toBe(s);
    }
    expect(() => strategyByName('random')).toThrow(/unknown strategy/);
    expect(() => strategyByCode(STRATEGIES.length)).toThrow(/unknown strategy code/);
  });

  it('fits the strategy field of VMF_FLAGS (a fifth strategy needs a wider field and a format version bump)', () => {
    expect(STRATEGIES.length).toBeLessThanOrEqual(1 << STRATEGY_FIELD_BITS);
    expect(VMF_STRATEGY_MASK).toBe((1 << STRATEGY_FIELD_BITS) - 1);
    expect(VMF_STRATEGY_SHIFT + STRATEGY_FIELD_BITS).toBeLessThanOrEqual(VMF_KIND_SHIFT);
  });

  it('the module-load check fails loudly on a fifth strategy and on a code that is not its index', () => {
    const fake = (name: string, code: number): StrategyRules => ({ ...weighted, name, code });
    const four = [...STRATEGIES, fake('fourth', 3)];
    expect(() => checkStrategyRegistry(four)).not.toThrow();
    expect(() => checkStrategyRegistry([...four, fake('fifth', 4)])).toThrow(/do not fit the 2-bit strategy field.*FORMAT_VERSION/);
    expect(() => checkStrategyRegistry([weighted, latency])).toThrow(/latency has code 2 but sits at index 1/);
  });

  it('the config schema lists exactly the registered strategies', () => {
    const schema = JSON.parse(readFileSync('schemas/vmc.schema.json', 'utf8')) as {
      $defs?: Record<string, { enum?: string[] }>;
      definitions?: Record<string, { enum?: string[] }>;
    };
    const defs = schema.$defs ?? schema.definitions ?? {};
    expect(defs.Strategy?.enum).toEqual(STRATEGIES.map((s) => s.name));
  });
});

describe('order rules (the table’s VF_ORDER and VF_PRIMARY_COUNT)', () => {
  it.each<[string, StrategyRules, { weight: number; priority: number }[], number[], number]>([
    ['weighted: weight desc, ties in configured order', weighted, [t(1), t(3), t(3), t(0)], [1, 2, 0, 3], 4],
    ['priority: priority asc, weight desc; the pick set is the top tier', priority, [t(5, 1), t(1, 0), t(9, 0), t(9, 2)], [2, 1, 0, 3], 2],
    ['latency: priority asc, weight desc; the pick set is decided at run time', latency, [t(5, 1), t(1, 0), t(9, 0)], [2, 1, 0], 3],
  ])('%s', (_name, rules, targets, order, count) => {
    expect(rules.order(targets)).toEqual(order);
    expect(rules.precomputedPickCount(targets, order)).toBe(count);
  });
});

describe('pick-set rules (cold form)', () => {
  const none: LatencyView = { latency: () => null, explorable: () => false };
  it('weighted picks from the whole pool; priority from its lowest tier', () => {
    const ts = [t(1, 2), t(3, 1), t(2, 1)];
    expect(weighted.pickSet([0, 1, 2], ts, none)).toEqual({ pool: [1, 2, 0], pick: [1, 2, 0], explore: null });
    expect(priority.pickSet([0, 1, 2], ts, none)).toEqual({ pool: [1, 2, 0], pick: [1, 2], explore: null });
    expect(priority.pickSet([0], ts, none)).toEqual({ pool: [0], pick: [0], explore: null });
  });

  it('latency explores an unmeasured target first, then picks the near-ties of the fastest', () => {
    const ts = [t(1), t(1), t(1), t(1)];
    const ms: (number | null)[] = [100, 10, 11.5, null];
    const view = (explorable: boolean): LatencyView => ({ latency: (i) => ms[i], explorable: () => explorable });
    expect(latency.pickSet([0, 1, 2, 3], ts, view(true))).toEqual({ pool: [1, 2, 0, 3], pick: [1, 2, 0, 3], explore: 3 });
    // 11.5 ≤ 10 · 1.2 + 1; 100 is not a near-tie
    expect(latency.pickSet([0, 1, 2, 3], ts, view(false))).toEqual({ pool: [1, 2, 0, 3], pick: [1, 2], explore: null });
    expect(latency.pickSet([0, 3], ts, { latency: () => null, explorable: () => false })).toEqual({
      pool: [0, 3],
      pick: [0, 3],
      explore: null,
    });
    expect(LATENCY_TOLERANCE).toBe(0.2);
  });

  it('the primary pool is the eligible targets with a metadata condition, if any', () => {
    expect(primaryPool([0, 1, 2], (i) => i === 2)).toEqual({ primary: [2], others: [0, 1] });
    expect(primaryPool([0, 1], () => false)).toEqual({ primary: [0, 1], others: [] });
    expect(primaryPool([], () => true)).toEqual({ primary: [], others: [] });
  });
});

/** A table view over plain arrays (the router passes a RoutingTable). */
function tableOf(ts: { weight: number; priority: number }[]): StrategyTable {
  const weights = Float64Array.from(ts.map((x) => x.weight));
  const cum = new Float64Array(ts.length);
  ts.reduce((acc, x, i) => (cum[i] = acc + x.weight), 0);
  return { weights, cumWeights: cum, targetPriority: (i) => ts[i].priority, targetLabelHash: (i) => Math.imul(i + 1, 0x9e3779b1) >>> 0 };
}

const arbTargets = fc.array(
  fc.record({ weight: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 50 })), priority: fc.integer({ min: 0, max: 2 }) }),
  { minLength: 1, maxLength: 7 },
);

describe('hot forms agree with the cold forms', () => {
  it('priority: priorityPickCount is the length of the cold pick set', () => {
    fc.assert(
      fc.property(arbTargets, (ts) => {
        const order = priority.order(ts);
        const pool = Int32Array.from(order);
        expect(priorityPickCount(tableOf(ts), pool, pool.length, 0)).toBe(
          priority.pickSet(order, ts, { latency: () => null, explorable: () => true }).pick.length,
        );
      }),
    );
  });

  it('latency: sortByLatency, latencyExplore and latencyNearTies give the cold pool, explore and pick set', () => {
    fc.assert(
      fc.property(
        arbTargets,
        fc.array(fc.option(fc.integer({ min: 1, max: 300 }), { nil: null }), { minLength: 7, maxLength: 7 }),
        fc.array(fc.boolean(), { minLength: 7, maxLength: 7 }),
        (ts, ms, probing) => {
          const now = 1_000_000;
          const state: LatencyState = {
            ttfbEwma: Float64Array.from(ms.map((m) => m ?? 0)),
            lastSampleAt: Float64Array.from(ms.map((m, i) => (m !== null || probing[i] ? now : 0))),
            staleMs: 30_000,
            isMeasured: (i) => ms[i] !== null,
          };
          const view: LatencyView = { latency: (i) => ms[i], explorable: (i) => ms[i] === null && !probing[i] };
          const order = latency.order(ts);
          const want = latency.pickSet(order, ts, view);
          const pool = Int32Array.from(order);
          const measured = sortByLatency(state, pool, pool.length, 0, now);
          expect(Array.from(pool)).toEqual(want.pool);
          const k = latencyExplore(state, pool, measured, pool.length, 0, now);
          expect(k < 0 ? null : pool[k]).toBe(want.explore);
          if (k < 0 && measured > 0) expect(Array.from(pool.subarray(0, latencyNearTies(state, pool, measured, 0)))).toEqual(want.pick);
        },
      ),
    );
  });

  it('picks: cumulative, linear and cold weighted picks choose the same target for every draw', () => {
    fc.assert(
      fc.property(arbTargets, fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (ts, r) => {
        const table = tableOf(ts);
        const pool = Int32Array.from(ts.map((_, i) => i));
        const want = weightedIndex(
          ts.map((x) => x.weight),
          r,
        );
        expect(pickCumulative(table.cumWeights, 0, ts.length, r)).toBe(want);
        expect(pickWeighted(pool, ts.length, 0, table.weights, r)).toBe(want);
      }),
    );
  });

  it('picks: hot and cold rendezvous agree; zero weights are never picked while another weight is positive', () => {
    fc.assert(
      fc.property(arbTargets, fc.integer({ min: 0, max: 0xffffffff }), (ts, key) => {
        const table = tableOf(ts);
        const pool = Int32Array.from(ts.map((_, i) => i));
        const j = pickRendezvous(table, pool, ts.length, 0, key);
        expect(j).toBe(
          rendezvousIndex(
            key,
            ts.map((_, i) => table.targetLabelHash(i)),
            ts.map((x) => x.weight),
          ),
        );
        if (ts.some((x) => x.weight > 0)) expect(ts[j].weight).toBeGreaterThan(0);
      }),
    );
  });

  it('sortByPriority sorts like the cold priority order', () => {
    fc.assert(
      fc.property(arbTargets, (ts) => {
        const a = Int32Array.from(ts.map((_, i) => ts.length - 1 - i));
        sortByPriority(tableOf(ts), a, a.length, 0);
        expect(Array.from(a)).toEqual(ts.map((_, i) => i).sort(byPriority(ts)));
      }),
    );
  });

  it('weightShares: by weight, uniform when all are zero', () => {
    expect(weightShares([3, 1, 0])).toEqual([0.75, 0.25, 0]);
    expect(weightShares([0, 0])).toEqual([0.5, 0.5]);
  });
});
