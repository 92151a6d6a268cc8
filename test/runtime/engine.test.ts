/**
 * The attempt loop (SPEC §3.7, §3.9 SLA, §3.10 cooldown, §9) against real mock providers:
 * retries with delay on status codes and network errors, fallback order and candidates,
 * final answers (last upstream response, 502, 504, 503), cooldown, SLA failover; and the
 * issue 8 hardening: client faults never count against a target, the upstream's Retry-After,
 * bounded error bodies, the whole-attempt deadline, no same-target retry of maybe-billed work.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { MockProvider } from '../../bench/sim/simulated-provider.js';
import type { Logger } from '../../runtime/log.js';
import { captureLogger, chat, closeAll, post, providersYaml, startGateway, startMocks, type Gateway } from './harness.js';

let mocks: MockProvider[];
let gw: Gateway | undefined;

beforeAll(async () => {
  mocks = await startMocks(['p0', 'p1', 'p2']);
});
afterAll(() => closeAll(...mocks));
afterEach(async () => {
  await gw?.close();
  gw = undefined;
  for (const m of mocks) {
    m.setBehavior({});
    m.requests.length = 0;
  }
});

async function gateway(
  vms: string,
  opts: Parameters<typeof startGateway>[1] = {},
  providerExtra: Record<string, string> = {},
): Promise<string> {
  gw = await startGateway(`version: 1\n${providersYaml(mocks, ['m1', 'm2'], providerExtra)}virtual_models:\n${vms}`, opts);
  return gw.url + '/v1/chat/completions';
}

const order = () =>
  mocks
    .flatMap((m) => m.requests.map((r) => ({ at: r.at, who: m.name })))
    .sort((a, b) => a.at - b.at)
    .map((x) => x.who);

describe('retries (SPEC §3.7, §9: attempts counts the first try)', () => {
  it('retries the same target on a listed status, with the delay, then succeeds', async () => {
    const url = await gateway(`  r: { target: p0/m1, retry: { attempts: 3, delay_ms: 120, on_status: [500] } }\n`);
    mocks[0].setBehavior({ statuses: [500, 200] });
    const t0 = Date.now();
    const r = await post(url, chat('r'));
    expect(r.status).toBe(200);
    expect(r.headers.get('x-vmc-attempts')).toBe('2');
    expect(mocks[0].requests).toHaveLength(2);
    expect(mocks[0].requests[1].at - mocks[0].requests[0].at).toBeGreaterThanOrEqual(110);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(110);
  });

  it('attempts: 2 means one retry; then the last response as the provider sent it', async () => {
    const url = await gateway(`  r: { target: p0/m1, retry: { attempts: 2, delay_ms: 0, on_status: [503] } }\n`);
    mocks[0].setBehavior({
      status: 503,
      errorBody: { error: { message: 'overloaded upstream', type: 'server_error' } },
      headers: { 'retry-after': '0', 'x-upstream-note': 'kept' },
    });
    const r = await post(url, chat('r'));
    expect(r.status).toBe(503);
    expect(r.json).toEqual({ error: { message: 'overloaded upstream', type: 'server_error' } });
    expect(r.headers.get('retry-after')).toBe('0');
    expect(r.headers.get('x-upstream-note')).toBe('kept');
    expect(r.headers.get('x-vmc-attempts')).toBe('2');
    expect(r.headers.get('x-vmc-target')).toBe('p0/m1');
    expect(mocks[0].requests).toHaveLength(2);
  });

  it('a status not in on_status is not retried', async () => {
    const url = await gateway(`  r: { target: p0/m1, retry: { attempts: 3, delay_ms: 0, on_status: [500] } }\n`);
    mocks[0].setBehavior({ status: 429 });
    const r = await post(url, chat('r'));
    expect(r.status).toBe(429);
    expect(mocks[0].requests).toHaveLength(1);
  });

  it('retries on a connection error (refused port comes back)', async () => {
    const url = await gateway(`  r: { target: p0/m1, retry: { attempts: 3, delay_ms: 300 } }\n`);
    await mocks[0].refuse();
    setTimeout(() => void mocks[0].reopen(), 100);
    const r = await post(url, chat('r'));
    expect(r.status).toBe(200);
    expect(r.headers.get('x-vmc-attempts')).toBe('2');
    expect(mocks[0].requests).toHaveLength(1);
  });
});

describe('fallback (SPEC §3.7)', () => {
  const pool = `  f:
    strategy: priority
    retry: { attempts: 1 }
    targets:
      - { target: p0/m1, priority: 0 }
      - { target: p1/m1, priority: 1 }
      - { target: p2/m1, priority: 2 }
`;

  it('moves along the fallback order on fallback_on statuses', async () => {
    const url = await gateway(pool);
    mocks[0].setBehavior({ status: 503 });
    mocks[1].setBehavior({ status: 500 });
    const r = await post(url, chat('f'));
    expect(r.status).toBe(200);
    expect(r.headers.get('x-vmc-target')).toBe('p2/m1');
    expect(r.headers.get('x-vmc-attempts')).toBe('3');
    expect(order()).toEqual(['p0', 'p1', 'p2']);
  });

  it('retries each target before falling back', async () => {
    const url = await gateway(pool.replace('retry: { attempts: 1 }', 'retry: { attempts: 2, delay_ms: 0 }'));
    mocks[0].setBehavior({ status: 502 });
    const r = await post(url, chat('f'));
    expect(r.status).toBe(200);
    expect(r.headers.get('x-vmc-attempts')).toBe('3');
    expect(order()).toEqual(['p0', 'p0', 'p1']);
  });

  it('a fallback_on status that is not retried moves on at once (401)', async () => {
    const url = await gateway(pool.replace('retry: { attempts: 1 }', 'retry: { attempts: 3, delay_ms: 0 }'));
    mocks[0].setBehavior({ status: 401 });
    const r = await post(url, chat('f'));
    expect(r.status).toBe(200);
    expect(order()).toEqual(['p0', 'p1']);
  });

  it('a status outside fallback_on is answered as is (400)', async () => {
    const url = await gateway(pool);
    mocks[0].setBehavior({ status: 400 });
    const r = await post(url, chat('f'));
    expect(r.status).toBe(400);
    expect(r.headers.get('x-vmc-target')).toBe('p0/m1');
    expect(order()).toEqual(['p0']);
  });

  it('per-target fallback_on decides for that target', async () => {
    const url = await gateway(`  f:
    strategy: priority
    retry: { attempts: 1 }
    targets:
      - { target: p0/m1, priority: 0, fallback_on: [418] }
      - { target: p1/m1, priority: 1 }
`);
    mocks[0].setBehavior({ status: 418 });
    expect((await post(url, chat('f'))).headers.get('x-vmc-target')).toBe('p1/m1');
    mocks[0].setBehavior({ status: 503 });
    const r = await post(url, chat('f'));
    expect(r.status).toBe(503);
    expect(r.headers.get('x-vmc-target')).toBe('p0/m1');
  });

  it('only fallback candidates are fallen back to', async () => {
    const url = await gateway(`  f:
    strategy: priority
    retry: { attempts: 1 }
    targets:
      - { target: p0/m1, priority: 0 }
      - { target: p1/m1, priority: 1, fallback_candidate: false }
      - { target: p2/m1, priority: 2 }
`);
    mocks[0].setBehavior({ status: 500 });
    const r = await post(url, chat('f'));
    expect(r.headers.get('x-vmc-target')).toBe('p2/m1');
    expect(order()).toEqual(['p0', 'p2']);
  });

  it('network failure falls back too', async () => {
    const url = await gateway(pool);
    await mocks[0].refuse();
    try {
      const r = await post(url, chat('f'));
      expect(r.status).toBe(200);
      expect(r.headers.get('x-vmc-target')).toBe('p1/m1');
      expect(r.headers.get('x-vmc-attempts')).toBe('2');
    } finally {
      await mocks[0].reopen();
    }
  });

  it('all fail: the last upstream response as sent, even when a later target was unreachable', async () => {
    const url = await gateway(pool);
    mocks[0].setBehavior({ status: 500, errorBody: { error: { message: 'from p0' } } });
    mocks[1].setBehavior({ status: 503, errorBody: { error: { message: 'from p1' } } });
    await mocks[2].refuse();
    try {
      const r = await post(url, chat('f'));
      expect(r.status).toBe(503);
      expect(r.json).toEqual({ error: { message: 'from p1' } });
      expect(r.headers.get('x-vmc-target')).toBe('p1/m1');
      expect(r.headers.get('x-vmc-attempts')).toBe('3');
    } finally {
      await mocks[2].reopen();
    }
  });

  it('all unreachable → 502 provider_error in the gateway envelope', async () => {
    const url = await gateway(`  dead: { target: p0/m1, retry: { attempts: 2, delay_ms: 0 } }\n`);
    await mocks[0].refuse();
    try {
      const r = await post(url, chat('dead'));
      expect(r.status).toBe(502);
      expect(r.json.error).toMatchObject({ type: 'provider_error', provider: 'p0', status_code: 502, code: null });
      expect(r.headers.get('x-vmc-attempts')).toBe('2');
      expect(r.headers.get('x-vmc-target')).toBe('p0/m1');
    } finally {
      await mocks[0].reopen();
    }
  });

  it('provider timeout after the request was sent → 504, not retried on the same target (the work may be billed)', async () => {
    const url = await gateway(`  slow: { target: p0/m1, retry: { attempts: 2, delay_ms: 0 } }\n`, {}, { p0: '    timeout_ms: 150\n' });
    mocks[0].setBehavior({ hang: true });
    const t0 = Date.now();
    const r = await post(url, chat('slow'));
    expect(r.status).toBe(504);
    expect(r.json.error.type).toBe('provider_error');
    expect(r.headers.get('x-vmc-attempts')).toBe('1');
    expect(mocks[0].requests).toHaveLength(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('… unless retry.on_status lists 504: then the timeout is retried', async () => {
    const url = await gateway(
      `  slow: { target: p0/m1, retry: { attempts: 2, delay_ms: 0, on_status: [500, 504] } }\n`,
      {},
      { p0: '    timeout_ms: 150\n' },
    );
    mocks[0].setBehavior({ hang: true });
    const r = await post(url, chat('slow'));
    expect(r.status).toBe(504);
    expect(r.headers.get('x-vmc-attempts')).toBe('2');
    expect(mocks[0].requests).toHaveLength(2);
  });

  it('a timeout still falls back to the next target (SPEC §3.7)', async () => {
    const url = await gateway(pool, {}, { p0: '    timeout_ms: 150\n' });
    mocks[0].setBehavior({ hang: true });
    const r = await post(url, chat('f'));
    expect(r.status).toBe(200);
    expect(r.headers.get('x-vmc-target')).toBe('p1/m1');
    expect(order()).toEqual(['p0', 'p1']);
  });
});

describe('SLA max_ttft_ms (SPEC §3.9, §9: first body byte)', () => {
  const sla = `  s:
    strategy: priority
    retry: { attempts: 3, delay_ms: 0 }
    targets:
      - { target: p0/m1, priority: 0, sla: { max_ttft_ms: 150 } }
      - { target: p1/m1, priority: 1 }
`;
  it('headers in time but the first body byte late → next target, no same-target retry', async () => {
    const url = await gateway(sla);
    mocks[0].setBehavior({ firstByteDelayMs: 1000 });
    const t0 = Date.now();
    const r = await post(url, chat('s'));
    expect(r.status).toBe(200);
    expect(r.headers.get('x-vmc-target')).toBe('p1/m1');
    expect(r.headers.get('x-vmc-attempts')).toBe('2');
    expect(Date.now() - t0).toBeLessThan(900);
    expect(order()).toEqual(['p0', 'p1']);
  });

  it('slow headers count too', async () => {
    const url = await gateway(sla);
    mocks[0].setBehavior({ headersDelayMs: 1000 });
    const r = await post(url, chat('s'));
    expect(r.headers.get('x-vmc-target')).toBe('p1/m1');
  });

  it('within the SLA the target answers', async () => {
    const url = await gateway(sla);
    mocks[0].setBehavior({ firstByteDelayMs: 20 });
    const r = await post(url, chat('s'));
    expect(r.headers.get('x-vmc-target')).toBe('p0/m1');
  });

  it('SLA miss on the only target → 504', async () => {
    const url = await gateway(`  s1: { targets: [ { target: p0/m1, sla: { max_ttft_ms: 100 } } ] }\n`);
    mocks[0].setBehavior({ firstByteDelayMs: 1000 });
    const r = await post(url, chat('s1'));
    expect(r.status).toBe(504);
    expect(r.json.error.message).toMatch(/max_ttft/);
  });
});

describe('cooldown (SPEC §3.10, §9)', () => {
  // a plain "2 in a row" rule (the adaptive threshold pinned: failureThreshold = maxFailureThreshold)
  const health = { health: { failureThreshold: 2, maxFailureThreshold: 2, cooldownMs: 400 } };

  it('single-target model: after consecutive failures the target is skipped → 503, then probed again', async () => {
    const url = await gateway(`  one: { target: p0/m1, retry: { attempts: 1 } }\n`, health);
    mocks[0].setBehavior({ status: 500 });
    expect((await post(url, chat('one'))).status).toBe(500);
    expect((await post(url, chat('one'))).status).toBe(500);
    const cooled = await post(url, chat('one'));
    expect(cooled.status).toBe(503);
    expect(cooled.json.error).toMatchObject({ type: 'provider_error', provider: 'p0', status_code: 503 });
    expect(cooled.headers.get('x-vmc-attempts')).toBe('0');
    expect(cooled.headers.get('x-vmc-target')).toBe('p0/m1');
    expect(mocks[0].requests).toHaveLength(2);
    mocks[0].setBehavior({});
    await new Promise((r) => setTimeout(r, 450));
    const probe = await post(url, chat('one'));
    expect(probe.status).toBe(200);
    expect(mocks[0].requests).toHaveLength(3);
  });

  it('the failure that opens a cooldown also ends the retries on that target', async () => {
    const url = await gateway(`  one: { target: p0/m1, retry: { attempts: 5, delay_ms: 0 } }\n`, health);
    mocks[0].setBehavior({ status: 503 });
    const r = await post(url, chat('one'));
    expect(r.status).toBe(503);
    expect(r.headers.get('x-vmc-attempts')).toBe('2'); // threshold 2: no third try
    expect(mocks[0].requests).toHaveLength(2);
  });

  it('a cooled-down primary costs nothing: the request goes straight to the fallback', async () => {
    const url = await gateway(
      `  f:
    strategy: priority
    retry: { attempts: 2, delay_ms: 50 }
    targets:
      - { target: p0/m1, priority: 0 }
      - { target: p1/m1, priority: 1 }
`,
      health,
    );
    mocks[0].setBehavior({ status: 500 });
    const first = await post(url, chat('f')); // 2 failures on p0 → cooldown, then p1
    expect(first.headers.get('x-vmc-target')).toBe('p1/m1');
    expect(first.headers.get('x-vmc-attempts')).toBe('3');
    const t0 = Date.now();
    const second = await post(url, chat('f'));
    expect(second.headers.get('x-vmc-target')).toBe('p1/m1');
    expect(second.headers.get('x-vmc-attempts')).toBe('1');
    expect(Date.now() - t0).toBeLessThan(45); // no retry delay paid on p0
    expect(mocks[0].requests).toHaveLength(2);
    const metrics = await (await fetch(gw!.url + '/metrics')).text();
    expect(metrics).toMatch(/vmc_cooldowns_total\{virtual_model="f",target="p0\/m1"\} 1/);
    expect(metrics).toMatch(/vmc_cooldown_skips_total\{virtual_model="f",target="p0\/m1"\} 1/);
    expect(metrics).toMatch(/vmc_fallbacks_total\{virtual_model="f",target="p0\/m1"\} 1/);
    expect(metrics).toMatch(/vmc_retries_total\{virtual_model="f",target="p0\/m1"\} 1/);
  });
});

// ---- issue 8 ----

/** A raw upstream on 127.0.0.1 for misbehaviour the mock has no knob for; close() also drops open sockets. */
async function rawUpstream(handler: http.RequestListener): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = http.createServer(handler);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Gateway over the mocks plus raw providers (`name: url`, openai type, base `url/v1`, model m1). */
async function gatewayWithRaw(raw: Record<string, string>, vms: string, providerExtra: Record<string, string> = {}): Promise<string> {
  let extra = '';
  for (const [name, u] of Object.entries(raw)) {
    extra += `  ${name}:\n    type: openai\n    base_url: ${u}/v1\n    models: [m1]\n${providerExtra[name] ?? ''}`;
  }
  gw = await startGateway(`version: 1\n${providersYaml(mocks, ['m1', 'm2'], providerExtra)}${extra}virtual_models:\n${vms}`);
  return gw.url + '/v1/chat/completions';
}

/** One HTTP/1.1 request written byte for byte (latin1), for header bytes fetch refuses to send. */
function rawRequest(port: number, headerLines: string[], body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      resolve({ status: Number(text.slice(9, 12)), text });
    });
    const head = [
      'POST /v1/chat/completions HTTP/1.1',
      'host: 127.0.0.1',
      'content-type: application/json',
      `content-length: ${Buffer.byteLength(body)}`,
      'connection: close',
      ...headerLines,
    ];
    // write, not end: a half-closed socket reads as a client that went away; `connection: close` ends it
    s.write(Buffer.from(head.join('\r\n') + '\r\n\r\n' + body, 'latin1'));
  });
}

const port = () => Number(new URL(gw!.url).port);

describe('client faults never count against a target (issue 8)', () => {
  it('a forwarded header value undici refuses (0x7F) → 400 before any attempt; the target stays healthy', async () => {
    const url = await gateway(`  one: { target: p0/m1 }\n`);
    // uWS passes DEL through and the engine refuses it, naming the header; node's parser
    // (llhttp) already refuses it as a malformed request. Either way: 400, nothing upstream.
    const engine = ((await (await fetch(gw!.url + '/health')).json()) as { http_engine: string }).http_engine;
    for (let i = 0; i < 20; i++) {
      const r = await rawRequest(port(), ['user-agent: evil\x7fagent'], JSON.stringify(chat('one')));
      expect(r.status).toBe(400);
      expect(r.text).toMatch(/invalid_request_error/);
      if (engine === 'uws') expect(r.text).toMatch(/user-agent/);
    }
    expect(mocks[0].requests).toHaveLength(0);
    const ok = await post(url, chat('one'));
    expect(ok.status).toBe(200);
    const metrics = await (await fetch(gw!.url + '/metrics')).text();
    expect(metrics).not.toMatch(/vmc_cooldowns_total\{virtual_model="one"/);
  });

  it('a header outside the allow-list is not forwarded at all, whatever its bytes', async () => {
    await gateway(`  one: { target: p0/m1 }\n`);
    const engine = ((await (await fetch(gw!.url + '/health')).json()) as { http_engine: string }).http_engine;
    const r = await rawRequest(port(), ['x-evil: a\x7fb'], JSON.stringify(chat('one')));
    // node's parser refuses the DEL byte (400); uWS passes it and the engine drops the header.
    expect(r.status).toBe(engine === 'uws' ? 200 : 400);
    for (const seen of mocks[0].requests) expect(seen.headers['x-evil']).toBeUndefined();
  });

  it("the upstream's 401/403/429 to a client's own key do not cool the target down for the other clients", async () => {
    const url = await gateway(`  one: { target: p0/m1, retry: { attempts: 1 } }\n`);
    mocks[0].setBehavior((req) => {
      const auth = req.headers.authorization;
      return auth === 'Bearer good' ? {} : { status: auth === 'Bearer limited' ? 429 : auth === 'Bearer banned' ? 403 : 401 };
    });
    for (const [key, status] of [
      ['stolen', 401],
      ['banned', 403],
      ['limited', 429],
    ] as const) {
      for (let i = 0; i < 25; i++) expect((await post(url, chat('one'), { authorization: `Bearer ${key}` })).status).toBe(status);
    }
    const ok = await post(url, chat('one'), { authorization: 'Bearer good' });
    expect(ok.status).toBe(200);
    expect(mocks[0].requests).toHaveLength(76);
  });

  it("with the provider's own key, its 401s are the target's: they do eject it", async () => {
    process.env.VMC_TEST_ENGINE_KEY = 'revoked';
    try {
      const url = await gateway(
        `  one: { target: p0/m1, retry: { attempts: 1 } }\n`,
        { health: { failureThreshold: 3, maxFailureThreshold: 3, cooldownMs: 60_000 } },
        { p0: '    api_key_env: VMC_TEST_ENGINE_KEY\n' },
      );
      mocks[0].setBehavior({ status: 401 });
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push((await post(url, chat('one'))).status);
      expect(statuses).toEqual([401, 401, 401, 503, 503]);
    } finally {
      delete process.env.VMC_TEST_ENGINE_KEY;
    }
  });
});

describe("the upstream's Retry-After (issue 8)", () => {
  it('seconds: the same-target retry waits as long as the upstream asks', async () => {
    const url = await gateway(`  r: { target: p0/m1, retry: { attempts: 2, delay_ms: 0 } }\n`);
    mocks[0].setBehavior({ statuses: [503, 200], headers: { 'retry-after': '1' } });
    const r = await post(url, chat('r'));
    expect(r.status).toBe(200);
    expect(r.headers.get('x-vmc-attempts')).toBe('2');
    expect(mocks[0].requests[1].at - mocks[0].requests[0].at).toBeGreaterThanOrEqual(900);
  });

  it('an HTTP date works too', async () => {
    const url = await gateway(`  r: { target: p0/m1, retry: { attempts: 2, delay_ms: 0 } }\n`);
    mocks[0].setBehavior({ statuses: [429, 200], headers: { 'retry-after': new Date(Date.now() + 2000).toUTCString() } });
    const r = await post(url, chat('r'));
    expect(r.status).toBe(200);
    expect(mocks[0].requests[1].at - mocks[0].requests[0].at).toBeGreaterThanOrEqual(900);
  });

  it('longer than the cap: no same-target retry; the client gets the answer and its Retry-After', async () => {
    const url = await gateway(`  r: { target: p0/m1, retry: { attempts: 3, delay_ms: 0 } }\n`);
    mocks[0].setBehavior({ status: 503, headers: { 'retry-after': '3600' } });
    const r = await post(url, chat('r'));
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('3600');
    expect(r.headers.get('x-vmc-attempts')).toBe('1');
  });
});

describe('bounded error bodies and the whole-attempt deadline (issue 8)', () => {
  /** 503 whose body trickles one byte every 50 ms and never ends. */
  const trickle503: http.RequestListener = (req, res) => {
    req.resume();
    res.writeHead(503, { 'content-type': 'application/json' });
    res.write('{');
    const timer = setInterval(() => res.write(' '), 50);
    res.on('close', () => clearInterval(timer));
  };

  it('an error body that never ends is cut at the attempt deadline, and the request falls back', async () => {
    const raw = await rawUpstream(trickle503);
    try {
      const url = await gatewayWithRaw(
        { raw: raw.url },
        `  f:\n    strategy: priority\n    targets:\n      - { target: raw/m1, priority: 0 }\n      - { target: p1/m1, priority: 1 }\n`,
        { raw: '    timeout_ms: 400\n' },
      );
      const r = await post(url, chat('f'));
      expect(r.status).toBe(200);
      expect(r.headers.get('x-vmc-target')).toBe('p1/m1');
    } finally {
      await raw.close();
    }
  }, 10_000);

  it('with the default timeouts too: the error body gets ERROR_BODY_TIMEOUT_MS, then the request ends (504)', async () => {
    const raw = await rawUpstream(trickle503);
    try {
      const url = await gatewayWithRaw({ raw: raw.url }, `  one: { target: raw/m1 }\n`);
      const r = await post(url, chat('one'));
      expect(r.status).toBe(504);
      expect(r.json.error.type).toBe('provider_error');
      expect(r.headers.get('x-vmc-attempts')).toBe('1'); // sent and timed out: not retried (may be billed)
    } finally {
      await raw.close();
    }
  }, 25_000);

  it('timeout_ms bounds the whole attempt: a stream still running at the deadline ends with an SSE error event', async () => {
    const raw = await rawUpstream((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let n = 0;
      const timer = setInterval(() => {
        res.write(`data: {"n":${n++}}\n\n`);
        if (n === 30) {
          clearInterval(timer);
          res.end('data: [DONE]\n\n');
        }
      }, 100);
      res.on('close', () => clearInterval(timer));
    });
    try {
      const url = await gatewayWithRaw({ raw: raw.url }, `  s: { target: raw/m1 }\n`, { raw: '    timeout_ms: 500\n' });
      const r = await post(url, chat('s', { stream: true }));
      expect(r.status).toBe(200);
      expect(r.text).toMatch(/data: \{"n":0\}/);
      expect(r.text).not.toMatch(/\[DONE\]/);
      expect(r.text).toMatch(/event: error\ndata: .*"status_code":504/);
    } finally {
      await raw.close();
    }
  }, 10_000);
});

describe('bodies larger than the scanner’s shared buffer (1 MiB)', () => {
  it('are routed whatever their length modulo 4 (the scan gives such a body a buffer of whole words)', async () => {
    const url = await gateway(`  big: { target: p0/m1 }\n`);
    const filler = 'a'.repeat((1 << 20) + 64);
    for (let extra = 0; extra < 4; extra++) {
      const body = JSON.stringify(chat('big', { note: filler + 'b'.repeat(extra) }));
      const r = await post(url, body);
      expect(r.status, `body of ${body.length} bytes`).toBe(200);
      expect(mocks[0].requests.at(-1)!.body.length).toBe(body.length - 'big'.length + 'm1'.length);
    }
  }, 20_000);
});

/**
 * The first attempt runs without the loop's promises (engine.ts #startFirst, issue 13): its
 * answer continues at the end of the upstream read that brought it, and anything but a
 * committed success resumes the attempt loop at that attempt. Every way such a request can
 * end must leave nothing counted in flight, and a throw after serve() returned is answered
 * and reported like a throwing handler's.
 */
describe('the first attempt without promises (issue 13)', () => {
  const inFlight = async (base: string): Promise<number> => {
    const m = /^vmc_in_flight_requests (\d+)$/m.exec(await (await fetch(base + '/metrics')).text());
    return Number(m?.[1]);
  };
  /** Polls (bounded) until the gateway counts nothing in flight; returns the last reading. */
  const settled = async (base: string): Promise<number> => {
    let n = await inFlight(base);
    for (let i = 0; i < 100 && n !== 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      n = await inFlight(base);
    }
    return n;
  };

  it('every ending — whole, late body, stream, fallback, retry, SLA miss, broken body, client abort — leaves nothing in flight', async () => {
    const url = await gateway(
      `  f:\n    strategy: priority\n    retry: { attempts: 2, delay_ms: 0, on_status: [503] }\n    fallback_on: [500]\n    targets:\n` +
        `      - { target: p0/m1, priority: 0, sla: { max_ttft_ms: 150 } }\n      - { target: p1/m1, priority: 1 }\n`,
    );
    const base = gw!.url;
    // whole body in the read that brought the headers
    expect((await post(url, chat('f'))).status).toBe(200);
    // headers first, the body in a later read: the continuation listens again
    mocks[0].setBehavior({ firstByteDelayMs: 60 });
    let r = await post(url, chat('f'));
    expect(r.status).toBe(200);
    expect(r.json.choices[0].message.content).toContain('mock:p0');
    // a stream relayed chunk by chunk (the relay's promise)
    mocks[0].setBehavior({ chunkDelayMs: 5 });
    r = await post(url, chat('f', { stream: true }));
    expect(r.status).toBe(200);
    expect(r.text).toContain('data: [DONE]');
    // an error status: the loop takes over at this attempt (fallback, retry)
    mocks[0].setBehavior({ statuses: [500] });
    r = await post(url, chat('f'));
    expect([r.status, r.headers.get('x-vmc-target'), r.headers.get('x-vmc-attempts')]).toEqual([200, 'p1/m1', '2']);
    mocks[0].setBehavior({ statuses: [503] });
    r = await post(url, chat('f'));
    expect([r.status, r.headers.get('x-vmc-target'), r.headers.get('x-vmc-attempts')]).toEqual([200, 'p0/m1', '2']);
    // no first byte within the SLA: a failure heard from a timer
    mocks[0].setBehavior({ firstByteDelayMs: 400 });
    r = await post(url, chat('f'));
    expect([r.status, r.headers.get('x-vmc-target')]).toEqual([200, 'p1/m1']);
    mocks[0].setBehavior({});
    expect(await settled(base)).toBe(0);
    // a body that breaks after its first bytes: committed, then cut
    mocks[0].setBehavior({ breakAfterChunks: 1 });
    await post(url, chat('f')).catch(() => undefined);
    // the client goes away while the first attempt waits for its headers
    mocks[0].setBehavior({ headersDelayMs: 300 });
    const ac = new AbortController();
    const gone = fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(chat('f')),
      signal: ac.signal,
    });
    setTimeout(() => ac.abort(), 80);
    await expect(gone).rejects.toThrow();
    expect(await settled(base)).toBe(0);
    for (let i = 0; i < 50 && !gw!.logs.some((l) => l.msg === 'request' && l.status === 499); i++)
      await new Promise((res) => setTimeout(res, 20));
    expect(gw!.logs.some((l) => l.msg === 'request' && l.status === 499 && l.virtual_model === 'f')).toBe(true);
    mocks[0].setBehavior({});
    expect((await post(url, chat('f'))).status).toBe(200);
    expect(await settled(base)).toBe(0);
  });

  it('a throw after serve() returned is reported like a throwing handler, and the gateway goes on', async () => {
    const { log, lines } = captureLogger();
    // the access line of model "boom" throws: it is written after the answer, in the continuation
    const throwing: Logger = {
      ...log,
      level: log.level,
      request(fields) {
        if (fields.virtual_model === 'boom') throw new Error('access line exploded');
        log.request(fields);
      },
    };
    const url = await gateway(`  boom: { target: p0/m1 }\n  fine: { target: p0/m1 }\n`, { log: throwing });
    for (const stream of [false, true]) {
      mocks[0].setBehavior(stream ? { chunkDelayMs: 5 } : {});
      const r = await post(url, chat('boom', stream ? { stream: true } : {}));
      expect(r.status).toBe(200); // answered before the throw
      expect((await post(url, chat('fine'))).status).toBe(200);
    }
    const failed = lines.filter((l) => l.msg === 'request handler failed');
    expect(failed).toHaveLength(2);
    expect(String(failed[0].error)).toContain('access line exploded');
    expect(await settled(gw!.url)).toBe(0);
  });
});
