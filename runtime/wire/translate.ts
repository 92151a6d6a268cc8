/**
 * Wire-format translation: the modes, and the entry points the engine and the relay call.
 *
 * A virtual model may mix providers (SPEC §2's `booking-app/gpt-prod` pools openai/gpt-4o
 * with anthropic/claude-opus-4-6), a NeMo entry may set `backend_format`, and Bedrock and
 * Gemini/Vertex targets speak formats no client speaks (SPEC §13). A client speaks the format
 * of the endpoint it called (Anthropic Messages on /v1/messages, OpenAI Chat elsewhere); when
 * the chosen target speaks another, the gateway translates the request, the response, error
 * bodies and streams. Every translation goes through one internal model (./model.ts):
 *
 *   client format ──decode──▶ ChatRequest ──encode──▶ upstream format     (./openai-chat.ts,
 *   upstream answer ──decode──▶ ChatResponse / StreamEvent* ──encode──▶ client format      ./anthropic.ts,
 *                                                                                          ./bedrock.ts,
 *                                                                                          ./gemini.ts)
 *
 * This is the cold path (bodies are parsed and re-serialized); same-format traffic never comes
 * here. Covered: system prompts, text and image parts, tools, tool calls and results (streamed
 * argument deltas included), tool choice, stop sequences, max tokens, temperature, top_p, the
 * end-user id, usage, finish/stop reasons, error envelopes (SPEC §3 with the provider's message).
 * `/v1/completions`, `/v1/embeddings` and `/v1/responses` are never translated: targets whose
 * format lacks them are skipped.
 */
import { isObject } from '../table/util.js';
import {
  ANTHROPIC_ERROR_TYPE,
  AnthropicStreamDecoder,
  AnthropicStreamEncoder,
  anthropicErrorEnvelope,
  anthropicErrorKind,
  decodeAnthropicRequest,
  decodeAnthropicResponse,
  encodeAnthropicRequest,
  encodeAnthropicResponse,
} from './anthropic.js';
import { BedrockStreamDecoder, bedrockErrorKind, decodeBedrockResponse, encodeBedrockRequest } from './bedrock.js';
import { isAwsEventStream } from './eventstream.js';
import { GeminiStreamDecoder, decodeGeminiResponse, encodeGeminiRequest, googleErrorKind } from './gemini.js';
import {
  errorKindOfStatus,
  parseJson,
  str,
  type ChatRequest,
  type ChatResponse,
  type ErrorKind,
  type Json,
  type StreamDecoder,
  type StreamEncoder,
  type StreamEvent,
} from './model.js';
import {
  OpenAIStreamDecoder,
  OpenAIStreamEncoder,
  decodeOpenAIRequest,
  decodeOpenAIResponse,
  encodeOpenAIRequest,
  encodeOpenAIResponse,
  openaiErrorEnvelope,
  openaiErrorKind,
} from './openai-chat.js';
import { SseEventTooLargeError, isEventStream } from './sse.js';

export { DEFAULT_ANTHROPIC_MAX_TOKENS } from './anthropic.js';
export { TranslationError } from './model.js';

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

/** [client format, upstream format] by mode (XLATE_NONE: unused). */
const MODES: readonly (readonly [ClientFormat, UpstreamFormat])[] = [
  ['openai', 'openai'],
  ['openai', 'anthropic'],
  ['anthropic', 'openai'],
  ['openai', 'bedrock'],
  ['anthropic', 'bedrock'],
  ['openai', 'gemini'],
  ['anthropic', 'gemini'],
];

/** The XLATE_* mode for a client format and an upstream format (XLATE_NONE when they match). */
export function xlateMode(client: ClientFormat, upstream: UpstreamFormat): number {
  if (client === upstream) return XLATE_NONE;
  const mode = MODES.findIndex(([c, u], i) => i > 0 && c === client && u === upstream);
  if (mode < 0) throw new Error(`no translation from ${client} to ${upstream}`);
  return mode;
}

/** The client format of a mode. */
export function xlateClient(mode: number): ClientFormat {
  return MODES[mode][0];
}

/** The upstream format of a mode. */
export function xlateUpstream(mode: number): UpstreamFormat {
  return MODES[mode][1];
}

// ───────────────────────────── requests ─────────────────────────────

function decodeRequest(client: ClientFormat, body: Json): ChatRequest {
  return client === 'openai' ? decodeOpenAIRequest(body) : decodeAnthropicRequest(body);
}

function encodeRequest(upstream: UpstreamFormat, r: ChatRequest): Json {
  switch (upstream) {
    case 'openai':
      return encodeOpenAIRequest(r);
    case 'anthropic':
      return encodeAnthropicRequest(r);
    case 'bedrock':
      return encodeBedrockRequest(r);
    case 'gemini':
      return encodeGeminiRequest(r);
  }
}

/**
 * A client request body in the target's format (mode ≠ XLATE_NONE). The `model` of OpenAI
 * and Anthropic bodies is the client's: the caller writes the target's model
 * ({@link upstreamBodyHasModel}). Throws TranslationError for content the target's format
 * cannot carry (an image URL for Bedrock): answer 400 invalid_request_error with its message.
 */
export function translateRequest(mode: number, body: Json): Json {
  const [client, upstream] = MODES[mode];
  return encodeRequest(upstream, decodeRequest(client, body));
}

/** Does the upstream body of this mode carry the model? (Bedrock and Gemini name it in the path.) */
export function upstreamBodyHasModel(mode: number): boolean {
  const upstream = MODES[mode][1];
  return upstream === 'openai' || upstream === 'anthropic';
}

/** OpenAI chat request body → Anthropic messages body (model left to the caller). */
export function chatToMessagesRequest(body: Json): Json {
  return translateRequest(XLATE_CHAT_TO_MESSAGES, body);
}

/** Anthropic messages request body → OpenAI chat body (model left to the caller). */
export function messagesToChatRequest(body: Json): Json {
  return translateRequest(XLATE_MESSAGES_TO_CHAT, body);
}

/** Deep merge of plain objects, `src` wins; arrays, scalars and null replace (middleware.ts's rule). */
function mergeJson(target: Json, src: Json): void {
  for (const [k, v] of Object.entries(src)) {
    const cur = target[k];
    if (isObject(v) && isObject(cur)) mergeJson(cur, v);
    else target[k] = v;
  }
}

/** Where OpenAI-named generation parameters live in Bedrock and Gemini bodies. */
const PARAM_HOMES: Readonly<Record<'bedrock' | 'gemini', { section: string; names: Readonly<Record<string, string>> }>> = {
  bedrock: {
    section: 'inferenceConfig',
    names: {
      temperature: 'temperature',
      top_p: 'topP',
      max_tokens: 'maxTokens',
      max_completion_tokens: 'maxTokens',
      stop: 'stopSequences',
    },
  },
  gemini: {
    section: 'generationConfig',
    names: {
      temperature: 'temperature',
      top_p: 'topP',
      max_tokens: 'maxOutputTokens',
      max_completion_tokens: 'maxOutputTokens',
      stop: 'stopSequences',
    },
  },
};

/**
 * Merges a target's `override_params` over its upstream body (SPEC §3.6: overrides win). The
 * body is in the target's format, and so may the overrides be (`generationConfig: {…}` for
 * Gemini); the OpenAI names most configs use (`temperature`, `top_p`, `max_tokens`, `stop`)
 * also reach Bedrock's `inferenceConfig` and Gemini's `generationConfig`, where those formats
 * keep them.
 */
export function applyOverrides(mode: number, body: Json, overrides: Json): void {
  const upstream = MODES[mode][1];
  if (upstream !== 'bedrock' && upstream !== 'gemini') {
    mergeJson(body, overrides);
    return;
  }
  const home = PARAM_HOMES[upstream];
  const rest: Json = {};
  for (const [k, v] of Object.entries(overrides)) {
    const name = home.names[k];
    if (name === undefined) {
      rest[k] = v;
      continue;
    }
    const section = isObject(body[home.section]) ? (body[home.section] as Json) : (body[home.section] = {});
    section[name] = k === 'stop' && typeof v === 'string' ? [v] : v;
  }
  mergeJson(body, rest);
}

// ───────────────────────────── responses ─────────────────────────────

/** Optional facts the answer's format lacks: Bedrock names no model, and errors name no provider. */
export interface TranslateContext {
  /** Provider name for error envelopes (SPEC §3 `provider`). */
  provider?: string;
  /** The target's model, for formats whose answers do not carry one. */
  model?: string;
}

function decodeResponse(upstream: UpstreamFormat, v: Json, model: string | null): ChatResponse {
  switch (upstream) {
    case 'openai':
      return decodeOpenAIResponse(v);
    case 'anthropic':
      return decodeAnthropicResponse(v);
    case 'bedrock':
      return decodeBedrockResponse(v, model);
    case 'gemini':
      return decodeGeminiResponse(v, model);
  }
}

/** Anthropic message → OpenAI chat.completion. */
export function messagesToChatResponse(msg: Json): Json {
  return encodeOpenAIResponse(decodeAnthropicResponse(msg));
}

/** OpenAI chat.completion → Anthropic message. */
export function chatToMessagesResponse(res: Json): Json {
  return encodeAnthropicResponse(decodeOpenAIResponse(res));
}

/** Translates a complete success body; returns null when the body is not the expected JSON. */
export function translateResponseBody(mode: number, body: Buffer, ctx: TranslateContext = {}): Buffer | null {
  const v = parseJson(body.toString('utf8'));
  if (!isObject(v)) return null;
  const [client, upstream] = MODES[mode];
  const r = decodeResponse(upstream, v, ctx.model ?? null);
  return Buffer.from(JSON.stringify(client === 'openai' ? encodeOpenAIResponse(r) : encodeAnthropicResponse(r)));
}

/** The error of an upstream error body: the provider's message and, where its format names one, the kind. */
export function upstreamError(upstream: UpstreamFormat, status: number, body: Buffer): { kind: ErrorKind; message: string } {
  const text = body.toString('utf8');
  let v = parseJson(text);
  if (Array.isArray(v) && isObject(v[0])) v = v[0]; // Gemini's streaming endpoint answers a list
  const e = isObject(v) && isObject(v.error) ? v.error : null;
  let message = '';
  let kind: ErrorKind | null = null;
  if (e !== null) {
    message = str(e.message);
    kind = upstream === 'gemini' ? googleErrorKind(str(e.status)) : (anthropicErrorKind(str(e.type)) ?? openaiErrorKind(str(e.type)));
  } else if (isObject(v)) {
    message = str(v.message ?? v.Message);
    if (upstream === 'bedrock')
      kind = bedrockErrorKind(
        str(v.__type ?? v.code)
          .split(/[#:]/)
          .pop() ?? '',
      );
  }
  if (message === '') message = text.slice(0, 2000) || `upstream status ${status}`;
  return { kind: kind ?? errorKindOfStatus(status), message };
}

/**
 * Error body of the target's format → the SPEC §3 envelope in the client's format (status
 * unchanged), with the provider's message in `error.message`.
 */
export function translateErrorBody(mode: number, status: number, body: Buffer, provider = 'vmc'): Buffer {
  const [client, upstream] = MODES[mode];
  const { kind, message } = upstreamError(upstream, status, body);
  const envelope =
    client === 'openai' ? openaiErrorEnvelope(kind, message, provider, status) : anthropicErrorEnvelope(kind, message, provider, status);
  return Buffer.from(JSON.stringify(envelope));
}

/** Anthropic error type of a status (for callers that build Anthropic errors themselves). */
export function anthropicErrorTypeOfStatus(status: number): string {
  return ANTHROPIC_ERROR_TYPE[errorKindOfStatus(status)];
}

// ───────────────────────────── streams ─────────────────────────────

/** Incremental stream translator: raw upstream bytes in, client-format SSE text out. */
export interface StreamTranslator {
  /** Throws SseEventTooLargeError for an SSE event past its bound (the caller cuts the upstream off). */
  push(chunk: Uint8Array): string;
  /**
   * The upstream stream could not be read (a corrupt frame, an event-stream message past its
   * bound): the client already got an error event in its format from `push`, and nothing more
   * will be translated — the caller stops reading the upstream and ends the response.
   */
  readonly broken: boolean;
  /** Called when the upstream stream ended normally. */
  end(): string;
}

/** An upstream stream decoder feeding a client stream encoder. */
export class PipelineStream implements StreamTranslator {
  #broken = false;

  get broken(): boolean {
    return this.#broken || this.decoder.broken === true;
  }

  constructor(
    readonly decoder: StreamDecoder,
    readonly encoder: StreamEncoder,
  ) {}

  #encode(events: StreamEvent[]): string {
    let out = '';
    for (const e of events) out += this.encoder.encode(e);
    return out;
  }

  push(chunk: Uint8Array): string {
    if (this.#broken) return '';
    try {
      return this.#encode(this.decoder.push(chunk));
    } catch (err) {
      // an SSE event past its bound: the relay cuts the upstream off and ends the stream (relay.ts)
      if (err instanceof SseEventTooLargeError) throw err;
      // any other stream the decoder cannot read: end it explicitly, in the client's format
      this.#broken = true;
      return this.encoder.encode({ t: 'error', kind: 'server', message: `upstream stream unreadable: ${(err as Error).message}` });
    }
  }

  end(): string {
    if (this.#broken) return '';
    let out = '';
    try {
      out = this.#encode(this.decoder.end());
    } catch (err) {
      return out + this.encoder.encode({ t: 'error', kind: 'server', message: `upstream stream unreadable: ${(err as Error).message}` });
    }
    return out + this.encoder.finish();
  }
}

/** Anthropic SSE → OpenAI chat.completion.chunk SSE. */
export class MessagesToChatStream extends PipelineStream {
  constructor(includeUsage: boolean, provider?: string) {
    super(new AnthropicStreamDecoder(), new OpenAIStreamEncoder(includeUsage, provider));
  }
}

/** OpenAI chat.completion.chunk SSE → Anthropic SSE. */
export class ChatToMessagesStream extends PipelineStream {
  constructor(provider?: string) {
    super(new OpenAIStreamDecoder(), new AnthropicStreamEncoder(provider));
  }
}

function streamDecoder(upstream: UpstreamFormat, model: string | null): StreamDecoder {
  switch (upstream) {
    case 'openai':
      return new OpenAIStreamDecoder();
    case 'anthropic':
      return new AnthropicStreamDecoder();
    case 'bedrock':
      return new BedrockStreamDecoder(model);
    case 'gemini':
      return new GeminiStreamDecoder(model);
  }
}

/**
 * The stream translator for a mode. `body` is the client's parsed request: an OpenAI client
 * gets a final usage chunk when it asked (`stream_options.include_usage`).
 */
export function streamTranslator(mode: number, body: Json | null, ctx: TranslateContext = {}): StreamTranslator {
  const [client, upstream] = MODES[mode];
  const decoder = streamDecoder(upstream, ctx.model ?? null);
  if (client === 'openai') {
    const so = body !== null && isObject(body.stream_options) ? body.stream_options : null;
    return new PipelineStream(decoder, new OpenAIStreamEncoder(so !== null && so.include_usage === true, ctx.provider));
  }
  return new PipelineStream(decoder, new AnthropicStreamEncoder(ctx.provider));
}

/**
 * Is a success answer with this content type a stream to translate event by event? SSE for
 * every format, and AWS event streams (`application/vnd.amazon.eventstream`) from Bedrock.
 */
export function isTranslatedStream(mode: number, contentType: string): boolean {
  return isEventStream(contentType) || (MODES[mode][1] === 'bedrock' && isAwsEventStream(contentType));
}
