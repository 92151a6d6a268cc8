/**
 * The prebuilt request head (TargetRuntime.fastHead, issue 13) is exactly the general rule
 * (TargetRuntime.buildHeaders, SPEC §3.6): same headers, same order, same values, for random
 * client headers, peers and target configurations (credentials, provider headers, headers.set
 * and remove, gateway keys, provider types with default headers); null where the general path
 * must decide (a value that cannot be sent, undici origins).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { buildTableFromYaml } from '../../compiler/testing.js';
import { Metrics } from '../../runtime/metrics.js';
import { NO_MIDDLEWARE } from '../../runtime/middleware.js';
import { RoutingTable } from '../../runtime/table/reader.js';
import { TargetRuntime } from '../../runtime/target.js';
import { UpstreamPools } from '../../runtime/upstream.js';
import { EP_CHAT, EP_EMBEDDINGS, EP_MESSAGES } from '../../runtime/table/endpoints.js';

const ENV = 'VMC_TEST_FAST_HEAD_KEY';
let table: RoutingTable;
const pools = new UpstreamPools('h1');
const undiciPools = new UpstreamPools('undici');

beforeAll(async () => {
  process.env[ENV] = 'sk-test';
  table = RoutingTable.decode(
    await buildTableFromYaml(`version: 1
providers:
  keyed:
    type: openai
    base_url: http://127.0.0.1:9/v1?api-version=1
    api_key_env: ${ENV}
    models: [m]
  open:
    type: openai
    base_url: http://127.0.0.1:9/v1
    models: [m]
  an:
    type: anthropic
    base_url: http://127.0.0.1:9
    api_key_env: ${ENV}
    models: [m]
  an-open:
    type: anthropic
    base_url: http://127.0.0.1:9
    models: [m]
  tls:
    type: openai
    base_url: https://api.example.com/v1
    models: [m]
virtual_models:
  keyed: { target: keyed/m }
  open: { target: open/m }
  an: { target: an/m }
  an-open: { target: an-open/m }
  tls: { target: tls/m }
  dressed:
    targets:
      - target: keyed/m
        headers:
          set: { x-team: a, user-agent: from-config, authorization: Bearer from-config }
          remove: [x-request-id, traceparent]
  an-dressed:
    targets:
      - target: an/m
        headers: { set: { anthropic-beta: b1 }, remove: [accept] }
`),
  );
});
afterAll(async () => {
  await pools.destroy();
  await undiciPools.destroy();
  delete process.env[ENV];
});

function target(vm: string, p = pools, gatewayKeys = false): TargetRuntime {
  const v = table.lookupString(vm);
  expect(v).toBeGreaterThanOrEqual(0);
  return new TargetRuntime(table, table.vmFirstTarget(v), vm, p, new Metrics(), { gatewayKeys });
}

/** The general rule as the lean client would send it: request line, host, buildHeaders' lines. */
function general(t: TargetRuntime, ep: number, client: string[], peer: string | null): string {
  const h = t.buildHeaders(client, NO_MIDDLEWARE, peer);
  let head = `POST ${t.paths[ep]} HTTP/1.1\r\nhost: 127.0.0.1:9\r\n`;
  for (let i = 0; i < h.length; i += 2) head += `${h[i]}: ${h[i + 1]}\r\n`;
  return head;
}

const NAMES = [
  'accept',
  'user-agent',
  'x-request-id',
  'traceparent',
  'tracestate',
  'anthropic-version',
  'anthropic-beta',
  'authorization',
  'x-api-key',
  'openai-organization',
  'x-forwarded-for',
  'cookie',
  'content-type',
  'x-vmc-user-path',
  'x-team',
];
const clientHeaders = fc
  .array(fc.tuple(fc.constantFrom(...NAMES), fc.stringMatching(/^[ -~]{0,12}$/)), { maxLength: 8 })
  .map((pairs) => pairs.flat());
const peer = fc.option(fc.constantFrom('127.0.0.1', '::1', '10.0.0.7'), { nil: null });

describe('TargetRuntime.fastHead ≡ buildHeaders', () => {
  it.each([
    ['keyed', EP_CHAT, false],
    ['open', EP_CHAT, false],
    ['open', EP_EMBEDDINGS, true],
    ['an', EP_MESSAGES, false],
    ['an-open', EP_MESSAGES, true],
    ['dressed', EP_CHAT, false],
    ['an-dressed', EP_MESSAGES, true],
  ] as const)('%s, endpoint %i, gateway keys %s (property)', (vm, ep, keys) => {
    const t = target(vm, pools, keys);
    fc.assert(
      fc.property(clientHeaders, peer, (client, p) => {
        const fast = t.fastHead(ep, client, p);
        expect(fast).not.toBeNull();
        expect(fast).toBe(general(t, ep, client, p));
      }),
      { numRuns: 300 },
    );
  });

  it('a value that cannot be sent → null (the general path answers 400)', () => {
    const t = target('open');
    expect(t.fastHead(EP_CHAT, ['user-agent', 'a\u007fb'], null)).toBeNull();
    expect(t.fastHead(EP_CHAT, ['user-agent', 'ok'], '1.2.3.4')).not.toBeNull();
  });

  it('undici origins (https) and endpoints a target does not serve: null', () => {
    expect(target('tls', undiciPools).fastHead(EP_CHAT, [], null)).toBeNull();
    expect(target('tls').fastHead(EP_CHAT, [], null)).toBeNull(); // https: never the lean client
    expect(target('an').fastHead(EP_EMBEDDINGS, [], null)).toBeNull();
    expect(target('open', undiciPools).fastHead(EP_CHAT, [], null)).toBeNull(); // VMC_UPSTREAM_CLIENT=undici
  });
});
