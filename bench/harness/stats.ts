/**
 * Statistics of a run: latency percentiles from an HDR histogram (hdr-histogram-js, values
 * in µs, 3 significant digits) and the chi-square goodness-of-fit test of observed target
 * shares (SPEC §11 `routing.share_ok`, α = 0.001).
 */
import * as hdr from 'hdr-histogram-js';

export const PERCENTILES: [key: string, p: number][] = [
  ['p50', 50],
  ['p90', 90],
  ['p95', 95],
  ['p99', 99],
  ['p999', 99.9],
];

export interface Summary {
  count: number;
  mean: number;
  max: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  p999: number;
}

/** A latency histogram in ms (recorded in µs). */
export class LatencyHistogram {
  readonly #h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });
  count = 0;

  record(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) return;
    this.#h.recordValue(Math.max(1, Math.round(ms * 1000)));
    this.count++;
  }

  summary(): Summary | null {
    if (this.count === 0) return null;
    const h = this.#h;
    const s: Summary = { count: this.count, mean: h.mean / 1000, max: h.maxValue / 1000, p50: 0, p90: 0, p95: 0, p99: 0, p999: 0 };
    for (const [k, p] of PERCENTILES) (s as unknown as Record<string, number>)[k] = h.getValueAtPercentile(p) / 1000;
    return s;
  }
}

/** ln Γ(x), Lanczos approximation (x > 0). */
function lnGamma(x: number): number {
  const g = [
    676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
    9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  x -= 1;
  let a = 0.99999999999980993;
  const t = x + 7.5;
  for (let i = 0; i < 8; i++) a += g[i] / (x + i + 1);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(a, x) (Numerical Recipes: series / continued fraction). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (x < a + 1) {
    let sum = 1 / a;
    let del = sum;
    for (let n = 1; n < 1000; n++) {
      del *= x / (a + n);
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-15) break;
    }
    return Math.max(0, 1 - sum * Math.exp(-x + a * Math.log(x) - lnGamma(a)));
  }
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.min(1, Math.exp(-x + a * Math.log(x) - lnGamma(a)) * h);
}

export interface ChiSquare {
  statistic: number;
  df: number;
  /** Upper-tail probability of the statistic; 0 when a category the table gives no share was observed. */
  p: number;
}

/**
 * Goodness of fit of observed counts to expected counts (same categories, expected > 0 where
 * observed > 0, else p = 0). One category: nothing to test, p = 1.
 */
export function chiSquare(observed: readonly number[], expected: readonly number[]): ChiSquare {
  let stat = 0;
  let k = 0;
  for (let i = 0; i < observed.length; i++) {
    const e = expected[i];
    if (e <= 0) {
      if (observed[i] > 0) return { statistic: Infinity, df: Math.max(1, observed.length - 1), p: 0 };
      continue;
    }
    k++;
    stat += (observed[i] - e) ** 2 / e;
  }
  const df = k - 1;
  if (df <= 0) return { statistic: 0, df: 0, p: 1 };
  return { statistic: stat, df, p: gammaQ(df / 2, stat / 2) };
}

/** The α of `routing.share_ok` (SPEC §11). */
export const SHARE_ALPHA = 0.001;
