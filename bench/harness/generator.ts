/**
 * The load generator (SPEC §11 `load:`): sends one segment of load — an open-loop schedule
 * or a closed loop of N clients — and records every request (./records.ts).
 *
 * Open loop: request k is due at t0 + schedule(k); the timer loop sends every due request
 * and records its scheduled time; latency and time to first byte are measured from that
 * time, so a stall anywhere (generator, gateway, upstream) shows in the latency of every
 * request that was due meanwhile (no coordinated omission). `sent − sched` is the
 * generator's own lateness (`generator.lag_p99_ms`). Connections are not capped by default:
 * an open loop must not queue inside its client.
 *
 * Closed loop: `connections` clients, each sending its next request when its previous one
 * finished (plus `think_ms`); latency from the actual send.
 *
 * Requests go out through undici's dispatcher API with a handler object per request (no
 * streams, no promises per chunk): the response's status, `x-vmc-target`,
 * `x-vmc-attempts`, first and last body byte, stream chunk gaps and SSE `error` events are
 * recorded as they arrive.
 *
 * Request n (the sequence number of SPEC §11 templates) picks its workload entry from a
 * keyed draw (sim/random.ts `hash01`), so the mix is the same however the load is split
 * across threads. A run with T threads gives thread i the requests with k % T == i.
 */
import { Pool, type Dispatcher } from 'undici';
import { hash01 } from '../sim/random.js';
import { SEQ_HEADER } from '../sim/server.js';
import { ERR_4XX, ERR_5XX, ERR_NETWORK, ERR_STREAM, ERR_TIMEOUT, F64List, Records, type RecordColumns } from './records.js';
import type { RequestSpec } from './requests.js';
import { Schedule, type ScheduleSpec } from './schedule.js';
import { parseTemplate, type Template } from './template.js';

export const SALT_MIX = 31;
export const SALT_ROUTE = 32;

/** One segment of load for one origin. Plain data (worker threads receive it). */
export interface SegmentInput {
  /** Per workload entry: alternatives (the baseline picks a target per request), with cumulative weights. */
  specs: RequestSpec[][];
  altCum: number[][];
  /** Cumulative entry weights of the mix; null when the schedule (a trace) names the entry. */
  mixCum: number[] | null;
  /** trace: entry of each scheduled request. */
  traceEntries: Int32Array | null;
  seed: number;
  /** Sequence number of the segment's first request. */
  n0: number;
  schedule: ScheduleSpec | null;
  closed: { connections: number; durationMs: number; thinkMs: number } | null;
  timeoutMs: number;
  maxConnections: number | null;
  thread: number;
  threads: number;
  /** Record requests (false: warm-up). */
  record: boolean;
}

export interface SegmentOutput {
  thread: number;
  count: number;
  cols: RecordColumns;
  targets: string[];
  itl: Float64Array;
  /** Highest sequence number used + 1 (closed loops). */
  nEnd: number;
  /** performance.timeOrigin + t0 of the segment, ms since epoch. */
  t0Epoch: number;
  wallMs: number;
}

/** Live counters shared with the main thread: [sent, done, failed]. */
export type Progress = Int32Array;

const pools = new Map<string, Pool>();

/** The undici pool of an origin, kept across segments (warm connections). */
function poolFor(origin: string, maxConnections: number | null): Pool {
  const key = `${origin} ${maxConnections}`;
  let p = pools.get(key);
  if (p === undefined) {
    p = new Pool(origin, {
      connections: maxConnections,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      keepAliveMaxTimeout: 600_000,
      connect: { timeout: 10_000 },
    });
    pools.set(key, p);
  }
  return p;
}

export async function closePools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.destroy().catch(() => undefined)));
}

function pick(cum: readonly number[], u: number): number {
  const total = cum[cum.length - 1];
  const x = u * total;
  for (let i = 0; i < cum.length; i++) if (cum[i] > x) return i;
  return cum.length - 1;
}

interface Compiled {
  spec: RequestSpec;
  pool: Pool;
  body: Buffer;
  templates: [string, Template][];
  metadata: [string, Template][] | null;
  metadataStatic: string | null;
  userPath: Template | null;
}

function compile(spec: RequestSpec, maxConnections: number | null): Compiled {
  const metadata = spec.metadata === null ? null : spec.metadata.map(([k, s]) => [k, parseTemplate(s)] as [string, Template]);
  const metadataStatic =
    metadata !== null && metadata.every(([, t]) => t.constant)
      ? JSON.stringify(Object.fromEntries(metadata.map(([k, t]) => [k, t.render(0)])))
      : null;
  return {
    spec,
    pool: poolFor(spec.origin, maxConnections),
    body: Buffer.from(spec.body),
    templates: spec.templates.map(([k, s]) => [k, parseTemplate(s)]),
    metadata,
    metadataStatic,
    userPath: spec.userPath === null ? null : parseTemplate(spec.userPath),
  };
}

const ERROR_EVENT = Buffer.from('event: error');

/** Sends one segment; resolves when every request it sent has finished. */
export function runSegment(input: SegmentInput, progress: Progress | null): Promise<SegmentOutput> {
  const specs = input.specs.map((alts) => alts.map((s) => compile(s, input.maxConnections)));
  const rec = new Records(
    input.schedule !== null ? Math.max(1024, Math.ceil(new Schedule(input.schedule, input.seed).expected() / input.threads) + 16) : 4096,
  );
  const itl = new F64List();
  const targets: string[] = [];
  const targetIds = new Map<string, number>();
  const { seed, record } = input;
  const t0 = performance.now() + 2;
  let inFlight = 0;
  let nEnd = input.n0;
  let finishedSending = false;
  let resolveDone: () => void = () => undefined;
  const done = new Promise<void>((r) => (resolveDone = r));
  const maybeDone = () => {
    if (finishedSending && inFlight === 0) resolveDone();
  };

  const intern = (s: string): number => {
    let id = targetIds.get(s);
    if (id === undefined) {
      id = targets.length;
      targets.push(s);
      targetIds.set(s, id);
    }
    return id;
  };

  /** Sends request n (entry chosen here) scheduled at `schedMs`; `after` runs when it finished. */
  const send = (n: number, schedMs: number, traceEntry: number, after: (() => void) | null): void => {
    const entry = traceEntry >= 0 ? traceEntry : pick(input.mixCum!, hash01(seed, n, SALT_MIX));
    const alts = specs[entry];
    if (alts.length === 0) {
      after?.();
      return;
    }
    const c = alts.length === 1 ? alts[0] : alts[pick(input.altCum[entry], hash01(seed, n, SALT_ROUTE))];
    const spec = c.spec;
    const headers = spec.headers.slice();
    for (const [k, t] of c.templates) headers.push(k, t.render(n));
    if (c.metadata !== null) {
      headers.push('x-vmc-metadata', c.metadataStatic ?? JSON.stringify(Object.fromEntries(c.metadata.map(([k, t]) => [k, t.render(n)]))));
    }
    if (c.userPath !== null) headers.push('x-vmc-user-path', c.userPath.render(n));
    headers.push(SEQ_HEADER, String(n));
    const i = record ? rec.add() : -1;
    const cols = rec.cols;
    const now = performance.now() - t0;
    if (i >= 0) {
      cols.seq[i] = n;
      cols.entry[i] = entry;
      cols.sched[i] = schedMs;
      cols.sent[i] = now;
    }
    inFlight++;
    if (progress !== null) Atomics.add(progress, 0, 1);
    let last = NaN;
    let stream = false;
    let tail = 0;
    let gotStatus = false;
    let failed = false;
    const finish = (err: number) => {
      const t = performance.now() - t0;
      if (i >= 0) {
        const c2 = rec.cols;
        c2.end[i] = t;
        if (err !== 0) c2.err[i] = err;
      }
      if (progress !== null) {
        Atomics.add(progress, 1, 1);
        if (err !== 0) Atomics.add(progress, 2, 1);
      }
      inFlight--;
      if (after !== null) after();
      else maybeDone();
    };
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart() {},
      onResponseStart(_controller, statusCode, h) {
        gotStatus = true;
        const ct = h['content-type'];
        stream = typeof ct === 'string' && ct.startsWith('text/event-stream');
        if (i >= 0) {
          const c2 = rec.cols;
          c2.status[i] = statusCode;
          const target = h['x-vmc-target'];
          if (typeof target === 'string' && target !== '') c2.target[i] = intern(target);
          const attempts = h['x-vmc-attempts'];
          if (typeof attempts === 'string') c2.attempts[i] = Number(attempts) | 0;
        }
        if (statusCode >= 400) failed = true;
      },
      onResponseData(_controller, chunk) {
        const t = performance.now() - t0;
        if (i >= 0) {
          const c2 = rec.cols;
          if (last !== last) c2.ttfb[i] = t;
          else if (stream && spec.stream) itl.push(t - last);
          c2.chunks[i]++;
        }
        last = t;
        if (stream) {
          if (chunk.indexOf(ERROR_EVENT) >= 0) failed = true;
        } else {
          for (let j = chunk.length - 1; j >= 0; j--) {
            const b = chunk[j];
            if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) {
              tail = b;
              break;
            }
          }
        }
      },
      onResponseEnd() {
        let err = 0;
        if (i >= 0) {
          const c2 = rec.cols;
          const st = c2.status[i];
          if (c2.ttfb[i] !== c2.ttfb[i]) c2.ttfb[i] = performance.now() - t0;
          if (st >= 500) err = ERR_5XX;
          else if (st >= 400) err = ERR_4XX;
          else if (failed || (!stream && tail !== 0 && tail !== 0x7d && tail !== 0x5d)) err = ERR_STREAM;
        } else if (failed) err = ERR_STREAM;
        finish(err);
      },
      onResponseError(_controller, e) {
        const code = (e as { code?: string }).code ?? '';
        const timeout = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT';
        finish(timeout ? ERR_TIMEOUT : gotStatus ? ERR_STREAM : ERR_NETWORK);
      },
    };
    c.pool.dispatch(
      {
        path: spec.path,
        method: 'POST',
        headers,
        body: c.body,
        headersTimeout: input.timeoutMs,
        bodyTimeout: input.timeoutMs,
        blocking: false,
      },
      handler,
    );
  };

  if (input.schedule !== null) {
    const schedule = new Schedule(input.schedule, seed);
    const T = input.threads;
    const me = input.thread;
    let k = 0;
    let next = schedule.next();
    const tick = () => {
      const now = performance.now() - t0;
      while (next === next && next <= now) {
        if (k % T === me) send(input.n0 + k, next, input.traceEntries !== null ? input.traceEntries[k] : -1, null);
        k++;
        next = schedule.next();
      }
      if (next !== next) {
        nEnd = input.n0 + k;
        finishedSending = true;
        maybeDone();
        return;
      }
      setTimeout(tick, Math.max(0, next - (performance.now() - t0) - 0.25));
    };
    setTimeout(tick, 0);
  } else {
    const { connections, durationMs, thinkMs } = input.closed!;
    const T = input.threads;
    let c = 0;
    let clients = 0;
    const loop = () => {
      const now = performance.now() - t0;
      if (now >= durationMs) {
        if (--clients === 0) {
          finishedSending = true;
          maybeDone();
        }
        return;
      }
      const n = input.n0 + c++ * T + input.thread;
      nEnd = Math.max(nEnd, n + 1);
      send(n, now, -1, thinkMs > 0 ? () => setTimeout(loop, thinkMs) : () => setImmediate(loop));
    };
    const mine = Math.floor(connections / T) + (input.thread < connections % T ? 1 : 0);
    clients = mine;
    if (mine === 0) {
      finishedSending = true;
      maybeDone();
    }
    for (let j = 0; j < mine; j++) setTimeout(loop, 0);
  }

  return done.then(() => ({
    thread: input.thread,
    count: rec.n,
    cols: rec.trimmed(),
    targets,
    itl: itl.values(),
    nEnd,
    t0Epoch: performance.timeOrigin + t0,
    wallMs: performance.now() - t0,
  }));
}

/** Transfer list of a segment output (its typed arrays move, not copy). */
export function transferables(o: SegmentOutput): ArrayBuffer[] {
  return [...Object.values(o.cols).map((a: { buffer: ArrayBufferLike }) => a.buffer as ArrayBuffer), o.itl.buffer as ArrayBuffer];
}
