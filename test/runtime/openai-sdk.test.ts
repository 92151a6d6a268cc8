/**
 * The official `openai` SDK (v6) against the gateway, streaming and not, on every OpenAI
 * endpoint, plus SDK-visible errors: unknown model, mid-stream break.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockProvider } from '../../bench/sim/simulated-provider.js';
import { closeAll, providersYaml, startGateway, startMocks, type Gateway } from './harness.js';

let mocks: MockProvider[];
let gw: Gateway;
let client: OpenAI;

beforeAll(async () => {
  mocks = await startMocks(['p0', 'claude'], {});
  gw = await startGateway(`version: 1
${providersYaml(mocks, ['m1', 'emb'], {}, ['claude'])}
virtual_models:
  regular: { target: p0/m1 }
  embedder: { target: p0/emb, model_types: [embedding] }
  sonnet: { target: claude/m1 }
`);
  client = new OpenAI({ baseURL: gw.url + '/v1', apiKey: 'client-key', maxRetries: 0 });
});
afterAll(() => closeAll(gw, ...mocks));

describe('openai SDK v6 through the gateway', () => {
  it('chat.completions.create', async () => {
    const r = await client.chat.completions.create({ model: 'regular', messages: [{ role: 'user', content: 'hello' }] });
    expect(r.choices[0].message.content).toBe('mock:p0 model=m1');
    expect(r.model).toBe('m1');
  });

  it('chat.completions.create with raw response headers', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'regular', messages: [{ role: 'user', content: 'x' }] })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(response.headers.get('x-vmc-virtual-model')).toBe('regular');
    expect(response.headers.get('x-vmc-target')).toBe('p0/m1');
    expect(response.headers.get('x-vmc-attempts')).toBe('1');
  });

  it('chat.completions streaming (with usage)', async () => {
    const stream = await client.chat.completions.create({
      model: 'regular',
      messages: [{ role: 'user', content: 'hello' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: unknown = null;
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe('mock:p0 model=m1');
    expect(finish).toBe('stop');
    expect(usage).toMatchObject({ completion_tokens: 2 });
  });

  it('completions, streaming and not', async () => {
    const r = await client.completions.create({ model: 'regular', prompt: 'hi' });
    expect(r.choices[0].text).toBe('mock:p0 model=m1');
    const s = await client.completions.create({ model: 'regular', prompt: 'hi', stream: true });
    let text = '';
    for await (const c of s) text += c.choices[0]?.text ?? '';
    expect(text).toBe('mock:p0 model=m1');
  });

  it('embeddings', async () => {
    const r = await client.embeddings.create({ model: 'embedder', input: ['a', 'b', 'c'] });
    expect(r.data).toHaveLength(3);
    expect(r.data[0].embedding.length).toBeGreaterThan(0);
    expect(mocks[0].requests.at(-1)!.model).toBe('emb');
  });

  it('responses, streaming and not', async () => {
    const r = await client.responses.create({ model: 'regular', input: 'hi' });
    expect(r.output_text).toBe('mock:p0 model=m1');
    const s = await client.responses.create({ model: 'regular', input: 'hi', stream: true });
    let text = '';
    for await (const e of s) if (e.type === 'response.output_text.delta') text += e.delta;
    expect(text).toBe('mock:p0 model=m1');
  });

  it('models.list shows virtual models', async () => {
    const ids: string[] = [];
    for await (const m of client.models.list()) ids.push(m.id);
    expect(ids).toEqual(expect.arrayContaining(['regular', 'embedder', 'sonnet', 'p0/m1']));
  });

  it('an Anthropic target behind an OpenAI client (translated), streaming and not', async () => {
    const r = await client.chat.completions.create({
      model: 'sonnet',
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'hello' },
      ],
    });
    expect(r.choices[0].message.content).toBe('mock:claude model=m1');
    expect(r.choices[0].finish_reason).toBe('stop');
    const seen = mocks[1].requests.at(-1)!;
    expect(seen.path).toBe('/v1/messages');
    expect(seen.json).toMatchObject({
      model: 'm1',
      system: 'be brief',
      max_tokens: 4096,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hello' }] }],
    });
    const s = await client.chat.completions.create({
      model: 'sonnet',
      messages: [{ role: 'user', content: 'hello' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const c of s) {
      text += c.choices[0]?.delta?.content ?? '';
      usage = c.usage ?? usage;
    }
    expect(text).toBe('mock:claude model=m1');
    expect(usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('unknown model → NotFoundError with the gateway envelope', async () => {
    const err = await client.chat.completions.create({ model: 'nope', messages: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).status).toBe(404);
    expect((err as { error: { type: string } }).error.type).toBe('not_found_error');
  });

  it('a stream broken mid-way surfaces as an error in the SDK, not as a silent end', async () => {
    mocks[0].setBehavior({ content: 'a b c d e f', breakAfterChunks: 3 });
    try {
      const s = await client.chat.completions.create({ model: 'regular', messages: [{ role: 'user', content: 'x' }], stream: true });
      let text = '';
      const err = await (async () => {
        for await (const c of s) text += c.choices[0]?.delta?.content ?? '';
      })().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(String((err as Error).message)).toMatch(/broke/);
      expect(text.length).toBeGreaterThan(0);
    } finally {
      mocks[0].setBehavior({});
    }
  });
});
