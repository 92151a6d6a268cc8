/**
 * The metrics of a `vmc bench` run (SPEC §11): the names thresholds and results.json use.
 * The SPEC's names are a subset; the rest are documented in docs/bench.md. A threshold naming
 * anything else is an invalid scenario (exit 2).
 */

const PCT = ['p50', 'p90', 'p95', 'p99', 'p999'] as const;

function family(prefix: string, unit: string, what: string, extra: string[] = []): [string, string][] {
  return [
    ...PCT.map((p) => [`${prefix}.${p}_${unit}`, `${what}, ${p === 'p999' ? '99.9th' : p.slice(1) + 'th'} percentile`] as [string, string]),
    ...extra.map((e) => [`${prefix}.${e}_${unit}`, `${what}, ${e}`] as [string, string]),
  ];
}

/** Metric name → one-line description (docs/bench.md lists the same). */
export const METRICS: Readonly<Record<string, string>> = Object.fromEntries([
  ['requests', 'requests sent in the measured gateway phases (no warm-up, no baseline)'],
  ['rps', 'requests completed per second'],
  ['goodput', 'successful (2xx, whole) responses per second'],
  ['errors.rate', 'share of requests that failed (status, network, timeout, broken stream), refusals the table predicts excluded'],
  ['errors.count', 'requests that failed'],
  ['errors.http_4xx', 'unexpected 4xx answers'],
  ['errors.http_5xx', '5xx answers'],
  ['errors.network', 'connection errors (refused, reset)'],
  ['errors.timeout', 'client timeouts (timeout_s)'],
  ['errors.stream', 'streams that broke or carried an SSE error event, and truncated JSON bodies'],
  ...family('latency', 'ms', 'latency (open loop: from the scheduled send to the last byte)', ['mean', 'max']),
  ...family('ttft', 'ms', 'time to first byte of streamed answers', ['mean']),
  ...family('itl', 'ms', 'gap between stream chunks'),
  ...family('overhead', 'ms', 'gateway latency minus baseline latency'),
  ['overhead.ttft_p50_ms', 'gateway minus baseline time to first byte of streams, median'],
  ['overhead.ttft_p99_ms', 'gateway minus baseline time to first byte of streams, 99th percentile'],
  ...family('baseline.latency', 'ms', 'baseline latency (straight to the simulated providers)'),
  ['baseline.ttft.p50_ms', 'baseline time to first byte of streams, median'],
  ['baseline.ttft.p99_ms', 'baseline time to first byte of streams, 99th percentile'],
  ['baseline.rps', 'baseline requests completed per second'],
  ['attempts.mean', 'mean of x-vmc-attempts'],
  ['attempts.max', 'largest x-vmc-attempts'],
  ['fallback.rate', "share of answers served by a target outside the request's primary pool (priority: outside its lowest tier)"],
  ['failover.p50_ms', 'latency of successful requests that needed more than one attempt, median'],
  ['failover.p99_ms', 'latency of successful requests that needed more than one attempt, 99th percentile'],
  ['routing.share_error_pp', 'largest |observed − expected| target share over all workload models, percentage points'],
  ['routing.share_ok', "1 when every model's observed shares pass a chi-square test against the expected shares (α = 0.001), else 0"],
  ['routing.p_value_min', 'smallest chi-square p-value over the models'],
  ['routing.unexpected_targets', 'successful answers served by a target the table gives no share for that request'],
  ['sticky.stability', 'share of sticky requests served by the target most used for their session key'],
  ['sticky.mismatches', 'sticky requests not served by the target their session key maps to'],
  ['access.denials', '403 answers'],
  ['access.mismatches', 'requests whose allow/deny outcome differs from what the table decides'],
  ['cooldown.detect_ms', 'after an outage starts: time until requests stop paying for the dead target (largest over outages)'],
  ['cooldown.recover_ms', 'after an outage ends: time until traffic returns to the target (largest over outages)'],
  ['gateway.cpu_us_per_req', "CPU time of the gateway's processes per request, µs (harness-started gateways)"],
  ['gateway.cpu_pct', "CPU of the gateway's processes during the measured phases, % of one core"],
  ['gateway.rss_mb', "largest resident memory of the gateway's processes, MB"],
  ['generator.cpu_pct', 'CPU of the load generator during the measured phases, % of one core'],
  ['generator.lag_p90_ms', 'open loop: how late requests were sent after their scheduled time, 90th percentile'],
  ['generator.lag_p99_ms', 'open loop: how late requests were sent after their scheduled time, 99th percentile'],
  ['generator.achieved_ratio', 'smallest achieved / asked rate over the open-loop phases'],
  ['sim.cpu_us_per_req', 'CPU time of the simulated providers per request they served, µs'],
  ['sweep.max_rps', 'sweep: the highest rate at which every threshold held'],
]);

/** Is `name` a known metric? */
export function isMetric(name: string): boolean {
  return Object.hasOwn(METRICS, name);
}
