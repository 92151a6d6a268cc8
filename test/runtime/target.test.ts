/**
 * TargetRuntime (runtime/target.ts): what one target derives from its provider-type module and
 * its provider's setup — upstream paths (and stream paths) with the base URL's path and query,
 * translation modes, the wire format (backend_format overrides it), the body model,
 * credentials and SPEC §13 extras from the environment (once per provider and generation), and
 * the request headers: their sources in precedence order, `headers.remove` over all of them,
 * gateway keys (SPEC §12), the module's default headers at the lowest precedence.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTableFromYaml } from '../../compiler/testing.js';
import { Generation } from '../../runtime/generation.js';
import { silentLogger } from '../../runtime/log.js';
import { Metrics } from '../../runtime/metrics.js';
import { NO_MIDDLEWARE, type CompiledMiddleware } from '../../runtime/middleware.js';
import { captureLogger } from './harness.js';
import { RoutingTable } from '../../runtime/table/reader.js';
import { TargetRuntime } from '../../runtime/target.js';
import { UpstreamPools } from '../../runtime/upstream.js';
import { XLATE_CHAT_TO_MESSAGES, XLATE_MESSAGES_TO_CHAT, XLATE_NONE } from '../../runtime/wire/translate.js';

const ENV = 'VMC_TEST_TARGET_KEY';
let table: RoutingTable;
const pools = new UpstreamPools();

beforeAll(async () => {
  table = RoutingTable.decode(
    await buildTableFromYaml(`version: 1
providers:
  azure-like:
    type: openai
    base_url: https://x.example.com/openai/deployments/d/?api-version=2024-06-01
    api_key_env: ${ENV}
    models: [m]
  an:
    type: anthropic
    base_url: https://api.example.com/
    models: [m]
virtual_models:
  q: { target: azure-like/m }
  a: { target: an/m }
  q-as-anthropic:
    targets: [{ target: azure-like/m, backend_format: anthropic, headers: { set: { anthropic-version: from-config } } }]
`),
  );
});
afterAll(() => pools.destroy());

function target(vm: string): TargetRuntime {
  const v = table.lookupString(vm);
  expect(v).toBeGreaterThanOrEqual(0);
  return new TargetRuntime(table, table.vmFirstTarget(v), vm, pools, new Metrics());
}

describe('TargetRuntime', () => {
  it("keeps the base URL's path prefix and query after the endpoint path", () => {
    process.env[ENV] = 'k';
    try {
      const t = target('q');
      expect(t.wire).toBe('openai');
      expect(t.paths).toEqual([
        '/openai/deployments/d/chat/completions?api-version=2024-06-01',
        '/openai/deployments/d/completions?api-version=2024-06-01',
        '/openai/deployments/d/embeddings?api-version=2024-06-01',
        '/openai/deployments/d/responses?api-version=2024-06-01',
        '/openai/deployments/d/chat/completions?api-version=2024-06-01',
      ]);
      expect(t.xlate).toEqual([XLATE_NONE, XLATE_NONE, XLATE_NONE, XLATE_NONE, XLATE_MESSAGES_TO_CHAT]);
      expect(t.credentials).toEqual(['authorization', 'Bearer k']);
      expect(t.defaultHeaders).toEqual([]);
    } finally {
      delete process.env[ENV];
    }
  });

  it('anthropic: only chat and messages are served; no key in the environment, no credentials', () => {
    const t = target('a');
    expect(t.wire).toBe('anthropic');
    expect(t.paths).toEqual(['/v1/messages', null, null, null, '/v1/messages']);
    expect(t.xlate).toEqual([XLATE_CHAT_TO_MESSAGES, XLATE_NONE, XLATE_NONE, XLATE_NONE, XLATE_NONE]);
    expect(t.credentials).toBeNull();
    const h = t.buildHeaders(['authorization', 'Bearer client', 'content-type', 'text/plain'], NO_MIDDLEWARE);
    expect(h).toEqual(['authorization', 'Bearer client', 'anthropic-version', '2023-06-01', 'content-type', 'application/json']);
  });

  it('backend_format: the wire rules of the format, the credentials of the provider type', () => {
    process.env[ENV] = 'k';
    try {
      const t = target('q-as-anthropic');
      expect(t.wire).toBe('anthropic');
      expect(t.paths[0]).toBe('/openai/deployments/d/v1/messages?api-version=2024-06-01');
      expect(t.credentials).toEqual(['authorization', 'Bearer k']);
      // a default header never beats a configured one
      const h = t.buildHeaders(['x-api-key', 'client'], NO_MIDDLEWARE);
      expect(h).toEqual(['authorization', 'Bearer k', 'anthropic-version', 'from-config', 'content-type', 'application/json']);
    } finally {
      delete process.env[ENV];
    }
  });

  it("providerUrls (vmc serve --provider-url NAME=URL) replaces a base URL; type and credentials stay the provider's", () => {
    process.env[ENV] = 'k';
    try {
      const urls = new Map([['azure-like', 'http://127.0.0.1:9/other/v1?x=1']]);
      const v = table.lookupString('q');
      const t = new TargetRuntime(table, table.vmFirstTarget(v), 'q', pools, new Metrics(), { providerUrls: urls });
      expect(t.paths[0]).toBe('/other/v1/chat/completions?x=1');
      expect(t.pool).toBe(pools.get('http://127.0.0.1:9'));
      expect(t.credentials).toEqual(['authorization', 'Bearer k']);
      // through a generation, as the server builds it; other providers keep the table's URL
      const gen = new Generation(table, { pools, metrics: new Metrics(), log: silentLogger, providerUrls: urls });
      expect(gen.target(table.vmFirstTarget(v)).pool).toBe(pools.get('http://127.0.0.1:9'));
      expect(gen.target(table.vmFirstTarget(table.lookupString('a'))).pool).toBe(pools.get('https://api.example.com'));
    } finally {
      delete process.env[ENV];
    }
  });
});

const MW: CompiledMiddleware = {
  ...NO_MIDDLEWARE,
  requestHeadersSet: [
    ['x-layer', 'middleware'],
    ['x-mw-only', 'mw'],
  ],
  requestHeadersRemove: ['x-request-id'],
  empty: false,
};

describe('TargetRuntime: SPEC §13 provider settings', () => {
  const KEY = 'VMC_TEST_TARGET_KEY13';
  const TENANT = 'VMC_TEST_TARGET_TENANT';
  let t13: RoutingTable;
  beforeAll(async () => {
    t13 = RoutingTable.decode(
      await buildTableFromYaml(`version: 1
providers:
  corp:
    type: openai
    base_url: https://llm.corp.example/v1?v=2
    api_key_env: ${KEY}
    headers: { x-layer: provider, x-tenant: "\${${TENANT}}" }
    query: { region: eu }
    models: [m]
  inquery:
    type: gemini
    base_url: https://g.example.com
    api_key_env: ${KEY}
    auth: { query: key }
    models: [gemini-2.5-flash]
  keyless:
    type: openai
    base_url: http://127.0.0.1:9/v1
    models: [m]
  aws:
    type: bedrock
    region: eu-west-1
    models: ["anthropic.claude-3-haiku-20240307-v1:0"]
  az1:
    type: azure
    base_url: https://r.openai.azure.com/openai/v1
    api_key_env: ${KEY}
    deployments: { gpt-4o: 'prod "4o"' }
    models: [gpt-4o]
virtual_models:
  corp-vm:
    targets: [{ target: corp/m, headers: { set: { x-layer: target }, remove: [x-mw-only] } }]
  no-bearer:
    targets: [{ target: corp/m, headers: { remove: [authorization] } }]
  gq: { target: inquery/gemini-2.5-flash }
  open: { target: keyless/m }
  br: { target: "aws/anthropic.claude-3-haiku-20240307-v1:0" }
  v1: { target: az1/gpt-4o }
`),
    );
  });

  function gen(env: Record<string, string>, gatewayKeys = false) {
    const { log, lines } = captureLogger();
    return { gen: new Generation(t13, { pools, metrics: new Metrics(), log, env, gatewayKeys }), lines };
  }
  const first = (g: Generation, vm: string) => g.target(t13.vmFirstTarget(t13.lookupString(vm)));
  const client = ['authorization', 'Bearer client', 'x-api-key', 'client-x', 'accept', 'application/json', 'x-request-id', 'r1'];

  it('headers: client < middleware < provider headers < credentials < target headers.set; the query after the base query', () => {
    const { gen: g } = gen({ [KEY]: 'k', [TENANT]: 'acme' });
    const t = first(g, 'corp-vm');
    expect(t.paths[0]).toBe('/v1/chat/completions?v=2&region=eu');
    expect(t.ownsCredentials).toBe(true);
    expect(t.providerHeaders).toEqual(['x-layer', 'provider', 'x-tenant', 'acme']);
    expect(t.buildHeaders(client, MW)).toEqual([
      'accept',
      'application/json',
      'x-tenant',
      'acme',
      'authorization',
      'Bearer k',
      'x-layer',
      'target',
      'content-type',
      'application/json',
    ]);
    // without the target's set, the provider's header beats the middleware's
    const h = first(g, 'no-bearer').buildHeaders([], MW);
    expect(h).toEqual(['x-mw-only', 'mw', 'x-layer', 'provider', 'x-tenant', 'acme', 'content-type', 'application/json']);
  });

  it('headers.remove drops the credentials the gateway injects (and the client’s are still not forwarded)', () => {
    const { gen: g } = gen({ [KEY]: 'k', [TENANT]: 'acme' });
    const t = first(g, 'no-bearer');
    const h = t.buildHeaders(client, NO_MIDDLEWARE);
    expect(h).not.toContain('authorization');
    expect(h).not.toContain('x-api-key');
    expect(h).toEqual([
      'accept',
      'application/json',
      'x-request-id',
      'r1',
      'x-layer',
      'provider',
      'x-tenant',
      'acme',
      'content-type',
      'application/json',
    ]);
  });

  it('auth { query: key }: the key in the URL, not in a header; the provider owns its credentials', () => {
    const { gen: g } = gen({ [KEY]: 'k&1', [TENANT]: 'x' });
    const t = first(g, 'gq');
    expect(t.paths[0]).toBe('/v1beta/models/gemini-2.5-flash:generateContent?key=k%261');
    expect(t.streamPaths[0]).toBe('/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=k%261');
    expect(t.credentials).toBeNull();
    expect(t.ownsCredentials).toBe(true);
    // Gemini speaks a format no client speaks: the client's accept is about its own format
    expect(t.buildHeaders(client, NO_MIDDLEWARE)).toEqual(['x-request-id', 'r1', 'content-type', 'application/json']);
  });

  it('a provider without a key passes the client’s credentials — unless gateway keys are on (SPEC §12)', () => {
    const off = first(gen({ [TENANT]: 'x' }).gen, 'open');
    expect(off.ownsCredentials).toBe(false);
    expect(off.usesClientCredentials(client)).toBe(true);
    expect(off.buildHeaders(client, NO_MIDDLEWARE)).toEqual([...client, 'content-type', 'application/json']);
    const on = first(gen({ [TENANT]: 'x' }, true).gen, 'open');
    expect(on.gatewayKeys).toBe(true);
    expect(on.usesClientCredentials(client)).toBe(false);
    expect(on.buildHeaders(client, NO_MIDDLEWARE)).toEqual([
      'accept',
      'application/json',
      'x-request-id',
      'r1',
      'content-type',
      'application/json',
    ]);
    // another credential header of the client's (not its gateway key) still passes to a keyless provider
    expect(on.usesClientCredentials(['api-key', 'azure-key'])).toBe(true);
  });

  it('bedrock: a stream path of its own, a signer, the client’s credential headers never forwarded', () => {
    const { gen: g, lines } = gen({ [TENANT]: 'x' }); // no AWS credentials in this environment
    const t = first(g, 'br');
    expect(t.origin).toBe('https://bedrock-runtime.eu-west-1.amazonaws.com');
    expect(t.paths[0]).toBe('/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse');
    expect(t.streamPaths[0]).toBe('/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream');
    expect(t.paths[2]).toBeNull();
    expect(t.signer).not.toBeNull();
    expect(t.ownsCredentials).toBe(true);
    expect(t.buildHeaders(client, NO_MIDDLEWARE)).toEqual(['x-request-id', 'r1', 'content-type', 'application/json']);
    // what is missing is logged once, at load
    expect(lines.filter((l) => l.msg === 'provider credentials incomplete').map((l) => l.provider)).toEqual(['aws']);
  });

  it("Azure's v1 API: the deployment is the body model (JSON-escaped for the splice)", () => {
    const t = first(gen({ [KEY]: 'k', [TENANT]: 'x' }).gen, 'v1');
    expect(t.bodyModel).toBe('prod "4o"');
    expect(t.modelJsonBytes.toString()).toBe('prod \\"4o\\"');
    expect(t.credentials).toEqual(['api-key', 'k']);
  });

  it('one setup per provider and generation: targets of one provider share its signer', () => {
    const g = gen({ [TENANT]: 'x' }).gen;
    const a = first(g, 'br');
    const b = new Generation(t13, { pools, metrics: new Metrics(), log: silentLogger, env: {} });
    expect(first(b, 'br').signer).not.toBe(a.signer);
    expect(first(g, 'br').signer).toBe(a.signer);
  });
});
