/**
 * Arrival schedules of open-loop phases (SPEC §11): when request k of a segment is due, in
 * ms from the segment's start. Open loop means the schedule never waits for answers: a slow
 * gateway makes requests late, and their latency is measured from the scheduled time (no
 * coordinated omission).
 *
 *   uniform   t_k = k / rate
 *   poisson   exponential gaps of mean 1 / rate (seeded, keyed by k)
 *   ramp      rate rising (or falling) linearly from `from` to `to`: t_k solves N(t) = k with
 *             N(t) = from·t + (to − from)·t² / (2·D); Poisson ramps warp unit-rate arrivals
 *             through the same N
 *   trace     the recorded offsets divided by the replay speed
 */
import { hash01 } from '../sim/random.js';

export type ScheduleSpec =
  | { kind: 'rate'; rate: number; durationMs: number; poisson: boolean }
  | { kind: 'ramp'; from: number; to: number; durationMs: number; poisson: boolean }
  | { kind: 'trace'; offsetsMs: Float64Array; speed: number; durationMs: number };

const SALT_ARRIVAL = 21;

/** Iterates due times in ms (NaN when the schedule is over). */
export class Schedule {
  readonly #spec: ScheduleSpec;
  readonly #seed: number;
  #k = 0;
  #acc = 0;

  constructor(spec: ScheduleSpec, seed: number) {
    this.#spec = spec;
    this.#seed = seed;
  }

  /** Expected number of requests (exact for uniform and trace). */
  expected(): number {
    const s = this.#spec;
    if (s.kind === 'rate') return Math.floor((s.rate * s.durationMs) / 1000);
    if (s.kind === 'ramp') return Math.floor((((s.from + s.to) / 2) * s.durationMs) / 1000);
    let n = 0;
    for (const t of s.offsetsMs) if (t / s.speed < s.durationMs) n++;
    return n;
  }

  next(): number {
    const s = this.#spec;
    const k = this.#k++;
    let t: number;
    if (s.kind === 'trace') {
      if (k >= s.offsetsMs.length) return NaN;
      t = s.offsetsMs[k] / s.speed;
    } else if (s.kind === 'rate') {
      if (s.poisson) {
        this.#acc += -Math.log(1 - hash01(this.#seed, k, SALT_ARRIVAL)) / s.rate;
        t = this.#acc * 1000;
      } else t = (k * 1000) / s.rate;
    } else {
      // count-space position of arrival k: k itself, or a unit-rate Poisson process
      if (s.poisson) this.#acc += -Math.log(1 - hash01(this.#seed, k, SALT_ARRIVAL));
      const c = s.poisson ? this.#acc : k;
      t = rampTime(s.from, s.to, s.durationMs / 1000, c) * 1000;
    }
    return t < s.durationMs ? t : NaN;
  }
}

/** The time (s) at which a linear ramp from `r0` to `r1` over `d` seconds has sent `c` requests. */
export function rampTime(r0: number, r1: number, d: number, c: number): number {
  const a = (r1 - r0) / (2 * d);
  if (Math.abs(a) < 1e-12) return c / r0;
  const disc = r0 * r0 + 4 * a * c;
  if (disc < 0) return Infinity; // a falling ramp that never reaches c
  return (-r0 + Math.sqrt(disc)) / (2 * a);
}
