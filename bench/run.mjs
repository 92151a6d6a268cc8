#!/usr/bin/env node
/**
 * `npm run bench` — every benchmark of SPEC §7 in one run, then bench/RESULTS.md.
 *
 *   npm run bench [-- --quick] [-- --only resolve|proxy|floor|routing|compile[,…]] [-- --render]
 *
 * 1. builds dist/ when any source is newer than it (the benchmarks run the built code);
 * 2. calibrates the machine (byte-loop and syscall cost) and samples its background load;
 * 3. runs bench/resolve.mjs, bench/proxy.mjs, bench/floor.mjs (vmc against nginx:
 *    bench/lib/floor-part.mjs), the routing scenarios and bench/compile.mjs (each case in a
 *    fresh process; a progress line per case with the elapsed time);
 * 4. stores the raw results in bench/results.json (per part: a part not run this time keeps
 *    its previous results, with their own date) and renders bench/RESULTS.md and the
 *    latency chart bench/latency.svg from it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, fmt, machine, machineCoresBusy, machineTicks, parseFlags, progress, runChild } from './lib/common.mjs';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const RESULTS_JSON = join(HERE, 'results.json');
const RESULTS_MD = join(HERE, 'RESULTS.md');
const CHART = join(HERE, 'latency.svg');
const PARTS = ['resolve', 'proxy', 'floor', 'routing', 'compile'];

function newestMtime(dir, exts) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const name of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, name.name);
    if (name.isDirectory()) newest = Math.max(newest, newestMtime(p, exts));
    else if (exts.some((e) => name.name.endsWith(e))) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function ensureBuilt() {
  const src = Math.max(
    ...['compiler', 'runtime', 'bin', 'schemas', 'bench/sim', 'bench/harness'].map((d) => newestMtime(join(ROOT, d), ['.ts', '.json'])),
    statSync(join(ROOT, 'tsconfig.build.json')).mtimeMs,
  );
  const out = newestMtime(join(ROOT, 'dist'), ['.js']);
  if (out >= src && existsSync(join(ROOT, 'dist/runtime/routing/router.js'))) {
    progress('dist/ is up to date');
    return;
  }
  progress('dist/ is stale: npm run build …');
  const r = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) progress(`build reported errors (exit ${r.status}); benchmarking what it emitted`);
}

const flags = parseFlags(process.argv.slice(2));
const quick = Boolean(flags.quick);
// --render: re-render RESULTS.md and the chart from bench/results.json without running anything
const only = flags.render ? [] : typeof flags.only === 'string' ? flags.only.split(',') : PARTS;
for (const p of only) if (!PARTS.includes(p)) throw new Error(`--only: unknown part ${p} (${PARTS.join(', ')})`);

const t0 = performance.now();
if (only.length > 0) ensureBuilt();
const { runResolve, resolveMarkdown, resolveGoals } = await import('./resolve.mjs');
const { runProxy, proxyMarkdown, proxyGoals, proxyCases, PORTKEY_INSTALL } = await import('./proxy.mjs');
const { runRouting, routingGoals, routingSection } = await import('./lib/routing-part.mjs');
const { runFloor, floorGoals, floorMarkdown } = await import('./lib/floor-part.mjs');
const { runCompile, compileMarkdown } = await import('./compile.mjs');
const { latencyChartSvg } = await import('./lib/chart.mjs');

let env = null;
if (only.length > 0) {
  const m0 = machineTicks();
  await new Promise((r) => setTimeout(r, 1000));
  const background = machineCoresBusy(m0, machineTicks(), 1000);
  const calibration = await runChild(join(HERE, 'lib/calibrate.mjs'), []);
  env = { ...machine(), background, calibration, quick };
  progress(
    `machine: ${env.cpu}, ${env.cores} cores, Node ${env.node}; background load ${fmt.f2(background)} cores busy; ` +
      `byte loop ${fmt.f2(calibration.byteLoopNsPerByte)} ns/byte, write(2) ${fmt.int(calibration.writeSyscallNs)} ns`,
  );
}

const results = existsSync(RESULTS_JSON) ? JSON.parse(readFileSync(RESULTS_JSON, 'utf8')) : {};
for (const part of only) {
  const started = performance.now();
  progress(`── ${part} ──`);
  let res;
  if (part === 'resolve') res = await runResolve({ quick });
  else if (part === 'proxy') res = await runProxy({ quick });
  else if (part === 'floor') res = await runFloor({ quick });
  else if (part === 'routing') res = await runRouting({ quick });
  else res = await runCompile({ quick });
  results[part] = { env, seconds: (performance.now() - started) / 1000, ...res };
  progress(`── ${part} done in ${fmt.f1(results[part].seconds)} s ──`);
  writeFileSync(RESULTS_JSON, JSON.stringify(results, null, 1) + '\n');
}

if (only.length > 0) {
  results.lastRun = { parts: only, quick, seconds: (performance.now() - t0) / 1000, date: new Date().toISOString() };
  writeFileSync(RESULTS_JSON, JSON.stringify(results, null, 1) + '\n');
}
if (results.proxy?.scenarios) writeFileSync(CHART, await latencyChartSvg(proxyCases(results.proxy)));
writeFileSync(RESULTS_MD, renderMarkdown(results));
progress(
  `wrote bench/RESULTS.md${results.proxy ? ', bench/latency.svg' : ''} and bench/results.json in ${fmt.f1((performance.now() - t0) / 1000)} s`,
);

function envLine(e) {
  return (
    `${e.date.slice(0, 16).replace('T', ' ')} UTC · ${e.cpu}, ${e.cores} cores · Node ${e.node} (${e.platform}) · ` +
    `background load before the run ${fmt.f2(e.background)} cores busy · byte loop ${fmt.f2(e.calibration.byteLoopNsPerByte)} ns/byte, ` +
    `write(2) ${fmt.int(e.calibration.writeSyscallNs)} ns${e.quick ? ' · `--quick`' : ''}`
  );
}

function goalRows(part, goals) {
  return goals.map((g) => `| ${part} | ${g.goal} | ${g.value} | ${g.met === null ? 'n/a' : g.met ? '**met**' : '**not met**'} |`);
}

function renderMarkdown(r) {
  const L = [];
  L.push('# vmc benchmark results', '');
  L.push(
    '<!-- auto-generated by `npm run bench` (bench/run.mjs) from bench/results.json — do not edit; notes live in bench/run.mjs -->',
    '',
    'Produced by `npm run bench` (`-- --quick` for a short run, `-- --only resolve|proxy|floor|routing|compile`). Every case runs in a fresh process and is compared with its ' +
      'baseline measured in the same run. The machine is a small shared VM: compare ratios, not absolute numbers, with other machines.',
    '',
  );
  const totals = PARTS.filter((p) => r[p])
    .map((p) => `${p} ${fmt.f1(r[p].seconds)} s`)
    .join(', ');
  L.push(`Durations of the parts in their last runs: ${totals}.`);
  if (r.lastRun) {
    L.push(
      `Last invocation: \`npm run bench${r.lastRun.quick || r.lastRun.parts.length < PARTS.length ? ` --${r.lastRun.quick ? ' --quick' : ''}${r.lastRun.parts.length < PARTS.length ? ` --only ${r.lastRun.parts.join(',')}` : ''}` : ''}\` ` +
        `took ${fmt.f1(r.lastRun.seconds)} s (build check, calibration and report included).`,
    );
  }
  L.push('');

  L.push('## Goals', '', '| part | goal | measured | status |', '|---|---|---|---|');
  if (r.resolve) L.push(...goalRows('resolve', resolveGoals(r.resolve.rows)));
  if (r.proxy?.scenarios) L.push(...goalRows('proxy', proxyGoals(r.proxy)));
  if (r.floor) L.push(...goalRows('floor', floorGoals(r.floor)));
  if (r.routing) L.push(...goalRows('routing', routingGoals(r.routing)));
  L.push('');
  L.push(
    '### Issue 13: what limits its goals, what it took',
    '',
    'Measured on this machine on 2026-11-28 and 29 (the commands are in "Side measurements" below); the numbers of the last run are in the table above.',
    '',
    "- **Gateway CPU per request ≤ 1.5× nginx: met in the last run (JSON 1.28×, SSE 1.32×), with a margin this shared VM can take away.** The last official run (2026-11-29 03:57, after the inlining budgets below) read JSON 1.28× (middle half 1.21–1.33) and SSE 1.32× (1.27–1.42) on a quiet machine (direct 11–12 µs per request). The two before it, without the inlining budgets and on a busier machine, read 1.49× / 1.46× (02:36, met by a hair) and 1.52× / 1.55× (00:24, not met). One round's ratio scatters with an SD of ~0.25 on this VM, and between runs the median moves by more than a tenth (earlier official runs: JSON 1.31×, 1.56×, 1.38×, 1.34×, SSE 1.39×, 1.50×, 1.35×, 1.53× with 6 rounds; now 12 rounds and 4 s of unmeasured prewarm per target). **Where the gap to nginx comes from**, measured in the same runs: node-floor (bench/lib/node-floor.mjs, a proxy on the same platform parts as vmc, uWS.js in and `node:net` out, doing nothing else) costs 1.05× (JSON) and 1.09× (SSE) of nginx in the last run (1.17× and 1.14× in the busier one of 02:36), and vmc 1.17× and 1.21× of node-floor (1.26× in both at 02:36). In the 02:36 run, of vmc's 42.4 µs per JSON request about 4.6 were the platform above nginx (C++↔JS crossings, V8 API work, Node's `net.Socket` write path) and about 9.7 vmc's own work; kernel time is the same for all three or below nginx's (vmc 4.4 syscalls per request, node-floor 4.35, nginx 7.3). A `perf` diff of the two (`node bench/stages.mjs --root <dir>`) bills vmc's own work to its JavaScript (~4.5 µs: the validating scan of the 2 KB body ~1.3, the upstream head parse ~0.7, resolution ~0.5, the relay ~0.3, building the upstream request ~0.3, the rest in pieces under 0.3) and to what that code asks of V8 (strings, typed arrays, property loads, ~3 µs). No single piece is 3 % of the total: common upstream header names and values as constants (no strings per header line) measured 0.99× / 1.00× in 12 paired rounds and were not kept. The changes that moved the CPU: larger TurboFan inlining budgets in a serving process (`runtime/http/listen.ts`; A/B JSON 0.91–0.99× in four runs, SSE 0.96–1.00× in three); `x-forwarded-for` became opt-in (`vmc serve --forwarded-for`; one `getpeername` and its formatting less per request: 5.4 → 4.3–4.5 syscalls, A/B 0.90× JSON, 0.96× SSE); per-request classes keep their newest instance (`runtime/shapes.ts`), so V8's memory reducer no longer deoptimizes ~30 hot functions between bursts; and the common first attempt runs without promises (`Engine#startFirst`: no async frame, promise or microtask per request; 6.4 → 5.0 KB allocated per request; `stages.mjs` engine stage 4.3 → 2.5 µs, event loop 3.0 → 1.7 µs; A/B 1.01× JSON, 0.96× SSE in 14 rounds). At 500 req/s vmc spends ~1.7–1.9× nginx's CPU per request and node-floor ~1.3–1.5×: per wake-up costs (2.9 event-loop polls per request to nginx's 2.0, and cold caches: `node bench/stages.mjs --rate 500`).",
    "- **Paced 500 req/s Δp99 ≤ nginx's + 0.5 ms: met in the last run** (JSON vmc +0.08 ms, nginx +0.54 ms; SSE +0.57 and +0.62 ms). The run before it missed it for SSE (vmc +1.22 ms, nginx +0.66 ms) while node-floor read +1.21 ms in the same rounds and direct's own p99 ranged 2.2–8.6 ms over them: spikes of the machine, which one p99 of ~2,500 requests per round does not average out.",
    '- **lookup+pick ≤ 50 ns at 100,000 virtual models: met since this stop (43 ns, from 70).** What it took, each measured in "Side measurements": ' +
      "the hot index's layout constants as a `const enum` (V8 loaded and hole-checked every imported constant), small pools' try orders precomputed " +
      "per pick (four stores), `Router#plan` back under TurboFan's 460-byte inlining limit (checked by test/bench/inlining.test.ts), the name read a " +
      "word at a time from the scan's aligned copy of the body, a 3-op final mix with the slot index from the hash's high bits, and a lookup case " +
      'whose input is hot as in the gateway. What remains at 100,000 vms is ~7 ns of cache and TLB misses over the key slots and the 128-byte records ' +
      '(vs 10 vms) and ~35 ns of hashing, probing, comparing and planning.',
    "- **≥ 10× the baseline (issue 4 goals).** The baseline's `Map.get` on a string V8 already hashed costs 35–150 ns; vmc's lookup+pick would have " +
      'to take 4–15 ns. The full body → target step is 6–7× faster than `JSON.parse` + `Map.get`, most of it the validating scan of the 2 KB body.',
    '',
  );

  if (r.resolve) {
    L.push('## Resolution microbenchmark (`bench/resolve.mjs`)', '', `Run: ${envLine(r.resolve.env)}.`, '');
    L.push(
      "`lookup+pick` = from the name's bytes in the request body to a planned target: `RoutingTable.lookupWords` on the words of the body's aligned copy " +
        'that the scan makes (each name read from a 16-word window at its alignment, all windows in one array: hot, as in the gateway, where the scan wrote ' +
        "the copy just before) + `Router.plan` into a preallocated Int32Array (vmc), versus `Map.get(body.toString('utf8', start, end))` + `Math.random()` " +
        "over the pool's weights (baseline from bytes). The `lookupPickColdInput` part reads the names from the 1,024 bodies' own copies instead. " +
        'The "string given" baseline skips the decode and reuses its strings, so V8 has their hash cached: the floor a JS Map can reach. ' +
        '`full` = the whole body → target step: `scanJsonBody` (validates the entire 2 KB body, finds `model`) + lookup + plan, versus ' +
        '`JSON.parse(body.toString())` + `Map.get` + `Math.random()` (the baseline of SPEC §7). Tables of N weighted virtual models (pools of 2–4 targets) ' +
        'lowered in memory; 1024 pre-built 2 KB chat bodies naming random existing models, rotated.',
      '',
      resolveMarkdown(r.resolve),
      '',
    );
  }
  if (r.proxy?.scenarios) {
    L.push(
      '## Proxy overhead (`bench/proxy.mjs`: scenarios `bench/scenarios/proxy-*.yaml` through `vmc bench`)',
      '',
      `Run: ${envLine(r.proxy.env)}.`,
      '',
    );
    if (!r.proxy.havePortkey) L.push(`Peer gateway not installed in this run (\`${PORTKEY_INSTALL}\` adds the column).`, '');
    L.push(proxyMarkdown(r.proxy), '', '![latency percentiles per target](latency.svg)', '');
  }
  if (r.floor) {
    L.push('## Against the floor: nginx (`bench/floor.mjs`)', '', `Run: ${envLine(r.floor.env)}.`, '', floorMarkdown(r.floor), '');
  }
  if (r.routing) L.push(routingSection(r.routing, envLine(r.routing.env)));
  if (r.compile) {
    L.push('## Compile scaling (`bench/compile.mjs`)', '', `Run: ${envLine(r.compile.env)}.`, '', compileMarkdown(r.compile), '');
  }
  L.push(
    '## Side measurements (by hand, not re-run by `npm run bench`)',
    '',
    'Taken on this machine on 2026-11-28 while working on issue 13, with the commands given; kept here because the runs above do not repeat them.',
    '',
    '| what | command | result |',
    '|---|---|---|',
    '| idle gateway CPU, event-loop sampler at 10 ms vs 20 ms (steady state after 20 s, all threads, /proc/PID/task/*/schedstat over 20 s) | ' +
      '`vmc serve` on the demo table, no traffic | 7.7 → 6.5 ms CPU per second (V8 background threads account for ~3.7 ms/s in a separate per-thread reading) |',
    '| skipping the per-request client address (`getRemoteAddressAsText`, for `x-forwarded-for`) | ' +
      '`node bench/floor.mjs --kinds json --rounds 5 --duration 3 --gateways vmc --variant nopeer:…` (a temporary switch, not kept) | ' +
      'CPU/request 0.97× of vmc (middle half 0.90–1.00), ~1.4 µs: within noise, not kept |',
    '| CPU per request by stage, twice on the same build | `node bench/stages.mjs --duration 5` | 43.9 and 37.6 µs/request total (kernel 22.5 and 17.4): run-to-run noise as large as any lever left |',
    '| vmc vs nginx, quick re-run | `node bench/floor.mjs --kinds json,sse --rounds 5 --duration 3` | JSON 48.2 vs 27.4 µs (1.76×, paired 1.84×), SSE 43.1 vs 23.7 µs (1.82×, paired 1.70×) |',
    '| JSON scan: first special byte of a word by `Math.clz32`, two words per iteration (commit d08e7ec) | `scanJsonBody` part of `node bench/resolve.mjs` | ' +
      '2 KB chat body 1,584–1,689 → 1,217–1,223 ns (a 68-byte body 168 → 131 ns in a standalone loop) |',
    '| the same change, gateway CPU (quiet machine) | `node bench/floor.mjs --kinds json --rounds 6 --duration 3 --vmc before=<worktree of b6faba2>` | ' +
      'vmc 31.5 vs 32.2 µs; paired vs nginx 1.50× vs 1.54× |',
    "| upstream request buffers from 64 KiB slabs instead of Node's 8 KiB pool (commit 6c64798) | " +
      '`node bench/floor.mjs --kinds json --rounds 6 --duration 3 --gateways vmc --vmc base=<worktree of d08e7ec> --ref base` | 0.97× of base (middle half 0.93–0.99), 32.4 → 31.5 µs |',
    '| inline plan without branches on the random draw (commits cc6746f, 99caa0c) | `plan` part of `node bench/resolve.mjs` | 26–34 → 21.5–22.1 ns |',
    '| allocation of lookup+pick, 1,000 vms, before the hash went through a typed array (commit b3d592c) | ' +
      "the 1,000-vm `lookup` case of `node bench/resolve.mjs`, repeated | ~7.8 B/call in about one run in four (7 of 35, with and without this round's router changes; a uint32 hash ≥ 2^30 boxed when V8 did not inline " +
      'packKey); 0 of 10 after; with `--no-turbo-inlining` (test/bench/alloc-no-inlining.mjs): lookup 7.0 → 0.04, plan 16.0 → 0.001 B/call |',
    "| three small levers together (not kept): the attempt loop and the request's finish in one async function (one promise and microtask less), " +
      "common upstream response header names interned in the lean client's parser, uWS's lower-case method mapped to a constant | " +
      '`node bench/floor.mjs --kinds json,sse --rounds 8 --duration 3 --gateways vmc --vmc base=<worktree of 8f4ee14> --ref base` | ' +
      'JSON 1.00× of base (middle half 0.95–1.04), SSE 0.99× (0.96–1.03): no measurable win |',
    '| all string response headers in one uWS `writeHeader` call (not kept) | ' +
      '`node bench/floor.mjs --kinds json --rounds 6 --duration 3 --gateways vmc --vmc base=<worktree of b3d592c> --ref base` | 1.05× of base (middle half 1.00–1.12): no win |',
    '| hot-index layout constants as a `const enum` instead of exported consts (commit af8a020) | lookup case at 100,000 vms in a standalone loop, ' +
      'three paired runs of the previous and this build | lookup+pick 73.5 → 66.2 ns, plan 22.2 → 20.5 ns |',
    '| small pools: try order precomputed per pick (af8a020) | the same | plan 20.5 → 17.7 ns (the fallback loop alone cost ~10 ns, measured by removing it) |',
    "| `Router#plan` under TurboFan's inlining limit again (611 → 422 bytes of bytecode; commit 4d6297a) | the same | plan 17.5 → 13.1 ns |",
    '| final hash mix: fmix32 + low bits vs xor-shift-multiply + high bits (4d6297a) | mean linear-probing count at load 0.38 over 100,000 names of six shapes | ' +
      'fmix/low 1.30–1.34, mix/high 1.30–1.34, no mix/high up to 1.78 (sequential short names) |',
    "| lookup case input: hot windows vs the bodies' own copies (commit 92b18bd) | the same process, 100,000 vms | 44.4 vs 51.2 ns |",
    '| JSON scan: string contents by WebAssembly SIMD vs the word loop (commit f9da5aa) | `scanJsonBody` on chat bodies, one process per mode | ' +
      '512 B 755 → 675 ns, 2 KB 1,273 → 749, 16 KB 6,545 → 1,621, 128 KB 52,428 → 9,367 |',
    '| the same change, gateway CPU | `node bench/floor.mjs --kinds json,sse --rounds 6 --duration 3 --gateways vmc --vmc base=<worktree of 92b18bd> --ref base` | ' +
      '1.00× JSON, 1.01× SSE of base (2 KB body: ~0.5 µs saved, within noise) |',
    "| String.prototype in V8's fast mode again (ioredis subclasses String; commit a498e33) | `isJsonContentType` in a loop with ioredis loaded, without it, " +
      'and with the fix; `node bench/stages.mjs --duration 5` | 276 / 55 / 57 ns per call; `Builtins_LoadIC` 0.85–1.07 → 0.39 µs per request |',
    '| the same change, gateway CPU | `node bench/floor.mjs --kinds json,sse --rounds 6 (then 8) --duration 3 --gateways vmc --vmc base=<worktree of f9da5aa> --ref base` | ' +
      'JSON 1.02× then 0.94×, SSE 1.11× then 1.03× of base: run-to-run noise larger than the ~1 µs |',
    '| `x-forwarded-for` opt-in, so no per-request `getpeername` (commit def66a0) | `node bench/floor.mjs --kinds json,sse --rounds 10 --duration 3 --gateways vmc ' +
      '--vmc base=<worktree of d414c30> --ref base` | JSON 0.90× (middle half 0.87–0.91), 37.2 → 33.0 µs; SSE 0.96× (0.87–1.00), 35.5 → 33.4 µs; 6 rounds: 0.91×, 0.99× |',
    '| syscalls per request at 500 req/s | `node bench/floor.mjs --kinds json --mode paced --rounds 1 --duration 3 --strace --strace-seconds 5` | ' +
      'direct 4.06, nginx 9.01 (epoll_wait 1.97), vmc 7.94 (epoll_pwait 2.93); again with no warm-up in the traced load (as the closed loop): direct 4.09, nginx 8.99 (1.98), vmc 7.39 (3.02) |',
    '| hot functions deoptimized for weak objects by two full GCs at 500 req/s, before and after the kept shapes (commit 1ea4716) | gateway under ' +
      '`--trace-deopt` with a preload calling `gc()` twice mid-run (`test/runtime/shapes.test.ts` does the same) | 33 and 30 → 9 and 4 (the rest in Node: ' +
      '`writeGeneric`, `writeOrBuffer`, the tick queue); CPU/request in the same runs within noise |',
    '| the same change, gateway CPU | `node bench/floor.mjs --kinds json,sse --rounds 8 --duration 3 --gateways vmc --vmc base=<worktree of def66a0> --ref base`, ' +
      'then `--mode paced --rounds 6 --duration 5` | closed JSON 0.99× (0.93–1.16), SSE 0.95× (0.90–1.02); paced 1.00×, 1.05×: within noise |',
    "| the first attempt without promises (commit 5f7bd8a): bytes allocated per proxied request | a gateway under a closed loop with V8's sampling heap " +
      'profiler (inspector `HeapProfiler.startSampling`, objects collected by minor and major GCs included, 512-byte interval), 3 s | 6,411 → 4,978 B ' +
      "(the attempt loop's async frame was ~1 KB; what is left: the uWS exchange and its header strings ~0.8 KB, the upstream head's strings, the " +
      "request head string, Node's `Writable` write state ~0.45 KB) |",
    '| the same change, gateway CPU | `node bench/floor.mjs --kinds json,sse --rounds 14 --duration 3 --gateways vmc --vmc base=<worktree of 3eacfe3> ' +
      '--ref base` (8 rounds before it: 1.06×, 0.96× on a noisy machine) | JSON 1.01× (0.94–1.06), SSE 0.96× (0.90–1.00); `stages.mjs`: engine 4.3 → ' +
      '2.5 µs, event loop 3.0 → 1.7 µs per request |',
    '| this commit, the previous one and nginx in one run (right after the official run of 00:24) | `node bench/floor.mjs --kinds json,sse --rounds 10 ' +
      '--duration 3 --gateways nginx,vmc --vmc base=<worktree of 3eacfe3>` | vmc ÷ nginx JSON 1.35× (1.31–1.37), SSE 1.41× (1.39–1.47); base 1.40× ' +
      '(1.27–1.52), 1.55× (1.29–1.73) |',
    '| when a fresh gateway reaches its steady CPU | 1-s closed-loop windows right after `vmc serve` starts | 37.7, 30.0, then 26.7–29.4 µs/request: ' +
      'settled after ~2.5 s (~50,000 requests); the floor prewarm is 4 s |',
    "| the platform's floor: a minimal uWS.js + `node:net` proxy (bench/lib/node-floor.mjs) beside nginx and vmc | `node bench/floor.mjs --kinds json " +
      '--rounds 6 --duration 3 --gateways nginx,vmc,node-floor` (first as a scratch script) | node-floor 1.04–1.09× nginx on a quiet machine, vmc ' +
      '1.27–1.34× node-floor; in the official run of 02:36 1.14–1.17× and 1.26× |',
    '| what vmc adds over node-floor, by symbol | `node bench/stages.mjs --kind json --duration 10` and the same with `--root <node-floor dir>`, ' +
      'samples by symbol ÷ requests | our JavaScript +4.5 µs (scanJsonBody and its wasm 1.3, `#onHead` 0.7, `#resolve` + resolveRequest 0.5, relay ' +
      '0.3, dispatchSpliced 0.25, …); V8 C++ +2.8 µs, builtins +1.9 µs; kernel the same |',
    '| header names and values of the upstream answer as constants (not kept) | `node bench/floor.mjs --kinds json,sse --rounds 12 --duration 3 ' +
      '--gateways vmc --vmc base=<worktree of b950032> --ref base` | JSON 0.99× (0.88–1.12), SSE 1.00× (0.96–1.09): no win; `perf`: ' +
      '`toLowerCase` and the string slices gone, `#onHead` itself longer by as much |',
    "| one header per request copied from uWS.js or none (forEach's C++→JS call per header), three more response headers or none, 5 KB more " +
      'garbage per request or none | the node-floor script with each added, `--ref` the plain one, 8 rounds | 0.95×, 0.98–1.09×, 1.05×: each within ' +
      'the noise of a round (middle halves ±0.1) |',
    '| larger TurboFan inlining budgets in a serving process (`--max-inlined-bytecode-size=700`, `-cumulative=2400`; kept, ' +
      '`runtime/http/listen.ts`) | first through a wrapper setting the flags: `node bench/floor.mjs --kinds json,sse --rounds 10 (then 14) --duration 3 ' +
      '--gateways vmc --vmc inl=<wrapper dir> --ref vmc`; then as committed: `… --rounds 8 (then 12) --variant noinl:VMC_V8_INLINING=0 --ref noinl` | ' +
      'JSON 0.95×, 0.91×, 0.99×, 0.91×; SSE 0.97×, 0.96×, 1.00× (middle halves ±0.05–0.1): a few percent, never worse |',
    '| `--no-parallel-scavenge`, and with it no concurrent marking or sweeping (not kept) | the same wrapper way, 10 then 12 rounds | ' +
      'JSON 1.01×, 1.02×, then 1.04×; SSE 0.92×, 0.95×, then 1.01×: no win |',
    '| a smaller or larger young generation (not kept) | `node bench/floor.mjs --kinds json,sse --rounds 8 --duration 3 --gateways vmc --variant ' +
      'semi1:NODE_OPTIONS=--max-semi-space-size=1 --variant semi4:…=4 --ref vmc` | JSON 0.99× and 0.98×, SSE 1.01× and 0.99× of the default (16 MB): no effect |',
    '',
  );
  L.push('## Method notes', '');
  L.push(
    '- **Fresh processes.** Each resolve case (implementation × scope × size) is its own `node` process; each scenario is one `vmc bench` process that starts ' +
      'its own simulated providers and gateways; each build is its own `vmc build` process.',
    '- **Allocation** (resolve): after warm-up and two `gc()`, ≥ 10 M calls (time-bounded for the slow full-body cases) run under `v8.GCProfiler`; ' +
      'bytes allocated = Σ(heap used before each GC − heap used after the previous one) + the final delta. A per-call allocation costs ≥ 12 bytes, so ' +
      '< 1 B/op proves the steady state allocates nothing. The same method runs in `npm test` (test/bench/alloc.test.ts).',
    '- **Latency** (scenarios, `vmc bench`): closed loop = N clients sending back to back, latency from each send; paced = open loop, each request ' +
      'scheduled at t0 + k/rate and timed from its scheduled send time to its last body byte (no coordinated omission). Percentiles from an HDR histogram ' +
      '(3 significant digits). Rounds of all targets are interleaved and merged. docs/bench.md describes every metric.',
    "- **CPU per request** (scenarios): utime+stime of the gateway's process tree (cluster workers included) from /proc over the measured phases ÷ " +
      'requests. The gateway runs with `VMC_LOG=warn` (no access line per request). The simulated providers run in a process of their own on the same ' +
      'HTTP engine as the gateway, and their CPU is reported too (`sim.cpu_us_per_req`), so a reader can see the baseline measures the gateway.',
    '- **Background load**: the machine is shared; the calibration line gives its state before the run. When other tenants keep the cores busy, ' +
      'latencies and req/s are pessimistic; compare within one run.',
    '',
  );
  return L.join('\n');
}
