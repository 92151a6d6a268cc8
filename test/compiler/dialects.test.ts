/**
 * Dialects: detection, the pure rewrites, and the contract of SPEC §2 — a dialect body
 * compiles to exactly the NormConfig of its native equivalent.
 */
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import type { NativeVirtualModel } from '../../compiler/config-types.gen.js';
import { detectDialect, OriginMap, rewriteBody, type Dialect } from '../../compiler/dialects.js';
import { compileConfig } from '../../compiler/frontend.js';
import { compileYaml, positions } from './support.js';

describe('detectDialect', () => {
  const cases: [string, Record<string, unknown>, Dialect | 'conflict'][] = [
    ['empty body is a native policy', {}, 'native'],
    ['shared keys only', { user_paths: ['/a'], enabled: false, description: 'x' }, 'native'],
    ['native redirect', { target: 'a/b' }, 'native'],
    ['TrueFoundry', { routing_config: {}, slug: 's' }, 'truefoundry'],
    ['GoModel source only', { source: 'x' }, 'gomodel'],
    ['GoModel redirect', { target_model: 'a/b', user_paths: [] }, 'gomodel'],
    ['NeMo', { default_model_entity: 'a/b', models: [] }, 'nemo'],
    ['NeMo informational only', { workspace: 'w', name: 'n' }, 'nemo'],
    ['native + GoModel', { target: 'a/b', target_model: 'a/c' }, 'conflict'],
    ['TrueFoundry + NeMo', { routing_config: {}, models: [] }, 'conflict'],
  ];
  it.each(cases)('%s', (_, body, want) => {
    const got = detectDialect(body);
    expect('conflict' in got ? 'conflict' : got.dialect).toBe(want);
  });

  it('names the first key of each dialect in a conflict', () => {
    expect(detectDialect({ description: 'd', strategy: 'weighted', models: [], targets: [] })).toEqual({
      conflict: { first: { dialect: 'native', key: 'strategy' }, second: { dialect: 'nemo', key: 'models' } },
    });
  });
});

describe('rewriteBody', () => {
  const cases: [string, Dialect, unknown, NativeVirtualModel][] = [
    [
      'TrueFoundry: every target field renamed',
      'truefoundry',
      {
        slug: 's',
        routing_config: {
          type: 'priority-based-routing',
          sticky_routing: {
            ttl_seconds: 60,
            session_identifiers: [
              { key: 'x-user', source: 'headers' },
              { key: 'conv', source: 'metadata' },
            ],
          },
          load_balance_targets: [
            {
              target: 'a/m',
              priority: 0,
              weight: 5,
              retry_config: { attempts: 3, delay: 200, on_status_codes: ['429', 503] },
              fallback_status_codes: ['500'],
              fallback_candidate: false,
              override_params: { t: 1 },
              headers_override: { set: { 'X-A': '1' }, remove: ['x-b'] },
              metadata_match: { tier: 'e' },
              sla_cutoff: { time_to_first_token_ms: 800, time_per_output_token_ms: 50 },
            },
          ],
        },
      },
      {
        slug: 's',
        strategy: 'priority',
        sticky: {
          ttl_seconds: 60,
          keys: [
            { source: 'header', key: 'x-user' },
            { source: 'metadata', key: 'conv' },
          ],
        },
        targets: [
          {
            target: 'a/m',
            weight: 5,
            priority: 0,
            retry: { attempts: 3, delay_ms: 200, on_status: [429, 503] },
            fallback_on: [500],
            fallback_candidate: false,
            override_params: { t: 1 },
            headers: { set: { 'X-A': '1' }, remove: ['x-b'] },
            metadata_match: { tier: 'e' },
            sla: { max_ttft_ms: 800, max_time_per_output_token_ms: 50 },
          },
        ],
      },
    ],
    [
      'TrueFoundry: strategies',
      'truefoundry',
      { routing_config: { type: 'latency-based-routing', load_balance_targets: [{ target: 'a/m' }] } },
      { strategy: 'latency', targets: [{ target: 'a/m' }] },
    ],
    ['GoModel redirect', 'gomodel', { source: 'r', target_model: 'a/m', enabled: false }, { enabled: false, target: 'a/m' }],
    ['GoModel policy', 'gomodel', { source: 'a/m', user_paths: ['/t'] }, { user_paths: ['/t'] }],
    ['NeMo: a plain default entity is a redirect', 'nemo', { default_model_entity: 'a/m', workspace: 'w' }, { target: 'a/m' }],
    [
      'NeMo: a backend format needs a target object',
      'nemo',
      { default_model_entity: 'a/m', models: [{ model: 'a/m', backend_format: 'OPENAI_CHAT' }] },
      { targets: [{ target: 'a/m', backend_format: 'openai' }] },
    ],
    [
      'NeMo: default first, then the others by priority',
      'nemo',
      {
        default_model_entity: 'a/b',
        models: [
          { model: 'a/c', backend_format: 'ANTHROPIC_MESSAGES' },
          { model: 'a/b', backend_format: null },
          { model: 'a/d' },
          { model: 'a/c' },
        ],
      },
      {
        strategy: 'priority',
        targets: [{ target: 'a/b' }, { target: 'a/c', priority: 1, backend_format: 'anthropic' }, { target: 'a/d', priority: 2 }],
      },
    ],
    [
      'NeMo: models without a default',
      'nemo',
      { models: [{ model: 'a/b' }, { model: 'a/c' }] },
      { strategy: 'priority', targets: [{ target: 'a/b' }, { target: 'a/c', priority: 1 }] },
    ],
    ['NeMo: nothing to route is a policy', 'nemo', { default_model_entity: null, models: [], autoprovisioned: true }, {}],
    [
      'NeMo: middleware pipelines',
      'nemo',
      {
        default_model_entity: 'a/b',
        request_middleware: [{ name: 'set-params', config_type: 'p', config: { t: 1 } }],
        response_middleware: [],
        post_response_middleware: [{ name: 'log', config_id: 'w/c' }],
      },
      {
        target: 'a/b',
        middleware: {
          request: [{ name: 'set-params', config_type: 'p', config: { t: 1 } }],
          post_response: [{ name: 'log', config_id: 'w/c' }],
        },
      },
    ],
    ['native is the identity', 'native', { target: 'a/b', retry: { attempts: 1 } }, { target: 'a/b', retry: { attempts: 1 } }],
  ];
  it.each(cases)('%s', (_, dialect, body, want) => {
    expect(rewriteBody(dialect, body).body).toEqual(want);
  });

  it('maps renamed native paths back to their source paths', () => {
    const { origin } = rewriteBody('truefoundry', {
      routing_config: {
        type: 'weight-based-routing',
        load_balance_targets: [{ target: 'a/b' }, { target: 'a/c', retry_config: { delay: 1 } }],
      },
    });
    expect(origin.resolve(['targets', 1, 'target'])).toEqual(['routing_config', 'load_balance_targets', 1, 'target']);
    expect(origin.resolve(['targets', 1, 'retry', 'delay_ms'])).toEqual([
      'routing_config',
      'load_balance_targets',
      1,
      'retry_config',
      'delay',
    ]);
    expect(origin.resolve(['strategy'])).toEqual(['routing_config', 'type']);
    expect(origin.resolve(['slug'])).toEqual(['slug']);
    expect(new OriginMap().resolve(['targets', 0])).toEqual(['targets', 0]);
  });
});

describe('dialect ≡ native (SPEC §2)', () => {
  const pairs: [string, string, string, number][] = [
    ['TrueFoundry seed 004 (ten blocks)', 'fixtures/truefoundry/seed-004.yaml', 'fixtures/truefoundry/seed-004.native.yaml', 10],
    ['GoModel', 'fixtures/gomodel/virtual-models.yaml', 'fixtures/gomodel/virtual-models.native.yaml', 5],
    ['NeMo', 'fixtures/nemo/virtual-models.yaml', 'fixtures/nemo/virtual-models.native.yaml', 4],
  ];
  it.each(pairs)('%s', async (_, dialectFile, nativeFile, count) => {
    const [d, n] = await Promise.all([compileConfig([resolve(dialectFile)]), compileConfig([resolve(nativeFile)])]);
    expect(d.diagnostics).toEqual([]);
    expect(n.diagnostics).toEqual([]);
    expect(d.config).not.toBeNull();
    expect(d.config!.virtualModels).toHaveLength(count);
    expect(d.config).toEqual(n.config);
  });

  it('every seed-004 block keeps its semantics', async () => {
    const { config } = await compileConfig([resolve('fixtures/truefoundry/seed-004.yaml')]);
    const vm = (name: string) => config!.virtualModels.find((v) => v.name === `my-group/${name}`)!;
    expect(vm('gpt4-priority-fallback').strategy).toBe('priority');
    expect(vm('gpt4-priority-fallback').targets.map((t) => t.fallbackOn)).toEqual([[429], [429], [401, 403, 404, 429, 500, 502, 503]]);
    expect(vm('gpt4-fastest').targets.map((t) => t.retry.attempts)).toEqual([1, 1]);
    expect(vm('sticky-sessions').sticky).toEqual({
      ttlSeconds: 3600,
      keys: [
        { source: 'header', key: 'x-user-id' },
        { source: 'header', key: 'x-conversation-id' },
      ],
    });
    expect(vm('gpt-4o-headers').targets[0].headersSet).toEqual([
      ['api-version', '2024-06-01'],
      ['x-deployment-id', 'gpt4o-eastus'],
    ]);
    const full = vm('gpt-4o-full').targets[0];
    expect(full.retry).toEqual({ attempts: 3, delayMs: 200, onStatus: [429, 500, 503] });
    expect(full.maxTimePerOutputTokenMs).toBe(50);
    expect(vm('gpt-4o-full').targets[2].fallbackCandidate).toBe(false);
    expect(vm('prompt-per-model').targets[0].overrideParams).toBe(
      '{"prompt_version_fqn":"chat_prompt:internal/my-app/gpt4-optimized-prompt:1"}',
    );
  });
});

describe('dialect bodies are validated against their own schema', () => {
  it("an unknown key in a dialect body lists that dialect's keys", async () => {
    const r = await compileYaml(`  x: { source: x, target_modle: openai/gpt-4o }\n`);
    expect(positions(r, r.dir)).toEqual(['vmc.yaml:13:19 VMC1002']);
    expect(r.diagnostics[0].hint).toContain('target_model');
  });
});
