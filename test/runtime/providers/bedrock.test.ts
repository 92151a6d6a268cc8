/**
 * Provider type `bedrock` (runtime/providers/bedrock.ts, aws-sigv4.ts): the Converse URL rule
 * with model ids encoded as the AWS SDK encodes them, SigV4 with AWS's libraries, and calls
 * through the modules to the simulated Bedrock runtime (bench/sim/clouds/bedrock.ts), which
 * recomputes the signature, speaks AWS event-stream and validates Converse bodies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBedrockSim, type BedrockSim } from '../../../bench/sim/clouds/bedrock.js';
import { awsCredentialsFromEnv } from '../../../runtime/providers/aws-sigv4.js';
import { BEDROCK } from '../../../runtime/providers/bedrock.js';
import { authPlacement, setupProvider } from '../../../runtime/providers/credentials.js';
import { EP_CHAT, EP_COMPLETIONS, EP_EMBEDDINGS, EP_MESSAGES, EP_RESPONSES } from '../../../runtime/table/endpoints.js';
import type { NormProviderOptions } from '../../../runtime/table/normalized.js';
import { DEFAULT_AWS_CREDENTIALS_ENV } from '../../../runtime/table/provider-types.js';
import { TranslationError, XLATE_CHAT_TO_BEDROCK, XLATE_MESSAGES_TO_BEDROCK } from '../../../runtime/wire/translate.js';
import { anthropicStreamText, callThroughModules, header, openaiChunks, openaiStreamText, provider } from './cloud-call.js';

const CLAUDE = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const LLAMA = 'meta.llama3-1-70b-instruct-v1:0';

describe('bedrock URL rule (SPEC §13)', () => {
  it('chat and messages → /model/{id}/converse, streams → /converse-stream; the id encoded as the AWS SDK does', () => {
    const t = { prefix: '', query: '', model: CLAUDE };
    expect(BEDROCK.route(EP_CHAT, t)).toEqual({
      path: '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse',
      streamPath: '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream',
      xlate: XLATE_CHAT_TO_BEDROCK,
    });
    expect(BEDROCK.route(EP_MESSAGES, t)?.xlate).toBe(XLATE_MESSAGES_TO_BEDROCK);
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0';
    expect(BEDROCK.route(EP_CHAT, { ...t, model: arn })?.path).toBe(
      '/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse',
    );
  });

  it.each([
    ['completions', EP_COMPLETIONS],
    ['embeddings', EP_EMBEDDINGS],
    ['responses', EP_RESPONSES],
  ])('%s: not served (the gateway answers 400 when no other target can)', (_n, ep) => {
    expect(BEDROCK.route(ep, { prefix: '', query: '', model: CLAUDE })).toBeNull();
  });

  it('credentials: SigV4 for service bedrock, from AWS_* or the variables of credentials_env', () => {
    expect(authPlacement('bedrock')).toEqual({ kind: 'sigv4', service: 'bedrock' });
    expect(awsCredentialsFromEnv(DEFAULT_AWS_CREDENTIALS_ENV, { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 's' })).toEqual({
      accessKeyId: 'a',
      secretAccessKey: 's',
    });
    const names = { accessKeyId: 'EU_ID', secretAccessKey: 'EU_SECRET', sessionToken: 'EU_TOKEN' };
    expect(awsCredentialsFromEnv(names, { EU_ID: 'a', EU_SECRET: 's', EU_TOKEN: 't' })).toEqual({
      accessKeyId: 'a',
      secretAccessKey: 's',
      sessionToken: 't',
    });
    expect(awsCredentialsFromEnv(names, { EU_ID: 'a' })).toBeNull();
  });

  it('without AWS credentials the gateway still starts: a problem to log, and requests fail with a CredentialsError naming the variables', async () => {
    const p = provider({
      name: 'aws',
      type: 'bedrock',
      baseUrl: 'http://127.0.0.1:9',
      options: { region: 'us-east-1', credentialsEnv: DEFAULT_AWS_CREDENTIALS_ENV },
    });
    const s = setupProvider(p, {});
    expect(s.problem).toContain('AWS_ACCESS_KEY_ID');
    expect(s.ownsCredentials).toBe(true);
    await expect(
      s.signer!.sign({ method: 'POST', origin: 'http://127.0.0.1:9', path: '/x', headers: [], body: new Uint8Array() }),
    ).rejects.toThrow(/AWS_ACCESS_KEY_ID/);
  });
});

describe('through the modules to the simulated Bedrock (SigV4, event stream)', () => {
  let sim: BedrockSim;
  const creds = { accessKeyId: 'AKIDSIMULATED', secretAccessKey: 'sim/secret+key', sessionToken: 'sim-session-token' };
  const env = { AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey, AWS_SESSION_TOKEN: creds.sessionToken };
  let aws: ReturnType<typeof provider>;
  const options: NormProviderOptions = { region: 'us-east-1', credentialsEnv: DEFAULT_AWS_CREDENTIALS_ENV };
  beforeAll(async () => {
    sim = await startBedrockSim({ region: 'us-east-1', credentials: creds, models: [CLAUDE, LLAMA] });
    aws = provider({ name: 'aws', type: 'bedrock', baseUrl: sim.url, options });
  });
  afterAll(() => sim.close());

  const msgs = [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: 'hi' },
  ];

  it('chat (JSON): signed request, Converse body without model, answer translated', async () => {
    const r = await callThroughModules(
      aws,
      CLAUDE,
      '/v1/chat/completions',
      { model: 'vm', messages: msgs, max_tokens: 64, temperature: 0.5, stop: 'END' },
      env,
      {
        clientHeaders: ['authorization', 'Bearer client-key', 'user-agent', 'OpenAI/JS 6'],
      },
    );
    const seen = sim.requests.at(-1)!;
    expect(seen.violation).toBeNull();
    expect(r.status).toBe(200);
    expect(seen.path).toBe('/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse');
    expect(seen.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDSIMULATED\/\d{8}\/us-east-1\/bedrock\/aws4_request, /);
    expect(seen.headers['x-amz-security-token']).toBe('sim-session-token');
    expect(seen.json).toEqual({
      messages: [{ role: 'user', content: [{ text: 'hi' }] }],
      system: [{ text: 'You are terse.' }],
      inferenceConfig: { maxTokens: 64, temperature: 0.5, stopSequences: ['END'] },
    });
    expect(r.json).toMatchObject({
      object: 'chat.completion',
      model: CLAUDE,
      choices: [{ message: { role: 'assistant', content: `sim:bedrock model=${CLAUDE}` }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 11, completion_tokens: 6, total_tokens: 17 },
    });
  });

  it('chat (stream): ConverseStream event-stream frames become chunks, usage included when asked', async () => {
    sim.setReply(() => ({ text: 'Streaming from Bedrock', chunks: 5, usage: { input: 3, output: 4 } }));
    const r = await callThroughModules(
      aws,
      LLAMA,
      '/v1/chat/completions',
      { model: 'vm', messages: msgs, stream: true, stream_options: { include_usage: true } },
      env,
    );
    expect(sim.requests.at(-1)!.path).toBe('/model/meta.llama3-1-70b-instruct-v1%3A0/converse-stream');
    expect(r.status).toBe(200);
    expect(r.contentType).toBe('application/vnd.amazon.eventstream');
    expect(openaiStreamText(r.events)).toBe('Streaming from Bedrock');
    const chunks = openaiChunks(r.events);
    expect(chunks.find((c) => c.choices[0]?.finish_reason)!.choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
    expect(r.events.at(-1)!.data).toBe('[DONE]');
    sim.setReply(() => ({}));
  });

  it('tools: definitions become toolConfig; a streamed toolUse becomes tool_calls; the history gets a toolConfig even without tools', async () => {
    const tools = [
      {
        type: 'function',
        function: { name: 'get_weather', description: 'w', parameters: { type: 'object', properties: { city: { type: 'string' } } } },
      },
    ];
    sim.setReply(() => ({ toolCalls: [{ id: 'tooluse_1', name: 'get_weather', args: { city: 'Paris' } }] }));
    const r = await callThroughModules(
      aws,
      CLAUDE,
      '/v1/chat/completions',
      { model: 'vm', messages: msgs, tools, tool_choice: 'required', stream: true },
      env,
    );
    expect(sim.requests.at(-1)!.json!.toolConfig).toEqual({
      tools: [{ toolSpec: { name: 'get_weather', description: 'w', inputSchema: { json: tools[0].function.parameters } } }],
      toolChoice: { any: {} },
    });
    const calls = openaiChunks(r.events).flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
    expect(calls[0]).toMatchObject({ index: 0, id: 'tooluse_1', type: 'function', function: { name: 'get_weather' } });
    expect(calls.map((c: any) => c.function.arguments ?? '').join('')).toBe('{"city":"Paris"}');
    expect(openaiChunks(r.events).find((c) => c.choices[0]?.finish_reason)!.choices[0].finish_reason).toBe('tool_calls');

    sim.setReply(() => ({ text: 'It is sunny.' }));
    const history = [
      ...msgs,
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'tooluse_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      },
      { role: 'tool', tool_call_id: 'tooluse_1', content: 'sunny' },
    ];
    const r2 = await callThroughModules(aws, CLAUDE, '/v1/chat/completions', { model: 'vm', messages: history }, env);
    expect(sim.requests.at(-1)!.violation).toBeNull();
    expect(r2.status).toBe(200);
    const body = sim.requests.at(-1)!.json!;
    expect(body.messages).toEqual([
      { role: 'user', content: [{ text: 'hi' }] },
      { role: 'assistant', content: [{ toolUse: { toolUseId: 'tooluse_1', name: 'get_weather', input: { city: 'Paris' } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 'tooluse_1', content: [{ text: 'sunny' }] } }] },
    ]);
    expect(body.toolConfig).toEqual({
      tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object', properties: {} } } } }],
    });
    expect(r2.json!.choices[0].message.content).toBe('It is sunny.');
    sim.setReply(() => ({}));
  });

  it('an Anthropic client (messages), JSON and stream, with an inline image', async () => {
    const content = [
      { type: 'text', text: 'what is this?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
    ];
    const r = await callThroughModules(
      aws,
      CLAUDE,
      '/v1/messages',
      { model: 'vm', max_tokens: 20, messages: [{ role: 'user', content }] },
      env,
    );
    expect(r.status).toBe(200);
    expect(sim.requests.at(-1)!.json!.messages).toEqual([
      { role: 'user', content: [{ text: 'what is this?' }, { image: { format: 'png', source: { bytes: 'iVBORw0KGgo=' } } }] },
    ]);
    expect(r.json).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: CLAUDE,
      stop_reason: 'end_turn',
      usage: { input_tokens: 11, output_tokens: 6 },
    });
    const s = await callThroughModules(
      aws,
      CLAUDE,
      '/v1/messages',
      { model: 'vm', max_tokens: 20, stream: true, messages: [{ role: 'user', content: 'hi' }] },
      env,
    );
    expect(s.events[0].event).toBe('message_start');
    expect(anthropicStreamText(s.events)).toBe(`sim:bedrock model=${CLAUDE}`);
    expect(JSON.parse(s.events.find((e) => e.event === 'message_delta')!.data)).toMatchObject({
      delta: { stop_reason: 'end_turn' },
      usage: { input_tokens: 11, output_tokens: 6 },
    });
  });

  it('an image URL cannot be sent to Bedrock: a TranslationError (400 for the client)', async () => {
    const content = [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }];
    await expect(
      callThroughModules(aws, CLAUDE, '/v1/chat/completions', { model: 'vm', messages: [{ role: 'user', content }] }, env),
    ).rejects.toThrow(TranslationError);
  });

  it('provider headers and query settings are part of the signed request', async () => {
    const p = provider({ ...aws, options: { ...options, headers: [['x-tenant', '${TENANT}']], query: [['trace', 'a b']] } });
    const r = await callThroughModules(p, CLAUDE, '/v1/chat/completions', { model: 'vm', messages: msgs }, { ...env, TENANT: 'acme' });
    const seen = sim.requests.at(-1)!;
    expect(seen.violation).toBeNull();
    expect(r.status).toBe(200);
    expect(seen.rawQuery).toBe('trace=a%20b');
    expect(seen.headers['x-tenant']).toBe('acme');
    expect(seen.headers.authorization).toMatch(/SignedHeaders=[^,]*x-tenant/);
  });

  it('a wrong secret: the simulator refuses the signature; the client gets 403 in the SPEC §3 envelope with Bedrock’s message', async () => {
    const r = await callThroughModules(
      aws,
      CLAUDE,
      '/v1/chat/completions',
      { model: 'vm', messages: msgs },
      { ...env, AWS_SECRET_ACCESS_KEY: 'wrong' },
    );
    expect(r.status).toBe(403);
    expect(r.json).toEqual({
      error: {
        type: 'permission_error',
        message: 'sim: InvalidSignatureException: The request signature we calculated does not match the signature you provided.',
        code: null,
        param: null,
        provider: 'aws',
        status_code: 403,
      },
    });
    expect(header(r.sent.headers, 'authorization')).toMatch(/^AWS4-HMAC-SHA256/);
  });

  it('Bedrock errors (JSON) and in-stream exceptions reach the client with the provider message', async () => {
    sim.setReply(() => ({ errorStatus: 429, errorMessage: 'Too many requests, please wait before trying again.' }));
    const r = await callThroughModules(aws, CLAUDE, '/v1/chat/completions', { model: 'vm', messages: msgs }, env);
    expect(r.status).toBe(429);
    expect(r.json!.error).toMatchObject({
      type: 'rate_limit_error',
      message: 'Too many requests, please wait before trying again.',
      status_code: 429,
    });
    sim.setReply(() => ({ text: 'partial', midStreamError: { type: 'modelStreamErrorException', message: 'model stream broke' } }));
    const s = await callThroughModules(aws, CLAUDE, '/v1/chat/completions', { model: 'vm', messages: msgs, stream: true }, env);
    expect(openaiStreamText(s.events)).toBe('partial');
    const err = s.events.at(-1)!;
    expect(err.event).toBe('error');
    expect(JSON.parse(err.data).error).toMatchObject({ type: 'server_error', message: 'model stream broke', provider: 'aws' });
    sim.setReply(() => ({}));
  });

  it('a model id the simulator does not encode the AWS way is refused (the check is real)', async () => {
    const before = sim.requests.length;
    const p = provider({ ...aws });
    const setup = setupProvider(p, env);
    const path = '/model/anthropic.claude-3-5-sonnet-20240620-v1:0/converse';
    const body = Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'x' }] }] }));
    const headers = await setup.signer!.sign({
      method: 'POST',
      origin: sim.url,
      path,
      headers: ['content-type', 'application/json'],
      body,
    });
    const res = await fetch(sim.url + path, { method: 'POST', headers: Object.fromEntries(pairs(headers)), body });
    expect(res.status).toBe(400);
    expect(sim.requests.length).toBe(before + 1);
    expect(sim.requests.at(-1)!.violation).toContain('not encoded as the AWS SDK encodes it');
  });
});

function pairs(flat: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) if (flat[i] !== 'host') out.push([flat[i], flat[i + 1]]);
  return out;
}
