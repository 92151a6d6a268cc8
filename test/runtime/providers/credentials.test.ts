/**
 * Provider credentials and extras (runtime/providers/credentials.ts, env.ts) and one target's
 * routes (routes.ts): `${ENV}` resolution with its start-up error, key placement (header,
 * query, none, the `auth` override), `headers`/`query` settings, and the routes and bodies
 * a target gets (what runtime/target.ts and the engine use).
 */
import { describe, expect, it } from 'vitest';
import { authPlacement, queryString, setupProvider } from '../../../runtime/providers/credentials.js';
import { ProviderEnvError, missingTemplateVariables, resolveTemplate } from '../../../runtime/providers/env.js';
import { targetRoutes, upstreamBody } from '../../../runtime/providers/routes.js';
import { EP_CHAT, EP_EMBEDDINGS, EP_MESSAGES } from '../../../runtime/table/endpoints.js';
import { XLATE_CHAT_TO_BEDROCK, XLATE_CHAT_TO_MESSAGES, XLATE_MESSAGES_TO_CHAT, XLATE_NONE } from '../../../runtime/wire/translate.js';
import { provider } from './cloud-call.js';

describe('${ENV} templates (SPEC §13)', () => {
  it('are replaced by the variable; any other $ is literal', () => {
    expect(resolveTemplate('p', 'Bearer ${TOKEN}', { TOKEN: 't1' })).toBe('Bearer t1');
    expect(resolveTemplate('p', '$5 ${A}${B} $x {C}', { A: 'a', B: '' })).toBe('$5 a $x {C}');
  });

  it('an unset variable is an error naming the provider and the variable', () => {
    expect(() => resolveTemplate('openrouter', 'x-${OR_REFERER}', {})).toThrow(new ProviderEnvError('openrouter', 'OR_REFERER'));
    expect(new ProviderEnvError('openrouter', 'OR_REFERER').message).toBe(
      'provider openrouter: environment variable OR_REFERER is not set',
    );
    expect(() =>
      setupProvider(provider({ name: 'p', type: 'openai', baseUrl: 'https://x', options: { query: [['k', '${NOPE}']] } }), {}),
    ).toThrow('provider p: environment variable NOPE is not set');
  });

  it('missingTemplateVariables lists every unset variable once per provider, in order (one start-up message)', () => {
    const providers = [
      {
        name: 'a',
        options: {
          headers: [
            ['x', '${ONE}${TWO}'],
            ['y', '${ONE}'],
          ] as [string, string][],
        },
      },
      { name: 'b', options: { query: [['q', '${THREE}']] as [string, string][] } },
      { name: 'c' },
    ];
    expect(missingTemplateVariables(providers, { TWO: '2' }).map((e) => e.message)).toEqual([
      'provider a: environment variable ONE is not set',
      'provider b: environment variable THREE is not set',
    ]);
  });
});

describe('credentials and extras per provider', () => {
  const base = { name: 'p', baseUrl: 'https://x', apiKeyEnv: 'KEY' } as const;

  it.each([
    ['openai', ['authorization', 'Bearer k']],
    ['anthropic', ['x-api-key', 'k']],
    ['azure', ['api-key', 'k']],
    ['gemini', ['x-goog-api-key', 'k']],
  ] as const)('%s: its own header', (type, creds) => {
    expect(setupProvider(provider({ ...base, type }), { KEY: 'k' })).toEqual({
      credentials: creds,
      ownsCredentials: true,
      headers: [],
      query: '',
      signer: null,
      problem: null,
    });
  });

  it('without the key: no credentials, the client’s pass through (SPEC §3.6)', () => {
    expect(setupProvider(provider({ ...base, type: 'openai' }), {})).toMatchObject({ credentials: null, ownsCredentials: false });
    expect(setupProvider(provider({ ...base, type: 'openai' }), { KEY: '' })).toMatchObject({ credentials: null, ownsCredentials: false });
  });

  it('auth overrides the placement: another header, a query parameter, or none', () => {
    expect(authPlacement('openai', { auth: { kind: 'header', name: 'x-corp-key' } })).toEqual({
      kind: 'header',
      name: 'x-corp-key',
      valuePrefix: '',
    });
    const q = setupProvider(
      provider({ ...base, type: 'openai', options: { auth: { kind: 'query', name: 'api_key' }, query: [['v', '2']] } }),
      { KEY: 'a&b' },
    );
    expect(q).toMatchObject({ credentials: null, ownsCredentials: true, query: '?v=2&api_key=a%26b' });
    const none = setupProvider(provider({ ...base, type: 'openai', options: { auth: { kind: 'none' } } }), { KEY: 'k' });
    expect(none).toMatchObject({ credentials: null, ownsCredentials: false, query: '' });
  });

  it('headers settings are resolved, names kept lower-case as normalized', () => {
    const s = setupProvider(
      provider({
        ...base,
        type: 'openai',
        options: {
          headers: [
            ['http-referer', 'https://${SITE}'],
            ['x-title', 'app'],
          ],
        },
      }),
      {
        SITE: 'acme.example',
      },
    );
    expect(s.headers).toEqual(['http-referer', 'https://acme.example', 'x-title', 'app']);
  });

  it('queryString encodes names and values', () => {
    expect(queryString([])).toBe('');
    expect(queryString([['a b', 'c/d?']])).toBe('?a%20b=c%2Fd%3F');
  });
});

describe('targetRoutes and upstreamBody (what a target stores; the engine’s slow path)', () => {
  it('base path, base query and the provider query compose; backend_format picks another module', () => {
    const r = targetRoutes('openai', null, 'https://h.example/v1?tenant=a', 'gpt-4o', null, '?key=k');
    expect(r.origin).toBe('https://h.example');
    expect(r.paths[EP_CHAT]).toBe('/v1/chat/completions?tenant=a&key=k');
    expect(r.xlate[EP_MESSAGES]).toBe(XLATE_MESSAGES_TO_CHAT);
    const a = targetRoutes('openai', 'anthropic', 'https://h.example/v1', 'm', null, '');
    expect([a.wire, a.paths[EP_CHAT], a.xlate[EP_CHAT], a.paths[EP_EMBEDDINGS]]).toEqual([
      'anthropic',
      '/v1/messages',
      XLATE_CHAT_TO_MESSAGES,
      null,
    ]);
    expect(a.defaultHeaders).toEqual([['anthropic-version', '2023-06-01']]);
  });

  it('stream paths and the body model come from the module', () => {
    const b = targetRoutes(
      'bedrock',
      null,
      'https://bedrock-runtime.us-east-1.amazonaws.com',
      'amazon.nova-pro-v1:0',
      { region: 'us-east-1' },
      '',
    );
    expect([b.paths[EP_CHAT], b.streamPaths[EP_CHAT]]).toEqual([
      '/model/amazon.nova-pro-v1%3A0/converse',
      '/model/amazon.nova-pro-v1%3A0/converse-stream',
    ]);
    const az = targetRoutes('azure', null, 'https://r.openai.azure.com/openai/v1', 'gpt-4o', { deployments: [['gpt-4o', 'prod']] }, '');
    expect([az.bodyModel, az.paths[EP_CHAT], az.streamPaths[EP_CHAT]]).toEqual([
      'prod',
      '/openai/v1/chat/completions',
      '/openai/v1/chat/completions',
    ]);
  });

  it('upstreamBody: translate, merge overrides (without sharing them), write the model where the format has one', () => {
    const overrides = { temperature: 0.2, nested: { a: 1 } };
    const same = upstreamBody(XLATE_NONE, { model: 'vm', messages: [], nested: { b: 2 } }, 'gpt-4o', overrides);
    expect(same).toEqual({ model: 'gpt-4o', messages: [], temperature: 0.2, nested: { a: 1, b: 2 } });
    same.nested = null;
    expect(overrides.nested).toEqual({ a: 1 });
    const bedrock = upstreamBody(XLATE_CHAT_TO_BEDROCK, { model: 'vm', messages: [{ role: 'user', content: 'x' }] }, 'm', overrides);
    expect(bedrock).toEqual({
      messages: [{ role: 'user', content: [{ text: 'x' }] }],
      inferenceConfig: { temperature: 0.2 },
      nested: { a: 1 },
    });
    const anthropic = upstreamBody(XLATE_CHAT_TO_MESSAGES, { model: 'vm', messages: [{ role: 'user', content: 'x' }] }, 'claude', null);
    expect(anthropic.model).toBe('claude');
  });
});

describe('a table’s providers at start (SPEC §13)', () => {
  it('checkTableEnvironment names every unset ${ENV} of the table; setupProvider reads the settings from the table', async () => {
    const { compileDocuments } = await import('../../../compiler/frontend.js');
    const { lowerTable } = await import('../../../compiler/lower.js');
    const { RoutingTable } = await import('../../../runtime/table/reader.js');
    const { checkTableEnvironment, tableProvider } = await import('../../../runtime/providers/credentials.js');
    const r = await compileDocuments([
      {
        path: 'c.yaml',
        text: `providers:
  or:
    type: openai
    base_url: https://openrouter.ai/api/v1
    api_key_env: OR_KEY
    headers: { HTTP-Referer: "\${SITE_URL}", X-Title: "\${APP}" }
    models: [m]
  aws: { type: bedrock, region: us-east-1, query: { t: "\${TRACE}" }, models: [n] }
`,
      },
    ]);
    const table = RoutingTable.decode(lowerTable(r.config!));
    expect(checkTableEnvironment(table, { APP: 'a' }).map((e) => e.message)).toEqual([
      'provider aws: environment variable TRACE is not set',
      'provider or: environment variable SITE_URL is not set',
    ]);
    expect(checkTableEnvironment(table, { APP: 'a', SITE_URL: 's', TRACE: 't' })).toEqual([]);
    const or = tableProvider(table, 1);
    expect(or).toEqual({
      name: 'or',
      type: 'openai',
      apiKeyEnv: 'OR_KEY',
      options: {
        headers: [
          ['http-referer', '${SITE_URL}'],
          ['x-title', '${APP}'],
        ],
      },
    });
    expect(setupProvider(or, { OR_KEY: 'k', SITE_URL: 'https://a', APP: 'x' }).headers).toEqual([
      'http-referer',
      'https://a',
      'x-title',
      'x',
    ]);
    expect(new TextDecoder().decode(table.bytes)).toContain('"${SITE_URL}"'); // the table holds the template, not a value
  });
});
