/**
 * Shared cooldowns in one process (SPEC §14): HealthState announces its own ejections and
 * honours another replica's for the remaining time — not past the pool's maximum ejected
 * share, never shortening a longer one — and the CooldownBridge maps them by name onto the
 * table in service, a new generation included. Against a real Redis: two bridges on two
 * stores, one ejection seen by the other.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { HealthState, ADMIT_SKIP } from '../../runtime/routing/health.js';
import { CooldownBridge, cooldownNames } from '../../runtime/state/cooldowns.js';
import { RedisStateStore } from '../../runtime/state/redis-store.js';
import { parseStateUrl } from '../../runtime/state/url.js';
import { RoutingTable } from '../../runtime/table/reader.js';
import { buildTableFromYaml } from '../../compiler/testing.js';
import { REDIS_SERVER, RedisServer, sleep } from './procs.js';

const yaml = (extra = '') => `
version: 1
providers:
  up: { type: openai, base_url: http://127.0.0.1:9/v1, models: [a, b] }
virtual_models:
${extra}
  pair: { strategy: priority, targets: [{ target: up/a, priority: 0 }, { target: up/b, priority: 1 }] }
  solo: { target: up/a }
`;

describe('HealthState: own ejections announced, remote ones honoured', () => {
  it('announces an ejection with its end, and honours a remote one for its remaining time', async () => {
    const table = RoutingTable.decode(await buildTableFromYaml(yaml()));
    const h = new HealthState(table.targetCount, { failureThreshold: 2, maxFailureThreshold: 2, cooldownMs: 1000 }, table);
    const seen: [number, number][] = [];
    h.onEject = (t, until) => seen.push([t, until]);
    const solo = table.vmFirstTarget(table.lookupString('solo'));
    const now = 1_000_000;
    h.recordFailure(solo, h.admit(solo, now, 100), now);
    expect(h.recordFailure(solo, h.admit(solo, now, 100), now)).toBe(true);
    expect(seen).toEqual([[solo, now + 1000]]);

    const [a, b] = [0, 1].map((i) => table.vmFirstTarget(table.lookupString('pair')) + i);
    const before = h.epoch[a];
    expect(h.honourCooldown(a, now + 500, now)).toBe(true);
    expect(h.admit(a, now + 499, 100)).toBe(ADMIT_SKIP);
    expect(h.epoch[a]).toBe(before + 1); // in-flight attempts lose their say
    expect(h.cooldowns[a]).toBe(0); // not counted as this replica's decision
    expect(seen.length).toBe(1); // nor announced again
    // a shorter one does not shorten it; a longer one extends it
    expect(h.honourCooldown(a, now + 200, now)).toBe(false);
    expect(h.honourCooldown(a, now + 800, now)).toBe(true);
    expect(h.cooldownUntil[a]).toBe(now + 800);
    // the pool keeps a target: b cannot be ejected while a is
    expect(h.honourCooldown(b, now + 800, now)).toBe(false);
    expect(h.admit(b, now, 100)).toBeGreaterThanOrEqual(0);
    // after the time, the first request probes as after an own ejection
    expect(h.admit(a, now + 801, 100)).toBeGreaterThanOrEqual(0);
    expect(h.admit(a, now + 802, 100)).toBe(ADMIT_SKIP); // the probe is out
    // nothing for a past end or an unknown target
    expect(h.honourCooldown(solo, now - 1, now)).toBe(false);
    expect(h.honourCooldown(table.targetCount, now + 10, now)).toBe(false);
  });
});

describe.skipIf(REDIS_SERVER === null)('CooldownBridge over a real redis-server', () => {
  let redis: RedisServer | null = null;
  const stores: RedisStateStore[] = [];
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await redis?.kill('SIGTERM');
  });

  it('replica B skips a target replica A ejected, by name, also after B reloads a table with other ids', async () => {
    redis = await RedisServer.start();
    const open = async () => {
      const s = await RedisStateStore.open({ target: parseStateUrl(redis!.url), reconcileMs: 200, waitMs: 3000 });
      stores.push(s);
      return s;
    };
    const [sa, sb] = [await open(), await open()];
    const tA = RoutingTable.decode(await buildTableFromYaml(yaml()));
    const hA = new HealthState(tA.targetCount, { failureThreshold: 2, maxFailureThreshold: 2, cooldownMs: 3000 }, tA);
    const hB = new HealthState(tA.targetCount, {}, tA);
    const bridgeA = new CooldownBridge(sa);
    const bridgeB = new CooldownBridge(sb);
    bridgeA.attach(tA, hA);
    bridgeB.attach(tA, hB);
    const solo = tA.vmFirstTarget(tA.lookupString('solo'));
    const now = Date.now();
    hA.recordFailure(solo, hA.admit(solo, now, 100), now);
    hA.recordFailure(solo, hA.admit(solo, now, 100), now);
    const t0 = performance.now();
    while (hB.admit(solo, Date.now(), 100) !== ADMIT_SKIP) {
      expect(performance.now() - t0).toBeLessThan(3000);
      await sleep(5);
    }
    console.log(`cooldown honoured by the other bridge after ${(performance.now() - t0).toFixed(1)} ms`);
    expect(hB.cooldownUntil[solo] - Date.now()).toBeGreaterThan(2000);
    // B reloads a table where the same target has another id: the running cooldown follows the name
    const tB2 = RoutingTable.decode(await buildTableFromYaml(yaml('  first: { target: up/b }')));
    const hB2 = new HealthState(tB2.targetCount, {}, tB2);
    bridgeB.attach(tB2, hB2);
    const solo2 = tB2.vmFirstTarget(tB2.lookupString('solo'));
    expect(solo2).not.toBe(solo);
    expect(cooldownNames(tB2)[solo2]).toBe(cooldownNames(tA)[solo]);
    expect(hB2.admit(solo2, Date.now(), 100)).toBe(ADMIT_SKIP);
    expect(hB.onEject).toBeNull(); // the old generation is detached
    bridgeA.close();
    bridgeB.close();
  });
});
