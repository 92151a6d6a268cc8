/**
 * Translation through the internal model (runtime/wire/model.ts) for every format, as
 * properties (fast-check), SPEC §13:
 *
 * 1. Random chunkings of a provider stream decode to the same message. The provider streams
 *    are written by the simulators' own encoders (bench/sim/clouds: Bedrock event-stream
 *    frames, Gemini `alt=sse` events with CRLF) — an implementation independent of the
 *    decoders — and by the client-format encoders for OpenAI and Anthropic streams; cuts fall
 *    anywhere, inside frames and inside UTF-8 sequences.
 * 2. A request translated to a provider format and back keeps its content: a random request
 *    in a client format (OpenAI Chat, Anthropic Messages) is translated to each upstream
 *    format and decoded from it again; what the target format cannot carry is named in
 *    {@link canon} (e.g. Gemini has no tool-call ids, Bedrock no `tool_choice: none`).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { converseResponse, converseStreamFrames } from '../../bench/sim/clouds/bedrock.js';
import type { CloudReply } from '../../bench/sim/clouds/common.js';
import { generateContentResponse, generateContentStreamEvents } from '../../bench/sim/clouds/generate-content.js';
import {
  AnthropicStreamDecoder,
  AnthropicStreamEncoder,
  decodeAnthropicRequest,
  encodeAnthropicRequest,
} from '../../runtime/wire/anthropic.js';
import { BedrockStreamDecoder, decodeBedrockRequest, decodeBedrockResponse, encodeBedrockRequest } from '../../runtime/wire/bedrock.js';
import { GeminiStreamDecoder, decodeGeminiRequest, decodeGeminiResponse, encodeGeminiRequest } from '../../runtime/wire/gemini.js';
import { collectEvents, type ChatRequest, type Part, type StreamDecoder, type StreamEvent, type Tool } from '../../runtime/wire/model.js';
import { OpenAIStreamDecoder, OpenAIStreamEncoder, decodeOpenAIRequest, encodeOpenAIRequest } from '../../runtime/wire/openai-chat.js';
import {
  XLATE_CHAT_TO_BEDROCK,
  XLATE_CHAT_TO_GEMINI,
  XLATE_CHAT_TO_MESSAGES,
  XLATE_MESSAGES_TO_BEDROCK,
  XLATE_MESSAGES_TO_CHAT,
  XLATE_MESSAGES_TO_GEMINI,
  applyOverrides,
  streamTranslator,
  translateErrorBody,
  translateRequest,
  translateResponseBody,
} from '../../runtime/wire/translate.js';

const enc = new TextEncoder();
const word = fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/);
/** Text with multi-byte characters, never blank (Bedrock refuses blank text blocks). */
const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 24 }).filter((s) => s.trim() !== '');
const jsonValue = fc.oneof(fc.integer(), fc.boolean(), fc.string({ maxLength: 8 }), fc.constant(null));
const args = fc.dictionary(word, jsonValue, { maxKeys: 3 });

// ───────────────────────────── 1. streams ─────────────────────────────

const arbReply: fc.Arbitrary<CloudReply> = fc
  .record({
    text: fc.option(text, { nil: undefined }),
    chunks: fc.integer({ min: 1, max: 6 }),
    toolCalls: fc.array(fc.record({ id: word.map((w) => `tooluse_${w}`), name: word, args }), { maxLength: 3 }),
    plainFinish: fc.constantFrom('stop' as const, 'length' as const, 'content_filter' as const),
    usage: fc.record({ input: fc.nat(10_000), output: fc.nat(10_000) }),
  })
  .map(({ plainFinish, ...r }) => ({ ...r, finish: r.toolCalls.length > 0 ? ('tool_calls' as const) : plainFinish }));

/** Splits bytes at the given cut points. */
function cut(bytes: Uint8Array, points: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...new Set(points)].sort((a, b) => a - b).filter((p) => p > 0 && p < bytes.length)) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

function decodeAll(decoder: StreamDecoder, chunks: Uint8Array[]): StreamEvent[] {
  const events: StreamEvent[] = [];
  for (const c of chunks) events.push(...decoder.push(c));
  events.push(...decoder.end());
  return events;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts.map((p) => Buffer.from(p)));
}

/** The stream events a reply is (what each format's stream encodes). */
function replyEvents(r: CloudReply): StreamEvent[] {
  const events: StreamEvent[] = [{ t: 'start', id: 'id-1', model: 'm', input: null }];
  if (r.text) events.push({ t: 'text', text: r.text });
  (r.toolCalls ?? []).forEach((t, index) => {
    events.push({ t: 'tool_start', index, id: t.id ?? '', name: t.name });
    const a = JSON.stringify(t.args);
    events.push({ t: 'tool_args', index, args: a.slice(0, 3) }, { t: 'tool_args', index, args: a.slice(3) });
  });
  events.push({ t: 'finish', reason: r.finish! }, { t: 'usage', input: r.usage!.input, output: r.usage!.output }, { t: 'end' });
  return events;
}

/** What a decoded stream must say for a reply: text, tool calls (names, args; ids when the format has them), finish, usage. */
function expectMessage(events: StreamEvent[], r: CloudReply, ids: boolean): void {
  const m = collectEvents(events);
  expect(m.error).toBeNull();
  const want: unknown[] = [];
  if (r.text) want.push({ type: 'text', text: r.text });
  for (const t of r.toolCalls ?? [])
    want.push({ type: 'tool_call', id: ids ? t.id : expect.stringMatching(/^call_/), name: t.name, args: t.args });
  expect(m.parts).toEqual(want);
  expect(m.finish).toBe(r.finish);
  expect(m.usage).toEqual(r.usage);
}

const streams: [string, (r: CloudReply) => Uint8Array, () => StreamDecoder, boolean][] = [
  ['bedrock ConverseStream (AWS event stream)', (r) => concat(converseStreamFrames(r)), () => new BedrockStreamDecoder('m'), true],
  [
    'gemini streamGenerateContent?alt=sse',
    (r) =>
      enc.encode(
        generateContentStreamEvents(r, 'm')
          .map((e) => `data: ${e}\r\n\r\n`)
          .join(''),
      ),
    () => new GeminiStreamDecoder('m'),
    false,
  ],
  [
    'openai chat.completion.chunk SSE',
    (r) => {
      const e = new OpenAIStreamEncoder(true);
      return enc.encode(
        replyEvents(r)
          .map((x) => e.encode(x))
          .join('') + e.finish(),
      );
    },
    () => new OpenAIStreamDecoder(),
    true,
  ],
  [
    'anthropic messages SSE',
    (r) => {
      const e = new AnthropicStreamEncoder();
      return enc.encode(
        replyEvents(r)
          .map((x) => e.encode(x))
          .join('') + e.finish(),
      );
    },
    () => new AnthropicStreamDecoder(),
    true,
  ],
];

describe('random chunkings of a provider stream decode to the same message (property)', () => {
  it.each(streams)('%s', (_name, encode, decoder, ids) => {
    fc.assert(
      fc.property(arbReply, fc.array(fc.nat(4000), { maxLength: 12 }), (r, points) => {
        const bytes = encode(r);
        const whole = decodeAll(decoder(), [bytes]);
        expectMessage(whole, r, ids);
        const pieces = decodeAll(
          decoder(),
          cut(
            bytes,
            points.map((p) => p % (bytes.length + 1)),
          ),
        );
        if (ids) expect(pieces).toEqual(whole);
        else expectMessage(pieces, r, ids); // Gemini's minted ids differ per decode
      }),
      { numRuns: 120, seed: 11 },
    );
  });

  it('byte by byte, a Bedrock stream through the translator gives the same client stream as in one piece', () => {
    const r: CloudReply = {
      text: 'héllo wörld ✓',
      chunks: 4,
      toolCalls: [{ id: 'tooluse_x', name: 'f', args: { a: 'é' } }],
      finish: 'tool_calls',
      usage: { input: 1, output: 2 },
    };
    const bytes = concat(converseStreamFrames(r));
    const run = (chunks: Uint8Array[]) => {
      const t = streamTranslator(XLATE_MESSAGES_TO_BEDROCK, { stream: true }, { model: 'm' });
      let out = '';
      for (const c of chunks) out += t.push(c);
      return (out + t.end()).replace(/"id":"msg_[A-Za-z0-9]+"/, '"id":"msg"');
    };
    const single = run([bytes]);
    expect(run([...bytes].map((b) => Uint8Array.of(b)))).toBe(single);
    expect(single).toContain('"stop_reason":"tool_use"');
  });

  it('a corrupt event-stream frame ends the client stream with an error event, not a crash', () => {
    const bytes = concat(converseStreamFrames({ text: 'abc', usage: { input: 1, output: 1 } }));
    const bad = Buffer.from(bytes);
    bad[bad.length - 1] ^= 0xff; // last frame's CRC
    const t = streamTranslator(XLATE_CHAT_TO_BEDROCK, { stream: true });
    const out = t.push(bad) + t.end();
    expect(out).toContain('event: error');
    expect(out).not.toContain('[DONE]');
  });
});

describe('complete answers of each provider decode to the same message as its stream', () => {
  it('bedrock and gemini JSON answers', () => {
    fc.assert(
      fc.property(arbReply, (r) => {
        const b = decodeBedrockResponse(converseResponse(r), 'm');
        expect(b.parts).toEqual([
          ...(r.text ? [{ type: 'text', text: r.text }] : []),
          ...r.toolCalls!.map((t) => ({ type: 'tool_call', id: t.id, name: t.name, args: t.args })),
        ]);
        expect([b.finish, b.usage]).toEqual([r.finish, r.usage]);
        const g = decodeGeminiResponse(generateContentResponse(r, 'm'));
        expect(g.parts.map((p) => (p.type === 'text' ? p : { ...p, id: p.id.slice(0, 5) }))).toEqual([
          ...(r.text ? [{ type: 'text', text: r.text }] : []),
          ...r.toolCalls!.map((t) => ({ type: 'tool_call', id: 'call_', name: t.name, args: t.args })),
        ]);
        expect([g.finish, g.usage]).toEqual([r.finish, r.usage]);
      }),
      { numRuns: 80, seed: 5 },
    );
  });

  it('translated to OpenAI and Anthropic clients', () => {
    const r: CloudReply = {
      text: 'hi',
      toolCalls: [{ id: 'tooluse_1', name: 'f', args: { x: 1 } }],
      finish: 'tool_calls',
      usage: { input: 3, output: 4 },
    };
    const oa = JSON.parse(
      translateResponseBody(XLATE_CHAT_TO_BEDROCK, Buffer.from(JSON.stringify(converseResponse(r))), { model: 'mid' })!.toString(),
    );
    expect(oa).toMatchObject({
      object: 'chat.completion',
      model: 'mid',
      choices: [
        {
          message: { content: 'hi', tool_calls: [{ id: 'tooluse_1', function: { name: 'f', arguments: '{"x":1}' } }] },
          finish_reason: 'tool_calls',
        },
      ],
      usage: { prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 },
    });
    const an = JSON.parse(
      translateResponseBody(XLATE_MESSAGES_TO_GEMINI, Buffer.from(JSON.stringify(generateContentResponse(r, 'gemini-x'))))!.toString(),
    );
    expect(an).toMatchObject({
      type: 'message',
      model: 'gemini-x',
      content: [
        { type: 'text', text: 'hi' },
        { type: 'tool_use', name: 'f', input: { x: 1 } },
      ],
      stop_reason: 'tool_use',
      usage: { input_tokens: 3, output_tokens: 4 },
    });
    expect(an.content[1].id).toMatch(/^call_/);
  });
});

// ───────────────────────────── 2. requests ─────────────────────────────

const TOOL_NAMES = ['get_weather', 'search', 'lookup'];
const arbTool = (name: string): fc.Arbitrary<Tool> =>
  fc.record({
    name: fc.constant(name),
    description: fc.option(text, { nil: null }),
    parameters: fc.record({
      type: fc.constant('object'),
      properties: fc.dictionary(word, fc.record({ type: fc.constantFrom('string', 'integer', 'boolean'), description: text }), {
        minKeys: 1,
        maxKeys: 3,
      }),
    }),
  });
const arbImage = fc.record({
  type: fc.constant('image' as const),
  mediaType: fc.constantFrom('image/png', 'image/jpeg', 'image/gif', 'image/webp'),
  data: fc.base64String({ minLength: 4, maxLength: 16 }),
});

/** A random conversation: alternating turns from the user; tool results answer the previous turn's calls. */
const arbRequest: fc.Arbitrary<ChatRequest> = fc
  .record({
    system: fc.array(text, { maxLength: 2 }),
    turns: fc.array(
      fc.record({
        userText: fc.array(
          fc.oneof(
            text.map((t) => ({ type: 'text' as const, text: t })),
            arbImage,
          ),
          { minLength: 1, maxLength: 3 },
        ),
        assistantText: fc.option(text, { nil: undefined }),
        calls: fc.array(fc.record({ name: fc.constantFrom(...TOOL_NAMES), args }), { maxLength: 2 }),
        results: fc.array(fc.record({ content: text, isError: fc.boolean() }), { minLength: 2, maxLength: 2 }),
      }),
      { minLength: 1, maxLength: 3 },
    ),
    withTools: fc.boolean(),
    tools: fc.tuple(...TOOL_NAMES.map(arbTool)),
    toolChoice: fc.constantFrom(
      null,
      { type: 'auto' as const },
      { type: 'any' as const },
      { type: 'none' as const },
      { type: 'tool' as const, name: 'search' },
    ),
    maxTokens: fc.option(fc.integer({ min: 1, max: 8192 }), { nil: null }),
    temperature: fc.option(
      fc.integer({ min: 0, max: 200 }).map((n) => n / 100),
      { nil: null },
    ),
    topP: fc.option(
      fc.integer({ min: 1, max: 100 }).map((n) => n / 100),
      { nil: null },
    ),
    stop: fc.option(fc.array(text, { minLength: 1, maxLength: 2 }), { nil: null }),
    stream: fc.boolean(),
    user: fc.option(word, { nil: null }),
  })
  .map((g): ChatRequest => {
    const messages: ChatRequest['messages'] = [];
    let pending: { id: string; name: string }[] = [];
    let n = 0;
    g.turns.forEach((t, i) => {
      const user: Part[] = pending.map((c, k) => ({
        type: 'tool_result',
        id: c.id,
        name: c.name,
        content: t.results[k].content,
        isError: t.results[k].isError,
      }));
      user.push(...t.userText);
      messages.push({ role: 'user', parts: user });
      const last = i === g.turns.length - 1;
      const assistant: Part[] = [];
      if (t.assistantText !== undefined) assistant.push({ type: 'text', text: t.assistantText });
      pending = last ? [] : t.calls.map((c) => ({ id: `call_${n++}`, name: c.name }));
      pending.forEach((c, k) => assistant.push({ type: 'tool_call', id: c.id, name: c.name, args: t.calls[k].args }));
      // roles alternate, as every format requires: a turn that is not the last has an answer
      if (!last && assistant.length === 0) assistant.push({ type: 'text', text: 'ok' });
      if (!last) messages.push({ role: 'assistant', parts: assistant });
    });
    return {
      model: 'vm',
      system: g.system,
      messages,
      tools: g.withTools ? [...g.tools] : null,
      toolChoice: g.withTools ? g.toolChoice : null,
      maxTokens: g.maxTokens,
      temperature: g.temperature,
      topP: g.topP,
      stop: g.stop,
      stream: g.stream,
      includeUsage: g.stream,
      user: g.user,
    };
  });

/** Consecutive same-role messages merged (every format alternates roles). */
function mergeRoles(messages: ChatRequest['messages']): ChatRequest['messages'] {
  const out: ChatRequest['messages'] = [];
  for (const m of messages) {
    const last = out[out.length - 1];
    if (last !== undefined && last.role === m.role) last.parts.push(...m.parts);
    else out.push({ role: m.role, parts: [...m.parts] });
  }
  return out;
}

/**
 * A request as a format can carry it — applied to both sides of a round trip, so it names
 * exactly what each format loses.
 */
function canon(r0: ChatRequest, format: 'openai' | 'anthropic' | 'bedrock' | 'gemini'): ChatRequest {
  const r: ChatRequest = structuredClone({ ...r0, messages: mergeRoles(r0.messages) });
  if (format === 'openai') {
    // user turns: tool results become `tool` messages ahead of the rest (OpenAI has no error
    // flag on them); an all-text rest is one string
    for (const m of r.messages) {
      const results = m.parts.flatMap((p) => (p.type === 'tool_result' ? [{ ...p, isError: false }] : []));
      const rest = m.parts.filter((p) => p.type !== 'tool_result');
      if (m.role === 'user') {
        const allText = rest.every((p) => p.type === 'text');
        const joined = rest.map((p) => (p.type === 'text' ? p.text : '')).join('');
        m.parts.splice(
          0,
          m.parts.length,
          ...results,
          ...(allText ? (rest.length > 0 ? [{ type: 'text' as const, text: joined }] : []) : rest),
        );
      } else {
        const t = m.parts.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join('');
        m.parts.splice(
          0,
          m.parts.length,
          ...(t !== '' ? [{ type: 'text' as const, text: t }] : []),
          ...m.parts.filter((p) => p.type === 'tool_call'),
        );
      }
    }
    r.includeUsage = r.stream;
  }
  if (format === 'anthropic') {
    r.system = r.system.length > 0 ? [r.system.join('\n\n')] : [];
    r.maxTokens ??= 4096;
    r.includeUsage = r.stream;
  }
  if (format === 'bedrock' || format === 'gemini') {
    r.model = undefined;
    r.stream = false;
    r.includeUsage = false;
    r.user = null;
  }
  if (format === 'bedrock') {
    const names = new Set<string>();
    for (const m of r.messages) for (const p of m.parts) if (p.type === 'tool_call') names.add(p.name);
    if (r.toolChoice?.type === 'none') {
      r.tools = null;
      r.toolChoice = null;
    }
    if ((r.tools === null || r.tools.length === 0) && names.size > 0) {
      r.tools = [...names].map((name) => ({ name, description: null, parameters: { type: 'object', properties: {} } }));
    }
    if (r.tools === null) r.toolChoice = null;
  }
  if (format === 'gemini') {
    // Gemini carries no tool-call ids (results are matched by name)
    for (const m of r.messages)
      m.parts.splice(0, m.parts.length, ...m.parts.map((p) => (p.type === 'tool_call' || p.type === 'tool_result' ? { ...p, id: '' } : p)));
  }
  return r;
}

const DECODE = {
  openai: decodeOpenAIRequest,
  anthropic: decodeAnthropicRequest,
  bedrock: decodeBedrockRequest,
  gemini: decodeGeminiRequest,
};
const ENCODE = {
  openai: encodeOpenAIRequest,
  anthropic: encodeAnthropicRequest,
  bedrock: encodeBedrockRequest,
  gemini: encodeGeminiRequest,
};

describe('a request translated to a provider format and back keeps its content (property)', () => {
  it.each(['openai', 'anthropic', 'bedrock', 'gemini'] as const)('internal model → %s → internal model', (format) => {
    fc.assert(
      fc.property(arbRequest, (r) => {
        const back = DECODE[format](JSON.parse(JSON.stringify(ENCODE[format](r))));
        expect(canon(back, format)).toEqual(canon(r, format));
      }),
      { numRuns: 150, seed: 3 },
    );
  });

  it.each([
    ['OpenAI client', 'anthropic', XLATE_CHAT_TO_MESSAGES],
    ['OpenAI client', 'bedrock', XLATE_CHAT_TO_BEDROCK],
    ['OpenAI client', 'gemini', XLATE_CHAT_TO_GEMINI],
    ['Anthropic client', 'openai', XLATE_MESSAGES_TO_CHAT],
    ['Anthropic client', 'bedrock', XLATE_MESSAGES_TO_BEDROCK],
    ['Anthropic client', 'gemini', XLATE_MESSAGES_TO_GEMINI],
  ] as const)('%s → %s: the upstream body decodes to the client request', (client, format, mode) => {
    const clientFormat = client === 'OpenAI client' ? 'openai' : 'anthropic';
    fc.assert(
      fc.property(arbRequest, (r) => {
        const body = JSON.parse(JSON.stringify(ENCODE[clientFormat](r)));
        const upstream = DECODE[format](JSON.parse(JSON.stringify(translateRequest(mode, body))));
        const sent = DECODE[clientFormat](body);
        expect(canon(canon(upstream, clientFormat), format)).toEqual(canon(canon(sent, clientFormat), format));
      }),
      { numRuns: 100, seed: 4 },
    );
  });
});

describe('override_params on translated bodies', () => {
  it('OpenAI-named parameters reach Bedrock inferenceConfig and Gemini generationConfig; native keys merge as written', () => {
    const b = translateRequest(XLATE_CHAT_TO_BEDROCK, { messages: [{ role: 'user', content: 'x' }], max_tokens: 5 });
    applyOverrides(XLATE_CHAT_TO_BEDROCK, b, { temperature: 0.1, stop: 'END', additionalModelRequestFields: { top_k: 3 } });
    expect(b).toMatchObject({
      inferenceConfig: { maxTokens: 5, temperature: 0.1, stopSequences: ['END'] },
      additionalModelRequestFields: { top_k: 3 },
    });
    const g = translateRequest(XLATE_CHAT_TO_GEMINI, { messages: [{ role: 'user', content: 'x' }] });
    applyOverrides(XLATE_CHAT_TO_GEMINI, g, { max_tokens: 9, generationConfig: { topK: 4 } });
    expect(g.generationConfig).toEqual({ maxOutputTokens: 9, topK: 4 });
    const a = translateRequest(XLATE_CHAT_TO_MESSAGES, { messages: [{ role: 'user', content: 'x' }] });
    applyOverrides(XLATE_CHAT_TO_MESSAGES, a, { max_tokens: 7, metadata: { user_id: 'u' } });
    expect(a).toMatchObject({ max_tokens: 7, metadata: { user_id: 'u' } });
  });
});

describe('the gateway never crashes on input (property)', () => {
  const modes = [
    XLATE_CHAT_TO_MESSAGES,
    XLATE_MESSAGES_TO_CHAT,
    XLATE_CHAT_TO_BEDROCK,
    XLATE_MESSAGES_TO_BEDROCK,
    XLATE_CHAT_TO_GEMINI,
    XLATE_MESSAGES_TO_GEMINI,
  ];
  const anyJson = fc.jsonValue({ maxDepth: 4 });
  const shaped = fc.record(
    {
      messages: fc.array(
        fc.record(
          { role: fc.constantFrom('user', 'assistant', 'tool', 'system', 7), content: anyJson, tool_calls: anyJson, tool_call_id: anyJson },
          { requiredKeys: [] },
        ),
      ),
      system: anyJson,
      tools: anyJson,
      tool_choice: anyJson,
      stop: anyJson,
      max_tokens: anyJson,
      stream: anyJson,
      stream_options: anyJson,
      metadata: anyJson,
    },
    { requiredKeys: [] },
  );

  it('request translation throws nothing but TranslationError, whatever the body', () => {
    fc.assert(
      fc.property(fc.constantFrom(...modes), fc.oneof(shaped, fc.dictionary(fc.string(), anyJson)), (mode, body) => {
        try {
          JSON.stringify(translateRequest(mode, body as Record<string, unknown>));
        } catch (err) {
          expect((err as Error).name).toBe('TranslationError');
        }
      }),
      { numRuns: 400, seed: 21 },
    );
  });

  it('response, error and stream translation accept any bytes', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...modes),
        fc.oneof(
          anyJson.map((v) => JSON.stringify(v)),
          fc.string(),
        ),
        fc.array(fc.nat(64), { maxLength: 5 }),
        (mode, text, cuts) => {
          const bytes = Buffer.from(text);
          translateResponseBody(mode, bytes);
          JSON.parse(translateErrorBody(mode, 500, bytes, 'p').toString());
          const t = streamTranslator(mode, null);
          for (const c of cut(bytes, cuts)) t.push(c);
          t.end();
          const frames = streamTranslator(mode, { stream: true });
          frames.push(Buffer.concat([Buffer.from([0, 0, 0, 40]), bytes]));
          frames.end();
        },
      ),
      { numRuns: 400, seed: 22 },
    );
  });
});
