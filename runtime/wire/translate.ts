/**
 * OpenAI Chat Completions ⇄ Anthropic Messages translation.
 *
 * A virtual model may mix providers (SPEC §2's `booking-app/gpt-prod` pools openai/gpt-4o
 * with anthropic/claude-opus-4-6; `regular` redirects to an Anthropic model), and a NeMo
 * entry may set `backend_format`. A client speaks one wire format — the one of the endpoint
 * it called — so when the chosen target speaks the other, the gateway translates the
 * request, the response, error bodies and SSE streams. This is the cold path (the body is
 * parsed and re-serialized); same-format traffic never comes here.
 *
 * Covered: system prompts, text and image parts, tools and tool calls (both directions,
 * streamed argument deltas included), tool choice, stop sequences, max tokens, temperature
 * and top_p, usage, finish/stop reasons, error envelopes. Other endpoints (`/v1/completions`,
 * `/v1/embeddings`, `/v1/responses`) have no Anthropic equivalent: such targets are skipped.
 */
import { isObject } from '../table/util.js';
import { SseParser, formatSse } from './sse.js';

/** Translation modes by (client endpoint, target wire format). */
export const XLATE_NONE = 0;
/** Client called /v1/chat/completions; target speaks Anthropic Messages. */
export const XLATE_CHAT_TO_MESSAGES = 1;
/** Client called /v1/messages; target speaks OpenAI Chat Completions. */
export const XLATE_MESSAGES_TO_CHAT = 2;
/** Client called /v1/chat/completions; target speaks Bedrock Converse. */
export const XLATE_CHAT_TO_BEDROCK = 3;
/** Client called /v1/messages; target speaks Bedrock Converse. */
export const XLATE_MESSAGES_TO_BEDROCK = 4;
/** Client called /v1/chat/completions; target speaks Gemini generateContent (Gemini API, Vertex AI). */
export const XLATE_CHAT_TO_GEMINI = 5;
/** Client called /v1/messages; target speaks Gemini generateContent. */
export const XLATE_MESSAGES_TO_GEMINI = 6;

/** The body formats a client may speak (by endpoint: /v1/messages is Anthropic, the rest OpenAI). */
export type ClientFormat = 'openai' | 'anthropic';
/** The body formats spoken upstream (a provider module's `wire`). */
export type UpstreamFormat = 'openai' | 'anthropic' | 'bedrock' | 'gemini';

/** The XLATE_* mode for a client format and an upstream format (XLATE_NONE when they match). */
export function xlateMode(client: ClientFormat, upstream: UpstreamFormat): number {
  if (client === upstream) return XLATE_NONE;
  switch (upstream) {
    case 'openai':
      return XLATE_MESSAGES_TO_CHAT;
    case 'anthropic':
      return XLATE_CHAT_TO_MESSAGES;
    case 'bedrock':
      return client === 'openai' ? XLATE_CHAT_TO_BEDROCK : XLATE_MESSAGES_TO_BEDROCK;
    case 'gemini':
      return client === 'openai' ? XLATE_CHAT_TO_GEMINI : XLATE_MESSAGES_TO_GEMINI;
  }
}

/** Anthropic requires max_tokens; used when an OpenAI client sent none. */
export const DEFAULT_ANTHROPIC_MAX_TOKENS = 4096;

type Json = Record<string, unknown>;

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));

/** `JSON.parse`, or undefined for text that is not JSON. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseArgs(s: unknown): unknown {
  if (typeof s !== 'string' || s === '') return {};
  try {
    return JSON.parse(s);
  } catch {
    return { _raw: s };
  }
}

// ───────────────────────────── requests ─────────────────────────────

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (isObject(p) && typeof p.text === 'string' ? p.text : '')).join('');
  return '';
}

function openaiPartToAnthropic(p: unknown): Json | null {
  if (!isObject(p)) return null;
  if (p.type === 'text') return { type: 'text', text: str(p.text) };
  if (p.type === 'image_url') {
    const url = isObject(p.image_url) ? str(p.image_url.url) : str(p.image_url);
    const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
    return m
      ? { type: 'image', source: { type: 'base64', media_type: m[1], data: m[2] } }
      : { type: 'image', source: { type: 'url', url } };
  }
  return null;
}

/** Appends a message, merging with the previous one when the role repeats (Anthropic alternates). */
function pushAnthropic(out: Json[], role: string, blocks: Json[]): void {
  if (blocks.length === 0) return;
  const last = out[out.length - 1];
  if (last !== undefined && last.role === role) (last.content as Json[]).push(...blocks);
  else out.push({ role, content: blocks });
}

/** OpenAI chat request body → Anthropic messages body (model left to the caller). */
export function chatToMessagesRequest(body: Json): Json {
  const system: string[] = [];
  const messages: Json[] = [];
  for (const m of Array.isArray(body.messages) ? body.messages : []) {
    if (!isObject(m)) continue;
    const role = m.role;
    if (role === 'system' || role === 'developer') {
      system.push(textOf(m.content));
    } else if (role === 'tool') {
      pushAnthropic(messages, 'user', [{ type: 'tool_result', tool_use_id: str(m.tool_call_id), content: textOf(m.content) }]);
    } else if (role === 'assistant') {
      const blocks: Json[] = [];
      const text = textOf(m.content);
      if (text !== '') blocks.push({ type: 'text', text });
      if (Array.isArray(m.tool_calls)) {
        for (const tc of m.tool_calls) {
          if (!isObject(tc) || !isObject(tc.function)) continue;
          blocks.push({ type: 'tool_use', id: str(tc.id), name: str(tc.function.name), input: parseArgs(tc.function.arguments) });
        }
      }
      pushAnthropic(messages, 'assistant', blocks);
    } else {
      const blocks: Json[] = [];
      if (typeof m.content === 'string') blocks.push({ type: 'text', text: m.content });
      else if (Array.isArray(m.content))
        for (const p of m.content) {
          const b = openaiPartToAnthropic(p);
          if (b !== null) blocks.push(b);
        }
      pushAnthropic(messages, 'user', blocks);
    }
  }
  const out: Json = { model: body.model, messages };
  if (system.length > 0) out.system = system.join('\n\n');
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  out.max_tokens = typeof maxTokens === 'number' ? maxTokens : DEFAULT_ANTHROPIC_MAX_TOKENS;
  if (typeof body.temperature === 'number') out.temperature = body.temperature;
  if (typeof body.top_p === 'number') out.top_p = body.top_p;
  if (typeof body.stop === 'string') out.stop_sequences = [body.stop];
  else if (Array.isArray(body.stop)) out.stop_sequences = body.stop;
  if (body.stream === true) out.stream = true;
  if (typeof body.user === 'string') out.metadata = { user_id: body.user };
  if (Array.isArray(body.tools)) {
    out.tools = body.tools
      .filter((t): t is Json => isObject(t) && isObject(t.function))
      .map((t) => {
        const f = t.function as Json;
        const tool: Json = { name: f.name, input_schema: isObject(f.parameters) ? f.parameters : { type: 'object', properties: {} } };
        if (typeof f.description === 'string') tool.description = f.description;
        return tool;
      });
  }
  const tc = body.tool_choice;
  if (tc === 'auto') out.tool_choice = { type: 'auto' };
  else if (tc === 'required') out.tool_choice = { type: 'any' };
  else if (tc === 'none') out.tool_choice = { type: 'none' };
  else if (isObject(tc) && isObject(tc.function)) out.tool_choice = { type: 'tool', name: tc.function.name };
  return out;
}

function anthropicBlocksToOpenaiContent(content: unknown): string | Json[] {
  if (typeof content === 'string') return content;
  const parts: Json[] = [];
  let allText = true;
  for (const b of Array.isArray(content) ? content : []) {
    if (!isObject(b)) continue;
    if (b.type === 'text') parts.push({ type: 'text', text: str(b.text) });
    else if (b.type === 'image' && isObject(b.source)) {
      allText = false;
      const s = b.source;
      const url = s.type === 'base64' ? `data:${str(s.media_type)};base64,${str(s.data)}` : str(s.url);
      parts.push({ type: 'image_url', image_url: { url } });
    }
  }
  return allText ? parts.map((p) => p.text as string).join('') : parts;
}

/** Anthropic messages request body → OpenAI chat body (model left to the caller). */
export function messagesToChatRequest(body: Json): Json {
  const messages: Json[] = [];
  const sys = body.system;
  if (typeof sys === 'string' && sys !== '') messages.push({ role: 'system', content: sys });
  else if (Array.isArray(sys)) messages.push({ role: 'system', content: textOf(sys) });
  for (const m of Array.isArray(body.messages) ? body.messages : []) {
    if (!isObject(m)) continue;
    const blocks = Array.isArray(m.content) ? (m.content as unknown[]).filter(isObject) : null;
    if (m.role === 'assistant') {
      const msg: Json = {
        role: 'assistant',
        content: blocks === null ? str(m.content) : textOf(blocks.filter((b) => b.type === 'text')) || null,
      };
      const calls = (blocks ?? []).filter((b) => b.type === 'tool_use');
      if (calls.length > 0) {
        msg.tool_calls = calls.map((b) => ({
          id: str(b.id),
          type: 'function',
          function: { name: str(b.name), arguments: JSON.stringify(b.input ?? {}) },
        }));
      }
      messages.push(msg);
    } else {
      const results = (blocks ?? []).filter((b) => b.type === 'tool_result');
      for (const r of results) {
        messages.push({
          role: 'tool',
          tool_call_id: str(r.tool_use_id),
          content: typeof r.content === 'string' ? r.content : textOf(r.content),
        });
      }
      const rest = blocks === null ? m.content : blocks.filter((b) => b.type !== 'tool_result');
      if (blocks === null || (rest as Json[]).length > 0) messages.push({ role: 'user', content: anthropicBlocksToOpenaiContent(rest) });
    }
  }
  const out: Json = { model: body.model, messages };
  if (typeof body.max_tokens === 'number') out.max_tokens = body.max_tokens;
  if (typeof body.temperature === 'number') out.temperature = body.temperature;
  if (typeof body.top_p === 'number') out.top_p = body.top_p;
  if (Array.isArray(body.stop_sequences)) out.stop = body.stop_sequences;
  if (body.stream === true) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  if (isObject(body.metadata) && typeof body.metadata.user_id === 'string') out.user = body.metadata.user_id;
  if (Array.isArray(body.tools)) {
    out.tools = body.tools.filter(isObject).map((t) => ({
      type: 'function',
      function: {
        name: t.name,
        ...(typeof t.description === 'string' ? { description: t.description } : {}),
        parameters: t.input_schema ?? { type: 'object' },
      },
    }));
  }
  const tc = body.tool_choice;
  if (isObject(tc)) {
    if (tc.type === 'auto') out.tool_choice = 'auto';
    else if (tc.type === 'any') out.tool_choice = 'required';
    else if (tc.type === 'none') out.tool_choice = 'none';
    else if (tc.type === 'tool') out.tool_choice = { type: 'function', function: { name: tc.name } };
  }
  return out;
}

// ───────────────────────────── responses ─────────────────────────────

const STOP_TO_FINISH: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
  pause_turn: 'stop',
};
const FINISH_TO_STOP: Record<string, string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Anthropic message → OpenAI chat.completion. */
export function messagesToChatResponse(msg: Json): Json {
  let text = '';
  const toolCalls: Json[] = [];
  for (const b of Array.isArray(msg.content) ? msg.content : []) {
    if (!isObject(b)) continue;
    if (b.type === 'text') text += str(b.text);
    else if (b.type === 'tool_use')
      toolCalls.push({ id: str(b.id), type: 'function', function: { name: str(b.name), arguments: JSON.stringify(b.input ?? {}) } });
  }
  const message: Json = { role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text, refusal: null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const u = isObject(msg.usage) ? msg.usage : {};
  const input = Number(u.input_tokens ?? 0);
  const output = Number(u.output_tokens ?? 0);
  return {
    id: str(msg.id) || `chatcmpl-${Date.now()}`,
    object: 'chat.completion',
    created: nowSeconds(),
    model: str(msg.model),
    choices: [{ index: 0, message, logprobs: null, finish_reason: STOP_TO_FINISH[str(msg.stop_reason)] ?? 'stop' }],
    usage: { prompt_tokens: input, completion_tokens: output, total_tokens: input + output },
  };
}

/** OpenAI chat.completion → Anthropic message. */
export function chatToMessagesResponse(res: Json): Json {
  const choice = Array.isArray(res.choices) && isObject(res.choices[0]) ? res.choices[0] : {};
  const m = isObject(choice.message) ? choice.message : {};
  const content: Json[] = [];
  const text = textOf(m.content);
  if (text !== '') content.push({ type: 'text', text });
  if (Array.isArray(m.tool_calls)) {
    for (const tc of m.tool_calls) {
      if (isObject(tc) && isObject(tc.function))
        content.push({ type: 'tool_use', id: str(tc.id), name: str(tc.function.name), input: parseArgs(tc.function.arguments) });
    }
  }
  const u = isObject(res.usage) ? res.usage : {};
  return {
    id: str(res.id) || `msg_${Date.now()}`,
    type: 'message',
    role: 'assistant',
    model: str(res.model),
    content,
    stop_reason: FINISH_TO_STOP[str(choice.finish_reason)] ?? 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: Number(u.prompt_tokens ?? 0), output_tokens: Number(u.completion_tokens ?? 0) },
  };
}

const ANTHROPIC_TO_OPENAI_ERROR: Record<string, string> = {
  invalid_request_error: 'invalid_request_error',
  authentication_error: 'authentication_error',
  permission_error: 'permission_error',
  not_found_error: 'not_found_error',
  rate_limit_error: 'rate_limit_error',
  api_error: 'server_error',
  overloaded_error: 'server_error',
};

/** OpenAI's error envelope (what OpenAI SDKs parse). */
function openaiError(type: string, message: string): Json {
  return { error: { message, type, param: null, code: null } };
}

/** Anthropic's error envelope (what Anthropic SDKs parse). */
function anthropicError(type: string, message: string): Json {
  return { type: 'error', error: { type, message } };
}

/** Error body of the target's format → the client's format (status unchanged). */
export function translateErrorBody(mode: number, status: number, body: Buffer): Buffer {
  const v = parseJson(body.toString('utf8'));
  const e = isObject(v) && isObject(v.error) ? v.error : null;
  const message = e !== null ? str(e.message) : body.toString('utf8').slice(0, 2000) || `upstream status ${status}`;
  if (mode === XLATE_CHAT_TO_MESSAGES) {
    const type =
      ANTHROPIC_TO_OPENAI_ERROR[str(e?.type)] ??
      (status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error');
    return Buffer.from(JSON.stringify(openaiError(type, message)));
  }
  const type =
    status === 429
      ? 'rate_limit_error'
      : status === 401
        ? 'authentication_error'
        : status === 403
          ? 'permission_error'
          : status === 404
            ? 'not_found_error'
            : status >= 500
              ? 'api_error'
              : 'invalid_request_error';
  return Buffer.from(JSON.stringify(anthropicError(type, message)));
}

/** Translates a complete success body; returns null when the body is not the expected JSON. */
export function translateResponseBody(mode: number, body: Buffer): Buffer | null {
  const v = parseJson(body.toString('utf8'));
  if (!isObject(v)) return null;
  const out = mode === XLATE_CHAT_TO_MESSAGES ? messagesToChatResponse(v) : chatToMessagesResponse(v);
  return Buffer.from(JSON.stringify(out));
}

// ───────────────────────────── streams ─────────────────────────────

/**
 * An event's JSON data as an object: null when it is not JSON (the event is skipped); JSON
 * that is not an object (`null`, a number…) reads as `{}`, so no field access can throw.
 */
function eventData(data: string): Json | null {
  const v = parseJson(data);
  if (v === undefined) return null;
  return isObject(v) ? v : {};
}

/** Incremental stream translator: raw upstream bytes in, client-format SSE text out. */
export interface StreamTranslator {
  push(chunk: Uint8Array): string;
  /** Called when the upstream stream ended normally. */
  end(): string;
}

/** Anthropic SSE → OpenAI chat.completion.chunk SSE. */
export class MessagesToChatStream implements StreamTranslator {
  #parser = new SseParser();
  #id = `chatcmpl-${Date.now()}`;
  #model = '';
  #created = nowSeconds();
  #toolIndexByBlock = new Map<number, number>();
  #tools = 0;
  #input = 0;
  #output = 0;
  #finish: string | null = null;
  #done = false;

  constructor(readonly includeUsage: boolean) {}

  #chunk(delta: Json, finish: string | null = null, usage?: Json): string {
    const c: Json = {
      id: this.#id,
      object: 'chat.completion.chunk',
      created: this.#created,
      model: this.#model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
    if (usage !== undefined) {
      c.choices = [];
      c.usage = usage;
    }
    return formatSse(null, JSON.stringify(c));
  }

  push(chunk: Uint8Array): string {
    let out = '';
    for (const ev of this.#parser.push(chunk)) out += this.#event(ev.event, ev.data);
    return out;
  }

  #event(event: string, data: string): string {
    const d = eventData(data);
    if (d === null) return '';
    const type = str(d.type) || event;
    switch (type) {
      case 'message_start': {
        const m = isObject(d.message) ? d.message : {};
        if (typeof m.id === 'string') this.#id = m.id;
        this.#model = str(m.model);
        if (isObject(m.usage)) this.#input = Number(m.usage.input_tokens ?? 0);
        return this.#chunk({ role: 'assistant', content: '' });
      }
      case 'content_block_start': {
        const b = isObject(d.content_block) ? d.content_block : {};
        if (b.type === 'tool_use') {
          const idx = this.#tools++;
          this.#toolIndexByBlock.set(Number(d.index), idx);
          return this.#chunk({
            tool_calls: [{ index: idx, id: str(b.id), type: 'function', function: { name: str(b.name), arguments: '' } }],
          });
        }
        return '';
      }
      case 'content_block_delta': {
        const delta = isObject(d.delta) ? d.delta : {};
        if (delta.type === 'text_delta') return this.#chunk({ content: str(delta.text) });
        if (delta.type === 'input_json_delta') {
          const idx = this.#toolIndexByBlock.get(Number(d.index)) ?? 0;
          return this.#chunk({ tool_calls: [{ index: idx, function: { arguments: str(delta.partial_json) } }] });
        }
        return '';
      }
      case 'message_delta': {
        const delta = isObject(d.delta) ? d.delta : {};
        if (isObject(d.usage)) this.#output = Number(d.usage.output_tokens ?? 0);
        this.#finish = STOP_TO_FINISH[str(delta.stop_reason)] ?? 'stop';
        return this.#chunk({}, this.#finish);
      }
      case 'message_stop':
        return this.#finishStream();
      case 'error': {
        const e = isObject(d.error) ? d.error : {};
        this.#done = true;
        return formatSse('error', JSON.stringify(openaiError(ANTHROPIC_TO_OPENAI_ERROR[str(e.type)] ?? 'server_error', str(e.message))));
      }
      default:
        return ''; // ping, content_block_stop, thinking deltas
    }
  }

  #finishStream(): string {
    if (this.#done) return '';
    this.#done = true;
    let out = '';
    if (this.#finish === null) out += this.#chunk({}, 'stop');
    if (this.includeUsage)
      out += this.#chunk({}, null, {
        prompt_tokens: this.#input,
        completion_tokens: this.#output,
        total_tokens: this.#input + this.#output,
      });
    return out + 'data: [DONE]\n\n';
  }

  end(): string {
    let out = '';
    for (const ev of this.#parser.end()) out += this.#event(ev.event, ev.data);
    return out + this.#finishStream();
  }
}

/** OpenAI chat.completion.chunk SSE → Anthropic SSE. */
export class ChatToMessagesStream implements StreamTranslator {
  #parser = new SseParser();
  #started = false;
  #block = -1; // index of the open content block, -1 = none
  #blockIsText = false;
  #nextBlock = 0;
  #toolBlocks = new Map<number, number>(); // openai tool index → block index
  #stop = 'end_turn';
  #output = 0;
  #input = 0;
  #done = false;

  push(chunk: Uint8Array): string {
    let out = '';
    for (const ev of this.#parser.push(chunk)) out += this.#event(ev.event, ev.data);
    return out;
  }

  #start(c: Json): string {
    if (this.#started) return '';
    this.#started = true;
    const message = {
      id: str(c.id) || `msg_${Date.now()}`,
      type: 'message',
      role: 'assistant',
      model: str(c.model),
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 0, output_tokens: 0 },
    };
    return formatSse('message_start', JSON.stringify({ type: 'message_start', message }));
  }

  #close(): string {
    if (this.#block < 0) return '';
    const out = formatSse('content_block_stop', JSON.stringify({ type: 'content_block_stop', index: this.#block }));
    this.#block = -1;
    return out;
  }

  #event(event: string, data: string): string {
    if (data === '[DONE]') return this.#finishStream();
    const c = eventData(data);
    if (c === null) return '';
    if (event === 'error' || (isObject(c.error) && !Array.isArray(c.choices))) {
      const e = isObject(c.error) ? c.error : {};
      this.#done = true;
      return formatSse('error', JSON.stringify(anthropicError('api_error', str(e.message))));
    }
    let out = this.#start(c);
    if (isObject(c.usage)) {
      this.#input = Number(c.usage.prompt_tokens ?? 0);
      this.#output = Number(c.usage.completion_tokens ?? 0);
    }
    const choice = Array.isArray(c.choices) && isObject(c.choices[0]) ? c.choices[0] : null;
    if (choice === null) return out;
    const delta = isObject(choice.delta) ? choice.delta : {};
    if (typeof delta.content === 'string' && delta.content !== '') {
      if (this.#block < 0 || !this.#blockIsText) {
        out += this.#close();
        this.#block = this.#nextBlock++;
        this.#blockIsText = true;
        out += formatSse(
          'content_block_start',
          JSON.stringify({ type: 'content_block_start', index: this.#block, content_block: { type: 'text', text: '' } }),
        );
      }
      out += formatSse(
        'content_block_delta',
        JSON.stringify({ type: 'content_block_delta', index: this.#block, delta: { type: 'text_delta', text: delta.content } }),
      );
    }
    if (Array.isArray(delta.tool_calls)) {
      for (const tc of delta.tool_calls) {
        if (!isObject(tc)) continue;
        const ti = Number(tc.index ?? 0);
        const f = isObject(tc.function) ? tc.function : {};
        let block = this.#toolBlocks.get(ti);
        if (block === undefined) {
          out += this.#close();
          block = this.#nextBlock++;
          this.#toolBlocks.set(ti, block);
          this.#block = block;
          this.#blockIsText = false;
          out += formatSse(
            'content_block_start',
            JSON.stringify({
              type: 'content_block_start',
              index: block,
              content_block: { type: 'tool_use', id: str(tc.id), name: str(f.name), input: {} },
            }),
          );
        }
        if (typeof f.arguments === 'string' && f.arguments !== '') {
          out += formatSse(
            'content_block_delta',
            JSON.stringify({ type: 'content_block_delta', index: block, delta: { type: 'input_json_delta', partial_json: f.arguments } }),
          );
        }
      }
    }
    if (typeof choice.finish_reason === 'string') this.#stop = FINISH_TO_STOP[choice.finish_reason] ?? 'end_turn';
    return out;
  }

  #finishStream(): string {
    if (this.#done) return '';
    this.#done = true;
    let out = this.#start({});
    out += this.#close();
    out += formatSse(
      'message_delta',
      JSON.stringify({
        type: 'message_delta',
        delta: { stop_reason: this.#stop, stop_sequence: null },
        usage: { input_tokens: this.#input, output_tokens: this.#output },
      }),
    );
    out += formatSse('message_stop', JSON.stringify({ type: 'message_stop' }));
    return out;
  }

  end(): string {
    let out = '';
    for (const ev of this.#parser.end()) out += this.#event(ev.event, ev.data);
    return out + this.#finishStream();
  }
}

/** Creates the stream translator for a mode. */
export function streamTranslator(mode: number, body: Json | null): StreamTranslator {
  if (mode === XLATE_CHAT_TO_MESSAGES) {
    const so = body !== null && isObject(body.stream_options) ? body.stream_options : null;
    return new MessagesToChatStream(so !== null && so.include_usage === true);
  }
  return new ChatToMessagesStream();
}
