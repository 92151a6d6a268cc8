/**
 * Amazon Bedrock Converse ⇄ the internal model (./model.ts): requests
 * (`POST /model/{id}/converse`), responses, and ConverseStream's event-stream messages
 * (./eventstream.ts). Bedrock is an upstream format only.
 *
 * Bedrock's rules honoured here (SPEC §13): the model is in the path, not the body; images are
 * inline bytes (png, jpeg, gif, webp) — an image URL cannot be sent; a request whose history
 * holds tool blocks must carry a `toolConfig`, so one is derived from the history when the
 * client sent no tools; blank text blocks are refused by Bedrock and left out.
 */
import { isObject } from '../table/util.js';
import { EventStreamDecoder, type EventStreamMessage } from './eventstream.js';
import {
  emptyRequest,
  linkToolNames,
  num,
  parseJson,
  pushMessage,
  str,
  TranslationError,
  type ChatRequest,
  type ChatResponse,
  type ErrorKind,
  type FinishReason,
  type Json,
  type Part,
  type StreamDecoder,
  type StreamEvent,
  type Tool,
  type ToolChoice,
  argsObject,
} from './model.js';

const IMAGE_FORMATS: Readonly<Record<string, string>> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

// ───────────────────────────── requests ─────────────────────────────

function bedrockBlock(p: Part): Json | null {
  switch (p.type) {
    case 'text':
      return p.text.trim() === '' ? null : { text: p.text };
    case 'image': {
      const format = IMAGE_FORMATS[p.mediaType.toLowerCase()];
      if (format === undefined) throw new TranslationError(`bedrock does not take images of type ${p.mediaType} (png, jpeg, gif, webp)`);
      return { image: { format, source: { bytes: p.data } } };
    }
    case 'image_url':
      throw new TranslationError('bedrock does not fetch image URLs: send the image inline as a data: URL (base64)');
    case 'tool_call':
      return { toolUse: { toolUseId: p.id, name: p.name, input: argsObject(p.args) } };
    case 'tool_result': {
      const r: Json = { toolUseId: p.id, content: [{ text: p.content === '' ? ' ' : p.content }] };
      if (p.isError) r.status = 'error';
      return { toolResult: r };
    }
  }
}

/** Tool specs named by the history's tool calls (Bedrock needs a toolConfig whenever tool blocks appear). */
function toolsFromHistory(r: ChatRequest): Tool[] {
  const names = new Set<string>();
  for (const m of r.messages)
    for (const p of m.parts) if (p.type === 'tool_call' || (p.type === 'tool_result' && p.name !== '')) names.add(p.name);
  return [...names].map((name) => ({ name, description: null, parameters: { type: 'object', properties: {} } }));
}

/** Internal request → Converse body (no model: it is in the path; no stream flag: the path says). */
export function encodeBedrockRequest(r: ChatRequest): Json {
  const messages: Json[] = [];
  let hasToolBlocks = false;
  for (const m of r.messages) {
    const blocks: Json[] = [];
    for (const p of m.parts) {
      const b = bedrockBlock(p);
      if (b === null) continue;
      if (p.type === 'tool_call' || p.type === 'tool_result') hasToolBlocks = true;
      blocks.push(b);
    }
    if (blocks.length === 0) continue;
    const last = messages[messages.length - 1];
    if (last !== undefined && last.role === m.role) (last.content as Json[]).push(...blocks);
    else messages.push({ role: m.role, content: blocks });
  }
  const out: Json = { messages };
  const system = r.system.filter((s) => s.trim() !== '').map((text) => ({ text }));
  if (system.length > 0) out.system = system;
  const ic: Json = {};
  if (r.maxTokens !== null) ic.maxTokens = r.maxTokens;
  if (r.temperature !== null) ic.temperature = r.temperature;
  if (r.topP !== null) ic.topP = r.topP;
  if (r.stop !== null && r.stop.length > 0) ic.stopSequences = r.stop;
  if (Object.keys(ic).length > 0) out.inferenceConfig = ic;
  const choice = r.toolChoice;
  // tool_choice none: no tools offered, unless the history's tool blocks require a toolConfig
  let tools = choice?.type === 'none' ? null : r.tools;
  if ((tools === null || tools.length === 0) && hasToolBlocks) tools = toolsFromHistory(r);
  if (tools !== null && tools.length > 0) {
    const toolConfig: Json = {
      tools: tools.map((t) => ({
        toolSpec: { name: t.name, ...(t.description !== null ? { description: t.description } : {}), inputSchema: { json: t.parameters } },
      })),
    };
    if (choice?.type === 'auto') toolConfig.toolChoice = { auto: {} };
    else if (choice?.type === 'any') toolConfig.toolChoice = { any: {} };
    else if (choice?.type === 'tool') toolConfig.toolChoice = { tool: { name: choice.name } };
    out.toolConfig = toolConfig;
  }
  return out;
}

function toolResultText(content: unknown): string {
  const parts: string[] = [];
  for (const c of Array.isArray(content) ? content : []) {
    if (!isObject(c)) continue;
    if (typeof c.text === 'string') parts.push(c.text);
    else if (c.json !== undefined) parts.push(JSON.stringify(c.json));
  }
  return parts.join('');
}

/** Converse body → internal request (the simulators' view; used by round-trip tests). */
export function decodeBedrockRequest(body: Json): ChatRequest {
  const r = emptyRequest();
  for (const s of Array.isArray(body.system) ? body.system : []) if (isObject(s) && typeof s.text === 'string') r.system.push(s.text);
  for (const m of Array.isArray(body.messages) ? body.messages : []) {
    if (!isObject(m)) continue;
    const parts: Part[] = [];
    for (const b of Array.isArray(m.content) ? m.content : []) {
      if (!isObject(b)) continue;
      if (typeof b.text === 'string') parts.push({ type: 'text', text: b.text });
      else if (isObject(b.image)) {
        const src = isObject(b.image.source) ? b.image.source : {};
        parts.push({ type: 'image', mediaType: `image/${str(b.image.format)}`, data: str(src.bytes) });
      } else if (isObject(b.toolUse)) {
        parts.push({ type: 'tool_call', id: str(b.toolUse.toolUseId), name: str(b.toolUse.name), args: b.toolUse.input ?? {} });
      } else if (isObject(b.toolResult)) {
        const t = b.toolResult;
        parts.push({
          type: 'tool_result',
          id: str(t.toolUseId),
          name: '',
          content: toolResultText(t.content),
          isError: t.status === 'error',
        });
      }
    }
    pushMessage(r.messages, m.role === 'assistant' ? 'assistant' : 'user', parts);
  }
  linkToolNames(r.messages);
  const ic = isObject(body.inferenceConfig) ? body.inferenceConfig : {};
  r.maxTokens = num(ic.maxTokens);
  r.temperature = num(ic.temperature);
  r.topP = num(ic.topP);
  if (Array.isArray(ic.stopSequences)) r.stop = ic.stopSequences.map(str);
  const tc = isObject(body.toolConfig) ? body.toolConfig : null;
  if (tc !== null) {
    r.tools = (Array.isArray(tc.tools) ? tc.tools : [])
      .filter((t): t is Json => isObject(t) && isObject(t.toolSpec))
      .map((t) => {
        const s = t.toolSpec as Json;
        const schema = isObject(s.inputSchema) && isObject(s.inputSchema.json) ? s.inputSchema.json : { type: 'object' };
        return { name: str(s.name), description: typeof s.description === 'string' ? s.description : null, parameters: schema };
      });
    const c = isObject(tc.toolChoice) ? tc.toolChoice : null;
    let choice: ToolChoice | null = null;
    if (c !== null && isObject(c.auto)) choice = { type: 'auto' };
    else if (c !== null && isObject(c.any)) choice = { type: 'any' };
    else if (c !== null && isObject(c.tool)) choice = { type: 'tool', name: str(c.tool.name) };
    r.toolChoice = choice;
  }
  return r;
}

// ───────────────────────────── responses ─────────────────────────────

const STOP_TO_FINISH: Readonly<Record<string, FinishReason>> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  guardrail_intervened: 'content_filter',
  content_filtered: 'content_filter',
};

export const bedrockFinish = (stopReason: unknown): FinishReason => STOP_TO_FINISH[str(stopReason)] ?? 'stop';

/** Converse response → internal response (Bedrock names no id; the model is the caller's). */
export function decodeBedrockResponse(res: Json, model: string | null = null): ChatResponse {
  const output = isObject(res.output) ? res.output : {};
  const message = isObject(output.message) ? output.message : {};
  const parts: ChatResponse['parts'] = [];
  for (const b of Array.isArray(message.content) ? message.content : []) {
    if (!isObject(b)) continue;
    if (typeof b.text === 'string') {
      const last = parts[parts.length - 1];
      if (last !== undefined && last.type === 'text') parts[parts.length - 1] = { type: 'text', text: last.text + b.text };
      else parts.push({ type: 'text', text: b.text });
    } else if (isObject(b.toolUse)) {
      parts.push({ type: 'tool_call', id: str(b.toolUse.toolUseId), name: str(b.toolUse.name), args: b.toolUse.input ?? {} });
    }
  }
  const u = isObject(res.usage) ? res.usage : {};
  return {
    id: null,
    model,
    parts,
    finish: bedrockFinish(res.stopReason),
    usage: { input: Number(u.inputTokens ?? 0), output: Number(u.outputTokens ?? 0) },
  };
}

/** Error kind of a Bedrock exception name (`throttlingException`, `ValidationException`, …). */
export function bedrockErrorKind(name: string): ErrorKind | null {
  const n = name.toLowerCase().replace(/exception$/, '');
  switch (n) {
    case 'validation':
      return 'invalid_request';
    case 'accessdenied':
    case 'unrecognizedclient':
      return 'permission';
    case 'resourcenotfound':
      return 'not_found';
    case 'throttling':
    case 'servicequotaexceeded':
      return 'rate_limit';
    case 'serviceunavailable':
    case 'modelnotready':
      return 'overloaded';
    case 'internalserver':
    case 'modelstreamerror':
    case 'modeltimeout':
    case 'modelerror':
      return 'server';
    default:
      return null;
  }
}

// ───────────────────────────── streams ─────────────────────────────

const utf8 = new TextDecoder();

/** ConverseStream (AWS event stream) → events. A corrupt frame ends the stream with an error event. */
export class BedrockStreamDecoder implements StreamDecoder {
  #frames = new EventStreamDecoder();
  /** contentBlockIndex → tool ordinal */
  #tools = new Map<number, number>();
  #started = false;
  #broken = false;

  constructor(readonly model: string | null = null) {}

  get broken(): boolean {
    return this.#broken;
  }

  push(chunk: Uint8Array): StreamEvent[] {
    if (this.#broken) return [];
    const out: StreamEvent[] = [];
    const messages: EventStreamMessage[] = [];
    let failure: Error | null = null;
    try {
      this.#frames.push(chunk, messages);
    } catch (err) {
      failure = err as Error;
    }
    // the messages before a corrupt frame are delivered, whatever chunk they arrived in
    for (const m of messages) this.#message(m.headers, m.body, out);
    if (failure) {
      this.#broken = true;
      out.push({ t: 'error', kind: 'server', message: `bedrock stream: ${failure.message}` });
    }
    return out;
  }

  end(): StreamEvent[] {
    if (this.#broken || this.#frames.pending === 0) return [];
    this.#broken = true;
    return [{ t: 'error', kind: 'server', message: 'bedrock stream ended inside a message' }];
  }

  #start(out: StreamEvent[]): void {
    if (this.#started) return;
    this.#started = true;
    out.push({ t: 'start', id: null, model: this.model, input: null });
  }

  #message(headers: Record<string, string>, body: Uint8Array, out: StreamEvent[]): void {
    const type = headers[':message-type'] ?? 'event';
    const payload = parseJson(utf8.decode(body));
    const d = isObject(payload) ? payload : {};
    if (type === 'exception' || type === 'error') {
      const name = headers[':exception-type'] ?? headers[':error-code'] ?? '';
      const message = str(d.message ?? d.Message) || headers[':error-message'] || name || 'bedrock stream error';
      out.push({ t: 'error', kind: bedrockErrorKind(name) ?? 'server', message });
      return;
    }
    switch (headers[':event-type']) {
      case 'messageStart':
        this.#start(out);
        return;
      case 'contentBlockStart': {
        this.#start(out);
        const start = isObject(d.start) ? d.start : {};
        if (isObject(start.toolUse)) {
          const index = this.#tools.size;
          this.#tools.set(Number(d.contentBlockIndex), index);
          out.push({ t: 'tool_start', index, id: str(start.toolUse.toolUseId), name: str(start.toolUse.name) });
        }
        return;
      }
      case 'contentBlockDelta': {
        this.#start(out);
        const delta = isObject(d.delta) ? d.delta : {};
        if (typeof delta.text === 'string') {
          if (delta.text !== '') out.push({ t: 'text', text: delta.text });
        } else if (isObject(delta.toolUse)) {
          const index = this.#tools.get(Number(d.contentBlockIndex));
          if (index !== undefined) out.push({ t: 'tool_args', index, args: str(delta.toolUse.input) });
        }
        return;
      }
      case 'messageStop':
        this.#start(out);
        out.push({ t: 'finish', reason: bedrockFinish(d.stopReason) });
        return;
      case 'metadata': {
        const u = isObject(d.usage) ? d.usage : {};
        out.push({ t: 'usage', input: num(u.inputTokens), output: num(u.outputTokens) });
        return;
      }
      default:
        return; // contentBlockStop, unknown events
    }
  }
}
