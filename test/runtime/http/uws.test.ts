/**
 * The uWS adapter on its own (runtime/http/uws.ts): request copying, body reading and
 * limits (content-length and chunked), handler failures, client aborts, backpressure,
 * stop/idle/close.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listenHttp, loadUws, type HttpHandler, type HttpServer } from '../../../runtime/http/uws.js';

let server: HttpServer | undefined;
afterEach(() => {
  server?.closeAll();
  server = undefined;
});

async function start(handler: HttpHandler, maxBodyBytes = 1024): Promise<HttpServer> {
  server = await listenHttp({
    host: '127.0.0.1',
    port: 0,
    maxBodyBytes,
    handler,
    payloadTooLargeBody: Buffer.from('{"error":"too large"}'),
    internalErrorBody: Buffer.from('{"error":"internal"}'),
  });
  return server;
}

/** Sends raw bytes and collects the whole reply until the server closes or `until` matches. */
function raw(port: number, data: string | Buffer, until?: RegExp, pause = false): Promise<string> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1', () => sock.write(data));
    if (pause) sock.pause();
    let out = '';
    sock.on('data', (d) => {
      out += d.toString('latin1');
      if (until?.test(out)) {
        sock.destroy();
        resolve(out);
      }
    });
    sock.on('close', () => resolve(out));
    sock.on('error', () => resolve(out));
  });
}

describe('loading', () => {
  it('loads the native binary, not the JS fallback', () => {
    const uws = loadUws() as unknown as Record<string, unknown>;
    expect(typeof uws.App).toBe('function');
    expect(typeof uws.us_socket_local_port).toBe('function'); // native-only export
  });
});

describe('request', () => {
  it('copies method, url, query and every header (repeated ones too) before the handler awaits', async () => {
    let seen: unknown;
    const s = await start(async (req, res) => {
      await new Promise((r) => setTimeout(r, 10));
      seen = { method: req.method, url: req.url, query: req.query, headers: req.headers, a: req.header('x-a'), none: req.header('x-none') };
      res.respond(200, ['content-type', 'text/plain'], 'ok');
    });
    const reply = await raw(s.port, 'GET /p/q?x=1&y=2 HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\nX-Mixed-Case: V\r\n\r\n', /ok$/);
    expect(reply).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(seen).toEqual({
      method: 'GET',
      url: '/p/q',
      query: 'x=1&y=2',
      headers: ['host', 'h', 'x-a', '1', 'x-a', '2', 'x-mixed-case', 'V'],
      a: '1',
      none: null,
    });
  });

  it('reads a body sent in pieces with content-length', async () => {
    const s = await start((req, res) => res.respond(200, [], String(req.body.length) + ':' + req.body.toString()));
    const port = s.port;
    const reply = await new Promise<string>((resolve) => {
      const sock = net.connect(port, '127.0.0.1', async () => {
        sock.write('POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello');
        await new Promise((r) => setTimeout(r, 30));
        sock.write('world');
      });
      let out = '';
      sock.on('data', (d) => {
        out += d;
        if (out.endsWith('helloworld')) {
          sock.destroy();
          resolve(out);
        }
      });
    });
    expect(reply).toMatch(/10:helloworld$/);
  });

  it('reads a chunked body', async () => {
    const s = await start((req, res) => res.respond(200, [], 'got:' + req.body.toString()));
    const reply = await raw(
      s.port,
      'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
      /got:.*world$/,
    );
    expect(reply).toMatch(/got:hello world$/);
  });

  it('413 at once when content-length exceeds the limit (body never read)', async () => {
    let called = false;
    const s = await start(() => {
      called = true;
    }, 100);
    const reply = await raw(s.port, 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 413 Payload Too Large/);
    expect(reply).toContain('{"error":"too large"}');
    expect(called).toBe(false);
  });

  it('413 as soon as a chunked body passes the limit, and the connection closes', async () => {
    let called = false;
    const s = await start(() => {
      called = true;
    }, 100);
    const chunk = 'x'.repeat(80);
    const reply = await raw(s.port, `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n50\r\n${chunk}\r\n50\r\n${chunk}\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 413/);
    expect(called).toBe(false);
    expect(s.inFlight).toBe(0);
  });
});

describe('response', () => {
  it('a handler that throws gets a 500 with the configured body; the server keeps serving', async () => {
    const s = await start(async (req) => {
      if (req.url === '/boom') throw new Error('boom');
    });
    const reply = await raw(s.port, 'GET /boom HTTP/1.1\r\nHost: h\r\n\r\n', /internal"\}$/);
    expect(reply).toMatch(/^HTTP\/1\.1 500/);
  });

  it('streams with writeHead + write + end (chunked) after awaits', async () => {
    const s = await start(async (_req, res) => {
      res.writeHead(201, ['content-type', 'text/plain', 'x-bytes', Buffer.from('raw')]);
      for (const part of ['a', 'b', 'c']) {
        await new Promise((r) => setTimeout(r, 5));
        await res.write(Buffer.from(part));
      }
      res.end();
    });
    const r = await fetch(`http://127.0.0.1:${s.port}/`);
    expect(r.status).toBe(201);
    expect(r.headers.get('x-bytes')).toBe('raw');
    expect(await r.text()).toBe('abc');
  });

  it('client abort: the callback runs, writes become no-ops, in-flight drops to zero', async () => {
    let aborted = false;
    let resolveDone: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const s = await start(async (_req, res) => {
      res.onAbort(() => {
        aborted = true;
      });
      res.writeHead(200, []);
      await res.write(Buffer.from('first'));
      while (!res.aborted) await new Promise((r) => setTimeout(r, 10));
      await res.write(Buffer.from('after abort')); // must not throw
      res.end();
      resolveDone();
    });
    await raw(s.port, 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', /first/);
    await done;
    expect(aborted).toBe(true);
    expect(s.inFlight).toBe(0);
  });

  it('write() resolves only when a slow client drains (backpressure)', async () => {
    const chunk = Buffer.alloc(1024 * 1024, 97);
    let written = 0;
    const s = await start(async (_req, res) => {
      res.writeHead(200, []);
      while (written < 64 && !res.aborted) {
        await res.write(chunk);
        written++;
      }
      res.end();
    });
    const sock = net.connect(s.port, '127.0.0.1', () => sock.write('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
    sock.pause();
    await new Promise((r) => setTimeout(r, 300));
    const whilePaused = written;
    expect(whilePaused).toBeLessThan(40);
    let received = 0;
    await new Promise<void>((resolve) => {
      sock.on('data', (d: Buffer) => {
        received += d.length;
        if (received >= 64 * chunk.length) resolve();
      });
      sock.resume();
    });
    sock.destroy();
    expect(written).toBe(64);
  });

  it('stopListening refuses new connections; whenIdle waits for in-flight requests', async () => {
    let release: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const s = await start(async (_req, res) => {
      await gate;
      res.respond(200, [], 'late');
    });
    const pending = fetch(`http://127.0.0.1:${s.port}/`);
    await new Promise((r) => setTimeout(r, 30));
    expect(s.inFlight).toBe(1);
    s.stopListening();
    const refused = await new Promise<boolean>((resolve) => {
      const c = net.connect(s.port, '127.0.0.1');
      c.on('connect', () => (c.destroy(), resolve(false)));
      c.on('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    let idle = false;
    const idleP = s.whenIdle().then(() => (idle = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(idle).toBe(false);
    release!();
    const r = await pending;
    expect(await r.text()).toBe('late');
    expect(r.headers.get('connection')).toBe('close'); // draining: no keep-alive
    await idleP;
    expect(s.inFlight).toBe(0);
  });
});
