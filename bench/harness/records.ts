/**
 * What the load generator records per request, column-wise in typed arrays (millions of
 * requests cost tens of MB, and worker threads hand them over without copying).
 *
 * Times are ms from the segment's start (performance.now based); NaN = did not happen.
 */

/** Outcome classes (`err` column). */
export const OK = 0;
export const ERR_4XX = 1;
export const ERR_5XX = 2;
export const ERR_NETWORK = 3;
export const ERR_TIMEOUT = 4;
/** Broken stream or SSE `error` event, or a truncated JSON body. */
export const ERR_STREAM = 5;

export const ERR_NAMES = ['ok', 'http_4xx', 'http_5xx', 'network', 'timeout', 'stream'] as const;

export interface RecordColumns {
  seq: Float64Array;
  entry: Int32Array;
  /** Scheduled send (open loop) or send (closed loop). */
  sched: Float64Array;
  sent: Float64Array;
  /** First body byte. */
  ttfb: Float64Array;
  end: Float64Array;
  /** 0 when no status arrived. */
  status: Int16Array;
  /** x-vmc-attempts, −1 when absent. */
  attempts: Int16Array;
  /** Index into the segment's `targets` strings (x-vmc-target), −1 when absent or empty. */
  target: Int32Array;
  err: Uint8Array;
  chunks: Int32Array;
}

type Ctor = Float64ArrayConstructor | Int32ArrayConstructor | Int16ArrayConstructor | Uint8ArrayConstructor;
const LAYOUT: [keyof RecordColumns, Ctor][] = [
  ['seq', Float64Array],
  ['entry', Int32Array],
  ['sched', Float64Array],
  ['sent', Float64Array],
  ['ttfb', Float64Array],
  ['end', Float64Array],
  ['status', Int16Array],
  ['attempts', Int16Array],
  ['target', Int32Array],
  ['err', Uint8Array],
  ['chunks', Int32Array],
];

export class Records {
  n = 0;
  cols: RecordColumns;
  #cap: number;

  constructor(cap = 1024) {
    this.#cap = cap;
    this.cols = Object.fromEntries(LAYOUT.map(([k, C]) => [k, new C(cap)])) as unknown as RecordColumns;
  }

  /** Index of a new record (fields NaN / −1 / 0 until set). */
  add(): number {
    if (this.n === this.#cap) this.#grow();
    const i = this.n++;
    const c = this.cols;
    c.sent[i] = NaN;
    c.ttfb[i] = NaN;
    c.end[i] = NaN;
    c.status[i] = 0;
    c.attempts[i] = -1;
    c.target[i] = -1;
    c.err[i] = OK;
    c.chunks[i] = 0;
    return i;
  }

  #grow(): void {
    this.#cap *= 2;
    for (const [k, C] of LAYOUT) {
      const next = new C(this.#cap);
      next.set(this.cols[k] as never);
      (this.cols as unknown as Record<string, unknown>)[k] = next;
    }
  }

  /** Columns trimmed to n (copies: safe to transfer). */
  trimmed(): RecordColumns {
    return Object.fromEntries(LAYOUT.map(([k]) => [k, this.cols[k].slice(0, this.n)])) as unknown as RecordColumns;
  }
}

/** Growable f64 list (inter-token gaps). */
export class F64List {
  a = new Float64Array(4096);
  n = 0;
  push(v: number): void {
    if (this.n === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    this.a[this.n++] = v;
  }
  values(): Float64Array {
    return this.a.slice(0, this.n);
  }
}
