/**
 * Normalization: SPEC §2 defaults, the invariants of runtime/table/normalized.ts, and the
 * resolution rules (redirect chains, shadowing, policies).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_FALLBACK_ON, DEFAULT_RETRY, type NormConfig, type NormVirtualModel } from '../../runtime/table/normalized.js';
import { canonicalJson, splitTarget } from '../../compiler/normalize.js';
import { compileFiles, compileYaml, positions, PROVIDERS_YAML } from './support.js';

async function vms(yaml: string): Promise<Map<string, NormVirtualModel>> {
  const r = await compileYaml(yaml);
  expect(r.diagnostics).toEqual([]);
  return new Map(r.config!.virtualModels.map((v) => [v.name, v]));
}

describe('splitTarget', () => {
  it.each([
    ['openai/gpt-4o', { provider: 'openai', model: 'gpt-4o' }],
    ['hf/meta-llama/Llama-3-8B', { provider: 'hf', model: 'meta-llama/Llama-3-8B' }],
    ['no-slash', undefined],
    ['/model', undefined],
    ['provider/', undefined],
  ])('%s', (input, want) => {
    expect(splitTarget(input)).toEqual(want);
  });
});

describe('canonicalJson', () => {
  it('sorts keys recursively and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } })).toBe('{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}');
  });
});

describe('defaults (SPEC §2)', () => {
  it('fills every default of a bare redirect', async () => {
    const m = await vms('  r: { target: openai/gpt-4o }\n');
    expect(m.get('r')).toEqual({
      name: 'r',
      slug: null,
      description: '',
      kind: 'redirect',
      enabled: true,
      userPaths: [],
      modelTypes: [],
      strategy: 'weighted',
      sticky: null,
      targets: [
        {
          provider: 'openai',
          model: 'gpt-4o',
          weight: 1,
          priority: 0,
          retry: { ...DEFAULT_RETRY },
          fallbackOn: [...DEFAULT_FALLBACK_ON],
          fallbackCandidate: true,
          overrideParams: null,
          headersSet: [],
          headersRemove: [],
          metadataMatch: [],
          maxTtftMs: 0,
          maxTimePerOutputTokenMs: 0,
          backendFormat: null,
        },
      ],
      middleware: { request: [], response: [], postResponse: [] },
    } satisfies NormVirtualModel);
  });

  it('applies VM-level retry and fallback field by field under target-level ones', async () => {
    const m = await vms(`  p:
    retry: { attempts: 4, on_status: [503, 429, 503] }
    fallback_on: [500]
    targets:
      - target: openai/gpt-4o
      - target: openai/gpt-4o-mini
        retry: { delay_ms: 5 }
        fallback_on: [502, 429]
`);
    const [a, b] = m.get('p')!.targets;
    expect(a.retry).toEqual({ attempts: 4, delayMs: 100, onStatus: [429, 503] });
    expect(a.fallbackOn).toEqual([500]);
    expect(b.retry).toEqual({ attempts: 4, delayMs: 5, onStatus: [429, 503] });
    expect(b.fallbackOn).toEqual([429, 502]);
  });

  it('keeps configured priorities under every strategy, default 0', async () => {
    const m = await vms(`  w:
    strategy: latency
    targets:
      - { target: openai/gpt-4o, priority: 3 }
      - { target: openai/gpt-4o-mini }
`);
    expect(m.get('w')!.targets.map((t) => [t.priority, t.weight])).toEqual([
      [3, 1],
      [0, 1],
    ]);
  });
});

describe('invariants of normalized.ts', () => {
  it('sorts what has no order and keeps target order', async () => {
    const r = await compileFiles({
      'vmc.yaml': `providers:
  zeta: { type: openai, base_url: "https://z.example.com/v1///", api_key_env: Z, models: [b, a, b] }
  alpha: { type: anthropic, base_url: https://a.example.com, api_key_env: A, models: [m] }
virtual_models:
  z: { target: alpha/m, user_paths: [/b/, /a, /a], model_types: [messages, chat] }
  a:
    targets:
      - target: zeta/b
        headers: { set: { X-Zed: "1", X-Abc: "2" }, remove: [X-Trace, x-a] }
        metadata_match: { tier: e, region: us }
        override_params: { z: 1, a: { y: 1, x: 2 } }
      - target: zeta/a
`,
    });
    expect(r.diagnostics).toEqual([]);
    const c = r.config as NormConfig;
    expect(c.providers.map((p) => [p.name, p.baseUrl, p.models])).toEqual([
      ['alpha', 'https://a.example.com', ['m']],
      ['zeta', 'https://z.example.com/v1', ['a', 'b']],
    ]);
    expect(c.virtualModels.map((v) => v.name)).toEqual(['a', 'z']);
    const [a, z] = c.virtualModels;
    expect(z.userPaths).toEqual(['/a', '/b']);
    expect(z.modelTypes).toEqual(['chat', 'messages']);
    expect(a.targets.map((t) => t.model)).toEqual(['b', 'a']);
    const t = a.targets[0];
    expect(t.headersSet).toEqual([
      ['x-abc', '2'],
      ['x-zed', '1'],
    ]);
    expect(t.headersRemove).toEqual(['x-a', 'x-trace']);
    expect(t.metadataMatch).toEqual([
      ['region', 'us'],
      ['tier', 'e'],
    ]);
    expect(t.overrideParams).toBe('{"a":{"x":2,"y":1},"z":1}');
  });

  it('lower-cases sticky header keys but not metadata keys', async () => {
    const m = await vms(`  s:
    sticky: { keys: [{ source: header, key: X-User }, { source: metadata, key: Conv }] }
    target: openai/gpt-4o
`);
    expect(m.get('s')!.sticky).toEqual({
      ttlSeconds: 3600,
      keys: [
        { source: 'header', key: 'x-user' },
        { source: 'metadata', key: 'Conv' },
      ],
    });
  });

  it('normalizes middleware calls with canonical configs', async () => {
    const m = await vms(`  mw:
    target: openai/gpt-4o
    middleware:
      request: [{ name: set-params, config: { b: 1, a: 2 } }, { name: set-headers, config_type: h, config_id: w/c }]
      post_response: [{ name: log }]
`);
    expect(m.get('mw')!.middleware).toEqual({
      request: [
        { name: 'set-params', configType: '', config: '{"a":2,"b":1}', configId: null },
        { name: 'set-headers', configType: 'h', config: null, configId: 'w/c' },
      ],
      response: [],
      postResponse: [{ name: 'log', configType: '', config: null, configId: null }],
    });
  });

  it('settings default to passthrough on and all models listed', async () => {
    const r = await compileYaml('  r: { target: openai/gpt-4o }\n');
    expect(r.config!.settings).toEqual({ passthrough: true, modelsEndpoint: 'all' });
  });
});

describe('resolution', () => {
  it('a redirect chain inherits strategy, sticky and targets but keeps its own identity', async () => {
    const m = await vms(`  pool:
    strategy: priority
    sticky: { keys: [{ source: header, key: x-u }] }
    targets:
      - { target: openai/gpt-4o }
      - { target: anthropic/claude-sonnet-4-6, priority: 1 }
  alias: { target: pool, slug: al, description: mine, enabled: false, user_paths: [/t], model_types: [chat] }
  alias2: { target: alias }
`);
    const pool = m.get('pool')!;
    const alias = m.get('alias')!;
    expect(alias).toMatchObject({
      kind: 'redirect',
      slug: 'al',
      description: 'mine',
      enabled: false,
      userPaths: ['/t'],
      modelTypes: ['chat'],
    });
    expect([alias.strategy, alias.sticky, alias.targets]).toEqual([pool.strategy, pool.sticky, pool.targets]);
    expect(m.get('alias2')!.targets).toEqual(pool.targets);
  });

  it('a catalogued target is the concrete model even when a virtual model shadows it', async () => {
    const m = await vms(`  anthropic/claude-opus-4-6: { target: anthropic/claude-sonnet-4-6 }
  smart: { target: anthropic/claude-opus-4-6 }
`);
    expect(m.get('smart')!.targets[0].model).toBe('claude-opus-4-6');
    expect(m.get('anthropic/claude-opus-4-6')!.targets[0].model).toBe('claude-sonnet-4-6');
  });

  it('an access policy targets the model it is named after', async () => {
    const m = await vms('  openai/gpt-4o: { user_paths: [/team/a/] }\n');
    expect(m.get('openai/gpt-4o')).toMatchObject({ kind: 'policy', userPaths: ['/team/a'] });
    expect(m.get('openai/gpt-4o')!.targets.map((t) => `${t.provider}/${t.model}`)).toEqual(['openai/gpt-4o']);
  });

  it('models may contain slashes; the provider is before the first one', async () => {
    const r = await compileFiles({
      'vmc.yaml': `providers:
  hf: { type: openai, base_url: https://hf.example.com/v1, api_key_env: HF, models: [meta-llama/Llama-3-8B] }
virtual_models:
  llama: { target: hf/meta-llama/Llama-3-8B }
`,
    });
    expect(r.config!.virtualModels[0].targets[0]).toMatchObject({ provider: 'hf', model: 'meta-llama/Llama-3-8B' });
  });

  it('a self-redirect is a cycle of one', async () => {
    const r = await compileYaml('  loop: { target: loop }\n');
    expect(positions(r, r.dir)).toEqual(['vmc.yaml:13:19 VMC2003']);
    expect(r.diagnostics[0].message).toContain('loop → loop');
  });

  it('a redirect into a cycle reports the cycle once', async () => {
    const r = await compileYaml('  a: { target: b }\n  b: { target: a }\n  c: { target: a }\n');
    expect(r.diagnostics.map((d) => d.code)).toEqual(['VMC2003']);
  });

  it('a redirect to a broken virtual model does not cascade', async () => {
    const r = await compileYaml('  a: { target: openai/nope }\n  b: { target: a }\n');
    expect(positions(r, r.dir)).toEqual(['vmc.yaml:13:16 VMC2001']);
  });

  it('an unknown redirect target suggests virtual model names too', async () => {
    const r = await compileYaml('  regular: { target: openai/gpt-4o }\n  b: { target: regulr }\n');
    expect(r.diagnostics[0].hint).toContain('"regular"');
  });

  it('a target without a provider part is an unknown target', async () => {
    const r = await compileYaml('  x: { targets: [{ target: gpt-4o }] }\n');
    expect(r.diagnostics.map((d) => d.code)).toEqual(['VMC2001']);
    expect(r.diagnostics[0].hint).toContain('openai/gpt-4o');
  });

  it('an unknown provider with no near name gives no suggestion', async () => {
    const r = await compileYaml('  x: { target: completely-different/model }\n');
    expect(r.diagnostics[0].code).toBe('VMC2002');
    expect(r.diagnostics[0].hint).not.toContain('did you mean');
  });

  it('priority is reported in native VM bodies as in TrueFoundry ones', async () => {
    const r = await compileFiles({
      'a.yaml': `${PROVIDERS_YAML}virtual_models:\n  x: { targets: [{ target: openai/gpt-4o, priority: "1" }] }\n`,
    });
    expect(r.diagnostics.map((d) => d.code)).toEqual(['VMC2009']);
  });
});
