/**
 * Route planning (SPEC §3.4, §3.5, §3.7): for one virtual model and one request, the order
 * in which targets are tried. out[0] is the pick from the primary pool; the rest is the
 * fallback order (fallback candidates only). Cooldown is not applied here: the engine
 * skips cooled-down targets as failed (SPEC §9), so the order stays a pure function of
 * (table, request, latency state, random draw) — which is what the property tests check
 * against test/support/reference-router.ts.
 *
 * Orders:
 *   primary pool P  — eligible targets that carry a metadata_match, if any; else all eligible;
 *                     kept in strategy order (weighted: weight desc; priority/latency:
 *                     priority asc, weight desc; ties by configured order);
 *   pick set S ⊆ P  — weighted: P; priority: P's lowest-priority tier; latency: targets
 *                     not yet measured (explored first, one probe at a time), else those
 *                     within LATENCY_TOLERANCE of the fastest (near-ties share by weight);
 *   pick            — sticky key present: weighted rendezvous hashing over S (same key ⇒
 *                     same target on every replica loading this table); else weighted
 *                     random over S (all-zero weights ⇒ uniform);
 *   fallback        — the rest of P in strategy order (latency: by measured latency),
 *                     then the other eligible targets by priority.
 */

import {
  TARGET_STRIDE,
  TF_FLAGS,
  TF_LABEL_HASH,
  TF_METADATA_COUNT,
  TF_PRIORITY,
  TGF_FALLBACK_CANDIDATE,
  VF_CUM,
  VF_FIRST_TARGET,
  VF_FLAGS,
  VF_ORDER,
  VF_PRIMARY_COUNT,
  VF_TARGET_COUNT,
  VM_STRIDE,
  VMF_HAS_METADATA,
  VMF_STRATEGY_SHIFT,
  fnv1aString,
} from '../table/format.js';
import type { RoutingTable } from '../table/reader.js';
import type { HealthState } from './health.js';

/** Near-tie tolerance of the latency strategy: within 20 % (+1 ms) of the fastest. */
export const LATENCY_TOLERANCE = 0.2;
export const LATENCY_TOLERANCE_MS = 1;

const STRATEGY_WEIGHTED = 0;
const STRATEGY_PRIORITY = 1;
const STRATEGY_LATENCY = 2;

/** Per-request routing inputs. One fixed-shape object, reusable across requests. */
export class RouteInput {
  /** Parsed `x-vmc-metadata` (JSON object of strings); null when absent. */
  metadata: Record<string, string> | null = null;
  /** Session key: the vm's sticky key values joined by '\u0000'; null if any is absent. */
  stickyKey: string | null = null;
  reset(): void {
    this.metadata = null;
    this.stickyKey = null;
  }
}

/** murmur3 fmix32: spreads a 32-bit hash over all bits. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Weighted rendezvous score of a target for a session key: w / −ln(u), u ∈ (0, 1) derived
 * from the key hash and the target's label hash. Highest score wins; shares follow weights.
 */
export function rendezvousScore(keyHash: number, labelHash: number, weight: number): number {
  const u = (mix32((keyHash ^ Math.imul(labelHash, 0x9e3779b1)) >>> 0) + 0.5) / 4294967296;
  return weight / -Math.log(u);
}

export class Router {
  readonly table: RoutingTable;
  readonly health: HealthState;
  #pool: Int32Array;
  #others: Int32Array;
  /**
   * xorshift32 state and the current draw live in typed arrays, not fields or arguments:
   * a uint32 ≥ 2^30 stored in a field, or a double passed to a call V8 does not inline, is
   * boxed as a HeapNumber (measured 24 B/plan by test/bench/alloc.test.ts).
   */
  readonly #rng = new Uint32Array(1);
  readonly #draw = new Float64Array(1);

  constructor(table: RoutingTable, health: HealthState, seed = (Math.random() * 0xffffffff) >>> 0) {
    this.table = table;
    this.health = health;
    const n = Math.max(1, table.maxTargets);
    this.#pool = new Int32Array(n);
    this.#others = new Int32Array(n);
    this.#rng[0] = seed >>> 0 || 0x9e3779b9;
  }

  /** xorshift32 step into the state array. Allocation-free, seedable for tests. */
  #step(): void {
    const rng = this.#rng;
    rng[0] ^= rng[0] << 13;
    rng[0] ^= rng[0] >>> 17;
    rng[0] ^= rng[0] << 5;
  }

  /** A uniform draw in [0, 1) (cold convenience; the hot path keeps draws in #draw). */
  random(): number {
    this.#step();
    return this.#rng[0] / 4294967296;
  }

  /** HOT PATH: allocation-free — plan with a fresh random draw. See planWith. */
  plan(vm: number, input: RouteInput, nowMs: number, out: Int32Array): number {
    this.#step();
    this.#draw[0] = this.#rng[0] / 4294967296;
    return this.#plan(vm, input, nowMs, out);
  }

  /**
   * Fills `out` with global target ids in try order; returns the count (0 when no target
   * is eligible for the request's metadata). `r` ∈ [0, 1) is the random draw (tests,
   * explain: a reproducible decision).
   */
  planWith(vm: number, input: RouteInput, nowMs: number, r: number, out: Int32Array): number {
    this.#draw[0] = r;
    return this.#plan(vm, input, nowMs, out);
  }

  /** HOT PATH: allocation-free — change with care. The draw is in #draw[0]. */
  #plan(vm: number, input: RouteInput, nowMs: number, out: Int32Array): number {
    const r = this.#draw[0];
    const table = this.table;
    const vms = table.vms;
    const targets = table.targets;
    const weights = table.weights;
    const lists = table.lists;
    const rec = vm * VM_STRIDE;
    const first = vms[rec + VF_FIRST_TARGET];
    const n = vms[rec + VF_TARGET_COUNT];
    if (n === 1) {
      if (!table.targetMatchesMetadata(first, input.metadata)) return 0;
      out[0] = first;
      return 1;
    }
    const flags = vms[rec + VF_FLAGS];
    const strategy = (flags >>> VMF_STRATEGY_SHIFT) & 3;
    const orderAt = vms[rec + VF_ORDER];
    const pool = this.#pool;
    const others = this.#others;
    let pn = 0;
    let on = 0;
    const precomputed = (flags & VMF_HAS_METADATA) === 0;

    if (precomputed) {
      const primaryCount = vms[rec + VF_PRIMARY_COUNT];
      for (let k = 0; k < n; k++) {
        if (k < primaryCount) pool[pn++] = lists[orderAt + k];
        else others[on++] = lists[orderAt + k];
      }
    } else {
      // Primary-pool rule (SPEC §3.4): eligible targets with a metadata_match, if any.
      let anyMatched = false;
      for (let i = 0; i < n; i++) {
        const t = first + i;
        if (targets[t * TARGET_STRIDE + TF_METADATA_COUNT] > 0 && table.targetMatchesMetadata(t, input.metadata)) {
          anyMatched = true;
          break;
        }
      }
      for (let k = 0; k < n; k++) {
        const i = lists[orderAt + k];
        const t = first + i;
        const hasMeta = targets[t * TARGET_STRIDE + TF_METADATA_COUNT] > 0;
        if (hasMeta && !table.targetMatchesMetadata(t, input.metadata)) continue;
        if (!anyMatched || hasMeta) pool[pn++] = i;
        else others[on++] = i;
      }
      if (pn === 0) return 0;
      if (strategy === STRATEGY_WEIGHTED) sortByPriority(others, on, first, targets, weights);
    }

    // Pick set S = pool[0, sn) after any reordering.
    let sn = pn;
    let explore = -1;
    if (strategy === STRATEGY_PRIORITY) {
      const top = targets[(first + pool[0]) * TARGET_STRIDE + TF_PRIORITY];
      sn = 1;
      while (sn < pn && targets[(first + pool[sn]) * TARGET_STRIDE + TF_PRIORITY] === top) sn++;
    } else if (strategy === STRATEGY_LATENCY) {
      const h = this.health;
      sortByLatency(pool, pn, first, h, nowMs);
      // Unmeasured targets sort last; explore the first one not already being probed.
      let measured = 0;
      while (measured < pn && h.isMeasured(first + pool[measured], nowMs)) measured++;
      for (let k = measured; k < pn; k++) {
        if (nowMs - h.lastSampleAt[first + pool[k]] > h.staleMs) {
          explore = k;
          break;
        }
      }
      if (explore < 0 && measured > 0) {
        const limit = h.ttfbEwma[first + pool[0]] * (1 + LATENCY_TOLERANCE) + LATENCY_TOLERANCE_MS;
        sn = 1;
        while (sn < measured && h.ttfbEwma[first + pool[sn]] <= limit) sn++;
      }
    }

    let k: number;
    if (explore >= 0) {
      k = explore;
      // Claim the probe so concurrent requests do not herd onto an unmeasured target.
      this.health.lastSampleAt[first + pool[k]] = nowMs;
    } else if (input.stickyKey !== null) {
      k = pickRendezvous(pool, sn, first, targets, weights, fnv1aString(input.stickyKey));
    } else if (precomputed && strategy !== STRATEGY_LATENCY) {
      k = pickCumulative(table.cumWeights, vms[rec + VF_CUM], sn, r);
    } else {
      k = pickWeighted(pool, sn, first, weights, r);
    }

    let count = 0;
    out[count++] = first + pool[k];
    for (let j = 0; j < pn; j++) {
      if (j === k) continue;
      const t = first + pool[j];
      if (targets[t * TARGET_STRIDE + TF_FLAGS] & TGF_FALLBACK_CANDIDATE) out[count++] = t;
    }
    for (let j = 0; j < on; j++) {
      const t = first + others[j];
      if (targets[t * TARGET_STRIDE + TF_FLAGS] & TGF_FALLBACK_CANDIDATE) out[count++] = t;
    }
    return count;
  }
}

/** Index into cumulative weights cum[at, at+n) for draw r; all-zero ⇒ uniform. Binary search. */
function pickCumulative(cum: Float64Array, at: number, n: number, r: number): number {
  const total = cum[at + n - 1];
  if (!(total > 0)) return Math.min(n - 1, Math.floor(r * n));
  const x = r * total;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[at + mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Weighted pick over pool[0, n) by linear accumulation (same intervals as pickCumulative). */
function pickWeighted(pool: Int32Array, n: number, first: number, weights: Float64Array, r: number): number {
  let total = 0;
  for (let j = 0; j < n; j++) total += weights[first + pool[j]];
  if (!(total > 0)) return Math.min(n - 1, Math.floor(r * n));
  const x = r * total;
  let acc = 0;
  for (let j = 0; j < n; j++) {
    acc += weights[first + pool[j]];
    if (acc > x) return j;
  }
  return n - 1;
}

function pickRendezvous(pool: Int32Array, n: number, first: number, targets: Uint32Array, weights: Float64Array, keyHash: number): number {
  let total = 0;
  for (let j = 0; j < n; j++) total += weights[first + pool[j]];
  let best = 0;
  let bestScore = -1;
  for (let j = 0; j < n; j++) {
    const t = first + pool[j];
    const w = total > 0 ? weights[t] : 1;
    if (w <= 0) continue;
    const s = rendezvousScore(keyHash, targets[t * TARGET_STRIDE + TF_LABEL_HASH], w);
    if (s > bestScore) {
      bestScore = s;
      best = j;
    }
  }
  return best;
}

/** Insertion sort of relative indices by (priority asc, weight desc, index asc). Small n. */
function sortByPriority(a: Int32Array, n: number, first: number, targets: Uint32Array, weights: Float64Array): void {
  for (let i = 1; i < n; i++) {
    const v = a[i];
    const pv = targets[(first + v) * TARGET_STRIDE + TF_PRIORITY];
    const wv = weights[first + v];
    let j = i - 1;
    while (j >= 0) {
      const u = a[j];
      const pu = targets[(first + u) * TARGET_STRIDE + TF_PRIORITY];
      const before = pv < pu || (pv === pu && (wv > weights[first + u] || (wv === weights[first + u] && v < u)));
      if (!before) break;
      a[j + 1] = u;
      j--;
    }
    a[j + 1] = v;
  }
}

/** Stable insertion sort: measured targets by EWMA asc first, then unmeasured in order. */
function sortByLatency(a: Int32Array, n: number, first: number, h: HealthState, nowMs: number): void {
  for (let i = 1; i < n; i++) {
    const v = a[i];
    const mv = h.isMeasured(first + v, nowMs);
    const lv = h.ttfbEwma[first + v];
    let j = i - 1;
    while (j >= 0) {
      const u = a[j];
      const mu = h.isMeasured(first + u, nowMs);
      const before = mv && (!mu || lv < h.ttfbEwma[first + u]);
      if (!before) break;
      a[j + 1] = u;
      j--;
    }
    a[j + 1] = v;
  }
}

/**
 * The session key of a sticky virtual model for one request: the values of ALL its sticky
 * keys (headers by lower-case name, or metadata keys) joined by '\u0000', so several keys
 * form one composite session id (e.g. user + conversation); null when any is absent or
 * empty (the request is then routed as if not sticky). Shared by the engine and explain.
 */
export function stickyKeyOf(
  keys: readonly { source: 'header' | 'metadata'; key: string }[],
  header: (name: string) => string | null | undefined,
  metadata: Record<string, string> | null,
): string | null {
  let out = '';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v =
      k.source === 'header'
        ? header(k.key)
        : metadata !== null && Object.prototype.hasOwnProperty.call(metadata, k.key)
          ? metadata[k.key]
          : null;
    if (v === null || v === undefined || v === '') return null;
    out = i === 0 ? v : out + '\u0000' + v;
  }
  return keys.length === 0 ? null : out;
}
