/**
 * SPEC §7 property: table decode reproduces the config (provider settings of SPEC §13
 * included). For random valid NormConfigs
 * (every invariant listed at the top of runtime/table/normalized.ts respected: sorted
 * arrays, filled defaults, catalogued targets, lower-case header names, status codes in
 * 100..599), `RoutingTable.decode(lowerTable(c)).toNormalized()` equals `c`, and every
 * indexed name and slug resolves — through the byte lookup — to its own virtual model.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { lowerTable } from '../../compiler/lower.js';
import { RoutingTable } from '../../runtime/table/reader.js';
import type {
  NormConfig,
  NormMiddlewareCall,
  NormProvider,
  NormProviderOptions,
  NormTarget,
  NormVirtualModel,
} from '../../runtime/table/normalized.js';
import { PROVIDER_TYPE_CODES } from '../../runtime/table/provider-types.js';
import { compareStrings as cmp } from '../../runtime/table/util.js';

const sortedUnique = (xs: string[]): string[] => [...new Set(xs)].sort(cmp);

/** Any well-formed Unicode (no lone surrogates: names travel as UTF-8). */
const text = (max = 12) => fc.string({ unit: 'binary', maxLength: max });
const word = fc.stringMatching(/^[a-z][a-z0-9._-]{0,8}$/);
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const statusList = fc.uniqueArray(fc.integer({ min: 100, max: 599 }), { maxLength: 8 }).map((xs) => [...xs].sort((a, b) => a - b));
const headerName = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/);
const pairs = (key: fc.Arbitrary<string>) =>
  fc
    .uniqueArray(fc.tuple(key, text()), { maxLength: 3, selector: ([k]) => k })
    .map((ps) => [...ps].sort(([a], [b]) => cmp(a, b)) as [string, string][]);
const canonicalJson = fc.option(
  fc
    .dictionary(word, fc.oneof(fc.integer(), fc.boolean(), text(6)))
    .map((o) => JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => cmp(a, b))))),
  { nil: null },
);
const middlewareCalls = fc.array(
  fc.record<NormMiddlewareCall>({
    name: word,
    configType: fc.constantFrom('', 'params', 'webhook'),
    config: canonicalJson,
    configId: fc.option(word, { nil: null }),
  }),
  { maxLength: 2 },
);

const envName = word.map((w) => w.toUpperCase().replace(/[^A-Z0-9]/g, '_'));
/** SPEC §13 settings: sparse (any subset of the keys), as normalize writes them. */
const arbOptions: fc.Arbitrary<NormProviderOptions> = fc.record(
  {
    auth: fc.oneof(
      fc.record({ kind: fc.constant('header' as const), name: headerName }),
      fc.record({ kind: fc.constant('query' as const), name: word }),
      fc.constant({ kind: 'none' as const }),
    ),
    headers: pairs(headerName).map((ps) => ps.map(([k, v]) => [k, `${v}\${${k.toUpperCase().replace(/-/g, '_')}}`] as [string, string])),
    query: pairs(word),
    apiVersion: word,
    deployments: pairs(fc.oneof(word, text(8))),
    region: fc.constantFrom('us-east-1', 'eu-central-1'),
    credentialsEnv: fc.record({ accessKeyId: envName, secretAccessKey: envName, sessionToken: fc.option(envName, { nil: null }) }),
    project: word,
    location: fc.constantFrom('us-central1', 'global'),
    credentialsFileEnv: envName,
  },
  { requiredKeys: [] },
);

const arbProviders: fc.Arbitrary<NormProvider[]> = fc
  .uniqueArray(
    fc.record<NormProvider>(
      {
        name: word,
        type: fc.constantFrom(...PROVIDER_TYPE_CODES),
        baseUrl: word.map((w) => `https://${w}.example/v1`),
        apiKeyEnv: fc.option(
          word.map((w) => w.toUpperCase().replace(/[^A-Z0-9]/g, '_')),
          { nil: null },
        ),
        models: fc
          .uniqueArray(
            fc.oneof(
              word,
              text(10).filter((s) => s.length > 0),
            ),
            { minLength: 1, maxLength: 4 },
          )
          .map(sortedUnique),
        timeoutMs: u32,
        options: arbOptions,
      },
      { requiredKeys: ['name', 'type', 'baseUrl', 'apiKeyEnv', 'models', 'timeoutMs'] },
    ),
    { minLength: 1, maxLength: 3, selector: (p) => p.name },
  )
  .map((ps) => [...ps].sort((a, b) => cmp(a.name, b.name)));

function arbTarget(catalog: [string, string][], strategy: string): fc.Arbitrary<NormTarget> {
  return fc
    .record<NormTarget>({
      provider: fc.constant(''),
      model: fc.constant(''),
      weight: fc.oneof(
        fc.integer({ min: 0, max: 1000 }),
        fc.double({ min: 0, max: 1e6, noNaN: true, noDefaultInfinity: true }).filter((w) => !Object.is(w, -0)),
      ),
      priority: strategy === 'priority' ? fc.integer({ min: 0, max: 1000 }) : fc.constant(0),
      retry: fc.record({ attempts: fc.integer({ min: 1, max: 10 }), delayMs: u32, onStatus: statusList }),
      fallbackOn: statusList,
      fallbackCandidate: fc.boolean(),
      overrideParams: canonicalJson,
      headersSet: pairs(headerName),
      headersRemove: fc.uniqueArray(headerName, { maxLength: 3 }).map(sortedUnique),
      metadataMatch: pairs(fc.oneof(word, text(6))),
      maxTtftMs: u32,
      maxTimePerOutputTokenMs: u32,
      backendFormat: fc.constantFrom(null, 'openai', 'anthropic'),
    })
    .chain((t) => fc.constantFrom(...catalog).map(([provider, model]) => ({ ...t, provider, model })));
}

function arbVm(catalog: [string, string][], name: string, slug: string | null): fc.Arbitrary<NormVirtualModel> {
  return fc.constantFrom('weighted', 'priority', 'latency').chain((strategy) =>
    fc.record<NormVirtualModel>({
      name: fc.constant(name),
      slug: fc.constant(slug),
      description: text(20),
      kind: fc.constantFrom('redirect', 'pool', 'policy'),
      enabled: fc.boolean(),
      userPaths: fc
        .uniqueArray(
          fc.oneof(
            fc.constant('/'),
            fc.array(word, { minLength: 1, maxLength: 3 }).map((ws) => `/${ws.join('/')}`),
          ),
          { maxLength: 3 },
        )
        .map(sortedUnique),
      modelTypes: fc.subarray(['chat', 'completion', 'embedding', 'messages', 'responses']).map(sortedUnique),
      strategy: fc.constant(strategy as NormVirtualModel['strategy']),
      sticky: fc.option(
        fc.record({
          ttlSeconds: u32,
          keys: fc.array(
            fc.oneof(
              fc.record({ source: fc.constant('header' as const), key: headerName }),
              fc.record({ source: fc.constant('metadata' as const), key: word }),
            ),
            { minLength: 1, maxLength: 3 },
          ),
        }),
        { nil: null },
      ),
      targets: fc.array(arbTarget(catalog, strategy), { minLength: 1, maxLength: 5 }),
      middleware: fc.record({ request: middlewareCalls, response: middlewareCalls, postResponse: middlewareCalls }),
    }),
  );
}

const arbConfig: fc.Arbitrary<NormConfig> = arbProviders.chain((providers) => {
  const catalog = providers.flatMap((p) => p.models.map((m) => [p.name, m] as [string, string]));
  const labels = new Set(catalog.map(([p, m]) => `${p}/${m}`));
  // Names: free text (may contain '/', may shadow a catalogued label); slugs: a namespace of
  // their own, so no slug collides with a name or an implicit passthrough label.
  return fc
    .uniqueArray(
      fc.oneof(
        text(16).filter((s) => s.length > 0),
        fc.constantFrom(...labels),
      ),
      { minLength: 1, maxLength: 8 },
    )
    .chain((names) => {
      const sorted = [...names].sort(cmp);
      return fc.tuple(
        ...sorted.map((n, i) => fc.boolean().chain((hasSlug) => arbVm(catalog, n, hasSlug ? `slug:${i}` : null))),
        fc.boolean(),
        fc.constantFrom('all', 'virtual_only'),
      );
    })
    .map((parts) => {
      const modelsEndpoint = parts.pop() as 'all' | 'virtual_only';
      const passthrough = parts.pop() as boolean;
      return { version: 1, settings: { passthrough, modelsEndpoint }, providers, virtualModels: parts as NormVirtualModel[] };
    });
});

describe('table round trip (SPEC §4, §7)', () => {
  it('decode(lower(config)) reproduces every random valid config, and its names resolve from their bytes', () => {
    fc.assert(
      fc.property(arbConfig, (cfg) => {
        const table = RoutingTable.decode(lowerTable(cfg));
        expect(table.toNormalized()).toEqual(cfg);
        cfg.virtualModels.forEach((v, i) => {
          const reachable = v.kind !== 'policy' || cfg.settings.passthrough;
          expect(table.lookupString(v.name), v.name).toBe(reachable ? i : -1);
          if (v.slug !== null) expect(table.lookupString(v.slug), v.slug).toBe(reachable ? i : -1);
        });
      }),
      { numRuns: 150, seed: 8 },
    );
  });
});
