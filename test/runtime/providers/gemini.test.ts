/**
 * Provider type `gemini` (runtime/providers/gemini.ts): the generateContent URL rule, the
 * `x-goog-api-key` header (or `?key=`), and calls through the modules to the simulated
 * Gemini API (bench/sim/clouds/gemini.ts), which validates bodies as Google does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGeminiSim, type GeminiSim } from '../../../bench/sim/clouds/gemini.js';
import { authPlacement, setupProvider } from '../../../runtime/providers/credentials.js';
import { GEMINI } from '../../../runtime/providers/gemini.js';
import { EP_CHAT, EP_COMPLETIONS, EP_EMBEDDINGS, EP_MESSAGES, EP_RESPONSES } from '../../../runtime/table/endpoints.js';
import { XLATE_CHAT_TO_GEMINI, XLATE_MESSAGES_TO_GEMINI } from '../../../runtime/wire/translate.js';
import { anthropicStreamText, callThroughModules, openaiChunks, openaiStreamText, provider } from './cloud-call.js';

describe('gemini URL rule (SPEC §13)', () => {
  it('chat and messages → /v1beta/models/{model}:generateContent; streams → :streamGenerateContent?alt=sse', () => {
    expect(GEMINI.route(EP_CHAT, { prefix: '', query: '', model: 'gemini-2.5-flash' })).toEqual({
      path: '/v1beta/models/gemini-2.5-flash:generateContent',
      streamPath: '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse',
      xlate: XLATE_CHAT_TO_GEMINI,
    });
    expect(GEMINI.route(EP_MESSAGES, { prefix: '', query: '', model: 'm' })?.xlate).toBe(XLATE_MESSAGES_TO_GEMINI);
  });

  it('a base ending in a version keeps it; models/… and tunedModels/… are used as is; extra query after alt=sse', () => {
    expect(GEMINI.route(EP_CHAT, { prefix: '/v1beta', query: '', model: 'gemini-2.5-pro' })?.path).toBe(
      '/v1beta/models/gemini-2.5-pro:generateContent',
    );
    expect(GEMINI.route(EP_CHAT, { prefix: '', query: '', model: 'tunedModels/my-tune' })?.path).toBe(
      '/v1beta/tunedModels/my-tune:generateContent',
    );
    expect(GEMINI.route(EP_CHAT, { prefix: '', query: '?key=k', model: 'm' })?.streamPath).toBe(
      '/v1beta/models/m:streamGenerateContent?alt=sse&key=k',
    );
  });

  it.each([EP_COMPLETIONS, EP_EMBEDDINGS, EP_RESPONSES])('endpoint %i is not served', (ep) => {
    expect(GEMINI.route(ep, { prefix: '', query: '', model: 'm' })).toBeNull();
  });

  it('credentials: x-goog-api-key; auth: {query: key} puts the key in the URL', () => {
    expect(authPlacement('gemini')).toEqual({ kind: 'header', name: 'x-goog-api-key', valuePrefix: '' });
    const p = provider({ name: 'g', type: 'gemini', baseUrl: 'https://x', apiKeyEnv: 'GK' });
    expect(setupProvider(p, { GK: 'k' })).toMatchObject({ credentials: ['x-goog-api-key', 'k'], query: '', ownsCredentials: true });
    const q = provider({ ...p, options: { auth: { kind: 'query', name: 'key' } } });
    expect(setupProvider(q, { GK: 'k/1' })).toMatchObject({ credentials: null, query: '?key=k%2F1', ownsCredentials: true });
  });
});

describe('through the modules to the simulated Gemini API', () => {
  let sim: GeminiSim;
  const env = { GEMINI_API_KEY: 'gem-key' };
  let gem: ReturnType<typeof provider>;
  beforeAll(async () => {
    sim = await startGeminiSim({ apiKey: 'gem-key', models: ['gemini-2.5-flash'] });
    gem = provider({ name: 'gemini', type: 'gemini', baseUrl: sim.url, apiKeyEnv: 'GEMINI_API_KEY' });
  });
  afterAll(() => sim.close());

  const msgs = [
    { role: 'system', content: 'Answer in French.' },
    { role: 'user', content: 'hello' },
  ];

  it('chat (JSON): path, key header, body in Gemini form, answer translated', async () => {
    const r = await callThroughModules(
      gem,
      'gemini-2.5-flash',
      '/v1/chat/completions',
      { model: 'vm', messages: msgs, max_tokens: 30, top_p: 0.9 },
      env,
    );
    const seen = sim.requests.at(-1)!;
    expect(seen.violation).toBeNull();
    expect(r.status).toBe(200);
    expect(seen.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent');
    expect(seen.headers['x-goog-api-key']).toBe('gem-key');
    expect(seen.json).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'hello' }] }],
      systemInstruction: { parts: [{ text: 'Answer in French.' }] },
      generationConfig: { maxOutputTokens: 30, topP: 0.9 },
    });
    expect(r.json).toMatchObject({
      choices: [{ message: { content: 'sim:gemini model=gemini-2.5-flash' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 },
    });
  });

  it('chat (stream, alt=sse with CRLF events) and a usage chunk', async () => {
    sim.setReply(() => ({ text: 'Bonjour tout le monde', chunks: 4, usage: { input: 2, output: 5 } }));
    const r = await callThroughModules(
      gem,
      'gemini-2.5-flash',
      '/v1/chat/completions',
      { model: 'vm', messages: msgs, stream: true, stream_options: { include_usage: true } },
      env,
    );
    expect(sim.requests.at(-1)!.rawQuery).toBe('alt=sse');
    expect(openaiStreamText(r.events)).toBe('Bonjour tout le monde');
    expect(openaiChunks(r.events).at(-1)!.usage).toEqual({ prompt_tokens: 2, completion_tokens: 5, total_tokens: 7 });
    sim.setReply(() => ({}));
  });

  it('tools: function declarations (schema reduced to Gemini’s subset), function calls get minted call_ ids, results go back by name', async () => {
    const parameters = {
      type: 'object',
      additionalProperties: false,
      $schema: 'http://json-schema.org/draft-07/schema#',
      properties: { city: { type: 'string', description: 'city name' }, days: { type: ['integer', 'null'] } },
      required: ['city'],
    };
    sim.setReply(() => ({ toolCalls: [{ name: 'get_weather', args: { city: 'Lyon' } }] }));
    const r = await callThroughModules(
      gem,
      'gemini-2.5-flash',
      '/v1/chat/completions',
      {
        model: 'vm',
        messages: msgs,
        tools: [{ type: 'function', function: { name: 'get_weather', parameters } }],
        tool_choice: { type: 'function', function: { name: 'get_weather' } },
      },
      env,
    );
    const seen = sim.requests.at(-1)!;
    expect(seen.violation).toBeNull();
    expect(seen.json!.tools).toEqual([
      {
        functionDeclarations: [
          {
            name: 'get_weather',
            parameters: {
              type: 'object',
              properties: { city: { type: 'string', description: 'city name' }, days: { type: 'integer', nullable: true } },
              required: ['city'],
            },
          },
        ],
      },
    ]);
    expect(seen.json!.toolConfig).toEqual({ functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['get_weather'] } });
    const call = r.json!.choices[0].message.tool_calls[0];
    expect(call.id).toMatch(/^call_[A-Za-z0-9]{20,}$/);
    expect(call.function).toEqual({ name: 'get_weather', arguments: '{"city":"Lyon"}' });
    expect(r.json!.choices[0].finish_reason).toBe('tool_calls');

    sim.setReply(() => ({ text: 'Il fait beau.' }));
    const history = [
      ...msgs,
      { role: 'assistant', content: null, tool_calls: [{ id: call.id, type: 'function', function: call.function }] },
      { role: 'tool', tool_call_id: call.id, content: '{"sky":"clear"}' },
    ];
    const r2 = await callThroughModules(gem, 'gemini-2.5-flash', '/v1/chat/completions', { model: 'vm', messages: history }, env);
    expect(sim.requests.at(-1)!.violation).toBeNull();
    expect(r2.status).toBe(200);
    expect(sim.requests.at(-1)!.json!.contents).toEqual([
      { role: 'user', parts: [{ text: 'hello' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Lyon' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { content: '{"sky":"clear"}' } } }] },
    ]);
    sim.setReply(() => ({}));
  });

  it('streamed function calls become tool_calls chunks with minted ids', async () => {
    sim.setReply(() => ({
      text: 'Checking.',
      toolCalls: [
        { name: 'a', args: { x: 1 } },
        { name: 'b', args: {} },
      ],
    }));
    const r = await callThroughModules(gem, 'gemini-2.5-flash', '/v1/chat/completions', { model: 'vm', messages: msgs, stream: true }, env);
    const calls = openaiChunks(r.events).flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
    expect(calls.filter((c: any) => c.id).map((c: any) => [c.index, c.function.name, c.id.startsWith('call_')])).toEqual([
      [0, 'a', true],
      [1, 'b', true],
    ]);
    expect(openaiChunks(r.events).find((c) => c.choices[0]?.finish_reason)!.choices[0].finish_reason).toBe('tool_calls');
    sim.setReply(() => ({}));
  });

  it('an Anthropic client (messages) with an inline image, JSON and stream', async () => {
    const content = [
      { type: 'image', source: { type: 'base64', media_type: 'image/jpeg', data: '/9j/4AAQ' } },
      { type: 'text', text: 'describe' },
    ];
    const r = await callThroughModules(
      gem,
      'gemini-2.5-flash',
      '/v1/messages',
      { model: 'vm', max_tokens: 10, messages: [{ role: 'user', content }] },
      env,
    );
    expect(r.status).toBe(200);
    expect(sim.requests.at(-1)!.json!.contents).toEqual([
      { role: 'user', parts: [{ inlineData: { mimeType: 'image/jpeg', data: '/9j/4AAQ' } }, { text: 'describe' }] },
    ]);
    expect(r.json).toMatchObject({
      type: 'message',
      content: [{ type: 'text', text: 'sim:gemini model=gemini-2.5-flash' }],
      stop_reason: 'end_turn',
    });
    const s = await callThroughModules(
      gem,
      'gemini-2.5-flash',
      '/v1/messages',
      { model: 'vm', max_tokens: 10, stream: true, messages: [{ role: 'user', content: 'hi' }] },
      env,
    );
    expect(anthropicStreamText(s.events)).toBe('sim:gemini model=gemini-2.5-flash');
  });

  it('MAX_TOKENS → length; Gemini errors → the SPEC §3 envelope with Google’s message', async () => {
    sim.setReply(() => ({ text: 'cut', finish: 'length' }));
    const r = await callThroughModules(gem, 'gemini-2.5-flash', '/v1/chat/completions', { model: 'vm', messages: msgs }, env);
    expect(r.json!.choices[0].finish_reason).toBe('length');
    sim.setReply(() => ({ errorStatus: 429, errorMessage: 'Resource has been exhausted (e.g. check quota).' }));
    const e = await callThroughModules(
      gem,
      'gemini-2.5-flash',
      '/v1/messages',
      { model: 'vm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] },
      env,
    );
    expect(e.status).toBe(429);
    expect(e.json).toMatchObject({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'Resource has been exhausted (e.g. check quota).', provider: 'gemini' },
    });
    sim.setReply(() => ({}));
    const bad = await callThroughModules(
      gem,
      'gemini-2.5-flash',
      '/v1/chat/completions',
      { model: 'vm', messages: msgs },
      { GEMINI_API_KEY: 'nope' },
    );
    expect(bad.status).toBe(400);
    expect(bad.json!.error.message).toContain('API key not valid');
  });
});
