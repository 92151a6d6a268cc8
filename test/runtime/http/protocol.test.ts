/**
 * HTTP/1.x protocol cases a hostile or merely old client sends (issue 8, SPEC §10), on both
 * engines, over raw sockets: many headers, HTTP/1.0, chunk extensions, pipelining behind a
 * POST, malformed heads (400 at once, not a 10 s hang), oversized heads (431, not a reset),
 * conflicting framing (duplicate Content-Length, Content-Length with Transfer-Encoding).
 *
 * Cases the uWS 20.30 build's parser cannot handle are marked with `gapIf(UWS_PARSER_GAPS)`:
 * they are expected to fail there (docs/runtime.md "HTTP engines" lists them), and pass on the
 * node engine.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { HttpHandler, HttpServer } from '../../../runtime/http/adapter.js';
import { ENGINES, gapIf, parseResponses, raw, sleep, startEngine, UWS_PARSER_GAPS } from './engines.js';

/** A handler that answers (after an await, as the gateway does) with what it saw. */
const echo: HttpHandler = async (req, res) => {
  await sleep(5);
  res.respond(
    200,
    ['content-type', 'application/json'],
    JSON.stringify({ url: req.url, n: req.headers.length / 2, body: req.body.toString() }),
  );
};

describe.each(ENGINES)('%s engine', (engine) => {
  const gap = engine === 'uws' && UWS_PARSER_GAPS;
  let server: HttpServer | undefined;
  afterEach(() => {
    server?.closeAll();
    server = undefined;
  });
  const start = async (): Promise<HttpServer> => (server = await startEngine(engine, echo, { maxBodyBytes: 1024 }));

  const headerLines = (n: number): string => Array.from({ length: n }, (_, i) => `X-H${i}: v${i}\r\n`).join('');

  it('a request with 48 headers is answered', async () => {
    const s = await start();
    const r = await raw(s.port, `GET /a HTTP/1.1\r\nHost: h\r\n${headerLines(47)}\r\n`, /\}$/, 2000);
    expect(JSON.parse(parseResponses(r.text)[0].body)).toMatchObject({ n: 48 });
  });

  gapIf(gap, it)('a request with 49 or more headers is answered (100 headers)', async () => {
    const s = await start();
    const r = await raw(s.port, `GET /a HTTP/1.1\r\nHost: h\r\n${headerLines(99)}\r\n`, /\}$/, 2000);
    expect(r.end).toBe('matched');
    expect(JSON.parse(parseResponses(r.text)[0].body)).toMatchObject({ n: 100 });
  });

  gapIf(gap, it)('HTTP/1.0 requests are answered (with and without Host), then the connection closes', async () => {
    const s = await start();
    for (const req of ['GET /old HTTP/1.0\r\nHost: h\r\n\r\n', 'GET /old HTTP/1.0\r\n\r\n']) {
      const r = await raw(s.port, req, undefined, 2000);
      expect(r.end).toBe('close');
      expect(r.text).toMatch(/^HTTP\/1\.[01] 200/);
      expect(r.text).toContain('"url":"/old"');
    }
  });

  gapIf(gap, it)('chunk extensions are accepted (and ignored)', async () => {
    const s = await start();
    const r = await raw(
      s.port,
      'POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n6;x\r\n world\r\n0\r\n\r\n',
      /\}$/,
      2000,
    );
    expect(JSON.parse(parseResponses(r.text)[0].body)).toMatchObject({ body: 'hello world' });
  });

  gapIf(gap, it)('requests pipelined after a POST are all answered, in order', async () => {
    const s = await start();
    const r = await raw(
      s.port,
      'POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /2 HTTP/1.1\r\nHost: h\r\n\r\nPOST /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi',
      /"url":"\/3"[^]*\}$/,
      2000,
    );
    expect(parseResponses(r.text).map((x) => JSON.parse(x.body).url)).toEqual(['/1', '/2', '/3']);
  });

  it('requests pipelined after a GET answered synchronously are all answered', async () => {
    const s = (server = await startEngine(engine, (req, res) => res.respond(200, [], req.url)));
    const r = await raw(s.port, 'GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n', /\/2$/, 2000);
    expect(parseResponses(r.text).map((x) => x.body)).toEqual(['/1', '/2']);
  });

  describe('malformed heads are answered 400 at once, with the error envelope', () => {
    const cases: [string, string][] = [
      ['a header line without a colon', 'GET / HTTP/1.1\r\nHost: h\r\nFoo bar\r\n\r\n'],
      ['a space before the colon', 'GET / HTTP/1.1\r\nHost: h\r\nFoo : bar\r\n\r\n'],
      ['a control character in a value', 'GET / HTTP/1.1\r\nHost: h\r\nFoo: b\x01r\r\n\r\n'],
      ['a garbage request line', '\x00\x01\x02garbage\r\n\r\n'],
      ['an invalid Content-Length', 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n'],
    ];
    for (const [name, req] of cases) {
      // uWS 20.30 holds these ~10 s and then closes (an invalid Content-Length: closed at once, no answer)
      gapIf(gap, it)(name, async () => {
        const s = await start();
        const r = await raw(s.port, req, undefined, 2000);
        expect(r.end).toBe('close');
        const [res] = parseResponses(r.text);
        expect(res?.status).toBe(400);
        expect(JSON.parse(res.body).error).toMatchObject({ type: 'invalid_request_error', status_code: 400 });
      });
    }
  });

  it('a head over the header limit (70 KiB) → 431 with the envelope', async () => {
    const s = await start();
    const r = await raw(s.port, `GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(70 * 1024)}\r\n\r\n`, /\}$/, 2000);
    const [res] = parseResponses(r.text);
    expect(res?.status).toBe(431);
    expect(JSON.parse(res.body).error.status_code).toBe(431);
  });

  gapIf(gap, it)('a 1 MB header → 431, read by the client (no reset)', async () => {
    const s = await start();
    const r = await raw(s.port, `GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(1 << 20)}\r\n\r\n`, undefined, 3000);
    expect(r.end).not.toBe('reset');
    expect(parseResponses(r.text)[0]?.status).toBe(431);
  });

  // uWS 20.30: only closing the connection at once keeps it from serving the bytes after the
  // body (see the next case), so it cannot answer 400
  gapIf(gap, it)('two Content-Length headers → 400 (same or different values)', async () => {
    const s = await start();
    for (const [a, b] of [
      [5, 6],
      [5, 5],
    ]) {
      const r = await raw(
        s.port,
        `POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: ${a}\r\nContent-Length: ${b}\r\n\r\nhello`,
        undefined,
        2000,
      );
      expect(r.end).toBe('close');
      const responses = parseResponses(r.text);
      expect(responses.map((x) => x.status)).toEqual([400]);
      expect(JSON.parse(responses[0].body).error.status_code).toBe(400);
    }
  });

  it('two Content-Length headers with bytes after the body: refused, and those bytes are never served as a request', async () => {
    const s = await start();
    const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n';
    const long = 5 + smuggled.length; // one reading takes the "smuggled" request as body, the other as a request
    for (const [a, b] of [
      [5, long],
      [long, 5],
    ]) {
      const r = await raw(
        s.port,
        `POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: ${a}\r\nContent-Length: ${b}\r\n\r\nhello${smuggled}`,
        undefined,
        1500,
      );
      expect(r.end).toBe('close');
      expect(r.text).not.toContain('/smuggled');
      expect(r.text).not.toContain('"url"');
    }
  });

  // uWS 20.30 drops the corked 400 when it closes a connection with unparsed bytes left
  gapIf(gap, it)('… and the client still reads the 400', async () => {
    const s = await start();
    const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n';
    const r = await raw(
      s.port,
      `POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: ${5 + smuggled.length}\r\n\r\nhello${smuggled}`,
      undefined,
      2000,
    );
    expect(parseResponses(r.text).map((x) => x.status)).toEqual([400]);
  });

  it('Content-Length with Transfer-Encoding is refused at once (never served)', async () => {
    const s = await start();
    const r = await raw(
      s.port,
      'POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n',
      undefined,
      2000,
    );
    expect(r.end).toBe('close');
    expect(r.text).not.toContain('"url"');
    // node answers 400; uWS 20.30 closes without an answer (its parser rejects the framing)
    if (engine === 'node') expect(parseResponses(r.text)[0]?.status).toBe(400);
  });

  it('Expect: 100-continue: the body is read after "100 Continue"', async () => {
    const s = await start();
    const ok = await raw(
      s.port,
      ['POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n', 'hello'],
      /\}$/,
      2000,
    );
    expect(ok.text).toContain('"body":"hello"');
  });

  // uWS 20.30 sends "100 Continue" by itself, before the adapter sees the request (the 413 follows)
  gapIf(gap, it)('Expect: 100-continue over the limit → 413 without "100 Continue"', async () => {
    const s = await start();
    const big = await raw(s.port, 'POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n', /\}$/, 2000);
    expect(big.text).not.toContain('100 Continue');
    expect(parseResponses(big.text)[0]?.status).toBe(413);
  });
});
