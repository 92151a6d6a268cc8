/**
 * Thresholds (SPEC §11): `metric <op> number` with `<`, `<=`, `>`, `>=`, `==`. A metric may be
 * prefixed with a gateway name (`vmc.latency.p99_ms`) when the scenario lists several
 * gateways; without a prefix the threshold must hold for every gateway.
 */
import { isMetric } from './metric-names.js';

export type Op = '<' | '<=' | '>' | '>=' | '==';

export interface Threshold {
  /** As written (kept verbatim in results.json). */
  expr: string;
  /** Where it is written (annotations point there); absent for thresholds built in code. */
  span?: { file: string; start: number; end: number };
  /** Gateway prefix, or null. */
  gateway: string | null;
  metric: string;
  op: Op;
  value: number;
}

export type ThresholdParse =
  | { ok: true; threshold: Threshold }
  | { ok: false; error: 'syntax' }
  | { ok: false; error: 'metric'; metric: string }
  | { ok: false; error: 'gateway'; gateway: string };

const RE = /^\s*([A-Za-z][A-Za-z0-9_.-]*)\s*(<=|>=|==|<|>)\s*(-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*$/;

/** Parses one threshold; `gateways` are the scenario's gateway names (prefixes). */
export function parseThreshold(expr: string, gateways: readonly string[]): ThresholdParse {
  const m = RE.exec(expr);
  if (m === null) return { ok: false, error: 'syntax' };
  let name = m[1];
  let gateway: string | null = null;
  if (!isMetric(name)) {
    const dot = name.indexOf('.');
    const prefix = dot > 0 ? name.slice(0, dot) : '';
    const rest = dot > 0 ? name.slice(dot + 1) : '';
    if (gateways.includes(prefix) && isMetric(rest)) {
      gateway = prefix;
      name = rest;
    } else if (dot > 0 && isMetric(rest) && !gateways.includes(prefix)) {
      return { ok: false, error: 'gateway', gateway: prefix };
    } else return { ok: false, error: 'metric', metric: name };
  }
  return { ok: true, threshold: { expr, gateway, metric: name, op: m[2] as Op, value: Number(m[3]) } };
}

/** Does `value` satisfy the threshold? */
export function holds(t: Threshold, value: number): boolean {
  switch (t.op) {
    case '<':
      return value < t.value;
    case '<=':
      return value <= t.value;
    case '>':
      return value > t.value;
    case '>=':
      return value >= t.value;
    case '==':
      return value === t.value;
  }
}

/** One evaluated threshold as results.json holds it. */
export interface ThresholdResult {
  expr: string;
  span?: { file: string; start: number; end: number };
  value: number | null;
  ok: boolean;
  /** The gateway whose value decided (several gateways, no prefix: the worst one). */
  gateway?: string;
}

/**
 * Evaluates thresholds over per-gateway metrics (`metricsByGateway` in scenario order). A
 * metric without a value → ok false, value null (SPEC §11).
 */
export function evaluateThresholds(
  thresholds: readonly Threshold[],
  metricsByGateway: readonly { name: string; metrics: Record<string, number> }[],
): ThresholdResult[] {
  return thresholds.map((t) => {
    const scope = t.gateway === null ? metricsByGateway : metricsByGateway.filter((g) => g.name === t.gateway);
    let worst: ThresholdResult | null = null;
    for (const g of scope) {
      const v = Object.hasOwn(g.metrics, t.metric) ? g.metrics[t.metric] : undefined;
      const r: ThresholdResult =
        v === undefined || !Number.isFinite(v) ? { expr: t.expr, value: null, ok: false } : { expr: t.expr, value: v, ok: holds(t, v) };
      if (metricsByGateway.length > 1) r.gateway = g.name;
      if (worst === null || (worst.ok && !r.ok)) worst = r;
    }
    const r = worst ?? { expr: t.expr, value: null, ok: false };
    if (t.span !== undefined) r.span = t.span;
    return r;
  });
}
