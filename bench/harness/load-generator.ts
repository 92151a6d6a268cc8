/**
 * The load generator as the run sees it: the segments of ./generator.ts on this thread, or
 * split over worker threads (`generator: { threads: N }`). On a machine with few cores
 * the gateway, the simulators and the generator share them: one thread is usually best, and
 * `generator.cpu_pct` says how busy it was (docs/bench.md has this machine's ceiling).
 */
import { Worker } from 'node:worker_threads';
import { closePools, runSegment, type SegmentInput, type SegmentOutput } from './generator.js';
import { distPath } from './proc.js';

export class LoadGenerator {
  readonly threads: number;
  /** [sent, done, failed], summed over threads. */
  readonly progress: Int32Array;
  readonly #workers: Worker[] = [];
  #nextId = 0;
  readonly #pending = new Map<number, { resolve: (o: SegmentOutput) => void; reject: (e: Error) => void }>();

  constructor(threads: number) {
    this.threads = Math.max(1, threads);
    const sab = new SharedArrayBuffer(12);
    this.progress = new Int32Array(sab);
    if (this.threads > 1) {
      const file = distPath('bench/harness/generator-worker.js');
      for (let i = 0; i < this.threads; i++) {
        const w = new Worker(file, { workerData: { progress: sab } });
        w.on('message', (m: { id: number; out?: SegmentOutput; error?: string }) => {
          const p = this.#pending.get(m.id);
          if (p === undefined) return;
          this.#pending.delete(m.id);
          if (m.out) p.resolve(m.out);
          else p.reject(new Error(m.error ?? 'load generator thread failed'));
        });
        w.on('error', (err) => {
          for (const p of this.#pending.values()) p.reject(err);
          this.#pending.clear();
        });
        this.#workers.push(w);
      }
    }
  }

  /** Runs a segment over every thread; resolves with one output per thread. */
  run(input: Omit<SegmentInput, 'thread' | 'threads'>): Promise<SegmentOutput[]> {
    if (this.threads === 1) return runSegment({ ...input, thread: 0, threads: 1 }, this.progress).then((o) => [o]);
    return Promise.all(
      this.#workers.map(
        (w, thread) =>
          new Promise<SegmentOutput>((resolve, reject) => {
            const id = this.#nextId++;
            this.#pending.set(id, { resolve, reject });
            w.postMessage({ id, input: { ...input, thread, threads: this.threads } });
          }),
      ),
    );
  }

  async close(): Promise<void> {
    await closePools();
    await Promise.all(
      this.#workers.map(
        (w) =>
          new Promise<void>((r) => {
            w.once('exit', () => r());
            w.postMessage({ close: true });
            setTimeout(() => void w.terminate(), 2000).unref();
          }),
      ),
    );
  }
}
