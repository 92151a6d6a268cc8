/**
 * The simulated providers of `vmc bench` over real HTTP on 127.0.0.1 (bench/sim/server.ts):
 * formats, declared faults on the load clock, the refuse gate, and the clean baseline
 * listener that never faults.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import { afterEach, describe, expect, it } from 'vitest';
import { startSimProvider, type SimProvider } from '../../bench/sim/server.js';
import type { SimProviderSpec } from '../../bench/sim/behavior.js';

const open: SimProvider[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function sim(spec: SimProviderSpec, clean = false): Promise<SimProvider> {
  const s = await startSimProvider(spec, { seed: 1, clean });
  open.push(s);
  return s;
}

async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; headers: Headers } | { error: string }> {
  try {
    const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    return { status: r.status, text: await r.text(), headers: r.headers };
  } catch (err) {
    return { error: (err as { cause?: { code?: string } }).cause?.code ?? 'failed' };
  }
}

describe('simulated providers (bench/sim)', () => {
  it('answer in the OpenAI, Anthropic, Azure, Gemini and Vertex formats, JSON and streams', async () => {
    const s = await sim({ name: 'p', format: 'openai', output_tokens: 3 });
    const chat = await post(`${s.url}/v1/chat/completions`, { model: 'gpt-x', messages: [] });
    expect(chat).toMatchObject({ status: 200 });
    expect(JSON.parse((chat as { text: string }).text)).toMatchObject({
      object: 'chat.completion',
      model: 'gpt-x',
      usage: { completion_tokens: 3 },
    });
    const stream = (await post(`${s.url}/v1/chat/completions`, { model: 'gpt-x', stream: true, messages: [] })) as {
      text: string;
      headers: Headers;
    };
    expect(stream.headers.get('content-type')).toBe('text/event-stream');
    expect(stream.text.match(/^data: /gm)!.length).toBe(1 + 3 + 1 + 1); // role, 3 tokens, finish, [DONE]
    expect(stream.text.endsWith('data: [DONE]\n\n')).toBe(true);
    const msg = (await post(`${s.url}/v1/messages`, { model: 'claude', stream: true, max_tokens: 2, messages: [] })) as { text: string };
    expect(msg.text.match(/^event: content_block_delta$/gm)!.length).toBe(2);
    expect(msg.text).toMatch(/event: message_stop/);
    const azure = (await post(`${s.url}/openai/deployments/prod-4o/chat/completions?api-version=2024-10-21`, { messages: [] })) as {
      text: string;
    };
    expect(JSON.parse(azure.text).model).toBe('prod-4o');
    const gem = (await post(`${s.url}/v1beta/models/gemini-x:generateContent`, { contents: [] })) as { text: string };
    expect(JSON.parse(gem.text)).toMatchObject({ modelVersion: 'gemini-x', candidates: [{ finishReason: 'STOP' }] });
    const vertex = (await post(
      `${s.url}/v1/projects/acme/locations/us-central1/publishers/google/models/gemini-v:streamGenerateContent?alt=sse`,
      { contents: [] },
    )) as { text: string };
    expect(vertex.text.match(/^data: /gm)!.length).toBe(3 + 1); // 3 tokens, then the finish event
    // Vertex's OAuth token endpoint (the token_uri of a harness gateway's credentials): not inference traffic
    const token = (await post(`${s.url}/oauth2/token`, {})) as { text: string };
    expect(JSON.parse(token.text)).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect(s.stats().models).toEqual({ 'gpt-x': 2, claude: 1, 'prod-4o': 1, 'gemini-x': 1, 'gemini-v': 1 });
  });

  it('answer Bedrock Converse in JSON and in AWS event-stream frames; errors carry x-amzn-errortype; malformed = a bad CRC', async () => {
    const codec = new EventStreamCodec(toUtf8, fromUtf8);
    const s = await sim({ name: 'aws', format: 'bedrock', output_tokens: 3 });
    const model = encodeURIComponent('anthropic.claude-3-5-sonnet-20240620-v1:0');
    const unsigned = (await post(`${s.url}/model/${model}/converse`, { messages: [] })) as { status: number; headers: Headers };
    expect(unsigned.status).toBe(403);
    expect(unsigned.headers.get('x-amzn-errortype')).toMatch(/^AccessDeniedException:/);
    const SIGNED = {
      authorization: 'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=0',
    };
    const json = (await post(`${s.url}/model/${model}/converse`, { messages: [] }, SIGNED)) as { status: number; text: string };
    expect(json.status).toBe(200);
    expect(JSON.parse(json.text)).toMatchObject({
      output: { message: { role: 'assistant', content: [{ text: 'ok ok ok' }] } },
      stopReason: 'end_turn',
      usage: { outputTokens: 3 },
    });
    const r = await fetch(`${s.url}/model/${model}/converse-stream`, { method: 'POST', headers: SIGNED, body: '{"messages":[]}' });
    expect(r.headers.get('content-type')).toBe('application/vnd.amazon.eventstream');
    const bytes = new Uint8Array(await r.arrayBuffer());
    const events: string[] = [];
    for (let at = 0; at < bytes.length;) {
      const len = new DataView(bytes.buffer, bytes.byteOffset + at).getUint32(0);
      events.push(String(codec.decode(bytes.subarray(at, at + len)).headers[':event-type'].value));
      at += len;
    }
    expect(events).toEqual([
      'messageStart',
      'contentBlockDelta',
      'contentBlockDelta',
      'contentBlockDelta',
      'contentBlockStop',
      'messageStop',
      'metadata',
    ]);
    expect(s.stats().models).toEqual({ 'anthropic.claude-3-5-sonnet-20240620-v1:0': 2 });
    expect(s.stats().outcomes['status:403']).toBe(1);

    const faulty = await sim({ name: 'aws', format: 'bedrock', output_tokens: 2, faults: [{ status: 429 }] });
    faulty.setClock(0, true);
    const e = (await post(`${faulty.url}/model/m/converse`, {}, SIGNED)) as { status: number; text: string; headers: Headers };
    expect(e.status).toBe(429);
    expect(e.headers.get('x-amzn-errortype')).toMatch(/^ThrottlingException:/);
    expect(JSON.parse(e.text)).toEqual({ message: 'simulated aws: status 429' });
    const bad = await sim({ name: 'aws', format: 'bedrock', output_tokens: 2, faults: [{ kind: 'malformed', after_tokens: 1 }] });
    bad.setClock(0, true);
    const broken = new Uint8Array(
      await (await fetch(`${bad.url}/model/m/converse-stream`, { method: 'POST', headers: SIGNED, body: '{}' })).arrayBuffer(),
    );
    expect(() => {
      for (let at = 0; at < broken.length;) {
        const len = new DataView(broken.buffer, broken.byteOffset + at).getUint32(0);
        codec.decode(broken.subarray(at, at + len));
        at += len;
      }
    }).toThrow(/checksum/i);
  });

  it('declared faults fire on the load clock only; the clean listener never faults', async () => {
    const spec: SimProviderSpec = { name: 'p', format: 'openai', faults: [{ status: 429, retry_after_s: 2, from_s: 0, for_s: 60 }] };
    const s = await sim(spec);
    const clean = await sim(spec, true);
    expect(await post(`${s.url}/v1/chat/completions`, { model: 'm' })).toMatchObject({ status: 200 }); // clock not started (warm-up)
    s.setClock(0, true);
    const limited = (await post(`${s.url}/v1/chat/completions`, { model: 'm' })) as { status: number; headers: Headers; text: string };
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(JSON.parse(limited.text).error.type).toBe('rate_limit_error');
    clean.setClock(0, true);
    expect(await post(`${clean.url}/v1/chat/completions`, { model: 'm' })).toMatchObject({ status: 200 });
    s.setClock(61, false); // past the window, clock frozen
    expect(await post(`${s.url}/v1/chat/completions`, { model: 'm' })).toMatchObject({ status: 200 });
  });

  it('reset and cut: no answer, or a stream that stops after its first tokens', async () => {
    const s = await sim({
      name: 'p',
      format: 'openai',
      output_tokens: 6,
      itl_ms: 1,
      models: { r: { faults: [{ kind: 'reset' }] }, c: { faults: [{ kind: 'cut', after_tokens: 2 }] } },
    });
    s.setClock(0, true);
    expect(await post(`${s.url}/v1/chat/completions`, { model: 'r' })).toEqual({ error: expect.any(String) });
    const r = await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model: 'c', stream: true }) });
    expect(r.status).toBe(200);
    await expect(r.text()).rejects.toThrow();
    expect(s.stats().outcomes).toMatchObject({ reset: 1, cut: 1 });
  });

  it('refuse: connections are refused for the window, then accepted again on the same port', async () => {
    const s = await sim({ name: 'p', format: 'anthropic', faults: [{ kind: 'refuse', from_s: 0, for_s: 0.3 }] });
    expect(await post(`${s.url}/v1/messages`, { model: 'm', max_tokens: 1 })).toMatchObject({ status: 200 });
    s.setClock(0, true);
    await new Promise((r) => setTimeout(r, 50));
    expect(await post(`${s.url}/v1/messages`, { model: 'm', max_tokens: 1 })).toEqual({ error: 'ECONNREFUSED' });
    await new Promise((r) => setTimeout(r, 400));
    expect(await post(`${s.url}/v1/messages`, { model: 'm', max_tokens: 1 })).toMatchObject({ status: 200 });
    expect(s.stats().refusals).toBe(1);
  });
});
