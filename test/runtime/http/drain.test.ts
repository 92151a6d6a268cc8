/**
 * A SIGTERM-style drain (stopListening → whenIdle → closeAll, as runtime/server.ts drains)
 * finishes every running response intact, on both engines (issue 8: uWS wrote a
 * `Connection: close` header line into chunked bodies already under way; 100 of 100 running
 * streams broke). Adapter level with raw and fetch clients, and through the gateway with the
 * openai SDK streaming from a slow upstream.
 */
import net from 'node:net';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import type { HttpServer } from '../../../runtime/http/adapter.js';
import { closeAll, providersYaml, startGateway, startMocks } from '../harness.js';
import { ENGINES, parseResponses, sleep, startEngine, waitFor } from './engines.js';

const CHUNKS = 30;

/** Drains like runtime/server.ts. */
async function drain(s: HttpServer): Promise<void> {
  s.stopListening();
  await s.whenIdle();
  s.closeAll();
}

describe.each(ENGINES)('%s engine', (engine) => {
  let server: HttpServer | undefined;
  afterEach(() => {
    server?.closeAll();
    server = undefined;
  });

  const streaming = async (): Promise<HttpServer> =>
    (server = await startEngine(engine, async (req, res) => {
      res.writeHead(200, ['content-type', 'text/plain']);
      for (let i = 0; i < CHUNKS && !res.aborted; i++) {
        await sleep(10);
        await res.write(Buffer.from(`${req.url}:${i};`));
      }
      res.end(Buffer.from('end'));
    }));

  const expected = (path: string): string => Array.from({ length: CHUNKS }, (_, i) => `${path}:${i};`).join('') + 'end';

  it('40 running chunked streams (fetch) finish intact across a drain', async () => {
    const s = await streaming();
    const bodies = Array.from({ length: 40 }, (_, i) => fetch(`http://127.0.0.1:${s.port}/s${i}`).then((r) => r.text()));
    await waitFor(() => s.inFlight === 40, 5000, '40 streams running');
    await drain(s);
    const got = await Promise.all(bodies);
    got.forEach((b, i) => expect(b).toBe(expected(`/s${i}`)));
  });

  it('raw bytes: no header line inside a body under way; the terminating chunk arrives', async () => {
    const s = await streaming();
    const replies = Array.from(
      { length: 10 },
      (_, i) =>
        new Promise<string>((resolve) => {
          const sock = net.connect(s.port, '127.0.0.1', () => sock.write(`GET /r${i} HTTP/1.1\r\nHost: h\r\n\r\n`));
          let text = '';
          sock.on('data', (d) => (text += d.toString('latin1')));
          sock.on('close', () => resolve(text));
          sock.on('error', () => resolve(text));
        }),
    );
    await waitFor(() => s.inFlight === 10, 5000, '10 streams running');
    await drain(s);
    for (const [i, text] of (await Promise.all(replies)).entries()) {
      const head = text.slice(0, text.indexOf('\r\n\r\n'));
      const body = text.slice(head.length + 4);
      expect(body).not.toMatch(/connection/i);
      expect(body.endsWith('0\r\n\r\n')).toBe(true);
      expect(parseResponses(text)[0].body).toBe(expected(`/r${i}`));
    }
  });

  it('responses that start while draining say connection: close', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const s = (server = await startEngine(engine, async (_req, res) => {
      await gate;
      res.writeHead(200, []);
      await res.write(Buffer.from('a'));
      res.end();
    }));
    const pending = fetch(`http://127.0.0.1:${s.port}/`);
    await waitFor(() => s.inFlight === 1);
    const drained = drain(s);
    release();
    const r = await pending;
    expect(r.headers.get('connection')).toBe('close');
    expect(await r.text()).toBe('a');
    await drained;
  });

  it('a large one-shot answer still being read when the drain starts arrives whole', async () => {
    const big = Buffer.alloc(32 << 20, 99); // more than the two socket buffers hold
    const s = (server = await startEngine(engine, (_req, res) => res.respond(200, [], big)));
    const sock = net.connect(s.port, '127.0.0.1', () => sock.write('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
    sock.pause();
    let received = 0;
    sock.on('data', (d: Buffer) => (received += d.length));
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.on('error', () => {});
    await waitFor(() => s.inFlight === 1);
    await sleep(100);
    expect(s.inFlight).toBe(1); // ended, not yet out: still in flight
    const drained = drain(s);
    await sleep(100);
    sock.resume();
    await drained;
    await closed;
    expect(received).toBeGreaterThan(big.length); // head + the whole body
  });

  it('through the gateway: 20 openai SDK streams finish intact when the gateway closes mid-stream', async () => {
    const words = Array.from({ length: 25 }, (_, i) => `w${i}`);
    const mocks = await startMocks(['slow'], { chunkDelayMs: 15, content: words.join(' ') });
    const gw = await startGateway(`version: 1\n${providersYaml(mocks)}virtual_models:\n  vm: { target: slow/m1 }\n`, { engine });
    try {
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-test', maxRetries: 0 });
      const runs = Array.from({ length: 20 }, async () => {
        const stream = await client.chat.completions.create({ model: 'vm', stream: true, messages: [{ role: 'user', content: 'hi' }] });
        let text = '';
        for await (const ev of stream) text += ev.choices[0]?.delta?.content ?? '';
        return text;
      });
      await waitFor(() => mocks[0].requests.length === 20, 5000, '20 streams upstream');
      await sleep(50);
      await gw.close();
      const texts = await Promise.all(runs);
      for (const t of texts) expect(t.replace(/\s+/g, ' ').trim()).toBe(words.join(' '));
    } finally {
      await closeAll(gw, ...mocks);
    }
  });
});
