/**
 * The SPEC §13 provider types end to end (issue 11): the official `openai` SDK on
 * /v1/chat/completions and `@anthropic-ai/sdk` on /v1/messages, streaming and not, through a
 * real gateway to the simulated clouds (bench/sim/clouds/) — Azure OpenAI (classic deployment
 * API and the v1 API), Bedrock (SigV4 recomputed by the simulator, AWS event stream), Gemini,
 * Vertex AI (OAuth token from the service account's token_uri, cached and refreshed). Each
 * test checks the answer the SDK sees (text, tool calls, stop reasons, usage) and, on the
 * simulator's side, the exact URL, query, headers and body.
 *
 * Around them: endpoints a type does not offer (400 saying so), `/v1/models` provider types,
 * missing credentials (502 naming the variable, not counted against the target, fallback),
 * the `${ENV}` start-up and reload checks, and — over every run of this file — that no secret
 * (API keys, the AWS secret and session token, the service account's private key, access
 * tokens, assertions) reaches the gateway's logs or the bodies its clients got.
 */
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzureSim, type AzureSim } from '../../bench/sim/clouds/azure.js';
import { startBedrockSim, type BedrockSim } from '../../bench/sim/clouds/bedrock.js';
import type { CloudRequest, CloudServer } from '../../bench/sim/clouds/common.js';
import { startGeminiSim, type GeminiSim } from '../../bench/sim/clouds/gemini.js';
import { startVertexSim, type VertexSim } from '../../bench/sim/clouds/vertex.js';
import { buildTableFromYaml } from '../../compiler/testing.js';
import { closeAll, post, startGateway, type Gateway } from './harness.js';

const CLAUDE = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const GEMINI = 'gemini-2.5-flash';

/** Secret values: none may appear in a log line or in what a client receives. */
const SECRETS = {
  VMC_T_AZURE_KEY: 'azure-secret-5b1f0e77',
  VMC_T_GEMINI_KEY: 'gemini-secret-93ad7c21',
  VMC_T_AWS_ID: 'AKIDVMCCLOUDTEST',
  VMC_T_AWS_SECRET: 'aws/secret+key-0c4e19f7',
  VMC_T_AWS_TOKEN: 'aws-session-token-77d2ab',
  VMC_T_TENANT: 'tenant-secret-3a8e6c',
};
/** Everything the clients of this file received (bodies as text), for the secrets check. */
const received: string[] = [];

let azure: AzureSim;
let bedrock: BedrockSim;
let gemini: GeminiSim;
let vertex: VertexSim;
let gw: Gateway;
let openai: OpenAI;
let anthropic: Anthropic;

/** A client fetch that keeps every body it received (the SDKs use it). */
const recordingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const [a, b] = res.body === null ? [null, null] : res.body.tee();
  if (a !== null) void new Response(a).text().then((t) => received.push(t));
  return new Response(b, { status: res.status, statusText: res.statusText, headers: res.headers });
};

function yaml(): string {
  return `version: 1
providers:
  az:
    type: azure
    base_url: ${azure.url}
    api_version: "2024-10-21"
    api_key_env: VMC_T_AZURE_KEY
    deployments: { gpt-4o: gpt4o-prod }
    models: [gpt-4o, text-embedding-3-small]
  az1:
    type: azure
    base_url: ${azure.url}/openai/v1
    api_key_env: VMC_T_AZURE_KEY
    models: [gpt4o-prod]
  aws:
    type: bedrock
    region: us-east-1
    credentials_env: { access_key_id: VMC_T_AWS_ID, secret_access_key: VMC_T_AWS_SECRET, session_token: VMC_T_AWS_TOKEN }
    headers: { x-tenant: "\${VMC_T_TENANT}" }
    query: { trace: "on" }
    models: ["${CLAUDE}"]
  gem:
    type: gemini
    base_url: ${gemini.url}
    api_key_env: VMC_T_GEMINI_KEY
    models: [${GEMINI}]
  gcp:
    type: vertex
    project: acme-ml
    location: us-central1
    credentials_file_env: VMC_T_VERTEX_SA
    models: [${GEMINI}]
settings: { passthrough: true }
virtual_models:
  azure-chat: { target: az/gpt-4o }
  azure-v1-chat: { target: az1/gpt4o-prod }
  azure-embed: { target: az/text-embedding-3-small }
  bedrock-chat: { target: "aws/${CLAUDE}" }
  bedrock-slow-retry:
    targets: [{ target: "aws/${CLAUDE}", retry: { attempts: 2, delay_ms: 1100, on_status: [503] } }]
  gemini-chat: { target: gem/${GEMINI} }
  vertex-chat: { target: gcp/${GEMINI} }
  google-pair:
    strategy: priority
    targets:
      - { target: gem/${GEMINI}, priority: 0, retry: { attempts: 1 } }
      - { target: gcp/${GEMINI}, priority: 1, retry: { attempts: 1 } }
`;
}

beforeAll(async () => {
  [azure, bedrock, gemini, vertex] = await Promise.all([
    startAzureSim({ apiKey: SECRETS.VMC_T_AZURE_KEY, apiVersion: '2024-10-21', deployments: ['gpt4o-prod', 'text-embedding-3-small'] }),
    startBedrockSim({
      region: 'us-east-1',
      credentials: { accessKeyId: SECRETS.VMC_T_AWS_ID, secretAccessKey: SECRETS.VMC_T_AWS_SECRET, sessionToken: SECRETS.VMC_T_AWS_TOKEN },
      models: [CLAUDE],
    }),
    startGeminiSim({ apiKey: SECRETS.VMC_T_GEMINI_KEY, models: [GEMINI] }),
    // tokens live 302 s; the gateway refreshes 300 s before expiry: a token is reused for ~2 s
    startVertexSim({ project: 'acme-ml', location: 'us-central1', models: [GEMINI], tokenLifetimeS: 302 }),
  ]);
  Object.assign(process.env, SECRETS, { VMC_T_VERTEX_SA: vertex.serviceAccountFile() });
  gw = await startGateway(yaml(), {
    // bedrock and vertex default to their public endpoints: `vmc serve --provider-url`
    providerUrls: new Map([
      ['aws', bedrock.url],
      ['gcp', vertex.url],
    ]),
  });
  openai = new OpenAI({ baseURL: gw.url + '/v1', apiKey: 'client-openai-key', maxRetries: 0, fetch: recordingFetch });
  anthropic = new Anthropic({ baseURL: gw.url, apiKey: 'client-anthropic-key', maxRetries: 0, fetch: recordingFetch });
});

afterAll(async () => {
  await closeAll(gw, azure, bedrock, gemini, vertex);
  for (const k of [...Object.keys(SECRETS), 'VMC_T_VERTEX_SA']) delete process.env[k];
});

/** The last request a simulator accepted (fails on a wire-format violation, with the simulator's reason). */
function last(sim: CloudServer, path?: RegExp): CloudRequest {
  const r = path === undefined ? sim.requests.at(-1) : sim.requests.filter((q) => path.test(q.path)).at(-1);
  expect(r, 'the simulator saw the request').toBeDefined();
  expect(r!.violation).toBeNull();
  return r!;
}

const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

/** Reads an OpenAI stream: text, tool calls, finish reason, usage. */
async function readChatStream(stream: AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) {
  let text = '';
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | null = null;
  const tools: { id: string; name: string; args: string }[] = [];
  for await (const c of stream) {
    const choice = c.choices[0];
    text += choice?.delta?.content ?? '';
    finish = choice?.finish_reason ?? finish;
    for (const t of choice?.delta?.tool_calls ?? []) {
      tools[t.index] ??= { id: '', name: '', args: '' };
      if (t.id) tools[t.index].id = t.id;
      if (t.function?.name) tools[t.index].name += t.function.name;
      tools[t.index].args += t.function?.arguments ?? '';
    }
    if (c.usage) usage = c.usage;
  }
  return { text, finish, usage, tools };
}

describe('azure (SPEC §13): deployment URLs with api-version, the api-key header', () => {
  it('openai SDK, chat: /openai/deployments/{deployment}/chat/completions?api-version=V, the client key not forwarded', async () => {
    const { data, response } = await openai.chat.completions
      .create({ model: 'azure-chat', messages: [{ role: 'user', content: 'hi' }], temperature: 0.3 })
      .withResponse();
    const seen = last(azure);
    expect(seen.path).toBe('/openai/deployments/gpt4o-prod/chat/completions');
    expect(seen.rawQuery).toBe('api-version=2024-10-21');
    expect(seen.headers['api-key']).toBe(SECRETS.VMC_T_AZURE_KEY);
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers['content-type']).toBe('application/json');
    expect(seen.json).toEqual({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], temperature: 0.3 });
    expect(data.choices[0].message.content).toBe('sim:azure deployment=gpt4o-prod');
    expect(data.choices[0].finish_reason).toBe('stop');
    expect(data.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 });
    expect(response.headers.get('x-vmc-target')).toBe('az/gpt-4o');
  });

  it('openai SDK, streaming with include_usage and tools: tool-call deltas, finish tool_calls, a usage chunk', async () => {
    azure.setReply(() => ({ text: 'checking', toolCalls: [{ id: 'call_az1', name: 'get_weather', args: { city: 'Paris' } }] }));
    try {
      const stream = await openai.chat.completions.create({
        model: 'azure-chat',
        messages: [{ role: 'user', content: 'weather?' }],
        tools: [weatherTool],
        stream: true,
        stream_options: { include_usage: true },
      });
      const r = await readChatStream(stream);
      expect(r.text).toBe('checking');
      expect(r.tools).toEqual([{ id: 'call_az1', name: 'get_weather', args: '{"city":"Paris"}' }]);
      expect(r.finish).toBe('tool_calls');
      expect(r.usage).toMatchObject({ prompt_tokens: 7, completion_tokens: 5 });
      const seen = last(azure);
      expect(seen.json).toMatchObject({ stream: true, stream_options: { include_usage: true }, tools: [weatherTool] });
    } finally {
      azure.setReply(() => ({}));
    }
  });

  it("Azure's v1 API: OpenAI paths under /openai/v1, the deployment in the body's model, no api-version", async () => {
    const r = await openai.chat.completions.create({ model: 'azure-v1-chat', messages: [{ role: 'user', content: 'hi' }] });
    const seen = last(azure);
    expect(seen.path).toBe('/openai/v1/chat/completions');
    expect(seen.rawQuery).toBe('');
    expect(seen.json!.model).toBe('gpt4o-prod');
    expect(seen.headers['api-key']).toBe(SECRETS.VMC_T_AZURE_KEY);
    expect(r.choices[0].message.content).toBe('sim:azure deployment=gpt4o-prod');
  });

  it('embeddings: /openai/deployments/{deployment}/embeddings', async () => {
    const r = await openai.embeddings.create({ model: 'azure-embed', input: ['a', 'bb'], encoding_format: 'float' });
    expect(r.data.map((d) => d.embedding[0])).toEqual([1, 2]);
    const seen = last(azure);
    expect(seen.path).toBe('/openai/deployments/text-embedding-3-small/embeddings');
    expect(seen.rawQuery).toBe('api-version=2024-10-21');
  });

  it('anthropic SDK on /v1/messages, streaming and not: translated to chat and back', async () => {
    const m = await anthropic.messages.create({
      model: 'azure-chat',
      max_tokens: 50,
      system: 'be brief',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const seen = last(azure);
    expect(seen.path).toBe('/openai/deployments/gpt4o-prod/chat/completions');
    expect(seen.headers['x-api-key']).toBeUndefined();
    expect(seen.json).toMatchObject({
      model: 'gpt-4o',
      max_tokens: 50,
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hi' },
      ],
    });
    expect(m.content).toEqual([{ type: 'text', text: 'sim:azure deployment=gpt4o-prod' }]);
    expect(m.stop_reason).toBe('end_turn');
    expect(m.usage).toMatchObject({ input_tokens: 7, output_tokens: 5 });
    const stream = anthropic.messages.stream({ model: 'azure-chat', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] });
    const final = await stream.finalMessage();
    expect(final.content).toEqual([{ type: 'text', text: 'sim:azure deployment=gpt4o-prod' }]);
    expect(final.stop_reason).toBe('end_turn');
  });

  it('/v1/responses is not offered by the classic API: 400 saying so', async () => {
    const r = await post(gw.url + '/v1/responses', { model: 'azure-chat', input: 'hi' });
    received.push(r.text);
    expect(r.status).toBe(400);
    expect(r.json.error.type).toBe('invalid_request_error');
    expect(r.json.error.message).toBe(
      "model 'azure-chat' has no target that serves /v1/responses (az/gpt-4o: provider type azure does not offer /v1/responses)",
    );
  });
});

describe('bedrock (SPEC §13): Converse, SigV4, AWS event stream', () => {
  const CLAUDE_PATH = '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0';

  it('openai SDK, chat: /converse signed with SigV4 (provider headers and query signed too), Converse body, answer translated', async () => {
    const r = await openai.chat.completions.create({
      model: 'bedrock-chat',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'hi' },
      ],
      max_tokens: 64,
      temperature: 0.5,
      top_p: 0.9,
      stop: ['END'],
    });
    const seen = last(bedrock);
    expect(seen.path).toBe(`${CLAUDE_PATH}/converse`);
    expect(seen.rawQuery).toBe('trace=on');
    expect(seen.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDVMCCLOUDTEST\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=[^,]*\bx-tenant\b[^,]*, Signature=[0-9a-f]{64}$/,
    );
    expect(seen.headers['x-amz-security-token']).toBe(SECRETS.VMC_T_AWS_TOKEN);
    expect(seen.headers['x-tenant']).toBe(SECRETS.VMC_T_TENANT);
    expect(seen.headers.host).toBe(new URL(bedrock.url).host);
    // the client's format headers are not the upstream's
    expect(seen.headers.accept).toBeUndefined();
    expect(seen.json).toEqual({
      messages: [{ role: 'user', content: [{ text: 'hi' }] }],
      system: [{ text: 'You are terse.' }],
      inferenceConfig: { maxTokens: 64, temperature: 0.5, topP: 0.9, stopSequences: ['END'] },
    });
    expect(r.model).toBe(CLAUDE);
    expect(r.choices[0].message).toMatchObject({ role: 'assistant', content: `sim:bedrock model=${CLAUDE}` });
    expect(r.choices[0].finish_reason).toBe('stop');
    expect(r.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 6, total_tokens: 17 });
  });

  it('openai SDK, streaming with include_usage: /converse-stream, event-stream frames become chat chunks', async () => {
    bedrock.setReply(() => ({ text: 'streamed from Bedrock', chunks: 4, usage: { input: 21, output: 8 } }));
    try {
      const stream = await openai.chat.completions.create({
        model: 'bedrock-chat',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        stream_options: { include_usage: true },
      });
      const r = await readChatStream(stream);
      expect(last(bedrock).path).toBe(`${CLAUDE_PATH}/converse-stream`);
      expect(r.text).toBe('streamed from Bedrock');
      expect(r.finish).toBe('stop');
      expect(r.usage).toMatchObject({ prompt_tokens: 21, completion_tokens: 8, total_tokens: 29 });
    } finally {
      bedrock.setReply(() => ({}));
    }
  });

  it('anthropic SDK, streaming tool use, then the tool result without tools (a toolConfig derived from the history)', async () => {
    bedrock.setReply(() => ({ text: '', toolCalls: [{ id: 'tooluse_1', name: 'get_weather', args: { city: 'Oslo' } }] }));
    try {
      const stream = anthropic.messages.stream({
        model: 'bedrock-chat',
        max_tokens: 100,
        tools: [
          { name: 'get_weather', description: 'Weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
        ],
        messages: [{ role: 'user', content: 'weather in Oslo?' }],
      });
      const m = await stream.finalMessage();
      expect(last(bedrock).path).toBe(`${CLAUDE_PATH}/converse-stream`);
      expect(m.stop_reason).toBe('tool_use');
      expect(m.content).toEqual([{ type: 'tool_use', id: 'tooluse_1', name: 'get_weather', input: { city: 'Oslo' } }]);
      expect(last(bedrock).json!.toolConfig).toEqual({
        tools: [
          {
            toolSpec: {
              name: 'get_weather',
              description: 'Weather',
              inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } },
            },
          },
        ],
      });
      bedrock.setReply(() => ({ text: 'Sunny in Oslo.' }));
      const after = await anthropic.messages.create({
        model: 'bedrock-chat',
        max_tokens: 100,
        messages: [
          { role: 'user', content: 'weather in Oslo?' },
          { role: 'assistant', content: [{ type: 'tool_use', id: 'tooluse_1', name: 'get_weather', input: { city: 'Oslo' } }] },
          { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'tooluse_1', content: 'sunny' }] },
        ],
      });
      const seen = last(bedrock);
      expect(seen.path).toBe(`${CLAUDE_PATH}/converse`);
      expect(seen.json!.toolConfig).toMatchObject({ tools: [{ toolSpec: { name: 'get_weather' } }] });
      expect(after.content).toEqual([{ type: 'text', text: 'Sunny in Oslo.' }]);
      expect(after.stop_reason).toBe('end_turn');
      expect(after.usage).toMatchObject({ input_tokens: 11, output_tokens: 6 });
    } finally {
      bedrock.setReply(() => ({}));
    }
  });

  it('stop reasons: max_tokens → length (OpenAI) / max_tokens (Anthropic)', async () => {
    bedrock.setReply(() => ({ text: 'cut', finish: 'length' }));
    try {
      const r = await openai.chat.completions.create({ model: 'bedrock-chat', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 });
      expect(r.choices[0].finish_reason).toBe('length');
      const m = await anthropic.messages.create({ model: 'bedrock-chat', max_tokens: 1, messages: [{ role: 'user', content: 'hi' }] });
      expect(m.stop_reason).toBe('max_tokens');
    } finally {
      bedrock.setReply(() => ({}));
    }
  });

  it('every attempt is signed afresh: a retry a second later carries its own x-amz-date, and verifies', async () => {
    let n = 0;
    bedrock.setReply(() => (n++ === 0 ? { errorStatus: 503, errorMessage: 'busy' } : {}));
    try {
      const before = bedrock.requests.length;
      const res = await post(gw.url + '/v1/chat/completions', { model: 'bedrock-slow-retry', messages: [{ role: 'user', content: 'hi' }] });
      received.push(res.text);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-vmc-attempts')).toBe('2');
      const tries = bedrock.requests.slice(before);
      expect(tries.map((t) => [t.status, t.violation])).toEqual([
        [503, null],
        [200, null],
      ]);
      expect(tries[1].headers['x-amz-date']).not.toBe(tries[0].headers['x-amz-date']);
      expect(tries[1].headers.authorization).not.toBe(tries[0].headers.authorization);
    } finally {
      bedrock.setReply(() => ({}));
    }
  });

  it('an error is answered with its status in the SPEC §3 envelope, the provider’s message in error.message', async () => {
    bedrock.setReply(() => ({ errorStatus: 400, errorMessage: 'Malformed input request: extraneous key' }));
    try {
      const err = await openai.chat.completions
        .create({ model: 'bedrock-chat', messages: [{ role: 'user', content: 'hi' }] })
        .catch((e) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      expect(err.status).toBe(400);
      expect(err.error).toMatchObject({
        message: 'Malformed input request: extraneous key',
        type: 'invalid_request_error',
        provider: 'aws',
      });
    } finally {
      bedrock.setReply(() => ({}));
    }
  });

  it('/v1/embeddings is not offered: 400 invalid_request_error saying so (the SDK raises BadRequestError)', async () => {
    const err = await openai.embeddings.create({ model: 'bedrock-chat', input: 'x' }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err.error).toMatchObject({
      type: 'invalid_request_error',
      message: `model 'bedrock-chat' has no target that serves /v1/embeddings (aws/${CLAUDE}: provider type bedrock does not offer /v1/embeddings)`,
    });
  });

  it('images: a base64 data: URL becomes an image block (Bedrock) and inlineData (Gemini)', async () => {
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex').toString('base64');
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'what is this?' },
          { type: 'image_url', image_url: { url: `data:image/png;base64,${png}` } },
        ],
      },
    ];
    await openai.chat.completions.create({ model: 'bedrock-chat', messages });
    expect(last(bedrock).json!.messages).toEqual([
      { role: 'user', content: [{ text: 'what is this?' }, { image: { format: 'png', source: { bytes: png } } }] },
    ]);
    await openai.chat.completions.create({ model: 'gemini-chat', messages });
    expect(last(gemini).json!.contents).toEqual([
      { role: 'user', parts: [{ text: 'what is this?' }, { inlineData: { mimeType: 'image/png', data: png } }] },
    ]);
  });

  it('content Bedrock cannot take (an image URL): 400 before any attempt', async () => {
    const before = bedrock.requests.length;
    const res = await post(gw.url + '/v1/chat/completions', {
      model: 'bedrock-chat',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }] }],
    });
    received.push(res.text);
    expect(res.status).toBe(400);
    expect(res.json.error.message).toMatch(/bedrock does not fetch image URLs/);
    expect(res.headers.get('x-vmc-attempts')).toBe('0');
    expect(bedrock.requests.length).toBe(before);
  });
});

describe('gemini (SPEC §13): generateContent, the x-goog-api-key header', () => {
  const PATH = `/v1beta/models/${GEMINI}`;

  it('openai SDK, chat: :generateContent, the key in x-goog-api-key, a generateContent body', async () => {
    const r = await openai.chat.completions.create({
      model: 'gemini-chat',
      messages: [
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'hi' },
      ],
      max_tokens: 32,
      temperature: 0.1,
    });
    const seen = last(gemini);
    expect(seen.path).toBe(`${PATH}:generateContent`);
    expect(seen.rawQuery).toBe('');
    expect(seen.headers['x-goog-api-key']).toBe(SECRETS.VMC_T_GEMINI_KEY);
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.json).toEqual({
      contents: [{ role: 'user', parts: [{ text: 'hi' }] }],
      systemInstruction: { parts: [{ text: 'sys' }] },
      generationConfig: { maxOutputTokens: 32, temperature: 0.1 },
    });
    expect(r.choices[0].message.content).toBe(`sim:gemini model=${GEMINI}`);
    expect(r.choices[0].finish_reason).toBe('stop');
    expect(r.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 });
  });

  it('openai SDK, streaming tool calls: ?alt=sse, minted call_ ids, finish tool_calls, usage', async () => {
    gemini.setReply(() => ({ text: '', toolCalls: [{ name: 'get_weather', args: { city: 'Rome' } }] }));
    try {
      const stream = await openai.chat.completions.create({
        model: 'gemini-chat',
        messages: [{ role: 'user', content: 'weather?' }],
        tools: [weatherTool],
        stream: true,
        stream_options: { include_usage: true },
      });
      const r = await readChatStream(stream);
      const seen = last(gemini);
      expect(seen.path).toBe(`${PATH}:streamGenerateContent`);
      expect(seen.rawQuery).toBe('alt=sse');
      expect(seen.json!.tools).toEqual([
        {
          functionDeclarations: [
            {
              name: 'get_weather',
              description: 'Weather in a city',
              parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
            },
          ],
        },
      ]);
      expect(r.tools).toHaveLength(1);
      expect(r.tools[0]).toMatchObject({ name: 'get_weather', args: '{"city":"Rome"}' });
      expect(r.tools[0].id).toMatch(/^call_/);
      expect(r.finish).toBe('tool_calls');
      expect(r.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 4 });
    } finally {
      gemini.setReply(() => ({}));
    }
  });

  it('anthropic SDK, streaming and not', async () => {
    const m = await anthropic.messages.create({ model: 'gemini-chat', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
    expect(last(gemini).path).toBe(`${PATH}:generateContent`);
    expect(m.content).toEqual([{ type: 'text', text: `sim:gemini model=${GEMINI}` }]);
    expect(m.stop_reason).toBe('end_turn');
    expect(m.usage).toMatchObject({ input_tokens: 9, output_tokens: 4 });
    gemini.setReply(() => ({ text: 'a streamed answer', chunks: 3 }));
    try {
      const stream = anthropic.messages.stream({ model: 'gemini-chat', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
      const texts: string[] = [];
      stream.on('text', (t) => texts.push(t));
      const final = await stream.finalMessage();
      expect(last(gemini).rawQuery).toBe('alt=sse');
      expect(texts.join('')).toBe('a streamed answer');
      expect(texts.length).toBeGreaterThan(1);
      expect(final.stop_reason).toBe('end_turn');
      expect(final.usage).toMatchObject({ output_tokens: 4 });
    } finally {
      gemini.setReply(() => ({}));
    }
  });

  it('an error after fallback (both Google targets 429): the last answer, in the client’s envelope', async () => {
    gemini.setReply(() => ({ errorStatus: 429, errorMessage: 'Resource has been exhausted (gemini)' }));
    vertex.setReply(() => ({ errorStatus: 429, errorMessage: 'Resource has been exhausted (vertex)' }));
    try {
      const res = await post(gw.url + '/v1/chat/completions', { model: 'google-pair', messages: [{ role: 'user', content: 'hi' }] });
      received.push(res.text);
      expect(res.status).toBe(429);
      expect(res.headers.get('x-vmc-attempts')).toBe('2');
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.json.error).toMatchObject({
        type: 'rate_limit_error',
        message: 'Resource has been exhausted (vertex)',
        provider: 'gcp',
        status_code: 429,
      });
      const m = await post(gw.url + '/v1/messages', { model: 'google-pair', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
      received.push(m.text);
      expect(m.status).toBe(429);
      expect(m.json).toMatchObject({ type: 'error', error: { type: 'rate_limit_error', message: 'Resource has been exhausted (vertex)' } });
    } finally {
      gemini.setReply(() => ({}));
      vertex.setReply(() => ({}));
    }
  });
});

describe('vertex (SPEC §13): OAuth from the service account’s token_uri, cached and refreshed before expiry', () => {
  const PATH = `/v1/projects/acme-ml/locations/us-central1/publishers/google/models/${GEMINI}`;

  it('openai SDK, chat and stream: the Vertex path, a bearer token from token_uri, the client key not forwarded', async () => {
    const r = await openai.chat.completions.create({ model: 'vertex-chat', messages: [{ role: 'user', content: 'hi' }] });
    const seen = last(vertex, /generateContent$/);
    expect(seen.path).toBe(`${PATH}:generateContent`);
    expect(seen.headers.authorization).toMatch(/^Bearer ya29\.sim-\d+-\d+$/);
    expect(vertex.tokensIssued).toContain(seen.headers.authorization.slice('Bearer '.length));
    expect(last(vertex, /^\/token$/).headers['content-type']).toMatch(/^application\/x-www-form-urlencoded/);
    expect(seen.json).toEqual({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] });
    expect(r.choices[0].message.content).toBe(`sim:vertex model=${GEMINI}`);
    const stream = await openai.chat.completions.create({
      model: 'vertex-chat',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const s = await readChatStream(stream);
    expect(last(vertex, /GenerateContent$/).path).toBe(`${PATH}:streamGenerateContent`);
    expect(last(vertex, /GenerateContent$/).rawQuery).toBe('alt=sse');
    expect(s.text).toBe(`sim:vertex model=${GEMINI}`);
    expect(s.finish).toBe('stop');
  });

  it('anthropic SDK, streaming', async () => {
    const final = await anthropic.messages
      .stream({ model: 'vertex-chat', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] })
      .finalMessage();
    expect(final.content).toEqual([{ type: 'text', text: `sim:vertex model=${GEMINI}` }]);
    expect(final.stop_reason).toBe('end_turn');
  });

  it('the token is cached across requests and refreshed before it expires', async () => {
    const chatOnce = async () => {
      await openai.chat.completions.create({ model: 'vertex-chat', messages: [{ role: 'user', content: 'hi' }] });
      return last(vertex, /generateContent$/).headers.authorization;
    };
    // start from a fresh token, then reuse it
    await new Promise((r) => setTimeout(r, 2100));
    const issued = vertex.tokensIssued.length;
    const t1 = await chatOnce();
    const t2 = await chatOnce();
    expect(t2).toBe(t1);
    expect(vertex.tokensIssued.length).toBe(issued + 1);
    // 302 s lifetime, refreshed 300 s before expiry: after 2 s the next request gets a new token
    await new Promise((r) => setTimeout(r, 2100));
    const t3 = await chatOnce();
    expect(t3).not.toBe(t1);
    expect(vertex.tokensIssued.length).toBe(issued + 2);
    expect(vertex.requests.filter((q) => q.path === '/token').every((q) => q.violation === null)).toBe(true);
  });
});

describe('/v1/models and the provider types', () => {
  it('catalogued models carry provider_type, virtual models provider_types', async () => {
    const res = await fetch(gw.url + '/v1/models');
    const body = (await res.json()) as { data: Record<string, unknown>[] };
    received.push(JSON.stringify(body));
    const byId = new Map(body.data.map((m) => [m.id as string, m]));
    expect(byId.get(`aws/${CLAUDE}`)).toMatchObject({ owned_by: 'aws', provider_type: 'bedrock' });
    expect(byId.get(`gcp/${GEMINI}`)).toMatchObject({ owned_by: 'gcp', provider_type: 'vertex' });
    expect(byId.get('az1/gpt4o-prod')).toMatchObject({ provider_type: 'azure' });
    expect(byId.get('bedrock-chat')).toMatchObject({ owned_by: 'vmc', virtual: true, provider_types: ['bedrock'] });
    expect(byId.get('google-pair')).toMatchObject({ provider_types: ['gemini', 'vertex'] });
  });
});

describe('vmc explain and the provider types (issue 11 item 7)', () => {
  it('each target shows its provider type; an endpoint a type does not offer is refused in the gateway’s own words', async () => {
    const { EXPLAIN_ENDPOINTS, explainRoute, renderExplain } = await import('../../compiler/tools/explain.js');
    const req = { headers: {}, metadata: null, userPath: null, draw: null };
    const ok = explainRoute(gw.server.table, 'google-pair', { ...req, endpoint: EXPLAIN_ENDPOINTS.chat });
    expect(ok.targets.map((t) => [t.target, t.providerType, t.servesEndpoint])).toEqual([
      [`gem/${GEMINI}`, 'gemini', true],
      [`gcp/${GEMINI}`, 'vertex', true],
    ]);
    expect(renderExplain(ok)).toContain(`gem/${GEMINI} (gemini)`);
    const emb = explainRoute(gw.server.table, 'bedrock-chat', { ...req, endpoint: EXPLAIN_ENDPOINTS.embeddings });
    expect(emb.status).toBe('no_target_serves_endpoint');
    expect(emb.httpStatus).toBe(400);
    expect(emb.targets[0]).toMatchObject({
      providerType: 'bedrock',
      servesEndpoint: false,
      unservedReason: 'provider type bedrock does not offer /v1/embeddings',
    });
    const text = renderExplain(emb);
    expect(text).toContain(`aws/${CLAUDE} (bedrock)`);
    expect(text).toContain('skipped: provider type bedrock does not offer /v1/embeddings');
    const res = await post(gw.url + '/v1/embeddings', { model: 'bedrock-chat', input: 'x' });
    received.push(res.text);
    expect(res.json.error.message).toBe(emb.message);
  });
});

describe('credentials the environment lacks', () => {
  it('a provider without credentials: warned at load; its requests 502 naming the variable, never counted; fallback serves', async () => {
    const yaml = `version: 1
providers:
  nosa:
    type: vertex
    project: acme-ml
    location: us-central1
    base_url: ${vertex.url}
    credentials_file_env: VMC_T_VERTEX_SA_UNSET
    models: [${GEMINI}]
  gem:
    type: gemini
    base_url: ${gemini.url}
    api_key_env: VMC_T_GEMINI_KEY
    models: [${GEMINI}]
virtual_models:
  broken: { target: nosa/${GEMINI} }
  rescued:
    strategy: priority
    targets: [{ target: nosa/${GEMINI}, priority: 0 }, { target: gem/${GEMINI}, priority: 1 }]
  kept:
    strategy: priority
    targets: [{ target: gem/${GEMINI}, priority: 0, retry: { attempts: 1 } }, { target: nosa/${GEMINI}, priority: 1 }]
`;
    const g = await startGateway(yaml);
    try {
      expect(g.logs).toContainEqual(
        expect.objectContaining({
          level: 'warn',
          msg: 'provider credentials incomplete',
          provider: 'nosa',
          problem: expect.stringContaining('VMC_T_VERTEX_SA_UNSET'),
        }),
      );
      const before = vertex.requests.length;
      // a config fault, not the target's: many requests never cool the target down (503)
      for (let i = 0; i < 8; i++) {
        const r = await post(g.url + '/v1/chat/completions', { model: 'broken', messages: [{ role: 'user', content: 'hi' }] });
        received.push(r.text);
        expect(r.status).toBe(502);
        expect(r.json.error).toMatchObject({ type: 'provider_error', provider: 'nosa' });
        expect(r.json.error.message).toBe(
          'provider nosa: environment variable VMC_T_VERTEX_SA_UNSET is not set (the path of a service-account JSON file)',
        );
        expect(r.headers.get('x-vmc-attempts')).toBe('0');
        expect(r.headers.get('x-vmc-target')).toBe(`nosa/${GEMINI}`);
      }
      expect(vertex.requests.length).toBe(before);
      const ok = await post(g.url + '/v1/chat/completions', { model: 'rescued', messages: [{ role: 'user', content: 'hi' }] });
      received.push(ok.text);
      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-vmc-target')).toBe(`gem/${GEMINI}`);
      expect(ok.headers.get('x-vmc-attempts')).toBe('1');
      // logged once per target (one per virtual model here), not per request
      const lines = g.logs.filter((l) => l.msg === 'provider credentials unavailable; target skipped' && l.target === `nosa/${GEMINI}`);
      expect(lines).toHaveLength(2);
      // a provider's error kept while falling back (the next target cannot authenticate) is the
      // answer, in the client's envelope (SPEC §3.7, §13)
      gemini.setReply(() => ({ errorStatus: 429, errorMessage: 'Resource has been exhausted (kept)' }));
      try {
        const k = await post(g.url + '/v1/chat/completions', { model: 'kept', messages: [{ role: 'user', content: 'hi' }] });
        received.push(k.text);
        expect(k.status).toBe(429);
        expect(k.headers.get('x-vmc-attempts')).toBe('1');
        expect(k.headers.get('content-type')).toBe('application/json');
        expect(k.json.error).toMatchObject({ type: 'rate_limit_error', message: 'Resource has been exhausted (kept)', provider: 'gem' });
      } finally {
        gemini.setReply(() => ({}));
      }
    } finally {
      received.push(...g.logs.map((l) => JSON.stringify(l)));
      await g.close();
    }
  });

  it('bedrock without AWS credentials: the gateway starts; requests 502 naming the variables, nothing sent unsigned', async () => {
    const g = await startGateway(`version: 1
providers:
  awsx:
    type: bedrock
    region: us-east-1
    base_url: ${bedrock.url}
    credentials_env: { access_key_id: VMC_T_NO_ID, secret_access_key: VMC_T_NO_SECRET }
    models: ["${CLAUDE}"]
virtual_models:
  b: { target: "awsx/${CLAUDE}" }
`);
    try {
      expect(g.logs).toContainEqual(expect.objectContaining({ msg: 'provider credentials incomplete', provider: 'awsx' }));
      const before = bedrock.requests.length;
      const r = await post(g.url + '/v1/chat/completions', { model: 'b', messages: [{ role: 'user', content: 'hi' }] });
      received.push(r.text);
      expect(r.status).toBe(502);
      expect(r.json.error).toMatchObject({ type: 'provider_error', provider: 'awsx' });
      // without the optional AWS credential chain the message says what to set
      expect(r.json.error.message).toMatch(/^provider awsx: .*(VMC_T_NO_ID and VMC_T_NO_SECRET|credential chain)/);
      expect(bedrock.requests.length).toBe(before);
    } finally {
      received.push(...g.logs.map((l) => JSON.stringify(l)));
      await g.close();
    }
  });

  it('a token_uri that refuses the service account: 502 naming the token endpoint, no assertion or key in the answer', async () => {
    const sa = JSON.parse(readFileSync(process.env.VMC_T_VERTEX_SA!, 'utf8')) as Record<string, string>;
    sa.token_uri = `${vertex.url}/not-a-token-endpoint`;
    const dir = mkdtempSync(join(tmpdir(), 'vmc-clouds-'));
    const file = join(dir, 'sa.json');
    writeFileSync(file, JSON.stringify(sa), { mode: 0o600 });
    process.env.VMC_T_VERTEX_SA_BAD = file;
    const g = await startGateway(`version: 1
providers:
  badsa:
    type: vertex
    project: acme-ml
    location: us-central1
    base_url: ${vertex.url}
    credentials_file_env: VMC_T_VERTEX_SA_BAD
    models: [${GEMINI}]
virtual_models:
  v: { target: badsa/${GEMINI} }
`);
    try {
      const r = await post(g.url + '/v1/chat/completions', { model: 'v', messages: [{ role: 'user', content: 'hi' }] });
      received.push(r.text);
      expect(r.status).toBe(502);
      expect(r.json.error.type).toBe('provider_error');
      expect(r.json.error.message).toContain(`no access token from ${vertex.url}/not-a-token-endpoint`);
      expect(r.text).not.toMatch(/eyJ[\w-]{10,}\./); // no JWT assertion
    } finally {
      received.push(...g.logs.map((l) => JSON.stringify(l)));
      await g.close();
      delete process.env.VMC_T_VERTEX_SA_BAD;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unset ${ENV} in headers or query: the gateway does not start, naming provider and variable', async () => {
    const y = `version: 1
providers:
  corp:
    type: openai
    base_url: http://127.0.0.1:9/v1
    headers: { x-tenant: "\${VMC_T_NOT_SET_A}" }
    query: { region: "\${VMC_T_NOT_SET_B}" }
    models: [m]
virtual_models:
  x: { target: corp/m }
`;
    await expect(startGateway(y)).rejects.toThrow(
      'provider corp: environment variable VMC_T_NOT_SET_A is not set; provider corp: environment variable VMC_T_NOT_SET_B is not set',
    );
  });

  it('a reload whose table references an unset ${ENV} is rejected (error log, counted); the previous table stays', async () => {
    const y = `version: 1
providers:
  gem:
    type: gemini
    base_url: ${gemini.url}
    api_key_env: VMC_T_GEMINI_KEY
    headers: { x-goog-user-project: "\${VMC_T_RELOAD_PROJECT}" }
    models: [${GEMINI}]
virtual_models:
  g: { target: gem/${GEMINI} }
`;
    process.env.VMC_T_RELOAD_PROJECT = 'proj-1';
    const g = await startGateway(y);
    try {
      const bytes = await buildTableFromYaml(y.replace('g: {', 'g2: {'));
      delete process.env.VMC_T_RELOAD_PROJECT;
      expect(() => g.server.reload(bytes)).toThrow('provider gem: environment variable VMC_T_RELOAD_PROJECT is not set');
      expect(g.logs).toContainEqual(
        expect.objectContaining({
          level: 'error',
          msg: 'table rejected; the previous table stays in service',
          error: 'provider gem: environment variable VMC_T_RELOAD_PROJECT is not set',
        }),
      );
      expect(await (await fetch(g.url + '/metrics')).text()).toMatch(/^vmc_table_reloads_total\{result="rejected"\} 1$/m);
      const r = await post(g.url + '/v1/chat/completions', { model: 'g', messages: [{ role: 'user', content: 'hi' }] });
      received.push(r.text);
      expect(r.status).toBe(200);
      expect(last(gemini).headers['x-goog-user-project']).toBe('proj-1'); // resolved at load, kept by the generation
    } finally {
      delete process.env.VMC_T_RELOAD_PROJECT;
      await g.close();
    }
  });
});

describe('vmc serve with an unset ${ENV} (SPEC §13: exit 1 naming provider and variable)', () => {
  const ROOT = join(import.meta.dirname, '..', '..');
  /** Newest mtime of a .ts file under `dir`. */
  function newestMtime(dir: string): number {
    let t = 0;
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      const st = statSync(p);
      t = Math.max(t, st.isDirectory() ? newestMtime(p) : name.endsWith('.ts') ? st.mtimeMs : 0);
    }
    return t;
  }

  /**
   * The CLI runs the compiled code in dist/: rebuilt only when a runtime source is newer (as
   * serve-process.test.ts does) — other test files spawn the CLI from dist/ concurrently, so a
   * fresh dist/ is never rewritten under them.
   */
  function ensureBuilt(): void {
    const out = join(ROOT, 'dist', 'runtime', 'server.js');
    if (existsSync(out) && statSync(out).mtimeMs >= Math.max(newestMtime(join(ROOT, 'runtime')), newestMtime(join(ROOT, 'bin')))) return;
    // errors of other work in progress do not stop tsc from emitting; the CLI must exist after
    spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT });
    expect(existsSync(join(ROOT, 'dist', 'bin', 'cli.js'))).toBe(true);
  }

  /** Runs `vmc serve` from dist/ until it exits. */
  function serve(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'bin', 'vmc.js'), 'serve', ...args], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr });
      });
    });
  }

  it('single process and --workers 2: exit 1, one line naming the provider and the variable', async () => {
    ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), 'vmc-serve-env-'));
    try {
      const table = join(dir, 'table.vmct');
      writeFileSync(
        table,
        await buildTableFromYaml(`version: 1
providers:
  corp:
    type: openai
    base_url: http://127.0.0.1:9/v1
    api_key_env: VMC_T_CLI_KEY
    headers: { x-tenant: "\${VMC_T_CLI_TENANT}" }
    models: [m]
virtual_models:
  x: { target: corp/m }
`),
      );
      const env: NodeJS.ProcessEnv = { ...process.env, VMC_LOG: 'silent', VMC_T_CLI_KEY: 'k' };
      delete env.VMC_T_CLI_TENANT;
      const one = await serve(['--table', table, '--port', '0', '--no-watch'], env);
      expect(one.code).toBe(1);
      expect(one.stderr).toContain('provider corp: environment variable VMC_T_CLI_TENANT is not set');
      const two = await serve(['--table', table, '--port', '18931', '--workers', '2', '--no-watch'], env);
      expect(two.code).toBe(1);
      expect(two.stderr).toContain('provider corp: environment variable VMC_T_CLI_TENANT is not set');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 240_000);
});

describe('secrets (SPEC §13: never in logs or error bodies)', () => {
  it('no secret appears in the gateway’s logs or in anything its clients received over this file', () => {
    const sa = JSON.parse(readFileSync(process.env.VMC_T_VERTEX_SA!, 'utf8')) as { private_key: string };
    const keyBody = sa.private_key.split('\n').filter((l) => l !== '' && !l.startsWith('-----'));
    const secrets = [
      ...Object.values(SECRETS),
      ...keyBody.slice(0, 5), // lines of the service account's private key
      ...vertex.tokensIssued,
    ];
    expect(vertex.tokensIssued.length).toBeGreaterThan(1);
    const haystack = [...gw.logs.map((l) => JSON.stringify(l)), ...received];
    expect(haystack.length).toBeGreaterThan(40);
    for (const s of secrets) {
      for (const text of haystack) if (text.includes(s)) throw new Error(`secret ${s.slice(0, 6)}… found in: ${text.slice(0, 300)}`);
    }
    for (const text of haystack) expect(text).not.toMatch(/eyJ[\w-]{10,}\.[\w-]{10,}\./); // JWT assertions
  });
});
