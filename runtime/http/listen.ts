/**
 * Picks the HTTP engine (SPEC §10) and starts it. Today: uWebSockets.js (runtime/http/uws.ts).
 */
import type { HttpServer, HttpServerOptions } from './adapter.js';
import { listenHttp as listenUws } from './uws.js';

export function listenHttp(opts: HttpServerOptions): Promise<HttpServer> {
  return listenUws(opts);
}
