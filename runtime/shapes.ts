/**
 * Keeps the hidden classes (V8 "maps") of per-request objects alive while the gateway idles.
 *
 * Optimized code holds the maps it was specialized for weakly. A map that no live object
 * uses dies at a memory-reducing mark-compact: those skip V8's map retention, and the memory
 * reducer runs them when the allocation rate drops, i.e. between bursts of traffic or at a
 * few hundred requests per second. Every function whose code embedded such a map is then
 * deoptimized ("marking dependent code for deoptimization, reason: weak objects" under
 * `--trace-deopt`): after two reducer GCs at 500 req/s, ~40 hot functions of the request
 * path (the exchange classes' initializers, `#resolve`, the HTTP/1.1 client's `start` and
 * `#onHead`, the relay…) ran in the interpreter again until re-optimized, and the next
 * requests paid for it in CPU and latency.
 *
 * The fix: each per-request class stores its newest instance here (one array store per
 * object), so at any GC one instance of each shape is alive and the maps are kept. The cost
 * is memory: the newest request's objects, including its body (≤ `--max-body`), stay
 * reachable until the next request replaces them. `test/runtime/shapes.test.ts` checks that
 * the engine's hot functions stay optimized across forced GCs with no request in flight.
 */

/** The per-request classes whose newest instance is kept, one slot each. */
export const enum Shape {
  /** The HTTP engine's exchange (http/common.ts ExchangeBase: uws.ts or node.ts, one engine per process). */
  HttpExchange,
  BodyReader,
  Exchange,
  UpstreamCall,
  RelayContext,
  KeptResponse,
  Count,
}

const newest: (object | null)[] = new Array<object | null>(Shape.Count).fill(null);

/** Makes `o` the living instance of shape `s` (replacing the one before). */
export function keepShape(s: Shape, o: object): void {
  newest[s] = o;
}
