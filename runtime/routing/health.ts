/**
 * Per-target health and latency, in typed arrays indexed by global target id.
 *
 * - Cooldown (SPEC §3.10): `failureThreshold` consecutive failed attempts put a target in
 *   cooldown for `cooldownMs`; it is skipped (treated as failed, SPEC §9) until then. When
 *   the cooldown expires the target is half-open: the next request probes it; one more
 *   failure sends it straight back into cooldown, a success closes it.
 * - Latency (SPEC §3.5 `latency`): exponentially weighted moving average of time to first
 *   body byte, measured by this runtime (SPEC §9).
 *
 * State is per table: a reload starts fresh (target ids change with the table).
 *
 * The latency strategy (runtime/table/strategies/latency.ts) reads the latency part through
 * the contract's {@link LatencyState} interface, which this class implements.
 */
import type { LatencyState } from '../table/strategies/types.js';

export interface HealthOptions {
  /** Consecutive failed attempts that open the cooldown. Default 3. */
  failureThreshold?: number;
  /** Cooldown length in ms. Default 30 000. */
  cooldownMs?: number;
  /** EWMA smoothing factor for new samples, 0 < α ≤ 1. Default 0.3. */
  alpha?: number;
  /** A latency sample older than this counts as stale: the target is re-measured. Default 30 000 ms. */
  staleMs?: number;
}

export class HealthState implements LatencyState {
  readonly failureThreshold: number;
  readonly cooldownMs: number;
  readonly alpha: number;
  readonly staleMs: number;
  /** EWMA of time to first byte, ms. */
  readonly ttfbEwma: Float64Array;
  /** Number of latency samples so far. */
  readonly samples: Uint32Array;
  /** Time of the last latency sample (or latency probe claim), ms since epoch. */
  readonly lastSampleAt: Float64Array;
  readonly consecutiveFailures: Uint32Array;
  /** Cooldown end, ms since epoch; 0 = not cooling down. */
  readonly cooldownUntil: Float64Array;
  /** Number of times each target entered cooldown (metrics). */
  readonly cooldowns: Uint32Array;

  constructor(
    readonly targetCount: number,
    opts: HealthOptions = {},
  ) {
    this.failureThreshold = opts.failureThreshold ?? 3;
    this.cooldownMs = opts.cooldownMs ?? 30_000;
    this.alpha = opts.alpha ?? 0.3;
    this.staleMs = opts.staleMs ?? 30_000;
    this.ttfbEwma = new Float64Array(targetCount);
    this.samples = new Uint32Array(targetCount);
    this.lastSampleAt = new Float64Array(targetCount);
    this.consecutiveFailures = new Uint32Array(targetCount);
    this.cooldownUntil = new Float64Array(targetCount);
    this.cooldowns = new Uint32Array(targetCount);
  }

  /** True while t is cooling down. After expiry the target is half-open (probe allowed). */
  inCooldown(t: number, nowMs: number): boolean {
    return this.cooldownUntil[t] > nowMs;
  }

  recordSuccess(t: number, ttfbMs: number, nowMs: number): void {
    this.consecutiveFailures[t] = 0;
    this.cooldownUntil[t] = 0;
    this.ttfbEwma[t] = this.samples[t] === 0 ? ttfbMs : this.alpha * ttfbMs + (1 - this.alpha) * this.ttfbEwma[t];
    this.samples[t]++;
    this.lastSampleAt[t] = nowMs;
  }

  /** Returns true when this failure opened a cooldown. */
  recordFailure(t: number, nowMs: number): boolean {
    const n = ++this.consecutiveFailures[t];
    // Half-open probe failed (n > threshold) or threshold reached: (re)open the cooldown.
    if (n >= this.failureThreshold) {
      this.cooldownUntil[t] = nowMs + this.cooldownMs;
      this.cooldowns[t]++;
      return true;
    }
    return false;
  }

  /** Has t a fresh latency measurement? (untried or stale targets get explored first) */
  isMeasured(t: number, nowMs: number): boolean {
    return this.samples[t] > 0 && nowMs - this.lastSampleAt[t] <= this.staleMs;
  }
}
