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
 *                     kept in the strategy's build-time order (the table's VF_ORDER);
 *   pick set S ⊆ P  — the strategy's rule (runtime/table/strategies/<name>.ts): weighted P;
 *                     priority P's lowest tier; latency explores an unmeasured target, else
 *                     the near-ties of the fastest;
 *   pick            — sticky key present: weighted rendezvous hashing over S (same key ⇒
 *                     same target on every replica loading this table); else weighted
 *                     random over S (all-zero weights ⇒ uniform) — strategies/pick.ts;
 *   fallback        — the rest of P in strategy order (latency: by measured latency),
 *                     then the other eligible targets by priority.
 */

import {
  TARGET_STRIDE,
  TF_FLAGS,
  TF_METADATA_COUNT,
  TGF_FALLBACK_CANDIDATE,
  VF_CUM,
  VF_ORDER,
  VF_PRIMARY_COUNT,
  VM_STRIDE,
  VMF_HAS_METADATA,
  VMF_STRATEGY_MASK,
  VMF_STRATEGY_SHIFT,
  fnv1aString,
} from '../table/format.js';
import { Hot } from '../table/hot.js';
import type { RoutingTable } from '../table/reader.js';
import { claimProbe, latencyExplore, latencyNearTies, sortByLatency } from '../table/strategies/latency.js';
import { pickCumulative, pickCumulative4, pickRendezvous, pickWeighted, sortByPriority } from '../table/strategies/pick.js';
import { priorityPickCount } from '../table/strategies/priority.js';
import { LATENCY_CODE, PRIORITY_CODE, WEIGHTED_CODE } from '../table/strategies/index.js';
import type { HealthState } from './health.js';

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

export class Router {
  readonly table: RoutingTable;
  readonly health: HealthState;
  /** Scratch: the primary pool, then the other eligible targets (relative indices). */
  #pool: Int32Array;
  #others: Int32Array;
  /** Size of #others after the last #precomputedPools / #metadataPools. */
  #othersCount = 0;
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
    let x = rng[0]; // an int32 local in optimized code: one load and one store per step
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    rng[0] = x;
  }

  /**
   * A uniform draw in [0, 1) (cold convenience; the hot path keeps draws in #draw). The
   * sequence is the one `plan` uses: a fresh Router's first random() is its first plan's draw.
   */
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
    const table = this.table;
    // The vm's record of the table's hot index (reader.ts): one 128-byte record holds what the
    // common plans read, so a plan touches one or two cache lines, not the file's records.
    const hot = table.hot;
    const h = vm * Hot.STRIDE;
    const first = hot[h + Hot.FIRST];
    const n = hot[h + Hot.COUNT];
    const flags = hot[h + Hot.FLAGS];
    if (n === 1) {
      if ((flags & VMF_HAS_METADATA) !== 0 && !table.targetMatchesMetadata(first, input.metadata)) return 0;
      out[0] = first;
      return 1;
    }
    const inline = hot[h + Hot.PLAN];
    if ((inline & Hot.INLINE) !== 0 && input.stickyKey === null) {
      // weighted or priority, no metadata conditions: the pick from the precomputed primary
      // pool, then every other target in strategy order that is a fallback candidate —
      // what the general path below computes for this case, from one record.
      const k = pickCumulative4(table.hotF64, (h >> 1) + Hot.CUM_F64, hot[h + Hot.PRIMARY], this.#draw);
      if ((inline & Hot.SMALL) !== 0) {
        // 2–4 targets: the pick's try order is precomputed (Hot.ORDER). Four stores whatever its
        // length, so that no branch depends on the random k (out's slots past the count are
        // scratch); a loop when out is shorter than four.
        const seq = hot[h + Hot.ORDER + (k >> 1)] >>> ((k & 1) << 4);
        const count = ((inline >>> (16 + 2 * k)) & 3) + 1;
        if (out.length >= 4) {
          out[0] = first + (seq & 15);
          out[1] = first + ((seq >>> 4) & 15);
          out[2] = first + ((seq >>> 8) & 15);
          out[3] = first + ((seq >>> 12) & 15);
        } else for (let i = 0; i < count; i++) out[i] = first + ((seq >>> (4 * i)) & 15);
        return count;
      }
      return this.#inlineOrder(hot, h, first, n, inline, k, out);
    }
    return this.#general(vm, input, nowMs, out, first, n, flags);
  }

  /**
   * HOT PATH: allocation-free. The inline plan of a pool of 5–16 targets (a function of its
   * own so that #plan stays under TurboFan's inlining budget): pick k of the primary pool,
   * then the fallback candidates but k, in strategy order (Hot.ORDER, Hot.PLAN bits 16–31).
   */
  #inlineOrder(hot: Int32Array, h: number, first: number, n: number, inline: number, k: number, out: Int32Array): number {
    const lo = hot[h + Hot.ORDER];
    const hi = hot[h + Hot.ORDER + 1];
    const picked = first + (k < 8 ? (lo >>> (4 * k)) & 15 : (hi >>> (4 * (k - 8))) & 15);
    // Without a branch on the random k: each candidate is written at out[count] and kept by
    // advancing the count. A write that would land past the n slots out may have (k last,
    // every other one kept) goes to out[0], which the pick then takes.
    let count = 1;
    for (let j = 0; j < n; j++) {
      out[count & -+(count < n)] = first + (j < 8 ? (lo >>> (4 * j)) & 15 : (hi >>> (4 * (j - 8))) & 15);
      count += +(j !== k) & ((inline >>> (16 + j)) & 1);
    }
    out[0] = picked;
    return count;
  }

  /**
   * HOT PATH: allocation-free — change with care. The general planner (metadata conditions,
   * latency, sticky keys, large pools), on the file's records; a function of its own so that
   * the common case above stays small.
   */
  #general(vm: number, input: RouteInput, nowMs: number, out: Int32Array, first: number, n: number, flags: number): number {
    const table = this.table;
    const vms = table.vms;
    const rec = vm * VM_STRIDE;
    const strategy = (flags >>> VMF_STRATEGY_SHIFT) & VMF_STRATEGY_MASK;
    const precomputed = (flags & VMF_HAS_METADATA) === 0;
    const pool = this.#pool;
    const others = this.#others;
    // pool[0, pn) = the primary pool, others[0, on) = the other eligible targets.
    const pn = precomputed ? this.#precomputedPools(rec, n) : this.#metadataPools(rec, first, n, input.metadata);
    if (pn === 0) return 0;
    const on = this.#othersCount;

    // Pick set S = pool[0, sn) after the strategy's reordering; or a target to explore.
    let sn = pn;
    let explore = -1;
    switch (strategy) {
      case WEIGHTED_CODE:
        break;
      case PRIORITY_CODE:
        sn = priorityPickCount(table, pool, pn, first);
        break;
      case LATENCY_CODE: {
        const h = this.health;
        const measured = sortByLatency(h, pool, pn, first, nowMs);
        explore = latencyExplore(h, pool, measured, pn, first, nowMs);
        if (explore < 0 && measured > 0) sn = latencyNearTies(h, pool, measured, first);
        break;
      }
    }

    let k: number;
    if (explore >= 0) {
      k = explore;
      claimProbe(this.health, first + pool[k], nowMs);
    } else if (input.stickyKey !== null) {
      k = pickRendezvous(table, pool, sn, first, fnv1aString(input.stickyKey));
    } else if (precomputed && strategy !== LATENCY_CODE) {
      // S is the build-time pick set: binary search of the table's cumulative weights.
      k = pickCumulative(table.cumWeights, vms[rec + VF_CUM], sn, this.#draw[0]);
    } else {
      k = pickWeighted(pool, sn, first, table.weights, this.#draw[0]);
    }

    const targets = table.targets;
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

  /** HOT PATH: allocation-free. No metadata conditions: the pools are the table's precomputed split of VF_ORDER. */
  #precomputedPools(rec: number, n: number): number {
    const vms = this.table.vms;
    const lists = this.table.lists;
    const orderAt = vms[rec + VF_ORDER];
    const primaryCount = vms[rec + VF_PRIMARY_COUNT];
    const pool = this.#pool;
    const others = this.#others;
    for (let k = 0; k < n; k++) {
      if (k < primaryCount) pool[k] = lists[orderAt + k];
      else others[k - primaryCount] = lists[orderAt + k];
    }
    this.#othersCount = n - primaryCount;
    return primaryCount;
  }

  /**
   * HOT PATH: allocation-free. Primary-pool rule (SPEC §3.4): eligible targets with a
   * metadata_match, if any; else all eligible ones. Both pools keep VF_ORDER; the others are
   * then sorted by priority (SPEC §3.7; a no-op for strategies whose order is by priority).
   * Returns the pool size.
   */
  #metadataPools(rec: number, first: number, n: number, metadata: Record<string, string> | null): number {
    const table = this.table;
    const targets = table.targets;
    const lists = table.lists;
    const orderAt = table.vms[rec + VF_ORDER];
    const pool = this.#pool;
    const others = this.#others;
    let anyMatched = false;
    for (let i = 0; i < n; i++) {
      const t = first + i;
      if (targets[t * TARGET_STRIDE + TF_METADATA_COUNT] > 0 && table.targetMatchesMetadata(t, metadata)) {
        anyMatched = true;
        break;
      }
    }
    let pn = 0;
    let on = 0;
    for (let k = 0; k < n; k++) {
      const i = lists[orderAt + k];
      const t = first + i;
      const hasMeta = targets[t * TARGET_STRIDE + TF_METADATA_COUNT] > 0;
      if (hasMeta && !table.targetMatchesMetadata(t, metadata)) continue;
      if (!anyMatched || hasMeta) pool[pn++] = i;
      else others[on++] = i;
    }
    this.#othersCount = on;
    if (pn > 0) sortByPriority(table, others, on, first);
    return pn;
  }
}
