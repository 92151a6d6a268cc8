/**
 * Limits and refusals on both engines (SPEC §10, issue 8): a body over `--max-body` gets a 413
 * the client reads (lingering close) with fetch, the openai SDK and a raw socket; the
 * allowed-hosts check; the global cap on request-body bytes in memory; the connection cap.
 */
import net from 'node:net';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import type { HttpServer, HttpServerOptions } from '../../../runtime/http/adapter.js';
import { ENGINES, gapIf, parseResponses, raw, sleep, startEngine, UWS_PARSER_GAPS } from './engines.js';

interface Upload {
  /** Status of the answer (0: none). */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The upload or the read failed with a reset / broken pipe. */
  broken: string | null;
  /** Bytes of the body written before the answer was complete. */
  written: number;
}

/**
 * POSTs `size` bytes (Content-Length, or chunked) as fast as the socket takes them, reading the
 * answer meanwhile; like Python's `requests`, it goes on writing after the answer arrived,
 * until the body is sent, the server closes, or `stopAfterAnswer` says to stop.
 */
function upload(
  port: number,
  size: number,
  opts: { chunked?: boolean; host?: string; stopAfterAnswer?: boolean; path?: string } = {},
): Promise<Upload> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    let broken: string | null = null;
    let written = 0;
    let answered = -1;
    const chunk = Buffer.alloc(64 * 1024, 120);
    const finish = (): void => {
      const [res] = parseResponses(text);
      resolve({
        status: res?.status ?? 0,
        headers: res?.headers ?? {},
        body: res?.body ?? '',
        broken,
        written: answered < 0 ? written : answered,
      });
    };
    sock.on('data', (d) => {
      text += d.toString('latin1');
      if (answered < 0 && parseResponses(text).length > 0) {
        answered = written;
        if (opts.stopAfterAnswer) sock.end();
      }
    });
    sock.on('error', (e: NodeJS.ErrnoException) => (broken = e.code ?? e.message));
    sock.on('close', finish);
    const head = `POST ${opts.path ?? '/up'} HTTP/1.1\r\nHost: ${opts.host ?? 'localhost'}\r\n${opts.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${size}`}\r\n\r\n`;
    sock.write(head);
    const pump = (): void => {
      while (written < size && !sock.destroyed && !(opts.stopAfterAnswer && answered >= 0)) {
        const n = Math.min(chunk.length, size - written);
        const piece = opts.chunked
          ? Buffer.concat([Buffer.from(`${n.toString(16)}\r\n`), chunk.subarray(0, n), Buffer.from('\r\n')])
          : chunk.subarray(0, n);
        written += n;
        if (!sock.write(piece)) return void sock.once('drain', pump);
      }
      if (sock.destroyed) return;
      if (opts.chunked && written >= size) sock.write('0\r\n\r\n');
      // all sent: wait for the answer, then close our side (a keep-alive client would reuse it)
      const wait = setInterval(() => {
        if (answered >= 0 || sock.destroyed) {
          clearInterval(wait);
          sock.end();
        }
      }, 10);
    };
    pump();
  });
}

describe.each(ENGINES)('%s engine', (engine) => {
  let server: HttpServer | undefined;
  afterEach(() => {
    server?.closeAll();
    server = undefined;
  });
  const start = async (opts: Partial<HttpServerOptions> = {}, handler?: HttpServerOptions['handler']): Promise<HttpServer> =>
    (server = await startEngine(
      engine,
      handler ??
        ((req, res) => {
          res.respond(200, ['content-type', 'application/json'], JSON.stringify({ got: req.body.length }));
        }),
      opts,
    ));

  describe('413 over --max-body: the client reads it (lingering close)', () => {
    it('raw socket, Content-Length over the limit, writing on after the answer: 413 envelope, no reset; counted', async () => {
      const seen: string[] = [];
      const s = await start({
        maxBodyBytes: 1 << 20,
        onPayloadTooLarge: (req) => seen.push(`${req.method} ${req.url}`),
        onRefusal: (status, kind) => seen.push(`${status} ${kind}`),
      });
      for (let i = 0; i < 5; i++) {
        const u = await upload(s.port, 5 << 20);
        expect(u.broken).toBeNull();
        expect(u.status).toBe(413);
        expect(u.headers.connection).toBe('close');
        expect(JSON.parse(u.body).error.message).toBe('too large');
      }
      expect(seen.filter((l) => l === 'POST /up')).toHaveLength(5);
      expect(seen.filter((l) => l === '413 payload_too_large')).toHaveLength(5);
    });

    it('raw socket, chunked body passing the limit mid-way: 413 envelope, no reset', async () => {
      const s = await start({ maxBodyBytes: 1 << 20 });
      for (let i = 0; i < 3; i++) {
        const u = await upload(s.port, 4 << 20, { chunked: true });
        expect(u.broken).toBeNull();
        expect(u.status).toBe(413);
      }
    });

    it('fetch (undici) gets the 413 and its body, 10 of 10', async () => {
      const s = await start({ maxBodyBytes: 1 << 20 });
      const body = Buffer.alloc(5 << 20, 97);
      for (let i = 0; i < 10; i++) {
        const r = await fetch(`http://127.0.0.1:${s.port}/v1/chat/completions`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
        });
        expect(r.status).toBe(413);
        expect((await r.json()).error.message).toBe('too large');
      }
    });

    it('the openai SDK gets an APIError 413 and does not upload again', async () => {
      let refused = 0;
      const s = await start({ maxBodyBytes: 1 << 20, onPayloadTooLarge: () => refused++ });
      const client = new OpenAI({ baseURL: `http://127.0.0.1:${s.port}/v1`, apiKey: 'sk-test', maxRetries: 2 });
      for (let i = 0; i < 3; i++) {
        const err = await client.chat.completions
          .create({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(3 << 20) }] })
          .catch((e) => e);
        expect(err).toBeInstanceOf(OpenAI.APIError);
        expect(err.status).toBe(413);
      }
      expect(refused).toBe(3); // one upload per call: no retries
    });

    it('the connection is usable or closed cleanly afterwards, and the server keeps serving', async () => {
      const s = await start({ maxBodyBytes: 1 << 20 });
      await upload(s.port, 3 << 20);
      const ok = await fetch(`http://127.0.0.1:${s.port}/`, { method: 'POST', body: 'small' });
      expect(await ok.json()).toEqual({ got: 5 });
      await sleep(20);
      expect(s.inFlight).toBe(0);
    });
  });

  describe('allowed hosts (DNS rebinding)', () => {
    const opts = { allowedHosts: ['localhost', '127.0.0.1', '[::1]', 'gw.example:8443'] };

    it('a listed host (any port, any case) is served; others get 421 with the envelope', async () => {
      const kinds: string[] = [];
      const s = await start({ ...opts, onRefusal: (status, kind) => kinds.push(`${status} ${kind}`) });
      const ask = async (host: string | null): Promise<number> => {
        const r = await raw(s.port, `GET / HTTP/1.1\r\n${host === null ? '' : `Host: ${host}\r\n`}\r\n`, /\}$/, 2000);
        return parseResponses(r.text)[0]?.status ?? 0;
      };
      expect(await ask(`127.0.0.1:${s.port}`)).toBe(200);
      expect(await ask('LOCALHOST:1234')).toBe(200);
      expect(await ask('[::1]:80')).toBe(200);
      expect(await ask('gw.example:8443')).toBe(200);
      expect(await ask('gw.example:8080')).toBe(421);
      expect(await ask('evil.example')).toBe(421);
      expect(await ask('localhost.evil.example')).toBe(421);
      const r = await raw(s.port, 'GET / HTTP/1.1\r\nHost: evil.example\r\n\r\n', /\}$/, 2000);
      const [res] = parseResponses(r.text);
      expect(JSON.parse(res.body).error).toMatchObject({ type: 'invalid_request_error', status_code: 421 });
      expect(kinds.filter((k) => k === '421 host_not_allowed')).toHaveLength(4);
    });

    // uWS 20.30 never answers an HTTP/1.1 request without Host (held until its idle timeout)
    gapIf(engine === 'uws' && UWS_PARSER_GAPS, it)('a request without Host is refused (421)', async () => {
      const s = await start(opts);
      const r = await raw(s.port, 'GET / HTTP/1.1\r\n\r\n', /\}$/, 1500);
      expect(parseResponses(r.text)[0]?.status).toBe(421);
    });

    it('a refused POST with a body: the client reads the 421 (no reset); the handler never runs', async () => {
      let ran = false;
      const s = await start({ ...opts, maxBodyBytes: 4 << 20 }, (_req, res) => {
        ran = true;
        res.respond(200, [], 'x');
      });
      const u = await upload(s.port, 2 << 20, { host: 'evil.example' });
      expect(u.broken).toBeNull();
      expect(u.status).toBe(421);
      expect(ran).toBe(false);
    });

    it('without a list every host is served', async () => {
      const s = await start();
      const r = await raw(s.port, 'GET / HTTP/1.1\r\nHost: anything.example\r\n\r\n', /\}$/, 2000);
      expect(parseResponses(r.text)[0]?.status).toBe(200);
    });
  });

  describe('maxInflightBodyBytes: request bodies held in memory are capped', () => {
    /** Starts an upload that sends `sent` of `declared` bytes and then stalls. */
    function stalled(port: number, declared: number, sent: number): { sock: net.Socket; reply: Promise<string> } {
      const sock = net.connect(port, '127.0.0.1');
      sock.write(`POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: ${declared}\r\n\r\n`);
      sock.write(Buffer.alloc(sent, 97));
      sock.on('error', () => {});
      let text = '';
      const reply = new Promise<string>((resolve) => {
        sock.on('data', (d) => {
          text += d.toString('latin1');
          if (parseResponses(text).length > 0) resolve(text);
        });
        sock.on('close', () => resolve(text));
      });
      return { sock, reply };
    }

    it('an upload that does not fit gets 503 + Retry-After + envelope; the budget comes back when uploads end', async () => {
      const kinds: string[] = [];
      const s = await start({ maxBodyBytes: 4 << 20, maxInflightBodyBytes: 1 << 20, onRefusal: (st, kind) => kinds.push(`${st} ${kind}`) });
      const a = stalled(s.port, 800 << 10, 700 << 10);
      await sleep(100);
      const b = stalled(s.port, 800 << 10, 700 << 10);
      const text = await b.reply;
      const [res] = parseResponses(text);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('1');
      expect(JSON.parse(res.body).error.status_code).toBe(503);
      expect(kinds).toContain('503 body_budget_exhausted');
      b.sock.destroy();
      // A is still held: another big upload is refused too; once A goes, it fits
      const c = await fetch(`http://127.0.0.1:${s.port}/`, { method: 'POST', body: Buffer.alloc(800 << 10) });
      expect(c.status).toBe(503);
      await c.text();
      a.sock.destroy();
      await sleep(100);
      const d = await fetch(`http://127.0.0.1:${s.port}/`, { method: 'POST', body: Buffer.alloc(800 << 10) });
      expect(await d.json()).toEqual({ got: 800 << 10 });
    });

    it('uploads that announced a large body but sent little hold little (no preallocation from Content-Length)', async () => {
      const s = await start({ maxBodyBytes: 4 << 20, maxInflightBodyBytes: 2 << 20 });
      // 20 uploads announcing 4 MiB each (80 MiB) but sending 16 KiB: all fit in 2 MiB
      const held = Array.from({ length: 20 }, () => stalled(s.port, 4 << 20, 16 << 10));
      await sleep(200);
      const small = await fetch(`http://127.0.0.1:${s.port}/`, { method: 'POST', body: Buffer.alloc(100 << 10) });
      expect(await small.json()).toEqual({ got: 100 << 10 });
      for (const h of held) h.sock.destroy();
    });
  });
});

describe.runIf(ENGINES.includes('node'))('node engine: maxConnections', () => {
  let server: HttpServer | undefined;
  afterEach(() => {
    server?.closeAll();
    server = undefined;
  });

  it('connections over the cap get 503 + Retry-After on their request; a freed slot is served again', async () => {
    const kinds: string[] = [];
    const s = (server = await startEngine('node', (_req, res) => res.respond(200, [], 'ok'), {
      maxConnections: 2,
      onRefusal: (st, kind) => kinds.push(`${st} ${kind}`),
    }));
    const open = (): Promise<{ sock: net.Socket; first: string }> =>
      new Promise((resolve) => {
        const sock = net.connect(s.port, '127.0.0.1', () => sock.write('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
        let text = '';
        sock.on('data', (d) => {
          text += d;
          if (parseResponses(text).length > 0) resolve({ sock, first: text });
        });
        sock.on('close', () => resolve({ sock, first: text }));
        sock.on('error', () => {});
      });
    const a = await open();
    const b = await open();
    expect(parseResponses(a.first)[0].status).toBe(200);
    expect(parseResponses(b.first)[0].status).toBe(200);
    const c = await open();
    const [refused] = parseResponses(c.first);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(JSON.parse(refused.body).error.status_code).toBe(503);
    expect(kinds).toEqual(['503 too_many_connections']);
    a.sock.destroy();
    c.sock.destroy();
    await sleep(50);
    const d = await open();
    expect(parseResponses(d.first)[0].status).toBe(200);
    b.sock.destroy();
    d.sock.destroy();
  });
});
