#!/usr/bin/env node
/**
 * Proxy overhead (SPEC §7): the scenarios bench/scenarios/proxy-{closed,paced}-{json,sse}.yaml
 * run through `vmc bench` — the same load straight to the simulated provider (the scenario's
 * baseline: "direct"), through vmc with 1 and 2 worker processes, and through
 * @portkey-ai/gateway when it is installed (JSON only: its streaming does not work against a
 * custom host), in interleaved rounds, one run per scenario.
 *
 *   node bench/proxy.mjs [--quick] [--duration S] [--rate R] [--modes closed,paced] [--kinds json,sse] [--json FILE]
 *
 * Peers (optional, never dependencies): nginx (Debian's nginx-light, bench/lib/nginx.mjs: the
 * floor of a reverse proxy, JSON and SSE) and `npm install --no-save @portkey-ai/gateway@1.15.2`.
 * For them, this script writes a copy of each scenario that adds the peers as `url:` gateways
 * (with `pid_file:`, so their CPU per request is measured like vmc's; Portkey also with its
 * routing headers) and pins the simulated provider to a port the peers are started against.
 *
 * Methods are the harness's (docs/bench.md): closed loop = 32 clients back to back; paced =
 * open loop at 1000 req/s timed from each request's scheduled send (no coordinated
 * omission); gateway CPU per request = utime + stime of the gateway's process tree from
 * /proc over the measured phases ÷ requests; the baseline's CPU column is the simulator's.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { ROOT, TMP, fmt, freePort, parseFlags, processTree, progress, sleep } from './lib/common.mjs';
import { NGINX_NOTE, findNginx, startNginx } from './lib/nginx.mjs';
import { SCENARIOS, runScenario, trimResults } from './lib/vmc-bench.mjs';

const SELF = fileURLToPath(import.meta.url);
export const PORTKEY_INSTALL = 'npm install --no-save @portkey-ai/gateway@1.15.2';
/** Where the peer may be installed: the repo's node_modules, or a private prefix that survives `npm install`. */
const PORTKEY_CANDIDATES = ['node_modules', 'bench/.tmp/peer/node_modules'].map((d) =>
  join(ROOT, d, '@portkey-ai/gateway/build/start-server.js'),
);

export const MODES = ['closed', 'paced'];
export const KINDS = ['json', 'sse'];

/** Starts Portkey against a simulated provider on `simPort`; resolves with { url, headers, stop }. */
async function startPortkey(script, simPort) {
  const port = await freePort();
  mkdirSync(join(TMP, 'proxy'), { recursive: true });
  const fd = openSync(join(TMP, 'proxy', 'portkey.log'), 'w');
  // Portkey binds every interface; we only ever talk to it on 127.0.0.1.
  const child = spawn(process.execPath, [script, `--port=${port}`, '--headless'], { cwd: ROOT, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    const up = await fetch(`${url}/`).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (i > 300) throw new Error('portkey did not come up');
    await sleep(100);
  }
  return {
    url,
    pid: child.pid,
    headers: { authorization: 'Bearer bench', 'x-portkey-provider': 'openai', 'x-portkey-custom-host': `http://127.0.0.1:${simPort}/v1` },
    stop: () => {
      for (const pid of processTree(child.pid).reverse()) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
    },
  };
}

/**
 * Runs the proxy scenarios. Returns { params, havePortkey, scenarios: { 'closed-json': results, … }, goals }.
 */
export async function runProxy({ quick = false, duration, rate, modes = MODES, kinds = KINDS } = {}) {
  const params = { duration: duration ?? (quick ? 2 : null), rate: rate ?? null, modes, kinds };
  const portkeyScript = PORTKEY_CANDIDATES.find((p) => existsSync(p));
  const havePortkey = portkeyScript !== undefined;
  if (!havePortkey) progress(`proxy: @portkey-ai/gateway not installed — peer column skipped (${PORTKEY_INSTALL})`);
  const nginxBin = findNginx();
  if (nginxBin === null) progress(`proxy: ${NGINX_NOTE}`);
  const scenarios = {};
  for (const mode of modes) {
    for (const kind of kinds) {
      const key = `${mode}-${kind}`;
      let file = join(SCENARIOS, `proxy-${key}.yaml`);
      const peers = [];
      try {
        const withPortkey = havePortkey && kind === 'json';
        if (withPortkey || nginxBin !== null) {
          // a copy of the scenario with the peers as `url:` gateways, the simulated provider pinned to the port they proxy to
          const simPort = await freePort();
          const s = parse(readFileSync(file, 'utf8'));
          for (const g of s.gateways) g.config = join(SCENARIOS, g.config);
          s.providers.mock.port = simPort;
          mkdirSync(join(TMP, 'proxy'), { recursive: true });
          if (nginxBin !== null) {
            const ng = await startNginx({ upstream: `127.0.0.1:${simPort}`, dir: join(TMP, 'proxy', 'nginx'), maxSeconds: 3600 });
            peers.push(ng);
            const pidFile = join(TMP, 'proxy', 'nginx-tree.pid');
            writeFileSync(pidFile, `${ng.pid}\n`); // `timeout` → nginx master → worker: the whole tree is measured
            s.gateways.push({ name: 'nginx', url: ng.url, pid_file: pidFile });
          }
          if (withPortkey) {
            const pk = await startPortkey(portkeyScript, simPort);
            peers.push(pk);
            const pidFile = join(TMP, 'proxy', 'portkey.pid');
            writeFileSync(pidFile, `${pk.pid}\n`);
            s.gateways.push({ name: 'portkey', url: pk.url, pid_file: pidFile, headers: pk.headers });
          }
          file = join(TMP, 'proxy', `proxy-${key}-with-peers.yaml`);
          writeFileSync(file, stringify(s));
        }
        const args = ['--format', 'json'];
        if (params.duration !== null) args.push('--duration', String(params.duration));
        if (params.rate !== null) args.push('--rate', String(params.rate));
        const { results } = await runScenario(file, { args, label: `proxy-${key}` });
        scenarios[key] = trimResults(results);
      } finally {
        for (const p of peers) await p.stop();
      }
    }
  }
  const res = { params, havePortkey, haveNginx: nginxBin !== null, scenarios };
  return { ...res, goals: proxyGoals(res) };
}

/** The rows of one scenario: direct (the baseline), then every gateway. */
export function proxyCases(res) {
  const cases = [];
  for (const [key, r] of Object.entries(res.scenarios)) {
    const [mode, kind] = key.split('-');
    const base = r.baseline?.metrics ?? null;
    if (base !== null)
      cases.push({ mode, kind, target: 'direct', label: 'direct', m: base, cpu: base['sim.cpu_us_per_req'], direct: base });
    for (const [name, g] of Object.entries(r.gateways)) {
      const label = name === 'vmc-1' ? 'vmc 1 worker' : name === 'vmc-2' ? 'vmc 2 workers' : name;
      cases.push({ mode, kind, target: name, label, m: g.metrics, cpu: g.metrics['gateway.cpu_us_per_req'], direct: base });
    }
  }
  return cases;
}

/** The goals of the proxy part: the scenarios' thresholds, and the peer ratio when the peer ran. */
export function proxyGoals(res) {
  const goals = [];
  for (const [key, r] of Object.entries(res.scenarios)) {
    for (const t of r.thresholds) {
      // "no errors" is listed only when it failed
      if (t.expr === 'errors.rate == 0' && t.ok) continue;
      goals.push({ goal: `${key}: \`${t.expr}\``, value: t.value === null ? 'no value' : fmt.f3(t.value), met: t.ok });
    }
  }
  const closed = res.scenarios['closed-json'];
  if (closed) {
    const pk = closed.gateways.portkey;
    if (pk) {
      for (const name of ['vmc-1', 'vmc-2']) {
        const v = closed.gateways[name];
        if (!v) continue;
        const ratio = v.metrics.rps / pk.metrics.rps;
        goals.push({
          goal: `closed-loop req/s ≥ 20× Portkey (${name}, JSON)`,
          value: `${fmt.int(v.metrics.rps)} vs ${fmt.int(pk.metrics.rps)} req/s = ${fmt.ratio(ratio)}`,
          met: ratio >= 20,
        });
      }
    } else goals.push({ goal: 'closed-loop req/s ≥ 20× Portkey', value: `peer not installed (${PORTKEY_INSTALL})`, met: null });
  }
  return goals;
}

export function proxyMarkdown(res) {
  const L = [];
  const any = Object.values(res.scenarios)[0];
  L.push(
    'Each table is one `vmc bench` run of a scenario in `bench/scenarios/` (`vmc bench bench/scenarios/proxy-closed-json.yaml` reproduces it): ' +
      'a 2 KB chat body, the simulated provider answering at once (16 tokens), 2 s of closed-loop warm-up per target, ' +
      '2 interleaved rounds per target (direct, vmc 1 worker, vmc 2 workers' +
      (res.haveNginx ? ', nginx' : '') +
      (res.havePortkey ? ', portkey' : '') +
      '), rounds merged. Closed loop = 32 clients back to back; paced = open loop at 1000 req/s, latency from each scheduled send. ' +
      (res.haveNginx
        ? 'nginx = keep-alive `proxy_pass`, 1 worker, no access log (the floor of a reverse proxy; CPU of its process tree through `pid_file:`). '
        : '') +
      '"direct" is the scenario\'s baseline: the same requests straight to the simulated provider. Gateway CPU = process-tree utime + stime ÷ requests; ' +
      "for direct, the simulator's CPU." +
      (any ? ` Generator: ${any.generator.threads} thread.` : ''),
    '',
  );
  const cases = proxyCases(res);
  for (const mode of MODES) {
    const rows = cases.filter((c) => c.mode === mode);
    if (rows.length === 0) continue;
    L.push(`**${mode === 'closed' ? 'Closed loop (max throughput)' : 'Open loop, paced at 1000 req/s'}**`, '');
    L.push(
      '| target | body | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | Δp50 vs direct | Δp99 vs direct | req/s ÷ direct | CPU µs/req | errors |',
    );
    L.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const c of rows) {
      const m = c.m;
      const d = c.direct;
      const delta = (k) =>
        c.target === 'direct' || d === null || !(k in m) ? '—' : `${m[k] - d[k] >= 0 ? '+' : '−'}${fmt.f3(Math.abs(m[k] - d[k]))}`;
      L.push(
        `| ${c.label} | ${c.kind} | ${fmt.int(m.rps)} | ${fmt.f3(m['latency.p50_ms'])} | ${fmt.f3(m['latency.p90_ms'])} | ${fmt.f3(m['latency.p99_ms'])} | ${fmt.f3(m['latency.p999_ms'])} | ` +
          `${delta('latency.p50_ms')} | ${delta('latency.p99_ms')} | ${d ? fmt.f2(m.rps / d.rps) : '—'} | ${fmt.f1(c.cpu)} | ${fmt.int(m['errors.count'] ?? 0)} |`,
      );
    }
    L.push('');
  }
  return L.join('\n');
}

if (process.argv[1] === SELF) {
  const flags = parseFlags(process.argv.slice(2));
  const res = await runProxy({
    quick: Boolean(flags.quick),
    duration: flags.duration ? Number(flags.duration) : undefined,
    rate: flags.rate ? Number(flags.rate) : undefined,
    modes: typeof flags.modes === 'string' ? flags.modes.split(',') : undefined,
    kinds: typeof flags.kinds === 'string' ? flags.kinds.split(',') : undefined,
  });
  process.stdout.write(proxyMarkdown(res) + '\n');
  for (const g of res.goals) process.stdout.write(`${g.met === null ? 'N/A    ' : g.met ? 'MET    ' : 'NOT MET'}  ${g.goal}: ${g.value}\n`);
  if (typeof flags.json === 'string') writeFileSync(flags.json, JSON.stringify(res, null, 2));
}
