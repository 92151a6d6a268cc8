/**
 * Provider type `vertex` (runtime/providers/vertex.ts, google-oauth.ts): the Vertex AI URL
 * rule, OAuth tokens from a service-account JSON through google-auth-library with the JSON's
 * `token_uri` honoured (the library alone would post to Google), cached and refreshed before
 * they expire; calls through the modules to the simulated Vertex AI (bench/sim/clouds/vertex.ts),
 * which issues short-lived tokens and refuses expired ones.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVertexSim, type VertexSim } from '../../../bench/sim/clouds/vertex.js';
import { authPlacement, setupProvider } from '../../../runtime/providers/credentials.js';
import { GoogleAccessToken, parseServiceAccount } from '../../../runtime/providers/google-oauth.js';
import { VERTEX, VERTEX_SCOPE } from '../../../runtime/providers/vertex.js';
import { EP_CHAT, EP_EMBEDDINGS, EP_MESSAGES } from '../../../runtime/table/endpoints.js';
import type { NormProviderOptions } from '../../../runtime/table/normalized.js';
import { defaultBaseUrl } from '../../../runtime/table/provider-types.js';
import { XLATE_CHAT_TO_GEMINI, XLATE_MESSAGES_TO_GEMINI } from '../../../runtime/wire/translate.js';
import { anthropicStreamText, callThroughModules, openaiStreamText, provider } from './cloud-call.js';
import { readFileSync } from 'node:fs';

const options: NormProviderOptions = { project: 'acme-ml', location: 'us-central1', credentialsFileEnv: 'GOOGLE_APPLICATION_CREDENTIALS' };

describe('vertex URL rule (SPEC §13)', () => {
  it('chat and messages → projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent (streams: alt=sse)', () => {
    expect(VERTEX.route(EP_CHAT, { prefix: '', query: '', model: 'gemini-2.5-flash', options })).toEqual({
      path: '/v1/projects/acme-ml/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent',
      streamPath: '/v1/projects/acme-ml/locations/us-central1/publishers/google/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
      xlate: XLATE_CHAT_TO_GEMINI,
    });
    expect(VERTEX.route(EP_MESSAGES, { prefix: '', query: '', model: 'm', options })?.xlate).toBe(XLATE_MESSAGES_TO_GEMINI);
    expect(VERTEX.route(EP_EMBEDDINGS, { prefix: '', query: '', model: 'm', options })).toBeNull();
  });

  it('default base: {location}-aiplatform.googleapis.com; location global → aiplatform.googleapis.com', () => {
    expect(defaultBaseUrl('vertex', { location: 'europe-west4' })).toBe('https://europe-west4-aiplatform.googleapis.com');
    expect(defaultBaseUrl('vertex', { location: 'global' })).toBe('https://aiplatform.googleapis.com');
    const g = { ...options, location: 'global' };
    expect(VERTEX.route(EP_CHAT, { prefix: '', query: '', model: 'gemini-2.5-pro', options: g })?.path).toBe(
      '/v1/projects/acme-ml/locations/global/publishers/google/models/gemini-2.5-pro:generateContent',
    );
  });

  it('credentials: an OAuth bearer token for the cloud-platform scope', () => {
    expect(authPlacement('vertex')).toEqual({ kind: 'oauth', scope: VERTEX_SCOPE });
  });

  it('a missing credentials file variable does not stop the gateway: a problem to log, requests fail naming the variable', async () => {
    const s = setupProvider(provider({ name: 'gcp', type: 'vertex', baseUrl: 'http://127.0.0.1:9', options }), {});
    expect(s.problem).toBe(
      'provider gcp: environment variable GOOGLE_APPLICATION_CREDENTIALS is not set (the path of a service-account JSON file)',
    );
    await expect(s.signer!.sign({ method: 'POST', origin: 'x', path: '/', headers: [], body: new Uint8Array() })).rejects.toThrow(
      /GOOGLE_APPLICATION_CREDENTIALS/,
    );
  });

  it('service-account files are checked (type, fields); errors name the file, never its content', () => {
    expect(() => parseServiceAccount('{"type":"authorized_user"}', '/x.json')).toThrow(
      '/x.json is a authorized_user credential, not a service-account key',
    );
    expect(() => parseServiceAccount('{"type":"service_account","client_email":"a"}', '/x.json')).toThrow('/x.json has no private_key');
    expect(() => parseServiceAccount('nope', '/x.json')).toThrow('/x.json is not JSON');
  });
});

describe('OAuth through google-auth-library against the simulated token_uri', () => {
  let sim: VertexSim;
  let keyFile: string;
  beforeAll(async () => {
    sim = await startVertexSim({ project: 'acme-ml', location: 'us-central1', models: ['gemini-2.5-flash'], tokenLifetimeS: 4 });
    keyFile = sim.serviceAccountFile();
  });
  afterAll(() => sim.close());

  it('the token is requested from the JSON’s token_uri (a signed RS256 assertion with aud = token_uri), then cached', async () => {
    const source = new GoogleAccessToken(parseServiceAccount(readFileSync(keyFile, 'utf8'), keyFile), VERTEX_SCOPE, 1000);
    expect(source.tokenUri).toBe(sim.tokenUri);
    const before = sim.tokensIssued.length;
    const a = await source.token();
    const b = await source.token();
    const [c, d] = await Promise.all([source.token(), source.token()]);
    expect(sim.requests.filter((r) => r.path === '/token').every((r) => r.violation === null)).toBe(true);
    expect(sim.tokensIssued.length).toBe(before + 1);
    expect([b, c, d]).toEqual([a, a, a]);
  });

  it('a token about to expire is refreshed before use, so requests never carry an expired token', async () => {
    // tokens live 4 s; refresh 2.5 s before expiry → a token older than 1.5 s is replaced
    const p = provider({ name: 'gcp', type: 'vertex', baseUrl: sim.url, options });
    const env = { GOOGLE_APPLICATION_CREDENTIALS: keyFile };
    const setup = setupProvider(p, env, { eagerRefreshMs: 2500 });
    expect(setup.problem).toBeNull();
    const body = { model: 'vm', messages: [{ role: 'user', content: 'hi' }] };
    const first = await callThroughModules(p, 'gemini-2.5-flash', '/v1/chat/completions', body, env, { setup });
    expect(first.status).toBe(200);
    const issued = sim.tokensIssued.length;
    const t1 = sim.requests.at(-1)!.headers.authorization;
    const again = await callThroughModules(p, 'gemini-2.5-flash', '/v1/chat/completions', body, env, { setup });
    expect(again.status).toBe(200);
    expect(sim.requests.at(-1)!.headers.authorization).toBe(t1); // cached
    expect(sim.tokensIssued.length).toBe(issued);
    await new Promise((r) => setTimeout(r, 1700));
    const later = await callThroughModules(p, 'gemini-2.5-flash', '/v1/chat/completions', body, env, { setup });
    expect(later.status).toBe(200);
    expect(sim.tokensIssued.length).toBe(issued + 1); // refreshed before it expired
    expect(sim.requests.at(-1)!.headers.authorization).not.toBe(t1);
    // the old token really is refused once expired (the simulator's check is real)
    await new Promise((r) => setTimeout(r, 2500));
    const stale = await fetch(
      `${sim.url}/v1/projects/acme-ml/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent`,
      {
        method: 'POST',
        headers: { authorization: t1, 'content-type': 'application/json' },
        body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'x' }] }] }),
      },
    );
    expect(stale.status).toBe(401);
  });
});

describe('through the modules to the simulated Vertex AI', () => {
  let sim: VertexSim;
  let env: Record<string, string>;
  let gcp: ReturnType<typeof provider>;
  beforeAll(async () => {
    sim = await startVertexSim({ project: 'acme-ml', location: 'us-central1', models: ['gemini-2.5-flash'] });
    env = { GOOGLE_APPLICATION_CREDENTIALS: sim.serviceAccountFile() };
    gcp = provider({ name: 'gcp', type: 'vertex', baseUrl: sim.url, options });
  });
  afterAll(() => sim.close());

  const msgs = [{ role: 'user', content: 'hi' }];

  it('chat, JSON and stream: the Vertex path and a bearer token, the client key not forwarded', async () => {
    const r = await callThroughModules(gcp, 'gemini-2.5-flash', '/v1/chat/completions', { model: 'vm', messages: msgs }, env, {
      clientHeaders: ['authorization', 'Bearer client-key'],
    });
    const seen = sim.requests.at(-1)!;
    expect(seen.violation).toBeNull();
    expect(r.status).toBe(200);
    expect(seen.path).toBe('/v1/projects/acme-ml/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent');
    expect(seen.headers.authorization).toMatch(/^Bearer ya29\.sim-/);
    expect(r.json!.choices[0].message.content).toBe('sim:vertex model=gemini-2.5-flash');
    sim.setReply(() => ({ text: 'from Vertex, streamed', chunks: 3 }));
    const s = await callThroughModules(gcp, 'gemini-2.5-flash', '/v1/chat/completions', { model: 'vm', messages: msgs, stream: true }, env);
    expect(sim.requests.at(-1)!.rawQuery).toBe('alt=sse');
    expect(openaiStreamText(s.events)).toBe('from Vertex, streamed');
    sim.setReply(() => ({}));
  });

  it('an Anthropic client, streaming', async () => {
    const s = await callThroughModules(
      gcp,
      'gemini-2.5-flash',
      '/v1/messages',
      { model: 'vm', max_tokens: 9, stream: true, messages: msgs },
      env,
    );
    expect(s.status).toBe(200);
    expect(anthropicStreamText(s.events)).toBe('sim:vertex model=gemini-2.5-flash');
    expect(s.events.at(-1)!.event).toBe('message_stop');
  });

  it('a token_uri that refuses the grant: the request fails with a CredentialsError naming the token_uri', async () => {
    const broken = JSON.parse(readFileSync(env.GOOGLE_APPLICATION_CREDENTIALS, 'utf8'));
    broken.token_uri = `${sim.url}/not-the-token-endpoint`;
    const source = new GoogleAccessToken(parseServiceAccount(JSON.stringify(broken), 'x.json'), VERTEX_SCOPE);
    await expect(source.token()).rejects.toThrow(`no access token from ${sim.url}/not-the-token-endpoint`);
  });
});
