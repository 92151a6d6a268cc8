/**
 * "The gateway never crashes on input": random bodies, headers, paths and model names
 * against a real gateway (real mock upstream), on each HTTP engine. Every answer must be a
 * complete HTTP response; gateway-made errors use the JSON envelope of SPEC §3; the
 * gateway stays healthy and keeps routing afterwards. Bounded: a fixed number of runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { request } from 'undici';
import { closeAll, ENGINES, providersYaml, startGateway, startMocks, type Gateway } from './harness.js';
import type { MockProvider } from '../../bench/sim/simulated-provider.js';

const PATHS = [
  '/v1/chat/completions',
  '/v1/completions',
  '/v1/embeddings',
  '/v1/responses',
  '/v1/messages',
  '/v1/models',
  '/health',
  '/nope',
  '/v1/chat/completions?x=1',
  '//v1/../v1/chat/completions',
];
const MODELS = ['ok', 'meta', 'sticky', 'gated', 'fz/m1', 'missing', '', 'ok\u0000', 'ük/名', 'a'.repeat(300)];

// Weighted towards requests that get past routing, so every check is reached.
const arbPath = fc.oneof(
  { arbitrary: fc.constant('/v1/chat/completions'), weight: 4 },
  { arbitrary: fc.constantFrom(...PATHS), weight: 2 },
);
const arbMethod = fc.oneof(
  { arbitrary: fc.constant('POST'), weight: 6 },
  { arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE'), weight: 1 },
);
const arbModel = fc.oneof(
  { arbitrary: fc.constantFrom(...MODELS), weight: 4 },
  { arbitrary: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 })), weight: 1 },
);

const arbBody = fc.oneof(
  {
    arbitrary: fc
      .record({
        model: arbModel,
        messages: fc.oneof(fc.constant([{ role: 'user', content: 'hi' }]), fc.anything()),
        stream: fc.oneof(fc.boolean(), fc.constant(undefined), fc.string()),
      })
      .map((o) => Buffer.from(JSON.stringify(o))),
    weight: 5,
  },
  fc.json().map((j) => Buffer.from(j)),
  fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
  fc.constantFrom(...MODELS).map((m) => Buffer.from(`{"model":"${m.replace(/"/g, '\\"')}","messages":[`)), // truncated
  fc.constantFrom(...MODELS).map((m) => Buffer.from(`{"a":{"model":1},"model":${JSON.stringify(m)},"model":"ok"}`)),
);

const arbHeaders = fc.record(
  {
    'x-vmc-metadata': fc.oneof(fc.string(), fc.json(), fc.constant('{"tier":"gold","session":"s1"}')),
    'x-vmc-user-path': fc.oneof(fc.constantFrom('/', '/team', '/team/x', '/teams', '', 'team', '//'), fc.string()),
    'x-user': fc.string({ minLength: 1 }),
    'content-type': fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'),
  },
  { requiredKeys: [] },
);

// Header values must be valid for the HTTP client itself (no CR/LF/NUL); keep printable ASCII.
const clean = (h: Record<string, string>): Record<string, string> =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k, v.replace(/[^\x20-\x7e]/g, '?')]));

describe.each(ENGINES)('gateway input fuzzing (%s engine)', (engine) => {
  let mocks: MockProvider[];
  let gw: Gateway;

  beforeAll(async () => {
    mocks = await startMocks(['fz']);
    gw = await startGateway(
      `version: 1
${providersYaml(mocks)}
virtual_models:
  ok: { target: fz/m1 }
  meta:
    targets:
      - { target: fz/m1, metadata_match: { tier: gold } }
      - { target: fz/m2 }
  sticky:
    sticky: { keys: [{ source: header, key: x-user }, { source: metadata, key: session }] }
    targets: [{ target: fz/m1 }, { target: fz/m2 }]
  gated: { target: fz/m3, user_paths: [/team] }
`,
      { maxBodyBytes: 64 * 1024, engine },
    );
  });

  afterAll(async () => {
    await closeAll(gw, ...mocks);
  });

  it('answers every random request with a complete response and keeps serving', async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(arbPath, arbMethod, arbBody, arbHeaders, async (path, method, body, headers) => {
        const res = await request(gw.url + path, {
          method,
          headers: clean(headers as Record<string, string>),
          body: method === 'GET' ? undefined : body,
        });
        const text = await res.body.text();
        seen.set(res.statusCode, (seen.get(res.statusCode) ?? 0) + 1);
        expect(res.statusCode).toBeGreaterThanOrEqual(200);
        expect(res.statusCode).toBeLessThan(600);
        const routed = res.headers['x-vmc-target'] !== undefined && res.headers['x-vmc-target'] !== '';
        if (res.statusCode >= 400 && !routed) {
          // Made by the gateway, not relayed from the provider: the SPEC §3 envelope.
          const err = JSON.parse(text).error;
          expect(err.status_code).toBe(res.statusCode);
          expect(typeof err.type).toBe('string');
          expect(typeof err.message).toBe('string');
        }
      }),
      { numRuns: 600, seed: 20261123 },
    );
    if (process.env.VMC_FUZZ_STATS) console.log([...seen].sort());
    // Not vacuous: the runs reached routing, access control and the body checks.
    for (const status of [200, 400, 403, 404])
      expect(seen.get(status) ?? 0, `status ${status} in ${JSON.stringify([...seen])}`).toBeGreaterThan(0);
    const health = await request(gw.url + '/health');
    expect(health.statusCode).toBe(200);
    await health.body.text();
    const ok = await request(gw.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'ok', messages: [] }),
    });
    expect(ok.statusCode).toBe(200);
    expect(ok.headers['x-vmc-target']).toBe('fz/m1');
    await ok.body.text();
  });
});
