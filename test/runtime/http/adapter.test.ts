/**
 * The adapter contract on both engines (runtime/http/uws.ts, runtime/http/node.ts): request
 * copying, body reading and limits (content-length and chunked), handler failures, client
 * aborts, backpressure, HEAD, stop/idle/close. Real servers on 127.0.0.1, raw sockets.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { HttpHandler, HttpServer, HttpServerOptions } from '../../../runtime/http/adapter.js';
import { ENGINES, parseResponses, raw, sleep, startEngine, waitFor } from './engines.js';

describe.each(ENGINES)('%s engine', (engine) => {
  let server: HttpServer | undefined;
  afterEach(() => {
    server?.closeAll();
    server = undefined;
  });

  async function start(handler: HttpHandler, maxBodyBytes = 1024, opts: Partial<HttpServerOptions> = {}): Promise<HttpServer> {
    server = await startEngine(engine, handler, { maxBodyBytes, ...opts });
    expect(server.engine).toBe(engine);
    return server;
  }

  describe('request', () => {
    it('copies method, url, query and every header (repeated ones too) before the handler awaits', async () => {
      let seen: unknown;
      const s = await start(async (req, res) => {
        await sleep(10);
        seen = {
          method: req.method,
          url: req.url,
          query: req.query,
          headers: req.headers,
          a: req.header('x-a'),
          none: req.header('x-none'),
        };
        res.respond(200, ['content-type', 'text/plain'], 'ok');
      });
      const reply = await raw(s.port, 'GET /p/q?x=1&y=2 HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\nX-Mixed-Case: V\r\n\r\n', /\r\n\r\nok$/);
      expect(reply.text).toMatch(/^HTTP\/1\.1 200 OK/);
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
      const reply = await raw(s.port, ['POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nhello', 'world'], /helloworld$/);
      expect(reply.text).toMatch(/10:helloworld$/);
    });

    it('reads a chunked body', async () => {
      const s = await start((req, res) => res.respond(200, [], 'got:' + req.body.toString()));
      const reply = await raw(
        s.port,
        'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
        /got:.*world$/,
      );
      expect(reply.text).toMatch(/got:hello world$/);
    });

    it('reads a body that arrives in many chunks larger than the first buffer (grows, bytes intact)', async () => {
      const s = await start(
        (req, res) => res.respond(200, [], `${req.body.length}:${req.body.readUInt32BE(0)}:${req.body.readUInt32BE(req.body.length - 4)}`),
        4 << 20,
      );
      const body = Buffer.alloc(300_000);
      for (let i = 0; i + 4 <= body.length; i += 4) body.writeUInt32BE(i, i);
      const r = await fetch(`http://127.0.0.1:${s.port}/`, { method: 'POST', body });
      expect(await r.text()).toBe(`300000:0:${300_000 - 4}`);
    });

    it('413 at once when content-length exceeds the limit (the handler never runs)', async () => {
      let called = false;
      const s = await start(() => {
        called = true;
      }, 100);
      const reply = await raw(s.port, 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n', /too large.*\}$/);
      expect(reply.text).toMatch(/^HTTP\/1\.1 413 Payload Too Large/);
      const [res] = parseResponses(reply.text);
      expect(res.headers.connection).toBe('close');
      expect(JSON.parse(res.body).error.status_code).toBe(413);
      expect(called).toBe(false);
    });

    it('413 as soon as a chunked body passes the limit; nothing stays in flight', async () => {
      let called = false;
      const s = await start(() => {
        called = true;
      }, 100);
      const chunk = 'x'.repeat(80);
      const reply = await raw(
        s.port,
        `POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n50\r\n${chunk}\r\n50\r\n${chunk}\r\n`,
        /\}$/,
      );
      expect(reply.text).toMatch(/^HTTP\/1\.1 413/);
      expect(called).toBe(false);
      expect(s.inFlight).toBe(0);
    });
  });

  describe('response', () => {
    it('a handler that throws gets a 500 with the configured body; the server keeps serving', async () => {
      const s = await start(async (req, res) => {
        if (req.url === '/boom') throw new Error('boom');
        res.respond(200, [], 'fine');
      });
      const reply = await raw(s.port, 'GET /boom HTTP/1.1\r\nHost: h\r\n\r\n', /internal"\}$/);
      expect(reply.text).toMatch(/^HTTP\/1\.1 500/);
      expect(await (await fetch(`http://127.0.0.1:${s.port}/ok`)).text()).toBe('fine');
    });

    it('streams with writeHead + write + end (chunked) after awaits', async () => {
      const s = await start(async (_req, res) => {
        res.writeHead(201, ['content-type', 'text/plain', 'x-bytes', Buffer.from('raw')]);
        for (const part of ['a', 'b', 'c']) {
          await sleep(5);
          await res.write(Buffer.from(part));
        }
        res.end(Buffer.from('d'));
      });
      const r = await fetch(`http://127.0.0.1:${s.port}/`);
      expect(r.status).toBe(201);
      expect(r.headers.get('x-bytes')).toBe('raw');
      expect(await r.text()).toBe('abcd');
    });

    it('header values given as bytes pass through unchanged (non-ASCII included)', async () => {
      const s = await start((_req, res) => res.respond(200, ['x-latin', Buffer.from([0x63, 0x61, 0x66, 0xe9])], 'ok'));
      const reply = await raw(s.port, 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', /\r\n\r\nok$/);
      expect(reply.text).toContain('x-latin: caf\xe9\r\n');
    });

    it('non-ASCII header values given as strings go out as their UTF-8 bytes', async () => {
      const s = await start((_req, res) => res.respond(200, ['x-name', 'naïve/名前'], 'ok'));
      const reply = await raw(s.port, 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', /\r\n\r\nok$/);
      expect(reply.text).toContain(`x-name: ${Buffer.from('naïve/名前').toString('latin1')}\r\n`);
    });

    it('respond sends a Content-Length; a large one-shot body to a slow reader arrives whole', async () => {
      const big = Buffer.alloc(32 * 1024 * 1024, 98); // more than the two socket buffers hold
      const s = await start((_req, res) => res.respond(200, ['content-type', 'application/octet-stream'], big));
      const sock = net.connect(s.port, '127.0.0.1', () => sock.write('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
      sock.pause();
      await waitFor(() => s.inFlight === 1);
      await sleep(200);
      expect(s.inFlight).toBe(1); // not all out yet: still in flight (a drain would wait for it)
      let got = 0;
      let head = '';
      await new Promise<void>((resolve) => {
        sock.on('data', (d: Buffer) => {
          if (head === '') {
            const i = d.indexOf('\r\n\r\n');
            head = d.subarray(0, i).toString();
            got += d.length - i - 4;
          } else got += d.length;
          if (got >= big.length) resolve();
        });
        sock.resume();
      });
      sock.destroy();
      expect(head).toMatch(/content-length: 33554432/i);
      expect(got).toBe(big.length);
      await waitFor(() => s.inFlight === 0);
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
        while (!res.aborted) await sleep(10);
        await res.write(Buffer.from('after abort')); // must not throw
        res.end();
        resolveDone();
      });
      await raw(s.port, 'GET / HTTP/1.1\r\nHost: h\r\n\r\n', /first/);
      await done;
      expect(aborted).toBe(true);
      expect(s.inFlight).toBe(0);
    });

    it('close() cuts the connection without calling the abort callback', async () => {
      let aborted = false;
      const s = await start(async (_req, res) => {
        res.onAbort(() => (aborted = true));
        res.writeHead(200, []);
        await res.write(Buffer.from('part'));
        res.close();
      });
      const reply = await raw(s.port, 'GET / HTTP/1.1\r\nHost: h\r\n\r\n');
      expect(reply.end === 'close' || reply.end === 'reset').toBe(true);
      expect(reply.text).toContain('part');
      expect(parseResponses(reply.text)[0]?.body ?? '').not.toMatch(/0\r\n\r\n$/);
      await sleep(20);
      expect(aborted).toBe(false);
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
      await sleep(300);
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

    it('HEAD: status and the Content-Length a GET would get, no body; the connection stays usable', async () => {
      const s = await start((_req, res) => res.respond(404, ['content-type', 'application/json'], '{"error":"no route"}'));
      const reply = await raw(s.port, 'HEAD /x HTTP/1.1\r\nHost: h\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n', /no route"\}$/);
      const parts = reply.text.split(/(?=HTTP\/1\.1 )/);
      expect(parts).toHaveLength(2);
      expect(parts[0]).toMatch(/^HTTP\/1\.1 404[^]*content-length: 20\r\n[^]*\r\n\r\n$/i);
      expect(parts[1]).toMatch(/\r\n\r\n\{"error":"no route"\}$/);
    });

    it('HEAD on a streamed response: headers only', async () => {
      const s = await start(async (_req, res) => {
        res.writeHead(200, ['content-type', 'text/plain']);
        await res.write(Buffer.from('streamed'));
        res.end(Buffer.from('!'));
      });
      const reply = await raw(s.port, 'HEAD /stream HTTP/1.1\r\nHost: h\r\n\r\n', undefined, 500);
      expect(reply.text).toMatch(/^HTTP\/1\.1 200[^]*\r\n\r\n$/);
      expect(reply.text).not.toContain('streamed');
      expect(s.inFlight).toBe(0);
    });

    it('stopListening refuses new connections; whenIdle waits for in-flight requests', async () => {
      let release: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const s = await start(async (_req, res) => {
        await gate;
        res.respond(200, [], 'late');
      });
      const pending = fetch(`http://127.0.0.1:${s.port}/`);
      await waitFor(() => s.inFlight === 1);
      s.stopListening();
      const refused = await new Promise<boolean>((resolve) => {
        const c = net.connect(s.port, '127.0.0.1');
        c.on('connect', () => (c.destroy(), resolve(false)));
        c.on('error', () => resolve(true));
      });
      expect(refused).toBe(true);
      let idle = false;
      const idleP = s.whenIdle().then(() => (idle = true));
      await sleep(20);
      expect(idle).toBe(false);
      release!();
      const r = await pending;
      expect(await r.text()).toBe('late');
      expect(r.headers.get('connection')).toBe('close'); // draining: no keep-alive
      await idleP;
      expect(s.inFlight).toBe(0);
    });

    it('closeAll closes idle keep-alive connections', async () => {
      const s = await start((_req, res) => res.respond(200, [], 'ok'));
      const sock = net.connect(s.port, '127.0.0.1', () => sock.write('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
      let text = '';
      sock.on('data', (d) => (text += d));
      const closed = new Promise<void>((r) => sock.on('close', () => r()));
      sock.on('error', () => {});
      while (!text.endsWith('ok')) await sleep(5);
      s.stopListening();
      await s.whenIdle();
      s.closeAll();
      await closed;
    });
  });
});
