/**
 * Per-target health and latency, in typed arrays indexed by global target id.
 *
 * Outlier detection (SPEC §3.10, §9), in the spirit of Envoy's: a target that keeps failing
 * is ejected ("cooling down") — the engine skips it as failed — and probed again afterwards.
 *
 * - **Consecutive failures, scaled by the failure-rate window.** A run of k consecutive failed
 *   attempts ejects a target when k ≥ the threshold
 *       K = clamp(⌈ln(1e-8) / ln f̂⌉, failureThreshold, maxFailureThreshold)
 *   where f̂ is the target's failure rate over the window *before* the run began, smoothed
 *   towards 25 % by a prior of 8 attempts (f̂ = (F + 2) / (N + 8)): K is the shortest run that
 *   a target failing at its usual rate produces by chance less than once in 10⁸ positions.
 *   A busy healthy target that dies is ejected after 5 failures (f̂ ≈ 0); a fresh target
 *   after 14 (nothing known yet: f̂ = 25 %); a target that fails 30 % of the time anyway
 *   needs a run of 16, which independent failures practically never produce — retries absorb
 *   such noise, ejecting the target would only add errors (issue 8: the old rule "3 in a row"
 *   flapped 1,562 times in 77 s and turned 20 % upstream failures into 20.9 % client errors).
 * - **Failure-rate detector.** With at least `minRequestVolume` attempts in the window and a
 *   failure rate ≥ `failureRateThreshold` (85 %), the target is ejected even without a run.
 * - **Window.** `intervalMs` (10 s), two buckets: the current one and the previous one
 *   weighted by how much of it still overlaps the sliding window.
 * - **Ejection time grows with repeats.** `cooldownMs` × the ejection multiplier, at most
 *   `maxCooldownMs`. The multiplier grows by one per ejection and shrinks by one per
 *   `cooldownMs` spent healthy (closed) since the last one.
 * - **Maximum share of a pool ejected at once.** At most ⌊`maxEjectedShare` × pool size⌋
 *   targets of one virtual model, but always at least one (so that SPEC §3.10 holds for
 *   single-target models). A target that meets the rule while the share is used up stays in
 *   service; its failures keep counting.
 * - **Half-open probes.** When the ejection time has passed, the next request's attempt is
 *   the probe (one at a time; other requests keep skipping the target until the probe's
 *   verdict or its lease runs out). A success closes the breaker and clears the window; a
 *   failure ejects again, for longer.
 * - **Epochs.** Every state change (ejection, probe claim, close) bumps the target's epoch;
 *   an attempt carries the epoch it was admitted in and its outcome is ignored when the epoch
 *   moved on. So an in-flight success that started before an ejection cannot close the
 *   freshly opened breaker, and a late failure cannot count against a target that closed.
 *
 * What counts as a failure is the engine's call (runtime/engine.ts): client faults never do.
 *
 * Latency (SPEC §3.5 `latency`): exponentially weighted moving average of time to first body
 * byte, measured by this runtime (SPEC §9). The latency strategy
 * (runtime/table/strategies/latency.ts) reads it through the contract's
 * {@link LatencyState} interface, which this class implements.
 *
 * State is per table: a reload starts fresh (target ids change with the table).
 *
 * Replicas (SPEC §14): with a shared state store an ejection is announced ({@link
 * HealthState.onEject}) and other replicas' ejections are applied ({@link
 * HealthState.honourCooldown}); the counts and windows behind a decision, and the latency
 * averages, stay per replica (docs/deploy.md says why).
 */
import type { RoutingTable } from '../table/reader.js';
import type { LatencyState } from '../table/strategies/types.js';

export interface HealthOptions {
  /** Fewest consecutive failed attempts that eject a target. Default 5. */
  failureThreshold?: number;
  /** Most consecutive failures ever needed (the threshold for a target that fails often anyway). Default max(20, failureThreshold). */
  maxFailureThreshold?: number;
  /** Failure-rate window, ms. Default 10 000. */
  intervalMs?: number;
  /** Attempts in the window before the failure-rate detector applies. Default 20. */
  minRequestVolume?: number;
  /** Failure share in the window (with minRequestVolume attempts) that ejects. Default 0.85. */
  failureRateThreshold?: number;
  /** Base ejection time, ms. Default 30 000. */
  cooldownMs?: number;
  /** Longest ejection, ms. Default 300 000. */
  maxCooldownMs?: number;
  /** Largest share of one virtual model's targets ejected at once (at least one target). Default 0.5. */
  maxEjectedShare?: number;
  /** EWMA smoothing factor for new samples, 0 < α ≤ 1. Default 0.3. */
  alpha?: number;
  /** A latency sample older than this counts as stale: the target is re-measured. Default 30 000 ms. */
  staleMs?: number;
}

/** {@link HealthState.admit}: the target is ejected (or a probe is out); skip it. */
export const ADMIT_SKIP = -1;

const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;

/** ln of the chance below which a run of failures is not bad luck (10⁻⁸). */
const LN_RUN_CHANCE = Math.log(1e-8);
/** Prior of the failure-rate estimate: PRIOR_FAILURES in PRIOR_ATTEMPTS (25 %). */
const PRIOR_FAILURES = 2;
const PRIOR_ATTEMPTS = 8;

export class HealthState implements LatencyState {
  readonly failureThreshold: number;
  readonly maxFailureThreshold: number;
  readonly intervalMs: number;
  readonly minRequestVolume: number;
  readonly failureRateThreshold: number;
  readonly cooldownMs: number;
  readonly maxCooldownMs: number;
  readonly maxEjectedShare: number;
  readonly alpha: number;
  readonly staleMs: number;

  /** EWMA of time to first byte, ms. */
  readonly ttfbEwma: Float64Array;
  /** Number of latency samples so far. */
  readonly samples: Uint32Array;
  /** Time of the last latency sample (or latency probe claim), ms since epoch. */
  readonly lastSampleAt: Float64Array;

  readonly consecutiveFailures: Uint32Array;
  /** CLOSED | OPEN | HALF_OPEN. */
  readonly state: Uint8Array;
  /** OPEN: end of the ejection; HALF_OPEN: end of the probe's lease. ms since epoch. */
  readonly cooldownUntil: Float64Array;
  /** Bumped on every state change; outcomes of attempts admitted in an older epoch are ignored. */
  readonly epoch: Uint32Array;
  /** Ejection multiplier (see the module comment). */
  readonly ejections: Uint32Array;
  /** When the breaker last closed (or 0), for the multiplier's decay. */
  readonly closedAt: Float64Array;
  /** Number of times each target was ejected (metrics). */
  readonly cooldowns: Uint32Array;

  /** Failure-rate window: start of the current bucket, and the two buckets' counts. */
  readonly windowStart: Float64Array;
  readonly curAttempts: Uint32Array;
  readonly curFailures: Uint32Array;
  readonly prevAttempts: Uint32Array;
  readonly prevFailures: Uint32Array;

  /** The pool (virtual model) of each target: first target id and size. */
  readonly poolFirst: Int32Array;
  readonly poolSize: Int32Array;

  /**
   * Called when this process ejects t, with the end of the ejection (ms since the epoch):
   * with a shared state store the other replicas honour it (SPEC §14, runtime/state/cooldowns.ts).
   */
  onEject: ((t: number, untilMs: number) => void) | null = null;

  /**
   * `table` gives the pools for `maxEjectedShare` (a virtual model's targets); without it
   * every target is a pool of its own.
   */
  constructor(
    readonly targetCount: number,
    opts: HealthOptions = {},
    table?: RoutingTable,
  ) {
    this.failureThreshold = Math.max(1, opts.failureThreshold ?? 5);
    this.maxFailureThreshold = Math.max(this.failureThreshold, opts.maxFailureThreshold ?? Math.max(20, this.failureThreshold));
    this.intervalMs = opts.intervalMs ?? 10_000;
    this.minRequestVolume = opts.minRequestVolume ?? 20;
    this.failureRateThreshold = opts.failureRateThreshold ?? 0.85;
    this.cooldownMs = opts.cooldownMs ?? 30_000;
    this.maxCooldownMs = Math.max(this.cooldownMs, opts.maxCooldownMs ?? 300_000);
    this.maxEjectedShare = opts.maxEjectedShare ?? 0.5;
    this.alpha = opts.alpha ?? 0.3;
    this.staleMs = opts.staleMs ?? 30_000;
    const n = targetCount;
    this.ttfbEwma = new Float64Array(n);
    this.samples = new Uint32Array(n);
    this.lastSampleAt = new Float64Array(n);
    this.consecutiveFailures = new Uint32Array(n);
    this.state = new Uint8Array(n);
    this.cooldownUntil = new Float64Array(n);
    this.epoch = new Uint32Array(n);
    this.ejections = new Uint32Array(n);
    this.closedAt = new Float64Array(n);
    this.cooldowns = new Uint32Array(n);
    this.windowStart = new Float64Array(n);
    this.curAttempts = new Uint32Array(n);
    this.curFailures = new Uint32Array(n);
    this.prevAttempts = new Uint32Array(n);
    this.prevFailures = new Uint32Array(n);
    this.poolFirst = new Int32Array(n);
    this.poolSize = new Int32Array(n);
    for (let t = 0; t < n; t++) {
      this.poolFirst[t] = t;
      this.poolSize[t] = 1;
    }
    if (table !== undefined) {
      for (let vm = 0; vm < table.vmCount; vm++) {
        const first = table.vmFirstTarget(vm);
        const size = table.vmTargetCount(vm);
        for (let i = 0; i < size; i++) {
          this.poolFirst[first + i] = first;
          this.poolSize[first + i] = size;
        }
      }
    }
  }

  /**
   * True while t takes no ordinary traffic: ejected, or half-open with a probe out.
   * Read-only (the engine's look-ahead for "is there a next target").
   */
  inCooldown(t: number, nowMs: number): boolean {
    return this.state[t] !== CLOSED && this.cooldownUntil[t] > nowMs;
  }

  /**
   * Admits one attempt on t: its epoch (≥ 0), to be passed back with the outcome, or
   * {@link ADMIT_SKIP} when t is ejected. After the ejection time the first caller becomes
   * the half-open probe, holding it for `leaseMs` (the attempt's time to a verdict).
   */
  admit(t: number, nowMs: number, leaseMs: number): number {
    const s = this.state[t];
    if (s === CLOSED) return this.epoch[t];
    if (this.cooldownUntil[t] > nowMs) return ADMIT_SKIP;
    // ejection over (OPEN) or the previous probe's lease ran out (HALF_OPEN): this one probes
    this.state[t] = HALF_OPEN;
    this.cooldownUntil[t] = nowMs + leaseMs;
    return ++this.epoch[t];
  }

  /** Latency sample (time to first body byte) of an answered attempt. */
  recordLatency(t: number, ttfbMs: number, nowMs: number): void {
    this.ttfbEwma[t] = this.samples[t] === 0 ? ttfbMs : this.alpha * ttfbMs + (1 - this.alpha) * this.ttfbEwma[t];
    this.samples[t]++;
    this.lastSampleAt[t] = nowMs;
  }

  /** A successful attempt admitted in `epoch`. A successful probe closes the breaker. */
  recordSuccess(t: number, epoch: number, nowMs: number): void {
    if (epoch !== this.epoch[t]) return; // admitted before the last state change: no say
    if (this.state[t] === HALF_OPEN) {
      this.#close(t, nowMs);
      return;
    }
    this.#roll(t, nowMs);
    this.curAttempts[t]++;
    this.consecutiveFailures[t] = 0;
  }

  /**
   * A failed attempt admitted in `epoch`. Returns true when it ejected the target (the
   * engine stops retrying it and counts a cooldown).
   */
  recordFailure(t: number, epoch: number, nowMs: number): boolean {
    if (epoch !== this.epoch[t]) return false;
    const s = this.state[t];
    if (s === HALF_OPEN) {
      this.#eject(t, nowMs, false); // the probe failed
      return true;
    }
    if (s !== CLOSED) return false;
    this.#roll(t, nowMs);
    this.curAttempts[t]++;
    this.curFailures[t]++;
    const run = ++this.consecutiveFailures[t];
    const w = this.#prevWeight(t, nowMs);
    const attempts = this.curAttempts[t] + w * this.prevAttempts[t];
    const failures = this.curFailures[t] + w * this.prevFailures[t];
    const trip =
      run >= this.runThreshold(Math.max(0, failures - run), Math.max(0, attempts - run)) ||
      (attempts >= this.minRequestVolume && failures >= this.failureRateThreshold * attempts);
    if (!trip || !this.#poolAllows(t)) return false;
    this.#eject(t, nowMs, true);
    return true;
  }

  /** An attempt admitted in `epoch` ended without a verdict (client gone, client fault): frees a probe. */
  release(t: number, epoch: number, nowMs: number): void {
    if (epoch === this.epoch[t] && this.state[t] === HALF_OPEN) {
      this.cooldownUntil[t] = nowMs; // the next request probes
      this.epoch[t]++;
    }
  }

  /**
   * Consecutive failures that eject a target which showed `failures` in `attempts` before
   * the run (see the module comment).
   */
  runThreshold(failures: number, attempts: number): number {
    const lo = this.failureThreshold;
    const hi = this.maxFailureThreshold;
    if (lo >= hi) return lo;
    const f = (failures + PRIOR_FAILURES) / (attempts + PRIOR_ATTEMPTS);
    if (f >= 1) return hi;
    const k = Math.ceil(LN_RUN_CHANCE / Math.log(f));
    return k < lo ? lo : k > hi ? hi : k;
  }

  /** Has t a fresh latency measurement? (untried or stale targets get explored first) */
  isMeasured(t: number, nowMs: number): boolean {
    return this.samples[t] > 0 && nowMs - this.lastSampleAt[t] <= this.staleMs;
  }

  /**
   * Another replica ejected t until `untilMs` (SPEC §14): skip it here too for what is left
   * of that time, then probe as after an ejection of our own. Not applied when t is ejected
   * longer already, or when ejecting it would pass the pool's maximum ejected share (this
   * replica may have ejected other targets of the pool itself; a pool is never emptied).
   * Not counted in `cooldowns` (that counts this replica's own decisions). True when applied.
   */
  honourCooldown(t: number, untilMs: number, nowMs: number): boolean {
    if (t < 0 || t >= this.targetCount || untilMs <= nowMs) return false;
    const s = this.state[t];
    if (s === OPEN && this.cooldownUntil[t] >= untilMs) return false;
    if (s === CLOSED && !this.#poolAllows(t)) return false;
    this.state[t] = OPEN;
    this.cooldownUntil[t] = untilMs;
    this.epoch[t]++; // in-flight attempts (a probe of ours too) no longer have a say
    this.consecutiveFailures[t] = 0;
    return true;
  }

  #eject(t: number, nowMs: number, fromClosed: boolean): void {
    let m = this.ejections[t];
    if (fromClosed && this.closedAt[t] > 0) {
      const healthy = Math.floor((nowMs - this.closedAt[t]) / this.cooldownMs);
      m = healthy >= m ? 0 : m - healthy;
    }
    m++;
    this.ejections[t] = m;
    const ms = this.cooldownMs * m;
    this.state[t] = OPEN;
    this.cooldownUntil[t] = nowMs + (ms < this.maxCooldownMs ? ms : this.maxCooldownMs);
    this.epoch[t]++;
    this.consecutiveFailures[t] = 0;
    this.cooldowns[t]++;
    this.onEject?.(t, this.cooldownUntil[t]);
  }

  #close(t: number, nowMs: number): void {
    this.state[t] = CLOSED;
    this.cooldownUntil[t] = 0;
    this.epoch[t]++;
    this.consecutiveFailures[t] = 0;
    this.closedAt[t] = nowMs;
    this.windowStart[t] = nowMs;
    this.curAttempts[t] = 0;
    this.curFailures[t] = 0;
    this.prevAttempts[t] = 0;
    this.prevFailures[t] = 0;
  }

  /** Moves the window's buckets along to `nowMs`. */
  #roll(t: number, nowMs: number): void {
    const elapsed = nowMs - this.windowStart[t];
    if (elapsed < this.intervalMs) return;
    if (elapsed < 2 * this.intervalMs) {
      this.prevAttempts[t] = this.curAttempts[t];
      this.prevFailures[t] = this.curFailures[t];
      this.windowStart[t] += this.intervalMs;
    } else {
      this.prevAttempts[t] = 0;
      this.prevFailures[t] = 0;
      this.windowStart[t] = nowMs;
    }
    this.curAttempts[t] = 0;
    this.curFailures[t] = 0;
  }

  /** Weight of the previous bucket: the part of it still inside the sliding window. */
  #prevWeight(t: number, nowMs: number): number {
    const w = 1 - (nowMs - this.windowStart[t]) / this.intervalMs;
    return w < 0 ? 0 : w > 1 ? 1 : w;
  }

  /** May t be ejected now without passing the pool's maximum ejected share? */
  #poolAllows(t: number): boolean {
    const size = this.poolSize[t];
    if (size <= 1) return true;
    const first = this.poolFirst[t];
    const allowed = Math.max(1, Math.floor(this.maxEjectedShare * size));
    let ejected = 0;
    for (let i = first; i < first + size; i++) {
      // an OPEN target whose time ran out counts until its probe closes it: not yet proven healthy
      if (this.state[i] !== CLOSED) ejected++;
    }
    return ejected < allowed;
  }
}
