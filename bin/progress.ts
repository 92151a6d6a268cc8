/**
 * Progress of long builds on stderr (issue 14). Quiet for short builds: nothing is shown
 * before `afterMs` (1.5 s). Then:
 *
 * - on a TTY, one line redrawn in place: a bar over the build's phases, the phase, its counts
 *   when the compiler reports them (`models normalized 60,000/100,000`) and the elapsed time.
 *   A worker thread draws the line, so it keeps moving while a synchronous phase holds the
 *   main thread (the front end parses and normalizes 100,000 models without yielding); the
 *   main thread only posts state (throttled) and, at the end, stops the worker synchronously
 *   (Atomics), so the line is cleared before the summary prints;
 * - otherwise (CI logs, pipes), one line per phase, `vmc: <phase>… <seconds>s`, the phases
 *   before the threshold printed once it is passed (bench/compile.mjs reads these lines).
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';

/** Counts within a phase, as the compiler's phase hook may report them. */
export interface PhaseCounts {
  done: number;
  total?: number;
  /** What is counted, e.g. `files loaded`, `models normalized`. */
  unit: string;
}

/** What the line shows; also what the worker receives. */
export interface ProgressState {
  phase: string;
  /** 0-based index of the phase in the known phase list, or -1. */
  index: number;
  phases: number;
  counts: PhaseCounts | null;
}

/** The phases of `vmc build`, in order (compiler/index.ts onPhase, then the CLI's write). */
export const BUILD_PHASES = ['load', 'lower', 'emit-client', 'emit-manifest', 'write'] as const;

/**
 * One progress line, at most `width` columns (a wrapped line cannot be redrawn in place).
 * Self-contained: the worker runs its source text.
 */
export function renderProgress(state: ProgressState, elapsedMs: number, width: number): string {
  const num = (n: number): string => Math.round(n).toLocaleString('en-US');
  const c = state.counts;
  const within = c && c.total !== undefined && c.total > 0 ? Math.min(1, c.done / c.total) : 0;
  const fraction = state.index < 0 || state.phases === 0 ? 0 : Math.min(1, (state.index + within) / state.phases);
  const cells = 20;
  const full = Math.round(fraction * cells);
  const bar = '█'.repeat(full) + '░'.repeat(cells - full);
  const step = state.index < 0 ? '' : ` ${state.index + 1}/${state.phases}`;
  const counts = c ? ` · ${c.unit} ${num(c.done)}${c.total !== undefined ? '/' + num(c.total) : ''}` : '';
  const line = `vmc ▕${bar}▏${step} ${state.phase}${counts} · ${(elapsedMs / 1000).toFixed(1)}s`;
  return line.length > width - 1 ? line.slice(0, Math.max(0, width - 2)) + '…' : line;
}

/** The worker: waits on the shared sequence number (or 100 ms), drains state, redraws. */
const WORKER_SOURCE = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const renderProgress = ${renderProgress.toString()};
const { flags, port, start, afterMs, width } = workerData;
let state = null;
let shown = false;
let seen = 0;
for (;;) {
  Atomics.wait(flags, 0, seen, 100);
  seen = Atomics.load(flags, 0);
  let stop = false;
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
    if (m.message === null) stop = true;
    else state = m.message;
  }
  if (stop) {
    if (shown) writeSync(2, '\\r\\x1b[2K');
    Atomics.store(flags, 1, 1);
    Atomics.notify(flags, 1);
    break;
  }
  const elapsed = Date.now() - start;
  if (state !== null && elapsed >= afterMs) {
    writeSync(2, '\\r\\x1b[2K' + renderProgress(state, elapsed, width));
    shown = true;
  }
}
port.close();
`;

export interface ProgressOptions {
  enabled?: boolean;
  /** Known phases, in order (for the bar). */
  phases?: readonly string[];
  /** Quiet period (default 1000 ms; `VMC_PROGRESS_AFTER_MS` overrides, for tests). */
  afterMs?: number;
  /** Default: whether stderr is a terminal. */
  tty?: boolean;
}

/** Minimum interval between two count updates posted to the worker. */
const COUNT_UPDATE_MS = 50;

export class Progress {
  readonly enabled: boolean;
  readonly #start = Date.now();
  readonly #afterMs: number;
  readonly #phases: readonly string[];
  readonly #tty: boolean;
  #state: ProgressState = { phase: 'starting', index: -1, phases: 0, counts: null };
  #lastPost = 0;
  // TTY: the drawing worker and its channel.
  #worker: Worker | null = null;
  #port: MessagePort | null = null;
  #flags: Int32Array | null = null;
  // Not a TTY: phases seen (name, elapsed ms), and whether lines are being printed yet.
  #log: { name: string; at: number }[] = [];
  #printing = false;
  #timer: NodeJS.Timeout | null = null;
  #finished = false;

  constructor(opts: ProgressOptions | boolean = {}) {
    const o = typeof opts === 'boolean' ? { enabled: opts } : opts;
    this.enabled = o.enabled ?? true;
    const env = Number(process.env.VMC_PROGRESS_AFTER_MS);
    this.#afterMs = o.afterMs ?? (process.env.VMC_PROGRESS_AFTER_MS !== undefined && Number.isFinite(env) ? env : 1500);
    this.#phases = o.phases ?? BUILD_PHASES;
    this.#tty = o.tty ?? process.stderr.isTTY === true;
    this.#state.phases = this.#phases.length;
    if (!this.enabled) return;
    if (this.#tty) this.#startWorker();
    else {
      // When the event loop is free at the threshold (an async phase), print what happened so far.
      this.#timer = setTimeout(() => this.#flushLines(), this.#afterMs);
      this.#timer.unref();
    }
  }

  /** A new phase starts (its counts, if known). */
  phase(name: string, counts?: PhaseCounts): void {
    if (!this.enabled || this.#finished) return;
    // A phase outside the known list (a finer step the compiler reports) keeps the bar where it is.
    const known = this.#phases.indexOf(name);
    this.#state = { phase: name, index: known >= 0 ? known : this.#state.index, phases: this.#phases.length, counts: counts ?? null };
    if (this.#tty) this.#post(true);
    else {
      this.#log.push({ name, at: Date.now() - this.#start });
      this.#flushLines();
    }
  }

  /** Counts within the current phase (throttled: call it as often as convenient). */
  count(counts: PhaseCounts): void {
    if (!this.enabled || this.#finished || !this.#tty) return;
    this.#state = { ...this.#state, counts };
    this.#post(counts.total !== undefined && counts.done >= counts.total);
  }

  /** Stops drawing and clears the line; synchronous, idempotent. */
  done(): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#worker && this.#port && this.#flags) {
      this.#port.postMessage(null);
      Atomics.add(this.#flags, 0, 1);
      Atomics.notify(this.#flags, 0);
      // The worker answers within one redraw; bounded, so a stuck worker cannot hang the CLI.
      Atomics.wait(this.#flags, 1, 0, 1000);
      this.#port.close();
      void this.#worker.terminate();
      this.#worker = null;
    }
  }

  #startWorker(): void {
    const { port1, port2 } = new MessageChannel();
    const flags = new Int32Array(new SharedArrayBuffer(8));
    const width = process.stderr.columns || 80;
    this.#worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { flags, port: port2, start: this.#start, afterMs: this.#afterMs, width },
      transferList: [port2],
      stdout: false,
      stderr: false,
    });
    this.#worker.unref();
    this.#port = port1;
    this.#flags = flags;
    this.#post(true);
  }

  #post(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.#lastPost < COUNT_UPDATE_MS) return;
    if (!this.#port || !this.#flags) return;
    this.#lastPost = now;
    this.#port.postMessage(this.#state);
    Atomics.add(this.#flags, 0, 1);
    Atomics.notify(this.#flags, 0);
  }

  #flushLines(): void {
    if (this.#finished) return;
    const elapsed = Date.now() - this.#start;
    if (!this.#printing && elapsed < this.#afterMs) return;
    this.#printing = true;
    for (const { name, at } of this.#log) process.stderr.write(`vmc: ${name}… ${(at / 1000).toFixed(1)}s\n`);
    this.#log = [];
  }
}
