/**
 * Prometheus metrics (SPEC §6 `GET /metrics`), hand-written text exposition format 0.0.4.
 *
 * Series are keyed by (virtual model name, target label) — names, not table ids, so counters
 * survive a reload. The engine resolves a {@link SeriesSet} once per (table generation,
 * target) and caches it, so counting on the hot path is a field increment and a typed-array
 * slot per common status (a map only for rare statuses), no string building.
 *
 * Exposed:
 *   vmc_requests_total{virtual_model,target,status}            counter (final answers)
 *   vmc_upstream_latency_seconds{virtual_model,target,phase}   histogram, phase = ttfb | total
 *   vmc_upstream_errors_total{virtual_model,target,kind}       counter, kind = network | timeout | ttft
 *   vmc_retries_total{virtual_model,target}                    counter (tries after the first)
 *   vmc_fallbacks_total{virtual_model,target}                  counter (moves away from target)
 *   vmc_cooldowns_total{virtual_model,target}                  counter (cooldowns opened)
 *   vmc_cooldown_skips_total{virtual_model,target}             counter (attempts skipped)
 *   vmc_table_reloads_total{result}                            counter, result = ok | rejected
 *   vmc_http_refusals_total{kind}                              counter, answers the HTTP engine gave itself
 *   vmc_in_flight_requests                                     gauge
 *   vmc_event_loop_delay_seconds{quantile}                     gauge, 0.5 | 0.99 | 1, since start
 *   process_resident_memory_bytes                              gauge
 *   vmc_workers, vmc_worker_restarts_total                     `--workers N` only
 * Requests rejected before a virtual model was resolved (400, 404, 413) carry empty
 * `virtual_model` and `target` labels.
 *
 * Workers (SPEC §10: `/metrics` reports the whole gateway): every worker can export its
 * counters as a JSON-safe {@link MetricsSnapshot}; the cluster primary adds the snapshots of
 * all workers ({@link Metrics.absorb}) — plus the last snapshot of every worker that exited,
 * so a restart never makes a counter go down — and renders the sum.
 */
import { compareStrings } from './table/util.js';

/** Histogram bucket bounds in seconds; LLM latencies span milliseconds to minutes. */
export const LATENCY_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export class Histogram {
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  readonly counts = new Float64Array(LATENCY_BUCKETS.length + 1);
  sum = 0;
  count = 0;

  /** Adds another histogram's observations (cluster aggregation). */
  add(h: HistogramSnapshot): void {
    for (let i = 0; i < this.counts.length && i < h.counts.length; i++) this.counts[i] += h.counts[i];
    this.sum += h.sum;
    this.count += h.count;
  }

  snapshot(): HistogramSnapshot {
    return { counts: Array.from(this.counts), sum: this.sum, count: this.count };
  }

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[i]) i++;
    this.counts[i]++;
    this.sum += seconds;
    this.count++;
  }
}

/**
 * Interval of the event-loop delay sampler behind `vmc_event_loop_delay_seconds` (the server
 * enables it with this resolution). Each sample wakes an idle process: an idle gateway (steady
 * state, all threads) used 7.7 ms of CPU per second at 10 ms and 6.5 ms/s at 20 ms; 20 ms
 * still catches every stall of 20 ms or more.
 */
export const LOOP_DELAY_INTERVAL_MS = 20;

/**
 * Statuses counted in a per-series array slot (no map lookup per request, issue 13); any
 * other status goes to the series' map. Slot = STATUS_SLOT[status] - 1.
 */
const COUNTED_STATUSES = [200, 201, 202, 204, 400, 401, 403, 404, 408, 409, 413, 415, 422, 429, 499, 500, 502, 503, 504];
const STATUS_SLOT = new Uint8Array(1000);
COUNTED_STATUSES.forEach((st, i) => (STATUS_SLOT[st] = i + 1));

/** Every series of one (virtual model, target) pair. */
export class SeriesSet {
  /** Answers by status: the common ones in slots (see COUNTED_STATUSES), others in `#otherStatuses`. */
  readonly #statusCounts = new Float64Array(COUNTED_STATUSES.length);
  readonly #otherStatuses = new Map<number, number>();
  readonly ttfb = new Histogram();
  readonly total = new Histogram();
  retries = 0;
  fallbacks = 0;
  cooldowns = 0;
  cooldownSkips = 0;
  networkErrors = 0;
  timeouts = 0;
  ttftMisses = 0;

  constructor(
    readonly virtualModel: string,
    readonly target: string,
  ) {}

  countRequest(status: number, n = 1): void {
    const slot = status >= 0 && status < 1000 ? STATUS_SLOT[status] : 0;
    if (slot !== 0) this.#statusCounts[slot - 1] += n;
    else this.#otherStatuses.set(status, (this.#otherStatuses.get(status) ?? 0) + n);
  }

  /** [status, count] pairs of the answers, ascending by status, zero counts left out. */
  requests(): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i < COUNTED_STATUSES.length; i++) if (this.#statusCounts[i] > 0) out.push([COUNTED_STATUSES[i], this.#statusCounts[i]]);
    for (const e of this.#otherStatuses) out.push(e);
    return out.sort((a, b) => a[0] - b[0]);
  }

  /**
   * Every counter of the pair. Generic over the fields (numbers, the status map, histograms)
   * so that a counter added to this class is aggregated across workers without more code.
   */
  snapshot(): SeriesSnapshot {
    const counters: Record<string, number> = {};
    const histograms: Record<string, HistogramSnapshot> = {};
    for (const [k, v] of Object.entries(this)) {
      if (typeof v === 'number') counters[k] = v;
      else if (v instanceof Histogram) histograms[k] = v.snapshot();
    }
    return { virtualModel: this.virtualModel, target: this.target, requests: this.requests(), counters, histograms };
  }

  add(s: SeriesSnapshot): void {
    for (const [status, n] of s.requests) this.countRequest(status, n);
    const self = this as unknown as Record<string, unknown>;
    for (const [k, n] of Object.entries(s.counters)) if (typeof self[k] === 'number') self[k] = (self[k] as number) + n;
    for (const [k, h] of Object.entries(s.histograms)) if (self[k] instanceof Histogram) (self[k] as Histogram).add(h);
  }
}

export interface HistogramSnapshot {
  counts: number[];
  sum: number;
  count: number;
}

export interface SeriesSnapshot {
  virtualModel: string;
  target: string;
  requests: [number, number][];
  counters: Record<string, number>;
  histograms: Record<string, HistogramSnapshot>;
}

/** One process's metrics, JSON-safe (sent over the cluster IPC channel). */
export interface MetricsSnapshot {
  series: SeriesSnapshot[];
  reloadsOk: number;
  reloadsRejected: number;
  /** HTTP engine refusals by kind (`payload_too_large`, `bad_request`, …). */
  refusals: [string, number][];
  /** Gauges: only the snapshots of live processes count. */
  inFlight: number;
  rssBytes: number;
  /** Event-loop delay since start, seconds: p50, p99, max. */
  loopDelay: [number, number, number];
}

/** Event-loop delay as sampled by perf_hooks (nanoseconds). */
export interface LoopDelaySource {
  percentile(p: number): number;
  readonly max: number;
  readonly count?: number;
}

export class Metrics {
  #series = new Map<string, SeriesSet>();
  reloadsOk = 0;
  reloadsRejected = 0;
  /** Requests the HTTP engine answered itself (413, 400, 431, 421, 503 caps, 408), by kind. */
  readonly refusals = new Map<string, number>();
  inFlight = 0;
  /** Process gauges: set by {@link sampleProcess} (one process) or summed / maxed by {@link absorb}. */
  rssBytes = 0;
  loopDelay: [number, number, number] = [0, 0, 0];
  /** Cluster only (null in one process): live workers and worker restarts. */
  workers: number | null = null;
  workerRestarts = 0;
  #loop: LoopDelaySource | null = null;
  /** Sampling interval of #loop, nanoseconds. */
  #loopIntervalNs = 0;

  /** Samples this process's RSS (and event-loop delay, once {@link watchEventLoop} gave a source). */
  sampleProcess(): void {
    this.rssBytes = process.memoryUsage.rss();
    const h = this.#loop;
    if (h !== null && (h.count === undefined || h.count > 0)) {
      const late = (ns: number) => Math.max(0, Math.round(ns - this.#loopIntervalNs)) / 1e9;
      this.loopDelay = [late(h.percentile(50)), late(h.percentile(99)), late(h.max)];
    }
  }

  /**
   * The event-loop delay histogram of this process (perf_hooks.monitorEventLoopDelay, enabled
   * by the caller) and its sampling interval. The histogram records the time between samples,
   * interval included (an idle loop shows the interval itself); the gauge reports how late
   * the samples came: the delay beyond the interval.
   */
  watchEventLoop(source: LoopDelaySource | null, intervalMs = 0): void {
    this.#loop = source;
    this.#loopIntervalNs = intervalMs * 1e6;
  }

  /** This process's counters and gauges. */
  snapshot(): MetricsSnapshot {
    this.sampleProcess();
    return {
      series: [...this.#series.values()].map((s) => s.snapshot()),
      reloadsOk: this.reloadsOk,
      reloadsRejected: this.reloadsRejected,
      refusals: [...this.refusals],
      inFlight: this.inFlight,
      rssBytes: this.rssBytes,
      loopDelay: [...this.loopDelay],
    };
  }

  /**
   * Adds a snapshot's counters; with `gauges`, also its gauges (in-flight and RSS are summed,
   * event-loop delay is the worst process's). Exited workers are absorbed without gauges.
   */
  absorb(snap: MetricsSnapshot, gauges: boolean): void {
    for (const s of snap.series) this.series(s.virtualModel, s.target).add(s);
    this.reloadsOk += snap.reloadsOk;
    this.reloadsRejected += snap.reloadsRejected;
    for (const [kind, n] of snap.refusals ?? []) this.refusals.set(kind, (this.refusals.get(kind) ?? 0) + n);
    if (!gauges) return;
    this.inFlight += snap.inFlight;
    this.rssBytes += snap.rssBytes;
    for (let i = 0; i < 3; i++) this.loopDelay[i] = Math.max(this.loopDelay[i], snap.loopDelay[i]);
  }

  /** The series of a pair, created on first use. Cold: callers cache the result. */
  series(virtualModel: string, target: string): SeriesSet {
    const key = virtualModel + '\u0000' + target;
    let s = this.#series.get(key);
    if (s === undefined) {
      s = new SeriesSet(virtualModel, target);
      this.#series.set(key, s);
    }
    return s;
  }

  /** Counts a request the HTTP engine refused by itself: in `vmc_requests_total` ("" labels) and by kind. */
  countRefusal(status: number, kind: string): void {
    this.series('', '').countRequest(status);
    this.refusals.set(kind, (this.refusals.get(kind) ?? 0) + 1);
  }

  /** Prometheus text exposition (`sample`: first read this process's RSS and event-loop delay). */
  render(sample = true): string {
    if (sample) this.sampleProcess();
    const all = [...this.#series.values()].sort(
      (a, b) => compareStrings(a.virtualModel, b.virtualModel) || compareStrings(a.target, b.target),
    );
    const out: string[] = [];
    const pair = (s: SeriesSet) => `virtual_model="${esc(s.virtualModel)}",target="${esc(s.target)}"`;

    out.push('# HELP vmc_requests_total Requests answered by the gateway.', '# TYPE vmc_requests_total counter');
    for (const s of all) for (const [st, n] of s.requests()) out.push(`vmc_requests_total{${pair(s)},status="${st}"} ${n}`);

    out.push('# HELP vmc_upstream_latency_seconds Upstream latency: time to first body byte (ttfb) and to the end of the body (total).');
    out.push('# TYPE vmc_upstream_latency_seconds histogram');
    for (const s of all) {
      for (const [phase, h] of [
        ['ttfb', s.ttfb],
        ['total', s.total],
      ] as const) {
        if (h.count === 0) continue;
        let cum = 0;
        for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
          cum += h.counts[i];
          out.push(`vmc_upstream_latency_seconds_bucket{${pair(s)},phase="${phase}",le="${LATENCY_BUCKETS[i]}"} ${cum}`);
        }
        out.push(`vmc_upstream_latency_seconds_bucket{${pair(s)},phase="${phase}",le="+Inf"} ${h.count}`);
        out.push(`vmc_upstream_latency_seconds_sum{${pair(s)},phase="${phase}"} ${h.sum}`);
        out.push(`vmc_upstream_latency_seconds_count{${pair(s)},phase="${phase}"} ${h.count}`);
      }
    }

    out.push(
      '# HELP vmc_upstream_errors_total Upstream attempts that failed without a response.',
      '# TYPE vmc_upstream_errors_total counter',
    );
    for (const s of all) {
      if (s.networkErrors) out.push(`vmc_upstream_errors_total{${pair(s)},kind="network"} ${s.networkErrors}`);
      if (s.timeouts) out.push(`vmc_upstream_errors_total{${pair(s)},kind="timeout"} ${s.timeouts}`);
      if (s.ttftMisses) out.push(`vmc_upstream_errors_total{${pair(s)},kind="ttft"} ${s.ttftMisses}`);
    }
    counter(out, all, 'vmc_retries_total', 'Retries of the same target (tries after the first).', (s) => s.retries, pair);
    counter(out, all, 'vmc_fallbacks_total', 'Moves from a failed target to the next one.', (s) => s.fallbacks, pair);
    counter(out, all, 'vmc_cooldowns_total', 'Cooldowns opened after consecutive failures.', (s) => s.cooldowns, pair);
    counter(out, all, 'vmc_cooldown_skips_total', 'Targets skipped because they were cooling down.', (s) => s.cooldownSkips, pair);

    out.push('# HELP vmc_table_reloads_total Routing table reloads.', '# TYPE vmc_table_reloads_total counter');
    out.push(`vmc_table_reloads_total{result="ok"} ${this.reloadsOk}`);
    out.push(`vmc_table_reloads_total{result="rejected"} ${this.reloadsRejected}`);
    out.push(
      '# HELP vmc_http_refusals_total Requests the HTTP engine answered itself (also counted in vmc_requests_total).',
      '# TYPE vmc_http_refusals_total counter',
    );
    for (const kind of [...this.refusals.keys()].sort(compareStrings))
      out.push(`vmc_http_refusals_total{kind="${esc(kind)}"} ${this.refusals.get(kind)}`);
    out.push('# HELP vmc_in_flight_requests Requests being served.', '# TYPE vmc_in_flight_requests gauge');
    out.push(`vmc_in_flight_requests ${this.inFlight}`);
    out.push(
      `# HELP vmc_event_loop_delay_seconds Event-loop delay beyond the ${LOOP_DELAY_INTERVAL_MS} ms sampling interval, since the process started (with workers: the worst worker).`,
      '# TYPE vmc_event_loop_delay_seconds gauge',
    );
    out.push(`vmc_event_loop_delay_seconds{quantile="0.5"} ${this.loopDelay[0]}`);
    out.push(`vmc_event_loop_delay_seconds{quantile="0.99"} ${this.loopDelay[1]}`);
    out.push(`vmc_event_loop_delay_seconds{quantile="1"} ${this.loopDelay[2]}`);
    out.push(
      '# HELP process_resident_memory_bytes Resident memory (with workers: all processes).',
      '# TYPE process_resident_memory_bytes gauge',
    );
    out.push(`process_resident_memory_bytes ${this.rssBytes}`);
    if (this.workers !== null) {
      out.push('# HELP vmc_workers Worker processes serving.', '# TYPE vmc_workers gauge', `vmc_workers ${this.workers}`);
      out.push(
        '# HELP vmc_worker_restarts_total Worker processes restarted after an unexpected exit.',
        '# TYPE vmc_worker_restarts_total counter',
        `vmc_worker_restarts_total ${this.workerRestarts}`,
      );
    }
    return out.join('\n') + '\n';
  }
}

function counter(
  out: string[],
  all: SeriesSet[],
  name: string,
  help: string,
  get: (s: SeriesSet) => number,
  pair: (s: SeriesSet) => string,
): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
  for (const s of all) {
    const v = get(s);
    if (v > 0) out.push(`${name}{${pair(s)}} ${v}`);
  }
}

/** Label value escaping of the text format: backslash, double quote, newline. */
function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
