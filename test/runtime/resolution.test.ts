/**
 * SPEC §3.1–3.3 and §9 through a real gateway: body checks, lookup (names, slugs,
 * passthrough, shadowing), disabled entries, user-path access policies, model types, and
 * the x-vmc-* headers.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockProvider } from '../../bench/sim/simulated-provider.js';
import { chat, closeAll, post, providersYaml, startGateway, startMocks, type Gateway } from './harness.js';

let mocks: MockProvider[];
let gw: Gateway;
let noPassthrough: Gateway;

const virtualModels = `
virtual_models:
  regular: { target: p0/m1 }
  booking-app/gpt-prod:
    slug: gpt-prod
    targets:
      - { target: p0/m2 }
  p0/m3: { target: p1/m1 }            # shadows a real model
  p1/m2: { user_paths: [/team] }      # access policy, no target
  legacy: { target: p0/m1, enabled: false }
  team-only: { target: p0/m1, user_paths: [/team/a, /ops] }
  embed-only: { target: p0/m1, model_types: [embedding] }
  chatty: { target: p0/m1, model_types: [chat] }
  "naïve/名前": { target: p0/m1 }
`;

beforeAll(async () => {
  mocks = await startMocks(['p0', 'p1']);
  gw = await startGateway(`version: 1\n${providersYaml(mocks)}settings: { passthrough: true }\n${virtualModels}`);
  noPassthrough = await startGateway(`version: 1\n${providersYaml(mocks)}settings: { passthrough: false }\n${virtualModels}`);
});
afterAll(() => closeAll(gw, noPassthrough, ...mocks));

const chatUrl = () => gw.url + '/v1/chat/completions';

describe('request body (SPEC §3.1)', () => {
  it.each([
    ['malformed JSON', '{"model": "regular",', null],
    ['trailing garbage', '{"model":"regular"} x', null],
    ['not an object', '["regular"]', null],
    ['empty body', '', null],
    ['missing model', '{"messages":[]}', 'model'],
    ['numeric model', '{"model":4}', 'model'],
    ['null model', '{"model":null}', 'model'],
    // issue 8: routing would check one model while a first-key-wins upstream serves the other
    ['duplicate model keys', '{"model":"regular","model":"team-only"}', 'model'],
    ['duplicate model keys (escaped)', '{"model":"team-only","messages":[],"mod\\u0065l":"regular"}', 'model'],
  ])('%s → 400 invalid_request_error', async (_name, body, param) => {
    const r = await post(chatUrl(), body);
    expect(r.status).toBe(400);
    expect(r.json.error).toMatchObject({ type: 'invalid_request_error', code: null, param, status_code: 400 });
    expect(typeof r.json.error.message).toBe('string');
  });

  it('oversized body → 413 (content-length known)', async () => {
    const small = await startGateway(`version: 1\n${providersYaml(mocks)}${virtualModels}`, { maxBodyBytes: 1024 });
    try {
      const r = await post(small.url + '/v1/chat/completions', chat('regular', { pad: 'x'.repeat(2000) }));
      expect(r.status).toBe(413);
      expect(r.json.error.status_code).toBe(413);
      const ok = await post(small.url + '/v1/chat/completions', chat('regular'));
      expect(ok.status).toBe(200);
    } finally {
      await small.close();
    }
  });

  it('duplicate model keys never reach a provider', async () => {
    const before = mocks[0].requests.length + mocks[1].requests.length;
    const r = await post(chatUrl(), '{"model":"team-only","model":"regular"}');
    expect(r.status).toBe(400);
    expect(r.json.error.message).toMatch(/model must appear once/);
    expect(mocks[0].requests.length + mocks[1].requests.length).toBe(before);
  });

  it('escaped model names are decoded before lookup', async () => {
    const r = await post(chatUrl(), '{"model":"reg\\u0075lar","messages":[]}');
    expect(r.status).toBe(200);
    expect(r.headers.get('x-vmc-virtual-model')).toBe('regular');
    expect(mocks[0].requests.at(-1)!.model).toBe('m1');
  });

  it('non-ASCII names resolve from raw bytes', async () => {
    const r = await post(chatUrl(), chat('naïve/名前'));
    expect(r.status).toBe(200);
    expect(decodeURIComponent(escape(r.headers.get('x-vmc-virtual-model')!))).toBe('naïve/名前');
  });
});

describe('lookup (SPEC §3.2)', () => {
  it('virtual model name → its target, model rewritten', async () => {
    const r = await post(chatUrl(), chat('regular'));
    expect(r.status).toBe(200);
    expect(r.headers.get('x-vmc-virtual-model')).toBe('regular');
    expect(r.headers.get('x-vmc-target')).toBe('p0/m1');
    expect(r.headers.get('x-vmc-attempts')).toBe('1');
    expect(r.json.model).toBe('m1');
  });

  it('slug resolves to the same virtual model (name as configured in the header)', async () => {
    const r = await post(chatUrl(), chat('gpt-prod'));
    expect(r.status).toBe(200);
    expect(r.headers.get('x-vmc-virtual-model')).toBe('booking-app/gpt-prod');
    expect(r.headers.get('x-vmc-target')).toBe('p0/m2');
  });

  it('passthrough on: a catalogued provider/model is served directly', async () => {
    const r = await post(chatUrl(), chat('p1/m1'));
    expect(r.status).toBe(200);
    expect(r.headers.get('x-vmc-target')).toBe('p1/m1');
    expect(r.headers.get('x-mock-provider')).toBe('p1');
  });

  it('passthrough off: a catalogued provider/model is 404', async () => {
    const r = await post(noPassthrough.url + '/v1/chat/completions', chat('p1/m1'));
    expect(r.status).toBe(404);
    expect(r.json.error.type).toBe('not_found_error');
  });

  it('passthrough off: virtual models still resolve', async () => {
    const r = await post(noPassthrough.url + '/v1/chat/completions', chat('regular'));
    expect(r.status).toBe(200);
  });

  it('a virtual model shadows the real model of the same name', async () => {
    const r = await post(chatUrl(), chat('p0/m3'));
    expect(r.status).toBe(200);
    expect(r.headers.get('x-vmc-target')).toBe('p1/m1');
    expect(r.headers.get('x-mock-provider')).toBe('p1');
  });

  it('unknown model → 404 not_found_error, no x-vmc headers (nothing resolved)', async () => {
    const r = await post(chatUrl(), chat('nope'));
    expect(r.status).toBe(404);
    expect(r.json.error).toMatchObject({ type: 'not_found_error', param: 'model', code: null, status_code: 404 });
    expect(r.json.error.message).toContain('nope');
    expect(r.headers.get('x-vmc-virtual-model')).toBeNull();
  });

  it('disabled → 404 whose message says disabled, with x-vmc headers', async () => {
    const r = await post(chatUrl(), chat('legacy'));
    expect(r.status).toBe(404);
    expect(r.json.error.type).toBe('not_found_error');
    expect(r.json.error.message).toMatch(/disabled/);
    expect(r.headers.get('x-vmc-virtual-model')).toBe('legacy');
    expect(r.headers.get('x-vmc-attempts')).toBe('0');
    expect(r.headers.get('x-vmc-target')).toBe('');
  });
});

describe('content type: inference routes take JSON only (issue 8)', () => {
  it.each([
    ['application/json', 200],
    ['application/json; charset=utf-8', 200],
    ['Application/JSON;charset=UTF-8', 200],
    ['application/x-www-form-urlencoded', 415], // an HTML form's POST
    ['text/plain', 415], // a no-cors fetch with a string body
    ['multipart/form-data; boundary=x', 415],
    ['application/jsonp', 415],
    ['application/json-seq', 415],
    [null, 415], // a no-cors fetch with a Blob body sends no type
  ])('%s → %i', async (type, status) => {
    const before = mocks[0].requests.length;
    const res = await fetch(chatUrl(), {
      method: 'POST',
      headers: type === null ? {} : { 'content-type': type },
      body: new Blob([JSON.stringify(chat('regular'))]),
    });
    const json = (await res.json()) as { error?: { type: string; status_code: number } };
    expect(res.status).toBe(status);
    if (status === 415) {
      expect(json.error).toMatchObject({ type: 'invalid_request_error', status_code: 415 });
      expect(mocks[0].requests.length).toBe(before); // never reached a provider
    }
  });
});

/** One HTTP/1.1 request written byte for byte (repeated header names survive). */
function rawPost(url: string, headerLines: string[], body: string): Promise<{ status: number; text: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(u.port), u.hostname);
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(text.slice(9, 12)), text });
    });
    const head = [`POST ${u.pathname} HTTP/1.1`, 'host: x', 'content-type: application/json', `content-length: ${Buffer.byteLength(body)}`];
    s.write(head.concat(headerLines, ['connection: close']).join('\r\n') + '\r\n\r\n' + body);
  });
}

describe('control headers appear once (issue 8)', () => {
  it.each([
    ['x-vmc-user-path', ['x-vmc-user-path: /team/a', 'x-vmc-user-path: /other']],
    ['x-vmc-user-path (same value twice)', ['x-vmc-user-path: /team/a', 'x-vmc-user-path: /team/a']],
    ['x-vmc-metadata', ['x-vmc-metadata: {"a":"b"}', 'x-vmc-metadata: {"a":"c"}']],
  ])('duplicate %s → 400', async (_name, lines) => {
    const r = await rawPost(chatUrl(), lines, JSON.stringify(chat('team-only')));
    expect(r.status).toBe(400);
    expect(r.text).toMatch(/invalid_request_error/);
    expect(r.text).toMatch(/at most once/);
  });

  it('one x-vmc-user-path is honoured', async () => {
    const r = await rawPost(chatUrl(), ['x-vmc-user-path: /team/a'], JSON.stringify(chat('team-only')));
    expect(r.status).toBe(200);
  });
});

describe('access by user path (SPEC §3.3)', () => {
  it.each([
    ['/team/a', 200],
    ['/team/a/x/y', 200],
    ['/ops', 200],
    ['/team', 403],
    ['/team/ab', 403],
    ['/teams', 403],
    ['/', 403],
    [null, 403],
  ])('user path %s → %i', async (userPath, status) => {
    const r = await post(chatUrl(), chat('team-only'), userPath === null ? {} : { 'x-vmc-user-path': userPath });
    expect(r.status).toBe(status);
    if (status === 403) {
      expect(r.json.error.type).toBe('permission_error');
      expect(r.headers.get('x-vmc-virtual-model')).toBe('team-only');
    }
  });

  it('/team admits /team/x but not /teams (policy over a real model)', async () => {
    expect((await post(chatUrl(), chat('p1/m2'), { 'x-vmc-user-path': '/team/x' })).status).toBe(200);
    expect((await post(chatUrl(), chat('p1/m2'), { 'x-vmc-user-path': '/teams' })).status).toBe(403);
    expect((await post(chatUrl(), chat('p1/m2'), { 'x-vmc-user-path': '/team' })).status).toBe(200);
  });

  it('a policy only gates passthrough: with passthrough off the real model is not reachable at all', async () => {
    const r = await post(noPassthrough.url + '/v1/chat/completions', chat('p1/m2'), { 'x-vmc-user-path': '/team' });
    expect(r.status).toBe(404);
  });
});

describe('model types', () => {
  it('an embedding-only model refuses chat, serves embeddings', async () => {
    const r = await post(chatUrl(), chat('embed-only'));
    expect(r.status).toBe(400);
    expect(r.json.error.param).toBe('model');
    const e = await post(gw.url + '/v1/embeddings', { model: 'embed-only', input: ['a', 'b'] });
    expect(e.status).toBe(200);
    expect(e.json.data).toHaveLength(2);
  });
  it('chat admits /v1/messages (same operation, other wire format)', async () => {
    const r = await post(gw.url + '/v1/messages', { model: 'chatty', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    expect(r.status).toBe(200);
    expect(r.json.type).toBe('message');
  });
});

describe('every endpoint routes', () => {
  it.each([
    ['/v1/chat/completions', chat('regular'), '/v1/chat/completions'],
    ['/v1/completions', { model: 'regular', prompt: 'hi' }, '/v1/completions'],
    ['/v1/embeddings', { model: 'regular', input: 'hi' }, '/v1/embeddings'],
    ['/v1/responses', { model: 'regular', input: 'hi' }, '/v1/responses'],
    ['/v1/messages', { model: 'regular', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }, '/v1/chat/completions'],
  ])('%s', async (path, body, upstreamPath) => {
    const before = mocks[0].requests.length;
    const r = await post(gw.url + path, body);
    expect(r.status).toBe(200);
    const seen = mocks[0].requests[before];
    expect(seen.path).toBe(upstreamPath);
    expect(seen.model).toBe('m1');
  });

  it('unknown route → 404, wrong method → 405', async () => {
    expect((await fetch(gw.url + '/v2/nothing')).status).toBe(404);
    expect((await fetch(gw.url + '/v1/chat/completions')).status).toBe(405);
  });
});
