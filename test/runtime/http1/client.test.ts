/**
 * Conformance of the lean HTTP/1.1 client (runtime/http1/client.ts, issue 13) against real
 * servers on 127.0.0.1: scripted raw TCP servers for exact bytes (framing, splits, malformed
 * and slow upstreams, early closes, 1xx) and node:http for ordinary keep-alive behaviour.
 * Every wait is bounded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { H1Error, H1Pool, type H1Handler } from '../../../runtime/http1/client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Everything one exchange produced. */
interface Outcome {
  status: number;
  headers: [string, string][];
  body: Buffer;
  chunks: number;
  error: (Error & { code?: string }) | null;
  sent: boolean;
  ms: number;
}

/** A handler recording into an Outcome; onData returns false at chunk number `pauseAfter` (the test resumes). */
function recorder(opts: { pauseAfter?: number; abortOnHeaders?: boolean } = {}) {
  const out: Outcome = { status: 0, headers: [], body: Buffer.alloc(0), chunks: 0, error: null, sent: false, ms: 0 };
  const parts: Buffer[] = [];
  let resume: (() => void) | null = null;
  let abort: ((err?: Error) => void) | null = null;
  const t0 = performance.now();
  let finish!: () => void;
  const done = new Promise<Outcome>((r) => {
    finish = () => {
      out.body = Buffer.concat(parts);
      out.ms = performance.now() - t0;
      r(out);
    };
  });
  const handler: H1Handler = {
    onConnect(a) {
      abort = a;
    },
    onHeaders(status, raw, r) {
      out.status = status;
      for (let i = 0; i < raw.length; i += 2) out.headers.push([raw[i], raw[i + 1]]);
      resume = r;
      if (opts.abortOnHeaders) abort!(new Error('client went away'));
      return true;
    },
    onData(chunk) {
      parts.push(chunk);
      out.chunks++;
      return out.chunks !== opts.pauseAfter; // false once: the test resumes once
    },
    onComplete() {
      finish();
    },
    onError(err) {
      out.error = err;
      finish();
    },
    onRequestSent() {
      out.sent = true;
    },
  };
  return { handler, done, resume: () => resume?.(), parts };
}

/** A raw TCP server: `onRequest(socket, requestBytes, n)` is called for every full request it reads. */
async function rawServer(onRequest: (s: net.Socket, req: string, n: number) => void) {
  const sockets = new Set<net.Socket>();
  let connections = 0;
  let requests = 0;
  const server = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const he = buf.indexOf('\r\n\r\n');
        if (he < 0) return;
        const m = /content-length: (\d+)/i.exec(buf.slice(0, he));
        const len = m ? Number(m[1]) : 0;
        if (buf.length < he + 4 + len) return;
        const req = buf.slice(0, he + 4 + len);
        buf = buf.slice(he + 4 + len);
        onRequest(s, req, ++requests);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    connections: () => connections,
    open: () => sockets.size,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

const pools: H1Pool[] = [];
const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) await p.destroy();
  for (const c of closers.splice(0)) await c();
});

function pool(origin: string, opts = {}) {
  const p = new H1Pool(origin, opts);
  pools.push(p);
  return p;
}

async function server(onRequest: (s: net.Socket, req: string, n: number) => void) {
  const s = await rawServer(onRequest);
  closers.push(s.close);
  return s;
}

/** One request; resolves with its outcome (bounded). */
async function send(
  p: H1Pool,
  rec = recorder(),
  body = '{"a":1}',
  headers: string[] = ['content-type', 'application/json'],
  timeouts = [10_000, 10_000],
) {
  p.dispatch('/v1/chat/completions', headers, Buffer.from(body), timeouts[0], timeouts[1], rec.handler);
  return Promise.race([rec.done, sleep(8000).then(() => Promise.reject(new Error('exchange did not end within 8 s')))]);
}

const OK = (body: string, extra = '') =>
  `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;

describe('requests', () => {
  it('writes the request line, host, the given headers, content-length and the body in one go', async () => {
    let seen = '';
    const s = await server((sock, req) => {
      seen = req;
      sock.write(OK('{}'));
    });
    const r = await send(pool(s.origin), recorder(), '{"model":"m"}', ['x-request-id', 'abc', 'content-type', 'application/json']);
    expect(r.error).toBeNull();
    expect(r.sent).toBe(true);
    expect(seen).toBe(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:${s.port}\r\nx-request-id: abc\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{"model":"m"}`,
    );
  });

  it('leaves out framing headers a caller passes (host, content-length, transfer-encoding, connection)', async () => {
    let seen = '';
    const s = await server((sock, req) => {
      seen = req;
      sock.write(OK('{}'));
    });
    await send(pool(s.origin), recorder(), '{}', [
      'host',
      'evil',
      'content-length',
      '99',
      'transfer-encoding',
      'chunked',
      'connection',
      'close',
      'x-a',
      'b',
    ]);
    expect(seen).not.toMatch(/evil|: 99|chunked|close/);
    expect(seen).toMatch(/\r\nx-a: b\r\ncontent-length: 2\r\n\r\n\{\}$/);
  });

  it.each([
    ['CR LF in a value', ['x-a', 'v\r\nx-injected: 1']],
    ['a NUL byte', ['x-a', 'v\0']],
    ['DEL', ['x-a', 'v\x7f']],
    ['a character above U+00FF', ['x-a', 'v\u2028']],
    ['a bad name', ['x a', 'v']],
  ])('refuses %s before connecting (UND_ERR_INVALID_ARG)', async (_what, headers) => {
    const s = await server(() => undefined);
    const p = pool(s.origin);
    expect(() => p.dispatch('/x', headers, Buffer.from('{}'), 1000, 1000, recorder().handler)).toThrow(
      expect.objectContaining({ code: 'UND_ERR_INVALID_ARG' }),
    );
    await sleep(50);
    expect(s.connections()).toBe(0);
  });
});

describe('response framing', () => {
  it('content-length: the body arrives whole, also when the server writes it a byte at a time', async () => {
    const body = JSON.stringify({ text: 'x'.repeat(300) });
    const whole = await server((sock) => sock.write(OK(body)));
    const r1 = await send(pool(whole.origin));
    expect(r1.status).toBe(200);
    expect(r1.body.toString()).toBe(body);
    expect(r1.headers).toContainEqual(['content-type', 'application/json']);

    const trickle = await server(async (sock) => {
      for (const ch of OK(body)) {
        sock.write(ch);
        await sleep(0);
      }
    });
    const r2 = await send(pool(trickle.origin));
    expect(r2.error).toBeNull();
    expect(r2.body.toString()).toBe(body);
  });

  it('header names come lower-cased whatever their case, values exactly as sent', async () => {
    const s = await server((sock) =>
      sock.write(
        'HTTP/1.1 200 OK\r\nCONTENT-TYPE: Application/JSON\r\nDate: Sun, 29 Nov 2026 02:09:11 GMT\r\nX-Custom-Thing: MiXeD\r\n' +
          'x-request-id: req_1\r\nCache-Control: no-cache\r\nVary:  chunked \r\nContent-Length: 2\r\n\r\nok',
      ),
    );
    const r = await send(pool(s.origin));
    expect(r.error).toBeNull();
    expect(r.headers).toEqual([
      ['content-type', 'Application/JSON'],
      ['date', 'Sun, 29 Nov 2026 02:09:11 GMT'],
      ['x-custom-thing', 'MiXeD'],
      ['x-request-id', 'req_1'],
      ['cache-control', 'no-cache'],
      ['vary', 'chunked'],
      ['content-length', '2'],
    ]);
    expect(r.body.toString()).toBe('ok');
  });

  it('a large content-length body over many reads', async () => {
    const body = 'y'.repeat(1_000_000);
    const s = await server((sock) => sock.write(OK(body)));
    const r = await send(pool(s.origin));
    expect(r.body.length).toBe(1_000_000);
    expect(r.body.toString() === body).toBe(true);
  });

  it('chunked: sizes in hex, extensions ignored, trailers dropped, lines split across writes', async () => {
    const s = await server(async (sock) => {
      const wire =
        'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/event-stream\r\n\r\n' +
        '5\r\nhello\r\n' +
        'A;name=value\r\n0123456789\r\n' +
        '1a\r\nabcdefghijklmnopqrstuvwxyz\r\n' +
        '0\r\nx-trailer: t\r\n\r\n';
      // split at awkward places: inside the size line, between CR and LF, inside data
      for (const cut of [60, 72, 73, 75, 90, 111, 112, wire.length]) {
        sock.write(wire.slice(0, cut).slice(sock.bytesWritten));
        await sleep(5);
      }
    });
    const r = await send(pool(s.origin));
    expect(r.error).toBeNull();
    expect(r.body.toString()).toBe('hello0123456789abcdefghijklmnopqrstuvwxyz');
  });

  it('no framing header: the body runs until the server closes, and the connection is not kept', async () => {
    const s = await server((sock) => {
      sock.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\npart one, ');
      setTimeout(() => sock.end('part two'), 20);
    });
    const p = pool(s.origin);
    const r = await send(p);
    expect(r.error).toBeNull();
    expect(r.body.toString()).toBe('part one, part two');
    expect(p.idle).toBe(0);
  });

  it('204 and 304 have no body (a content-length on 304 describes the resource)', async () => {
    const s = await server((sock, _req, n) => {
      sock.write(n === 1 ? 'HTTP/1.1 204 No Content\r\n\r\n' : 'HTTP/1.1 304 Not Modified\r\ncontent-length: 50\r\n\r\n');
    });
    const p = pool(s.origin);
    const a = await send(p);
    const b = await send(p);
    expect([a.status, a.body.length, b.status, b.body.length]).toEqual([204, 0, 304, 0]);
    expect(s.connections()).toBe(1);
  });

  it('1xx answers (100, 103) before the response are skipped; 101 is an error', async () => {
    const s = await server((sock, _req, n) => {
      if (n === 1) sock.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n' + OK('{"ok":1}'));
      else sock.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n');
    });
    const p = pool(s.origin);
    const a = await send(p);
    expect(a.status).toBe(200);
    expect(a.body.toString()).toBe('{"ok":1}');
    const b = await send(p);
    expect(b.error?.code).toBe('UND_ERR_SOCKET');
  });
});

describe('malformed upstreams', () => {
  it.each([
    ['a bad status line', 'HTTP/1.1 OK\r\n\r\n'],
    ['not HTTP', 'SSH-2.0-OpenSSH\r\n\r\n'],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nbroken header\r\ncontent-length: 0\r\n\r\n'],
    ['a space in a header name', 'HTTP/1.1 200 OK\r\nbad name: x\r\ncontent-length: 0\r\n\r\n'],
    ['a control byte in a value', 'HTTP/1.1 200 OK\r\nx: a\x01b\r\ncontent-length: 0\r\n\r\n'],
    ['an invalid content-length', 'HTTP/1.1 200 OK\r\ncontent-length: 1x\r\n\r\n'],
    ['two different content-lengths', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc'],
    ['a transfer-encoding that is not chunked', 'HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nxx'],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n'],
    ['chunk data longer than announced', 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n'],
    ['bytes after the response', 'HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nabEXTRA'],
  ])('%s → a network error, and the connection is not reused', async (_what, wire) => {
    const s = await server((sock, _req, n) => sock.write(n === 1 ? wire : OK('{}')));
    const p = pool(s.origin);
    const r = await send(p);
    expect(r.error).toBeInstanceOf(H1Error);
    expect(r.error?.code).toBe('UND_ERR_SOCKET');
    expect(p.idle).toBe(0);
    const next = await send(p);
    expect(next.status).toBe(200);
    expect(s.connections()).toBe(2);
  });

  it('a response head over maxHeaderSize → UND_ERR_HEADERS_OVERFLOW (also when it trickles in)', async () => {
    const big = 'HTTP/1.1 200 OK\r\n' + 'x-pad: ' + 'p'.repeat(20_000) + '\r\ncontent-length: 0\r\n\r\n';
    const s = await server(async (sock) => {
      for (let i = 0; i < big.length; i += 1000) {
        sock.write(big.slice(i, i + 1000));
        await sleep(1);
      }
    });
    const r = await send(pool(s.origin, { maxHeaderSize: 16 * 1024 }));
    expect(r.error?.code).toBe('UND_ERR_HEADERS_OVERFLOW');
  });

  it('bytes from the server on an idle connection drop that connection', async () => {
    let keep: net.Socket | null = null;
    const s = await server((sock) => {
      keep = sock;
      sock.write(OK('{}'));
    });
    const p = pool(s.origin);
    await send(p);
    expect(p.idle).toBe(1);
    keep!.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    for (let i = 0; i < 100 && p.idle > 0; i++) await sleep(10);
    expect(p.idle).toBe(0);
  });
});

describe('keep-alive', () => {
  it('reuses one connection for sequential requests (node:http upstream)', async () => {
    let connections = 0;
    const srv = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('{"n":1}'));
    });
    srv.on('connection', () => connections++);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => (srv.closeAllConnections(), srv.close(r))));
    const p = pool(`http://127.0.0.1:${(srv.address() as net.AddressInfo).port}`);
    for (let i = 0; i < 5; i++) expect((await send(p)).body.toString()).toBe('{"n":1}');
    expect(connections).toBe(1);
    expect(p.size).toBe(1);
  });

  it('connection: close and HTTP/1.0 answers are not reused', async () => {
    const s = await server((sock, _req, n) =>
      sock.write(n % 2 === 1 ? OK('{}', 'connection: close\r\n') : 'HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\n{}'),
    );
    const p = pool(s.origin);
    await send(p);
    await send(p);
    await send(p);
    expect(s.connections()).toBe(3);
  });

  it("a server's Keep-Alive: timeout hint shorter than the 2 s margin: the connection is not kept", async () => {
    const s = await server((sock) => sock.write(OK('{}', 'keep-alive: timeout=1\r\n')));
    const p = pool(s.origin);
    await send(p);
    expect(p.idle).toBe(0);
    await send(p);
    expect(s.connections()).toBe(2);
  });

  it('an idle connection the server closes leaves the pool; the next request opens a new one', async () => {
    const s = await server((sock) => {
      sock.write(OK('{}'));
      setTimeout(() => sock.end(), 20); // the server's keep-alive timeout, short
    });
    const p = pool(s.origin);
    await send(p);
    for (let i = 0; i < 100 && p.size > 0; i++) await sleep(10);
    expect(p.size).toBe(0);
    const r = await send(p);
    expect(r.status).toBe(200);
    expect(s.connections()).toBe(2);
  });

  it('the race: the server closes a kept connection as the next request goes out → a network error, not a hang; the pool recovers', async () => {
    // the server answers, then closes the connection when the next request arrives without answering
    const s = await server((sock, _req, n) => {
      if (n === 1) sock.write(OK('{}'));
      else if (n === 2) sock.destroy();
      else sock.write(OK('{"again":1}'));
    });
    const p = pool(s.origin);
    expect((await send(p)).status).toBe(200);
    const r = await send(p);
    expect(r.error?.code).toBe('UND_ERR_SOCKET');
    expect(r.error?.message).toMatch(/before answering/);
    const again = await send(p);
    expect(again.body.toString()).toBe('{"again":1}');
  });

  it('idle connections past keepAliveTimeout are not reused', async () => {
    const s = await server((sock) => sock.write(OK('{}')));
    const p = pool(s.origin, { keepAliveTimeout: 1000 });
    await send(p);
    expect(p.idle).toBe(1);
    await sleep(2300); // the sweep runs once a second
    expect(p.idle).toBe(0);
    await send(p);
    expect(s.connections()).toBe(2);
  }, 10_000);
});

describe('early close, slow upstreams, timeouts', () => {
  it('a body cut short by the server → an error after the bytes that came', async () => {
    const s = await server((sock) => {
      sock.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789');
      setTimeout(() => sock.destroy(), 20);
    });
    const r = await send(pool(s.origin));
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('0123456789');
    expect(r.error?.code).toBe('UND_ERR_SOCKET');
    expect(r.error?.message).toMatch(/mid-response/);
  });

  it('a chunked body cut short → an error', async () => {
    const s = await server((sock) => {
      sock.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel');
      setTimeout(() => sock.end(), 20);
    });
    const r = await send(pool(s.origin));
    expect(r.body.toString()).toBe('hel');
    expect(r.error?.code).toBe('UND_ERR_SOCKET');
  });

  it('no answer: the headers timeout ends the exchange (coarse: within two sweeps)', async () => {
    const s = await server(() => undefined);
    const r = await send(pool(s.origin), recorder(), '{}', ['content-type', 'application/json'], [500, 10_000]);
    expect(r.error?.code).toBe('UND_ERR_HEADERS_TIMEOUT');
    expect(r.ms).toBeGreaterThanOrEqual(500);
  }, 10_000);

  it('a body that stalls: the body timeout ends the exchange', async () => {
    const s = await server((sock) => sock.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n01234'));
    const r = await send(pool(s.origin), recorder(), '{}', ['content-type', 'application/json'], [10_000, 500]);
    expect(r.body.toString()).toBe('01234');
    expect(r.error?.code).toBe('UND_ERR_BODY_TIMEOUT');
  }, 10_000);

  it('a slow but steady body is not timed out', async () => {
    const s = await server(async (sock) => {
      sock.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
      for (let i = 0; i < 6; i++) {
        sock.write('1\r\nx\r\n');
        await sleep(400);
      }
      sock.write('0\r\n\r\n');
    });
    const r = await send(pool(s.origin), recorder(), '{}', ['content-type', 'application/json'], [10_000, 1000]);
    expect(r.error).toBeNull();
    expect(r.body.toString()).toBe('xxxxxx');
  }, 10_000);

  it('connection refused → the socket error (a network failure)', async () => {
    const s = await server(() => undefined);
    const origin = s.origin;
    await s.close();
    const r = await send(pool(origin));
    expect(r.error?.code).toBe('ECONNREFUSED');
  });
});

describe('backpressure, abort, close', () => {
  it('onData returning false pauses the socket until resume()', async () => {
    const body = 'z'.repeat(4 * 1024 * 1024);
    const s = await server((sock) => sock.write(OK(body)));
    const rec = recorder({ pauseAfter: 1 });
    const p = pool(s.origin);
    p.dispatch('/x', [], Buffer.from('{}'), 10_000, 10_000, rec.handler);
    for (let i = 0; i < 200 && rec.parts.length === 0; i++) await sleep(10);
    expect(rec.parts.length).toBeGreaterThan(0);
    const held = rec.parts.length;
    await sleep(200);
    expect(rec.parts.length).toBe(held); // paused: nothing more was read
    rec.resume();
    const r = await Promise.race([rec.done, sleep(8000).then(() => null)]);
    expect(r?.error).toBeNull();
    expect(r?.body.length).toBe(body.length);
  });

  it('abort() ends the exchange with its error and closes the connection', async () => {
    const s = await server((sock) => sock.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nabc'));
    const p = pool(s.origin);
    const r = await send(p, recorder({ abortOnHeaders: true }));
    expect(r.error?.message).toBe('client went away');
    expect(p.size).toBe(0);
    for (let i = 0; i < 100 && s.open() > 0; i++) await sleep(10);
    expect(s.open()).toBe(0);
  });

  it('close() lets a running exchange finish and refuses new ones; destroy() ends running ones', async () => {
    const s = await server((sock, _req, n) => {
      if (n === 1) setTimeout(() => sock.write(OK('{"late":1}')), 100);
    });
    const p = new H1Pool(s.origin);
    const rec = recorder();
    p.dispatch('/x', [], Buffer.from('{}'), 10_000, 10_000, rec.handler);
    const closed = p.close();
    expect(() => p.dispatch('/x', [], Buffer.from('{}'), 1000, 1000, recorder().handler)).toThrow(
      expect.objectContaining({ code: 'UND_ERR_CLOSED' }),
    );
    const r = await rec.done;
    expect(r.body.toString()).toBe('{"late":1}');
    await closed;
    expect(p.size).toBe(0);

    const q = pool(s.origin);
    const rec2 = recorder();
    q.dispatch('/x', [], Buffer.from('{}'), 10_000, 10_000, rec2.handler);
    await sleep(50);
    await q.destroy();
    expect((await rec2.done).error?.code).toBe('UND_ERR_DESTROYED');
  });

  it('many concurrent exchanges: one connection each, all reused afterwards', async () => {
    const s = await server((sock, req) => setTimeout(() => sock.write(OK(JSON.stringify({ len: req.length }))), 5));
    const p = pool(s.origin);
    const first = await Promise.all(Array.from({ length: 20 }, () => send(p)));
    expect(first.every((r) => r.status === 200)).toBe(true);
    expect(p.size).toBe(20);
    await Promise.all(Array.from({ length: 20 }, () => send(p)));
    expect(s.connections()).toBe(20);
  });

  it('supports() takes plain http origins only (TLS stays with undici)', () => {
    expect(H1Pool.supports('http://127.0.0.1:1')).toBe(true);
    expect(H1Pool.supports('https://api.openai.com')).toBe(false);
  });
});
