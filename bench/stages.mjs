#!/usr/bin/env node
/**
 * Where the gateway's CPU goes per proxied request, by stage (issue 13): `perf record -g` of
 * `vmc serve` under a closed-loop load, every sample attributed to one stage of the request
 * path, in µs per request. Not part of `npm run bench`; a tool for runtime work (like
 * bench/profile.mjs, which uses V8's profiler and therefore cannot see the kernel, the uWS
 * native code or GC threads).
 *
 *   node bench/stages.mjs [--kind json|sse] [--duration 5] [--connections 32 | --rate N] [--root DIR] [--top 30]
 *                         [--detail STAGE,…]   (per stage: the functions its samples were billed by)
 *
 * Needs Linux `perf` (Debian: linux-perf) with permission to profile our own processes. The
 * gateway runs with `--perf-basic-prof-only-functions --interpreted-frames-native-stack`, so
 * JIT frames carry JS function names and files.
 *
 * Attribution: each sample's call chain is walked from the innermost frame outwards and the
 * first frame that names a stage decides; kernel frames are billed to the stage of the
 * code that made the system call (undici's writev → upstream write, uWS's send → response
 * write, libuv's read of the upstream socket → upstream parse, uWS's recv → receive), samples
 * of other threads (GC helpers, libuv pool) and of the garbage collector form their own
 * rows. µs per request = share of the samples × the process's CPU per request measured from
 * /proc over the same window.
 *
 * Stages: receive (uWS read, body reader, route dispatch) · scan (json-scan) · resolve (table
 * lookup, resolution, router) · engine (attempt loop, promises between stages) · upstream
 * write (request build, undici dispatch and writev) · upstream parse (socket read, llhttp,
 * undici callbacks) · response write (relay, headers, uWS respond and send) · metrics ·
 * logging · gc · event loop (epoll, timers, microtask plumbing) · other.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ROOT,
  TMP,
  closedLoadArgs,
  pacedLoadArgs,
  fmt,
  freePort,
  parseFlags,
  processTree,
  progress,
  runChild,
  sleep,
  treeCpuMicros,
  waitHealth,
} from './lib/common.mjs';
import { benchChatConfig, chatBody } from './lib/workload.mjs';

const LOAD = fileURLToPath(new URL('./lib/load.mjs', import.meta.url));
const MOCK = fileURLToPath(new URL('./lib/mock-upstream.mjs', import.meta.url));

export const STAGES = [
  'receive',
  'scan',
  'resolve',
  'engine',
  'upstream write',
  'upstream parse',
  'response write',
  'metrics',
  'logging',
  'gc',
  'event loop',
  'other threads',
  'other',
];

/** Stage of one JS frame (`file`, `fn`), or null when the frame does not decide. */
function jsStage(file, fn) {
  if (file.includes('/runtime/json-scan.')) return 'scan';
  if (file.includes('/runtime/table/') || file.includes('/runtime/routing/')) return 'resolve';
  if (file.includes('/runtime/metrics.')) return 'metrics';
  if (file.includes('/runtime/log.')) return 'logging';
  if (file.includes('/runtime/relay.') || file.includes('/runtime/http/respond.')) return 'response write';
  if (file.includes('/runtime/http1/')) return /parse|onRead|onData|feed|#read|consume/i.test(fn) ? 'upstream parse' : 'upstream write';
  if (file.includes('/runtime/upstream.')) {
    if (/onHeaders|onData|onComplete|onError|firstByte|#wake|onBody|onEnd/.test(fn)) return 'upstream parse';
    if (/start|dispatch|send|onConnect|onRequestSent/.test(fn)) return 'upstream write';
    return 'engine';
  }
  if (file.includes('/runtime/http/')) {
    if (/respond|writeHead|flushHead|corked|write|end|tryEnd|Writable|statusLine/i.test(fn)) return 'response write';
    return 'receive';
  }
  if (file.includes('/runtime/server.')) return 'receive';
  if (file.includes('/runtime/engine.') || file.includes('/runtime/target.') || file.includes('/runtime/generation.')) return 'engine';
  if (file.includes('/runtime/')) return 'other';
  if (file.includes('undici/')) {
    if (/wasm_on|onHeadersComplete|onMessage|onBody|onData|onHttpSocket|readMore|execute|onStatus|onUpgrade|onHeaders|onComplete/.test(fn))
      return 'upstream parse';
    if (file.includes('/timers')) return 'upstream write';
    return 'upstream write';
  }
  if (fn.startsWith('wasm-function') || file.startsWith('wasm')) return 'upstream parse';
  return null;
}

/** The frame that decided the last classify() (for --detail). */
let decidedBy = '';

/** Classifies one sample: frames innermost first, each `{ sym, dso }`. */
function classify(frames, mainThread) {
  decidedBy = frames[0]?.sym ?? '';
  if (!mainThread) return 'other threads';
  let syscallFrom = null; // the user-space function that entered the kernel
  for (let i = 0; i < frames.length; i++) {
    const { sym, dso } = frames[i];
    if (dso.includes('kernel')) continue;
    if (syscallFrom === null && i > 0 && frames[i - 1].dso.includes('kernel')) syscallFrom = sym;
    if (/Scavenge|MarkCompact|Heap::Collect|GCTracer|Heap::PerformGarbageCollection|MinorMC|Sweeper/.test(sym)) return 'gc';
    if (sym.startsWith('JS:') || sym.startsWith('Eval:')) {
      const m = /^(?:JS|Eval):[*~^]?(\S*)\s+(\S+?)(?::\d+:\d+)?$/.exec(sym);
      const fn = m ? m[1] : sym;
      const file = m ? m[2] : '';
      if (fn.startsWith('wasm-function')) return 'upstream parse';
      const st = jsStage(file, fn);
      if (st !== null) {
        decidedBy = `${fn} ${file.replace(/^.*\/(dist|node_modules)\//, '$1/')}`;
        return st;
      }
      continue; // node internals, builtins: the caller decides
    }
    if (dso.includes('uws_')) {
      // uWS native code with no JS frame inside: its event loop reading requests / sending
      if (/send|write|cork|end|drain/i.test(sym) || (syscallFrom !== null && /send|write/.test(syscallFrom))) return 'response write';
      if (/onData|read|recv|Parser|consume/i.test(sym)) return 'receive';
    }
    if (/uv__read\b|uv__stream_io/.test(sym)) return 'upstream parse';
    if (/uv__io_poll|epoll|uv__run_timers|uv_run|RunTimers|CheckImmediate/.test(sym)) return 'event loop';
    if (/PerformCheckpoint|RunMicrotasks|MicrotaskQueue/.test(sym)) return 'event loop';
  }
  if (syscallFrom !== null) {
    // uWS has no frame pointers: its system calls end the chain at libc
    if (/epoll/.test(syscallFrom)) return 'event loop';
    if (/send/.test(syscallFrom)) return 'response write';
    if (/recv/.test(syscallFrom)) return 'receive';
    if (/writev/.test(syscallFrom)) return 'upstream write';
    if (/read/.test(syscallFrom)) return 'upstream parse';
  }
  return 'other';
}

/** Parses `perf script` text: { stage → samples, fn → samples (innermost JS / native symbol) }. */
export function attribute(text, mainTid) {
  const stages = Object.fromEntries(STAGES.map((s) => [s, 0]));
  const kernel = Object.fromEntries(STAGES.map((s) => [s, 0]));
  const leaves = new Map();
  const deciders = new Map(); // stage → Map(deciding JS function → samples)
  let total = 0;
  for (const block of text.split('\n\n')) {
    const lines = block.split('\n').filter((l) => l.length > 0);
    if (lines.length === 0) continue;
    const head = /^\S+\s+(\d+)\s/.exec(lines[0]);
    if (!head) continue;
    const tid = Number(head[1]);
    const frames = [];
    for (let i = 1; i < lines.length; i++) {
      const m = /^\s*[0-9a-f]+\s+(.*?)(?:\+0x[0-9a-f]+)?\s+\((.*)\)\s*$/.exec(lines[i]);
      if (m) frames.push({ sym: m[1], dso: m[2] });
    }
    if (frames.length === 0) continue;
    total++;
    const st = classify(frames, tid === mainTid);
    stages[st]++;
    let d = deciders.get(st);
    if (d === undefined) deciders.set(st, (d = new Map()));
    d.set(decidedBy, (d.get(decidedBy) ?? 0) + 1);
    if (frames[0].dso.includes('kernel')) kernel[st]++;
    const leaf = frames[0].dso.includes('kernel') ? `[k] ${frames[0].sym}` : frames[0].sym;
    leaves.set(leaf, (leaves.get(leaf) ?? 0) + 1);
  }
  return { stages, kernel, leaves, deciders, total };
}

async function main() {
  const flags = parseFlags(process.argv.slice(2));
  const kind = flags.kind === 'sse' ? 'sse' : 'json';
  const duration = Number(flags.duration ?? 5);
  const connections = Number(flags.connections ?? 32);
  // --rate N: an open loop at N req/s instead of the closed loop (where the low-load costs go)
  const rate = flags.rate === undefined ? null : Number(flags.rate);
  const root = resolve(typeof flags.root === 'string' ? flags.root : ROOT);
  const TOP = Number(flags.top ?? 30);
  const dir = join(TMP, 'stages');
  mkdirSync(dir, { recursive: true });
  if (spawnSync('perf', ['--version']).status !== 0) throw new Error('perf not found (Debian: apt-get install linux-perf)');

  const mock = spawn(process.execPath, [MOCK, '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  process.once('exit', () => mock.kill('SIGKILL')); // also when a step below throws before the try
  const mockPort = await new Promise((res) => {
    let out = '';
    mock.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) res(JSON.parse(out.split('\n')[0]).port);
    });
  });
  const { lowerTable } = await import(join(root, 'dist/compiler/lower.js'));
  const table = join(dir, 'table.vmct');
  writeFileSync(table, lowerTable(benchChatConfig(mockPort)));
  const bodyPath = join(dir, `body-${kind}.json`);
  writeFileSync(bodyPath, chatBody('bench-chat', 0, 2048, kind === 'sse'));
  const port = await freePort();
  const gw = spawn(
    process.execPath,
    [
      '--perf-basic-prof-only-functions',
      '--interpreted-frames-native-stack',
      join(root, 'bin/vmc.js'),
      'serve',
      '--table',
      table,
      '--port',
      String(port),
    ],
    { cwd: root, env: { ...process.env, VMC_LOG: 'warn', VMC_BENCH_KEY: 'bench', VMC_ADMIN_TOKEN: '' }, stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHealth(url, 200);
    const target = `${url}/v1/chat/completions`;
    const loadArgs = (d) => (rate === null ? closedLoadArgs(target, bodyPath, d, connections) : pacedLoadArgs(target, bodyPath, d, rate));
    progress('stages: prewarming 3 s');
    await runChild(LOAD, loadArgs(3));
    const data = join(dir, 'perf.data');
    const pids = processTree(gw.pid);
    const cpu0 = treeCpuMicros(pids);
    const perf = spawn('perf', ['record', '-F', '1999', '-g', '-p', String(gw.pid), '-o', data], { stdio: 'ignore' });
    await sleep(300);
    const r = await runChild(LOAD, loadArgs(duration));
    perf.kill('SIGINT');
    await new Promise((res) => perf.once('exit', res));
    const cpu = treeCpuMicros(pids) - cpu0;
    const perReq = cpu / Math.max(1, r.answered);
    progress(`stages: ${fmt.int(r.rps)} req/s, ${fmt.f1(perReq)} µs CPU per request (/proc)`);
    const script = spawnSync('perf', ['script', '-i', data, '-F', 'comm,tid,ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1 << 30 });
    const { stages, kernel, leaves, deciders, total } = attribute(script.stdout, gw.pid);
    const L = [];
    L.push(
      `vmc ${kind}, ${rate === null ? `closed loop ${connections} connections` : `open loop ${rate} req/s`}, ${fmt.int(r.rps)} req/s, ${fmt.f1(perReq)} µs CPU/request; ${fmt.int(total)} samples`,
    );
    L.push('', '| stage | µs/request | of it in the kernel | share |', '|---|---:|---:|---:|');
    for (const s of STAGES)
      L.push(
        `| ${s} | ${fmt.f1((stages[s] / total) * perReq)} | ${fmt.f1((kernel[s] / total) * perReq)} | ${fmt.f1((100 * stages[s]) / total)} % |`,
      );
    const k = Object.values(kernel).reduce((a, b) => a + b, 0);
    L.push(`| **total** | ${fmt.f1(perReq)} | ${fmt.f1((k / total) * perReq)} | 100 % |`);
    L.push('', `top ${TOP} leaf symbols (µs/request):`);
    for (const [k, v] of [...leaves].sort((a, b) => b[1] - a[1]).slice(0, TOP))
      L.push(`  ${fmt.f2((v / total) * perReq).padStart(7)}  ${k}`);
    if (typeof flags.detail === 'string') {
      for (const st of flags.detail.split(',')) {
        L.push('', `${st}: the JS function (or native frame) each sample was billed by (µs/request):`);
        for (const [k, v] of [...(deciders.get(st) ?? new Map())].sort((a, b) => b[1] - a[1]).slice(0, TOP))
          L.push(`  ${fmt.f2((v / total) * perReq).padStart(7)}  ${k}`);
      }
    }
    const text = L.join('\n') + '\n';
    writeFileSync(join(dir, `stages-${kind}.md`), text);
    process.stdout.write(text);
    if (typeof flags.json === 'string')
      writeFileSync(flags.json, JSON.stringify({ kind, rps: r.rps, perReq, stages, kernel, total }, null, 2));
  } finally {
    gw.kill('SIGTERM');
    mock.kill('SIGTERM');
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
