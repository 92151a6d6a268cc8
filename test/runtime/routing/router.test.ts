import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { lowerTable } from '../../../compiler/lower.js';
import { RoutingTable } from '../../../runtime/table/reader.js';
import { HealthState } from '../../../runtime/routing/health.js';
import { RouteInput, Router } from '../../../runtime/routing/router.js';
import { config, target, vm } from '../../support/norm.js';
import { referencePlan } from '../../support/reference-router.js';
import { STRATEGY_NAMES } from '../../../runtime/table/strategies/index.js';
import type { NormVirtualModel, Strategy } from '../../../runtime/table/normalized.js';

const MODELS = ['p/a', 'p/b', 'q/c', 'q/d', 'r/e'];

const arbTarget = fc.record({
  model: fc.constantFrom(...MODELS),
  weight: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 100 })),
  priority: fc.integer({ min: 0, max: 3 }),
  candidate: fc.boolean(),
  meta: fc.option(fc.constantFrom('us', 'eu'), { nil: undefined }),
});

const arbVm = fc.record({
  strategy: fc.constantFrom<Strategy>(...STRATEGY_NAMES),
  targets: fc.array(arbTarget, { minLength: 1, maxLength: 6 }),
  sticky: fc.boolean(),
});

const arbRequest = fc.record({
  region: fc.option(fc.constantFrom('us', 'eu', 'ap'), { nil: undefined }),
  stickyKey: fc.option(fc.string({ minLength: 1, maxLength: 12 }), { nil: undefined }),
  r: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  latencies: fc.array(fc.option(fc.integer({ min: 1, max: 500 }), { nil: undefined }), { minLength: 6, maxLength: 6 }),
});

function buildVm(
  spec: fc.Arbitrary<unknown> extends never
    ? never
    : {
        strategy: Strategy;
        targets: { model: string; weight: number; priority: number; candidate: boolean; meta?: string }[];
        sticky: boolean;
      },
): NormVirtualModel {
  return vm(
    'v',
    spec.targets.map((t) =>
      target(t.model, {
        weight: t.weight,
        priority: t.priority,
        fallbackCandidate: t.candidate,
        metadataMatch: t.meta ? [['region', t.meta]] : [],
      }),
    ),
    { strategy: spec.strategy, sticky: spec.sticky ? { ttlSeconds: 60, keys: [{ source: 'header', key: 'x-user' }] } : null },
  );
}

describe('table router ≡ reference router (SPEC §3.4–3.7)', () => {
  it('produces the same try order for random configs, requests and latency states', () => {
    fc.assert(
      fc.property(arbVm, arbRequest, (spec, req) => {
        const v = buildVm(spec);
        const table = RoutingTable.decode(lowerTable(config([v])));
        const id = table.lookupString('v');
        const now = 1_000_000;
        const first = table.vmFirstTarget(id);
        // the latency state of the request (a plan may claim an exploration probe: one state per plan)
        const healthState = (): HealthState => {
          const h = new HealthState(table.targetCount);
          req.latencies.slice(0, v.targets.length).forEach((ms, i) => {
            if (ms !== undefined) h.recordLatency(first + i, ms, now);
          });
          return h;
        };
        const health = healthState();
        const input = new RouteInput();
        input.metadata = req.region ? { region: req.region } : null;
        input.stickyKey = spec.sticky && req.stickyKey !== undefined ? req.stickyKey : null;
        const latencyView = {
          latency: (i: number) => (health.isMeasured(first + i, now) ? health.ttfbEwma[first + i] : null),
          explorable: (i: number) => now - health.lastSampleAt[first + i] > health.staleMs,
        };
        const want = referencePlan(v, input, req.r, latencyView);
        // out as long as the vm's pool, and at least four slots (small pools' four-store plan)
        for (const slots of new Set([table.maxTargets, Math.max(4, table.maxTargets)])) {
          const out = new Int32Array(slots);
          const n = new Router(table, healthState(), 1).planWith(id, input, now, req.r, out);
          expect(Array.from(out.subarray(0, n), (t) => t - first)).toEqual(want);
        }
      }),
      { numRuns: 2000, seed: 42 },
    );
  });

  it('small pools (2–4 targets, precomputed try orders): every fallback pattern, priority layout and pick', () => {
    const noLatency = { latency: () => null, explorable: () => false };
    const input = new RouteInput();
    let checked = 0;
    for (let n = 2; n <= 4; n++) {
      for (let candidates = 0; candidates < 1 << n; candidates++) {
        for (const strategy of ['weighted', 'priority'] as const) {
          // weights 1..n (target i owns (i+1)/Σ of the draws); priorities: all equal, or two groups
          for (const split of [n, 1, n - 1]) {
            const v = vm(
              'v',
              MODELS.slice(0, n).map((m, i) =>
                target(m, { weight: i + 1, priority: i < split ? 0 : 1, fallbackCandidate: ((candidates >> i) & 1) === 1 }),
              ),
              { strategy },
            );
            const table = RoutingTable.decode(lowerTable(config([v])));
            const id = table.lookupString('v');
            const first = table.vmFirstTarget(id);
            for (const r of [0, 0.12, 0.3, 0.5, 0.7, 0.85, 0.999]) {
              const want = referencePlan(v, input, r, noLatency);
              for (const slots of [n, 4, 8]) {
                const out = new Int32Array(slots);
                const got = new Router(table, new HealthState(table.targetCount), 1).planWith(id, input, 0, r, out);
                expect(Array.from(out.subarray(0, got), (t) => t - first)).toEqual(want);
                checked++;
              }
            }
          }
        }
      }
    }
    expect(checked).toBe(3 * 7 * 2 * 3 * (4 + 8 + 16));
  });

  it('a single-target vm always plans its one target', () => {
    const table = RoutingTable.decode(lowerTable(config([vm('one', [target('p/a')])])));
    const router = new Router(table, new HealthState(table.targetCount));
    const out = new Int32Array(4);
    expect(router.plan(table.lookupString('one'), new RouteInput(), Date.now(), out)).toBe(1);
    expect(out[0]).toBe(table.vmFirstTarget(table.lookupString('one')));
  });

  it('latency strategy explores an unmeasured target once, then prefers the fastest', () => {
    const v = vm('lat', [target('p/a'), target('p/b'), target('q/c')], { strategy: 'latency' });
    const table = RoutingTable.decode(lowerTable(config([v])));
    const id = table.lookupString('lat');
    const first = table.vmFirstTarget(id);
    const health = new HealthState(table.targetCount);
    const router = new Router(table, health, 7);
    const out = new Int32Array(3);
    const now = 5_000_000;
    health.recordLatency(first, 100, now);
    health.recordLatency(first + 1, 10, now);
    // q/c is unmeasured: explored first, then claimed (not herded on).
    router.plan(id, new RouteInput(), now, out);
    expect(out[0]).toBe(first + 2);
    router.plan(id, new RouteInput(), now, out);
    expect(out[0]).toBe(first + 1);
    expect(Array.from(out.subarray(1, 3))).toEqual([first, first + 2]);
  });
});
