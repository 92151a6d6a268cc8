/**
 * Picks the HTTP engine (SPEC §10) and starts it:
 *
 * 1. `opts.engine`, else `VMC_HTTP_ENGINE=uws|node`, forces one (a forced `uws` without a
 *    native build is an error, not a silent fallback);
 * 2. otherwise uWebSockets.js when a native build loads for this Node ABI, platform and C
 *    library (runtime/http/uws.ts: `VMC_UWS_MODULE`, `@btc-vision/uwebsockets.js`,
 *    `@trufflesuite/uws-js-unofficial`; never a JS fallback);
 * 3. otherwise the `node:http` engine (runtime/http/node.ts), with the reason uWS did not load.
 *
 * The chosen engine and the reason are on the returned server (`engine`, `engineReason`):
 * `/health` and the start-up log line report them.
 */
import { setFlagsFromString } from 'node:v8';
import type { HttpEngineName, HttpServer, HttpServerOptions } from './adapter.js';
import { listenNode } from './node.js';
import { listenUws, tryLoadUws, type UwsLoad, type UwsModule } from './uws.js';

/** The engine to run and why; `uws` carries the loaded module. */
export type EngineChoice = { engine: 'uws'; reason: string; uws: UwsModule } | { engine: 'node'; reason: string };

/**
 * Decides the engine without starting it (reads `VMC_HTTP_ENGINE` now). Throws for an unknown
 * `VMC_HTTP_ENGINE` value and for a forced `uws` that does not load.
 */
export function chooseEngine(forced?: HttpEngineName, loadUws: () => UwsLoad = tryLoadUws): EngineChoice {
  let wanted: string | undefined = forced;
  let why = 'engine option';
  if (wanted === undefined) {
    const env = process.env.VMC_HTTP_ENGINE;
    if (env !== undefined && env !== '' && env !== 'auto') {
      wanted = env;
      why = `VMC_HTTP_ENGINE=${env}`;
    }
  }
  if (wanted !== undefined && wanted !== 'uws' && wanted !== 'node') {
    throw new Error(`vmc: VMC_HTTP_ENGINE must be "uws", "node" or "auto", not "${wanted}"`);
  }
  if (wanted === 'node') return { engine: 'node', reason: why };
  const uws = loadUws();
  if (uws.ok)
    return { engine: 'uws', reason: `${wanted === 'uws' ? why + '; ' : ''}native uWebSockets.js: ${uws.source}`, uws: uws.module };
  if (wanted === 'uws') throw new Error(`vmc: ${why}, but ${uws.reason}`);
  return { engine: 'node', reason: uws.reason };
}

/** V8's old-generation growing factor for a serving process, in percent (see {@link tuneHeapForServing}). */
export const HEAP_GROWING_PERCENT = 150;

let heapTuned = false;

/**
 * Heap tuning for a process that serves traffic (issue 13), once per process:
 * `--heap-growing-percent` (old-generation limit = live size × (1 + p/100)), from
 * `VMC_HEAP_GROWING_PERCENT` (0: V8's own heuristics), default {@link HEAP_GROWING_PERCENT}.
 *
 * Why: a gateway's old generation is small (~15 MB live) and its young generation grows to
 * its largest (16 MB semi-spaces) under a proxy's allocation rate. V8's heuristics then find
 * the old generation's headroom smaller than the new space and keep starting incremental
 * marking: measured at ~12k req/s, a mark-compact every 100–200 ms (30–57 in 5 s), and the
 * concurrent marking thread, sweeping and the main-thread marking steps together took ~16 µs
 * of CPU per request — the largest single item of the gateway's CPU (bench/stages.mjs). With
 * a fixed factor of 2.5 (inside V8's own 1.1–4 range) the same load runs 2 mark-compacts in
 * 5 s. V8 reads this flag whenever it sets a limit, so setting it at start takes effect
 * (unlike the young generation's size, which is fixed when the heap is created).
 */
export function tuneHeapForServing(env: NodeJS.ProcessEnv = process.env): void {
  if (heapTuned) return;
  heapTuned = true;
  const v = env.VMC_HEAP_GROWING_PERCENT;
  const p = v === undefined || v === '' ? HEAP_GROWING_PERCENT : Number(v);
  if (!Number.isInteger(p) || p < 0 || p > 1000) throw new Error(`vmc: VMC_HEAP_GROWING_PERCENT must be an integer 0..1000, not "${v}"`);
  if (p > 0) setFlagsFromString(`--heap-growing-percent=${p}`);
}

/**
 * TurboFan's inlining budgets for a serving process (issue 13), in V8's syntax. By default
 * TurboFan inlines a callee only under `--max-inlined-bytecode-size` (460 bytes of bytecode)
 * and while the caller's inlined total is under `--max-inlined-bytecode-size-cumulative` (920).
 * The proxy path is a chain of mid-sized functions (the uWS exchange → dispatch →
 * `Engine#resolve` → `#startFirst` on the way in; the lean client's read → `#onHead` →
 * `UpstreamCall` → `#afterFirst` → `relay` → the corked response on the way out), and the
 * default budgets stop inlining part-way along it; larger ones let TurboFan compile more of
 * each hop as one unit (fewer calls and checks between them, more escape analysis).
 *
 * Measured (bench/floor.mjs, CPU per proxied request paired per round against the same build
 * with V8's defaults, four runs of 8–14 rounds on a noisy shared VM): JSON 0.95×, 0.91×,
 * 0.99×, 0.91×; SSE 0.97×, 0.96×, 1.00×: a few percent, never worse. (`--no-parallel-scavenge`
 * and no concurrent marking or sweeping, tried the same way: 1.01–1.04×, no win.) The cost:
 * the lean client's `H1Connection.start` then inlines Node's `socket.write` chain, whose
 * per-write objects vmc cannot keep alive, so an idle spell's memory-reducing GC deoptimizes it
 * together with Node's own `writeGeneric` (test/runtime/shapes.test.ts): one re-optimization
 * after idle. Node 20, 22 and 24 know both flags, with the same defaults; V8 reads them at each
 * optimization, so setting them at start takes effect.
 */
export const SERVE_INLINING_FLAGS: readonly string[] = ['--max-inlined-bytecode-size=700', '--max-inlined-bytecode-size-cumulative=2400'];

let inliningTuned = false;

/**
 * Applies {@link SERVE_INLINING_FLAGS} once per process, unless `VMC_V8_INLINING=0` (V8's
 * defaults). Returns the flags applied by this call. `set` is for tests.
 */
export function tuneInliningForServing(
  env: NodeJS.ProcessEnv = process.env,
  set: (flag: string) => void = setFlagsFromString,
): readonly string[] {
  if (inliningTuned || env.VMC_V8_INLINING === '0') return [];
  inliningTuned = true;
  for (const f of SERVE_INLINING_FLAGS) set(f);
  return SERVE_INLINING_FLAGS;
}

/** Starts the chosen engine with `opts` (see {@link chooseEngine}). */
export function listenHttp(opts: HttpServerOptions): Promise<HttpServer> {
  try {
    tuneHeapForServing();
    tuneInliningForServing();
  } catch (err) {
    return Promise.reject(err);
  }
  let choice: EngineChoice;
  try {
    choice = chooseEngine(opts.engine);
  } catch (err) {
    return Promise.reject(err);
  }
  return choice.engine === 'uws' ? listenUws(choice.uws, opts, choice.reason) : listenNode(opts, choice.reason);
}
