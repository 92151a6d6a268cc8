/**
 * The provider-type registry (runtime/providers/index.ts): one module per type of the table
 * contract and none beyond; the rules every module keeps; NeMo `backend_format` overrides;
 * and each type end to end — a real gateway in front of a simulated provider, checking the
 * exact upstream path and credential headers each type (and each override) produces.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockProvider, type MockProvider } from '../../../bench/sim/simulated-provider.js';
import { CREDENTIAL_HEADER_NAMES, PROVIDER_MODULES, WIRE_MODULES, providerModule, wireModule } from '../../../runtime/providers/index.js';
import { credentialHeaderNames, credentialHeaders } from '../../../runtime/providers/provider.js';
import { ENDPOINT_COUNT, EP_MESSAGES } from '../../../runtime/table/endpoints.js';
import type { ProviderType } from '../../../runtime/table/normalized.js';
import { PROVIDER_TYPE_CODES } from '../../../runtime/table/provider-types.js';
import { XLATE_NONE, xlateMode } from '../../../runtime/wire/translate.js';
import { closeAll, post, startGateway, type Gateway } from '../harness.js';

const modules = Object.entries(PROVIDER_MODULES);

describe('registry', () => {
  it('every provider type of the table contract has a module, and every module a type', () => {
    expect(Object.keys(PROVIDER_MODULES).sort()).toEqual([...PROVIDER_TYPE_CODES].sort());
  });

  it.each(modules)('%s: the module is registered under its own type name', (name, m) => {
    expect(m.type).toBe(name);
    expect(providerModule(name as ProviderType)).toBe(m);
  });

  it('every backend_format has a module that speaks it as is', () => {
    for (const [wire, m] of Object.entries(WIRE_MODULES)) expect(m.wire).toBe(wire);
  });

  it("every type's credential headers are ones a client's copies are dropped from", () => {
    expect(CREDENTIAL_HEADER_NAMES).toEqual(expect.arrayContaining(['authorization', 'x-api-key', 'api-key', 'x-goog-api-key']));
    for (const [, m] of modules) for (const n of credentialHeaderNames(m.auth)) expect(CREDENTIAL_HEADER_NAMES).toContain(n);
  });

  it('an unknown type name is a clear error', () => {
    expect(() => providerModule('nope' as ProviderType)).toThrow(/no runtime module for provider type 'nope'/);
  });
});

describe('rules every module keeps', () => {
  const target = { prefix: '/base', query: '?q=1', model: 'm' };

  it.each(modules)('%s: routes keep the base path and query; a translation exactly when formats differ', (_name, m) => {
    let served = 0;
    for (let ep = 0; ep < ENDPOINT_COUNT; ep++) {
      const r = m.route(ep, target);
      if (r === null) continue;
      served++;
      for (const path of [r.path, r.streamPath ?? r.path]) {
        expect(path.startsWith('/base/')).toBe(true);
        expect(new URL(path, 'http://h').searchParams.get('q')).toBe('1');
      }
      // the client's format is Anthropic on /v1/messages, OpenAI everywhere else
      const client = ep === EP_MESSAGES ? 'anthropic' : 'openai';
      expect(r.xlate).toBe(xlateMode(client, m.wire));
      if (client === m.wire) expect(r.xlate).toBe(XLATE_NONE);
    }
    expect(served).toBeGreaterThan(0);
  });

  it.each(modules)('%s: credential and default header names are lower-case', (_name, m) => {
    const creds = credentialHeaders(m.auth, 'k');
    for (let i = 0; i < creds.length; i += 2) expect(creds[i]).toBe(creds[i].toLowerCase());
    for (const [n] of m.defaultHeaders) expect(n).toBe(n.toLowerCase());
  });
});

describe('backend_format (NeMo): a target-level wire override', () => {
  it.each(modules)('%s: no override, or one naming its own format, keeps the type module', (name, m) => {
    expect(wireModule(name as ProviderType, null)).toBe(m);
    if (m.wire === 'openai' || m.wire === 'anthropic') expect(wireModule(name as ProviderType, m.wire)).toBe(m);
  });

  it('another format takes the module that speaks it', () => {
    expect(wireModule('openai', 'anthropic')).toBe(PROVIDER_MODULES.anthropic);
    expect(wireModule('anthropic', 'openai')).toBe(PROVIDER_MODULES.openai);
  });
});

describe('through a gateway (SPEC §3.6): exact upstream path and credentials per type', () => {
  const ENV_OA = 'VMC_TEST_PROVIDERS_OA_KEY';
  const ENV_AN = 'VMC_TEST_PROVIDERS_AN_KEY';
  let sim: MockProvider;
  let gw: Gateway;

  beforeAll(async () => {
    process.env[ENV_OA] = 'sk-oa';
    process.env[ENV_AN] = 'sk-an';
    sim = await startMockProvider({ name: 'sim' });
    const provider = (type: string, base: string, env: string) =>
      `    type: ${type}\n    base_url: ${base}\n    api_key_env: ${env}\n    models: [m]\n`;
    gw = await startGateway(`version: 1
providers:
  oa:
${provider('openai', sim.url + '/v1', ENV_OA)}  an:
${provider('anthropic', sim.url, ENV_AN)}  anv1:
${provider('anthropic', sim.url + '/v1', ENV_AN)}  oa2:
${provider('openai', sim.url + '/v1', ENV_OA)}  an2:
${provider('anthropic', sim.url + '/v1', ENV_AN)}virtual_models:
  to-openai: { target: oa/m }
  to-anthropic: { target: an/m }
  to-anthropic-v1: { target: anv1/m }
  openai-speaking-anthropic:
    targets: [{ target: oa2/m, backend_format: anthropic }]
  anthropic-speaking-openai:
    targets: [{ target: an2/m, backend_format: openai }]
`);
  });
  afterAll(async () => {
    delete process.env[ENV_OA];
    delete process.env[ENV_AN];
    await closeAll(gw, sim);
  });

  const msgs = [{ role: 'user', content: 'hi' }];
  const BODIES: Record<string, Record<string, unknown>> = {
    '/v1/chat/completions': { messages: msgs },
    '/v1/completions': { prompt: 'hi' },
    '/v1/embeddings': { input: 'hi' },
    '/v1/responses': { input: 'hi' },
    '/v1/messages': { max_tokens: 5, messages: msgs },
  };
  // the client offers both credential headers; with a provider key neither may pass
  const CLIENT_CREDS = { authorization: 'Bearer client-key', 'x-api-key': 'client-key' };
  const BEARER_OA = { authorization: 'Bearer sk-oa', 'x-api-key': undefined };
  const X_API_KEY_AN = { 'x-api-key': 'sk-an', authorization: undefined };

  it.each([
    // [virtual model, client endpoint, upstream path, credential headers, anthropic-version]
    ['to-openai', '/v1/chat/completions', '/v1/chat/completions', BEARER_OA, undefined],
    ['to-openai', '/v1/completions', '/v1/completions', BEARER_OA, undefined],
    ['to-openai', '/v1/embeddings', '/v1/embeddings', BEARER_OA, undefined],
    ['to-openai', '/v1/responses', '/v1/responses', BEARER_OA, undefined],
    ['to-openai', '/v1/messages', '/v1/chat/completions', BEARER_OA, undefined],
    ['to-anthropic', '/v1/messages', '/v1/messages', X_API_KEY_AN, '2023-06-01'],
    ['to-anthropic', '/v1/chat/completions', '/v1/messages', X_API_KEY_AN, '2023-06-01'],
    ['to-anthropic-v1', '/v1/messages', '/v1/messages', X_API_KEY_AN, '2023-06-01'],
    ['openai-speaking-anthropic', '/v1/chat/completions', '/v1/messages', BEARER_OA, '2023-06-01'],
    ['openai-speaking-anthropic', '/v1/messages', '/v1/messages', BEARER_OA, '2023-06-01'],
    ['anthropic-speaking-openai', '/v1/messages', '/v1/chat/completions', X_API_KEY_AN, undefined],
    ['anthropic-speaking-openai', '/v1/embeddings', '/v1/embeddings', X_API_KEY_AN, undefined],
  ])('%s on %s → %s', async (vm, endpoint, upstreamPath, creds, anthropicVersion) => {
    const before = sim.requests.length;
    const r = await post(gw.url + endpoint, { model: vm, ...BODIES[endpoint] }, CLIENT_CREDS);
    expect(r.status).toBe(200);
    expect(sim.requests.length).toBe(before + 1);
    const seen = sim.requests.at(-1)!;
    expect(seen.path).toBe(upstreamPath);
    expect(seen.model).toBe('m');
    for (const [name, value] of Object.entries(creds)) expect(seen.headers[name]).toBe(value);
    expect(seen.headers['anthropic-version']).toBe(anthropicVersion);
    // the client gets its own format back, translated when the wire format differs
    if (endpoint === '/v1/messages') expect(r.json).toMatchObject({ type: 'message', role: 'assistant' });
    else if (endpoint === '/v1/chat/completions') expect(r.json).toMatchObject({ object: 'chat.completion' });
  });

  it.each([
    ['to-anthropic', '/v1/embeddings'],
    ['to-anthropic', '/v1/completions'],
    ['openai-speaking-anthropic', '/v1/responses'],
  ])('%s on %s: the wire format does not serve it → 400, nothing sent upstream', async (vm, endpoint) => {
    const before = sim.requests.length;
    const r = await post(gw.url + endpoint, { model: vm, ...BODIES[endpoint] });
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ type: 'invalid_request_error', provider: 'vmc' });
    expect(r.json.error.message).toContain(`has no target that serves ${endpoint}`);
    expect(sim.requests.length).toBe(before);
  });
});
