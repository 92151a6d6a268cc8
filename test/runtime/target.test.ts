/**
 * TargetRuntime (runtime/target.ts): what one target derives from its provider-type module —
 * upstream paths with the base URL's path and query, translation modes, the wire format
 * (backend_format overrides it), credentials from the environment, and the request headers
 * with the module's default headers at the lowest precedence.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTableFromYaml } from '../../compiler/testing.js';
import { Generation } from '../../runtime/generation.js';
import { silentLogger } from '../../runtime/log.js';
import { Metrics } from '../../runtime/metrics.js';
import { NO_MIDDLEWARE } from '../../runtime/middleware.js';
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
