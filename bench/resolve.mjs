#!/usr/bin/env node
/**
 * Resolution microbenchmark (SPEC §7, issue #4 part 1): request body → target, per call.
 *
 *   node bench/resolve.mjs [--quick] [--sizes 10,1000,10000,100000] [--json FILE]
 *
 * Runs against the built dist/ (run `npm run build` first; `npm run bench` does it).
 * Every (implementation, scope, size) case runs in a fresh process, so JIT state, inline
 * caches and heap layout of one case never leak into another.
 *
 * Implementations
 *   vmc       runtime/json-scan.ts `scanJsonBody` (validates the whole body, locates
 *             `model`), `RoutingTable.lookup` on the body bytes, `Router.plan` into a
 *             preallocated Int32Array (weighted pick from precomputed cumulative weights).
 *   baseline  what a gateway written the obvious way does: `JSON.parse(buf.toString())`,
 *             `Map.get(model)`, `Math.random()` over the pool's weight array.
 * Scopes
 *   full      body bytes → target (the whole per-request resolution work);
 *   lookup    name → target only. vmc as the gateway does it after the scan:
 *             `RoutingTable.lookupWords` on the (start, end) span of the name in the body's
 *             word-aligned copy (`BodyScan.words`, which scanJsonBody fills anyway: the copy
 *             is billed to the full scope), then `Router.plan`. The copy is hot in the
 *             gateway (written just before), so the case reads each body's name from a
 *             16-word window at the name's alignment, all windows in one 64 KiB array; the
 *             part lookupPickColdInput reads them from the bodies' own 2 KB copies. The
 *             baseline decodes the same span of the body bytes to a string for `Map.get`
 *             ('lookup-str': from the name as an already-extracted JS string, which favours
 *             the baseline).
 *
 * Workload: tables of N weighted virtual models with pools of 2–4 targets (bench/lib/
 * workload.mjs, lowered in memory with compiler/lower.ts `lowerTable`), 1024 pre-built
 * 2 KB chat bodies whose model is a random existing name, rotated per call.
 *
 * Time: rounds of ~`roundMs` each (call count calibrated once), ns/op per round = the
 * process's CPU time (user + system) over the round ÷ calls, so that other tenants of a
 * shared machine do not inflate it; we report the median round (and the min/max spread),
 * and keep the wall-clock median in the case results too.
 *
 * Allocation (method): after warm-up, `gc()` twice, then run `allocCalls` calls (10 M by
 * default, bounded by `allocMs`) with no timing calls inside the loop, under
 * `v8.GCProfiler`. The profiler records the used heap size before and after every GC that
 * happens during the loop, so the bytes allocated are exactly
 *     Σ_k (used_before(gc_k) − used_after(gc_{k−1}))  +  (used_end − used_after(gc_last))
 * with used_after(gc_0) := used_start. Unlike a bare heapUsed delta this stays correct when
 * scavenges run (the baseline allocates GBs). It counts everything allocated on the V8
 * heap, JIT-related allocations included, so "0 bytes/op" means: total / calls < 1 byte —
 * any per-call allocation costs ≥ 12 bytes (the smallest heap object), so a total below
 * one byte per call proves none happens on the steady-state path.
 */
import { fileURLToPath } from 'node:url';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TMP, fmt, median, parseFlags, progress, runChild } from './lib/common.mjs';
import { chatBody, normConfig, poolOf, rng, vmName } from './lib/workload.mjs';
import { countAllocatedBytes } from './lib/alloc.mjs';

const SELF = fileURLToPath(import.meta.url);
const BODIES = 1024; // power of two: rotation is `i & (BODIES - 1)`

export const GOALS = { lookupNsAt100k: 50, bytesPerOp: 0, speedup: 10, fullSpeedupFloor: 3 };

// ───────────────────────────── child: one case ─────────────────────────────

/**
 * `calls` calls of `op`; returns an int32 checksum (keeps the work observable). A plain
 * sync function with an int32 accumulator: a double accumulator living in the async
 * caller's context would box a HeapNumber per call and pollute the allocation count.
 */
function loop(op, calls) {
  let sink = 0;
  for (let i = 0; i < calls; i++) sink = (sink + op(i)) | 0;
  return sink;
}

async function runCase(opts) {
  const impl = opts.impl;
  const scope = opts.scope;
  const size = Number(opts.size);
  const rounds = Number(opts.rounds);
  const roundMs = Number(opts['round-ms']);
  const allocCalls = Number(opts['alloc-calls']);
  const allocMs = Number(opts['alloc-ms']);

  const pick = rng(12345);
  const bodies = [];
  const names = [];
  for (let i = 0; i < BODIES; i++) {
    const name = vmName(Math.floor(pick() * size));
    names.push(name);
    bodies.push(chatBody(name, i));
  }

  let op; // (i) => number, one implementation per process: call sites stay monomorphic
  const components = {}; // name → (n) => checksum: parts of the vmc step, measured separately
  let tableBytes = 0;
  if (impl === 'vmc') {
    const { RoutingTable } = await import('../dist/runtime/table/reader.js');
    const { HealthState } = await import('../dist/runtime/routing/health.js');
    const { RouteInput, Router } = await import('../dist/runtime/routing/router.js');
    const { BodyScan, MODEL_STRING, scanJsonBody } = await import('../dist/runtime/json-scan.js');
    const bytes = new Uint8Array(readFileSync(opts.table));
    tableBytes = bytes.byteLength;
    const table = RoutingTable.decode(bytes);
    const router = new Router(table, new HealthState(table.targetCount), 42);
    const input = new RouteInput();
    const out = new Int32Array(table.maxTargets);
    const scan = new BodyScan();
    const spans = new Int32Array(BODIES * 2);
    // each body's word-aligned copy, as scanJsonBody leaves it in BodyScan.words (the shared
    // mirror holds one body at a time, so the lookup scope keeps a copy per body)
    const words = [];
    for (let i = 0; i < BODIES; i++) {
      if (!scanJsonBody(bodies[i], scan) || scan.modelKind !== MODEL_STRING) throw new Error('bench body did not scan');
      spans[2 * i] = scan.modelStart;
      spans[2 * i + 1] = scan.modelEnd;
      words.push(scan.words.slice(0, (bodies[i].length >> 2) + 3));
      if (table.lookupWords(words[i], scan.modelStart, scan.modelEnd) < 0) throw new Error(`bench name not found: ${names[i]}`);
      if (table.lookup(bodies[i], scan.modelStart, scan.modelEnd) !== table.lookupWords(words[i], scan.modelStart, scan.modelEnd)) {
        throw new Error(`lookup and lookupWords disagree on ${names[i]}`);
      }
    }
    // The lookup case's input, as the gateway has it: in the engine the scan copied the body
    // into its mirror just before the lookup, so the name's words are in L1. Each body's window
    // of WIN words around its name, at the name's alignment in the body, all in one array
    // (64 KiB): the 1,024 rotated bodies' own copies (2 MiB) would add cache and TLB misses
    // the gateway does not have (the lookupPickColdInput part measures that).
    const WIN = 16;
    const win = new Int32Array(BODIES * WIN);
    const wspans = new Int32Array(BODIES * 2);
    for (let i = 0; i < BODIES; i++) {
      const q0 = spans[2 * i] >> 2;
      if (spans[2 * i + 1] - 4 * q0 + 8 > WIN * 4) throw new Error(`bench name too long for its window: ${names[i]}`);
      win.set(words[i].subarray(q0, q0 + WIN), i * WIN);
      wspans[2 * i] = 4 * (i * WIN - q0) + spans[2 * i];
      wspans[2 * i + 1] = 4 * (i * WIN - q0) + spans[2 * i + 1];
      if (table.lookupWords(win, wspans[2 * i], wspans[2 * i + 1]) !== table.lookup(bodies[i], spans[2 * i], spans[2 * i + 1])) {
        throw new Error(`lookup and lookupWords on the window disagree on ${names[i]}`);
      }
    }
    const M = BODIES - 1;
    const vmIds = new Int32Array(BODIES);
    for (let i = 0; i < BODIES; i++) vmIds[i] = table.lookupWords(words[i], spans[2 * i], spans[2 * i + 1]);
    // planWith's draw as a tagged heap number (generic-elements array): a double computed per
    // call would be boxed by the caller, billing the harness's allocation to planWith.
    const draws = [{}, 0.05, 0.3, 0.55, 0.8, 0.95];
    draws.shift();
    if (scope === 'full') {
      components.scanJsonBody = (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s = (s + (scanJsonBody(bodies[i & M], scan) ? scan.modelEnd : 0)) | 0;
        return s;
      };
    } else {
      components.lookupWords = (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) {
          const j = i & M;
          s = (s + table.lookupWords(win, wspans[2 * j], wspans[2 * j + 1])) | 0;
        }
        return s;
      };
      components.lookupPickColdInput = (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) {
          const j = i & M;
          router.plan(table.lookupWords(words[j], spans[2 * j], spans[2 * j + 1]), input, 0, out);
          s = (s + out[0]) | 0;
        }
        return s;
      };
      components.lookupBytes = (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) {
          const j = i & M;
          s = (s + table.lookup(bodies[j], spans[2 * j], spans[2 * j + 1])) | 0;
        }
        return s;
      };
      components.plan = (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s = (s + router.plan(vmIds[i & M], input, 0, out) + out[0]) | 0;
        return s;
      };
      components.planWith = (n) => {
        let s = 0;
        for (let i = 0; i < n; i++) s = (s + router.planWith(vmIds[i & M], input, 0, draws[i % 5], out) + out[0]) | 0;
        return s;
      };
    }
    if (scope === 'full') {
      op = (i) => {
        const body = bodies[i & (BODIES - 1)];
        if (!scanJsonBody(body, scan) || scan.modelKind !== MODEL_STRING) return -1;
        const vm = table.lookupWords(scan.words, scan.modelStart, scan.modelEnd);
        if (vm < 0) return -1;
        router.plan(vm, input, 0, out);
        return out[0];
      };
    } else {
      op = (i) => {
        const j = i & (BODIES - 1);
        const vm = table.lookupWords(win, wspans[2 * j], wspans[2 * j + 1]);
        if (vm < 0) return -1;
        router.plan(vm, input, 0, out);
        return out[0];
      };
    }
  } else {
    // The obvious implementation: one object per virtual model, labels and weights arrays
    // (the same pools as the table: bench/lib/workload.mjs poolOf).
    const map = new Map();
    for (let i = 0; i < size; i++) {
      const pool = poolOf(i);
      const weights = pool.map((t) => t.weight);
      map.set(vmName(i), { targets: pool.map((t) => `${t.provider}/${t.model}`), weights, total: weights.reduce((a, b) => a + b, 0) });
    }
    const pickTarget = (e) => {
      const x = Math.random() * e.total;
      let acc = 0;
      for (let k = 0; k < e.weights.length; k++) {
        acc += e.weights[k];
        if (acc > x) return k;
      }
      return e.weights.length - 1;
    };
    if (scope === 'full') {
      op = (i) => {
        const req = JSON.parse(bodies[i & (BODIES - 1)].toString());
        if (typeof req.model !== 'string') return -1;
        const e = map.get(req.model);
        if (e === undefined) return -1;
        return pickTarget(e) + e.targets[0].length;
      };
    } else if (scope === 'lookup') {
      // from the name's bytes in the body, like vmc: decode the span to a string, then look up
      const spans = new Int32Array(BODIES * 2);
      for (let i = 0; i < BODIES; i++) {
        spans[2 * i] = bodies[i].indexOf('"model":"') + 9;
        spans[2 * i + 1] = spans[2 * i] + Buffer.byteLength(names[i]);
      }
      op = (i) => {
        const j = i & (BODIES - 1);
        const e = map.get(bodies[j].toString('utf8', spans[2 * j], spans[2 * j + 1]));
        if (e === undefined) return -1;
        return pickTarget(e) + e.targets[0].length;
      };
    } else {
      // 'lookup-str': the name as a ready JS string (reused, so V8 has its hash cached)
      op = (i) => {
        const e = map.get(names[i & (BODIES - 1)]);
        if (e === undefined) return -1;
        return pickTarget(e) + e.targets[0].length;
      };
    }
  }

  // Sanity: every body resolves.
  for (let i = 0; i < BODIES; i++) if (op(i) < 0) throw new Error('resolution failed');

  const main = measure((n) => loop(op, n), { rounds, roundMs, allocCalls, allocMs });
  // Breakdown of the vmc step into its parts, measured after the main case (each part has its
  // own loop literal, so its call sites stay monomorphic): where the time and bytes go.
  const parts = {};
  for (const [name, run] of Object.entries(components)) {
    parts[name] = measure(run, { rounds: 5, roundMs: Math.max(30, roundMs / 2), allocCalls: 1_000_000, allocMs: 3000 });
  }
  return { impl, scope, size, tableBytes, ...main, parts };
}

/**
 * Times `run(n)` (n calls, returns an int checksum): calibration to ~roundMs per round,
 * `rounds` timed rounds, then the allocation pass (method in the header comment).
 */
function measure(run, { rounds, roundMs, allocCalls, allocMs }) {
  let sink = 0;
  let calls = 1000;
  for (;;) {
    const t0 = performance.now();
    sink ^= run(calls);
    const dt = performance.now() - t0;
    if (dt > 50 || calls >= 1 << 26) {
      calls = Math.max(1000, Math.round((calls * roundMs) / Math.max(dt, 0.001)));
      break;
    }
    calls *= 4;
  }
  sink ^= run(calls);

  // CPU time of this process per call, not wall time: on a shared machine the wall clock
  // also counts the time other processes held the core (this one is single-threaded while
  // measuring; GC helper threads, which the allocating baseline keeps busy, are counted too).
  const nsPerOp = [];
  const wallNsPerOp = [];
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    sink ^= run(calls);
    const t1 = process.hrtime.bigint();
    const c = process.cpuUsage(c0);
    nsPerOp.push(((c.user + c.system) * 1000) / calls);
    wallNsPerOp.push(Number(t1 - t0) / calls);
  }
  const med = median(nsPerOp);

  const n = Math.max(1, Math.min(allocCalls, Math.floor((allocMs * 1e6) / med)));
  globalThis.gc();
  globalThis.gc();
  const counted = countAllocatedBytes(() => run(n));
  sink ^= counted.result;
  const allocated = counted.allocated;
  return {
    callsPerRound: calls,
    nsPerOp: med,
    nsMin: Math.min(...nsPerOp),
    nsMax: Math.max(...nsPerOp),
    rounds: nsPerOp,
    wallNsPerOp: median(wallNsPerOp),
    allocCalls: n,
    allocatedBytes: allocated,
    bytesPerOp: allocated / n,
    gcs: counted.gcs,
    sink,
  };
}

// ───────────────────────────── parent: all cases ─────────────────────────────

/** Runs every case, one process each; returns { cases, rows } (rows are per size). */
export async function runResolve({ quick = false, sizes = [10, 1000, 10_000, 100_000] } = {}) {
  const params = quick
    ? { rounds: 5, 'round-ms': 60, 'alloc-calls': 10_000_000, 'alloc-ms': 1500 }
    : { rounds: 11, 'round-ms': 150, 'alloc-calls': 10_000_000, 'alloc-ms': 8000 };
  const { lowerTable } = await import('../dist/compiler/lower.js');
  const dir = join(TMP, 'resolve');
  mkdirSync(dir, { recursive: true });
  const cases = [];
  for (const size of sizes) {
    // Lowered once per size, here; every vmc case process decodes the same bytes.
    const table = join(dir, `table-${size}.vmct`);
    writeFileSync(table, lowerTable(normConfig(size)));
    for (const [scope, impls] of [
      ['lookup', ['baseline', 'vmc']],
      ['lookup-str', ['baseline']],
      ['full', ['baseline', 'vmc']],
    ]) {
      for (const impl of impls) {
        const t0 = performance.now();
        const args = ['--child', '--impl', impl, '--scope', scope, '--size', String(size), '--table', table];
        for (const [k, v] of Object.entries(params))
          args.push(`--${k}`, String(k === 'alloc-ms' && scope !== 'full' ? Math.max(v, 30_000) : v));
        const r = await runChild(SELF, args, { nodeFlags: ['--expose-gc', '--max-old-space-size=4096'] });
        cases.push(r);
        progress(
          `resolve ${impl.padEnd(8)} ${scope.padEnd(10)} ${String(size).padStart(6)} vms: ` +
            `${fmt.f1(r.nsPerOp).padStart(8)} ns/op (min ${fmt.f1(r.nsMin)}, max ${fmt.f1(r.nsMax)}), ` +
            `${fmt.f3(r.bytesPerOp)} B/op over ${fmt.int(r.allocCalls)} calls  ` +
            `(${((performance.now() - t0) / 1000).toFixed(1)} s)`,
        );
      }
    }
  }
  const get = (impl, scope, size) => cases.find((c) => c.impl === impl && c.scope === scope && c.size === size);
  const rows = sizes.map((size) => {
    const vl = get('vmc', 'lookup', size);
    const bl = get('baseline', 'lookup', size);
    const bs = get('baseline', 'lookup-str', size);
    const vf = get('vmc', 'full', size);
    const bf = get('baseline', 'full', size);
    return {
      size,
      tableBytes: vl.tableBytes,
      vmcLookupNs: vl.nsPerOp,
      vmcLookupMinNs: vl.nsMin,
      baseLookupNs: bl.nsPerOp,
      baseLookupStrNs: bs.nsPerOp,
      lookupSpeedup: bl.nsPerOp / vl.nsPerOp,
      lookupStrSpeedup: bs.nsPerOp / vl.nsPerOp,
      vmcLookupBytesPerOp: vl.bytesPerOp,
      vmcLookupAllocCalls: vl.allocCalls,
      baseLookupBytesPerOp: bl.bytesPerOp,
      vmcFullNs: vf.nsPerOp,
      vmcFullMinNs: vf.nsMin,
      baseFullNs: bf.nsPerOp,
      fullSpeedup: bf.nsPerOp / vf.nsPerOp,
      vmcFullBytesPerOp: vf.bytesPerOp,
      vmcFullAllocCalls: vf.allocCalls,
      baseFullBytesPerOp: bf.bytesPerOp,
      parts: { ...(vl.parts ?? {}), ...(vf.parts ?? {}) },
    };
  });
  return { params, cases, rows, goals: resolveGoals(rows) };
}

/** The goals of issue #4 part 1, judged on the per-size rows of a run. */
export function resolveGoals(rows) {
  const big = rows.find((r) => r.size === 100_000) ?? rows[rows.length - 1];
  return [
    {
      goal: `lookup+pick median ≤ ${GOALS.lookupNsAt100k} ns at ${fmt.int(big.size)} vms`,
      value: `${fmt.f1(big.vmcLookupNs)} ns (fastest round ${fmt.f1(big.vmcLookupMinNs)} ns)`,
      met: big.vmcLookupNs <= GOALS.lookupNsAt100k,
    },
    {
      goal: 'lookup+pick allocates 0 bytes/op (< 1 B/op over ≥ 10 M calls, every size)',
      value: rows.map((r) => `${fmt.f2(r.vmcLookupBytesPerOp)} B/op over ${fmt.int(r.vmcLookupAllocCalls)}`).join('; '),
      met: rows.every((r) => r.vmcLookupBytesPerOp < 1 && r.vmcLookupAllocCalls >= 10_000_000),
    },
    {
      goal: 'full body→target allocates 0 bytes/op (< 1 B/op, every size)',
      value: rows.map((r) => `${fmt.f2(r.vmcFullBytesPerOp)} B/op over ${fmt.int(r.vmcFullAllocCalls)}`).join('; '),
      met: rows.every((r) => r.vmcFullBytesPerOp < 1),
    },
    {
      goal: `≥ ${GOALS.fullSpeedupFloor}× the baseline (issue 13): full body→target vs JSON.parse + Map.get + Math.random (every size)`,
      value: rows.map((r) => fmt.ratio(r.fullSpeedup)).join(', '),
      met: rows.every((r) => r.fullSpeedup >= GOALS.fullSpeedupFloor),
    },
    {
      goal: `≥ ${GOALS.speedup}× the baseline: full body→target vs JSON.parse + Map.get + Math.random (every size)`,
      value: rows.map((r) => fmt.ratio(r.fullSpeedup)).join(', '),
      met: rows.every((r) => r.fullSpeedup >= GOALS.speedup),
    },
    {
      goal: `≥ ${GOALS.speedup}× the baseline: lookup+pick alone vs Map.get(name from the same bytes) + Math.random (every size)`,
      value: rows.map((r) => fmt.ratio(r.lookupSpeedup)).join(', '),
      met: rows.every((r) => r.lookupSpeedup >= GOALS.speedup),
    },
  ];
}

export function resolveMarkdown({ params, rows, cases }) {
  const lines = [];
  const fastest = (impl, scope, size) => cases.find((c) => c.impl === impl && c.scope === scope && c.size === size)?.nsMin ?? NaN;
  lines.push(
    `ns/op = CPU time of the measuring process per call (user + system; other tenants of the machine do not count). Median of ${params.rounds} rounds of ~${params['round-ms']} ms (fastest round in parentheses: on a shared machine noise only ever adds time, ` +
      `so the fastest rounds are the steadier comparison); allocation over 10 M calls for the lookup cases ` +
      `and over as many full-body calls as fit in ${params['alloc-ms'] / 1000} s, counted with v8.GCProfiler. Each cell is a separate process. ` +
      'Ratios = baseline ns ÷ vmc ns (> 1: vmc is faster).',
    '',
    '**name → target (lookup + pick)**',
    '',
    '| vms | table | vmc ns/op | baseline from bytes ns/op | ratio (fastest rounds) | baseline, string given ns/op | ratio | vmc B/op (calls) | baseline B/op |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of rows) {
    lines.push(
      `| ${fmt.int(r.size)} | ${fmt.int(r.tableBytes / 1024)} KiB | ${fmt.f1(r.vmcLookupNs)} (${fmt.f1(r.vmcLookupMinNs)}) | ${fmt.f1(r.baseLookupNs)} (${fmt.f1(fastest('baseline', 'lookup', r.size))}) | ` +
        `${fmt.ratio(r.lookupSpeedup)} (${fmt.ratio(fastest('baseline', 'lookup', r.size) / r.vmcLookupMinNs)}) | ` +
        `${fmt.f1(r.baseLookupStrNs)} | ${fmt.ratio(r.lookupStrSpeedup)} | ${fmt.f2(r.vmcLookupBytesPerOp)} (${fmt.int(r.vmcLookupAllocCalls)}) | ${fmt.f1(r.baseLookupBytesPerOp)} |`,
    );
  }
  lines.push(
    '',
    '**2 KB body → target (full)**',
    '',
    '| vms | vmc ns/op | baseline ns/op | ratio (fastest rounds) | vmc B/op (calls) | baseline B/op |',
    '|---:|---:|---:|---:|---:|---:|',
  );
  for (const r of rows) {
    lines.push(
      `| ${fmt.int(r.size)} | ${fmt.int(r.vmcFullNs)} (${fmt.int(r.vmcFullMinNs)}) | ${fmt.int(r.baseFullNs)} (${fmt.int(fastest('baseline', 'full', r.size))}) | ` +
        `${fmt.ratio(r.fullSpeedup)} (${fmt.ratio(fastest('baseline', 'full', r.size) / r.vmcFullMinNs)}) | ` +
        `${fmt.f2(r.vmcFullBytesPerOp)} (${fmt.int(r.vmcFullAllocCalls)}) | ${fmt.int(r.baseFullBytesPerOp)} |`,
    );
  }
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.parts ?? {})))];
  if (names.length > 0) {
    lines.push(
      '',
      '**Where the vmc time goes** (each part alone, in the same process after the main case; median ns/op and B/op over 1 M calls): ' +
        "`lookupWords` = `RoutingTable.lookupWords` on the body's aligned copy (the gateway's lookup); `lookupBytes` = `RoutingTable.lookup` on the body bytes (copies the name to aligned scratch first; names not in a scanned body); " +
        '`plan` = `Router.plan` (seeded draw + planner); `planWith` = the planner with a given draw; ' +
        '`scanJsonBody` = validating the 2 KB body and locating `model`.',
      '',
      `| vms | ${names.map((n) => `${n} ns/op | ${n} B/op`).join(' | ')} |`,
      `|---:|${names.map(() => '---:|---:').join('|')}|`,
    );
    for (const r of rows) {
      lines.push(
        `| ${fmt.int(r.size)} | ${names.map((n) => (r.parts?.[n] ? `${fmt.f1(r.parts[n].nsPerOp)} | ${fmt.f2(r.parts[n].bytesPerOp)}` : '— | —')).join(' | ')} |`,
      );
    }
  }
  return lines.join('\n');
}

if (process.argv.includes('--child')) {
  const r = await runCase(parseFlags(process.argv.slice(2)));
  process.stdout.write(JSON.stringify(r) + '\n');
} else if (process.argv[1] === SELF) {
  const flags = parseFlags(process.argv.slice(2));
  const sizes = typeof flags.sizes === 'string' ? flags.sizes.split(',').map(Number) : undefined;
  const res = await runResolve({ quick: Boolean(flags.quick), sizes });
  process.stdout.write(resolveMarkdown(res) + '\n\n');
  for (const g of res.goals) process.stdout.write(`${g.met ? 'MET    ' : 'NOT MET'}  ${g.goal}: ${g.value}\n`);
  if (typeof flags.json === 'string') writeFileSync(flags.json, JSON.stringify(res, null, 2));
}
