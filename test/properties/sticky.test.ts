/**
 * SPEC §7 property: sticky keys stay put (SPEC §3.5 "the same key maps to the same target
 * while it is healthy, across restarts and across replicas that load the same table").
 *
 * - replicas: two tables decoded from the same bytes, routers with different random seeds,
 *   fresh health state → identical choice for every key;
 * - spread: over many distinct keys the shares follow the weights (4.5 σ, as in
 *   weights.test.ts);
 * - minimal disruption: removing one target from the pool moves only the keys that were on
 *   it (rendezvous hashing), and keys never depend on the random draw.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { lowerTable } from '../../compiler/lower.js';
import { RoutingTable } from '../../runtime/table/reader.js';
import { HealthState } from '../../runtime/routing/health.js';
import { RouteInput, Router } from '../../runtime/routing/router.js';
import type { NormTarget } from '../../runtime/table/normalized.js';
import { config, target, vm } from '../support/norm.js';

const LABELS = ['p/a', 'p/b', 'q/c', 'q/d', 'r/e', 's/f'];
const STICKY = { ttlSeconds: 3600, keys: [{ source: 'header' as const, key: 'x-user-id' }] };

/** A replica: decodes `bytes` itself and routes with its own seed; returns key → target label. */
function replica(bytes: Uint8Array, seed: number): (key: string) => string {
  const table = RoutingTable.decode(bytes);
  const id = table.lookupString('v');
  const router = new Router(table, new HealthState(table.targetCount), seed);
  const input = new RouteInput();
  const out = new Int32Array(table.maxTargets);
  return (key) => {
    input.stickyKey = key;
    return router.plan(id, input, 0, out) === 0 ? '(none)' : table.targetLabel(out[0]);
  };
}

const arbPool = fc
  .uniqueArray(fc.integer({ min: 0, max: LABELS.length - 1 }), { minLength: 2, maxLength: LABELS.length })
  .chain((idx) => fc.tuple(fc.constant(idx), fc.array(fc.integer({ min: 1, max: 100 }), { minLength: idx.length, maxLength: idx.length })))
  .map(([idx, ws]) => idx.map((i, k) => target(LABELS[i], { weight: ws[k] })));

const arbKeys = fc.uniqueArray(fc.string({ unit: 'binary', minLength: 1, maxLength: 24 }), { minLength: 1, maxLength: 60 });

const bytesOf = (targets: NormTarget[]): Uint8Array => lowerTable(config([vm('v', targets, { strategy: 'weighted', sticky: STICKY })]));

describe('sticky routing (SPEC §3.5, §7)', () => {
  it('the same key picks the same target on every replica, whatever its seed', () => {
    fc.assert(
      fc.property(
        arbPool,
        arbKeys,
        fc.integer({ min: 1, max: 0x7fffffff }),
        fc.integer({ min: 1, max: 0x7fffffff }),
        (targets, keys, s1, s2) => {
          const bytes = bytesOf(targets);
          const a = replica(bytes, s1);
          const b = replica(Uint8Array.from(bytes), s2);
          for (const k of keys) {
            const first = a(k);
            expect(first).not.toBe('(none)');
            // stable within one replica across draws, and the same on the other replica
            if (a(k) !== first || b(k) !== first) expect([a(k), b(k)], `key ${JSON.stringify(k)}`).toEqual([first, first]);
          }
        },
      ),
      { numRuns: 150, seed: 99 },
    );
  });

  it('removing a target moves only the keys that were on it', () => {
    fc.assert(
      fc.property(arbPool, fc.nat(), arbKeys, (targets, drop, keys) => {
        const gone = targets[drop % targets.length];
        const goneLabel = `${gone.provider}/${gone.model}`;
        const before = replica(bytesOf(targets), 1);
        const after = replica(bytesOf(targets.filter((t) => t !== gone)), 2);
        for (const k of keys) {
          const was = before(k);
          if (was !== goneLabel && after(k) !== was) expect(after(k), `key ${JSON.stringify(k)}`).toBe(was);
        }
      }),
      { numRuns: 150, seed: 7 },
    );
  });

  it('distinct keys spread over the targets by weight', () => {
    const KEYS = 20_000;
    const Z = 4.5;
    fc.assert(
      fc.property(arbPool, fc.string({ minLength: 0, maxLength: 6 }), (targets, prefix) => {
        const route = replica(bytesOf(targets), 3);
        const counts = new Map<string, number>();
        for (let i = 0; i < KEYS; i++) {
          const l = route(`${prefix}user-${i}`);
          counts.set(l, (counts.get(l) ?? 0) + 1);
        }
        const total = targets.reduce((a, t) => a + t.weight, 0);
        for (const t of targets) {
          const p = t.weight / total;
          const sigma = Math.sqrt(KEYS * p * (1 - p));
          const seen = counts.get(`${t.provider}/${t.model}`) ?? 0;
          expect(Math.abs(seen - KEYS * p), `${t.provider}/${t.model} weight ${t.weight}/${total}: ${seen} of ${KEYS}`).toBeLessThanOrEqual(
            Z * sigma,
          );
        }
      }),
      { numRuns: 12, seed: 31337 },
    );
  });
});
