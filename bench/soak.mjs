#!/usr/bin/env node
/**
 * `vmc serve` soak (issue 8, SPEC §10): the real gateway process for a bounded time against
 * simulated upstreams that fail a share of requests, with well-behaved clients and a mix of
 * hostile ones. Reports what a careful operator looks at:
 *
 *   - client-visible error rate per virtual model against the retry policy's prediction
 *     (independent upstream failures with probability p: one target with `attempts: a` fails
 *     a request with p^a; a two-target priority pool with fallback with p^(2a));
 *   - RSS of the gateway (all processes) over time;
 *   - event-loop delay p99 (the gateway's own `vmc_event_loop_delay_seconds`, worst worker)
 *     and a client-side probe (`GET /health` latency);
 *   - what each hostile client got back, and crashes: worker restarts, an early exit, and the
 *     exit code of the final SIGTERM drain (0 expected).
 *
 *   node bench/soak.mjs [--seconds 60] [--workers 1] [--fail-rate 0.2] [--clients 16]
 *                       [--admin-every 10] [--seed 1] [--out FILE.json] [--json]
 *   node bench/soak.mjs --admin-burst [--seconds 20] [--vms 300]
 *        inference latency with no admin traffic, then during back-to-back admin PUTs
 *   --root DIR   run another checkout's built gateway (DIR/bin/vmc.js, DIR/dist), e.g. to
 *                measure before/after a change
 *
 * Prints progress on stderr, a short text summary on stdout (`--json`: the JSON instead),
 * and writes the JSON to `--out`. Needs a built dist/ (`npx tsc -p tsconfig.build.json`).
 * Standalone: nothing here is imported by the tests.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, freePort, machine, parseFlags, processTree, progress, summarize } from './lib/common.mjs';

const flags = parseFlags(process.argv.slice(2));
const BURST = Boolean(flags['admin-burst']);
const SECONDS = Number(flags.seconds ?? (BURST ? 20 : 60));
const WORKERS = Number(flags.workers ?? 1);
const FAIL_RATE = BURST ? 0 : Number(flags['fail-rate'] ?? 0.2);
const CLIENTS = Number(flags.clients ?? (BURST ? 8 : 16));
const ADMIN_EVERY_S = Number(flags['admin-every'] ?? 10);
const SEED = Number(flags.seed ?? 1);
const FILLER_VMS = Number(flags.vms ?? (BURST ? 300 : 20));
const TREE = flags.root ? resolve(String(flags.root)) : ROOT;
const MAX_BODY = 256 * 1024;
const ATTEMPTS = 2;
const TOKEN = 'soak-admin-token';

if (!(SECONDS > 0 && SECONDS <= 3600)) throw new Error('--seconds must be in (0, 3600]');
if (!existsSync(join(TREE, 'dist', 'bin', 'cli.js')))
  throw new Error(`${TREE}/dist is missing: build first (npx tsc -p tsconfig.build.json)`);

// mulberry32 (bench/sim/random.ts): fault sampling and the request mix are reproducible
const { Rng } = await import(pathToFileURL(join(ROOT, 'dist', 'bench', 'sim', 'random.js')).href); // this checkout's, whatever --root runs
function rng(seed) {
  const r = new Rng(seed);
  return () => r.next();
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- simulated upstreams

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-soak',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'm',
  choices: [{ index: 0, message: { role: 'assistant', content: 'soak reply' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
});
const chunk = (text) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-soak', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: text }, finish_reason: null }] })}\n\n`;

/** An OpenAI-compatible upstream failing each request independently with `failRate` (503). */
function startUpstream(name, failRate, seed) {
  const draw = rng(seed);
  const stats = { name, requests: 0, failed: 0 };
  const server = http.createServer((req, res) => {
    const parts = [];
    req.on('data', (c) => parts.push(c));
    req.on('end', () => {
      stats.requests++;
      if (draw() < failRate) {
        stats.failed++;
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end('{"error":{"message":"simulated outage","type":"server_error"}}');
        return;
      }
      let stream = false;
      try {
        stream = JSON.parse(Buffer.concat(parts).toString()).stream === true;
      } catch {
        /* not JSON: answer plainly */
      }
      if (!stream) {
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(COMPLETION);
        }, 3);
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let i = 0;
      const tick = () => {
        if (res.destroyed) return;
        if (i < 5) {
          res.write(chunk(`w${i++} `));
          setTimeout(tick, 2);
        } else res.end('data: [DONE]\n\n');
      };
      setTimeout(tick, 3);
    });
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r({ server, stats, url: `http://127.0.0.1:${server.address().port}` })));
}

// ---------------------------------------------------------------- gateway

function configYaml(a, b) {
  const retry = `retry: { attempts: ${ATTEMPTS}, delay_ms: 10, on_status: [503] }, fallback_on: [503]`;
  let y = `version: 1
providers:
  a: { type: openai, base_url: ${a}/v1, models: [m] }
  b: { type: openai, base_url: ${b}/v1, models: [m] }
virtual_models:
  single: { target: a/m, ${retry} }
  pool:
    strategy: priority
    targets:
      - { target: a/m, priority: 0, ${retry} }
      - { target: b/m, priority: 1, ${retry} }
`;
  for (let i = 0; i < FILLER_VMS; i++) y += `  filler-${i}: { target: ${i % 2 ? 'a' : 'b'}/m, description: filler ${i} }\n`;
  return y;
}

/** Spawns `vmc serve` (VMC_LOG=warn: no access lines) and waits for its listening line. */
async function startGateway(tablePath, port) {
  const args = [join(TREE, 'bin', 'vmc.js'), 'serve', '--table', tablePath, '--port', String(port), '--workers', String(WORKERS)];
  args.push('--max-body', String(MAX_BODY), '--no-watch');
  const child = spawn(process.execPath, args, {
    cwd: TREE,
    env: { ...process.env, VMC_LOG: 'warn', VMC_ADMIN_TOKEN: TOKEN },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const lines = [];
  let buf = '';
  child.stderr.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        lines.push(JSON.parse(line));
      } catch {
        lines.push({ raw: line });
      }
    }
  });
  const exit = new Promise((r) => child.on('exit', (code, signal) => r({ code, signal, at: performance.now() })));
  for (let i = 0; i < 300; i++) {
    try {
      const r = await get(`http://127.0.0.1:${port}/health`, 1000);
      if (r.status === 200) return { child, lines, exit, health: JSON.parse(r.body) };
    } catch {
      /* not yet */
    }
    if (child.exitCode !== null) throw new Error(`gateway exited at start: ${JSON.stringify(lines.slice(-5))}`);
    await sleep(50);
  }
  child.kill('SIGKILL');
  throw new Error('gateway did not start in 15 s');
}

function rssMb(pid) {
  let kb = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      /* exited */
    }
  }
  return kb / 1024;
}

function openFds(pid) {
  let n = 0;
  for (const p of processTree(pid)) {
    try {
      n += readdirSync(`/proc/${p}/fd`).length;
    } catch {
      /* exited */
    }
  }
  return n;
}

// ---------------------------------------------------------------- clients

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function get(url, timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** One well-behaved chat request; resolves with { ok, status, ms, why }. */
function chatRequest(base, model, stream, headers = {}) {
  const body = JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'hello' }] });
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.request(
      `${base}/v1/chat/completions`,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          const ms = performance.now() - t0;
          if (res.statusCode !== 200) return resolve({ ok: false, status: res.statusCode, ms, why: `status ${res.statusCode}` });
          if (stream && (!text.includes('data: [DONE]') || text.includes('event: error')))
            return resolve({ ok: false, status: 200, ms, why: 'stream broken' });
          if (!stream && !text.includes('soak reply')) return resolve({ ok: false, status: 200, ms, why: 'bad body' });
          resolve({ ok: true, status: 200, ms });
        });
        res.on('error', (e) =>
          resolve({ ok: false, status: res.statusCode, ms: performance.now() - t0, why: `body ${e.code ?? e.message}` }),
        );
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error('client timeout')));
    req.on('error', (e) => resolve({ ok: false, status: 0, ms: performance.now() - t0, why: `network ${e.code ?? e.message}` }));
    req.end(body);
  });
}

/** A raw TCP exchange: writes `chunks` (with optional pauses), reads until close or `waitMs`; resolves with the status line seen. */
function rawExchange(port, chunks, waitMs = 3000) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let got = '';
    let done = false;
    const finish = (how) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(got);
      resolve(m ? `${m[1]}` : how);
    };
    const timer = setTimeout(() => finish('no answer'), waitMs);
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (/\r\n\r\n/.test(got)) finish('answered');
    });
    sock.on('error', (e) => finish(e.code ?? 'error'));
    sock.on('close', () => finish('closed'));
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (typeof c === 'number') await sleep(c);
        else if (!sock.destroyed) sock.write(c);
      }
    });
  });
}

const POST_HEAD = (len, extra = '') =>
  `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${len}\r\n${extra}\r\n`;
const GOOD_BODY = JSON.stringify({ model: 'single', messages: [{ role: 'user', content: 'hi' }] });

/** Hostile client kinds: each returns an outcome label per attempt. */
function hostileKinds(port, base) {
  return {
    // Starts a large upload and trickles it, then goes away.
    'slow-upload': () => {
      const parts = [POST_HEAD(100_000)];
      for (let i = 0; i < 12; i++) parts.push(250, '{"model":"x"  ');
      return rawExchange(port, parts, 4000);
    },
    // A body over --max-body: the client must read the 413, not a broken pipe.
    oversized: () =>
      new Promise((resolve) => {
        const body = Buffer.alloc(MAX_BODY * 4, 0x20);
        const req = http.request(
          `${base}/v1/chat/completions`,
          { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(String(res.statusCode)));
            res.on('error', () => resolve(`${res.statusCode} then error`));
          },
        );
        req.on('error', (e) => resolve(e.code ?? 'error'));
        req.end(body);
      }),
    // Not HTTP, or broken HTTP.
    malformed: () => {
      const cases = [
        ['BLAH BLAH\r\n\r\n'],
        ['POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n'],
        [POST_HEAD(12), '{not json!!}'],
        [`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-length: 5\r\ncontent-length: 50\r\n\r\n`, '{"a":'],
        ['POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'],
        [`POST /v1/chat/completions HTTP/1.0\r\ncontent-type: application/json\r\ncontent-length: ${GOOD_BODY.length}\r\n\r\n`, GOOD_BODY],
        [POST_HEAD(GOOD_BODY.length), GOOD_BODY.slice(0, 10)],
      ];
      return rawExchange(port, cases[Math.floor(Math.random() * cases.length)], 3000);
    },
    // Reads the first bytes of a stream, then aborts.
    'aborted-stream': () =>
      new Promise((resolve) => {
        const body = JSON.stringify({ model: 'pool', stream: true, messages: [{ role: 'user', content: 'hi' }] });
        const req = http.request(
          `${base}/v1/chat/completions`,
          { method: 'POST', agent: false, headers: { 'content-type': 'application/json' } },
          (res) => {
            res.once('data', () => {
              req.destroy();
              resolve(`${res.statusCode} aborted`);
            });
            res.on('end', () => resolve(`${res.statusCode} ended first`));
            res.on('error', () => undefined);
          },
        );
        req.on('error', () => resolve('aborted'));
        req.end(body);
      }),
    // Header value bytes a parser may pass but an upstream client refuses (0x7F, 0x01).
    'bad-header-bytes': () => rawExchange(port, [POST_HEAD(GOOD_BODY.length, 'x-evil: a\x7fb\x01c\r\n'), GOOD_BODY], 3000),
  };
}

// ---------------------------------------------------------------- runs

async function buildTable(dir, yaml) {
  const { buildTableFromYaml } = await import(pathToFileURL(join(TREE, 'dist', 'compiler', 'testing.js')).href);
  const path = join(dir, 'table.vmct');
  await writeFile(path, await buildTableFromYaml(yaml));
  return path;
}

function metricValue(text, name, labels = '') {
  for (const line of text.split('\n'))
    if (line.startsWith(name) && line.includes(labels) && !line.startsWith('#')) return Number(line.slice(line.lastIndexOf(' ') + 1));
  return NaN;
}

/** Binomial 95 % interval (Wilson) of k failures in n. */
function wilson(k, n) {
  if (n === 0) return [NaN, NaN];
  const z = 1.96;
  const p = k / n;
  const d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d;
  const h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, c - h), Math.min(1, c + h)];
}

async function soak() {
  const dir = await mkdtemp(join(tmpdir(), 'vmc-soak-'));
  const ua = await startUpstream('a', FAIL_RATE, SEED);
  const ub = await startUpstream('b', FAIL_RATE, SEED + 1);
  const tablePath = await buildTable(dir, configYaml(ua.url, ub.url));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  progress(
    `soak: ${SECONDS} s, ${WORKERS} worker(s), upstreams failing ${FAIL_RATE * 100} %, ${CLIENTS} clients + hostile mix; gateway ${TREE}`,
  );
  const gw = await startGateway(tablePath, port);
  const pid = gw.child.pid;
  const t0 = performance.now();
  const until = t0 + SECONDS * 1000;
  const running = () => performance.now() < until;
  let earlyExit = null;
  void gw.exit.then((e) => {
    if (performance.now() < until) earlyExit = e;
  });

  // normal clients
  const draw = rng(SEED + 7);
  const perModel = { single: { n: 0, failed: 0, why: {} }, pool: { n: 0, failed: 0, why: {} } };
  const latencies = [];
  const clients = Array.from({ length: CLIENTS }, async () => {
    while (running() && earlyExit === null) {
      const model = draw() < 0.5 ? 'single' : 'pool';
      const stream = draw() < 0.25;
      const r = await chatRequest(base, model, stream);
      const m = perModel[model];
      m.n++;
      latencies.push(r.ms);
      if (!r.ok) {
        m.failed++;
        m.why[r.why] = (m.why[r.why] ?? 0) + 1;
        if (r.status === 0) await sleep(20);
      }
    }
  });

  // hostile clients
  const kinds = hostileKinds(port, base);
  const hostile = {};
  const hostileLoops = Object.entries(kinds).flatMap(([kind, fn]) =>
    Array.from({ length: 2 }, async () => {
      hostile[kind] ??= {};
      while (running() && earlyExit === null) {
        const outcome = await fn();
        hostile[kind][outcome] = (hostile[kind][outcome] ?? 0) + 1;
        await sleep(50);
      }
    }),
  );

  // operator: an admin change every ADMIN_EVERY_S seconds
  let adminOk = 0;
  let adminFailed = 0;
  const admin = (async () => {
    let i = 0;
    while (ADMIN_EVERY_S > 0 && running() && earlyExit === null) {
      await sleep(ADMIN_EVERY_S * 1000);
      if (!running()) break;
      const r = await putAdmin(base, `soak-admin-${i++}`);
      if (r === 200) adminOk++;
      else adminFailed++;
    }
  })();

  // probes: RSS every second, /health latency every 100 ms
  const rss = [];
  const probe = [];
  let probeErrors = 0;
  const sampler = (async () => {
    while (running() && earlyExit === null) {
      rss.push([Math.round((performance.now() - t0) / 100) / 10, Math.round(rssMb(pid) * 10) / 10]);
      await sleep(1000);
    }
  })();
  const prober = (async () => {
    while (running() && earlyExit === null) {
      const s = performance.now();
      try {
        await get(`${base}/health`, 5000);
        probe.push(performance.now() - s);
      } catch {
        probeErrors++;
      }
      await sleep(100);
    }
  })();

  await Promise.all([...clients, ...hostileLoops, admin, sampler, prober]);
  progress('load done; reading /metrics, then SIGTERM');
  const fdsEnd = earlyExit === null ? openFds(pid) : NaN;
  let metricsText = '';
  try {
    metricsText = (await get(`${base}/metrics`)).body;
  } catch {
    /* gateway gone */
  }
  gw.child.kill('SIGTERM');
  const exit = await Promise.race([gw.exit, sleep(40_000).then(() => ({ code: 'timeout', signal: null }))]);
  if (exit.code === 'timeout') gw.child.kill('SIGKILL');
  ua.server.close();
  ub.server.close();
  agent.destroy();
  await rm(dir, { recursive: true, force: true });

  const p = FAIL_RATE;
  const predicted = { single: p ** ATTEMPTS, pool: p ** (2 * ATTEMPTS) };
  const models = {};
  for (const [name, m] of Object.entries(perModel)) {
    const [lo, hi] = wilson(m.failed, m.n);
    models[name] = {
      requests: m.n,
      errors: m.failed,
      error_rate: m.n ? m.failed / m.n : NaN,
      error_rate_ci95: [lo, hi],
      predicted: predicted[name],
      within_prediction: predicted[name] >= lo && predicted[name] <= hi ? true : m.failed / m.n <= predicted[name],
      errors_by_kind: m.why,
    };
  }
  const restarts = gw.lines.filter(
    (l) => l.msg === 'worker exited; restarting' || l.msg === 'worker failed at start; restarting after a back-off',
  ).length;
  const half = rss.filter(([t]) => t >= SECONDS / 2);
  const slope = half.length >= 2 ? ((half.at(-1)[1] - half[0][1]) / (half.at(-1)[0] - half[0][0])) * 60 : NaN;
  return {
    version: 1,
    kind: 'soak',
    machine: machine(),
    gateway: { tree: TREE, commit: commitOf(TREE), workers: WORKERS, http_engine: gw.health.http_engine ?? null, max_body: MAX_BODY },
    seconds: SECONDS,
    upstream_fail_rate: FAIL_RATE,
    retry_attempts: ATTEMPTS,
    upstream: { a: ua.stats, b: ub.stats },
    models,
    latency_ms: summarize(latencies),
    hostile,
    admin: { ok: adminOk, failed: adminFailed },
    rss_mb: {
      start: rss[0]?.[1] ?? NaN,
      max: Math.max(...rss.map((r) => r[1])),
      end: rss.at(-1)?.[1] ?? NaN,
      slope_mb_per_min_second_half: slope,
      series: rss,
    },
    open_fds_end: fdsEnd,
    event_loop_delay_ms: {
      gateway_p99: metricValue(metricsText, 'vmc_event_loop_delay_seconds', 'quantile="0.99"') * 1000,
      gateway_max: metricValue(metricsText, 'vmc_event_loop_delay_seconds', 'quantile="1"') * 1000,
      health_probe: { ...summarize(probe), errors: probeErrors },
    },
    crashes: {
      worker_restarts: restarts,
      early_exit: earlyExit,
      sigterm_exit_code: exit.code,
      zero: restarts === 0 && earlyExit === null && exit.code === 0,
    },
    gateway_errors_logged: gw.lines.filter((l) => l.level === 'error').length,
  };
}

async function putAdmin(base, name) {
  const body = JSON.stringify({ source: name, target_model: 'a/m', description: `set at ${Date.now()}` });
  return new Promise((resolve) => {
    const req = http.request(
      `${base}/admin/virtual-models`,
      { method: 'PUT', agent: false, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('error', () => resolve(0));
    req.end(body);
  });
}

/** Inference latency with no admin traffic, then during back-to-back admin changes (item 4 of issue 8). */
async function adminBurst() {
  const dir = await mkdtemp(join(tmpdir(), 'vmc-burst-'));
  const ua = await startUpstream('a', 0, SEED);
  const ub = await startUpstream('b', 0, SEED + 1);
  const tablePath = await buildTable(dir, configYaml(ua.url, ub.url));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  progress(
    `admin burst: ${FILLER_VMS + 2} virtual models, ${CLIENTS} clients, ${SECONDS / 2} s quiet then ${SECONDS / 2} s of admin PUTs; gateway ${TREE}`,
  );
  const gw = await startGateway(tablePath, port);
  const phase = async (seconds, withAdmin) => {
    const until = performance.now() + seconds * 1000;
    const lat = [];
    let failed = 0;
    const puts = [];
    const load = Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < until) {
        const r = await chatRequest(base, 'single', false);
        lat.push(r.ms);
        if (!r.ok) failed++;
      }
    });
    const adminLoop = (async () => {
      let i = 0;
      while (withAdmin && performance.now() < until) {
        const s = performance.now();
        const status = await putAdmin(base, `burst-${i++ % 50}`);
        puts.push({ status, ms: performance.now() - s });
      }
    })();
    await Promise.all([...load, adminLoop]);
    return {
      latency_ms: summarize(lat),
      failed,
      admin_puts: puts.length,
      admin_put_ms: summarize(puts.map((p) => p.ms)),
      admin_non_200: puts.filter((p) => p.status !== 200).length,
    };
  };
  await phase(2, false); // warm-up
  const quiet = await phase(SECONDS / 2, false);
  const burst = await phase(SECONDS / 2, true);
  gw.child.kill('SIGTERM');
  await Promise.race([gw.exit, sleep(30_000)]);
  ua.server.close();
  ub.server.close();
  agent.destroy();
  await rm(dir, { recursive: true, force: true });
  return {
    version: 1,
    kind: 'admin-burst',
    machine: machine(),
    gateway: { tree: TREE, commit: commitOf(TREE) },
    virtual_models: FILLER_VMS + 2,
    clients: CLIENTS,
    quiet,
    burst,
  };
}

function commitOf(tree) {
  try {
    const head = readFileSync(join(tree, '.git', 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head;
    return readFileSync(join(tree, '.git', head.slice(5)), 'utf8').trim();
  } catch {
    return null;
  }
}

const f = (n, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '—');
const pct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(2)} %` : '—');

function summaryText(r) {
  if (r.kind === 'admin-burst') {
    const l = (x) =>
      `p50 ${f(x.latency_ms.p50)} ms, p99 ${f(x.latency_ms.p99)} ms, max ${f(x.latency_ms.max)} ms (${x.latency_ms.count} requests, ${x.failed} failed)`;
    return [
      `admin burst (${r.virtual_models} virtual models, ${r.clients} clients, gateway ${r.gateway.commit?.slice(0, 8) ?? r.gateway.tree})`,
      `  quiet:           ${l(r.quiet)}`,
      `  during admin:    ${l(r.burst)}`,
      `  admin PUTs:      ${r.burst.admin_puts} (${r.burst.admin_non_200} not 200), p50 ${f(r.burst.admin_put_ms.p50)} ms each`,
    ].join('\n');
  }
  const lines = [
    `soak ${r.seconds} s, ${r.gateway.workers} worker(s), engine ${r.gateway.http_engine}, upstreams failing ${pct(r.upstream_fail_rate)}, gateway ${r.gateway.commit?.slice(0, 8) ?? r.gateway.tree}`,
  ];
  for (const [name, m] of Object.entries(r.models)) {
    lines.push(
      `  ${name.padEnd(7)} ${m.requests} requests, client-visible errors ${pct(m.error_rate)} (95 % CI ${pct(m.error_rate_ci95[0])}–${pct(m.error_rate_ci95[1])}); retry policy predicts ${pct(m.predicted)} → ${m.within_prediction ? 'within' : 'ABOVE'}`,
    );
  }
  lines.push(`  latency  p50 ${f(r.latency_ms.p50)} ms, p99 ${f(r.latency_ms.p99)} ms, max ${f(r.latency_ms.max)} ms`);
  lines.push(
    `  RSS      start ${f(r.rss_mb.start)} MB, max ${f(r.rss_mb.max)} MB, end ${f(r.rss_mb.end)} MB, second-half slope ${f(r.rss_mb.slope_mb_per_min_second_half, 2)} MB/min`,
  );
  lines.push(
    `  event loop delay p99 ${f(r.event_loop_delay_ms.gateway_p99)} ms (max ${f(r.event_loop_delay_ms.gateway_max)} ms); /health probe p99 ${f(r.event_loop_delay_ms.health_probe.p99)} ms, ${r.event_loop_delay_ms.health_probe.errors} probe errors`,
  );
  lines.push(
    `  hostile  ${Object.entries(r.hostile)
      .map(
        ([k, v]) =>
          `${k}: ${Object.entries(v)
            .map(([o, n]) => `${o}×${n}`)
            .join(' ')}`,
      )
      .join('; ')}`,
  );
  lines.push(
    `  crashes  ${r.crashes.zero ? 'none' : 'SOME'} (worker restarts ${r.crashes.worker_restarts}, early exit ${r.crashes.early_exit ? JSON.stringify(r.crashes.early_exit) : 'no'}, SIGTERM exit ${r.crashes.sigterm_exit_code}); admin changes ${r.admin.ok} ok / ${r.admin.failed} failed; open fds at end ${r.open_fds_end}`,
  );
  return lines.join('\n');
}

const result = BURST ? await adminBurst() : await soak();
if (flags.out) writeFileSync(String(flags.out), JSON.stringify(result, null, 2) + '\n');
process.stdout.write((flags.json ? JSON.stringify(result, null, 2) : summaryText(result)) + '\n');
