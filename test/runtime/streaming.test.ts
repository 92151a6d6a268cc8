/**
 * Streaming and faults (SPEC §3.9): SSE chunk by chunk, backpressure end to end, a break
 * after bytes were sent ends with an SSE error event, a break before the first byte still
 * falls back, client abort aborts the upstream request, non-SSE bodies cut mid-way; and
 * hostile upstreams (issue 8): an SSE event that never ends is cut off at a bound with an
 * explicit error event (passthrough and translated), a translated answer over the buffer
 * limit is an explicit 502, never a cut body sent as a complete 200.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MockProvider } from '../../bench/sim/simulated-provider.js';
import { bedrockFrame } from '../../bench/sim/clouds/bedrock.js';
import { SseParser } from '../../runtime/wire/sse.js';
import { chat, closeAll, post, providersYaml, startGateway, startMocks, type Gateway } from './harness.js';

let mocks: MockProvider[];
let gw: Gateway;
let url: string;

beforeAll(async () => {
  mocks = await startMocks(['p0', 'p1']);
  gw = await startGateway(`version: 1
${providersYaml(mocks, ['m1'])}
virtual_models:
  s: { target: p0/m1, retry: { attempts: 1 } }
  pair:
    strategy: priority
    retry: { attempts: 1 }
    targets:
      - { target: p0/m1, priority: 0 }
      - { target: p1/m1, priority: 1 }
`);
  url = gw.url + '/v1/chat/completions';
});
afterAll(() => closeAll(gw, ...mocks));
afterEach(() => {
  for (const m of mocks) m.setBehavior({});
});

/** Reads an SSE response, returning events with their arrival times. */
async function readEvents(res: Response): Promise<{ events: { event: string; data: string; at: number }[]; error: unknown }> {
  const parser = new SseParser();
  const events: { event: string; data: string; at: number }[] = [];
  let error: unknown = null;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      for (const e of parser.push(chunk)) events.push({ ...e, at: Date.now() });
    }
    for (const e of parser.end()) events.push({ ...e, at: Date.now() });
  } catch (err) {
    error = err;
  }
  return { events, error };
}

function streamRequest(model: string, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(chat(model, { stream: true })),
    signal,
  });
}

describe('SSE pass-through', () => {
  it('events reach the client as they are produced, not at the end', async () => {
    mocks[0].setBehavior({ content: 'one two three four five six', chunkDelayMs: 60 });
    const res = await streamRequest('s');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('x-vmc-target')).toBe('p0/m1');
    const { events, error } = await readEvents(res);
    expect(error).toBeNull();
    const content = events
      .filter((e) => e.data !== '[DONE]')
      .map((e) => JSON.parse(e.data).choices[0]?.delta?.content ?? '')
      .join('');
    expect(content).toBe('one two three four five six');
    expect(events.at(-1)!.data).toBe('[DONE]');
    expect(events.at(-1)!.at - events[0].at).toBeGreaterThanOrEqual(250);
  });

  it('a stream that breaks after bytes were sent ends with an SSE error event', async () => {
    mocks[0].setBehavior({ content: 'a b c d e f g h', chunkDelayMs: 5, breakAfterChunks: 3 });
    const res = await streamRequest('s');
    expect(res.status).toBe(200);
    const { events, error } = await readEvents(res);
    expect(error).toBeNull(); // the gateway ends the response properly
    expect(events.slice(0, 3).every((e) => e.event === 'message')).toBe(true);
    const last = events.at(-1)!;
    expect(last.event).toBe('error');
    expect(JSON.parse(last.data).error).toMatchObject({ type: 'provider_error', provider: 'p0', code: null });
    // every event before the error is complete JSON: no half event leaked
    for (const e of events.slice(0, -1)) expect(() => JSON.parse(e.data)).not.toThrow();
  });

  it('a break before the first byte still falls back', async () => {
    mocks[0].setBehavior({ breakAfterChunks: 0 });
    const res = await streamRequest('pair');
    expect(res.headers.get('x-vmc-target')).toBe('p1/m1');
    expect(res.headers.get('x-vmc-attempts')).toBe('2');
    const { events } = await readEvents(res);
    expect(events.at(-1)!.data).toBe('[DONE]');
  });

  it('a client abort aborts the upstream request', async () => {
    mocks[0].setBehavior({ content: Array.from({ length: 40 }, (_, i) => `w${i}`).join(' '), chunkDelayMs: 50 });
    const before = mocks[0].requests.length;
    const ac = new AbortController();
    const res = await streamRequest('s', ac.signal);
    const reader = res.body!.getReader();
    await reader.read();
    ac.abort();
    const rec = mocks[0].requests[before];
    for (let i = 0; i < 50 && !rec.clientAborted; i++) await new Promise((r) => setTimeout(r, 20));
    expect(rec.clientAborted).toBe(true);
    // the gateway logged the request as closed by the client (499)
    for (let i = 0; i < 50 && !gw.logs.some((l) => l.msg === 'request' && l.status === 499); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(gw.logs.some((l) => l.msg === 'request' && l.status === 499)).toBe(true);
  });

  it('backpressure: a client that does not read stops the upstream', async () => {
    const total = 48 * 1024 * 1024;
    mocks[0].setBehavior({ floodBytes: total });
    const before = mocks[0].requests.length;
    const body = JSON.stringify(chat('s', { stream: true }));
    const sock = net.connect(gw.server.port, '127.0.0.1');
    sock.pause();
    sock.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    for (let i = 0; i < 100 && mocks[0].requests.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 600));
    const rec = mocks[0].requests[before];
    const sentWhilePaused = rec.bytesSent;
    expect(sentWhilePaused).toBeLessThan(total / 2);
    let received = 0;
    const done = new Promise<void>((resolve) => {
      sock.on('data', (d: Buffer) => {
        received += d.length;
        if (d.subarray(-32).toString().includes('data: [DONE]')) resolve();
      });
    });
    sock.resume();
    await done;
    sock.destroy();
    expect(rec.bytesSent).toBeGreaterThanOrEqual(total);
    expect(received).toBeGreaterThan(total);
  }, 30_000);
});

describe('non-streaming faults', () => {
  it('slow first byte without an SLA is simply waited for', async () => {
    mocks[0].setBehavior({ firstByteDelayMs: 300 });
    const r = await post(url, chat('s'));
    expect(r.status).toBe(200);
    expect(r.json.choices[0].message.content).toContain('p0');
  });

  it('a JSON body cut mid-way closes the connection (the client sees an error, not a short body)', async () => {
    mocks[0].setBehavior({ breakAfterChunks: 1, firstByteDelayMs: 10 });
    let failed = false;
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat('s')) });
      await res.text();
    } catch {
      failed = true;
    }
    expect(failed).toBe(true);
  });

  it('upstream 5xx with one target: answered as the provider sent it', async () => {
    mocks[0].setBehavior({ status: 500, errorBody: { error: { message: 'boom' } } });
    const r = await post(url, chat('s'));
    expect(r.status).toBe(500);
    expect(r.json).toEqual({ error: { message: 'boom' } });
    expect(r.headers.get('x-vmc-attempts')).toBe('1');
  });
});

// ---- hostile upstreams (issue 8) ----

/** A raw upstream on 127.0.0.1; `sent` counts body bytes the handler wrote; close() drops open sockets. */
async function rawUpstream(handler: (res: http.ServerResponse, sent: { bytes: number }) => void): Promise<{
  url: string;
  sent: { bytes: number };
  close(): Promise<void>;
}> {
  const sockets = new Set<net.Socket>();
  const sent = { bytes: 0 };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => handler(res, sent));
  });
  server.on('connection', (c) => {
    sockets.add(c);
    c.on('close', () => sockets.delete(c));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sent,
    close: () =>
      new Promise<void>((r) => {
        for (const c of sockets) c.destroy();
        server.close(() => r());
      }),
  };
}

/** Writes `total` bytes of `fill` in `chunk`-byte pieces, honouring backpressure; then ends with `tail`. */
async function flood(res: http.ServerResponse, sent: { bytes: number }, total: number, chunk: number, tail = ''): Promise<void> {
  const piece = Buffer.alloc(chunk, 'x');
  while (sent.bytes < total && !res.destroyed) {
    sent.bytes += piece.length;
    if (!res.write(piece)) {
      await new Promise<void>((r) => {
        const done = (): void => {
          res.off('drain', done).off('close', done); // no listener piles up across waits
          r();
        };
        res.once('drain', done).once('close', done);
      });
    }
  }
  if (!res.destroyed) res.end(tail);
}

describe('hostile upstreams (issue 8)', () => {
  it('passthrough SSE: an event that never ends is cut off at the bound with an error event; the upstream is not read on', async () => {
    const total = 64 * 1024 * 1024;
    const up = await rawUpstream((res, sent) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"n":1}\n\ndata: {"n":2}\n\ndata: ');
      void flood(res, sent, total, 64 * 1024, '\n\n');
    });
    const g = await startGateway(
      `version: 1\nproviders:\n  raw: { type: openai, base_url: ${up.url}/v1, models: [m1] }\nvirtual_models:\n  s: { target: raw/m1 }\n`,
    );
    try {
      const res = await fetch(g.url + '/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(chat('s', { stream: true })),
      });
      const { events } = await readEvents(res);
      expect(events.slice(0, 2).map((e) => e.data)).toEqual(['{"n":1}', '{"n":2}']);
      expect(events).toHaveLength(3); // never the half event
      expect(events[2].event).toBe('error');
      expect(JSON.parse(events[2].data).error).toMatchObject({ type: 'provider_error', status_code: 502 });
      expect(JSON.parse(events[2].data).error.message).toMatch(/exceeds/);
      // cut at the 8 MiB bound (plus what the socket buffers of both hops held), not read to the end
      expect(up.sent.bytes).toBeLessThan(24 * 1024 * 1024);
    } finally {
      await g.close();
      await up.close();
    }
  }, 30_000);

  it('translated SSE (Anthropic upstream, OpenAI client): a 16 MiB unterminated line ends with an error event', async () => {
    const up = await rawUpstream((res, sent) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"m1","usage":{"input_tokens":1}}}\n\n' +
          'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"',
      );
      void flood(res, sent, 16 * 1024 * 1024, 16 * 1024, '"}}\n\n');
    });
    const g = await startGateway(
      `version: 1\nproviders:\n  an: { type: anthropic, base_url: ${up.url}, models: [m1] }\nvirtual_models:\n  s: { target: an/m1 }\n`,
    );
    try {
      const res = await fetch(g.url + '/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(chat('s', { stream: true })),
      });
      const { events } = await readEvents(res);
      const last = events.at(-1)!;
      expect(last.event).toBe('error');
      expect(JSON.parse(last.data).error.message).toMatch(/exceeds/);
      expect(events.some((e) => e.data.length > 1024 * 1024)).toBe(false); // nothing of the giant line was forwarded
    } finally {
      await g.close();
      await up.close();
    }
  }, 30_000);

  it('translated event stream (Bedrock upstream): a corrupt frame ends the client stream with an error event; the upstream is not read on', async () => {
    const total = 64 * 1024 * 1024;
    const up = await rawUpstream((res, sent) => {
      res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream' });
      res.write(bedrockFrame('messageStart', { role: 'assistant' }));
      res.write(bedrockFrame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'before the bad frame' } }));
      // a prelude announcing a 1 GiB message (past the 16 MiB bound), then more bytes forever
      const bad = Buffer.alloc(16);
      bad.writeUInt32BE(1024 * 1024 * 1024, 0);
      res.write(bad);
      void flood(res, sent, total, 64 * 1024);
    });
    const g = await startGateway(
      `version: 1\nproviders:\n  br: { type: bedrock, region: us-east-1, base_url: ${up.url}, auth: { none: true }, models: [m1] }\nvirtual_models:\n  s: { target: br/m1 }\n`,
    );
    try {
      const res = await fetch(g.url + '/v1/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(chat('s', { stream: true })),
      });
      expect(res.status).toBe(200);
      const { events, error } = await readEvents(res);
      expect(error).toBeNull();
      const text = events
        .filter((e) => e.event === 'message' && e.data.startsWith('{'))
        .map((e) => JSON.parse(e.data).choices?.[0]?.delta?.content ?? '')
        .join('');
      expect(text).toBe('before the bad frame');
      const last = events.at(-1)!;
      expect(last.event).toBe('error');
      expect(JSON.parse(last.data).error.message).toMatch(/invalid message length/);
      expect(events.filter((e) => e.event === 'error')).toHaveLength(1); // one error event, the translator's
      // the gateway stopped reading at once: only what the socket buffers of both hops held was produced
      expect(up.sent.bytes).toBeLessThan(16 * 1024 * 1024);
    } finally {
      await g.close();
      await up.close();
    }
  }, 30_000);

  it('a translated answer over the 64 MiB buffer limit is an explicit 502, never a cut body sent as a 200', async () => {
    const up = await rawUpstream((res, sent) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(
        '{"id":"c","object":"chat.completion","model":"m1","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"',
      );
      void flood(res, sent, 65 * 1024 * 1024, 256 * 1024, '"}}]}');
    });
    const g = await startGateway(
      `version: 1\nproviders:\n  oa: { type: openai, base_url: ${up.url}/v1, models: [m1] }\nvirtual_models:\n  s: { target: oa/m1 }\n`,
    );
    try {
      const r = await post(g.url + '/v1/messages', { model: 's', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] });
      expect(r.status).toBe(502);
      expect(r.json.error).toMatchObject({ type: 'provider_error', status_code: 502 });
      expect(r.json.error.message).toMatch(/cannot translate/);
    } finally {
      await g.close();
      await up.close();
    }
  }, 30_000);
});
