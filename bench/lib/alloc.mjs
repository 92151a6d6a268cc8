/**
 * Bytes allocated by a piece of code, counted with v8.GCProfiler — the one implementation
 * shared by the resolution benchmark (bench/resolve.mjs) and the allocation test in
 * `npm test` (test/bench/alloc.test.ts).
 *
 * Method: the caller collects garbage first; then, with the profiler on, bytes allocated =
 * Σ (heap used before each GC − heap used after the previous one) + the final delta. Any
 * allocation per call costs ≥ 12 bytes, so a result under 1 byte per call over millions of
 * calls proves the steady state allocates nothing.
 */
import v8 from 'node:v8';

/** Runs `run()` once under the GC profiler; returns its result and the bytes it allocated. */
export function countAllocatedBytes(run) {
  const profiler = new v8.GCProfiler();
  profiler.start();
  const used0 = v8.getHeapStatistics().used_heap_size;
  const result = run();
  const used1 = v8.getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();
  let allocated = 0;
  let prevAfter = used0;
  for (const s of statistics) {
    allocated += s.beforeGC.heapStatistics.usedHeapSize - prevAfter;
    prevAfter = s.afterGC.heapStatistics.usedHeapSize;
  }
  allocated += used1 - prevAfter;
  return { result, allocated, gcs: statistics.length };
}

/**
 * Bytes allocated per call of `op(i)` over `calls` calls (op returns an int32), after a warm-up
 * of 2 × `calls` past V8's tiering: the quietest of `windows` measured windows, each after two
 * `gc()`. Several windows because V8 occasionally allocates on the main thread during a long
 * synchronous loop for reasons unrelated to `op` (installing background-compiled code, runtime
 * bookkeeping: 100–250 KB, ~1 B/call in the one window it lands in, more on a busy machine);
 * a real per-call allocation costs ≥ 12 B/call in every window, so the minimum still exposes
 * it. Returns that minimum and each window's checksum.
 */
export function quietestBytesPerCall(op, calls, windows, gc) {
  const loop = (n) => {
    let sink = 0;
    for (let i = 0; i < n; i++) sink = (sink + op(i)) | 0;
    return sink;
  };
  loop(calls * 2);
  let bytesPerCall = Infinity;
  const sinks = [];
  for (let w = 0; w < windows; w++) {
    gc();
    gc();
    const { result, allocated } = countAllocatedBytes(() => loop(calls));
    sinks.push(result);
    bytesPerCall = Math.min(bytesPerCall, allocated / calls);
  }
  return { bytesPerCall, sinks };
}
