/**
 * The floor proxy of `bench/floor.mjs --gateways …,node-floor` (bench/lib/node-floor.mjs): a
 * reference column is only worth its numbers if it proxies the benchmark's traffic correctly.
 * Real mock upstream and real floor proxy on 127.0.0.1, on uWS.js.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tryLoadUws } from '../../runtime/http/uws.js';
// @ts-expect-error plain ESM benchmark helpers, no type declarations
import { startMockUpstream } from '../../bench/lib/mock-upstream.mjs';
// @ts-expect-error plain ESM benchmark helpers, no type declarations
import { startNodeFloor } from '../../bench/lib/node-floor.mjs';

interface Listening {
  port: number;
  close(): void;
}

const open: Listening[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});

describe.skipIf(!tryLoadUws().ok)('node-floor (bench reference proxy)', () => {
  it('relays the mock upstream’s JSON and SSE answers byte for byte, over kept-alive upstream connections', async () => {
    const mock = (await startMockUpstream(0)) as Listening;
    open.push(mock);
    const floor = (await startNodeFloor(`127.0.0.1:${mock.port}`)) as Listening;
    open.push(floor);
    const post = async (port: number, body: object) => {
      const r = await fetch(`http://127.0.0.1:${port}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      return { status: r.status, type: r.headers.get('content-type'), text: await r.text() };
    };
    for (const stream of [false, true, false]) {
      const body = { model: 'bench-chat', stream, messages: [{ role: 'user', content: 'x'.repeat(3000) }] };
      const direct = await post(mock.port, body);
      const via = await post(floor.port, body);
      expect(via).toEqual(direct);
      expect(via.status).toBe(200);
      expect(via.type).toBe(stream ? 'text/event-stream' : 'application/json');
    }
  });

  it('answers 502 when the upstream is gone', async () => {
    const mock = (await startMockUpstream(0)) as Listening;
    const port = mock.port;
    mock.close();
    const floor = (await startNodeFloor(`127.0.0.1:${port}`)) as Listening;
    open.push(floor);
    const r = await fetch(`http://127.0.0.1:${floor.port}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"model":"bench-chat"}',
    });
    expect(r.status).toBe(502);
    await r.text();
  });
});
