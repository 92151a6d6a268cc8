/**
 * The one internal request/response model every translation goes through (SPEC §13): a
 * client format (OpenAI Chat, Anthropic Messages) is decoded into it, an upstream format
 * (OpenAI Chat, Anthropic Messages, Bedrock Converse, Gemini generateContent) is encoded from
 * it, and answers come back the same way — so N formats need N codecs, not N² translators.
 *
 *   client body ──decode──▶ ChatRequest ──encode──▶ upstream body
 *   upstream body ──decode──▶ ChatResponse ──encode──▶ client body
 *   upstream stream ──decoder──▶ StreamEvent* ──encoder──▶ client SSE
 *
 * Codecs: ./openai-chat.ts, ./anthropic.ts, ./bedrock.ts, ./gemini.ts; the modes and the
 * entry points the engine and relay call: ./translate.ts.
 */
import { randomBytes } from 'node:crypto';
import { isObject } from '../table/util.js';

export type Json = Record<string, unknown>;

export interface TextPart {
  readonly type: 'text';
  readonly text: string;
}
/** An inline image: base64 data with its media type (`image/png`). */
export interface ImagePart {
  readonly type: 'image';
  readonly mediaType: string;
  readonly data: string;
}
/** An image by URL (providers that fetch URLs take it; others refuse it). */
export interface ImageUrlPart {
  readonly type: 'image_url';
  readonly url: string;
}
/** A tool call made by the assistant; `args` is the parsed JSON arguments (an object). */
export interface ToolCallPart {
  readonly type: 'tool_call';
  readonly id: string;
  readonly name: string;
  readonly args: unknown;
}
/** The result of a tool call, sent by the user side; `name` is the called tool's ('' when unknown). */
export interface ToolResultPart {
  readonly type: 'tool_result';
  readonly id: string;
  readonly name: string;
  readonly content: string;
  readonly isError: boolean;
}
export type Part = TextPart | ImagePart | ImageUrlPart | ToolCallPart | ToolResultPart;

export interface Message {
  readonly role: 'user' | 'assistant';
  readonly parts: Part[];
}

export interface Tool {
  readonly name: string;
  readonly description: string | null;
  /** JSON Schema of the arguments (an object schema). */
  readonly parameters: Json;
}

export type ToolChoice =
  { readonly type: 'auto' } | { readonly type: 'any' } | { readonly type: 'none' } | { readonly type: 'tool'; readonly name: string };

/** A chat request: what every supported format can say, in one shape. */
export interface ChatRequest {
  /** The client's `model` value (the engine writes the target's model where the format has one). */
  model: unknown;
  /** System prompts, in order (OpenAI system/developer messages, Anthropic `system`). */
  system: string[];
  messages: Message[];
  /** Tool definitions; null when the client sent none. */
  tools: Tool[] | null;
  toolChoice: ToolChoice | null;
  maxTokens: number | null;
  temperature: number | null;
  topP: number | null;
  stop: string[] | null;
  stream: boolean;
  /** OpenAI `stream_options.include_usage`: a final usage chunk. */
  includeUsage: boolean;
  /** End-user id (OpenAI `user`, Anthropic `metadata.user_id`). */
  user: string | null;
}

/** Why generation stopped, in OpenAI's words (SPEC §13 maps every provider's to these). */
export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter';

export interface Usage {
  input: number;
  output: number;
}

/** A complete answer. */
export interface ChatResponse {
  /** The provider's id for the answer, or null (a client-format id is minted). */
  id: string | null;
  model: string | null;
  parts: (TextPart | ToolCallPart)[];
  finish: FinishReason;
  usage: Usage;
}

/**
 * One step of a streamed answer. Tool calls are numbered in order of appearance (`index`,
 * from 0), whatever the provider's own block numbering.
 */
export type StreamEvent =
  | { readonly t: 'start'; readonly id: string | null; readonly model: string | null; readonly input: number | null }
  | { readonly t: 'text'; readonly text: string }
  | { readonly t: 'tool_start'; readonly index: number; readonly id: string; readonly name: string }
  | { readonly t: 'tool_args'; readonly index: number; readonly args: string }
  | { readonly t: 'finish'; readonly reason: FinishReason }
  | { readonly t: 'usage'; readonly input: number | null; readonly output: number | null }
  | { readonly t: 'error'; readonly kind: ErrorKind; readonly message: string }
  /** The provider's explicit end of stream (`[DONE]`, `message_stop`); EOF ends a stream too. */
  | { readonly t: 'end' };

/** Error classes shared by every format (mapped to each client format's type names). */
export type ErrorKind = 'invalid_request' | 'authentication' | 'permission' | 'not_found' | 'rate_limit' | 'overloaded' | 'server';

/** Incremental decoder of an upstream stream. */
export interface StreamDecoder {
  push(chunk: Uint8Array): StreamEvent[];
  /**
   * The decoder met bytes it cannot read and has ended the stream with an error event: it
   * decodes nothing more (the relay then stops reading the upstream). Absent = never.
   */
  readonly broken?: boolean;
  /** The upstream body ended: flush what is pending. */
  end(): StreamEvent[];
}

/** Incremental encoder of client-format stream text. */
export interface StreamEncoder {
  encode(e: StreamEvent): string;
  /** Terminates the client stream (idempotent; after an error event it writes nothing). */
  finish(): string;
}

/** A request the target's format cannot express (answered 400 invalid_request_error). */
export class TranslationError extends Error {
  override name = 'TranslationError';
}

export function emptyRequest(): ChatRequest {
  return {
    model: undefined,
    system: [],
    messages: [],
    tools: null,
    toolChoice: null,
    maxTokens: null,
    temperature: null,
    topP: null,
    stop: null,
    stream: false,
    includeUsage: false,
    user: null,
  };
}

// ───────────────────────────── helpers ─────────────────────────────

/** A string field: strings as they are, absent as '', anything else as JSON. */
export const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));

export const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** `JSON.parse`, or undefined for text that is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Tool-call arguments as a value: JSON text parsed; text that is not JSON kept as `{_raw}`. */
export function parseArgs(s: unknown): unknown {
  if (typeof s !== 'string') return isObject(s) ? s : {};
  if (s === '') return {};
  try {
    return JSON.parse(s);
  } catch {
    return { _raw: s };
  }
}

/** Arguments as an object (Bedrock `input`, Gemini `args` are objects). */
export function argsObject(args: unknown): Json {
  return isObject(args) ? args : { value: args };
}

/** An event's JSON data as an object: null when not JSON; JSON that is not an object reads as `{}`. */
export function eventData(data: string): Json | null {
  const v = parseJson(data);
  if (v === undefined) return null;
  return isObject(v) ? v : {};
}

export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** A fresh id with a prefix (`call_…`, `chatcmpl-…`, `msg_…`): 24 random base62-ish chars. */
export function mintId(prefix: string): string {
  return prefix + randomBytes(18).toString('base64url').replace(/[-_]/g, 'x');
}

/** The text of a content value: a string, or the `text` of each part joined. */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map((p) => (isObject(p) && typeof p.text === 'string' ? p.text : '')).join('');
  return '';
}

/**
 * Fills the tool name of every tool result from the tool call it answers (OpenAI and
 * Anthropic results carry only the call id; Gemini needs the name).
 */
export function linkToolNames(messages: Message[]): void {
  const names = new Map<string, string>();
  for (const m of messages) {
    for (let i = 0; i < m.parts.length; i++) {
      const p = m.parts[i];
      if (p.type === 'tool_call') names.set(p.id, p.name);
      else if (p.type === 'tool_result' && p.name === '') m.parts[i] = { ...p, name: names.get(p.id) ?? '' };
    }
  }
}

/** Appends parts as a message of `role`, merging with the previous one when the role repeats. */
export function pushMessage(out: Message[], role: 'user' | 'assistant', parts: Part[]): void {
  if (parts.length === 0) return;
  const last = out[out.length - 1];
  if (last !== undefined && last.role === role) last.parts.push(...parts);
  else out.push({ role, parts });
}

/** `data:` URL → inline image; else null. */
export function dataUrlImage(url: string): ImagePart | null {
  const m = /^data:([^;,]+);base64,(.*)$/s.exec(url);
  return m ? { type: 'image', mediaType: m[1], data: m[2] } : null;
}

/** Collects a stream's events into the answer they describe (tests, and buffering callers). */
export function collectEvents(events: readonly StreamEvent[]): ChatResponse & { error: { kind: ErrorKind; message: string } | null } {
  const out: ChatResponse & { error: { kind: ErrorKind; message: string } | null } = {
    id: null,
    model: null,
    parts: [],
    finish: 'stop',
    usage: { input: 0, output: 0 },
    error: null,
  };
  const tools: { id: string; name: string; args: string }[] = [];
  let text = '';
  const flushText = () => {
    if (text !== '') out.parts.push({ type: 'text', text });
    text = '';
  };
  const toolParts = new Map<number, number>();
  for (const e of events) {
    switch (e.t) {
      case 'start':
        out.id = e.id;
        out.model = e.model;
        if (e.input !== null) out.usage.input = e.input;
        break;
      case 'text':
        text += e.text;
        break;
      case 'tool_start':
        flushText();
        tools[e.index] = { id: e.id, name: e.name, args: '' };
        toolParts.set(e.index, out.parts.length);
        out.parts.push({ type: 'tool_call', id: e.id, name: e.name, args: {} });
        break;
      case 'tool_args':
        if (tools[e.index] !== undefined) tools[e.index].args += e.args;
        break;
      case 'finish':
        out.finish = e.reason;
        break;
      case 'usage':
        if (e.input !== null) out.usage.input = e.input;
        if (e.output !== null) out.usage.output = e.output;
        break;
      case 'error':
        out.error = { kind: e.kind, message: e.message };
        break;
      default:
        break;
    }
  }
  flushText();
  for (const [index, at] of toolParts) {
    const t = tools[index];
    out.parts[at] = { type: 'tool_call', id: t.id, name: t.name, args: parseArgs(t.args) };
  }
  return out;
}

/** Error kind of an HTTP status (when the body names none). */
export function errorKindOfStatus(status: number): ErrorKind {
  switch (status) {
    case 401:
      return 'authentication';
    case 403:
      return 'permission';
    case 404:
      return 'not_found';
    case 429:
      return 'rate_limit';
    case 529:
      return 'overloaded';
    default:
      return status >= 500 ? 'server' : 'invalid_request';
  }
}

/** A representative HTTP status for an error kind (errors inside a stream have none of their own). */
export function statusOfKind(kind: ErrorKind): number {
  switch (kind) {
    case 'invalid_request':
      return 400;
    case 'authentication':
      return 401;
    case 'permission':
      return 403;
    case 'not_found':
      return 404;
    case 'rate_limit':
      return 429;
    case 'overloaded':
      return 503;
    default:
      return 500;
  }
}
