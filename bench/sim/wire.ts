import { bedrockErrorTypeHeader, converseResponse, converseStreamFrames } from './clouds/bedrock.js';
import { generateContentResponse, generateContentStreamEvents, googleError } from './clouds/generate-content.js';

/**
 * Response bytes of the simulated providers, pre-encoded: per (endpoint, model, output
 * tokens) the JSON body, or the SSE events of a stream (head + first token, one event per
 * further token, tail). Encoding happens once per key; serving a request then costs a cache
 * lookup and socket writes, so the simulator stays cheap next to the gateway it measures.
 *
 * Shapes are those the official SDKs parse (the same as bench/sim/simulated-provider.ts):
 * OpenAI chat completions, completions, embeddings and responses (also behind Azure's
 * paths); Anthropic messages; Gemini generateContent (./clouds/generate-content.ts);
 * Bedrock Converse, its streams in AWS event-stream frames (./clouds/bedrock.ts).
 */

export type SimEndpoint = 'chat' | 'completions' | 'embeddings' | 'responses' | 'messages' | 'gemini' | 'bedrock';

/** A request path as the simulator reads it: the endpoint, and the model when the path names it. */
export interface SimRoute {
  ep: SimEndpoint;
  /** Azure deployment, Gemini or Bedrock model from the path; null when the body names the model. */
  model: string | null;
  /** Gemini, Bedrock: the path asks for a stream (`:streamGenerateContent`, `/converse-stream`). */
  stream: boolean;
}

const AZURE_DEPLOYMENT = /^\/openai\/deployments\/([^/]+)\/(chat\/completions|completions|embeddings)$/;
const GEMINI = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;
/** Bedrock's Converse paths (runtime/providers/bedrock.ts); the model id is URL-encoded (`:` → `%3A`). */
const BEDROCK = /^\/model\/([^/]+)\/(converse|converse-stream)$/;
/** Vertex AI's publisher-model path (runtime/providers/vertex.ts): Gemini's wire format under a project and location. */
const VERTEX =
  /^\/v1(?:beta1)?\/projects\/[^/]+\/locations\/[^/]+\/publishers\/[^/]+\/models\/([^/:]+):(generateContent|streamGenerateContent)$/;

/**
 * Route of a request path: OpenAI (`/v1/...`, Azure's `/openai/v1/...` and
 * `/openai/deployments/{deployment}/...`), Anthropic (`/v1/messages`), Gemini
 * (`/v1beta/models/{model}:generateContent`) and Vertex AI
 * (`/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent`) and Bedrock
 * (`/model/{modelId}/converse`, `/converse-stream`). null: no such route.
 */
export function simRoute(path: string): SimRoute | null {
  const ep = simEndpoint(path.startsWith('/openai/v1/') ? path.slice('/openai'.length) : path);
  if (ep !== null) return { ep, model: null, stream: false };
  let m = AZURE_DEPLOYMENT.exec(path);
  if (m !== null) return { ep: simEndpoint(`/v1/${m[2]}`)!, model: decodeURIComponent(m[1]), stream: false };
  m = GEMINI.exec(path) ?? VERTEX.exec(path);
  if (m !== null) return { ep: 'gemini', model: decodeURIComponent(m[1]), stream: m[2] === 'streamGenerateContent' };
  m = BEDROCK.exec(path);
  if (m !== null) return { ep: 'bedrock', model: decodeURIComponent(m[1]), stream: m[2] === 'converse-stream' };
  return null;
}

/** Endpoint of an OpenAI or Anthropic request path (`/v1/...`), or null. */
export function simEndpoint(path: string): SimEndpoint | null {
  switch (path) {
    case '/v1/chat/completions':
    case '/chat/completions':
      return 'chat';
    case '/v1/completions':
    case '/completions':
      return 'completions';
    case '/v1/embeddings':
    case '/embeddings':
      return 'embeddings';
    case '/v1/responses':
    case '/responses':
      return 'responses';
    case '/v1/messages':
    case '/messages':
      return 'messages';
    default:
      return null;
  }
}

/** The events of one streamed answer: events[0] carries the head and the first token; the last carries the tail. */
export interface StreamBytes {
  readonly events: readonly Buffer[];
  /** Every event in one buffer (no inter-token latency: one write). */
  readonly whole: Buffer;
  /** A malformed event (broken JSON) to inject for the `malformed` fault. */
  readonly malformed: Buffer;
}

const CREATED = 1_700_000_000;
const WORD = ' ok';
const INPUT_TOKENS = 64;
const MAX_ENTRIES = 4096;

const sse = (data: unknown): string => `data: ${JSON.stringify(data)}\n\n`;
const sseEvent = (event: string, data: unknown): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** A bounded cache of encodings (cleared when full: keys are few in practice). */
export class WireCache {
  readonly #json = new Map<string, Buffer>();
  readonly #stream = new Map<string, StreamBytes>();
  readonly #provider: string;

  constructor(provider: string) {
    this.#provider = provider;
  }

  json(ep: SimEndpoint, model: string, tokens: number): Buffer {
    const key = `${ep}\u0000${model}\u0000${tokens}`;
    let b = this.#json.get(key);
    if (b === undefined) {
      if (this.#json.size >= MAX_ENTRIES) this.#json.clear();
      b = Buffer.from(JSON.stringify(jsonBody(ep, model, tokens, this.#provider)));
      this.#json.set(key, b);
    }
    return b;
  }

  stream(ep: SimEndpoint, model: string, tokens: number, usage: boolean): StreamBytes {
    const key = `${ep}\u0000${model}\u0000${tokens}\u0000${usage ? 1 : 0}`;
    let s = this.#stream.get(key);
    if (s === undefined) {
      if (this.#stream.size >= MAX_ENTRIES) this.#stream.clear();
      s = streamBytes(ep, model, tokens, usage, this.#provider);
      this.#stream.set(key, s);
    }
    return s;
  }

  /** The wire format's error body for `status`. */
  error(ep: SimEndpoint | null, status: number): Buffer {
    const key = `${ep}\u0000${status}`;
    let b = this.#json.get(key);
    if (b === undefined) {
      const message = `simulated ${this.#provider}: status ${status}`;
      const type = errorType(status);
      const body =
        ep === 'bedrock'
          ? { message } // the error type travels in `x-amzn-errortype` (bedrockErrorHeaders)
          : ep === 'gemini'
            ? googleError(status, message)
            : ep === 'messages'
              ? { type: 'error', error: { type: status === 529 ? 'overloaded_error' : status >= 500 ? 'api_error' : type, message } }
              : { error: { message, type: status >= 500 ? 'server_error' : type, param: null, code: null } };
      b = Buffer.from(JSON.stringify(body));
      this.#json.set(key, b);
    }
    return b;
  }
}

/** The provider-side error type of a status (the simulators' error bodies). */
export function errorType(status: number): string {
  switch (status) {
    case 401:
      return 'authentication_error';
    case 403:
      return 'permission_error';
    case 404:
      return 'not_found_error';
    case 429:
      return 'rate_limit_error';
    default:
      return 'invalid_request_error';
  }
}

function text(tokens: number): string {
  return WORD.repeat(tokens).slice(1);
}

function jsonBody(ep: SimEndpoint, model: string, tokens: number, provider: string): unknown {
  const content = text(tokens);
  switch (ep) {
    case 'chat':
      return {
        id: `chatcmpl-sim-${provider}`,
        object: 'chat.completion',
        created: CREATED,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: INPUT_TOKENS, completion_tokens: tokens, total_tokens: INPUT_TOKENS + tokens },
      };
    case 'completions':
      return {
        id: `cmpl-sim-${provider}`,
        object: 'text_completion',
        created: CREATED,
        model,
        choices: [{ text: content, index: 0, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: INPUT_TOKENS, completion_tokens: tokens, total_tokens: INPUT_TOKENS + tokens },
      };
    case 'embeddings':
      return {
        object: 'list',
        data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2, 0.3] }],
        model,
        usage: { prompt_tokens: INPUT_TOKENS, total_tokens: INPUT_TOKENS },
      };
    case 'responses':
      return responseObject(model, content, tokens, 'completed', provider);
    case 'gemini':
      return generateContentResponse({ text: content, usage: { input: INPUT_TOKENS, output: tokens } }, model);
    case 'bedrock':
      return converseResponse({ text: content, usage: { input: INPUT_TOKENS, output: tokens } });
    case 'messages':
      return {
        id: `msg_sim_${provider}`,
        type: 'message',
        role: 'assistant',
        model,
        content: [{ type: 'text', text: content }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: INPUT_TOKENS, output_tokens: tokens },
      };
  }
}

function responseObject(model: string, content: string, tokens: number, status: string, provider: string): Record<string, unknown> {
  return {
    id: `resp_sim_${provider}`,
    object: 'response',
    created_at: CREATED,
    status,
    model,
    output:
      status === 'completed'
        ? [
            {
              type: 'message',
              id: 'msg_sim',
              status: 'completed',
              role: 'assistant',
              content: [{ type: 'output_text', text: content, annotations: [] }],
            },
          ]
        : [],
    usage: status === 'completed' ? { input_tokens: INPUT_TOKENS, output_tokens: tokens, total_tokens: INPUT_TOKENS + tokens } : null,
  };
}

/** Bedrock's error answers carry their type in a header: `['x-amzn-errortype', type]`. */
export function bedrockErrorHeaders(status: number): string[] {
  return ['x-amzn-errortype', bedrockErrorTypeHeader(status)];
}

/**
 * A ConverseStream answer in AWS event-stream frames: messageStart rides with the first
 * token's contentBlockDelta, contentBlockStop + messageStop + metadata with the last; the
 * `malformed` fault is a frame whose message CRC is wrong.
 */
function bedrockStreamBytes(tokens: number): StreamBytes {
  const frames = converseStreamFrames({ text: text(tokens), chunks: tokens, usage: { input: INPUT_TOKENS, output: tokens } }).map((f) =>
    Buffer.from(f.buffer, f.byteOffset, f.byteLength),
  );
  const tailFrames = tokens > 0 ? 3 : 2; // (contentBlockStop,) messageStop, metadata
  const deltas = frames.slice(1, frames.length - tailFrames);
  const tail = frames.slice(frames.length - tailFrames);
  const events: Buffer[] = [];
  for (let i = 0; i < deltas.length; i++)
    events.push(Buffer.concat([...(i === 0 ? [frames[0]] : []), deltas[i], ...(i === deltas.length - 1 ? tail : [])]));
  if (events.length === 0) events.push(Buffer.concat([frames[0], ...tail]));
  const malformed = Buffer.from(deltas[0] ?? frames[0]);
  malformed[malformed.length - 1] ^= 0xff; // the message CRC no longer matches
  return { events, whole: Buffer.concat(events), malformed };
}

function streamBytes(ep: SimEndpoint, model: string, tokens: number, usage: boolean, provider: string): StreamBytes {
  if (ep === 'bedrock') return bedrockStreamBytes(tokens);
  const head: string[] = [];
  const perToken: string[] = [];
  const tail: string[] = [];
  let malformed = 'data: {"choices":[{"delta":{"content":\n\n';
  switch (ep) {
    case 'chat':
    case 'embeddings': {
      const base = { id: `chatcmpl-sim-${provider}`, object: 'chat.completion.chunk', created: CREATED, model };
      head.push(sse({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] }));
      for (let i = 0; i < tokens; i++)
        perToken.push(
          sse({
            ...base,
            choices: [{ index: 0, delta: { content: i === 0 ? WORD.slice(1) : WORD }, logprobs: null, finish_reason: null }],
          }),
        );
      tail.push(sse({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] }));
      if (usage)
        tail.push(
          sse({
            ...base,
            choices: [],
            usage: { prompt_tokens: INPUT_TOKENS, completion_tokens: tokens, total_tokens: INPUT_TOKENS + tokens },
          }),
        );
      tail.push('data: [DONE]\n\n');
      break;
    }
    case 'completions': {
      const base = { id: `cmpl-sim-${provider}`, object: 'text_completion', created: CREATED, model };
      for (let i = 0; i < tokens; i++)
        perToken.push(sse({ ...base, choices: [{ text: i === 0 ? WORD.slice(1) : WORD, index: 0, logprobs: null, finish_reason: null }] }));
      tail.push(sse({ ...base, choices: [{ text: '', index: 0, logprobs: null, finish_reason: 'stop' }] }));
      tail.push('data: [DONE]\n\n');
      break;
    }
    case 'responses': {
      let n = 0;
      head.push(
        sseEvent('response.created', {
          type: 'response.created',
          sequence_number: n++,
          response: responseObject(model, '', tokens, 'in_progress', provider),
        }),
      );
      for (let i = 0; i < tokens; i++)
        perToken.push(
          sseEvent('response.output_text.delta', {
            type: 'response.output_text.delta',
            sequence_number: n++,
            item_id: 'msg_sim',
            output_index: 0,
            content_index: 0,
            delta: i === 0 ? WORD.slice(1) : WORD,
            logprobs: [],
          }),
        );
      tail.push(
        sseEvent('response.output_text.done', {
          type: 'response.output_text.done',
          sequence_number: n++,
          item_id: 'msg_sim',
          output_index: 0,
          content_index: 0,
          text: text(tokens),
          logprobs: [],
        }),
      );
      tail.push(
        sseEvent('response.completed', {
          type: 'response.completed',
          sequence_number: n++,
          response: responseObject(model, text(tokens), tokens, 'completed', provider),
        }),
      );
      malformed = 'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta":\n\n';
      break;
    }
    case 'gemini': {
      // one event per token, then the finish event (finish reason and usage)
      const events = generateContentStreamEvents(
        { text: text(tokens), chunks: tokens, usage: { input: INPUT_TOKENS, output: tokens } },
        model,
      ).map((e) => `data: ${e}\r\n\r\n`);
      perToken.push(...events.slice(0, -1));
      tail.push(events[events.length - 1]);
      malformed = 'data: {"candidates":[{"content":\r\n\r\n';
      break;
    }
    case 'messages': {
      head.push(
        sseEvent('message_start', {
          type: 'message_start',
          message: {
            id: `msg_sim_${provider}`,
            type: 'message',
            role: 'assistant',
            model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: INPUT_TOKENS, output_tokens: 1 },
          },
        }),
      );
      head.push(sseEvent('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
      for (let i = 0; i < tokens; i++)
        perToken.push(
          sseEvent('content_block_delta', {
            type: 'content_block_delta',
            index: 0,
            delta: { type: 'text_delta', text: i === 0 ? WORD.slice(1) : WORD },
          }),
        );
      tail.push(sseEvent('content_block_stop', { type: 'content_block_stop', index: 0 }));
      tail.push(
        sseEvent('message_delta', {
          type: 'message_delta',
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { output_tokens: tokens },
        }),
      );
      tail.push(sseEvent('message_stop', { type: 'message_stop' }));
      malformed = 'event: content_block_delta\ndata: {"type":"content_block_delta","delta":\n\n';
      break;
    }
  }
  // events[k] = what is written when token k is due: the head rides with the first token,
  // the tail with the last.
  const events: Buffer[] = [];
  for (let i = 0; i < perToken.length; i++) {
    let s = perToken[i];
    if (i === 0) s = head.join('') + s;
    if (i === perToken.length - 1) s += tail.join('');
    events.push(Buffer.from(s));
  }
  if (events.length === 0) events.push(Buffer.from(head.join('') + tail.join('')));
  return { events, whole: Buffer.concat(events), malformed: Buffer.from(malformed) };
}
