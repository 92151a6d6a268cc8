/**
 * Seeded randomness for the simulated providers and the load harness (SPEC §11 `--seed`
 * fixes the workload mix, fault sampling and latency sampling).
 *
 * Two kinds of draws:
 *   - keyed draws, `hash01(seed, n, salt)`: a pure function of the request's sequence number,
 *     so request n gets the same workload entry and the same simulated latency however the
 *     load is split across threads and whether it goes through the gateway or straight to
 *     the simulated provider (the baseline): overhead is then measured on paired samples;
 *   - a sequential stream (`Rng`) where order is the point (fault sampling per attempt).
 */
import { mix32 } from '../../runtime/table/util.js';

/** A uniform draw in [0, 1) determined by (seed, n, salt) alone. */
export function hash01(seed: number, n: number, salt: number): number {
  const lo = n >>> 0;
  const hi = Math.floor(n / 4294967296) >>> 0;
  let h = mix32((seed ^ Math.imul(salt + 1, 0x9e3779b1)) >>> 0);
  h = mix32((h ^ lo) >>> 0);
  h = mix32((h ^ Math.imul(hi + 0x632be5ab, 0x85ebca6b)) >>> 0);
  return (h + 0.5) / 4294967296;
}

/** Sequential seeded generator (mulberry32): uniform [0, 1). */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 0x6d2b79f5;
  }
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** A seed from a string (provider names, salts), FNV-1a. */
export function seedOf(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return mix32(h);
}

/**
 * A latency or count distribution as scenarios write it: a number (constant), `{p50, p99}`
 * (log-normal through those two percentiles) or `{min, max}` (uniform).
 */
export type DistributionSpec = number | { p50: number; p99: number } | { min: number; max: number };

/** A compiled distribution: `sample(u)` maps one uniform draw to a value (inverse CDF). */
export interface Distribution {
  readonly median: number;
  sample(u: number): number;
}

/** z of the 99th percentile of the standard normal. */
const Z99 = 2.3263478740408408;

export function distribution(spec: DistributionSpec): Distribution {
  if (typeof spec === 'number') return { median: spec, sample: () => spec };
  if ('p50' in spec) {
    const p50 = Math.max(spec.p50, 1e-6);
    const p99 = Math.max(spec.p99, p50);
    const mu = Math.log(p50);
    const sigma = Math.log(p99 / p50) / Z99;
    if (sigma === 0) return { median: p50, sample: () => p50 };
    return { median: p50, sample: (u) => Math.exp(mu + sigma * normalInv(u)) };
  }
  const { min, max } = spec;
  return { median: (min + max) / 2, sample: (u) => min + (max - min) * u };
}

/**
 * Inverse CDF of the standard normal (Acklam's rational approximation, relative error
 * < 1.15e-9): one uniform draw → one normal draw, so a keyed draw stays keyed.
 */
export function normalInv(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p <= 0) return -8;
  if (p >= 1) return 8;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
  );
}
