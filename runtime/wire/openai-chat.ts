/**
 * OpenAI Chat Completions ⇄ the internal model (./model.ts): requests, responses, SSE chunks.
 * OpenAI is a client format (/v1/chat/completions) and an upstream format (openai and azure
 * providers, `backend_format: openai`).
 */
import { isObject } from '../table/util.js';
import {
  dataUrlImage,
  emptyRequest,
  eventData,
  linkToolNames,
  mintId,
  nowSeconds,
  num,
  parseArgs,
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

// ───────────────────────────── requests ─────────────────────────────

function userParts(content: unknown): Part[] {
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  const out: Part[] = [];
  for (const p of Array.isArray(content) ? content : []) {
    if (!isObject(p)) continue;
    if (p.type === 'text') out.push({ type: 'text', text: str(p.text) });
    else if (p.type === 'image_url') {
      const url = isObject(p.image_url) ? str(p.image_url.url) : str(p.image_url);
      out.push(dataUrlImage(url) ?? { type: 'image_url', url });
    }
  }
  return out;
}

/** OpenAI chat request body → internal request. */
export function decodeOpenAIRequest(body: Json): ChatRequest {
  const r = emptyRequest();
  r.model = body.model;
  for (const m of Array.isArray(body.messages) ? body.messages : []) {
    if (!isObject(m)) continue;
    const role = m.role;
    if (role === 'system' || role === 'developer') {
      r.system.push(textOf(m.content));
    } else if (role === 'tool') {
      pushMessage(r.messages, 'user', [
        { type: 'tool_result', id: str(m.tool_call_id), name: '', content: textOf(m.content), isError: false },
      ]);
    } else if (role === 'assistant') {
      const parts: Part[] = [];
      const text = textOf(m.content);
      if (text !== '') parts.push({ type: 'text', text });
      if (Array.isArray(m.tool_calls)) {
        for (const tc of m.tool_calls) {
          if (!isObject(tc) || !isObject(tc.function)) continue;
          parts.push({ type: 'tool_call', id: str(tc.id), name: str(tc.function.name), args: parseArgs(tc.function.arguments) });
        }
      }
      pushMessage(r.messages, 'assistant', parts);
    } else {
      pushMessage(r.messages, 'user', userParts(m.content));
    }
  }
  linkToolNames(r.messages);
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  r.maxTokens = num(maxTokens);
  r.temperature = num(body.temperature);
  r.topP = num(body.top_p);
  if (typeof body.stop === 'string') r.stop = [body.stop];
  else if (Array.isArray(body.stop)) r.stop = body.stop.map(str);
  r.stream = body.stream === true;
  r.includeUsage = isObject(body.stream_options) && body.stream_options.include_usage === true;
  if (typeof body.user === 'string') r.user = body.user;
  if (Array.isArray(body.tools)) {
    r.tools = body.tools
      .filter((t): t is Json => isObject(t) && isObject(t.function))
      .map((t) => {
        const f = t.function as Json;
        return {
          name: str(f.name),
          description: typeof f.description === 'string' ? f.description : null,
          parameters: isObject(f.parameters) ? f.parameters : { type: 'object', properties: {} },
        };
      });
  }
  const tc = body.tool_choice;
  let choice: ToolChoice | null = null;
  if (tc === 'auto') choice = { type: 'auto' };
  else if (tc === 'required') choice = { type: 'any' };
  else if (tc === 'none') choice = { type: 'none' };
  else if (isObject(tc) && isObject(tc.function)) choice = { type: 'tool', name: str(tc.function.name) };
  r.toolChoice = choice;
  return r;
}

/** User-side parts → OpenAI content: a string when all text, else a parts array. */
function openaiContent(parts: Part[]): string | Json[] {
  const out: Json[] = [];
  let allText = true;
  for (const p of parts) {
    if (p.type === 'text') out.push({ type: 'text', text: p.text });
    else if (p.type === 'image') {
      allText = false;
      out.push({ type: 'image_url', image_url: { url: `data:${p.mediaType};base64,${p.data}` } });
    } else if (p.type === 'image_url') {
      allText = false;
      out.push({ type: 'image_url', image_url: { url: p.url } });
    }
  }
  return allText ? out.map((p) => p.text as string).join('') : out;
}

/** Internal request → OpenAI chat request body (`model` as the client sent it; the engine sets the target's). */
export function encodeOpenAIRequest(r: ChatRequest): Json {
  const messages: Json[] = [];
  for (const s of r.system) messages.push({ role: 'system', content: s });
  for (const m of r.messages) {
    if (m.role === 'assistant') {
      const text = m.parts
        .filter((p) => p.type === 'text')
        .map((p) => p.text)
        .join('');
      const calls = m.parts.filter((p) => p.type === 'tool_call');
      const msg: Json = { role: 'assistant', content: text === '' && (calls.length > 0 || m.parts.length === 0) ? null : text };
      if (calls.length > 0) {
        msg.tool_calls = calls.map((c) => ({
          id: c.id,
          type: 'function',
          function: { name: c.name, arguments: JSON.stringify(c.args ?? {}) },
        }));
      }
      messages.push(msg);
      continue;
    }
    for (const p of m.parts) if (p.type === 'tool_result') messages.push({ role: 'tool', tool_call_id: p.id, content: p.content });
    const rest = m.parts.filter((p) => p.type !== 'tool_result' && p.type !== 'tool_call');
    if (rest.length > 0) messages.push({ role: 'user', content: openaiContent(rest) });
  }
  const out: Json = { model: r.model, messages };
  if (r.maxTokens !== null) out.max_tokens = r.maxTokens;
  if (r.temperature !== null) out.temperature = r.temperature;
  if (r.topP !== null) out.top_p = r.topP;
  if (r.stop !== null) out.stop = r.stop;
  if (r.stream) {
    out.stream = true;
    // usage arrives in a final chunk only when asked for: the gateway always wants it
    out.stream_options = { include_usage: true };
  }
  if (r.user !== null) out.user = r.user;
  if (r.tools !== null) {
    out.tools = r.tools.map((t) => ({
      type: 'function',
      function: { name: t.name, ...(t.description !== null ? { description: t.description } : {}), parameters: t.parameters },
    }));
  }
  const tc = r.toolChoice;
  if (tc !== null) {
    out.tool_choice =
      tc.type === 'auto'
        ? 'auto'
        : tc.type === 'any'
          ? 'required'
          : tc.type === 'none'
            ? 'none'
            : { type: 'function', function: { name: tc.name } };
  }
  return out;
}

// ───────────────────────────── responses ─────────────────────────────

const FINISH_REASONS: readonly string[] = ['stop', 'length', 'tool_calls', 'content_filter'];

/** An OpenAI finish_reason as an internal one (`function_call` is the old name of tool_calls). */
export function openaiFinish(v: unknown): FinishReason {
  if (v === 'function_call') return 'tool_calls';
  return FINISH_REASONS.includes(str(v)) ? (v as FinishReason) : 'stop';
}

/** OpenAI chat.completion → internal response. */
export function decodeOpenAIResponse(res: Json): ChatResponse {
  const choice = Array.isArray(res.choices) && isObject(res.choices[0]) ? res.choices[0] : {};
  const m = isObject(choice.message) ? choice.message : {};
  const parts: ChatResponse['parts'] = [];
  const text = textOf(m.content);
  if (text !== '') parts.push({ type: 'text', text });
  if (Array.isArray(m.tool_calls)) {
    for (const tc of m.tool_calls) {
      if (isObject(tc) && isObject(tc.function))
        parts.push({ type: 'tool_call', id: str(tc.id), name: str(tc.function.name), args: parseArgs(tc.function.arguments) });
    }
  }
  const u = isObject(res.usage) ? res.usage : {};
  return {
    id: str(res.id) || null,
    model: str(res.model) || null,
    parts,
    finish: openaiFinish(choice.finish_reason),
    usage: { input: Number(u.prompt_tokens ?? 0), output: Number(u.completion_tokens ?? 0) },
  };
}

/** Internal response → OpenAI chat.completion. */
export function encodeOpenAIResponse(r: ChatResponse): Json {
  let text = '';
  const toolCalls: Json[] = [];
  for (const p of r.parts) {
    if (p.type === 'text') text += p.text;
    else toolCalls.push({ id: p.id, type: 'function', function: { name: p.name, arguments: JSON.stringify(p.args ?? {}) } });
  }
  const message: Json = { role: 'assistant', content: text === '' && toolCalls.length > 0 ? null : text, refusal: null };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  return {
    id: r.id ?? mintId('chatcmpl-'),
    object: 'chat.completion',
    created: nowSeconds(),
    model: r.model ?? '',
    choices: [{ index: 0, message, logprobs: null, finish_reason: r.finish }],
    usage: { prompt_tokens: r.usage.input, completion_tokens: r.usage.output, total_tokens: r.usage.input + r.usage.output },
  };
}

/** OpenAI error type names by kind. */
export const OPENAI_ERROR_TYPE: Readonly<Record<ErrorKind, string>> = {
  invalid_request: 'invalid_request_error',
  authentication: 'authentication_error',
  permission: 'permission_error',
  not_found: 'not_found_error',
  rate_limit: 'rate_limit_error',
  overloaded: 'server_error',
  server: 'server_error',
};

/** The kind of an OpenAI error type name, or null for names it does not know. */
export function openaiErrorKind(type: string): ErrorKind | null {
  if (type === 'server_error' || type === 'api_error') return 'server';
  for (const [k, v] of Object.entries(OPENAI_ERROR_TYPE)) if (v === type) return k as ErrorKind;
  return null;
}

// ───────────────────────────── streams ─────────────────────────────

/** OpenAI chat.completion.chunk SSE → events. */
export class OpenAIStreamDecoder implements StreamDecoder {
  #parser = new SseParser();
  #started = false;
  /** upstream tool index → ordinal */
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
    if (data === '[DONE]') {
      out.push({ t: 'end' });
      return;
    }
    const c = eventData(data);
    if (c === null) return;
    if (event === 'error' || (isObject(c.error) && !Array.isArray(c.choices))) {
      const e = isObject(c.error) ? c.error : {};
      out.push({ t: 'error', kind: openaiErrorKind(str(e.type)) ?? 'server', message: str(e.message) });
      return;
    }
    if (!this.#started) {
      this.#started = true;
      out.push({ t: 'start', id: str(c.id) || null, model: str(c.model) || null, input: null });
    }
    if (isObject(c.usage)) out.push({ t: 'usage', input: num(c.usage.prompt_tokens), output: num(c.usage.completion_tokens) });
    const choice = Array.isArray(c.choices) && isObject(c.choices[0]) ? c.choices[0] : null;
    if (choice === null) return;
    const delta = isObject(choice.delta) ? choice.delta : {};
    if (typeof delta.content === 'string' && delta.content !== '') out.push({ t: 'text', text: delta.content });
    if (Array.isArray(delta.tool_calls)) {
      for (const tc of delta.tool_calls) {
        if (!isObject(tc)) continue;
        const upstream = Number(tc.index ?? 0);
        const f = isObject(tc.function) ? tc.function : {};
        let index = this.#tools.get(upstream);
        if (index === undefined) {
          index = this.#tools.size;
          this.#tools.set(upstream, index);
          out.push({ t: 'tool_start', index, id: str(tc.id), name: str(f.name) });
        }
        if (typeof f.arguments === 'string' && f.arguments !== '') out.push({ t: 'tool_args', index, args: f.arguments });
      }
    }
    if (typeof choice.finish_reason === 'string') out.push({ t: 'finish', reason: openaiFinish(choice.finish_reason) });
  }
}

/**
 * Events → OpenAI chat.completion.chunk SSE (what the OpenAI SDK parses): a role chunk first,
 * content and tool-call deltas, the finish chunk, a usage chunk when the client asked
 * (`stream_options.include_usage`), `[DONE]`. Errors become `event: error` with the SPEC §3
 * envelope.
 */
export class OpenAIStreamEncoder implements StreamEncoder {
  #id = mintId('chatcmpl-');
  #model = '';
  #created = nowSeconds();
  #started = false;
  #input = 0;
  #output = 0;
  #finished = false;
  #done = false;

  constructor(
    readonly includeUsage: boolean,
    readonly provider: string = 'vmc',
  ) {}

  #chunk(delta: Json, finish: string | null = null, usage?: Json): string {
    const c: Json = {
      id: this.#id,
      object: 'chat.completion.chunk',
      created: this.#created,
      model: this.#model,
      choices: usage !== undefined ? [] : [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    };
    if (usage !== undefined) c.usage = usage;
    return formatSse(null, JSON.stringify(c));
  }

  #start(id: string | null, model: string | null): string {
    if (this.#started) return '';
    this.#started = true;
    if (id !== null) this.#id = id;
    if (model !== null) this.#model = model;
    return this.#chunk({ role: 'assistant', content: '' });
  }

  encode(e: StreamEvent): string {
    if (this.#done) return '';
    switch (e.t) {
      case 'start':
        if (e.input !== null) this.#input = e.input;
        return this.#start(e.id, e.model);
      case 'text':
        return this.#start(null, null) + this.#chunk({ content: e.text });
      case 'tool_start':
        return (
          this.#start(null, null) +
          this.#chunk({ tool_calls: [{ index: e.index, id: e.id, type: 'function', function: { name: e.name, arguments: '' } }] })
        );
      case 'tool_args':
        return this.#start(null, null) + this.#chunk({ tool_calls: [{ index: e.index, function: { arguments: e.args } }] });
      case 'finish':
        this.#finished = true;
        return this.#start(null, null) + this.#chunk({}, e.reason);
      case 'usage':
        if (e.input !== null) this.#input = e.input;
        if (e.output !== null) this.#output = e.output;
        return '';
      case 'error':
        this.#done = true;
        return formatSse('error', JSON.stringify(openaiErrorEnvelope(e.kind, e.message, this.provider, statusOfKind(e.kind))));
      case 'end':
        return this.finish();
    }
  }

  finish(): string {
    if (this.#done) return '';
    this.#done = true;
    let out = this.#start(null, null);
    if (!this.#finished) out += this.#chunk({}, 'stop');
    if (this.includeUsage) {
      out += this.#chunk({}, null, {
        prompt_tokens: this.#input,
        completion_tokens: this.#output,
        total_tokens: this.#input + this.#output,
      });
    }
    return out + 'data: [DONE]\n\n';
  }
}

/**
 * The SPEC §3 error envelope as an OpenAI client reads it: OpenAI's `{error: {message, type,
 * param, code}}` plus GoModel's `provider` and `status_code`.
 */
export function openaiErrorEnvelope(kind: ErrorKind, message: string, provider: string, status: number): Json {
  return { error: { type: OPENAI_ERROR_TYPE[kind], message, code: null, param: null, provider, status_code: status } };
}
