/**
 * Provider type `azure` (runtime/providers/azure.ts): the deployment URL rule with
 * `api-version`, model → deployment, Azure's v1 API, the `api-key` header; and calls through
 * the modules to the simulated Azure OpenAI (bench/sim/clouds/azure.ts), which checks path,
 * query, headers and body on the wire.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzureSim, type AzureSim } from '../../../bench/sim/clouds/azure.js';
import { AZURE } from '../../../runtime/providers/azure.js';
import { authPlacement, setupProvider } from '../../../runtime/providers/credentials.js';
import { EP_CHAT, EP_COMPLETIONS, EP_EMBEDDINGS, EP_MESSAGES, EP_RESPONSES } from '../../../runtime/table/endpoints.js';
import { XLATE_MESSAGES_TO_CHAT, XLATE_NONE } from '../../../runtime/wire/translate.js';
import { anthropicStreamText, callThroughModules, header, openaiChunks, openaiStreamText, provider } from './cloud-call.js';

const options = { apiVersion: '2024-10-21', deployments: [['gpt-4o', 'gpt4o-prod']] as [string, string][] };

describe('azure URL rule (SPEC §13)', () => {
  it.each([
    ['chat', EP_CHAT, '/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21', XLATE_NONE],
    ['completions', EP_COMPLETIONS, '/openai/deployments/gpt4o-prod/completions?api-version=2024-10-21', XLATE_NONE],
    ['embeddings', EP_EMBEDDINGS, '/openai/deployments/gpt4o-prod/embeddings?api-version=2024-10-21', XLATE_NONE],
    [
      'messages (translated)',
      EP_MESSAGES,
      '/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21',
      XLATE_MESSAGES_TO_CHAT,
    ],
  ])('%s: deployment in the path, api-version in the query', (_name, ep, path, xlate) => {
    expect(AZURE.route(ep, { prefix: '', query: '', model: 'gpt-4o', options })).toEqual({ path, xlate });
  });

  it('a base already ending in /openai keeps one /openai segment', () => {
    expect(AZURE.route(EP_CHAT, { prefix: '/openai', query: '', model: 'gpt-4o', options })?.path).toBe(
      '/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21',
    );
  });

  it('responses are not served on the classic API', () => {
    expect(AZURE.route(EP_RESPONSES, { prefix: '', query: '', model: 'gpt-4o', options })).toBeNull();
  });

  it('a model without a deployment entry is its own deployment (path-encoded); base path and extra query kept', () => {
    expect(AZURE.route(EP_CHAT, { prefix: '/gw', query: '?team=a', model: 'my model', options })?.path).toBe(
      '/gw/openai/deployments/my%20model/chat/completions?api-version=2024-10-21&team=a',
    );
  });

  it("Azure's v1 API: OpenAI paths, the deployment written into the body's model", () => {
    const t = { prefix: '/openai/v1', query: '', model: 'gpt-4o', options: { deployments: options.deployments } };
    expect(AZURE.route(EP_CHAT, t)).toEqual({ path: '/openai/v1/chat/completions', xlate: XLATE_NONE, model: 'gpt4o-prod' });
    expect(AZURE.route(EP_RESPONSES, t)?.path).toBe('/openai/v1/responses');
  });

  it('credentials: api-key: KEY; auth: {header: authorization} sends Bearer (Entra ID tokens)', () => {
    expect(authPlacement('azure')).toEqual({ kind: 'header', name: 'api-key', valuePrefix: '' });
    const p = provider({ name: 'az', type: 'azure', baseUrl: 'https://x', apiKeyEnv: 'K', options });
    expect(setupProvider(p, { K: 'k1' }).credentials).toEqual(['api-key', 'k1']);
    const entra = provider({ ...p, options: { ...options, auth: { kind: 'header', name: 'authorization' } } });
    expect(setupProvider(entra, { K: 't1' }).credentials).toEqual(['authorization', 'Bearer t1']);
  });
});

describe('through the modules to the simulated Azure OpenAI', () => {
  let sim: AzureSim;
  const env = { AZ_KEY: 'az-secret' };
  let classic: ReturnType<typeof provider>;
  let v1: ReturnType<typeof provider>;
  beforeAll(async () => {
    sim = await startAzureSim({ apiKey: 'az-secret', apiVersion: '2024-10-21', deployments: ['gpt4o-prod', 'embed-small'] });
    classic = provider({
      name: 'azure-eastus',
      type: 'azure',
      baseUrl: sim.url,
      apiKeyEnv: 'AZ_KEY',
      options: {
        apiVersion: '2024-10-21',
        deployments: [
          ['gpt-4o', 'gpt4o-prod'],
          ['text-embedding-3-small', 'embed-small'],
        ],
      },
    });
    v1 = provider({
      name: 'azure-v1',
      type: 'azure',
      baseUrl: `${sim.url}/openai/v1`,
      apiKeyEnv: 'AZ_KEY',
      options: { deployments: [['gpt-4o', 'gpt4o-prod']] },
    });
  });
  afterAll(() => sim.close());

  const msgs = [{ role: 'user', content: 'hi' }];

  it('chat (JSON): exact path, api-version, api-key and no authorization', async () => {
    const r = await callThroughModules(classic, 'gpt-4o', '/v1/chat/completions', { model: 'vm', messages: msgs }, env, {
      clientHeaders: ['x-request-id', 'r1'],
    });
    const seen = sim.requests.at(-1)!;
    expect(seen.violation).toBeNull();
    expect(r.status).toBe(200);
    expect(seen.path).toBe('/openai/deployments/gpt4o-prod/chat/completions');
    expect(seen.rawQuery).toBe('api-version=2024-10-21');
    expect(seen.headers['api-key']).toBe('az-secret');
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.json).toEqual({ model: 'gpt-4o', messages: msgs });
    expect(r.json!.choices[0].message.content).toBe('sim:azure deployment=gpt4o-prod');
  });

  it('chat (stream) with a final usage chunk', async () => {
    sim.setReply(() => ({ text: 'Hello there', usage: { input: 4, output: 2 } }));
    const r = await callThroughModules(
      classic,
      'gpt-4o',
      '/v1/chat/completions',
      { model: 'vm', messages: msgs, stream: true, stream_options: { include_usage: true } },
      env,
    );
    expect(r.status).toBe(200);
    expect(openaiStreamText(r.events)).toBe('Hello there');
    expect(openaiChunks(r.events).at(-1)!.usage).toEqual({ prompt_tokens: 4, completion_tokens: 2, total_tokens: 6 });
    sim.setReply(() => ({}));
  });

  it('embeddings and completions go to their deployment paths', async () => {
    const e = await callThroughModules(classic, 'text-embedding-3-small', '/v1/embeddings', { model: 'e', input: ['a', 'bb'] }, env);
    expect(e.status).toBe(200);
    expect(sim.requests.at(-1)!.path).toBe('/openai/deployments/embed-small/embeddings');
    expect(e.json!.data).toHaveLength(2);
    const c = await callThroughModules(classic, 'gpt-4o', '/v1/completions', { model: 'c', prompt: 'x' }, env);
    expect(c.status).toBe(200);
    expect(sim.requests.at(-1)!.path).toBe('/openai/deployments/gpt4o-prod/completions');
  });

  it('an Anthropic client (messages) is translated, streaming too', async () => {
    const r = await callThroughModules(
      classic,
      'gpt-4o',
      '/v1/messages',
      { model: 'vm', max_tokens: 50, system: 'be brief', messages: msgs },
      env,
    );
    expect(r.status).toBe(200);
    expect(sim.requests.at(-1)!.json).toEqual({
      model: 'gpt-4o',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ],
      max_tokens: 50,
    });
    expect(r.json).toMatchObject({
      type: 'message',
      content: [{ type: 'text', text: 'sim:azure deployment=gpt4o-prod' }],
      stop_reason: 'end_turn',
    });
    const s = await callThroughModules(
      classic,
      'gpt-4o',
      '/v1/messages',
      { model: 'vm', max_tokens: 50, messages: msgs, stream: true },
      env,
    );
    expect(anthropicStreamText(s.events)).toBe('sim:azure deployment=gpt4o-prod');
    expect(s.events.at(-1)!.event).toBe('message_stop');
  });

  it("Azure's v1 API: /openai/v1 paths, the deployment in model, no api-version", async () => {
    const r = await callThroughModules(v1, 'gpt-4o', '/v1/chat/completions', { model: 'vm', messages: msgs }, env);
    expect(sim.requests.at(-1)!.violation).toBeNull();
    expect(r.status).toBe(200);
    expect(sim.requests.at(-1)!.path).toBe('/openai/v1/chat/completions');
    expect(sim.requests.at(-1)!.rawQuery).toBe('');
    expect(sim.requests.at(-1)!.json!.model).toBe('gpt4o-prod');
  });

  it('provider headers and query settings (with ${ENV}) reach Azure; a wrong key is a 401 in the SPEC §3 envelope for an Anthropic client', async () => {
    const withExtras = provider({
      ...classic,
      options: { ...classic.options, headers: [['x-ms-client-tenant', '${TENANT}']], query: [['trace', 'on']] },
    });
    const r = await callThroughModules(
      withExtras,
      'gpt-4o',
      '/v1/chat/completions',
      { model: 'vm', messages: msgs },
      { ...env, TENANT: 't-9' },
    );
    expect(r.status).toBe(200);
    const seen = sim.requests.at(-1)!;
    expect(seen.headers['x-ms-client-tenant']).toBe('t-9');
    expect(seen.rawQuery).toBe('api-version=2024-10-21&trace=on');
    const bad = await callThroughModules(
      classic,
      'gpt-4o',
      '/v1/messages',
      { model: 'vm', max_tokens: 5, messages: msgs },
      { AZ_KEY: 'wrong' },
    );
    expect(bad.status).toBe(401);
    expect(bad.json).toMatchObject({
      type: 'error',
      error: { type: 'authentication_error', provider: 'azure-eastus', status_code: 401 },
    });
    expect(bad.json!.error.message).toContain('api-key');
    expect(header(bad.sent.headers, 'api-key')).toBe('wrong');
  });
});
