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
