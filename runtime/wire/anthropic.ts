/**
 * Anthropic Messages ⇄ the internal model (./model.ts): requests, responses, SSE events.
 * Anthropic is a client format (/v1/messages) and an upstream format (anthropic providers,
 * `backend_format: anthropic`).
 */
import { isObject } from '../table/util.js';
import {
  emptyRequest,
  eventData,
  linkToolNames,
  mintId,
  num,
  pushMessage,
  statusOfKind,
  str,
  textOf,
  type ChatRequest,
  type ChatResponse,
  type ErrorKind,
  type FinishReason,
  type Json,
  type Part,
  type StreamDecoder,
  type StreamEncoder,
  type StreamEvent,
  type ToolChoice,
} from './model.js';
import { SseParser, formatSse } from './sse.js';

/** Anthropic requires max_tokens; used when an OpenAI client sent none. */
export const DEFAULT_ANTHROPIC_MAX_TOKENS = 4096;

// ───────────────────────────── requests ─────────────────────────────

function blockParts(b: Json, out: Part[]): void {
  switch (b.type) {
    case 'text':
      out.push({ type: 'text', text: str(b.text) });
      break;
    case 'image': {
      const s = isObject(b.source) ? b.source : {};
      if (s.type === 'base64') out.push({ type: 'image', mediaType: str(s.media_type), data: str(s.data) });
      else if (s.type === 'url') out.push({ type: 'image_url', url: str(s.url) });
      break;
    }
    case 'tool_use':
      out.push({ type: 'tool_call', id: str(b.id), name: str(b.name), args: b.input ?? {} });
      break;
    case 'tool_result':
      out.push({
        type: 'tool_result',
        id: str(b.tool_use_id),
        name: '',
        content: typeof b.content === 'string' ? b.content : textOf(b.content),
        isError: b.is_error === true,
      });
      break;
    default:
      break; // thinking, documents, …: not carried across formats
  }
}

/** Anthropic messages request body → internal request. */
export function decodeAnthropicRequest(body: Json): ChatRequest {
  const r = emptyRequest();
  r.model = body.model;
  const sys = typeof body.system === 'string' ? body.system : textOf(body.system);
  if (sys !== '') r.system.push(sys);
  for (const m of Array.isArray(body.messages) ? body.messages : []) {
    if (!isObject(m)) continue;
    const role = m.role === 'assistant' ? 'assistant' : 'user';
    const parts: Part[] = [];
    if (typeof m.content === 'string') {
      if (m.content !== '' || role === 'user') parts.push({ type: 'text', text: m.content });
    } else if (Array.isArray(m.content)) {
      for (const b of m.content) if (isObject(b)) blockParts(b, parts);
    }
    pushMessage(r.messages, role, parts);
  }
  linkToolNames(r.messages);
  r.maxTokens = num(body.max_tokens);
  r.temperature = num(body.temperature);
  r.topP = num(body.top_p);
  if (Array.isArray(body.stop_sequences)) r.stop = body.stop_sequences.map(str);
  r.stream = body.stream === true;
  // an Anthropic client always gets usage (message_start / message_delta)
  r.includeUsage = r.stream;
  if (isObject(body.metadata) && typeof body.metadata.user_id === 'string') r.user = body.metadata.user_id;
  if (Array.isArray(body.tools)) {
    r.tools = body.tools.filter(isObject).map((t) => ({
      name: str(t.name),
      description: typeof t.description === 'string' ? t.description : null,
      parameters: isObject(t.input_schema) ? t.input_schema : { type: 'object' },
    }));
  }
  const tc = body.tool_choice;
  let choice: ToolChoice | null = null;
  if (isObject(tc)) {
    if (tc.type === 'auto') choice = { type: 'auto' };
    else if (tc.type === 'any') choice = { type: 'any' };
    else if (tc.type === 'none') choice = { type: 'none' };
    else if (tc.type === 'tool') choice = { type: 'tool', name: str(tc.name) };
  }
  r.toolChoice = choice;
  return r;
}

function anthropicBlock(p: Part): Json {
  switch (p.type) {
    case 'text':
      return { type: 'text', text: p.text };
    case 'image':
      return { type: 'image', source: { type: 'base64', media_type: p.mediaType, data: p.data } };
    case 'image_url':
      return { type: 'image', source: { type: 'url', url: p.url } };
    case 'tool_call':
      return { type: 'tool_use', id: p.id, name: p.name, input: p.args };
    case 'tool_result': {
      const b: Json = { type: 'tool_result', tool_use_id: p.id, content: p.content };
      if (p.isError) b.is_error = true;
      return b;
    }
  }
}

/** Internal request → Anthropic messages body (`model` as the client sent it; the engine sets the target's). */
export function encodeAnthropicRequest(r: ChatRequest): Json {
  const messages: Json[] = [];
  for (const m of r.messages) {
    const blocks = m.parts.map(anthropicBlock);
    const last = messages[messages.length - 1];
    if (last !== undefined && last.role === m.role) (last.content as Json[]).push(...blocks);
    else if (blocks.length > 0) messages.push({ role: m.role, content: blocks });
  }
  const out: Json = { model: r.model, messages };
  if (r.system.length > 0) out.system = r.system.join('\n\n');
  out.max_tokens = r.maxTokens ?? DEFAULT_ANTHROPIC_MAX_TOKENS;
  if (r.temperature !== null) out.temperature = r.temperature;
  if (r.topP !== null) out.top_p = r.topP;
  if (r.stop !== null) out.stop_sequences = r.stop;
  if (r.stream) out.stream = true;
  if (r.user !== null) out.metadata = { user_id: r.user };
  if (r.tools !== null) {
    out.tools = r.tools.map((t) => {
      const tool: Json = { name: t.name, input_schema: t.parameters };
      if (t.description !== null) tool.description = t.description;
      return tool;
    });
  }
  const tc = r.toolChoice;
  if (tc !== null) out.tool_choice = tc.type === 'tool' ? { type: 'tool', name: tc.name } : { type: tc.type };
  return out;
}

// ───────────────────────────── responses ─────────────────────────────

const STOP_TO_FINISH: Readonly<Record<string, FinishReason>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
  pause_turn: 'stop',
  model_context_window_exceeded: 'length',
};
const FINISH_TO_STOP: Readonly<Record<FinishReason, string>> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  content_filter: 'refusal',
};

export const anthropicFinish = (stopReason: unknown): FinishReason => STOP_TO_FINISH[str(stopReason)] ?? 'stop';

/** Anthropic message → internal response. */
export function decodeAnthropicResponse(msg: Json): ChatResponse {
  const parts: ChatResponse['parts'] = [];
  for (const b of Array.isArray(msg.content) ? msg.content : []) {
    if (!isObject(b)) continue;
    if (b.type === 'text') {
      const last = parts[parts.length - 1];
      if (last !== undefined && last.type === 'text') parts[parts.length - 1] = { type: 'text', text: last.text + str(b.text) };
      else parts.push({ type: 'text', text: str(b.text) });
    } else if (b.type === 'tool_use') parts.push({ type: 'tool_call', id: str(b.id), name: str(b.name), args: b.input ?? {} });
  }
  const u = isObject(msg.usage) ? msg.usage : {};
  return {
    id: str(msg.id) || null,
    model: str(msg.model) || null,
    parts,
    finish: anthropicFinish(msg.stop_reason),
    usage: { input: Number(u.input_tokens ?? 0), output: Number(u.output_tokens ?? 0) },
  };
}

/** Internal response → Anthropic message. */
export function encodeAnthropicResponse(r: ChatResponse): Json {
  return {
    id: r.id ?? mintId('msg_'),
    type: 'message',
    role: 'assistant',
    model: r.model ?? '',
    content: r.parts.map((p) =>
      p.type === 'text' ? { type: 'text', text: p.text } : { type: 'tool_use', id: p.id, name: p.name, input: p.args },
    ),
    stop_reason: FINISH_TO_STOP[r.finish],
    stop_sequence: null,
    usage: { input_tokens: r.usage.input, output_tokens: r.usage.output },
  };
}

/** Anthropic error type names by kind. */
export const ANTHROPIC_ERROR_TYPE: Readonly<Record<ErrorKind, string>> = {
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  permission: 'permission_error',
  not_found: 'not_found_error',
  rate_limit: 'rate_limit_error',
  overloaded: 'overloaded_error',
  server: 'api_error',
};

/** The kind of an Anthropic error type name, or null. */
export function anthropicErrorKind(type: string): ErrorKind | null {
  for (const [k, v] of Object.entries(ANTHROPIC_ERROR_TYPE)) if (v === type) return k as ErrorKind;
  return type === 'request_too_large' ? 'invalid_request' : null;
}

/**
 * The SPEC §3 error envelope as an Anthropic client reads it: Anthropic's `{type: "error",
 * error: {type, message}}` with GoModel's `code`, `param`, `provider`, `status_code` beside.
 */
export function anthropicErrorEnvelope(kind: ErrorKind, message: string, provider: string, status: number): Json {
  return { type: 'error', error: { type: ANTHROPIC_ERROR_TYPE[kind], message, code: null, param: null, provider, status_code: status } };
}

// ───────────────────────────── streams ─────────────────────────────

/** Anthropic SSE → events. */
export class AnthropicStreamDecoder implements StreamDecoder {
  #parser = new SseParser();
  /** content block index → tool ordinal */
  #tools = new Map<number, number>();

  push(chunk: Uint8Array): StreamEvent[] {
    const out: StreamEvent[] = [];
    for (const ev of this.#parser.push(chunk)) this.#event(ev.event, ev.data, out);
    return out;
  }

  end(): StreamEvent[] {
    const out: StreamEvent[] = [];
    for (const ev of this.#parser.end()) this.#event(ev.event, ev.data, out);
    return out;
  }

  #event(event: string, data: string, out: StreamEvent[]): void {
    const d = eventData(data);
    if (d === null) return;
    switch (str(d.type) || event) {
      case 'message_start': {
        const m = isObject(d.message) ? d.message : {};
        const input = isObject(m.usage) ? num(m.usage.input_tokens) : null;
        out.push({ t: 'start', id: str(m.id) || null, model: str(m.model) || null, input });
        return;
      }
      case 'content_block_start': {
        const b = isObject(d.content_block) ? d.content_block : {};
        if (b.type === 'tool_use') {
          const index = this.#tools.size;
          this.#tools.set(Number(d.index), index);
          out.push({ t: 'tool_start', index, id: str(b.id), name: str(b.name) });
        } else if (b.type === 'text' && typeof b.text === 'string' && b.text !== '') out.push({ t: 'text', text: b.text });
        return;
      }
      case 'content_block_delta': {
        const delta = isObject(d.delta) ? d.delta : {};
        if (delta.type === 'text_delta') out.push({ t: 'text', text: str(delta.text) });
        else if (delta.type === 'input_json_delta') {
          out.push({ t: 'tool_args', index: this.#tools.get(Number(d.index)) ?? 0, args: str(delta.partial_json) });
        }
        return;
      }
      case 'message_delta': {
        const delta = isObject(d.delta) ? d.delta : {};
        if (isObject(d.usage)) out.push({ t: 'usage', input: num(d.usage.input_tokens), output: num(d.usage.output_tokens) });
        out.push({ t: 'finish', reason: anthropicFinish(delta.stop_reason) });
        return;
      }
      case 'message_stop':
        out.push({ t: 'end' });
        return;
      case 'error': {
        const e = isObject(d.error) ? d.error : {};
        out.push({ t: 'error', kind: anthropicErrorKind(str(e.type)) ?? 'server', message: str(e.message) });
        return;
      }
      default:
        return; // ping, content_block_stop, thinking deltas
    }
  }
}

/**
 * Events → Anthropic SSE (what the Anthropic SDK parses): message_start, content blocks
 * (text, tool_use with input_json_delta), message_delta with the stop reason and usage,
 * message_stop. Errors become `event: error` with the SPEC §3 fields.
 */
export class AnthropicStreamEncoder implements StreamEncoder {
  #started = false;
  #block = -1; // index of the open content block, -1 = none
  #blockIsText = false;
  #nextBlock = 0;
  #toolBlocks = new Map<number, number>(); // tool ordinal → block index
  #stop = 'end_turn';
  #input = 0;
  #output = 0;
  #done = false;

  constructor(readonly provider: string = 'vmc') {}

  #start(id: string | null, model: string | null): string {
    if (this.#started) return '';
    this.#started = true;
    const message = {
      id: id ?? mintId('msg_'),
      type: 'message',
      role: 'assistant',
      model: model ?? '',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: this.#input, output_tokens: 0 },
    };
    return formatSse('message_start', JSON.stringify({ type: 'message_start', message }));
  }

  #close(): string {
    if (this.#block < 0) return '';
    const out = formatSse('content_block_stop', JSON.stringify({ type: 'content_block_stop', index: this.#block }));
    this.#block = -1;
    return out;
  }

  encode(e: StreamEvent): string {
    if (this.#done) return '';
    switch (e.t) {
      case 'start':
        if (e.input !== null) this.#input = e.input;
        return this.#start(e.id, e.model);
      case 'text': {
        let out = this.#start(null, null);
        if (this.#block < 0 || !this.#blockIsText) {
          out += this.#close();
          this.#block = this.#nextBlock++;
          this.#blockIsText = true;
          out += formatSse(
            'content_block_start',
            JSON.stringify({ type: 'content_block_start', index: this.#block, content_block: { type: 'text', text: '' } }),
          );
        }
        return (
          out +
          formatSse(
            'content_block_delta',
            JSON.stringify({ type: 'content_block_delta', index: this.#block, delta: { type: 'text_delta', text: e.text } }),
          )
        );
      }
      case 'tool_start': {
        let out = this.#start(null, null) + this.#close();
        const block = this.#nextBlock++;
        this.#toolBlocks.set(e.index, block);
        this.#block = block;
        this.#blockIsText = false;
        out += formatSse(
          'content_block_start',
          JSON.stringify({
            type: 'content_block_start',
            index: block,
            content_block: { type: 'tool_use', id: e.id, name: e.name, input: {} },
          }),
        );
        return out;
      }
      case 'tool_args': {
        const block = this.#toolBlocks.get(e.index);
        if (block === undefined || e.args === '') return '';
        return formatSse(
          'content_block_delta',
          JSON.stringify({ type: 'content_block_delta', index: block, delta: { type: 'input_json_delta', partial_json: e.args } }),
        );
      }
      case 'finish':
        this.#stop = FINISH_TO_STOP[e.reason];
        return '';
      case 'usage':
        if (e.input !== null) this.#input = e.input;
        if (e.output !== null) this.#output = e.output;
        return '';
      case 'error':
        this.#done = true;
        return formatSse('error', JSON.stringify(anthropicErrorEnvelope(e.kind, e.message, this.provider, statusOfKind(e.kind))));
      case 'end':
        return this.finish();
    }
  }

  finish(): string {
    if (this.#done) return '';
    this.#done = true;
    let out = this.#start(null, null);
    out += this.#close();
    out += formatSse(
      'message_delta',
      JSON.stringify({
        type: 'message_delta',
        delta: { stop_reason: this.#stop, stop_sequence: null },
        usage: { input_tokens: this.#input, output_tokens: this.#output },
      }),
    );
    return out + formatSse('message_stop', JSON.stringify({ type: 'message_stop' }));
  }
}
