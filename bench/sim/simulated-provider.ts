/**
 * A mock LLM provider: a real HTTP server on 127.0.0.1 speaking the OpenAI
 * (`/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/responses`,
 * `/v1/models`) and Anthropic (`/v1/messages`) wire formats, JSON and SSE, in the exact
 * shapes the official SDKs parse.
 *
 * Used by the runtime tests, the demo (`npm start`) and the benchmarks. Behaviour is
 * programmable per test: status sequences, delays before headers and before the first body
 * byte, a stream that breaks after N events, a refused port. Every request is recorded.
 *
 * The completion text echoes what the mock received (`mock:<name> model=<model>`) and the
 * response carries `x-mock-provider` and `x-mock-model` headers, so tests can see where a
 * request landed and what model name the gateway wrote.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorType } from './wire.js';

/** Programmable behaviour; every field optional. */
export interface MockBehavior {
  /** Statuses for the next requests, consumed one per request; afterwards `status` applies. */
  statuses?: number[];
  /** Status once `statuses` is used up. Default 200. */
  status?: number;
  /** Delay before the status line and headers are sent (ms). */
  headersDelayMs?: number;
  /** Delay between the headers and the first body byte (ms). */
  firstByteDelayMs?: number;
  /** Delay between SSE events (ms). Default 0. */
  chunkDelayMs?: number;
  /** Streaming: destroy the socket after this many SSE events. Non-streaming: after half the body. */
  breakAfterChunks?: number;
  /** Never answer (the gateway's timeouts must fire). */
  hang?: boolean;
  /** Completion text; default `mock:<name> model=<model>`. Streamed one word per event. */
  content?: string;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /**
   * Streaming: instead of a normal answer, send this many bytes of SSE comment-free events
   * as fast as the connection accepts them (honouring backpressure); progress is recorded
   * in {@link ReceivedRequest.bytesSent}. For backpressure tests.
   */
  floodBytes?: number;
  /** Error body to send for statuses ≥ 400 (default: the wire format's error envelope). */
  errorBody?: unknown;
}

/** One request as the mock received it. */
export interface ReceivedRequest {
  method: string;
  path: string;
  /** Lower-case names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  body: string;
  /** Parsed body, or null when it was not JSON. */
  json: Record<string, unknown> | null;
  /** `json.model` when it is a string. */
  model: string | null;
  /** Status the mock answered (0 while in progress or when it hung/broke before headers). */
  status: number;
  /** True when the client closed the connection before the mock finished answering. */
  clientAborted: boolean;
  /** Body bytes handed to the socket so far (flood mode and SSE). */
  bytesSent: number;
  /** Date.now() at arrival. */
  at: number;
}

export interface MockProviderOptions {
  /** Appears in responses and `x-mock-provider`. Default `mock`. */
  name?: string;
  /** Default 0 (ephemeral). */
  port?: number;
  behavior?: MockBehavior;
}

export interface MockProvider {
  /** `http://127.0.0.1:<port>` (no trailing slash). OpenAI base URL is `${url}/v1`. */
  readonly url: string;
  readonly port: number;
  readonly name: string;
  /** Every request received, in order. */
  readonly requests: ReceivedRequest[];
  /** TCP connections currently open to the mock (leak checks). */
  readonly openConnections: number;
  /** Replaces the behaviour (a function is called per request). */
  setBehavior(b: MockBehavior | ((req: ReceivedRequest) => MockBehavior)): void;
  /** Closes the port: connections are refused until `reopen()`. */
  refuse(): Promise<void>;
  /** Listens again on the same port. */
  reopen(): Promise<void>;
  /** Closes the server and every open connection. */
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts a mock provider on 127.0.0.1. */
export async function startMockProvider(opts: MockProviderOptions = {}): Promise<MockProvider> {
  const name = opts.name ?? 'mock';
  const requests: ReceivedRequest[] = [];
  let behavior: MockBehavior | ((req: ReceivedRequest) => MockBehavior) = opts.behavior ?? {};
  let seq = 0;
  let sequenceIndex = 0;
  const sockets = new Set<import('node:net').Socket>();

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: Record<string, unknown> | null = null;
      try {
        const v = JSON.parse(body);
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) json = v as Record<string, unknown>;
      } catch {
        /* not JSON */
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
      const rec: ReceivedRequest = {
        method: req.method ?? 'GET',
        path: (req.url ?? '/').split('?')[0],
        headers,
        body,
        json,
        model: json !== null && typeof json.model === 'string' ? json.model : null,
        status: 0,
        clientAborted: false,
        bytesSent: 0,
        at: Date.now(),
      };
      requests.push(rec);
      res.on('close', () => {
        if (!res.writableFinished) rec.clientAborted = true;
      });
      const b = typeof behavior === 'function' ? behavior(rec) : behavior;
      let status = b.status ?? 200;
      if (b.statuses !== undefined && sequenceIndex < b.statuses.length) status = b.statuses[sequenceIndex++];
      serve(rec, b, status, res).catch(() => res.destroy());
    });
  });
  server.keepAliveTimeout = 5000;
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function serve(rec: ReceivedRequest, b: MockBehavior, status: number, res: http.ServerResponse): Promise<void> {
    if (b.hang) return; // the socket stays open until the client gives up or close()
    if (b.headersDelayMs) await sleep(b.headersDelayMs);
    if (res.destroyed) return;
    const id = ++seq;
    const model = rec.model ?? 'unknown';
    const anthropic = rec.path === '/v1/messages';
    const extra: Record<string, string> = { 'x-mock-provider': name, 'x-mock-model': model, ...b.headers };
    rec.status = status;

    if (rec.method === 'GET' && rec.path === '/v1/models') {
      return sendJson(res, 200, extra, b, {
        object: 'list',
        data: [{ id: model === 'unknown' ? 'mock-model' : model, object: 'model', created: 1700000000, owned_by: name }],
      });
    }
    if (status >= 400) {
      const type = errorType(status);
      const errBody =
        b.errorBody ??
        (anthropic
          ? {
              type: 'error',
              error: {
                type: status === 529 ? 'overloaded_error' : status >= 500 ? 'api_error' : type,
                message: `mock ${name} status ${status}`,
              },
            }
          : { error: { message: `mock ${name} status ${status}`, type: status >= 500 ? 'server_error' : type, param: null, code: null } });
      return sendJson(res, status, extra, b, errBody);
    }
    const text = b.content ?? `mock:${name} model=${model}`;
    const stream = rec.json?.stream === true;
    const kind = endpointKind(rec.path);
    if (kind === null) {
      rec.status = 404;
      return sendJson(res, 404, extra, b, {
        error: { message: `mock: no route ${rec.path}`, type: 'invalid_request_error', param: null, code: null },
      });
    }
    if (stream && b.floodBytes !== undefined) return flood(rec, res, status, extra, b.floodBytes);
    if (!stream || kind === 'embeddings') return sendJson(res, status, extra, b, jsonResponse(kind, id, model, text, rec, name));
    return sendStream(res, rec, status, extra, b, streamEvents(kind, id, model, text, rec));
  }

  async function sendJson(
    res: http.ServerResponse,
    status: number,
    extra: Record<string, string>,
    b: MockBehavior,
    body: unknown,
  ): Promise<void> {
    const bytes = Buffer.from(JSON.stringify(body));
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(bytes.length), ...extra });
    if (b.firstByteDelayMs) {
      res.flushHeaders();
      await sleep(b.firstByteDelayMs);
      if (res.destroyed) return;
    }
    if (b.breakAfterChunks !== undefined) {
      res.write(bytes.subarray(0, bytes.length >> 1));
      await sleep(5);
      res.destroy();
      return;
    }
    res.end(bytes);
  }

  async function sendStream(
    res: http.ServerResponse,
    rec: ReceivedRequest,
    status: number,
    extra: Record<string, string>,
    b: MockBehavior,
    events: string[],
  ): Promise<void> {
    res.writeHead(status, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...extra });
    res.flushHeaders();
    if (b.firstByteDelayMs) await sleep(b.firstByteDelayMs);
    for (let i = 0; i < events.length; i++) {
      if (res.destroyed) return;
      if (b.breakAfterChunks !== undefined && i >= b.breakAfterChunks) {
        await sleep(5);
        res.destroy();
        return;
      }
      res.write(events[i]);
      rec.bytesSent += events[i].length;
      if (b.chunkDelayMs) await sleep(b.chunkDelayMs);
    }
    res.end();
  }

  async function flood(
    rec: ReceivedRequest,
    res: http.ServerResponse,
    status: number,
    extra: Record<string, string>,
    total: number,
  ): Promise<void> {
    res.writeHead(status, { 'content-type': 'text/event-stream', ...extra });
    const event = Buffer.from(`data: ${JSON.stringify({ pad: 'x'.repeat(16 * 1024 - 32) })}\n\n`);
    while (rec.bytesSent < total && !res.destroyed) {
      rec.bytesSent += event.length;
      if (!res.write(event)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    res.end('data: [DONE]\n\n');
  }

  function listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  function closeServer(): Promise<void> {
    return new Promise((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  }

  const port = await listen(opts.port ?? 0);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    name,
    requests,
    get openConnections() {
      return sockets.size;
    },
    setBehavior(b) {
      behavior = b;
      sequenceIndex = 0;
    },
    refuse: closeServer,
    async reopen() {
      await listen(port);
    },
    close: closeServer,
  };
}

type EndpointKind = 'chat' | 'completions' | 'embeddings' | 'responses' | 'messages';

function endpointKind(path: string): EndpointKind | null {
  switch (path) {
    case '/v1/chat/completions':
      return 'chat';
    case '/v1/completions':
      return 'completions';
    case '/v1/embeddings':
      return 'embeddings';
    case '/v1/responses':
      return 'responses';
    case '/v1/messages':
      return 'messages';
    default:
      return null;
  }
}

const CREATED = 1700000000;

function usageCounts(rec: ReceivedRequest, text: string): { input: number; output: number } {
  return { input: Math.max(1, Math.ceil(rec.body.length / 4)), output: text.split(' ').length };
}

function jsonResponse(kind: EndpointKind, id: number, model: string, text: string, rec: ReceivedRequest, name: string): unknown {
  const u = usageCounts(rec, text);
  switch (kind) {
    case 'chat':
      return {
        id: `chatcmpl-${name}-${id}`,
        object: 'chat.completion',
        created: CREATED,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output },
      };
    case 'completions':
      return {
        id: `cmpl-${name}-${id}`,
        object: 'text_completion',
        created: CREATED,
        model,
        choices: [{ text, index: 0, logprobs: null, finish_reason: 'stop' }],
        usage: { prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output },
      };
    case 'embeddings': {
      const input = rec.json?.input;
      const n = Array.isArray(input) ? input.length : 1;
      const data = [];
      // the openai SDK asks for base64 (little-endian float32) by default
      const base64 = rec.json?.encoding_format === 'base64';
      for (let i = 0; i < n; i++) {
        const v = [0.1 * (i + 1), 0.2, 0.3];
        data.push({ object: 'embedding', index: i, embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v });
      }
      return { object: 'list', data, model, usage: { prompt_tokens: u.input, total_tokens: u.input } };
    }
    case 'responses':
      return responseObject(id, model, text, u, 'completed', name);
    case 'messages':
      return {
        id: `msg_${name}_${id}`,
        type: 'message',
        role: 'assistant',
        model,
        content: [{ type: 'text', text }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: { input_tokens: u.input, output_tokens: u.output },
      };
  }
}

function responseObject(
  id: number,
  model: string,
  text: string,
  u: { input: number; output: number },
  status: string,
  name = 'mock',
): Record<string, unknown> {
  return {
    id: `resp_${name}_${id}`,
    object: 'response',
    created_at: CREATED,
    status,
    model,
    output:
      status === 'completed'
        ? [
            {
              type: 'message',
              id: `msg_${id}`,
              status: 'completed',
              role: 'assistant',
              content: [{ type: 'output_text', text, annotations: [] }],
            },
          ]
        : [],
    usage: status === 'completed' ? { input_tokens: u.input, output_tokens: u.output, total_tokens: u.input + u.output } : null,
  };
}

const sse = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;
const sseEvent = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** The SSE events of a streamed answer; content is split into one event per word. */
function streamEvents(kind: EndpointKind, id: number, model: string, text: string, rec: ReceivedRequest): string[] {
  const words = text.split(' ').map((w, i) => (i === 0 ? w : ' ' + w));
  const u = usageCounts(rec, text);
  const out: string[] = [];
  switch (kind) {
    case 'chat': {
      const base = { id: `chatcmpl-mock-${id}`, object: 'chat.completion.chunk', created: CREATED, model };
      out.push(sse({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }] }));
      for (const w of words)
        out.push(sse({ ...base, choices: [{ index: 0, delta: { content: w }, logprobs: null, finish_reason: null }] }));
      out.push(sse({ ...base, choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] }));
      const so = rec.json?.stream_options as { include_usage?: boolean } | undefined;
      if (so?.include_usage) {
        out.push(
          sse({ ...base, choices: [], usage: { prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output } }),
        );
      }
      out.push('data: [DONE]\n\n');
      return out;
    }
    case 'completions': {
      const base = { id: `cmpl-mock-${id}`, object: 'text_completion', created: CREATED, model };
      for (const w of words) out.push(sse({ ...base, choices: [{ text: w, index: 0, logprobs: null, finish_reason: null }] }));
      out.push(sse({ ...base, choices: [{ text: '', index: 0, logprobs: null, finish_reason: 'stop' }] }));
      out.push('data: [DONE]\n\n');
      return out;
    }
    case 'embeddings':
      return out; // never reached: embeddings do not stream
    case 'responses': {
      let n = 0;
      out.push(
        sseEvent('response.created', {
          type: 'response.created',
          sequence_number: n++,
          response: responseObject(id, model, '', u, 'in_progress'),
        }),
      );
      for (const w of words) {
        out.push(
          sseEvent('response.output_text.delta', {
            type: 'response.output_text.delta',
            sequence_number: n++,
            item_id: `msg_${id}`,
            output_index: 0,
            content_index: 0,
            delta: w,
            logprobs: [],
          }),
        );
      }
      out.push(
        sseEvent('response.output_text.done', {
          type: 'response.output_text.done',
          sequence_number: n++,
          item_id: `msg_${id}`,
          output_index: 0,
          content_index: 0,
          text,
          logprobs: [],
        }),
      );
      out.push(
        sseEvent('response.completed', {
          type: 'response.completed',
          sequence_number: n++,
          response: responseObject(id, model, text, u, 'completed'),
        }),
      );
      return out;
    }
    case 'messages': {
      out.push(
        sseEvent('message_start', {
          type: 'message_start',
          message: {
            id: `msg_mock_${id}`,
            type: 'message',
            role: 'assistant',
            model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: u.input, output_tokens: 1 },
          },
        }),
      );
      out.push(sseEvent('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
      out.push(sseEvent('ping', { type: 'ping' }));
      for (const w of words)
        out.push(sseEvent('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: w } }));
      out.push(sseEvent('content_block_stop', { type: 'content_block_stop', index: 0 }));
      out.push(
        sseEvent('message_delta', {
          type: 'message_delta',
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { output_tokens: u.output },
        }),
      );
      out.push(sseEvent('message_stop', { type: 'message_stop' }));
      return out;
    }
  }
}
