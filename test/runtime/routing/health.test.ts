/**
 * The outlier-detection breaker (runtime/routing/health.ts) on its own: the adaptive
 * consecutive-failure threshold, the failure-rate detector, growing ejections, the pool's
 * maximum ejected share, half-open probes and epochs (issue 8). The gateway-level behaviour
 * is covered by test/runtime/engine.test.ts and test/properties/breaker.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { lowerTable } from '../../../compiler/lower.js';
import { ADMIT_SKIP, HealthState } from '../../../runtime/routing/health.js';
import { RoutingTable } from '../../../runtime/table/reader.js';
import { config, target, vm } from '../../support/norm.js';
import { Rng } from '../../../bench/sim/random.js';

const T0 = 1_000_000;
const LEASE = 5_000;

/** Records `n` outcomes on target t (admitting each), returns the index of the failure that ejected it, or -1. */
function feed(h: HealthState, t: number, outcomes: boolean[], now = T0): number {
  for (let i = 0; i < outcomes.length; i++) {
    const e = h.admit(t, now, LEASE);
    if (e === ADMIT_SKIP) return i - 1;
    if (outcomes[i]) h.recordSuccess(t, e, now);
    else if (h.recordFailure(t, e, now)) return i;
  }
  return -1;
}

const fails = (n: number) => Array.from({ length: n }, () => false);
const oks = (n: number) => Array.from({ length: n }, () => true);

/** A seeded uniform draw (mulberry32, bench/sim/random.ts), so a run's failure pattern is reproducible. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

describe('when a target is ejected', () => {
  it('the run threshold follows the failure rate seen before the run', () => {
    const h = new HealthState(1);
    expect(h.runThreshold(0, 0)).toBe(14); // nothing known: 25 % assumed
    expect(h.runThreshold(0, 1000)).toBe(5); // healthy and busy: failureThreshold
    expect(h.runThreshold(100, 1000)).toBe(9); // 10 %
    expect(h.runThreshold(300, 1000)).toBe(16); // 30 %
    expect(h.runThreshold(1000, 1000)).toBe(20); // maxFailureThreshold
    const pinned = new HealthState(1, { failureThreshold: 3, maxFailureThreshold: 3 });
    expect(pinned.runThreshold(0, 0)).toBe(3);
  });

  it('a dead fresh target after 14 failures; a healthy busy one that dies after 5', () => {
    expect(feed(new HealthState(1), 0, fails(30))).toBe(13);
    expect(feed(new HealthState(1), 0, [...oks(200), ...fails(30)])).toBe(204);
  });

  it('independent failures at 30 % never eject (10 000 attempts)', () => {
    const draw = rng(8);
    const outcomes = Array.from({ length: 10_000 }, () => draw() >= 0.3);
    const h = new HealthState(1);
    expect(feed(h, 0, outcomes)).toBe(-1);
    expect(h.cooldowns[0]).toBe(0);
  });

  it('the failure-rate detector: ≥ 85 % failures over ≥ 20 attempts ejects even without a long run', () => {
    const pattern = (failures: number, n: number) => Array.from({ length: n }, (_, i) => i % (failures + 1) === failures);
    expect(feed(new HealthState(1), 0, pattern(4, 200))).toBe(-1); // 80 %: runs of 4
    expect(feed(new HealthState(1), 0, pattern(9, 200))).toBeGreaterThanOrEqual(19); // 90 %
  });

  it('the window forgets: attempts older than two intervals do not count towards the volume', () => {
    const rateOnly = { intervalMs: 1000, failureThreshold: 1000, maxFailureThreshold: 1000 }; // runs never eject
    const burst = [...fails(9), true, ...fails(5)]; // 14 of 15 failed, but fewer than 20 attempts
    const late = new HealthState(1, rateOnly);
    expect(feed(late, 0, burst, T0)).toBe(-1);
    expect(feed(late, 0, burst, T0 + 5000)).toBe(-1); // the first burst has left the window
    const soon = new HealthState(1, rateOnly);
    expect(feed(soon, 0, burst, T0)).toBe(-1);
    expect(feed(soon, 0, burst, T0 + 500)).toBeGreaterThanOrEqual(0); // both bursts in the window: ≥ 20 attempts, > 85 %
  });
});

describe('ejection, half-open probe, epochs', () => {
  const opts = { failureThreshold: 2, maxFailureThreshold: 2, cooldownMs: 1000, maxCooldownMs: 2500 };

  it('skips while ejected; then exactly one probe at a time; its success closes', () => {
    const h = new HealthState(1, opts);
    expect(feed(h, 0, fails(2))).toBe(1);
    expect(h.admit(0, T0 + 999, LEASE)).toBe(ADMIT_SKIP);
    expect(h.inCooldown(0, T0 + 999)).toBe(true);
    const probe = h.admit(0, T0 + 1000, LEASE);
    expect(probe).not.toBe(ADMIT_SKIP);
    expect(h.admit(0, T0 + 1001, LEASE)).toBe(ADMIT_SKIP); // the probe is out
    h.recordSuccess(0, probe, T0 + 1010);
    expect(h.inCooldown(0, T0 + 1011)).toBe(false);
    expect(h.admit(0, T0 + 1011, LEASE)).not.toBe(ADMIT_SKIP);
  });

  it('a failed probe ejects again, for longer (base × ejections, capped)', () => {
    const h = new HealthState(1, opts);
    feed(h, 0, fails(2));
    expect(h.cooldownUntil[0]).toBe(T0 + 1000);
    let now = T0 + 1000;
    for (const expected of [2000, 2500, 2500]) {
      const probe = h.admit(0, now, LEASE);
      expect(h.recordFailure(0, probe, now)).toBe(true);
      expect(h.cooldownUntil[0] - now).toBe(expected);
      now = h.cooldownUntil[0];
    }
    expect(h.cooldowns[0]).toBe(4);
  });

  it('the multiplier decays by one per base period spent healthy', () => {
    const h = new HealthState(1, opts);
    feed(h, 0, fails(2));
    const p1 = h.admit(0, T0 + 1000, LEASE);
    h.recordFailure(0, p1, T0 + 1000); // multiplier 2
    const p2 = h.admit(0, T0 + 3000, LEASE);
    h.recordSuccess(0, p2, T0 + 3000); // closed
    feed(h, 0, fails(2), T0 + 4500); // 1 period healthy: multiplier 2 − 1 + 1 = 2
    expect(h.cooldownUntil[0] - (T0 + 4500)).toBe(2000);
  });

  it('a probe whose verdict never comes frees the target after its lease; release frees it at once', () => {
    const h = new HealthState(1, opts);
    feed(h, 0, fails(2));
    const lost = h.admit(0, T0 + 1000, LEASE);
    expect(h.admit(0, T0 + 1000 + LEASE - 1, LEASE)).toBe(ADMIT_SKIP);
    const next = h.admit(0, T0 + 1000 + LEASE, LEASE);
    expect(next).not.toBe(ADMIT_SKIP);
    h.recordSuccess(0, lost, T0 + 1000 + LEASE); // the lost probe's late verdict: ignored
    expect(h.admit(0, T0 + 1000 + LEASE + 1, LEASE)).toBe(ADMIT_SKIP);
    h.release(0, next, T0 + 1000 + LEASE + 2); // e.g. the client went away
    expect(h.admit(0, T0 + 1000 + LEASE + 2, LEASE)).not.toBe(ADMIT_SKIP);
  });

  it('an in-flight success admitted before the ejection does not close it', () => {
    const h = new HealthState(1, opts);
    const inflight = h.admit(0, T0, LEASE); // a slow request, still running
    feed(h, 0, fails(2));
    h.recordSuccess(0, inflight, T0 + 10);
    expect(h.inCooldown(0, T0 + 10)).toBe(true);
    expect(h.admit(0, T0 + 10, LEASE)).toBe(ADMIT_SKIP);
  });

  it('a late failure admitted before the breaker closed does not count against the closed target', () => {
    const h = new HealthState(1, { ...opts, failureThreshold: 1, maxFailureThreshold: 1 });
    const old = h.admit(0, T0, LEASE);
    feed(h, 0, fails(1));
    const probe = h.admit(0, T0 + 1000, LEASE);
    h.recordSuccess(0, probe, T0 + 1000);
    expect(h.recordFailure(0, old, T0 + 1001)).toBe(false);
    expect(h.inCooldown(0, T0 + 1001)).toBe(false);
  });
});

describe('maximum ejected share of a pool', () => {
  const table = RoutingTable.decode(
    lowerTable(
      config([
        vm('four', [target('a/m'), target('b/m'), target('c/m'), target('d/m')]),
        vm('one', [target('a/m')]),
        vm('two', [target('a/m'), target('b/m')]),
      ]),
    ),
  );
  const first = (name: string) => table.vmFirstTarget(table.lookupString(name));
  const opts = { failureThreshold: 2, maxFailureThreshold: 2 };

  it('at most half of a pool is ejected at once; the others keep serving', () => {
    const h = new HealthState(table.targetCount, opts, table);
    const f = first('four');
    expect(feed(h, f, fails(2))).toBe(1);
    expect(feed(h, f + 1, fails(2))).toBe(1);
    expect(feed(h, f + 2, fails(10))).toBe(-1); // share used up: it stays in service
    expect(h.inCooldown(f + 2, T0)).toBe(false);
  });

  it('a single-target pool can always eject its target (SPEC §3.10); a pair one of the two', () => {
    const h = new HealthState(table.targetCount, opts, table);
    expect(feed(h, first('one'), fails(2))).toBe(1);
    const p = first('two');
    expect(feed(h, p, fails(2))).toBe(1);
    expect(feed(h, p + 1, fails(5))).toBe(-1);
  });

  it('pools are per virtual model: ejections elsewhere do not count', () => {
    const h = new HealthState(table.targetCount, opts, table);
    feed(h, first('one'), fails(2));
    expect(feed(h, first('two'), fails(2))).toBe(1);
  });
});
