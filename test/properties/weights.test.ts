/**
 * SPEC §7 property: observed weight shares match configured weights (SPEC §3.5).
 *
 * Statistical test with fixed seeds (fast-check's and the Router's), so it is deterministic:
 * N draws of `Router.plan` per generated virtual model; for every target the observed count
 * must lie within 4.5 σ of N·p (σ = √(N·p·(1−p)), binomial), and a zero share must be
 * observed exactly zero times. With ~600 checks per run, a correct router passes a fresh
 * seed with probability > 99.5 % — the fixed seeds make it a regression test, not a gamble.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { lowerTable } from '../../compiler/lower.js';
import { RoutingTable } from '../../runtime/table/reader.js';
import { HealthState } from '../../runtime/routing/health.js';
import { RouteInput, Router } from '../../runtime/routing/router.js';
import { config, target, vm } from '../support/norm.js';

const LABELS = ['p/a', 'p/b', 'q/c', 'q/d', 'r/e', 's/f'];
const DRAWS = 20_000;
const Z = 4.5;

/** Counts how often each of the vm's targets is planned first over `draws` plans. */
function observe(table: RoutingTable, seed: number, draws: number): number[] {
  const id = table.lookupString('v');
  const router = new Router(table, new HealthState(table.targetCount), seed);
  const input = new RouteInput();
  const out = new Int32Array(table.maxTargets);
  const first = table.vmFirstTarget(id);
  const counts = new Array<number>(table.vmTargetCount(id)).fill(0);
  let empty = 0;
  for (let i = 0; i < draws; i++) {
    if (router.plan(id, input, 0, out) === 0) empty++;
    else counts[out[0] - first]++;
  }
  expect(empty, 'plans without a target').toBe(0);
  return counts;
}

function expectShares(counts: number[], weights: number[], draws: number): void {
  const total = weights.reduce((a, b) => a + b, 0);
  weights.forEach((w, i) => {
    const p = w / total;
    if (p === 0) {
      expect(counts[i], `target ${i} has weight 0`).toBe(0);
      return;
    }
    const sigma = Math.sqrt(draws * p * (1 - p));
    expect(
      Math.abs(counts[i] - draws * p),
      `target ${i}: ${counts[i]} of ${draws}, expected ${(draws * p).toFixed(0)} ± ${(Z * sigma).toFixed(0)}`,
    ).toBeLessThanOrEqual(Z * sigma + 1e-9);
  });
}

const arbWeights = fc
  .array(fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 4, arbitrary: fc.integer({ min: 1, max: 100 }) }), {
    minLength: 2,
    maxLength: 6,
  })
  .filter((ws) => ws.some((w) => w > 0));

describe('weight shares (SPEC §3.5, §7)', () => {
  it('weighted: each target is picked in proportion to its weight', () => {
    fc.assert(
      fc.property(arbWeights, fc.integer({ min: 1, max: 0x7fffffff }), (weights, seed) => {
        const v = vm(
          'v',
          weights.map((w, i) => target(LABELS[i], { weight: w })),
          { strategy: 'weighted' },
        );
        const table = RoutingTable.decode(lowerTable(config([v])));
        expectShares(observe(table, seed, DRAWS), weights, DRAWS);
      }),
      { numRuns: 25, seed: 20260417 },
    );
  });

  it('priority: only the lowest priority tier is picked, ties share by weight', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ weight: fc.integer({ min: 1, max: 100 }), priority: fc.integer({ min: 0, max: 2 }) }), {
          minLength: 2,
          maxLength: 6,
        }),
        fc.integer({ min: 1, max: 0x7fffffff }),
        (specs, seed) => {
          const v = vm(
            'v',
            specs.map((s, i) => target(LABELS[i], s)),
            { strategy: 'priority' },
          );
          const table = RoutingTable.decode(lowerTable(config([v])));
          const top = Math.min(...specs.map((s) => s.priority));
          expectShares(
            observe(table, seed, DRAWS),
            specs.map((s) => (s.priority === top ? s.weight : 0)),
            DRAWS,
          );
        },
      ),
      { numRuns: 20, seed: 4242 },
    );
  });

  it('all-zero weights share uniformly', () => {
    const v = vm('v', [target('p/a', { weight: 0 }), target('p/b', { weight: 0 }), target('q/c', { weight: 0 })], { strategy: 'priority' });
    const table = RoutingTable.decode(lowerTable(config([v])));
    expectShares(observe(table, 7, DRAWS), [1, 1, 1], DRAWS);
  });
});
