/**
 * From recorded requests to the metrics of SPEC §11 (names in ./metric-names.ts): latency,
 * time to first byte and inter-token percentiles, errors by class, attempts and fallbacks,
 * the routing contract against the table's expectations (./expect.ts), sticky stability,
 * access decisions, cooldown timing, and the time series the reports chart.
 *
 * Conventions: latency percentiles are over successful requests (2xx, whole answer);
 * `errors.rate` counts every other outcome except refusals the table itself decides (a
 * 403 for a user path the config excludes is the config working, and shows in
 * `access.denials`). Shares are fractions; `routing.share_error_pp` is in percentage points.
 */
import type { SegmentOutput } from './generator.js';
import type { ClockRange, FaultBook, RequestFacts, RouteExpectations, RouteProfile } from './expect.js';
import type { PhaseMode, WorkloadPlan } from './plan.js';
import { ERR_4XX, ERR_5XX, ERR_NAMES, ERR_NETWORK, ERR_STREAM, ERR_TIMEOUT, OK } from './records.js';
import { chiSquare, LatencyHistogram, PERCENTILES, SHARE_ALPHA, type Summary } from './stats.js';

/** One segment of load as the run recorded it. */
export interface SegmentRun {
  /** Gateway name, or `baseline`. */
  target: string;
  phase: number;
  step: number;
  round: number;
  mode: PhaseMode;
  /** Asked rate of an open-loop segment (req/s), null for closed loops and traces. */
  rate: number | null;
  /** Position of the segment on its gateway's load clock, seconds. */
  clockStart: number;
  durationMs: number;
  outputs: SegmentOutput[];
  workload: WorkloadPlan[];
  /** Harness process CPU during the segment, µs; wall time, ms. */
  genCpuUs: number;
  wallMs: number;
  /** Gateway process-tree CPU during the segment, µs (NaN: not harness-started). */
  gwCpuUs: number;
  /** Largest gateway RSS sampled during the segment, bytes (NaN: unknown). */
  rssMax: number;
  /** Simulated providers' CPU during the segment, µs. */
  simCpuUs: number;
  threads: number;
}

export interface RoutingCell {
  expected: number;
  observed: number;
  count: number;
}

export interface ModelCheck {
  model: string;
  requests: number;
  chi2: number;
  df: number;
  p: number;
  ok: boolean;
  maxErrorPp: number;
}

export interface OutageResult {
  provider: string;
  models: string[] | null;
  what: string;
  from_s: number;
  to_s: number | null;
  detect_ms: number | null;
  recover_ms: number | null;
  /** Requests sent during the outage that paid for it (more than one attempt, or failed). */
  paid: number;
}

export interface TimelinePoint {
  t: number;
  requests: number;
  ok: number;
  errors: number;
  fallbacks: number;
  p50: number | null;
  p99: number | null;
  /** Successful answers per target label. */
  targets: Record<string, number>;
}

export interface Analysis {
  metrics: Record<string, number>;
  routing: Record<string, Record<string, RoutingCell>>;
  models: ModelCheck[];
  outages: OutageResult[];
  latency: Summary | null;
  ttft: Summary | null;
  itl: Summary | null;
  errors: Record<string, number>;
  timeline: { bucketS: number; points: TimelinePoint[] };
  /** Open-loop rate segments: asked vs achieved, and whether the generator was saturated. */
  /** Open-loop rate segments: asked vs achieved rate, and whether the generator was saturated. */
  rates: { phase: number; step: number; asked: number; achieved: number; genCpuPct: number; lagP99: number; saturated: boolean }[];
  /** Sticky requests per model: sessions seen. */
  stickySessions: number;
}

interface Bucket {
  requests: number;
  ok: number;
  errors: number;
  fallbacks: number;
  lat: number[];
  targets: Record<string, number>;
}

const put = (m: Record<string, number>, k: string, v: number | null | undefined) => {
  if (v !== null && v !== undefined && Number.isFinite(v)) m[k] = v;
};

function percentilesInto(m: Record<string, number>, prefix: string, s: Summary | null, extra: ('mean' | 'max')[] = []): void {
  if (s === null) return;
  for (const [k] of PERCENTILES) put(m, `${prefix}.${k}_ms`, (s as unknown as Record<string, number>)[k]);
  for (const e of extra) put(m, `${prefix}.${e}_ms`, s[e]);
}

function q(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export interface AnalyzeOptions {
  exp: RouteExpectations | null;
  faults: FaultBook;
  /** Load-clock ranges of each phase step, by `${phase}/${step}` (expected shares per phase). */
  ranges: Map<string, ClockRange>;
  /** Total load-clock length (cooldown: an outage that ends before it can show recovery). */
  clockEnd: number;
  /** Sequence numbers whose routing the table refuses … are decided per request; none needed here. */
}

/** Facts of request n of entry w, as the table reads them (templates rendered). */
export function requestFacts(w: WorkloadPlan, n: number): RequestFacts {
  const headers: Record<string, string> = {};
  for (const [k, t] of w.headers) headers[k] = t.render(n);
  const metadata = w.metadata === null ? null : Object.fromEntries(w.metadata.map(([k, t]) => [k, t.render(n)]));
  const userPath = w.userPath === null ? null : w.userPath.render(n);
  return { headers, metadata, userPath };
}

/** Analyzes the segments of one target (a gateway, or the baseline). */
export function analyze(segments: readonly SegmentRun[], opts: AnalyzeOptions): Analysis {
  const { exp } = opts;
  const lat = new LatencyHistogram();
  const ttft = new LatencyHistogram();
  const itl = new LatencyHistogram();
  const failover = new LatencyHistogram();
  const lag: number[] = [];
  const errors: Record<string, number> = Object.fromEntries(ERR_NAMES.slice(1).map((k) => [k, 0]));
  let requests = 0;
  let completed = 0;
  let okCount = 0;
  let expectedRefusals = 0;
  let attemptsSum = 0;
  let attemptsN = 0;
  let attemptsMax = 0;
  let fbNum = 0;
  let fbDen = 0;
  let denials = 0;
  let accessMismatch = 0;
  let unexpected = 0;
  let stickyMismatch = 0;
  let wallMs = 0;
  let genCpu = 0;
  let gwCpu = 0;
  let rss = NaN;
  let simCpu = 0;
  let upstreamRequests = 0;
  /** Did any answer carry x-vmc-* headers? (a gateway that sends none has no routing metrics) */
  let vmcHeaders = false;
  const perModel = new Map<string, { exp: Map<string, number>; obs: Map<string, number>; n: number }>();
  const sticky = new Map<string, Map<string, number>>();
  const clockEnd = opts.clockEnd;
  const bucketS = Math.max(0.25, niceBucket(clockEnd / 120));
  const buckets: Bucket[] = [];
  const rates: Analysis['rates'] = [];
  // Cooldown scan input: (clock time, paid, dead share, target, ok) per request (only when outages are declared).
  const scanOutages = exp !== null && opts.faults.outages().length > 0;
  const timeline: { t: number; paid: boolean; profile: RouteProfile | null; target: string | null; ok: boolean }[] = [];

  for (const seg of segments) {
    wallMs += seg.wallMs;
    genCpu += seg.genCpuUs;
    gwCpu += seg.gwCpuUs;
    simCpu += seg.simCpuUs;
    if (Number.isFinite(seg.rssMax)) rss = Number.isFinite(rss) ? Math.max(rss, seg.rssMax) : seg.rssMax;
    const range = opts.ranges.get(`${seg.phase}/${seg.step}`) ?? { from: seg.clockStart, to: seg.clockStart + seg.durationMs / 1000 };
    const open = seg.rate !== null || seg.mode === 'trace' || seg.mode === 'ramp';
    let lastSent = 0;
    let sentCount = 0;
    const segLag: number[] = [];
    for (const out of seg.outputs) {
      const c = out.cols;
      for (const g of out.itl) itl.record(g);
      for (let i = 0; i < out.count; i++) {
        requests++;
        const entry = seg.workload[c.entry[i]];
        const status = c.status[i];
        const err = c.err[i];
        const e2e = c.end[i] - c.sched[i];
        if (open) {
          const l = c.sent[i] - c.sched[i];
          lag.push(l);
          segLag.push(l);
          sentCount++;
          if (c.sent[i] > lastSent) lastSent = c.sent[i];
        }
        if (c.end[i] === c.end[i]) completed++;
        const attempts = c.attempts[i];
        if (attempts >= 0) {
          attemptsSum += attempts;
          attemptsN++;
          if (attempts > attemptsMax) attemptsMax = attempts;
          upstreamRequests += attempts;
        } else upstreamRequests++;
        const target = c.target[i] >= 0 ? out.targets[c.target[i]] : null;
        if (attempts >= 0) vmcHeaders = true;
        const t = seg.clockStart + c.sched[i] / 1000;
        let profile: RouteProfile | null = null;
        if (exp !== null && entry !== undefined && attempts >= 0) profile = exp.profile(entry, requestFacts(entry, c.seq[i]));
        const refusedByGateway = attempts === 0 && target === null;
        const expectedRefusal = profile !== null && profile.status !== 200 && status === profile.status && refusedByGateway;
        if (status === 403) denials++;
        if (profile !== null) {
          if (profile.status !== 200 && status !== 0 && status !== profile.status) accessMismatch++;
          else if (profile.status === 200 && refusedByGateway && (status === 403 || status === 404)) accessMismatch++;
        }
        if (expectedRefusal) expectedRefusals++;
        else if (err !== OK) errors[ERR_NAMES[err]]++;
        const ok = err === OK && status >= 200 && status < 300;
        if (ok) {
          okCount++;
          lat.record(e2e);
          if (entry?.stream) ttft.record(c.ttfb[i] - c.sched[i]);
          if (attempts > 1) failover.record(e2e);
        }
        // routing
        let fellBack = false;
        if (ok && target !== null && profile !== null && profile.status === 200) {
          const idx = profile.targets.findIndex((x) => x.label === target);
          fbDen++;
          if (idx < 0 || !profile.targets[idx].pickable) {
            fbNum++;
            fellBack = true;
          }
          if (profile.known) {
            const e = exp!.expected(profile, range);
            if (e.size > 0) {
              let m = perModel.get(entry.model);
              if (m === undefined) perModel.set(entry.model, (m = { exp: new Map(), obs: new Map(), n: 0 }));
              m.n++;
              for (const [label, share] of e) m.exp.set(label, (m.exp.get(label) ?? 0) + share);
              m.obs.set(target, (m.obs.get(target) ?? 0) + 1);
              const pServed = e.get(target) ?? 0;
              if (pServed === 0) unexpected++;
              if (profile.sticky && pServed < 1) stickyMismatch++;
            }
          }
          if (profile.sticky) {
            const key = `${entry.model}\u0000${JSON.stringify(requestFacts(entry, c.seq[i]))}`;
            let s = sticky.get(key);
            if (s === undefined) sticky.set(key, (s = new Map()));
            s.set(target, (s.get(target) ?? 0) + 1);
          }
        }
        if (scanOutages) timeline.push({ t, paid: !expectedRefusal && (attempts > 1 || err !== OK), profile, target, ok });
        // time series
        const b = Math.max(0, Math.floor(t / bucketS));
        while (buckets.length <= b) buckets.push({ requests: 0, ok: 0, errors: 0, fallbacks: 0, lat: [], targets: {} });
        const bk = buckets[b];
        bk.requests++;
        if (ok) {
          bk.ok++;
          bk.lat.push(e2e);
          if (target !== null) bk.targets[target] = (bk.targets[target] ?? 0) + 1;
        } else if (!expectedRefusal) bk.errors++;
        if (fellBack) bk.fallbacks++;
      }
    }
    if (seg.rate !== null) {
      const asked = seg.rate;
      // Sent requests over the time it took to send them (a generator that falls behind
      // stretches the phase); the schedule is the whole phase.
      const achieved = sentCount / (Math.max(seg.durationMs, lastSent) / 1000);
      segLag.sort((a, b) => a - b);
      const lagP99 = q(segLag, 99) ?? 0;
      const lagP90 = q(segLag, 90) ?? 0;
      const genCpuPct = seg.wallMs > 0 ? (seg.genCpuUs / 1000 / seg.wallMs) * 100 : 0;
      rates.push({
        phase: seg.phase,
        step: seg.step,
        asked,
        achieved,
        genCpuPct,
        lagP99,
        // Saturated: its CPU is used up, or it sends persistently late (not one stall: a tenth
        // of the requests more than 20 ms or two intervals behind their schedule).
        saturated: genCpuPct >= 90 * seg.threads || lagP90 >= Math.max(20, 2000 / asked),
      });
    }
  }

  const m: Record<string, number> = {};
  put(m, 'requests', requests);
  const seconds = segments.reduce((s, x) => s + x.durationMs / 1000, 0);
  if (seconds > 0) {
    put(m, 'rps', completed / seconds);
    put(m, 'goodput', okCount / seconds);
  }
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
  if (requests > 0) {
    put(m, 'errors.rate', errorCount / requests);
    put(m, 'errors.count', errorCount);
    for (const [k, v] of Object.entries(errors)) put(m, `errors.${k}`, v);
  }
  const latS = lat.summary();
  const ttftS = ttft.summary();
  const itlS = itl.summary();
  percentilesInto(m, 'latency', latS, ['mean', 'max']);
  percentilesInto(m, 'ttft', ttftS, ['mean']);
  percentilesInto(m, 'itl', itlS);
  if (attemptsN > 0) {
    put(m, 'attempts.mean', attemptsSum / attemptsN);
    put(m, 'attempts.max', attemptsMax);
  }
  const fo = failover.summary();
  if (fo !== null) {
    put(m, 'failover.p50_ms', fo.p50);
    put(m, 'failover.p99_ms', fo.p99);
  }

  // routing contract
  const routing: Analysis['routing'] = {};
  const models: ModelCheck[] = [];
  let maxErr = 0;
  for (const [model, r] of perModel) {
    const labels = [...new Set([...r.exp.keys(), ...r.obs.keys()])].sort();
    const cells: Record<string, RoutingCell> = {};
    let modelErr = 0;
    const observed: number[] = [];
    const expected: number[] = [];
    for (const label of labels) {
      const e = (r.exp.get(label) ?? 0) / r.n;
      const o = (r.obs.get(label) ?? 0) / r.n;
      cells[label] = { expected: e, observed: o, count: r.obs.get(label) ?? 0 };
      modelErr = Math.max(modelErr, Math.abs(o - e) * 100);
      observed.push(r.obs.get(label) ?? 0);
      expected.push(r.exp.get(label) ?? 0);
    }
    const chi = chiSquare(observed, expected);
    routing[model] = cells;
    models.push({ model, requests: r.n, chi2: chi.statistic, df: chi.df, p: chi.p, ok: chi.p >= SHARE_ALPHA, maxErrorPp: modelErr });
    maxErr = Math.max(maxErr, modelErr);
  }
  if (models.length > 0) {
    put(m, 'routing.share_error_pp', maxErr);
    put(m, 'routing.share_ok', models.every((x) => x.ok) ? 1 : 0);
    put(m, 'routing.p_value_min', Math.min(...models.map((x) => x.p)));
  }
  if (exp !== null && fbDen > 0) put(m, 'routing.unexpected_targets', unexpected);
  if (vmcHeaders && fbDen > 0) put(m, 'fallback.rate', fbNum / fbDen);
  if (sticky.size > 0) {
    let top = 0;
    let all = 0;
    for (const s of sticky.values()) {
      let best = 0;
      for (const v of s.values()) {
        all += v;
        best = Math.max(best, v);
      }
      top += best;
    }
    put(m, 'sticky.stability', top / all);
    put(m, 'sticky.mismatches', stickyMismatch);
  }
  if (exp !== null && vmcHeaders) {
    put(m, 'access.denials', denials);
    put(m, 'access.mismatches', accessMismatch);
  }

  // cooldown timing
  const outages = exp === null || !vmcHeaders ? [] : cooldowns(timeline, opts, exp);
  const detect = outages.map((o) => o.detect_ms);
  const recover = outages.filter((o) => o.to_s !== null).map((o) => o.recover_ms);
  if (detect.length > 0 && detect.every((x) => x !== null)) put(m, 'cooldown.detect_ms', Math.max(...(detect as number[])));
  if (recover.length > 0 && recover.every((x) => x !== null)) put(m, 'cooldown.recover_ms', Math.max(...(recover as number[])));

  // processes
  if (Number.isFinite(gwCpu) && requests > 0 && wallMs > 0) {
    put(m, 'gateway.cpu_us_per_req', gwCpu / Math.max(1, completed));
    put(m, 'gateway.cpu_pct', (gwCpu / 1000 / wallMs) * 100);
  }
  if (Number.isFinite(rss)) put(m, 'gateway.rss_mb', rss / (1024 * 1024));
  if (wallMs > 0) put(m, 'generator.cpu_pct', (genCpu / 1000 / wallMs) * 100);
  if (lag.length > 0) {
    lag.sort((a, b) => a - b);
    put(m, 'generator.lag_p90_ms', q(lag, 90));
    put(m, 'generator.lag_p99_ms', q(lag, 99));
  }
  if (rates.length > 0) put(m, 'generator.achieved_ratio', Math.min(...rates.map((r) => r.achieved / r.asked)));
  if (upstreamRequests > 0 && simCpu > 0) put(m, 'sim.cpu_us_per_req', simCpu / upstreamRequests);

  const points: TimelinePoint[] = buckets.map((b, i) => {
    b.lat.sort((x, y) => x - y);
    return {
      t: i * bucketS,
      requests: b.requests,
      ok: b.ok,
      errors: b.errors,
      fallbacks: b.fallbacks,
      p50: q(b.lat, 50),
      p99: q(b.lat, 99),
      targets: b.targets,
    };
  });
  return {
    metrics: m,
    routing,
    models,
    outages,
    latency: latS,
    ttft: ttftS,
    itl: itlS,
    errors,
    timeline: { bucketS, points },
    rates,
    stickySessions: sticky.size,
  };
}

function niceBucket(x: number): number {
  for (const b of [0.25, 0.5, 1, 2, 5, 10, 15, 30, 60]) if (x <= b) return b;
  return 60;
}

/**
 * Cooldown timing per declared outage (SPEC §11): `detect` = from the outage start to the
 * last request that still paid for the dead target (more than one attempt, or failed) before
 * a stretch of requests that would have paid ten times over without a cooldown paid nothing;
 * `recover` = from the outage end to the first success served by a target of the provider.
 */
function cooldowns(
  timeline: { t: number; paid: boolean; profile: RouteProfile | null; target: string | null; ok: boolean }[],
  opts: AnalyzeOptions,
  exp: RouteExpectations,
): OutageResult[] {
  const out: OutageResult[] = [];
  const sorted = [...timeline].sort((a, b) => a.t - b.t);
  for (const o of opts.faults.outages()) {
    if (o.from >= opts.clockEnd) continue;
    const dead = new Set<string>();
    for (const r of sorted) {
      if (r.profile === null) continue;
      for (const t of r.profile.targets)
        if (t.provider === o.provider && (o.models === null || o.models.includes(t.model))) dead.add(t.label);
    }
    if (dead.size === 0) continue;
    let lastPay = o.from;
    let quiet = 0;
    let detect: number | null = null;
    let paid = 0;
    const to = Math.min(o.to, opts.clockEnd);
    for (const r of sorted) {
      if (r.t < o.from) continue;
      if (r.t >= to) break;
      if (r.paid) {
        paid++;
        lastPay = r.t;
        quiet = 0;
      } else if (r.profile !== null) {
        quiet += exp.deadShare(r.profile, { from: r.t, to: r.t }, dead);
        if (quiet >= 10) {
          detect = Math.round((lastPay - o.from) * 1e4) / 10;
          break;
        }
      }
    }
    let recover: number | null = null;
    const ended = o.to < opts.clockEnd;
    if (ended) {
      for (const r of sorted) {
        if (r.t < o.to) continue;
        if (r.ok && r.target !== null && dead.has(r.target)) {
          recover = Math.round((r.t - o.to) * 1e4) / 10;
          break;
        }
      }
    }
    const f = o.fault;
    out.push({
      provider: o.provider,
      models: o.models,
      what: f.kind ?? `status ${f.status}`,
      from_s: o.from,
      to_s: ended ? o.to : null,
      detect_ms: detect,
      recover_ms: recover,
      paid,
    });
  }
  return out;
}

export { ERR_4XX, ERR_5XX, ERR_NETWORK, ERR_STREAM, ERR_TIMEOUT };
