#!/usr/bin/env node
/**
 * vmc against the floor (issue 13): the same load straight to a mock upstream ("direct"),
 * through nginx (keep-alive `proxy_pass`, 1 worker: bench/lib/nginx.mjs) and through one or
 * more vmc gateways (1 process each), in interleaved rounds, with CPU per request and
 * optionally syscalls per request (`strace -c -f`). A tool for runtime work and the A/B runs
 * behind the issue's levers; `npm run bench` carries the official nginx column.
 *
 *   node bench/floor.mjs [--kinds json,sse] [--mode closed|paced] [--duration 4] [--rounds 3]
 *                        [--connections 32] [--rate 500] [--gateways nginx,vmc[,node-floor]]
 *                        [--vmc NAME=DIR …] [--variant NAME:K=V,… …] [--ref NAME] [--strace] [--strace-seconds 3] [--json FILE]
 *
 * `--gateways …,node-floor` adds bench/lib/node-floor.mjs: a proxy on the same platform parts as
 * vmc (uWS.js in, `node:net` out) doing nothing else, the floor a Node.js gateway can reach.
 * `--vmc NAME=DIR` adds a gateway started from another checkout (its bin/vmc.js and dist/),
 * e.g. a `git worktree` of the commit before a change: A and B then share the machine,
 * the mock and the rounds; `--variant NAME:K=V` adds this checkout with extra environment
 * (e.g. `undici:VMC_UPSTREAM_CLIENT=undici`). Every vmc runs `vmc serve` (one process, `VMC_LOG=warn`) on a table
 * with one virtual model 70/30 over two models of the mock (bench/lib/workload.mjs).
 *
 * Method: each target first gets PREWARM_S of unmeasured load (JIT, pools, heap); then each round
 * runs every target once, in an order rotated per round; a case = one
 * load process (bench/lib/load.mjs: autocannon closed loop, or the paced open loop) of
 * `--duration` s after 0.5 s of warm-up; CPU µs/request = utime + stime of the target's
 * process tree (/proc) over the load process's lifetime ÷ responses. Medians over rounds are
 * reported, with the cores busy machine-wide during the cases (/proc/stat; the machine is
 * shared) and /proc/loadavg before the run, and CPU ratios paired per round against `--ref`
 * (default nginx, else vmc): each round's ratio, median and middle half over the rounds.
 *
 * Syscalls (`--strace`): after the rounds, each proxy gets one more bounded load of
 * `--strace-seconds` (closed or paced, as `--mode`) with `strace -c -f` attached to its
 * process tree; calls per syscall ÷ responses. strace slows the traced process, so only the counts are meaningful.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ROOT,
  TMP,
  closedLoadArgs,
  pacedLoadArgs,
  fmt,
  freePort,
  machine,
  machineCoresBusy,
  machineTicks,
  median,
  parseFlags,
  processTree,
  progress,
  runChild,
  sleep,
  treeCpuMicros,
  waitHealth,
} from './lib/common.mjs';
import { NGINX_NOTE, findNginx, startNginx } from './lib/nginx.mjs';
import { benchChatConfig, chatBody } from './lib/workload.mjs';

const LOAD = fileURLToPath(new URL('./lib/load.mjs', import.meta.url));
const MOCK = fileURLToPath(new URL('./lib/mock-upstream.mjs', import.meta.url));
const NODE_FLOOR = fileURLToPath(new URL('./lib/node-floor.mjs', import.meta.url));

const flags = parseFlags(process.argv.slice(2));
const kinds = String(flags.kinds ?? 'json').split(',');
const mode = flags.mode === 'paced' ? 'paced' : 'closed';
const duration = Number(flags.duration ?? 4);
const rounds = Number(flags.rounds ?? 3);
/**
 * Unmeasured load per target before the rounds (JIT, pools, heap), s: a fresh `vmc serve`
 * reaches its steady CPU per request after ~2.5 s of closed-loop load (~50,000 requests) on
 * this machine; 4 s leaves a margin.
 */
const PREWARM_S = 4;
const connections = Number(flags.connections ?? 32);
const rate = Number(flags.rate ?? 500);
const wanted = String(flags.gateways ?? 'nginx,vmc').split(',');
const extra = [];
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--vmc') {
    const [name, dir] = process.argv[++i].split('=');
    extra.push({ name, root: resolve(dir), env: {} });
  } else if (process.argv[i] === '--variant') {
    // NAME:K=V[,K=V…] — this checkout with extra environment (e.g. VMC_UPSTREAM_CLIENT=undici)
    const [name, list] = process.argv[++i].split(':');
    const env = Object.fromEntries(list.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    extra.push({ name, root: ROOT, env });
  }
}
const dir = join(TMP, 'floor');
mkdirSync(dir, { recursive: true });

// ---- processes ----

function spawnJsonLine(cmd, args, opts) {
  const child = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'inherit'] });
  const first = new Promise((res, rej) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) res(JSON.parse(out.split('\n')[0]));
    });
    child.once('exit', (c) => rej(new Error(`${args.join(' ')} exited ${c}`)));
  });
  return { child, first };
}

/** SIGTERM, resolved once the process has exited. */
async function stopChild(child) {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

async function startVmc(name, root, mockPort, extraEnv = {}) {
  const { lowerTable } = await import(join(root, 'dist/compiler/lower.js'));
  const table = join(dir, `${name}.vmct`);
  writeFileSync(table, lowerTable(benchChatConfig(mockPort)));
  const port = await freePort();
  const child = spawn(process.execPath, [join(root, 'bin/vmc.js'), 'serve', '--table', table, '--port', String(port)], {
    cwd: root,
    env: { ...process.env, VMC_LOG: 'warn', VMC_BENCH_KEY: 'bench', VMC_ADMIN_TOKEN: '', ...extraEnv },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHealth(url);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  return { name, url, pid: child.pid, stop: () => stopChild(child) };
}

// ---- one case ----

/** bench/lib/load.mjs's arguments for this run's `--mode`. */
function modeLoadArgs(url, bodyPath, seconds, warmup) {
  return mode === 'closed'
    ? closedLoadArgs(url, bodyPath, seconds, connections, warmup)
    : pacedLoadArgs(url, bodyPath, seconds, rate, warmup);
}

async function runCase(target, bodyPath, seconds, warmup) {
  const pids = target.pid === null ? [] : processTree(target.pid);
  const cpu0 = treeCpuMicros(pids);
  const sys0 = treeCpuMicros(pids, 'system');
  const m0 = machineTicks();
  const t0 = performance.now();
  const r = await runChild(LOAD, modeLoadArgs(`${target.url}/v1/chat/completions`, bodyPath, seconds, warmup));
  const wall = performance.now() - t0;
  const cpu = treeCpuMicros(pids) - cpu0;
  const sys = treeCpuMicros(pids, 'system') - sys0;
  return {
    rps: r.rps,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.non2xx + r.timeouts,
    cpuPerReq: target.pid === null ? NaN : cpu / Math.max(1, r.answered),
    sysPerReq: target.pid === null ? NaN : sys / Math.max(1, r.answered),
    busy: machineCoresBusy(m0, machineTicks(), wall),
    answered: r.answered,
  };
}

// ---- strace ----

/** Parses `strace -c` output: { syscall: calls }. */
function parseStraceSummary(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?([a-z_0-9]+)\s*$/.exec(line);
    if (m && m[2] !== 'total') out[m[2]] = Number(m[1]);
  }
  return out;
}

async function straceCase(target, bodyPath, seconds) {
  const pids = processTree(target.pid);
  const file = join(dir, `strace-${target.name}-${bodyPath.endsWith('sse.json') ? 'sse' : 'json'}.txt`);
  const args = ['-c', '-f', '-o', file];
  for (const p of pids) args.push('-p', String(p));
  const st = spawn('strace', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  st.stderr.on('data', (d) => (err += d));
  await sleep(500); // attached
  const r = await runChild(LOAD, modeLoadArgs(`${target.url}/v1/chat/completions`, bodyPath, seconds, 0));
  st.kill('SIGINT');
  await new Promise((res) => st.once('exit', res));
  const calls = parseStraceSummary(readFileSync(file, 'utf8'));
  const n = Math.max(1, r.answered);
  const perReq = {};
  let total = 0;
  for (const [k, v] of Object.entries(calls)) {
    perReq[k] = v / n;
    total += v;
  }
  return { answered: r.answered, perReq, total: total / n, file, stderr: err.slice(-300) };
}

// ---- main ----

const loadavg = readFileSync('/proc/loadavg', 'utf8').trim();
progress(`floor: loadavg before the run ${loadavg}`);
const { child: mockChild, first: mockReady } = spawnJsonLine(process.execPath, [MOCK, '--port', '0'], { cwd: ROOT });
const mockPort = (await mockReady).port;
const direct = { name: 'direct', url: `http://127.0.0.1:${mockPort}`, pid: mockChild.pid, stop: async () => mockChild.kill('SIGTERM') };
const targets = [direct];
const stops = [];
try {
  if (wanted.includes('nginx')) {
    if (findNginx() === null) progress(`floor: ${NGINX_NOTE}`);
    else {
      const ng = await startNginx({ upstream: `127.0.0.1:${mockPort}`, dir: join(dir, 'nginx'), maxSeconds: 3600 });
      progress(`floor: ${ng.version} on ${ng.url}`);
      targets.push({ name: 'nginx', url: ng.url, pid: ng.pid, stop: ng.stop });
      stops.push(ng.stop);
    }
  }
  const add = (t) => {
    targets.push(t);
    stops.push(t.stop);
  };
  if (wanted.includes('vmc')) add(await startVmc('vmc', ROOT, mockPort));
  if (wanted.includes('node-floor')) {
    // the same platform parts with none of vmc's work (bench/lib/node-floor.mjs)
    const { child, first } = spawnJsonLine(process.execPath, [NODE_FLOOR, '--upstream', `127.0.0.1:${mockPort}`], { cwd: ROOT });
    const { port } = await first;
    add({
      name: 'node-floor',
      url: `http://127.0.0.1:${port}`,
      pid: child.pid,
      stop: () => stopChild(child),
    });
  }
  for (const e of extra) {
    if (!existsSync(join(e.root, 'dist'))) throw new Error(`${e.root}: no dist/`);
    add(await startVmc(e.name, e.root, mockPort, e.env));
  }

  const results = { machine: machine(), loadavg, mode, duration, rounds, connections, rate, prewarm: PREWARM_S, kinds: {} };
  for (const kind of kinds) {
    const bodyPath = join(dir, `body-${kind}.json`);
    writeFileSync(bodyPath, chatBody('bench-chat', 0, 2048, kind === 'sse'));
    for (const t of targets) await runCase(t, bodyPath, PREWARM_S, 0);
    const per = Object.fromEntries(targets.map((t) => [t.name, []]));
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < targets.length; k++) {
        const t = targets[(k + r) % targets.length];
        const c = await runCase(t, bodyPath, duration, 0.5);
        per[t.name].push(c);
        progress(
          `floor ${kind} round ${r + 1}/${rounds} ${t.name.padEnd(10)} ${fmt.int(c.rps).padStart(7)} req/s  ` +
            `p50 ${fmt.f3(c.p50)} p99 ${fmt.f3(c.p99)} ms  CPU ${fmt.f1(c.cpuPerReq)} (sys ${fmt.f1(c.sysPerReq)}) µs/req  busy ${fmt.f2(c.busy)}  errors ${c.errors}`,
        );
      }
    }
    const summary = {};
    for (const t of targets) {
      const cs = per[t.name];
      summary[t.name] = {
        rps: median(cs.map((c) => c.rps)),
        p50: median(cs.map((c) => c.p50)),
        p99: median(cs.map((c) => c.p99)),
        cpuPerReq: median(cs.map((c) => c.cpuPerReq)),
        sysPerReq: median(cs.map((c) => c.sysPerReq)),
        busy: median(cs.map((c) => c.busy)),
        errors: cs.reduce((a, c) => a + c.errors, 0),
        rounds: cs,
      };
    }
    // Paired ratios: each round's CPU per request over the reference's in the same round (the
    // targets of a round run back to back, so a busy spell of the machine hits both): median
    // and the range of the middle half. Steadier than a ratio of medians on a shared machine.
    const ref = typeof flags.ref === 'string' ? flags.ref : per.nginx ? 'nginx' : 'vmc';
    const paired = (name, over) => {
      const rs = per[name].map((c, i) => c.cpuPerReq / per[over][i].cpuPerReq).sort((a, b) => a - b);
      const q = (f) => rs[Math.min(rs.length - 1, Math.floor(f * rs.length))];
      return { ref: over, median: median(rs), q1: q(0.25), q3: q(0.75) };
    };
    for (const t of targets) {
      if (t.name === 'direct') continue;
      if (per[ref]) summary[t.name].paired = paired(t.name, ref);
      // what vmc adds to its platform's floor, paired the same way
      if (per['node-floor'] && t.name !== 'node-floor') summary[t.name].overFloor = paired(t.name, 'node-floor');
    }
    const strace = {};
    if (flags.strace) {
      for (const t of targets) {
        const s = await straceCase(t, bodyPath, Number(flags['strace-seconds'] ?? 3));
        strace[t.name] = s;
        progress(`floor strace ${kind} ${t.name}: ${fmt.f2(s.total)} syscalls/request over ${fmt.int(s.answered)} responses`);
      }
    }
    results.kinds[kind] = { summary, strace };
  }

  // ---- report ----
  const L = [];
  L.push(`machine: ${results.machine.cpu}, ${results.machine.cores} cores, ${results.machine.node}; loadavg before: ${loadavg}`);
  L.push(
    `${mode} loop${mode === 'closed' ? `, ${connections} connections` : `, ${rate} req/s`}, ${rounds} rounds × ${duration} s, medians`,
  );
  for (const [kind, { summary, strace }] of Object.entries(results.kinds)) {
    const d = summary.direct;
    const ng = summary.nginx;
    const refName = Object.values(summary).find((x) => x.paired)?.paired.ref ?? '—';
    const floor = summary['node-floor'] !== undefined;
    L.push(
      '',
      `${kind}:`,
      `| target | req/s | p50 ms | p99 ms | Δp99 vs direct | CPU µs/req | of it kernel | ÷ nginx CPU | req/s ÷ nginx | CPU ÷ ${refName}, paired per round (middle half) |${floor ? ' CPU ÷ node-floor, paired |' : ''} busy | errors |`,
    );
    L.push(`|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|${floor ? '---:|' : ''}---:|---:|`);
    for (const [name, s] of Object.entries(summary)) {
      L.push(
        `| ${name} | ${fmt.int(s.rps)} | ${fmt.f3(s.p50)} | ${fmt.f3(s.p99)} | ${name === 'direct' ? '—' : fmt.f3(s.p99 - d.p99)} | ${fmt.f1(s.cpuPerReq)} | ${fmt.f1(s.sysPerReq)} | ` +
          `${ng && name !== 'direct' ? fmt.f2(s.cpuPerReq / ng.cpuPerReq) : '—'} | ${ng && name !== 'direct' ? fmt.f2(s.rps / ng.rps) : '—'} | ` +
          `${fmt.paired(s.paired)} | ${floor ? `${fmt.paired(s.overFloor)} | ` : ''}${fmt.f2(s.busy)} | ${s.errors} |`,
      );
    }
    if (Object.keys(strace).length > 0) {
      const names = Object.keys(strace);
      const calls = [...new Set(names.flatMap((n) => Object.keys(strace[n].perReq)))];
      calls.sort(
        (a, b) => Math.max(...names.map((n) => strace[n].perReq[b] ?? 0)) - Math.max(...names.map((n) => strace[n].perReq[a] ?? 0)),
      );
      L.push(
        '',
        `syscalls per request (${kind}, strace -c -f):`,
        `| syscall | ${names.join(' | ')} |`,
        `|---|${names.map(() => '---:').join('|')}|`,
      );
      L.push(`| **total** | ${names.map((n) => fmt.f2(strace[n].total)).join(' | ')} |`);
      for (const c of calls) {
        if (Math.max(...names.map((n) => strace[n].perReq[c] ?? 0)) < 0.01) continue;
        L.push(`| ${c} | ${names.map((n) => fmt.f2(strace[n].perReq[c] ?? 0)).join(' | ')} |`);
      }
    }
  }
  const text = L.join('\n') + '\n';
  process.stdout.write(text);
  writeFileSync(join(dir, 'summary.md'), text);
  if (typeof flags.json === 'string') writeFileSync(flags.json, JSON.stringify(results, null, 2));
} finally {
  for (const s of stops) await s().catch(() => undefined);
  mockChild.kill('SIGTERM');
}
