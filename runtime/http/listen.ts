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

/** Starts the chosen engine with `opts` (see {@link chooseEngine}). */
export function listenHttp(opts: HttpServerOptions): Promise<HttpServer> {
  let choice: EngineChoice;
  try {
    choice = chooseEngine(opts.engine);
  } catch (err) {
    return Promise.reject(err);
  }
  return choice.engine === 'uws' ? listenUws(choice.uws, opts, choice.reason) : listenNode(opts, choice.reason);
}
