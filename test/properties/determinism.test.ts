/**
 * SPEC §7 property: compiling is deterministic (SPEC §1, §4 "Output is byte-identical for
 * identical input, whatever the file order or machine").
 *
 * For random valid configs, a canonical layout (one file, keys in generation order) and a
 * scrambled layout of the same config — entries spread over several files with other names
 * (so the path order differs), every mapping's keys shuffled, every list whose order carries
 * no meaning shuffled (models, status codes, header removals, user paths, model types),
 * header names in random case — must compile (compiler/frontend.ts `compileDocuments`, then
 * compiler/lower.ts) to byte-identical routing tables. Target order and sticky key order
 * carry meaning (tie-breaks, session key) and are kept.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { compileDocuments } from '../../compiler/frontend.js';
import { lowerTable } from '../../compiler/lower.js';
import { isObject } from '../../runtime/table/util.js';

const PROVIDERS = ['alpha', 'beta', 'gamma'];
const MODELS = ['m1', 'm2', 'gpt-x', 'claude-y', 'llama/70b'];
const STATUS = [401, 403, 404, 408, 429, 500, 502, 503, 504];
const HEADERS = ['x-deployment-id', 'api-version', 'x-region', 'x-internal-trace', 'x-debug'];
const PATHS = ['/team/a', '/team/b', '/ops', '/'];
const TYPES = ['chat', 'completion', 'embedding', 'responses', 'messages'];

type Obj = Record<string, unknown>;

const subset = <T>(xs: readonly T[], min = 0) => fc.subarray([...xs], { minLength: min });

const arbProviders = fc.uniqueArray(fc.constantFrom(...PROVIDERS), { minLength: 1, maxLength: 3 }).chain((names) =>
  fc.tuple(
    ...names.map((name) =>
      fc.record({
        name: fc.constant(name),
        type: fc.constantFrom('openai', 'anthropic'),
        models: subset(MODELS, 1),
        timeout: fc.option(fc.integer({ min: 1, max: 60_000 }), { nil: undefined }),
      }),
    ),
  ),
);

function arbTarget(label: string, strategy: string, i: number): fc.Arbitrary<Obj> {
  return fc
    .record(
      {
        weight: strategy === 'weighted' ? fc.integer({ min: i === 0 ? 1 : 0, max: 100 }) : fc.integer({ min: 1, max: 10 }),
        priority: fc.integer({ min: 0, max: 3 }),
        retry: fc.record(
          { attempts: fc.integer({ min: 1, max: 3 }), delay_ms: fc.integer({ min: 0, max: 300 }), on_status: subset(STATUS, 1) },
          { requiredKeys: [] },
        ),
        fallback_on: subset(STATUS, 1),
        fallback_candidate: fc.boolean(),
        override_params: fc.record(
          { temperature: fc.constantFrom(0, 0.2, 1), max_tokens: fc.integer({ min: 1, max: 4096 }) },
          { requiredKeys: [] },
        ),
        headers: fc.record({ set: subset(HEADERS.slice(0, 3), 1), remove: subset(HEADERS.slice(3), 1) }, { requiredKeys: [] }),
        metadata_match: fc.record({ tier: fc.constantFrom('gold', 'free') }),
        sla: fc.record({ max_ttft_ms: fc.integer({ min: 1, max: 5000 }) }),
      },
      { requiredKeys: ['weight'] },
    )
    .map((t) => {
      const out: Obj = { target: label, ...t };
      if (strategy !== 'priority') delete out.priority;
      if (t.headers) {
        const h: Obj = {};
        if (t.headers.set) h.set = Object.fromEntries(t.headers.set.map((n, k) => [n, `v${k}`]));
        if (t.headers.remove) h.remove = t.headers.remove;
        out.headers = h;
      }
      return out;
    });
}

function arbVirtualModel(catalog: string[], name: string, index: number): fc.Arbitrary<[string, Obj]> {
  const common = fc.record(
    {
      slug: fc.constant(`slug-${index}`),
      description: fc.constantFrom('primary chat', 'batch jobs', 'ünïcode — 名前'),
      model_types: subset(TYPES, 1),
      enabled: fc.boolean(),
      user_paths: subset(PATHS, 1),
    },
    { requiredKeys: [] },
  );
  const redirect = fc.constantFrom(...catalog).map((t): Obj => ({ target: t }));
  const pool = fc
    .tuple(
      fc.constantFrom('weighted', 'priority', 'latency'),
      fc.shuffledSubarray(catalog, { minLength: 1, maxLength: Math.min(4, catalog.length) }),
      fc.boolean(),
    )
    .chain(([strategy, labels, sticky]) =>
      fc.tuple(...labels.map((l, i) => arbTarget(l, strategy, i))).map((targets): Obj => {
        const body: Obj = { strategy, targets };
        if (sticky)
          body.sticky = {
            ttl_seconds: 600,
            keys: [
              { source: 'header', key: 'X-User-Id' },
              { source: 'metadata', key: 'session' },
            ],
          };
        return body;
      }),
    );
  return fc.tuple(common, fc.oneof(redirect, pool)).map(([c, body]) => [name, { ...c, ...body }]);
}

const arbConfig = arbProviders.chain((providers) => {
  const catalog = providers.flatMap((p) => p.models.map((m) => `${p.name}/${m}`));
  return fc
    .uniqueArray(
      fc.tuple(fc.constantFrom('app', 'team-1', 'x'), fc.constantFrom('chat', 'fast', 'big/one', 'embed')).map(([g, n]) => `${g}/${n}`),
      { minLength: 1, maxLength: 8 },
    )
    .chain((names) => fc.tuple(...names.map((n, i) => arbVirtualModel(catalog, n, i))))
    .map((vms) => ({
      providers: Object.fromEntries(
        providers.map((p) => [
          p.name,
          {
            type: p.type,
            base_url: `https://${p.name}.example/v1`,
            api_key_env: `${p.name.toUpperCase()}_KEY`,
            models: p.models,
            ...(p.timeout ? { timeout_ms: p.timeout } : {}),
          },
        ]),
      ),
      virtual_models: Object.fromEntries(vms),
    }));
});

/** Seeded xorshift32 for the scrambling. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function shuffle<T>(xs: T[], r: () => number): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const ORDERED_LISTS = new Set(['targets', 'keys']);
const randomCase = (s: string, r: () => number): string => [...s].map((c) => (r() < 0.5 ? c.toUpperCase() : c)).join('');

/** Deep copy with shuffled mapping keys and shuffled order-free lists; header names in random case. */
function scramble(v: unknown, r: () => number, key = ''): unknown {
  if (Array.isArray(v)) {
    const items = v.map((x) => scramble(x, r));
    if (ORDERED_LISTS.has(key)) return items;
    return shuffle(key === 'remove' ? items.map((h) => randomCase(String(h), r)) : items, r);
  }
  if (isObject(v)) {
    const entries = Object.entries(v).map(([k, x]) => [key === 'set' ? randomCase(k, r) : k, scramble(x, r, k)] as const);
    return Object.fromEntries(shuffle(entries, r));
  }
  return v;
}

/** The scrambled layout: providers and virtual models spread over 1–4 files with random names. */
function scrambledFiles(cfg: { providers: Obj; virtual_models: Obj }, seed: number): { name: string; text: string }[] {
  const r = rng(seed);
  const n = 1 + Math.floor(r() * 4);
  const files: { providers: Obj; virtual_models: Obj; version: boolean }[] = Array.from({ length: n }, () => ({
    providers: {},
    virtual_models: {},
    version: r() < 0.5,
  }));
  for (const section of ['providers', 'virtual_models'] as const) {
    for (const [k, v] of shuffle(Object.entries(cfg[section]), r)) files[Math.floor(r() * n)][section][k] = scramble(v, r);
  }
  return files.map((f, i) => {
    const doc: Obj = {};
    const parts = shuffle(['providers', 'virtual_models', 'version'], r);
    for (const p of parts) {
      if (p === 'version') {
        if (f.version) doc.version = 1;
      } else if (Object.keys(f[p as 'providers']).length > 0) doc[p] = f[p as 'providers'];
    }
    return { name: `${Math.floor(r() * 1e6).toString(36)}-${i}.yaml`, text: stringify(doc) };
  });
}

/** Compiles the files in memory (the front end sorts documents by path, as it sorts files). */
async function tableOf(files: { name: string; text: string }[]): Promise<Buffer> {
  const res = await compileDocuments(files.map((f) => ({ path: `/config/${f.name}`, text: f.text })));
  const errors = res.diagnostics.filter((d) => d.severity === 'error');
  expect(errors, files.map((f) => `# ${f.name}\n${f.text}`).join('\n')).toEqual([]);
  return Buffer.from(lowerTable(res.config!));
}

describe('compiling is deterministic (SPEC §4, §7)', () => {
  it('scrambled file layout, key order and list order give a byte-identical table', async () => {
    await fc.assert(
      fc.asyncProperty(arbConfig, fc.integer({ min: 1, max: 0x7fffffff }), async (cfg, seed) => {
        const canonical = await tableOf([{ name: 'vmc.yaml', text: stringify({ version: 1, ...cfg }) }]);
        const scrambled = await tableOf(scrambledFiles(cfg, seed));
        expect(scrambled.equals(canonical)).toBe(true);
      }),
      { numRuns: 30, seed: 1234 },
    );
  });
});
