/**
 * What every simulated cloud endpoint shares (bench/sim/clouds/): a real HTTP server on
 * 127.0.0.1 that records each request exactly as received (raw path and query, headers,
 * body), and the answer a test programs (text, tool calls, finish, usage), rendered by each
 * simulator in its provider's own format.
 *
 * The simulators are strict: a request that deviates from the provider's wire format (wrong
 * path, query, header, body field, signature, token) is answered with the provider's own
 * error status and envelope, with a `sim:` message saying what was wrong — and recorded with
 * that message in `violation`, so a test can print it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request as a simulator received it. */
export interface CloudRequest {
  method: string;
  /** Raw path as sent, without the query (percent-encoding untouched). */
  path: string;
  /** Raw query string without `?` ('' for none). */
  rawQuery: string;
  query: URLSearchParams;
  /** Lower-case names; repeated headers joined with ', '. */
  headers: Record<string, string>;
  body: Buffer;
  /** Parsed JSON body, or null. */
  json: Record<string, unknown> | null;
  /** Status answered. */
  status: number;
  /** Why the simulator refused the request (null when it was accepted). */
  violation: string | null;
}

/** A programmed answer. */
export interface CloudReply {
  /** Answer text (streamed in {@link chunks} pieces). */
  text?: string;
  /** Tool calls made after the text; `id` is used where the format carries one. */
  toolCalls?: { id?: string; name: string; args: Record<string, unknown> }[];
  /** Default: `tool_calls` when there are tool calls, else `stop`. */
  finish?: 'stop' | 'length' | 'tool_calls' | 'content_filter';
  usage?: { input: number; output: number };
  /** Pieces the text is split into when streamed (default 3). */
  chunks?: number;
  /** Answer with this error status instead (the provider's error envelope, `errorMessage`). */
  errorStatus?: number;
  errorMessage?: string;
  /** Streams: after the text, end with the provider's in-stream error (`type` in the provider's words). */
  midStreamError?: { type: string; message: string };
}

export type ReplyFn = (req: CloudRequest) => CloudReply;

/** A rejection: the provider's status and message for a malformed request. */
export class Violation extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Throws a Violation unless `cond` holds. */
export function expectWire(cond: boolean, status: number, message: string): asserts cond {
  if (!cond) throw new Violation(status, `sim: ${message}`);
}

/** A key not allowed in a body object → Violation (the providers validate bodies strictly). */
export function onlyKeys(o: Record<string, unknown>, allowed: readonly string[], where: string, status = 400): void {
  for (const k of Object.keys(o)) expectWire(allowed.includes(k), status, `unknown field ${JSON.stringify(k)} in ${where}`);
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Splits text into `n` pieces (some may be empty when text is short). */
export function pieces(text: string, n: number): string[] {
  const out: string[] = [];
  const size = Math.max(1, Math.ceil(text.length / Math.max(1, n)));
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length === 0 ? [''] : out;
}

/** The finish of a reply (its default from the tool calls). */
export function finishOf(r: CloudReply): 'stop' | 'length' | 'tool_calls' | 'content_filter' {
  return r.finish ?? ((r.toolCalls?.length ?? 0) > 0 ? 'tool_calls' : 'stop');
}

export interface CloudServer {
  readonly url: string;
  readonly port: number;
  readonly requests: CloudRequest[];
  close(): Promise<void>;
}

/** What a simulator's handler does with an accepted-or-rejected request. */
export type CloudHandler = (req: CloudRequest, res: http.ServerResponse) => Promise<void> | void;

/**
 * Starts an HTTP server on 127.0.0.1 (ephemeral port). `handle` may throw a Violation: it is
 * answered with `violationBody(status, message)` and recorded.
 */
export async function startCloudServer(
  handle: CloudHandler,
  violationBody: (status: number, message: string) => { headers: Record<string, string>; body: string },
): Promise<CloudServer> {
  const requests: CloudRequest[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
      let json: Record<string, unknown> | null = null;
      try {
        const v: unknown = JSON.parse(body.toString('utf8'));
        if (isObject(v)) json = v;
      } catch {
        /* not JSON */
      }
      const record: CloudRequest = {
        method: req.method ?? '',
        path: q < 0 ? url : url.slice(0, q),
        rawQuery: q < 0 ? '' : url.slice(q + 1),
        query: new URLSearchParams(q < 0 ? '' : url.slice(q + 1)),
        headers,
        body,
        json,
        status: 0,
        violation: null,
      };
      requests.push(record);
      res.on('finish', () => {
        record.status = res.statusCode;
      });
      Promise.resolve()
        .then(() => handle(record, res))
        .catch((err: unknown) => {
          const v = err instanceof Violation ? err : new Violation(500, `sim: ${(err as Error).message}`);
          record.violation = v.message;
          if (res.headersSent) {
            res.destroy();
            return;
          }
          const { headers: h, body: b } = violationBody(v.status, v.message);
          res.writeHead(v.status, { ...h, 'content-length': Buffer.byteLength(b) });
          res.end(b);
        });
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Writes a JSON answer. */
export function sendJson(res: http.ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** Writes SSE events (`[event, data]`, event null for none) one write per event. */
export function sendSse(res: http.ServerResponse, events: readonly (readonly [string | null, string])[]): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const [event, data] of events) res.write(event === null ? `data: ${data}\n\n` : `event: ${event}\ndata: ${data}\n\n`);
  res.end();
}
