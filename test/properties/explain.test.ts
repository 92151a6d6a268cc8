/**
 * Property (SPEC §5, §10; issue "one resolution path"): `vmc explain` says what the gateway
 * does. For random configs and requests (endpoint, metadata, sticky headers, user paths,
 * names), explain's answer equals the real gateway's: the same refusal (HTTP status and
 * message), or the same first target for the same draw.
 *
 * One gateway on 127.0.0.1 with simulated providers (always 200) serves every run; each run
 * swaps in a freshly lowered table with reload(), which also builds a fresh router seeded with
 * `routerSeed` and fresh health state. So the gateway's first plan of each table uses the
 * first draw of that seed — the draw explain is given. A fresh health state is also what
 * explain assumes (nothing measured yet: the latency strategy explores first).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { explainRoute } from '../../compiler/tools/explain.js';
import { lowerTable } from '../../compiler/lower.js';
import { startMockProvider, type MockProvider } from '../../bench/sim/simulated-provider.js';
import { createLogger } from '../../runtime/log.js';
import { HealthState } from '../../runtime/routing/health.js';
import { Router } from '../../runtime/routing/router.js';
import { startServer, type RunningServer } from '../../runtime/server.js';
import { ENDPOINT_COUNT, ENDPOINT_PATHS, EP_EMBEDDINGS, EP_MESSAGES } from '../../runtime/table/endpoints.js';
import type { NormConfig, NormVirtualModel, Strategy } from '../../runtime/table/normalized.js';
import { RoutingTable } from '../../runtime/table/reader.js';
import { STRATEGY_NAMES } from '../../runtime/table/strategies/index.js';
import { compareStrings } from '../../runtime/table/util.js';
import { provider, target, vm } from '../support/norm.js';

const SEED = 20260417;
const PROVIDERS = ['p0', 'p1', 'p2'];
const MODELS = ['a', 'b'];
const LABELS = PROVIDERS.flatMap((p) => MODELS.map((m) => `${p}/${m}`));

let mocks: MockProvider[];
let server: RunningServer;
let url: string;

function configOf(vms: NormVirtualModel[]): NormConfig {
  return {
    version: 1,
    settings: { passthrough: true, modelsEndpoint: 'all' },
    // p2 speaks Anthropic: the gateway translates chat and skips it on endpoints Anthropic lacks.
    providers: mocks.map((m) =>
      m.name === 'p2'
        ? provider(m.name, MODELS, { type: 'anthropic', baseUrl: m.url })
        : provider(m.name, MODELS, { baseUrl: `${m.url}/v1` }),
    ),
    virtualModels: [...vms].sort((a, b) => compareStrings(a.name, b.name)),
  };
}

beforeAll(async () => {
  mocks = await Promise.all(PROVIDERS.map((name) => startMockProvider({ name })));
  const table = RoutingTable.decode(lowerTable(configOf([vm('v', [target('p0/a')])])));
  server = await startServer({
    table,
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes: 1 << 20,
    log: createLogger({ level: 'silent', sink: () => {} }),
    drainTimeoutMs: 2000,
    routerSeed: SEED,
  });
  url = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server?.close();
  await Promise.all((mocks ?? []).map((m) => m.close()));
});

/** fc.constantFrom with weights: [weight, value] pairs. */
const weighted = <T>(...pairs: [number, T][]): fc.Arbitrary<T> =>
  fc.oneof(...pairs.map(([weight, v]) => ({ weight, arbitrary: fc.constant(v) })));

const arbTarget = fc.record({
  label: fc.constantFrom(...LABELS),
  weight: fc.oneof({ weight: 1, arbitrary: fc.constant(0) }, { weight: 5, arbitrary: fc.integer({ min: 1, max: 100 }) }),
  priority: fc.integer({ min: 0, max: 2 }),
  candidate: weighted([4, true], [1, false]),
  region: weighted<string | undefined>([4, undefined], [1, 'us'], [1, 'eu']),
});

const arbVm = fc.record({
  strategy: fc.constantFrom<Strategy>(...STRATEGY_NAMES),
  targets: fc.uniqueArray(arbTarget, { minLength: 2, maxLength: 5, selector: (t) => t.label }),
  sticky: weighted([3, 'none'], [1, 'header'], [1, 'metadata'], [1, 'both']),
  userPaths: weighted<string[]>([10, []], [1, ['/team']], [1, ['/ops', '/team/a']]),
  modelTypes: weighted<string[]>([12, []], [1, ['chat']], [1, ['embedding']], [1, ['messages']], [1, ['chat', 'completion']]),
  enabled: weighted([40, true], [1, false]),
  slug: weighted([3, true], [1, false]),
});

const arbRequest = fc.record({
  model: weighted([12, 'v'], [2, 'v-slug'], [1, 'p1/b'], [1, 'nope']),
  endpoint: fc.integer({ min: 0, max: ENDPOINT_COUNT - 1 }),
  metadata: weighted<string | null>(
    [6, null],
    [2, '{"region":"us"}'],
    [2, '{"region":"eu","session":"s1"}'],
    [2, '{"session":"s2"}'],
    [1, '{"region":1}'],
    [1, 'not json'],
  ),
  user: weighted<string | undefined>([2, undefined], [1, 'alice'], [1, 'bob'], [1, 'carol'], [1, 'dave']),
  userPath: weighted<string | undefined>([4, undefined], [1, '/'], [1, '/team'], [1, '/team/a/x'], [1, '/teams'], [1, 'team'], [1, '/ops']),
});

function buildVm(spec: typeof arbVm extends fc.Arbitrary<infer T> ? T : never): NormVirtualModel {
  const keys = [
    ...(spec.sticky === 'header' || spec.sticky === 'both' ? [{ source: 'header' as const, key: 'x-user' }] : []),
    ...(spec.sticky === 'metadata' || spec.sticky === 'both' ? [{ source: 'metadata' as const, key: 'session' }] : []),
  ];
  return vm(
    'v',
    spec.targets.map((t) =>
      target(t.label, {
        weight: t.weight,
        priority: t.priority,
        fallbackCandidate: t.candidate,
        metadataMatch: t.region ? [['region', t.region]] : [],
      }),
    ),
    {
      strategy: spec.strategy,
      sticky: keys.length > 0 ? { ttlSeconds: 60, keys } : null,
      userPaths: spec.userPaths,
      modelTypes: spec.modelTypes,
      enabled: spec.enabled,
      slug: spec.slug ? 'v-slug' : null,
    },
  );
}

function bodyFor(endpoint: number, model: string): string {
  if (endpoint === EP_EMBEDDINGS) return JSON.stringify({ model, input: 'hi' });
  if (endpoint === EP_MESSAGES) return JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });
  return JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], prompt: 'hi', input: 'hi' });
}

describe('vmc explain agrees with the gateway (SPEC §10)', () => {
  it("explain's refusal or chosen target is the gateway's answer or first attempt, for the same input and draw", async () => {
    let proxied = 0;
    const reasons: Record<string, number> = {};
    const picks = { only: 0, explore: 0, sticky: 0, draw: 0, random: 0 };
    await fc.assert(
      fc.asyncProperty(arbVm, arbRequest, async (spec, req) => {
        const bytes = lowerTable(configOf([buildVm(spec)]));
        const table = RoutingTable.decode(bytes);
        server.reload(bytes);
        // The draw of the gateway's first plan on this table: a router with the same seed.
        const draw = new Router(table, new HealthState(table.targetCount), SEED).random();

        const headers: Record<string, string> = {};
        if (req.metadata !== null) headers['x-vmc-metadata'] = req.metadata;
        if (req.user !== undefined) headers['x-user'] = req.user;
        if (req.userPath !== undefined) headers['x-vmc-user-path'] = req.userPath;
        const explained = explainRoute(table, req.model, { headers, metadata: null, userPath: null, endpoint: req.endpoint, draw });

        const res = await fetch(url + ENDPOINT_PATHS[req.endpoint], {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: bodyFor(req.endpoint, req.model),
        });
        const text = await res.text();
        const where = `${ENDPOINT_PATHS[req.endpoint]} ${req.model} ${JSON.stringify(headers)} → ${res.status} ${text.slice(0, 200)}`;
        expect(res.status, where).toBe(explained.httpStatus);
        if (explained.status === 'ok') {
          proxied++;
          picks[explained.pick!]++;
          expect(explained.chosen, where).not.toBeNull();
          expect(res.headers.get('x-vmc-target'), where).toBe(explained.chosen);
          expect(res.headers.get('x-vmc-attempts'), where).toBe('1');
        } else {
          reasons[explained.status] = (reasons[explained.status] ?? 0) + 1;
          expect(JSON.parse(text).error.message, where).toBe(explained.message);
        }
      }),
      { numRuns: 200, seed: 7 },
    );
    // Every kind of pick and of refusal was exercised (the distributions above are tuned for it).
    expect(proxied).toBeGreaterThan(50);
    expect(picks.draw).toBeGreaterThanOrEqual(10);
    expect(picks.sticky).toBeGreaterThanOrEqual(3);
    expect(picks.explore).toBeGreaterThanOrEqual(10);
    expect(Object.keys(reasons).sort()).toEqual([
      'bad_metadata',
      'disabled',
      'forbidden',
      'no_eligible_target',
      'no_target_serves_endpoint',
      'not_found',
      'wrong_endpoint',
    ]);
  });
});
