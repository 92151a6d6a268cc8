/**
 * Worker-thread entry of the load generator (generator.ts): runs the segments it is sent and
 * posts back their records (transferred, not copied). Live counters go through the shared
 * progress array given at start.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { closePools, runSegment, transferables, type SegmentInput } from './generator.js';

const progress = new Int32Array(workerData.progress as SharedArrayBuffer);

parentPort!.on('message', (m: { id: number; input: SegmentInput } | { close: true }) => {
  if ('close' in m) {
    void closePools().then(() => parentPort!.close());
    return;
  }
  runSegment(m.input, progress).then(
    (out) => parentPort!.postMessage({ id: m.id, out }, transferables(out)),
    (err: Error) => parentPort!.postMessage({ id: m.id, error: err.message }),
  );
});
