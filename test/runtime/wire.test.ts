/**
 * Wire-format helpers: the SSE parser, event-aligned forwarding, and OpenAI Chat ⇄
 * Anthropic Messages translation (requests, responses, errors, streams), plus the
 * translated paths end to end through the gateway.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockProvider } from '../../bench/sim/simulated-provider.js';
import { MAX_SSE_EVENT_BYTES, SseEventTooLargeError, SseParser, formatSse, lastEventEnd, sseErrorEvent } from '../../runtime/wire/sse.js';
import {
  ChatToMessagesStream,
  MessagesToChatStream,
  XLATE_CHAT_TO_MESSAGES,
  XLATE_MESSAGES_TO_CHAT,
  chatToMessagesRequest,
  chatToMessagesResponse,
  messagesToChatRequest,
  messagesToChatResponse,
  translateErrorBody,
} from '../../runtime/wire/translate.js';
import { closeAll, post, providersYaml, startGateway, startMocks, type Gateway } from './harness.js';

const enc = new TextEncoder();

describe('SseParser', () => {
  it('parses events, multi-line data, comments and CRLF', () => {
    const p = new SseParser();
    const events = p.push(enc.encode(': comment\r\nevent: a\r\ndata: 1\r\ndata: 2\r\n\r\ndata: {"x":1}\n\n'));
    expect(events).toEqual([
      { event: 'a', data: '1\n2' },
      { event: 'message', data: '{"x":1}' },
    ]);
  });

  it('any split of the byte stream gives the same events (property)', () => {
    const stream = 'event: message_start\ndata: {"a":"é😀"}\n\n: ping\r\n\r\ndata: x\rdata: y\r\r' + formatSse('error', '{"e":1}');
    const bytes = enc.encode(stream);
    const whole = new SseParser().push(bytes);
    fc.assert(
      fc.property(fc.array(fc.nat(bytes.length), { maxLength: 8 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const p = new SseParser();
        const got = [];
        let prev = 0;
        for (const c of [...points, bytes.length]) {
          got.push(...p.push(bytes.subarray(prev, c)));
          prev = c;
        }
        got.push(...p.end());
        expect(got).toEqual(whole);
      }),
    );
  });

  it('a long unterminated line costs linear time: 4 MiB in 64-byte chunks (issue 8: it was rescanned per chunk)', async () => {
    // Rescanned per chunk, this is 65 536 scans of up to 4 MiB (~10¹¹ character visits): the
    // test's timeout ends it. The loop yields now and then so that the timeout can fire.
    const p = new SseParser();
    const piece = enc.encode('x'.repeat(64));
    expect(p.push(enc.encode('event: big\ndata: '))).toEqual([]);
    let early = 0;
    for (let i = 0; i < 65_536; i++) {
      early += p.push(piece).length;
      if ((i & 1023) === 1023) await new Promise((r) => setImmediate(r));
    }
    expect(early).toBe(0);
    const [ev] = p.push(enc.encode('\n\n'));
    expect(ev.event).toBe('big');
    expect(ev.data.length).toBe(4 * 1024 * 1024);
  }, 10_000);

  it('an event that grows past the bound without ending throws SseEventTooLargeError', () => {
    const p = new SseParser(1024);
    p.push(enc.encode('data: ' + 'a'.repeat(500) + '\n')); // terminated lines of one event count too
    expect(() => p.push(enc.encode('data: ' + 'b'.repeat(600)))).toThrow(SseEventTooLargeError);
    const q = new SseParser(1024);
    for (let i = 0; i < 10; i++) q.push(enc.encode(`data: ${'c'.repeat(600)}\n\n`)); // complete events reset the count
    expect(MAX_SSE_EVENT_BYTES).toBe(8 * 1024 * 1024);
    expect(() => new SseParser().push(new Uint8Array(MAX_SSE_EVENT_BYTES + 1).fill(120))).toThrow(/exceeds/);
  });

  it('a lone CR at a chunk end is a line end (the next chunk may bring its LF)', () => {
    const p = new SseParser();
    expect(p.push(enc.encode('data: a\r\n\r'))).toEqual([]);
    expect(p.push(enc.encode('\ndata: b\r'))).toEqual([{ event: 'message', data: 'a' }]);
    expect(p.push(enc.encode('\r'))).toEqual([]);
    expect(p.end()).toEqual([{ event: 'message', data: 'b' }]);
  });

  it('lastEventEnd finds the end of the last complete event', () => {
    expect(lastEventEnd(Buffer.from('data: a\n\ndata: b'))).toBe(9);
    expect(lastEventEnd(Buffer.from('data: a\r\n\r\n'))).toBe(11);
    expect(lastEventEnd(Buffer.from('data: partial'))).toBe(0);
  });

  it('the error event carries the gateway envelope', () => {
    const [e] = new SseParser().push(sseErrorEvent(502, 'provider_error', 'broke', 'p0'));
    expect(e.event).toBe('error');
    expect(JSON.parse(e.data)).toEqual({
      error: { type: 'provider_error', message: 'broke', code: null, param: null, provider: 'p0', status_code: 502 },
    });
  });
});

describe('request translation', () => {
  it('chat → messages: system, tools, tool calls and results, images, stop, max tokens', () => {
    const out = chatToMessagesRequest({
      model: 'x',
      messages: [
        { role: 'system', content: 'sys1' },
        { role: 'developer', content: 'sys2' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'look' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAA=' } },
          ],
        },
        { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
        { role: 'tool', tool_call_id: 'c1', content: 'result' },
        { role: 'user', content: 'thanks' },
      ],
      tools: [
        {
          type: 'function',
          function: { name: 'f', description: 'd', parameters: { type: 'object', properties: { a: { type: 'number' } } } },
        },
      ],
      tool_choice: 'required',
      stop: 'END',
      max_completion_tokens: 99,
      temperature: 0.3,
      stream: true,
      user: 'u1',
    });
    expect(out).toEqual({
      model: 'x',
      system: 'sys1\n\nsys2',
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'look' },
            { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAA=' } },
          ],
        },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'c1', name: 'f', input: { a: 1 } }] },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'c1', content: 'result' },
            { type: 'text', text: 'thanks' },
          ],
        },
      ],
      tools: [{ name: 'f', description: 'd', input_schema: { type: 'object', properties: { a: { type: 'number' } } } }],
      tool_choice: { type: 'any' },
      stop_sequences: ['END'],
      max_tokens: 99,
      temperature: 0.3,
      stream: true,
      metadata: { user_id: 'u1' },
    });
  });

  it('messages → chat: system blocks, tool_use and tool_result, stop sequences, usage in streams', () => {
    const out = messagesToChatRequest({
      model: 'x',
      system: [{ type: 'text', text: 'sys' }],
      max_tokens: 10,
      stop_sequences: ['a'],
      stream: true,
      messages: [
        { role: 'user', content: 'q' },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'calling' },
            { type: 'tool_use', id: 't1', name: 'f', input: { b: 2 } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'r' }] }] },
      ],
      tools: [{ name: 'f', input_schema: { type: 'object' } }],
      tool_choice: { type: 'tool', name: 'f' },
    });
    expect(out).toEqual({
      model: 'x',
      messages: [
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'q' },
        {
          role: 'assistant',
          content: 'calling',
          tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{"b":2}' } }],
        },
        { role: 'tool', tool_call_id: 't1', content: 'r' },
      ],
      max_tokens: 10,
      stop: ['a'],
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      tool_choice: { type: 'function', function: { name: 'f' } },
    });
  });
});

describe('response translation', () => {
  it('messages → chat.completion with tool calls and usage', () => {
    const out = messagesToChatResponse({
      id: 'msg_1',
      model: 'claude',
      stop_reason: 'tool_use',
      content: [
        { type: 'text', text: 'hi' },
        { type: 'tool_use', id: 't', name: 'f', input: { x: 1 } },
      ],
      usage: { input_tokens: 3, output_tokens: 4 },
    });
    expect(out).toMatchObject({
      id: 'msg_1',
      object: 'chat.completion',
      model: 'claude',
      choices: [
        {
          index: 0,
          finish_reason: 'tool_calls',
          message: {
            role: 'assistant',
            content: 'hi',
            tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{"x":1}' } }],
          },
        },
      ],
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    });
  });

  it('chat.completion → message', () => {
    const out = chatToMessagesResponse({
      id: 'c',
      model: 'gpt',
      choices: [{ index: 0, finish_reason: 'length', message: { role: 'assistant', content: 'partial' } }],
      usage: { prompt_tokens: 1, completion_tokens: 2 },
    });
    expect(out).toEqual({
      id: 'c',
      type: 'message',
      role: 'assistant',
      model: 'gpt',
      content: [{ type: 'text', text: 'partial' }],
      stop_reason: 'max_tokens',
      stop_sequence: null,
      usage: { input_tokens: 1, output_tokens: 2 },
    });
  });

  it('error envelopes in both directions: the SPEC §3 fields with the provider message', () => {
    const a = JSON.parse(
      translateErrorBody(
        XLATE_CHAT_TO_MESSAGES,
        429,
        Buffer.from('{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}'),
        'an',
      ).toString(),
    );
    expect(a).toEqual({
      error: { message: 'slow down', type: 'rate_limit_error', param: null, code: null, provider: 'an', status_code: 429 },
    });
    const b = JSON.parse(
      translateErrorBody(XLATE_MESSAGES_TO_CHAT, 500, Buffer.from('{"error":{"message":"oops","type":"server_error"}}'), 'oa').toString(),
    );
    // Anthropic's envelope (what the Anthropic SDK reads) with the SPEC §3 fields beside
    expect(b).toEqual({
      type: 'error',
      error: { type: 'api_error', message: 'oops', code: null, param: null, provider: 'oa', status_code: 500 },
    });
    // a body that is not JSON: its text is the message
    const c = JSON.parse(translateErrorBody(XLATE_CHAT_TO_MESSAGES, 401, Buffer.from('denied')).toString());
    expect(c.error).toMatchObject({ type: 'authentication_error', message: 'denied', provider: 'vmc', status_code: 401 });
  });
});

describe('stream translation', () => {
  const anthropicStream = [
    formatSse(
      'message_start',
      JSON.stringify({ type: 'message_start', message: { id: 'msg_9', model: 'claude', usage: { input_tokens: 5 } } }),
    ),
    formatSse('content_block_start', JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })),
    formatSse('content_block_delta', JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hel' } })),
    formatSse('content_block_delta', JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'lo' } })),
    formatSse('content_block_stop', JSON.stringify({ type: 'content_block_stop', index: 0 })),
    formatSse(
      'content_block_start',
      JSON.stringify({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'tu', name: 'f' } }),
    ),
    formatSse(
      'content_block_delta',
      JSON.stringify({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"a":' } }),
    ),
    formatSse(
      'content_block_delta',
      JSON.stringify({ type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '1}' } }),
    ),
    formatSse('message_delta', JSON.stringify({ type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 7 } })),
    formatSse('message_stop', JSON.stringify({ type: 'message_stop' })),
  ].join('');

  it('anthropic → openai chunks (text, tool call deltas, finish, usage, [DONE])', () => {
    const t = new MessagesToChatStream(true);
    const out = t.push(enc.encode(anthropicStream)) + t.end();
    const events = new SseParser().push(enc.encode(out));
    expect(events.at(-1)!.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === 'msg_9')).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('Hello');
    const args = chunks
      .flatMap((c) => c.choices[0]?.delta?.tool_calls ?? [])
      .map((tc: { function: { arguments: string } }) => tc.function.arguments)
      .join('');
    expect(args).toBe('{"a":1}');
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason).toBe('tool_calls');
    expect(chunks.at(-1).usage).toEqual({ prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 });
  });

  it('openai chunks → anthropic events, in any chunking', () => {
    const chunk = (delta: object, finish: string | null = null) =>
      formatSse(null, JSON.stringify({ id: 'c1', model: 'gpt', choices: [{ index: 0, delta, finish_reason: finish }] }));
    const stream = enc.encode(
      chunk({ role: 'assistant', content: '' }) +
        chunk({ content: 'Hi' }) +
        chunk({ content: ' there' }) +
        chunk({ tool_calls: [{ index: 0, id: 't', type: 'function', function: { name: 'f', arguments: '{"q"' } }] }) +
        chunk({ tool_calls: [{ index: 0, function: { arguments: ':2}' } }] }) +
        chunk({}, 'tool_calls') +
        formatSse(null, JSON.stringify({ id: 'c1', choices: [], usage: { prompt_tokens: 2, completion_tokens: 3 } })) +
        'data: [DONE]\n\n',
    );
    const run = (cuts: number[]) => {
      const t = new ChatToMessagesStream();
      let out = '';
      let prev = 0;
      for (const c of [...cuts, stream.length]) {
        out += t.push(stream.subarray(prev, c));
        prev = c;
      }
      return out + t.end();
    };
    const whole = run([]);
    const events = new SseParser().push(enc.encode(whole));
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(JSON.parse(events[9].data)).toMatchObject({ delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 3 } });
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(stream.length), { maxLength: 6 }), (cuts) => {
        expect(run(cuts.sort((a, b) => a - b))).toBe(whole);
      }),
      { numRuns: 100 },
    );
  });

  it('event data that is not JSON is skipped; JSON that is not an object (null, 5, "x") never throws', () => {
    const junk =
      formatSse(null, 'not json') +
      formatSse(null, 'null') +
      formatSse('message_delta', '5') +
      formatSse(null, '"x"') +
      formatSse(null, '[]');
    const a = new MessagesToChatStream(false);
    const outA = a.push(enc.encode(junk + anthropicStream)) + a.end();
    expect(new SseParser().push(enc.encode(outA)).at(-1)!.data).toBe('[DONE]');
    const o = new ChatToMessagesStream();
    const outO =
      o.push(enc.encode(junk + formatSse(null, JSON.stringify({ id: 'c', choices: [{ index: 0, delta: { content: 'x' } }] })))) + o.end();
    expect(
      new SseParser()
        .push(enc.encode(outO))
        .map((e) => e.event)
        .at(-1),
    ).toBe('message_stop');
  });
});

describe('translated requests end to end', () => {
  let mocks: MockProvider[];
  let gw: Gateway;
  beforeAll(async () => {
    mocks = await startMocks(['oa', 'an']);
    gw = await startGateway(`version: 1
${providersYaml(mocks, ['m1'], {}, ['an'])}
virtual_models:
  to-anthropic: { target: an/m1 }
  to-openai: { target: oa/m1 }
`);
  });
  afterAll(() => closeAll(gw, ...mocks));

  it('Anthropic client → OpenAI target (JSON)', async () => {
    const r = await post(gw.url + '/v1/messages', {
      model: 'to-openai',
      max_tokens: 20,
      system: 'sys',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: 'mock:oa model=m1' }],
      stop_reason: 'end_turn',
    });
    expect(mocks[0].requests.at(-1)!.json).toEqual({
      model: 'm1',
      messages: [
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'hi' },
      ],
      max_tokens: 20,
    });
  });

  it('Anthropic client → OpenAI target (stream)', async () => {
    const res = await fetch(gw.url + '/v1/messages', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'to-openai', max_tokens: 20, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const events = new SseParser().push(new Uint8Array(await res.arrayBuffer()));
    expect(events[0].event).toBe('message_start');
    expect(events.at(-1)!.event).toBe('message_stop');
    const text = events
      .filter((e) => e.event === 'content_block_delta')
      .map((e) => JSON.parse(e.data).delta.text)
      .join('');
    expect(text).toBe('mock:oa model=m1');
  });

  it('provider errors are translated into the client format', async () => {
    mocks[1].setBehavior({ status: 400 });
    try {
      const r = await post(gw.url + '/v1/chat/completions', { model: 'to-anthropic', messages: [{ role: 'user', content: 'x' }] });
      expect(r.status).toBe(400);
      expect(r.json.error).toMatchObject({ type: 'invalid_request_error', message: 'mock an status 400' });
      expect(r.headers.get('x-vmc-target')).toBe('an/m1');
    } finally {
      mocks[1].setBehavior({});
    }
  });

  it('an anthropic target cannot serve embeddings → 400 naming the endpoint', async () => {
    const r = await post(gw.url + '/v1/embeddings', { model: 'to-anthropic', input: 'x' });
    expect(r.status).toBe(400);
    expect(r.json.error.message).toContain('/v1/embeddings');
    expect(mocks[1].requests.every((q) => q.path !== '/v1/embeddings')).toBe(true);
  });
});

describe('EventStreamDecoder (AWS event stream)', () => {
  it('a 12 MiB message in 64 KiB chunks decodes whole, joined once; pending counts the incomplete tail', async () => {
    const { EventStreamDecoder, encodeEventStreamMessage } = await import('../../runtime/wire/eventstream.js');
    const payload = new Uint8Array(12 * 1024 * 1024).fill(0x61);
    const small = encodeEventStreamMessage({ ':event-type': 'a' }, enc.encode('{}'));
    const big = encodeEventStreamMessage({ ':event-type': 'big' }, payload);
    const bytes = new Uint8Array(small.length + big.length + small.length);
    bytes.set(small);
    bytes.set(big, small.length);
    bytes.set(small, small.length + big.length);
    const d = new EventStreamDecoder();
    const got: { type: string; size: number }[] = [];
    for (let i = 0; i < bytes.length; i += 64 * 1024) {
      for (const m of d.push(bytes.subarray(i, Math.min(bytes.length, i + 64 * 1024))))
        got.push({ type: m.headers[':event-type'], size: m.body.length });
      if (got.length === 1) expect(d.pending).toBe(Math.min(bytes.length, i + 64 * 1024) - small.length);
    }
    expect(got).toEqual([
      { type: 'a', size: 2 },
      { type: 'big', size: payload.length },
      { type: 'a', size: 2 },
    ]);
    expect(d.pending).toBe(0);
  });

  it('a prelude past the 16 MiB bound throws at once (the translator ends the stream, the relay cuts the upstream)', async () => {
    const { EventStreamDecoder } = await import('../../runtime/wire/eventstream.js');
    const bad = new Uint8Array(8);
    new DataView(bad.buffer).setUint32(0, 17 * 1024 * 1024);
    const d = new EventStreamDecoder();
    expect(() => d.push(bad.subarray(0, 2))).not.toThrow(); // a prelude split across chunks
    expect(() => d.push(bad.subarray(2))).toThrow(/invalid message length/);
  });

  it('messages before a corrupt prelude in the same chunk are kept (the caller passes its array)', async () => {
    const { EventStreamDecoder, encodeEventStreamMessage } = await import('../../runtime/wire/eventstream.js');
    const good = encodeEventStreamMessage({ ':event-type': 'a' }, new TextEncoder().encode('{}'));
    const bad = new Uint8Array(16);
    new DataView(bad.buffer).setUint32(0, 1024 * 1024 * 1024);
    const chunk = new Uint8Array(good.length * 2 + bad.length);
    chunk.set(good, 0);
    chunk.set(good, good.length);
    chunk.set(bad, good.length * 2);
    const got: import('../../runtime/wire/eventstream.js').EventStreamMessage[] = [];
    expect(() => new EventStreamDecoder().push(chunk, got)).toThrow(/invalid message length/);
    expect(got.map((m) => m.headers[':event-type'])).toEqual(['a', 'a']);
  });

  it('Bedrock stream: the text before a corrupt frame arrives with it in one chunk, then one error event', async () => {
    const { BedrockStreamDecoder } = await import('../../runtime/wire/bedrock.js');
    const { encodeEventStreamMessage } = await import('../../runtime/wire/eventstream.js');
    const frame = (type: string, body: unknown) =>
      encodeEventStreamMessage(
        { ':event-type': type, ':message-type': 'event', ':content-type': 'application/json' },
        new TextEncoder().encode(JSON.stringify(body)),
      );
    const parts = [
      frame('messageStart', { role: 'assistant' }),
      frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'before' } }),
      new Uint8Array([0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    ];
    const chunk = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      chunk.set(p, at);
      at += p.length;
    }
    const d = new BedrockStreamDecoder('m');
    const events = d.push(chunk);
    expect(events.filter((e) => e.t === 'text').map((e) => (e as { text: string }).text)).toEqual(['before']);
    expect(events.at(-1)).toMatchObject({ t: 'error', message: expect.stringMatching(/invalid message length/) });
    expect(d.broken).toBe(true);
    expect(d.push(new Uint8Array(8))).toEqual([]);
  });
});
