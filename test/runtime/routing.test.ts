/**
 * Target selection through the gateway (SPEC §3.4–3.5): metadata primary pool, weighted
 * shares, priority, latency (measured by this runtime), sticky sessions. The router's exact
 * decisions are property-tested in test/runtime/routing/router.test.ts; here we check that the
 * gateway feeds it the right inputs (headers, metadata, measured latency).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockProvider } from '../../bench/sim/simulated-provider.js';
import { chat, closeAll, post, providersYaml, startGateway, startMocks, type Gateway } from './harness.js';

let mocks: MockProvider[];
let gw: Gateway;
let url: string;

beforeAll(async () => {
  mocks = await startMocks(['p0', 'p1', 'p2']);
  gw = await startGateway(`version: 1
${providersYaml(mocks, ['m1'])}
virtual_models:
  tiered:
    targets:
      - { target: p0/m1, metadata_match: { tier: enterprise } }
      - { target: p1/m1, weight: 50 }
      - { target: p2/m1, weight: 50 }
  weighted:
    strategy: weighted
    targets:
      - { target: p0/m1, weight: 80 }
      - { target: p1/m1, weight: 20 }
      - { target: p2/m1, weight: 0 }
  prio:
    strategy: priority
    targets:
      - { target: p2/m1, priority: 0 }
      - { target: p0/m1, priority: 1 }
  fastest:
    strategy: latency
    targets:
      - { target: p0/m1 }
      - { target: p1/m1 }
  sticky:
    sticky: { ttl_seconds: 3600, keys: [{ source: header, key: x-user-id }] }
    targets:
      - { target: p0/m1 }
      - { target: p1/m1 }
      - { target: p2/m1 }
  sticky-meta:
    sticky: { ttl_seconds: 60, keys: [{ source: metadata, key: session }] }
    targets:
      - { target: p0/m1 }
      - { target: p1/m1 }
      - { target: p2/m1 }
`);
  url = gw.url + '/v1/chat/completions';
});
afterAll(() => closeAll(gw, ...mocks));

async function targets(n: number, model: string, headers: Record<string, string> = {}): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await post(url, chat(model), headers);
    expect(r.status).toBe(200);
    const t = r.headers.get('x-vmc-target')!;
    counts[t] = (counts[t] ?? 0) + 1;
  }
  return counts;
}

describe('metadata match (SPEC §3.4)', () => {
  it('a matching metadata_match target forms the primary pool', async () => {
    expect(await targets(10, 'tiered', { 'x-vmc-metadata': '{"tier":"enterprise"}' })).toEqual({ 'p0/m1': 10 });
  });
  it('without matching metadata that target is not eligible', async () => {
    const c = await targets(30, 'tiered', { 'x-vmc-metadata': '{"tier":"free"}' });
    expect(c['p0/m1']).toBeUndefined();
    expect((c['p1/m1'] ?? 0) + (c['p2/m1'] ?? 0)).toBe(30);
    const none = await targets(10, 'tiered');
    expect(none['p0/m1']).toBeUndefined();
  });
  it('malformed metadata header → 400', async () => {
    for (const bad of ['not json', '[1]', '{"tier":1}']) {
      const r = await post(url, chat('tiered'), { 'x-vmc-metadata': bad });
      expect(r.status).toBe(400);
      expect(r.json.error.type).toBe('invalid_request_error');
    }
  });
});

describe('strategies (SPEC §3.5)', () => {
  it('weighted: shares follow weights; weight 0 is never picked', async () => {
    const c = await targets(400, 'weighted');
    expect(c['p2/m1']).toBeUndefined();
    const share = (c['p0/m1'] ?? 0) / 400;
    expect(share).toBeGreaterThan(0.7);
    expect(share).toBeLessThan(0.9);
  });

  it('priority: lowest number first', async () => {
    expect(await targets(10, 'prio')).toEqual({ 'p2/m1': 10 });
  });

  it('latency: the target with the lower measured time to first byte wins', async () => {
    mocks[0].setBehavior({ firstByteDelayMs: 80 });
    mocks[1].setBehavior({});
    try {
      await targets(6, 'fastest'); // explore both
      const c = await targets(20, 'fastest');
      expect(c['p1/m1'] ?? 0).toBeGreaterThanOrEqual(18);
    } finally {
      mocks[0].setBehavior({});
    }
  });
});

describe('sticky sessions (SPEC §3.5)', () => {
  it('the same key maps to the same target; different keys spread', async () => {
    const seen = new Set<string>();
    for (let u = 0; u < 12; u++) {
      const c = await targets(4, 'sticky', { 'x-user-id': `user-${u}` });
      expect(Object.keys(c)).toHaveLength(1);
      seen.add(Object.keys(c)[0]);
    }
    expect(seen.size).toBeGreaterThan(1);
  });

  it('the mapping is stable across gateway instances loading the same table', async () => {
    const again = await startGateway(`version: 1
${providersYaml(mocks, ['m1'])}
virtual_models:
  sticky:
    sticky: { ttl_seconds: 3600, keys: [{ source: header, key: x-user-id }] }
    targets:
      - { target: p0/m1 }
      - { target: p1/m1 }
      - { target: p2/m1 }
`);
    try {
      for (let u = 0; u < 8; u++) {
        const a = await post(url, chat('sticky'), { 'x-user-id': `k${u}` });
        const b = await post(again.url + '/v1/chat/completions', chat('sticky'), { 'x-user-id': `k${u}` });
        expect(b.headers.get('x-vmc-target')).toBe(a.headers.get('x-vmc-target'));
      }
    } finally {
      await again.close();
    }
  });

  it('metadata keys work as session identifiers', async () => {
    for (let s = 0; s < 5; s++) {
      const c = await targets(4, 'sticky-meta', { 'x-vmc-metadata': JSON.stringify({ session: `s${s}` }) });
      expect(Object.keys(c)).toHaveLength(1);
    }
  });

  it('a sticky target that fails falls back, and the key returns once it is healthy', async () => {
    const r0 = await post(url, chat('sticky'), { 'x-user-id': 'fragile' });
    const home = r0.headers.get('x-vmc-target')!;
    const mock = mocks.find((m) => `${m.name}/m1` === home)!;
    mock.setBehavior({ status: 503 });
    try {
      const r1 = await post(url, chat('sticky'), { 'x-user-id': 'fragile' });
      expect(r1.status).toBe(200);
      expect(r1.headers.get('x-vmc-target')).not.toBe(home);
    } finally {
      mock.setBehavior({});
    }
    const r2 = await post(url, chat('sticky'), { 'x-user-id': 'fragile' });
    expect(r2.headers.get('x-vmc-target')).toBe(home);
  });
});
