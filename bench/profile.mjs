#!/usr/bin/env node
/**
 * Where does the gateway's CPU go per proxied request? Not part of `npm run bench`; a tool
 * for runtime work. Starts the mock upstream and `vmc serve --workers 1` under
 * `node --cpu-prof`, prewarms it, drives a closed-loop load for `--duration` seconds, stops
 * the gateway and attributes the profile samples taken inside the measured window (sample
 * timestamps and process.hrtime share CLOCK_MONOTONIC) to files and functions, in µs of
 * main-thread CPU per request.
 *
 *   node bench/profile.mjs [--kind json|sse] [--duration 5] [--connections 32] [--top 25]
 *
 * Note: V8 bills time spent in native code (uWS, syscalls) to the JS function that called
 * it, so e.g. the self time of the uWS adapter's `respond` includes the send(2) of the
 * response. /proc utime vs stime (bench/proxy.mjs) gives the user/kernel split.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, TMP, closedLoadArgs, fmt, parseFlags, progress, runChild, waitHealth } from './lib/common.mjs';
import { benchChatConfig, chatBody } from './lib/workload.mjs';

const LOAD = fileURLToPath(new URL('./lib/load.mjs', import.meta.url));
const MOCK = fileURLToPath(new URL('./lib/mock-upstream.mjs', import.meta.url));

const flags = parseFlags(process.argv.slice(2));
const kind = flags.kind === 'sse' ? 'sse' : 'json';
const duration = Number(flags.duration ?? 5);
const connections = Number(flags.connections ?? 32);
const TOP = Number(flags.top ?? 25);
const dir = join(TMP, 'profile');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

// mock upstream
const mock = spawn(process.execPath, [MOCK, '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
const mockPort = await new Promise((resolve) => {
  let out = '';
  mock.stdout.on('data', (d) => {
    out += d;
    if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]).port);
  });
});

// table + body
const { lowerTable } = await import('../dist/compiler/lower.js');
const tablePath = join(dir, 'table.vmct');
writeFileSync(tablePath, lowerTable(benchChatConfig(mockPort)));
const bodyPath = join(dir, `body-${kind}.json`);
writeFileSync(bodyPath, chatBody('bench-chat', 0, 2048, kind === 'sse'));

// gateway under the profiler
const port = 20_000 + Math.floor(Math.random() * 20_000);
const gw = spawn(
  process.execPath,
  ['--cpu-prof', `--cpu-prof-dir=${dir}`, 'bin/vmc.js', 'serve', '--table', tablePath, '--port', String(port), '--workers', '1'],
  {
    cwd: ROOT,
    env: { ...process.env, VMC_LOG: 'warn', VMC_BENCH_KEY: 'bench' },
    stdio: 'ignore',
  },
);
const url = `http://127.0.0.1:${port}/v1/chat/completions`;
await waitHealth(`http://127.0.0.1:${port}`, 200);
const loadArgs = (d) => closedLoadArgs(url, bodyPath, d, connections);
progress('profile: prewarming 3 s');
await runChild(LOAD, loadArgs(3));
const from = Number(process.hrtime.bigint() / 1000n);
const r = await runChild(LOAD, loadArgs(duration));
const to = Number(process.hrtime.bigint() / 1000n);
progress(`profile: ${fmt.int(r.rps)} req/s, ${fmt.int(r.answered)} responses in the window`);
gw.kill('SIGTERM');
await new Promise((res) => gw.once('exit', res));
mock.kill('SIGTERM');

// attribute samples inside [from, to]
const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
const prof = JSON.parse(readFileSync(join(dir, file), 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
let t = prof.startTime;
const selfUs = new Map();
const fileUs = new Map();
let idle = 0;
let busy = 0;
const where = (n) => n.callFrame.url.replace(/^file:\/\/.*?\/(dist|node_modules)\//, '$1/');
for (let i = 0; i < prof.samples.length; i++) {
  const dt = prof.timeDeltas[i];
  t += dt;
  if (t < from || t > to) continue;
  const n = byId.get(prof.samples[i]);
  const name = n.callFrame.functionName || '(anonymous)';
  if (name === '(idle)') {
    idle += dt;
    continue;
  }
  busy += dt;
  const key = `${name}  ${where(n)}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
  selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
  const group =
    n.callFrame.url === ''
      ? name.startsWith('(')
        ? name
        : '(native)'
      : where(n).replace(/^(node_modules\/[^/]+|node:[^/]+|dist\/runtime(\/[^/]+)?).*$/, '$1');
  fileUs.set(group, (fileUs.get(group) ?? 0) + dt);
}
const per = (us) => us / Math.max(1, r.answered);
const lines = [];
lines.push(
  `gateway main thread, ${kind}, closed loop ${connections} connections, ${fmt.int(r.rps)} req/s: ${fmt.f1(per(busy))} µs busy + ${fmt.f1(per(idle))} µs idle per request`,
);
lines.push('', 'by file (self time, µs/request):');
for (const [k, v] of [...fileUs].sort((a, b) => b[1] - a[1])) lines.push(`  ${fmt.f2(per(v)).padStart(8)}  ${k}`);
lines.push('', `top ${TOP} functions (self time, µs/request):`);
for (const [k, v] of [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, TOP)) lines.push(`  ${fmt.f2(per(v)).padStart(8)}  ${k}`);
const text = lines.join('\n') + '\n';
writeFileSync(join(dir, `summary-${kind}.txt`), text);
process.stdout.write(text);
