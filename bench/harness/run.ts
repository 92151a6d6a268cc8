/**
 * One `vmc bench` run (SPEC §11), in order:
 *
 *   1. the simulated providers (bench/sim/host.ts, a process of their own);
 *   2. the gateways: `vmc serve` processes on the scenario's config or table with every
 *      provider pointed at its simulator (./gateway.ts), or gateways already running;
 *   3. warm-up: `warmup_s` of unmeasured closed-loop load per gateway and for the baseline,
 *      no faults;
 *   4. the phases in order, each split into `rounds` interleaved rounds in which every
 *      gateway and the baseline take turns (the order alternates per round), each
 *      gateway's declared faults following its own load clock;
 *   5. the analysis of every gateway's requests (./analyze.ts), the overhead against the
 *      baseline, and the thresholds.
 *
 * A sweep phase runs rate steps from `from` up by `factor` until every gateway fails a
 * threshold (or `to`), then bisects `refine` times between the last passing and the first
 * failing rate: `sweep.max_rps` is the highest rate at which every threshold held.
 */
import { cpus } from 'node:os';
import type { SimStats } from '../sim/server.js';
import { analyze, requestFacts, type Analysis, type SegmentRun } from './analyze.js';
import { FaultBook, RouteExpectations, type ClockRange } from './expect.js';
import { startGateway, tempWorkDir, type RunningGateway } from './gateway.js';
import type { SegmentInput } from './generator.js';
import { LoadGenerator } from './load-generator.js';
import { ENDPOINT_PATH, type PhasePlan, type Plan, type WorkloadPlan } from './plan.js';
import { baselineRequest, gatewayRequest, type RequestSpec } from './requests.js';
import type { ScheduleSpec } from './schedule.js';
import { SimHost } from './sim-host.js';
import { evaluateThresholds, holds, type ThresholdResult } from './thresholds.js';
import { LiveProgress } from './progress.js';

export interface GatewayResult {
  name: string;
  how: string;
  mode: string;
  analysis: Analysis;
  metrics: Record<string, number>;
  /** The same metrics per phase (overhead against that phase's baseline). */
  phases: { phase: number; label: string; metrics: Record<string, number> }[];
}

export interface SweepStep {
  rate: number;
  ok: Record<string, boolean>;
  metrics: Record<string, Record<string, number>>;
}

export interface RunResult {
  plan: Plan;
  startedAt: string;
  seconds: number;
  gateways: GatewayResult[];
  baseline: Analysis | null;
  sweep: SweepStep[] | null;
  thresholds: ThresholdResult[];
  /** Reasons the run is not trustworthy (exit 2): the generator could not keep up. */
  trouble: string[];
  sims: { name: string; engine: string; faulty: SimStats; clean: SimStats }[];
  machine: { cpu: string; cores: number; node: string; platform: string };
  generator: { threads: number };
}

/** Thrown for trouble before any load ran (a process that did not start): exit 2. */
export class RunError extends Error {}

interface Target {
  name: string;
  gateway: RunningGateway | null;
  exp: RouteExpectations | null;
  /** Per phase (index) or -1 for the scenario workload: request specs per entry. */
  specs: Map<number, { specs: RequestSpec[][]; altCum: number[][] }>;
  nextN: number;
  clock: number;
  segments: SegmentRun[];
}

const BASELINE = 'baseline';

export async function runPlan(plan: Plan, opts: { progress: LiveProgress | null }): Promise<RunResult> {
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const workDir = tempWorkDir();
  const gen = new LoadGenerator(plan.threads);
  let sims: SimHost | null = null;
  const running: RunningGateway[] = [];
  const progress = opts.progress;
  try {
    progress?.status('starting simulated providers');
    try {
      sims = await SimHost.start(plan.sims, plan.seed);
    } catch (err) {
      throw new RunError((err as Error).message);
    }
    progress?.status(
      `starting ${plan.gateways.length === 1 ? `gateway ${plan.gateways[0].name}` : `gateways ${plan.gateways.map((g) => g.name).join(', ')}`}`,
    );
    const started = await Promise.allSettled(plan.gateways.map((g) => startGateway(g, sims!, workDir)));
    for (const r of started) if (r.status === 'fulfilled') running.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed !== undefined) throw new RunError(((failed as PromiseRejectedResult).reason as Error).message);
    const faults = new FaultBook(plan.sims);
    const targets: Target[] = plan.gateways.map((g, i) => ({
      name: g.name,
      gateway: running[i],
      exp: g.expectations === null ? null : new RouteExpectations(g.expectations, faults),
      specs: new Map(),
      nextN: 0,
      clock: 0,
      segments: [],
    }));
    const expSource = targets.find((t) => t.exp !== null)?.exp ?? null;
    const baseline: Target | null =
      plan.baseline && expSource !== null
        ? { name: BASELINE, gateway: null, exp: null, specs: new Map(), nextN: 0, clock: 0, segments: [] }
        : null;
    const providerTypes = new Map<string, string>();
    for (const g of plan.gateways)
      for (const p of g.expectations?.norm.providers ?? []) if (!providerTypes.has(p.name)) providerTypes.set(p.name, p.type);

    const specsFor = (t: Target, phase: PhasePlan | null): { specs: RequestSpec[][]; altCum: number[][] } => {
      const key = phase?.traceWorkload ? phase.index : -1;
      let s = t.specs.get(key);
      if (s !== undefined) return s;
      const workload = phase?.traceWorkload ?? plan.workload;
      if (t.name === BASELINE) {
        s = { specs: [], altCum: [] };
        for (const w of workload) {
          const alts = baselineAlternatives(w, expSource!, sims!, providerTypes);
          s.specs.push(alts.map((a) => a.spec));
          let acc = 0;
          s.altCum.push(alts.map((a) => (acc += a.weight)));
        }
      } else {
        const url = new URL(t.gateway!.url);
        const prefix = url.pathname.replace(/\/+$/, '');
        const headers = plan.gateways.find((g) => g.name === t.name)!.headers;
        s = {
          specs: workload.map((w) => [gatewayRequest(w, url.origin, prefix, headers, ENDPOINT_PATH[w.endpoint])]),
          altCum: workload.map(() => [1]),
        };
      }
      t.specs.set(key, s);
      return s;
    };
    let acc = 0;
    const mixCum = plan.workload.map((w) => (acc += w.weight));
    /** The mix of a segment: the workload's weights, or a trace's own request shapes by frequency. */
    const mixFor = (phase: PhasePlan): number[] => {
      if (phase.trace === null) return mixCum;
      const counts = new Array<number>(phase.traceWorkload!.length).fill(0);
      for (const item of phase.trace) counts[item.entry]++;
      let c = 0;
      return counts.map((x) => (c += x));
    };
    const all: Target[] = baseline === null ? targets : [baseline, ...targets];
    const ranges = new Map<string, ClockRange>();
    let clock = 0;

    /** Runs one segment for one target and records it. */
    const segment = async (
      t: Target,
      phase: PhasePlan,
      step: number,
      round: number,
      shape: Shape,
      record: boolean,
      clockStart: number,
    ): Promise<SegmentRun> => {
      const { specs, altCum } = specsFor(t, phase);
      const input: Omit<SegmentInput, 'thread' | 'threads'> = {
        specs,
        altCum,
        mixCum: shape.traceEntries !== null ? null : mixFor(phase),
        traceEntries: shape.traceEntries,
        seed: plan.seed,
        n0: t.nextN,
        schedule: shape.schedule,
        closed: shape.closed,
        timeoutMs: plan.timeoutMs,
        maxConnections: plan.maxConnections,
        record,
      };
      const gw = t.gateway;
      if (gw !== null && record) sims!.clock(clockStart, true);
      const gw0 = gw?.cpuMicros() ?? NaN;
      const sim0 = sims!.cpuMicros();
      const cpu0 = process.cpuUsage();
      const w0 = performance.now();
      let rssMax = gw?.rssBytes() ?? NaN;
      const rssTimer = gw !== null && gw.pid !== null ? setInterval(() => (rssMax = Math.max(rssMax, gw.rssBytes())), 500) : null;
      progress?.segment(
        `${phase.label}${shape.label ? ` ${shape.label}` : ''}`,
        record ? t.name : `${t.name} warm-up`,
        shape.durationMs,
        gen.progress,
      );
      const outputs = await gen.run(input);
      if (rssTimer !== null) clearInterval(rssTimer);
      const wallMs = performance.now() - w0;
      const cpu = process.cpuUsage(cpu0);
      if (gw !== null && record) sims!.clock(clockStart + shape.durationMs / 1000, false);
      t.nextN = Math.max(t.nextN, ...outputs.map((o) => o.nEnd));
      const run: SegmentRun = {
        target: t.name,
        phase: phase.index,
        step,
        round,
        mode: phase.mode,
        rate: shape.rate,
        clockStart,
        durationMs: shape.durationMs,
        outputs,
        workload: phase.traceWorkload ?? plan.workload,
        genCpuUs: cpu.user + cpu.system,
        wallMs,
        gwCpuUs: gw === null ? NaN : gw.cpuMicros() - gw0,
        rssMax: gw !== null ? Math.max(rssMax, gw.rssBytes()) : NaN,
        simCpuUs: sims!.cpuMicros() - sim0,
        threads: gen.threads,
      };
      if (record) t.segments.push(run);
      return run;
    };

    // 3. warm-up
    if (plan.warmupS > 0) {
      const first = plan.phases[0];
      const shape = warmupShape(plan.warmupS);
      // A trace phase warms up on its own request shapes, the others on the workload.
      for (const t of all) await segment(t, { ...first, mode: 'closed' }, 0, 0, shape, false, 0);
    }

    // 4. phases
    let sweep: SweepStep[] | null = null;
    const runStep = async (
      phase: PhasePlan,
      step: number,
      make: (part: number, parts: number) => Shape,
      durationS: number,
      rounds: number,
    ): Promise<void> => {
      ranges.set(`${phase.index}/${step}`, { from: clock, to: clock + durationS });
      for (let r = 0; r < rounds; r++) {
        const order = r % 2 === 0 ? all : [...all].reverse();
        const shape = make(r, rounds);
        for (const t of order) await segment(t, phase, step, r, shape, true, clock + (r * durationS) / rounds);
      }
      clock += durationS;
    };
    for (const phase of plan.phases) {
      const d = phase.durationS;
      switch (phase.mode) {
        case 'rate':
          await runStep(phase, 0, (_r, R) => rateShape(phase.rate, (d * 1000) / R, phase.arrival === 'poisson'), d, plan.rounds);
          break;
        case 'closed':
          await runStep(phase, 0, (_r, R) => closedShape(phase.connections, (d * 1000) / R, phase.thinkMs), d, plan.rounds);
          break;
        case 'ramp':
          await runStep(
            phase,
            0,
            () => ({
              label: '',
              rate: null,
              durationMs: d * 1000,
              schedule: { kind: 'ramp', from: phase.from, to: phase.to, durationMs: d * 1000, poisson: phase.arrival === 'poisson' },
              closed: null,
              traceEntries: null,
            }),
            d,
            1,
          );
          break;
        case 'steps':
          for (let k = 0; k < phase.rates.length; k++) {
            const rate = phase.rates[k];
            await runStep(
              phase,
              k,
              (_r, R) => ({ ...rateShape(rate, (d * 1000) / R, phase.arrival === 'poisson'), label: `${rate} req/s` }),
              d,
              plan.rounds,
            );
          }
          break;
        case 'trace': {
          const items = phase.trace!;
          const offsets = Float64Array.from(items.map((x) => x.tMs));
          const last = offsets.length ? offsets[offsets.length - 1] / phase.speed : 0;
          const durMs = Math.min(d * 1000, last + 1);
          await runStep(
            phase,
            0,
            () => ({
              label: '',
              rate: null,
              durationMs: durMs,
              schedule: { kind: 'trace', offsetsMs: offsets, speed: phase.speed, durationMs: durMs },
              closed: null,
              traceEntries: Int32Array.from(items.map((x) => x.entry)),
            }),
            durMs / 1000,
            1,
          );
          break;
        }
        case 'sweep':
          sweep = await runSweep(
            plan,
            phase,
            targets,
            (step, rate) =>
              runStep(
                phase,
                step,
                (_r, R) => ({ ...rateShape(rate, (d * 1000) / R, phase.arrival === 'poisson'), label: `${Math.round(rate)} req/s` }),
                d,
                plan.rounds,
              ),
            (step) => analyzeStep(step),
          );
          break;
      }
    }

    /** Per-gateway metrics of one sweep step (with overhead against that step's baseline). */
    function analyzeStep(step: number): Record<string, Record<string, number>> {
      const phaseIdx = plan.phases.findIndex((p) => p.mode === 'sweep');
      const pick = (t: Target) => t.segments.filter((s) => s.phase === phaseIdx && s.step === step);
      const base = baseline === null ? null : analyze(pick(baseline), { exp: null, faults, ranges, clockEnd: clock });
      const out: Record<string, Record<string, number>> = {};
      for (const t of targets) out[t.name] = withBaseline(analyze(pick(t), { exp: t.exp, faults, ranges, clockEnd: clock }).metrics, base);
      return out;
    }

    // 5. analysis
    progress?.status('analyzing');
    const sweepFailed = (seg: SegmentRun) =>
      sweep !== null && plan.phases[seg.phase].mode === 'sweep' && !Object.values(sweep[seg.step]?.ok ?? {}).some(Boolean);
    const base =
      baseline === null
        ? null
        : analyze(
            baseline.segments.filter((seg) => !sweepFailed(seg)),
            { exp: null, faults, ranges, clockEnd: clock },
          );
    const gateways: GatewayResult[] = targets.map((t, i) => {
      // A sweep's failing steps found the limit; they are reported in `sweep`, not in the run's metrics.
      const failedStep = (seg: SegmentRun) =>
        sweep !== null && plan.phases[seg.phase].mode === 'sweep' && sweep[seg.step]?.ok[t.name] === false;
      const analysis = analyze(
        t.segments.filter((seg) => !failedStep(seg)),
        { exp: t.exp, faults, ranges, clockEnd: clock },
      );
      const metrics = withBaseline(analysis.metrics, base);
      if (sweep !== null) {
        const passing = sweep.filter((s) => s.ok[t.name]).map((s) => s.rate);
        if (passing.length > 0) metrics['sweep.max_rps'] = Math.max(...passing);
      }
      const phases = plan.phases.map((p) => {
        const own = t.segments.filter((seg) => seg.phase === p.index && !failedStep(seg));
        const baseOwn = baseline === null ? null : baseline.segments.filter((seg) => seg.phase === p.index && !sweepFailed(seg));
        const b = baseOwn === null || baseOwn.length === 0 ? null : analyze(baseOwn, { exp: null, faults, ranges, clockEnd: clock });
        return {
          phase: p.index,
          label: p.label,
          metrics: withBaseline(analyze(own, { exp: t.exp, faults, ranges, clockEnd: clock }).metrics, b),
        };
      });
      return {
        name: t.name,
        how: running[i].how,
        mode: plan.gateways[i].mode,
        analysis,
        metrics,
        phases: plan.phases.length > 1 ? phases : [],
      };
    });
    const thresholds = evaluateThresholds(
      plan.thresholds,
      gateways.map((g) => ({ name: g.name, metrics: g.metrics })),
    );
    const trouble = generatorTrouble(plan, gateways);
    for (const g of running) {
      const gone = g.exitedWith();
      if (gone !== null) trouble.push(`gateway ${g.name} exited during the run (${gone})`);
    }
    const simStats = await sims.stats();
    return {
      plan,
      startedAt,
      seconds: (performance.now() - t0) / 1000,
      gateways,
      baseline: base,
      sweep,
      thresholds,
      trouble,
      sims: sims.providers.map((p) => ({ name: p.name, engine: p.engine, ...simStats[p.name] })),
      machine: machine(),
      generator: { threads: gen.threads },
    };
  } finally {
    progress?.done();
    await Promise.all(running.map((g) => g.stop().catch(() => undefined)));
    await sims?.stop().catch(() => undefined);
    await gen.close().catch(() => undefined);
  }
}

/**
 * SPEC §11: the run is trouble (exit 2) when a rate phase achieved < 90 % of its rate while
 * the load generator was saturated — its latencies would then measure the generator. Sweep
 * steps are exempt: a saturated step ends the sweep like a failed threshold.
 */
export function generatorTrouble(plan: Pick<Plan, 'phases'>, gateways: readonly Pick<GatewayResult, 'name' | 'analysis'>[]): string[] {
  const trouble: string[] = [];
  for (const g of gateways) {
    for (const r of g.analysis.rates) {
      const phase = plan.phases[r.phase];
      if (phase.mode === 'sweep') continue;
      if (r.achieved < 0.9 * r.asked && r.saturated) {
        trouble.push(
          `${g.name}: phase "${phase.label}" asked ${fmtRate(r.asked)} req/s and the load generator reached ${fmtRate(r.achieved)} req/s ` +
            `(generator CPU ${r.genCpuPct.toFixed(0)} %, send lag p99 ${r.lagP99.toFixed(1)} ms): the generator, not the gateway, was the limit`,
        );
      }
    }
  }
  return trouble;
}

/** Gateway metrics plus the baseline's and the overhead against it. */
function withBaseline(m: Record<string, number>, base: Analysis | null): Record<string, number> {
  const out = { ...m };
  if (base === null) return out;
  const b = base.metrics;
  for (const k of ['p50', 'p90', 'p95', 'p99', 'p999']) {
    const key = `latency.${k}_ms`;
    if (key in b) out[`baseline.latency.${k}_ms`] = b[key];
    if (key in m && key in b) out[`overhead.${k}_ms`] = m[key] - b[key];
  }
  for (const k of ['p50', 'p99']) {
    const key = `ttft.${k}_ms`;
    if (key in b) out[`baseline.ttft.${k}_ms`] = b[key];
    if (key in m && key in b) out[`overhead.ttft_${k}_ms`] = m[key] - b[key];
  }
  if ('rps' in b) out['baseline.rps'] = b.rps;
  return out;
}

interface Shape {
  label: string;
  rate: number | null;
  durationMs: number;
  schedule: ScheduleSpec | null;
  closed: { connections: number; durationMs: number; thinkMs: number } | null;
  traceEntries: Int32Array | null;
}

function rateShape(rate: number, durationMs: number, poisson: boolean): Shape {
  return { label: '', rate, durationMs, schedule: { kind: 'rate', rate, durationMs, poisson }, closed: null, traceEntries: null };
}

function closedShape(connections: number, durationMs: number, thinkMs: number): Shape {
  return { label: '', rate: null, durationMs, schedule: null, closed: { connections, durationMs, thinkMs }, traceEntries: null };
}

/**
 * Warm-up: a closed loop of 32 clients for `seconds` — thousands of requests, so the
 * gateway's hot paths are optimized by the JIT and the connection pools are open before
 * anything is measured (a few hundred paced requests would leave it running interpreted).
 */
function warmupShape(seconds: number): Shape {
  return closedShape(32, seconds * 1000, 0);
}

/**
 * The baseline's alternatives for one entry: the providers the table sends it to, with its
 * shares (the request straight to each target's simulated provider, clean listener).
 */
function baselineAlternatives(
  w: WorkloadPlan,
  exp: RouteExpectations,
  sims: SimHost,
  types: Map<string, string>,
): { spec: RequestSpec; weight: number }[] {
  const facts = requestFacts(w, 0);
  // Without sticky headers: sticky keys spread over the targets by weight, as the pick does.
  const p = exp.profile(w, { headers: {}, metadata: facts.metadata, userPath: facts.userPath });
  if (p.status !== 200) return [];
  const out: { spec: RequestSpec; weight: number }[] = [];
  const picks = p.known ? p.targets.filter((t) => t.share > 0) : p.targets.filter((t) => t.pickable).slice(0, 1);
  for (const t of picks) {
    const type = types.get(t.provider) ?? 'openai';
    const spec = baselineRequest(w, new URL(sims.url(t.provider, true)).origin, type, t.model);
    if (spec !== null) out.push({ spec, weight: p.known ? t.share : 1 });
  }
  return out;
}

async function runSweep(
  plan: Plan,
  phase: PhasePlan,
  targets: Target[],
  runRate: (step: number, rate: number) => Promise<void>,
  stepMetrics: (step: number) => Record<string, Record<string, number>>,
): Promise<SweepStep[]> {
  const steps: SweepStep[] = [];
  const test = async (rate: number): Promise<SweepStep> => {
    const step = steps.length;
    await runRate(step, rate);
    const metrics = stepMetrics(step);
    const ok: Record<string, boolean> = {};
    for (const t of targets) {
      const own = plan.thresholds.filter((th) => th.gateway === null || th.gateway === t.name);
      ok[t.name] = own.every(
        (th) => th.metric === 'sweep.max_rps' || (th.metric in metrics[t.name] && holds(th, metrics[t.name][th.metric])),
      );
    }
    const s = { rate, ok, metrics };
    steps.push(s);
    return s;
  };
  let rate = phase.from;
  let lastPass: number | null = null;
  let firstFail: number | null = null;
  for (;;) {
    const s = await test(rate);
    if (Object.values(s.ok).some(Boolean)) lastPass = rate;
    if (!Object.values(s.ok).every(Boolean)) {
      firstFail = rate;
      if (!Object.values(s.ok).some(Boolean)) break;
    }
    if (rate >= phase.to) break;
    rate = Math.min(phase.to, rate * phase.factor);
  }
  // Bisection (one gateway: with several, each has its own boundary and the steps above stand).
  if (targets.length === 1 && lastPass !== null && firstFail !== null && firstFail > lastPass) {
    let lo = lastPass;
    let hi = firstFail;
    for (let i = 0; i < phase.refine; i++) {
      const mid = Math.round((lo + hi) / 2);
      if (mid <= lo || mid >= hi) break;
      const s = await test(mid);
      if (s.ok[targets[0].name]) lo = mid;
      else hi = mid;
    }
  }
  return steps;
}

function fmtRate(r: number): string {
  return r >= 100 ? Math.round(r).toString() : r.toFixed(1);
}

export function machine(): RunResult['machine'] {
  const c = cpus();
  return { cpu: c[0]?.model ?? 'unknown', cores: c.length, node: process.version, platform: `${process.platform}-${process.arch}` };
}
