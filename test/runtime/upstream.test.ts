/**
 * What the provider receives (SPEC §3.6): model rewritten, override params merged (overrides
 * win), header overrides, hop-by-hop and x-vmc-* headers dropped, provider credentials from
 * the environment instead of the client's, the base URL split into pool origin, path prefix
 * and query; plus request/response middleware (NeMo pipelines). The URL rule and credential
 * placement of each provider type: test/runtime/providers/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockProvider } from '../../bench/sim/simulated-provider.js';
import { splitBaseUrl } from '../../runtime/upstream.js';
import { chat, closeAll, post, startGateway, startMocks, type Gateway } from './harness.js';

let mocks: MockProvider[];
let gw: Gateway;
let url: string;
const ENV_OPENAI = 'VMC_TEST_OPENAI_KEY';
const ENV_ANTHROPIC = 'VMC_TEST_ANTHROPIC_KEY';

beforeAll(async () => {
  process.env[ENV_OPENAI] = 'sk-openai-secret';
  process.env[ENV_ANTHROPIC] = 'sk-ant-secret';
  mocks = await startMocks(['oa', 'an', 'nokey']);
  const [oa, an, nokey] = mocks;
  gw = await startGateway(`version: 1
providers:
  oa:
    type: openai
    base_url: ${oa.url}/v1
    api_key_env: ${ENV_OPENAI}
    models: [gpt-4o, "odd\\"name"]
  an:
    type: anthropic
    base_url: ${an.url}
    api_key_env: ${ENV_ANTHROPIC}
    models: [claude]
  nokey:
    type: openai
    base_url: ${nokey.url}/v1/
    models: [m]
settings: { passthrough: true }
virtual_models:
  alias: { target: oa/gpt-4o }
  odd: { target: "oa/odd\\"name" }
  tuned:
    targets:
      - target: oa/gpt-4o
        override_params: { temperature: 0.2, response_format: { type: json_object }, metadata: { team: a } }
  tuned-pool:
    targets:
      - target: oa/gpt-4o
        override_params: { max_tokens: 7, nested: { keep: false, added: 1 } }
  headers:
    targets:
      - target: oa/gpt-4o
        headers:
          set: { X-Deployment-Id: eastus, authorization: Bearer from-config }
          remove: [x-internal-trace]
  claude-alias: { target: an/claude }
  plain: { target: nokey/m }
  piped:
    target: nokey/m
    middleware:
      request:
        - { name: set-params, config: { temperature: 0, metadata: { source: gateway } } }
        - { name: strip-params, config: { keys: [logit_bias, user] } }
        - { name: set-headers, config_type: headers, config: { x-team: search } }
        - { name: set-headers, config: { set: { x-env: prod }, remove: [x-drop-me] } }
      response:
        - { name: set-response-headers, config: { x-pipeline: piped } }
        - { name: set-response-headers, config: { remove: [x-mock-model] } }
      post_response:
        - { name: log, config: { message: piped done, fields: { team: search } } }
`);
  url = gw.url + '/v1/chat/completions';
});
afterAll(async () => {
  delete process.env[ENV_OPENAI];
  delete process.env[ENV_ANTHROPIC];
  await closeAll(gw, ...mocks);
});

const last = (m: MockProvider) => m.requests.at(-1)!;

describe('body (SPEC §3.6)', () => {
  it('splices the target model and leaves every other byte untouched', async () => {
    const raw = '{ "stream" : false,\n  "model":"alias" , "messages":[{"role":"user","content":"héllo \\u00e9"}], "x": 1.50 }';
    const r = await post(url, raw);
    expect(r.status).toBe(200);
    expect(last(mocks[0]).body).toBe(raw.replace('"alias"', '"gpt-4o"'));
  });

  it('writes model names that need JSON escaping correctly', async () => {
    await post(url, chat('odd'));
    expect(last(mocks[0]).model).toBe('odd"name');
  });

  it('override_params merge over the body, overrides win, nested objects merge', async () => {
    await post(url, chat('tuned', { temperature: 0.9, top_p: 0.5, metadata: { user: 'u1', team: 'z' } }));
    expect(last(mocks[0]).json).toEqual({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
      temperature: 0.2,
      top_p: 0.5,
      response_format: { type: 'json_object' },
      metadata: { user: 'u1', team: 'a' },
    });
    await post(url, chat('tuned-pool', { nested: { keep: true, other: 2 } }));
    expect(last(mocks[0]).json).toMatchObject({ max_tokens: 7, nested: { keep: false, other: 2, added: 1 } });
  });
});

describe('headers (SPEC §3.6)', () => {
  it('provider key replaces the client Authorization (openai: Bearer)', async () => {
    await post(url, chat('alias'), { authorization: 'Bearer client-key', 'x-api-key': 'client-x' });
    const h = last(mocks[0]).headers;
    expect(h.authorization).toBe('Bearer sk-openai-secret');
    expect(h['x-api-key']).toBeUndefined();
  });

  it('anthropic providers get x-api-key and a default anthropic-version', async () => {
    const r = await post(
      gw.url + '/v1/messages',
      { model: 'claude-alias', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] },
      { authorization: 'Bearer client' },
    );
    expect(r.status).toBe(200);
    const h = last(mocks[1]).headers;
    expect(h['x-api-key']).toBe('sk-ant-secret');
    expect(h.authorization).toBeUndefined();
    expect(h['anthropic-version']).toBe('2023-06-01');
    expect(last(mocks[1]).path).toBe('/v1/messages');
  });

  it("keeps the client's anthropic-version", async () => {
    await post(gw.url + '/v1/messages', { model: 'claude-alias', max_tokens: 5, messages: [] }, { 'anthropic-version': '2024-01-01' });
    expect(last(mocks[1]).headers['anthropic-version']).toBe('2024-01-01');
  });

  it('without a key in the environment the client credentials pass through', async () => {
    await post(url, chat('plain'), { authorization: 'Bearer client-key' });
    expect(last(mocks[2]).headers.authorization).toBe('Bearer client-key');
    expect(last(mocks[2]).path).toBe('/v1/chat/completions'); // trailing slash of base_url ignored
  });

  it('target header overrides: set (config wins, even over credentials) and remove', async () => {
    await post(url, chat('headers'), { 'x-internal-trace': 'secret', 'x-deployment-id': 'client', 'user-agent': 'kept/1' });
    const h = last(mocks[0]).headers;
    expect(h['x-deployment-id']).toBe('eastus');
    expect(h['x-internal-trace']).toBeUndefined();
    expect(h['user-agent']).toBe('kept/1');
    expect(h.authorization).toBe('Bearer from-config');
  });

  it('hop-by-hop, encoding and x-vmc-* headers are not forwarded', async () => {
    await post(url, chat('plain'), {
      'x-vmc-user-path': '/a',
      'x-vmc-metadata': '{"a":"b"}',
      'accept-encoding': 'gzip',
      te: 'trailers',
      accept: 'application/json',
    });
    const h = last(mocks[2]).headers;
    expect(h['x-vmc-user-path']).toBeUndefined();
    expect(h['x-vmc-metadata']).toBeUndefined();
    expect(h['accept-encoding']).toBeUndefined();
    expect(h.te).toBeUndefined();
    expect(h.accept).toBe('application/json');
    expect(h['content-type']).toBe('application/json');
  });

  it('the upstream always gets content-type: application/json, whatever JSON type the client named', async () => {
    await post(url, chat('plain'), { 'content-type': 'application/json; charset=utf-8' });
    expect(last(mocks[2]).headers['content-type']).toBe('application/json');
  });
});

describe('the allow-list of forwarded client headers (issue 8)', () => {
  const client = {
    accept: 'application/json',
    'user-agent': 'OpenAI/JS 6.0',
    'x-request-id': 'req-1',
    traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    tracestate: 'vendor=1',
    'openai-organization': 'org-client',
    'openai-project': 'proj-client',
    'anthropic-beta': 'max-tokens-3-5-sonnet-2024-07-15',
    cookie: 'session=1',
    origin: 'https://evil.example',
    referer: 'https://evil.example/page',
    'x-custom': 'anything',
    'x-stainless-os': 'Linux',
    'proxy-authorization': 'Basic eA==',
    forwarded: 'for=1.2.3.4',
  };
  const always = ['accept', 'user-agent', 'x-request-id', 'traceparent', 'tracestate'] as const;
  const account = ['openai-organization', 'openai-project', 'anthropic-beta'] as const;
  const never = ['cookie', 'origin', 'referer', 'x-custom', 'x-stainless-os', 'proxy-authorization', 'forwarded'] as const;

  it("with the gateway's key: tracing and client identification only — never the client's account selectors", async () => {
    await post(url, chat('alias'), { ...client, authorization: 'Bearer client-key' });
    const h = last(mocks[0]).headers;
    for (const n of always) expect(h[n], n).toBe(client[n]);
    for (const n of [...account, ...never]) expect(h[n], n).toBeUndefined();
    expect(h.authorization).toBe('Bearer sk-openai-secret');
  });

  it("with the client's own key (provider without one): its credentials and account selectors go along", async () => {
    await post(url, chat('plain'), { ...client, authorization: 'Bearer client-key' });
    const h = last(mocks[2]).headers;
    for (const n of [...always, ...account]) expect(h[n], n).toBe(client[n]);
    for (const n of never) expect(h[n], n).toBeUndefined();
    expect(h.authorization).toBe('Bearer client-key');
  });

  it("x-forwarded-for is not sent by default, not even the client's own (test/runtime/http/forwarded.test.ts: --forwarded-for)", async () => {
    await post(url, chat('plain'), { 'x-forwarded-for': '1.2.3.4' });
    expect(last(mocks[2]).headers['x-forwarded-for']).toBeUndefined();
  });

  it('upstream framing headers are not passed back; upstream x-vmc-* cannot masquerade', async () => {
    mocks[2].setBehavior({ headers: { 'x-vmc-target': 'evil/one', 'x-upstream': 'yes' } });
    try {
      const r = await post(url, chat('plain'));
      expect(r.headers.get('x-vmc-target')).toBe('nokey/m');
      expect(r.headers.get('x-upstream')).toBe('yes');
      expect(r.headers.get('content-length')).toBe(String(Buffer.byteLength(r.text)));
    } finally {
      mocks[2].setBehavior({});
    }
  });

  it("an upstream's uWebSockets header is not repeated next to the gateway's own", async () => {
    mocks[2].setBehavior({ headers: { uWebSockets: '20' } });
    try {
      const r = await post(url, chat('plain'));
      // uWS writes its own `uWebSockets: 20` on every response; the node engine writes none.
      // Either way the upstream's is dropped: one value at most, never "20, 20".
      expect(r.headers.get('uwebsockets') ?? '20').toBe('20');
    } finally {
      mocks[2].setBehavior({});
    }
  });
});

describe('middleware pipelines (NeMo)', () => {
  it('request: set-params, strip-params, set-headers (both config forms); response: set-response-headers', async () => {
    const r = await post(url, chat('piped', { temperature: 1, logit_bias: { 1: 2 }, user: 'u', keep: true }), { 'x-drop-me': '1' });
    expect(r.status).toBe(200);
    const seen = last(mocks[2]);
    expect(seen.json).toEqual({
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
      temperature: 0,
      keep: true,
      metadata: { source: 'gateway' },
    });
    expect(seen.headers['x-team']).toBe('search');
    expect(seen.headers['x-env']).toBe('prod');
    expect(seen.headers['x-drop-me']).toBeUndefined();
    expect(r.headers.get('x-pipeline')).toBe('piped');
    expect(r.headers.get('x-mock-model')).toBeNull();
  });

  it('post_response log: one structured line after the response', async () => {
    await post(url, chat('piped'));
    await new Promise((r) => setTimeout(r, 20));
    const line = gw.logs.filter((l) => l.msg === 'piped done').at(-1);
    expect(line).toMatchObject({
      middleware: 'log',
      team: 'search',
      virtual_model: 'piped',
      target: 'nokey/m',
      status: 200,
      attempts: 1,
      stream: false,
    });
  });

  it('response middleware headers are on error answers too', async () => {
    mocks[2].setBehavior({ status: 400 });
    try {
      const r = await post(url, chat('piped'));
      expect(r.status).toBe(400);
      expect(r.headers.get('x-pipeline')).toBe('piped');
    } finally {
      mocks[2].setBehavior({});
    }
  });
});

describe('base URL → pool origin, path prefix, query (splitBaseUrl)', () => {
  it.each([
    ['https://api.openai.com/v1', 'https://api.openai.com', '/v1', ''],
    ['https://api.openai.com/v1/', 'https://api.openai.com', '/v1', ''],
    ['https://api.anthropic.com', 'https://api.anthropic.com', '', ''],
    [
      'https://x.openai.azure.com/openai/deployments/d?api-version=2024-06-01',
      'https://x.openai.azure.com',
      '/openai/deployments/d',
      '?api-version=2024-06-01',
    ],
  ])('%s', (base, origin, prefix, query) => {
    expect(splitBaseUrl(base)).toEqual({ origin, prefix, query });
  });
});
