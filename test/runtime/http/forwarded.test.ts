/**
 * `x-forwarded-for` upstream (docs/runtime.md, "Upstream requests"). By default it is not sent
 * at all, whatever the client sent. With `forwardedFor` (`vmc serve --forwarded-for`) the
 * adapter's client address (`remoteAddress`) is sent: on both engines, a request without the
 * header reaches the provider with the client's address, and one with the header reaches it
 * with the address appended.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MockProvider } from '../../../bench/sim/simulated-provider.js';
import { ENGINES, post, providersYaml, startGateway, startMocks, type Gateway } from '../harness.js';

let mocks: MockProvider[];
beforeAll(async () => {
  mocks = await startMocks(['p0']);
});
afterAll(async () => {
  await Promise.all(mocks.map((m) => m.close()));
});

const YAML = () => `${providersYaml(mocks)}virtual_models:\n  chat: { target: p0/m1 }\n`;

/** Sends a request without `x-forwarded-for`, then one with it; the `x-forwarded-for` values the provider got. */
async function sendBoth(gw: Gateway): Promise<(string | undefined)[]> {
  const before = mocks[0].requests.length;
  expect((await post(`${gw.url}/v1/chat/completions`, { model: 'chat', messages: [] })).status).toBe(200);
  expect((await post(`${gw.url}/v1/chat/completions`, { model: 'chat', messages: [] }, { 'x-forwarded-for': '203.0.113.7' })).status).toBe(
    200,
  );
  const sent = mocks[0].requests.slice(before);
  expect(sent).toHaveLength(2);
  return sent.map((r) => r.headers['x-forwarded-for'] as string | undefined);
}

describe.each(ENGINES)('x-forwarded-for on the %s engine, by default', (engine) => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway(YAML(), { engine });
  });
  afterAll(() => gw.close());

  it("is not sent upstream: neither the client's address nor the client's own value", async () => {
    expect(await sendBoth(gw)).toEqual([undefined, undefined]);
  });
});

describe.each(ENGINES)('x-forwarded-for on the %s engine, with forwardedFor', (engine) => {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway(YAML(), { engine, forwardedFor: true });
  });
  afterAll(() => gw.close());

  it('carries the client address upstream, appended to the client value', async () => {
    expect(await sendBoth(gw)).toEqual(['127.0.0.1', '203.0.113.7, 127.0.0.1']);
  });
});
