#!/usr/bin/env node
/**
 * The floor for a gateway built on Node.js and uWebSockets.js (issue 13): the least such a
 * proxy can do per request, to tell the platform's cost from vmc's own. It is NOT a gateway:
 * no validation, no routing, no retries, no metrics, no header policy; it handles exactly the
 * benchmark's traffic (bench/lib/mock-upstream.mjs answers with a Content-Length body).
 *
 * Per request: uWS.js reads the request (`onAborted`, `onData`; no header is copied), the body
 * is copied once and sent to the upstream on a kept-alive `node:net` socket (one write of head
 * and body; reads through `onread`, no stream), the answer's status line and Content-Length
 * are found with `Buffer.indexOf` (as uWS.js spells them, else lower-cased), and status, content-type and body go back in one `cork`.
 * These are the same platform parts `vmc serve` uses on this path (runtime/http/uws.ts,
 * runtime/http1/client.ts), so vmc's CPU per request above this floor's is vmc's own work.
 *
 *   node bench/lib/node-floor.mjs --upstream HOST:PORT [--port 0]   prints {"port":N} once listening
 */
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadUws } from '../../dist/runtime/http/uws.js';
import { parseFlags } from './common.mjs';

const READ_BUFFER_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
const STATUS = { 200: '200 OK', 400: '400 Bad Request', 429: '429 Too Many Requests', 500: '500 Internal Server Error' };

/** Status, content-type and body to the client, if it is still there. */
function answer(ex, status, contentType, body) {
  if (ex.aborted) return;
  ex.res.cork(() => {
    ex.res.writeStatus(STATUS[status] ?? String(status));
    if (contentType !== null) ex.res.writeHeader('content-type', contentType);
    ex.res.end(body);
  });
}

/**
 * The value of header `name` in head[0, end) (`name` as the mock's uWS.js spells it, or
 * lower-cased), or null. `Buffer.indexOf` on the bytes: no string of the whole head.
 */
function headerValue(head, end, name) {
  let at = head.indexOf(`\r\n${name}:`);
  if (at < 0 || at >= end) at = head.indexOf(`\r\n${name.toLowerCase()}:`);
  if (at < 0 || at >= end) return null;
  const from = at + name.length + 3;
  const eol = head.indexOf('\r\n', from);
  return head.toString('latin1', from, eol < 0 || eol > end ? end : eol).trim();
}

/** One kept-alive upstream connection; `idle` holds those waiting for a request. */
class Upstream {
  constructor(host, port, idle) {
    this.idle = idle;
    this.ex = null;
    this.kept = null; // bytes of an answer split over reads
    this.socket = connect({
      host,
      port,
      noDelay: true,
      onread: { buffer: Buffer.allocUnsafeSlow(READ_BUFFER_BYTES), callback: (n, buf) => this.onRead(n, buf) },
    });
    this.socket.on('error', () => this.fail());
    this.socket.on('close', () => this.fail());
  }

  send(ex, request) {
    this.ex = ex;
    this.socket.write(request);
  }

  onRead(n, buf) {
    const data = this.kept === null ? buf.subarray(0, n) : Buffer.concat([this.kept, buf.subarray(0, n)]);
    const he = data.indexOf(HEAD_END);
    const cl = he < 0 ? null : headerValue(data, he, 'Content-Length');
    const length = cl === null ? -1 : Number(cl);
    if (!(length >= 0) || data.length < he + 4 + length) {
      this.kept = Buffer.from(data); // copied: the read buffer is reused
      return;
    }
    this.kept = null;
    const ex = this.ex;
    this.ex = null;
    this.idle.push(this);
    if (ex === null) return;
    const status = Number(data.toString('latin1', 9, 12));
    answer(ex, status, headerValue(data, he, 'content-type'), data.subarray(he + 4, he + 4 + length));
  }

  fail() {
    const i = this.idle.indexOf(this);
    if (i >= 0) this.idle.splice(i, 1);
    const ex = this.ex;
    this.ex = null;
    if (ex !== null) answer(ex, 502, 'application/json', '{"error":{"message":"upstream connection failed"}}');
  }
}

/** Starts the floor proxy in front of `upstream` (`host:port`); resolves { port, close }. */
export async function startNodeFloor(upstream, port = 0) {
  const uws = loadUws();
  const [host, upPort] = [upstream.slice(0, upstream.lastIndexOf(':')), Number(upstream.slice(upstream.lastIndexOf(':') + 1))];
  const idle = [];
  const app = uws.App();
  app.get('/health', (res) => res.end('ok'));
  app.any('/*', (res, req) => {
    const ex = { res, aborted: false, body: null };
    res.onAborted(() => (ex.aborted = true));
    const line = `${req.getMethod().toUpperCase()} ${req.getUrl()} HTTP/1.1\r\nhost: ${upstream}\r\ncontent-type: ${req.getHeader('content-type')}\r\ncontent-length: `;
    res.onData((ab, last) => {
      const chunk = Buffer.from(new Uint8Array(ab)); // copied: uWS reuses the memory
      ex.body = ex.body === null ? chunk : Buffer.concat([ex.body, chunk]);
      if (!last) return;
      const head = `${line}${ex.body.length}\r\n\r\n`;
      const request = Buffer.allocUnsafe(head.length + ex.body.length);
      request.write(head, 0, 'latin1');
      ex.body.copy(request, head.length);
      (idle.pop() ?? new Upstream(host, upPort, idle)).send(ex, request);
    });
  });
  const socket = await new Promise((resolve) => app.listen('127.0.0.1', port, resolve));
  if (!socket) throw new Error(`node-floor: cannot listen on 127.0.0.1:${port}`);
  return { port: uws.us_socket_local_port(socket), close: () => uws.us_listen_socket_close(socket) };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const flags = parseFlags(process.argv.slice(2));
  if (typeof flags.upstream !== 'string') throw new Error('usage: node bench/lib/node-floor.mjs --upstream HOST:PORT [--port 0]');
  const { port } = await startNodeFloor(flags.upstream, Number(flags.port ?? 0));
  process.stdout.write(JSON.stringify({ port }) + '\n');
  process.on('SIGTERM', () => process.exit(0));
}
