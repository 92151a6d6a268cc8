/**
 * results.json (SPEC §11), version 1. Documented field by field in docs/bench.md:
 *
 *   version, scenario {name, file, description}, started_at, seconds, seed, exit_code,
 *   metrics {name: number}            one gateway: its metrics; several: keys prefixed `name.`
 *   thresholds [{expr, value, ok}]    one per scenario threshold, in order
 *   routing {model: {"provider/model": {expected, observed, count}}}
 *                                     several gateways: keys `name.model`
 *   checks [{check, ok, detail}]      the routing contract, pass/fail with numbers
 *   gateways {name: {how, mode, metrics, routing, models, outages, latency, ttft, itl,
 *                    errors, timeline}}
 *   baseline {metrics, latency, ttft} | null
 *   phases [{label, mode, duration_s, …}], sweep [{rate, ok, metrics}] | null,
 *   simulated_providers [{name, engine, requests, outcomes}], machine, generator, trouble
 *
 * Numbers are plain JSON numbers; a metric without data in this run is absent from
 * `metrics` (and a threshold on it has `value: null, ok: false`).
 */
import { relative } from 'node:path';
import type { Analysis, ModelCheck } from './analyze.js';
import type { RunResult } from './run.js';
import { SHARE_ALPHA } from './stats.js';

export interface Check {
  check: string;
  ok: boolean;
  detail: string;
}

export interface ResultsJson {
  version: 1;
  scenario: { name: string; file: string; description: string };
  started_at: string;
  seconds: number;
  seed: number;
  exit_code: number;
  metrics: Record<string, number>;
  thresholds: { expr: string; value: number | null; ok: boolean; gateway?: string }[];
  routing: Record<string, Record<string, { expected: number; observed: number; count: number }>>;
  checks: Check[];
  gateways: Record<string, GatewayJson>;
  baseline: { metrics: Record<string, number>; latency: Analysis['latency']; ttft: Analysis['ttft'] } | null;
  phases: {
    label: string;
    mode: string;
    duration_s: number | null;
    rate?: number;
    connections?: number;
    from?: number;
    to?: number;
    rates?: number[];
  }[];
  sweep: { rate: number; ok: Record<string, boolean>; metrics: Record<string, Record<string, number>> }[] | null;
  simulated_providers: { name: string; engine: string; requests: number; outcomes: Record<string, number>; baseline_requests: number }[];
  machine: RunResult['machine'];
  generator: { threads: number; ceiling_note: string };
  trouble: string[];
}

export interface GatewayJson {
  how: string;
  mode: string;
  metrics: Record<string, number>;
  routing: Analysis['routing'];
  models: ModelCheck[];
  outages: Analysis['outages'];
  latency: Analysis['latency'];
  ttft: Analysis['ttft'];
  itl: Analysis['itl'];
  errors: Record<string, number>;
  rates: Analysis['rates'];
  /** Several phases: the metrics of each (same names). */
  phases: { label: string; metrics: Record<string, number> }[];
  timeline: Analysis['timeline'];
}

/** Exit code of a run (SPEC §11): 2 trouble, 1 a threshold failed, 0 all held. */
export function exitCodeOf(r: RunResult): number {
  if (r.trouble.length > 0) return 2;
  return r.thresholds.every((t) => t.ok) ? 0 : 1;
}

/** The routing contract as pass/fail checks with their numbers. */
export function routingChecks(name: string | null, a: Analysis): Check[] {
  const at = name === null ? '' : `${name}: `;
  const out: Check[] = [];
  for (const m of a.models) {
    const cells = a.routing[m.model];
    const shares = Object.entries(cells)
      .map(([label, c]) => `${label} ${(c.observed * 100).toFixed(1)} % (expected ${(c.expected * 100).toFixed(1)} %)`)
      .join(', ');
    out.push({
      check: `${at}shares of ${m.model}`,
      ok: m.ok,
      detail: `chi² ${Number.isFinite(m.chi2) ? m.chi2.toFixed(2) : '∞'} (df ${m.df}), p ${m.p < 1e-4 ? m.p.toExponential(1) : m.p.toFixed(4)} ${m.ok ? '≥' : '<'} α ${SHARE_ALPHA}; max |Δ| ${m.maxErrorPp.toFixed(2)} pp over ${m.requests} answers: ${shares}`,
    });
  }
  const mm = a.metrics;
  if ('routing.unexpected_targets' in mm)
    out.push({
      check: `${at}no answer from a target the table excludes`,
      ok: mm['routing.unexpected_targets'] === 0,
      detail: `${mm['routing.unexpected_targets']} unexpected`,
    });
  if ('sticky.stability' in mm)
    out.push({
      check: `${at}sticky sessions stay put`,
      ok: mm['sticky.mismatches'] === 0,
      detail: `${a.stickySessions} sessions, stability ${(mm['sticky.stability'] * 100).toFixed(2)} %, ${mm['sticky.mismatches']} requests off their session's target`,
    });
  if ('access.mismatches' in mm)
    out.push({
      check: `${at}access decisions match the table`,
      ok: mm['access.mismatches'] === 0,
      detail: `${mm['access.denials']} denials (403), ${mm['access.mismatches']} mismatches`,
    });
  for (const o of a.outages) {
    const window = `${o.from_s}–${o.to_s === null ? 'end' : o.to_s} s`;
    out.push({
      check: `${at}cooldown of ${o.provider}${o.models ? `/${o.models.join(',')}` : ''} (${o.what}, ${window})`,
      ok: o.detect_ms !== null && (o.to_s === null || o.recover_ms !== null),
      detail:
        `requests stopped paying after ${o.detect_ms === null ? 'never (within the outage)' : `${o.detect_ms.toFixed(0)} ms`} (${o.paid} paid)` +
        (o.to_s === null
          ? ''
          : `; traffic returned ${o.recover_ms === null ? 'never (before the end of the load)' : `${(o.recover_ms / 1000).toFixed(2)} s after the outage ended`}`),
    });
  }
  return out;
}

function gatewayJson(g: RunResult['gateways'][number]): GatewayJson {
  const a = g.analysis;
  return {
    how: g.how,
    mode: g.mode,
    metrics: g.metrics,
    routing: a.routing,
    models: a.models,
    outages: a.outages,
    latency: a.latency,
    ttft: a.ttft,
    itl: a.itl,
    errors: a.errors,
    rates: a.rates,
    phases: g.phases.map((p) => ({ label: p.label, metrics: p.metrics })),
    timeline: a.timeline,
  };
}

export function buildResults(r: RunResult): ResultsJson {
  const multi = r.plan.multi;
  const metrics: Record<string, number> = {};
  const routing: ResultsJson['routing'] = {};
  const checks: Check[] = [];
  for (const g of r.gateways) {
    for (const [k, v] of Object.entries(g.metrics)) metrics[multi ? `${g.name}.${k}` : k] = v;
    for (const [model, cells] of Object.entries(g.analysis.routing)) routing[multi ? `${g.name}.${model}` : model] = cells;
    checks.push(...routingChecks(multi ? g.name : null, g.analysis));
  }
  return {
    version: 1,
    scenario: { name: r.plan.name, file: relative(process.cwd(), r.plan.file) || r.plan.file, description: r.plan.description },
    started_at: r.startedAt,
    seconds: round(r.seconds, 3),
    seed: r.plan.seed,
    exit_code: exitCodeOf(r),
    metrics,
    thresholds: r.thresholds.map((t) => ({
      expr: t.expr,
      value: t.value,
      ok: t.ok,
      ...(t.gateway !== undefined ? { gateway: t.gateway } : {}),
    })),
    routing,
    checks,
    gateways: Object.fromEntries(r.gateways.map((g) => [g.name, gatewayJson(g)])),
    baseline: r.baseline === null ? null : { metrics: r.baseline.metrics, latency: r.baseline.latency, ttft: r.baseline.ttft },
    phases: r.plan.phases.map((p) => ({
      label: p.label,
      mode: p.mode,
      duration_s: Number.isFinite(p.durationS) ? p.durationS : null,
      ...(p.mode === 'rate' ? { rate: p.rate } : {}),
      ...(p.mode === 'closed' ? { connections: p.connections } : {}),
      ...(p.mode === 'ramp' || p.mode === 'sweep' ? { from: p.from, to: p.to } : {}),
      ...(p.mode === 'steps' ? { rates: p.rates } : {}),
    })),
    sweep: r.sweep,
    simulated_providers: r.sims.map((s) => ({
      name: s.name,
      engine: s.engine,
      requests: s.faulty.requests,
      outcomes: s.faulty.outcomes,
      baseline_requests: s.clean.requests,
    })),
    machine: r.machine,
    generator: {
      threads: r.generator.threads,
      ceiling_note: 'generator.cpu_pct near 100 × threads, or generator.lag_p99_ms of many ms, means the generator was the limit',
    },
    trouble: r.trouble,
  };
}

function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}
