/**
 * The harness's small pieces, table-driven: templates, thresholds, arrival schedules, the
 * chi-square test, and the simulated providers' fault decisions.
 */
import { describe, expect, it } from 'vitest';
import { parseTemplate, TemplateError } from '../../bench/harness/template.js';
import { evaluateThresholds, parseThreshold } from '../../bench/harness/thresholds.js';
import { rampTime, Schedule } from '../../bench/harness/schedule.js';
import { chiSquare, gammaQ, LatencyHistogram } from '../../bench/harness/stats.js';
import { ACT_CUT, ACT_OK, ACT_RESET, ACT_STATUS, faultActiveAt, ProviderBehavior } from '../../bench/sim/behavior.js';
import { distribution, hash01 } from '../../bench/sim/random.js';
import { analyze, type SegmentRun } from '../../bench/harness/analyze.js';
import { FaultBook } from '../../bench/harness/expect.js';
import type { Plan } from '../../bench/harness/plan.js';
import { generatorTrouble } from '../../bench/harness/run.js';
import { workloadPlan } from '../../bench/harness/scenario.js';

describe('templates (SPEC §11: {{n}} with integer + - * / %)', () => {
  const cases: [string, number, string][] = [
    ['user-{{n % 100}}', 1234, 'user-34'],
    ['{{n}}', 0, '0'],
    ['{{ (n * 7 + 3) % 10 }}-x', 5, '8-x'],
    ['{{n / 3}}', 10, '3'],
    ['{{-n + 1}}', 4, '-3'],
    ['{{n % 0}}', 9, '0'],
    ['plain', 3, 'plain'],
  ];
  it.each(cases)('%s with n=%i → %s', (t, n, want) => expect(parseTemplate(t).render(n)).toBe(want));

  const bad: [string, number][] = [
    ['{{m}}', 2],
    ['{{n +}}', 5],
    ['{{n', 0],
    ['{{(n}}', 4],
    ['{{n ^ 2}}', 4],
    ['{{}}', 2],
  ];
  it.each(bad)('%s is refused at offset %i', (t, at) => {
    expect(() => parseTemplate(t)).toThrow(TemplateError);
    try {
      parseTemplate(t);
    } catch (err) {
      expect((err as TemplateError).offset).toBe(at);
    }
  });
});

describe('thresholds', () => {
  it.each([
    ['errors.rate < 0.01', 'errors.rate', '<', 0.01],
    ['latency.p99_ms<=250', 'latency.p99_ms', '<=', 250],
    ['routing.share_ok == 1', 'routing.share_ok', '==', 1],
    ['rps > 1e3', 'rps', '>', 1000],
  ] as const)('%s', (expr, metric, op, value) => {
    const r = parseThreshold(expr, []);
    expect(r).toEqual({ ok: true, threshold: { expr, gateway: null, metric, op, value } });
  });

  it('prefixes name a gateway; an unknown metric or prefix is reported', () => {
    expect(parseThreshold('a.latency.p50_ms < 3', ['a', 'b'])).toMatchObject({
      ok: true,
      threshold: { gateway: 'a', metric: 'latency.p50_ms' },
    });
    expect(parseThreshold('c.latency.p50_ms < 3', ['a', 'b'])).toEqual({ ok: false, error: 'gateway', gateway: 'c' });
    expect(parseThreshold('latency.p98_ms < 3', [])).toEqual({ ok: false, error: 'metric', metric: 'latency.p98_ms' });
    expect(parseThreshold('latency.p99_ms is small', [])).toEqual({ ok: false, error: 'syntax' });
  });

  it('a metric without a value fails with value null; without a prefix the worst gateway decides', () => {
    const t = ['ttft.p50_ms < 5', 'errors.rate < 0.1'].map((e) => {
      const r = parseThreshold(e, ['a', 'b']);
      if (!r.ok) throw new Error(e);
      return r.threshold;
    });
    const r = evaluateThresholds(t, [
      { name: 'a', metrics: { 'errors.rate': 0.01 } },
      { name: 'b', metrics: { 'errors.rate': 0.5 } },
    ]);
    expect(r[0]).toMatchObject({ value: null, ok: false });
    expect(r[1]).toMatchObject({ value: 0.5, ok: false, gateway: 'b' });
  });
});

describe('arrival schedules', () => {
  const all = (s: Schedule) => {
    const out: number[] = [];
    for (let t = s.next(); t === t; t = s.next()) out.push(t);
    return out;
  };
  it('uniform: k / rate', () => {
    expect(all(new Schedule({ kind: 'rate', rate: 4, durationMs: 1000, poisson: false }, 1))).toEqual([0, 250, 500, 750]);
  });
  it('poisson: seeded, about rate × duration arrivals with exponential gaps', () => {
    const a = all(new Schedule({ kind: 'rate', rate: 1000, durationMs: 10_000, poisson: true }, 5));
    expect(a).toEqual(all(new Schedule({ kind: 'rate', rate: 1000, durationMs: 10_000, poisson: true }, 5)));
    expect(Math.abs(a.length - 10_000)).toBeLessThan(400); // ±4σ
    const gaps = a.slice(1).map((t, i) => t - a[i]);
    const mean = gaps.reduce((x, y) => x + y, 0) / gaps.length;
    const cv = Math.sqrt(gaps.reduce((x, g) => x + (g - mean) ** 2, 0) / gaps.length) / mean;
    expect(cv).toBeGreaterThan(0.9); // exponential: coefficient of variation 1
  });
  it('ramp: the count follows the linear rate', () => {
    expect(rampTime(10, 30, 10, 0)).toBe(0);
    expect(rampTime(10, 30, 10, 200)).toBeCloseTo(10, 9); // (10 + 30) / 2 × 10 s
    const a = all(new Schedule({ kind: 'ramp', from: 100, to: 300, durationMs: 2000, poisson: false }, 1));
    expect(a.length).toBe(400);
    expect(a.filter((t) => t < 1000).length).toBe(150); // first half: 100 → 200 req/s
  });
  it('trace: recorded offsets over the speed, cut at the duration', () => {
    expect(all(new Schedule({ kind: 'trace', offsetsMs: Float64Array.from([0, 10, 40, 90]), speed: 2, durationMs: 30 }, 1))).toEqual([
      0, 5, 20,
    ]);
  });
});

describe('statistics', () => {
  it('chi-square upper tail', () => {
    expect(gammaQ(0.5, 3.841 / 2)).toBeCloseTo(0.05, 3); // df 1
    expect(gammaQ(1, 13.816 / 2)).toBeCloseTo(0.001, 4); // df 2
    expect(chiSquare([700, 300], [700, 300]).p).toBe(1);
    expect(chiSquare([760, 240], [700, 300]).p).toBeLessThan(0.001);
    expect(chiSquare([690, 310], [700, 300]).p).toBeGreaterThan(0.3);
    expect(chiSquare([1, 999], [0, 1000]).p).toBe(0); // a target the table excludes
  });
  it('HDR percentiles in ms', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i / 10);
    const s = h.summary()!;
    expect(s.p50).toBeCloseTo(50, 0);
    expect(s.p99).toBeCloseTo(99, 0);
    expect(s.count).toBe(1000);
  });
});

describe('simulated provider decisions', () => {
  it('distributions: constant, log-normal through p50/p99, uniform', () => {
    expect(distribution(5).sample(0.9)).toBe(5);
    const d = distribution({ p50: 40, p99: 200 });
    expect(d.sample(0.5)).toBeCloseTo(40, 6);
    expect(d.sample(0.99)).toBeCloseTo(200, 3);
    expect(distribution({ min: 2, max: 6 }).sample(0.25)).toBe(3);
  });

  it('latency draws are keyed by the request sequence number (gateway and baseline see the same)', () => {
    const spec = { name: 'p', format: 'openai' as const, ttft_ms: { p50: 40, p99: 200 } };
    const a = new ProviderBehavior(spec, 9);
    const b = new ProviderBehavior(spec, 9);
    const x = a.decide('m', 17, NaN, 0).ttftMs;
    b.decide('m', 3, NaN, 0);
    expect(b.decide('m', 17, NaN, 0).ttftMs).toBe(x);
    expect(hash01(1, 17, 11)).not.toBe(hash01(1, 18, 11));
  });

  it('windows, flapping, per-model overrides, rates; no fault before the clock starts', () => {
    const b = new ProviderBehavior(
      {
        name: 'p',
        format: 'openai',
        faults: [
          { status: 503, from_s: 2, for_s: 3 },
          { kind: 'reset', flap_s: 1, from_s: 10 },
        ],
        models: { special: { faults: [{ kind: 'cut', after_tokens: 2 }] } },
        output_tokens: 8,
      },
      1,
    );
    expect(b.decide('m', 0, NaN, 0).action).toBe(ACT_OK);
    expect(b.decide('m', 0, 1.9, 0).action).toBe(ACT_OK);
    expect(b.decide('m', 0, 2, 0)).toMatchObject({ action: ACT_STATUS, status: 503 });
    expect(b.decide('m', 0, 5, 0).action).toBe(ACT_OK);
    expect(b.decide('m', 0, 10.5, 0).action).toBe(ACT_RESET);
    expect(b.decide('m', 0, 11.5, 0).action).toBe(ACT_OK);
    expect(b.decide('m', 0, 12.2, 0).action).toBe(ACT_RESET);
    expect(b.decide('special', 0, 3, 0)).toMatchObject({ action: ACT_CUT, afterTokens: 2 });
    expect(faultActiveAt({ status: 500, from_s: 1, for_s: 1 }, 2)).toBe(false);
    const r = new ProviderBehavior({ name: 'p', format: 'openai', faults: [{ status: 429, rate: 0.25, retry_after_s: 1 }] }, 3);
    let hits = 0;
    for (let i = 0; i < 4000; i++) if (r.decide('m', i, 0, 0).action === ACT_STATUS) hits++;
    expect(Math.abs(hits - 1000)).toBeLessThan(120); // ±4σ
    expect(r.decide('m', 0, 0, 0).tokens).toBe(16);
    expect(r.decide('m', 0, NaN, 4).tokens).toBe(4); // capped by max_tokens
  });
});

describe('the load generator as the limit (SPEC §11: exit 2)', () => {
  /** A rate segment of n requests due over 1 s, sent `lateBy(k)` ms late, answered 1 ms after sending. */
  function segment(n: number, lateBy: (k: number) => number, genCpuUs: number): SegmentRun {
    const cols = {
      seq: new Float64Array(n),
      entry: new Int32Array(n),
      sched: new Float64Array(n),
      sent: new Float64Array(n),
      ttfb: new Float64Array(n),
      end: new Float64Array(n),
      status: new Int16Array(n).fill(200),
      attempts: new Int16Array(n).fill(1),
      target: new Int32Array(n).fill(-1),
      err: new Uint8Array(n),
      chunks: new Int32Array(n).fill(1),
    };
    for (let k = 0; k < n; k++) {
      cols.seq[k] = k;
      cols.sched[k] = (k * 1000) / n;
      cols.sent[k] = cols.sched[k] + lateBy(k);
      cols.ttfb[k] = cols.sent[k] + 1;
      cols.end[k] = cols.sent[k] + 1;
    }
    const w = workloadPlan({ model: 'm' }, 0, null);
    const out = { thread: 0, count: n, cols, targets: [], itl: new Float64Array(0), nEnd: n, t0Epoch: 0, wallMs: 1000 };
    return {
      target: 'g',
      phase: 0,
      step: 0,
      round: 0,
      mode: 'rate',
      rate: n,
      clockStart: 0,
      durationMs: 1000,
      outputs: [out],
      workload: [w],
      genCpuUs,
      wallMs: Math.max(1000, cols.end[n - 1]),
      gwCpuUs: NaN,
      rssMax: NaN,
      simCpuUs: 0,
      threads: 1,
    };
  }
  const plan = { phases: [{ mode: 'rate', label: 'load' }] } as unknown as Pick<Plan, 'phases'>;
  const troubleOf = (seg: SegmentRun) =>
    generatorTrouble(plan, [
      { name: 'g', analysis: analyze([seg], { exp: null, faults: new FaultBook([]), ranges: new Map(), clockEnd: 1 }) },
    ]);

  it('a generator that sends later and later with its CPU used up is trouble', () => {
    const late = segment(1000, (k) => k * 2, 2_900_000); // the last request leaves 2 s late; 97 % of a core
    expect(troubleOf(late)).toHaveLength(1);
    expect(troubleOf(late)[0]).toMatch(/asked 1000 req\/s and the load generator reached 33\d req\/s/);
  });

  it('on schedule, or late but idle only once (a stall), is not', () => {
    expect(troubleOf(segment(1000, () => 0.2, 300_000))).toEqual([]);
    // one 150 ms stall hits the requests due meanwhile (15 %): not saturated (lag p90 small, CPU low)
    expect(troubleOf(segment(1000, (k) => (k >= 500 && k < 650 ? 650 - k : 0), 300_000))).toEqual([]);
  });
});
