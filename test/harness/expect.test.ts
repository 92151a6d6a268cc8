/**
 * Expected routing from the compiled table (SPEC §11): per request, the table's shares for
 * its metadata, user path and sticky key; a target whose declared faults fail every request
 * of a phase hands its share down the fallback order; partial faults leave shares unchanged.
 */
import { describe, expect, it } from 'vitest';
import { compileDocuments } from '../../compiler/frontend.js';
import { lowerTable } from '../../compiler/lower.js';
import { RoutingTable } from '../../runtime/table/reader.js';
import { FaultBook, RouteExpectations } from '../../bench/harness/expect.js';
import { workloadPlan } from '../../bench/harness/scenario.js';
import type { SimProviderSpec } from '../../bench/sim/behavior.js';
import type { WorkloadEntry } from '../../bench/harness/scenario-types.gen.js';

const CONFIG = `
version: 1
providers:
  a: { type: openai, base_url: http://127.0.0.1:9/v1, api_key_env: K, models: [m1, m2] }
  b: { type: anthropic, base_url: http://127.0.0.1:9, api_key_env: K, models: [m3] }
virtual_models:
  w: { targets: [{ target: a/m1, weight: 60 }, { target: a/m2, weight: 30 }, { target: b/m3, weight: 10 }] }
  p:
    strategy: priority
    targets:
      - { target: a/m1, priority: 0 }
      - { target: b/m3, priority: 1 }
      - { target: a/m2, priority: 2, fallback_candidate: false }
  s:
    sticky: { ttl_seconds: 60, keys: [{ source: header, key: x-user }] }
    targets: [{ target: a/m1, weight: 1 }, { target: b/m3, weight: 1 }]
  t: { target: a/m1, user_paths: [/team] }
  md:
    targets:
      - { target: a/m1 }
      - { target: b/m3, metadata_match: { tier: gold } }
`;

async function expectations(sims: SimProviderSpec[]) {
  const front = await compileDocuments([{ path: 'vmc.yaml', text: CONFIG }]);
  expect(front.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const bytes = lowerTable(front.config!);
  return new RouteExpectations(
    { source: 'config', label: 'x', norm: front.config!, table: RoutingTable.decode(bytes), bytes, tablePath: null },
    new FaultBook(sims),
  );
}

const entry = (w: WorkloadEntry) => workloadPlan(w, 0, null);
const facts = (headers: Record<string, string> = {}, metadata: Record<string, string> | null = null, userPath: string | null = null) => ({
  headers,
  metadata,
  userPath,
});
const phase = { from: 0, to: 10 };
const shares = (m: Map<string, number>) => Object.fromEntries([...m].map(([k, v]) => [k, Math.round(v * 1e9) / 1e9]));

describe('expected routing', () => {
  it('weighted shares; a dead target hands its share to the next in the order', async () => {
    const ok = await expectations([]);
    const w = entry({ model: 'w' });
    expect(shares(ok.expected(ok.profile(w, facts()), phase))).toEqual({ 'a/m1': 0.6, 'a/m2': 0.3, 'b/m3': 0.1 });
    const dead = await expectations([{ name: 'a', format: 'openai', models: { m1: { faults: [{ status: 503 }] } } }]);
    // a/m1 picked (60 %) → the rest of the pool in weight order: a/m2
    expect(shares(dead.expected(dead.profile(w, facts()), phase))).toEqual({ 'a/m2': 0.9, 'b/m3': 0.1 });
  });

  it('partial faults, shorter windows and statuses not in fallback_on leave the shares unchanged', async () => {
    for (const faults of [
      [{ status: 503, rate: 0.5 }],
      [{ status: 503, from_s: 2, for_s: 3 }],
      [{ status: 400 }],
      [{ status: 503, flap_s: 1 }],
    ]) {
      const e = await expectations([{ name: 'a', format: 'openai', models: { m1: { faults } } }]);
      expect(shares(e.expected(e.profile(entry({ model: 'w' }), facts()), phase)), JSON.stringify(faults)).toEqual({
        'a/m1': 0.6,
        'a/m2': 0.3,
        'b/m3': 0.1,
      });
    }
  });

  it('priority: the dead tier hands down to fallback candidates only; a window covering the phase counts', async () => {
    const e = await expectations([{ name: 'a', format: 'openai', faults: [{ kind: 'refuse', from_s: 0, for_s: 20 }] }]);
    expect(shares(e.expected(e.profile(entry({ model: 'p' }), facts()), phase))).toEqual({ 'b/m3': 1 });
    expect(shares(e.expected(e.profile(entry({ model: 'p' }), facts()), { from: 15, to: 25 }))).toEqual({ 'a/m1': 1 });
  });

  it('sticky keys: one target per key, the same as the gateway’s rendezvous hashing', async () => {
    const e = await expectations([]);
    const s = entry({ model: 's' });
    const seen = new Set<string>();
    for (let u = 0; u < 40; u++) {
      const m = e.expected(e.profile(s, facts({ 'x-user': `u${u}` })), phase);
      expect(m.size).toBe(1);
      seen.add([...m.keys()][0]);
      expect(e.profile(s, facts({ 'x-user': `u${u}` })).sticky).toBe(true);
    }
    expect(seen).toEqual(new Set(['a/m1', 'b/m3']));
    expect(e.profile(s, facts()).sticky).toBe(false); // no key: a random pick by weight
  });

  it('access policies and metadata', async () => {
    const e = await expectations([]);
    expect(e.profile(entry({ model: 't' }), facts({}, null, '/team/x')).status).toBe(200);
    expect(e.profile(entry({ model: 't' }), facts({}, null, '/other')).status).toBe(403);
    expect(shares(e.expected(e.profile(entry({ model: 'md' }), facts({}, { tier: 'gold' })), phase))).toEqual({ 'b/m3': 1 });
    expect(shares(e.expected(e.profile(entry({ model: 'md' }), facts({}, { tier: 'free' })), phase))).toEqual({ 'a/m1': 1 });
  });
});
