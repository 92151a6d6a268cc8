/**
 * The picks every strategy shares (SPEC §3.5), and the priority order the fallback uses
 * (SPEC §3.7 "then the other eligible targets by priority").
 *
 *   sticky key present — weighted rendezvous hashing over the pick set: the same key maps to
 *                        the same target on every replica loading the same table, and keys
 *                        spread by weight;
 *   otherwise          — weighted random over the pick set with a draw r ∈ [0, 1): target j
 *                        owns the interval [Σw<j, Σw≤j) of r·Σw; all-zero weights ⇒ uniform.
 *
 * Each comes in a hot form (typed arrays, allocation-free; the router) and a cold form
 * (arrays; explain and the reference router). Hot forms index the pool with relative target
 * indices: `first + pool[j]` is a global target id.
 */
import { mix32 } from '../util.js';
import type { RankedTarget, StrategyTable } from './types.js';

/**
 * Weighted rendezvous score of a target for a session key: w / −ln(u), u ∈ (0, 1) derived
 * from the key hash and the target's label hash. Highest score wins; shares follow weights.
 */
export function rendezvousScore(keyHash: number, labelHash: number, weight: number): number {
  const u = (mix32((keyHash ^ Math.imul(labelHash, 0x9e3779b1)) >>> 0) + 0.5) / 4294967296;
  return weight / -Math.log(u);
}

// ── hot forms ─────────────────────────────────────────────────────────────────

/** HOT PATH: allocation-free. Index into cumulative weights cum[at, at+n) for draw r; all-zero ⇒ uniform. Binary search. */
export function pickCumulative(cum: Float64Array, at: number, n: number, r: number): number {
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

/**
 * HOT PATH: allocation-free, branch-free for a non-zero total. {@link pickCumulative} over
 * at most four cumulative weights stored in four slots, `cum[at + n, at + 4)` padded with
 * +Infinity: the index is the number of the first three slots ≤ r·total (the slots are
 * non-decreasing, and r·total < total = cum[at + n − 1]). A binary search with a random draw
 * mispredicts a branch per pick (issue 13: the hot index's inline plan). The draw r is
 * `draw[0]`: a double argument to a call V8 does not inline would be boxed.
 */
export function pickCumulative4(cum: Float64Array, at: number, n: number, draw: Float64Array): number {
  const total = cum[at + n - 1];
  const r = draw[0];
  if (!(total > 0)) return Math.min(n - 1, Math.floor(r * n));
  const x = r * total;
  return +(cum[at] <= x) + +(cum[at + 1] <= x) + +(cum[at + 2] <= x);
}

/** HOT PATH: allocation-free. Weighted pick over pool[0, n) by linear accumulation (same intervals as pickCumulative). */
export function pickWeighted(pool: Int32Array, n: number, first: number, weights: Float64Array, r: number): number {
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

/** HOT PATH: allocation-free. Weighted rendezvous pick over pool[0, n) for a session key hash. */
export function pickRendezvous(table: StrategyTable, pool: Int32Array, n: number, first: number, keyHash: number): number {
  const weights = table.weights;
  let total = 0;
  for (let j = 0; j < n; j++) total += weights[first + pool[j]];
  let best = 0;
  let bestScore = -1;
  for (let j = 0; j < n; j++) {
    const t = first + pool[j];
    const w = total > 0 ? weights[t] : 1;
    if (w <= 0) continue;
    const s = rendezvousScore(keyHash, table.targetLabelHash(t), w);
    if (s > bestScore) {
      bestScore = s;
      best = j;
    }
  }
  return best;
}

/** HOT PATH: allocation-free. Insertion sort of relative indices a[0, n) by {@link byPriority}. Small n. */
export function sortByPriority(table: StrategyTable, a: Int32Array, n: number, first: number): void {
  const weights = table.weights;
  for (let i = 1; i < n; i++) {
    const v = a[i];
    const pv = table.targetPriority(first + v);
    const wv = weights[first + v];
    let j = i - 1;
    while (j >= 0) {
      const u = a[j];
      const pu = table.targetPriority(first + u);
      const before = pv < pu || (pv === pu && (wv > weights[first + u] || (wv === weights[first + u] && v < u)));
      if (!before) break;
      a[j + 1] = u;
      j--;
    }
    a[j + 1] = v;
  }
}

// ── cold forms ────────────────────────────────────────────────────────────────

/** Priority order of target indices: priority asc, weight desc, configured order. */
export function byPriority(targets: readonly RankedTarget[]): (a: number, b: number) => number {
  return (a, b) => targets[a].priority - targets[b].priority || targets[b].weight - targets[a].weight || a - b;
}

/** Weight order of target indices: weight desc, configured order. */
export function byWeight(targets: readonly RankedTarget[]): (a: number, b: number) => number {
  return (a, b) => targets[b].weight - targets[a].weight || a - b;
}

/** Index into `ws` owning draw r (the intervals of {@link pickWeighted}); all-zero ⇒ uniform. */
export function weightedIndex(ws: readonly number[], r: number): number {
  const total = ws.reduce((a, b) => a + b, 0);
  if (!(total > 0)) return Math.min(ws.length - 1, Math.floor(r * ws.length));
  let acc = 0;
  for (let j = 0; j < ws.length; j++) {
    acc += ws[j];
    if (acc > r * total) return j;
  }
  return ws.length - 1;
}

/** Share of random picks each of `ws` gets (0..1): weight / Σ, or uniform when all are zero. */
export function weightShares(ws: readonly number[]): number[] {
  const total = ws.reduce((a, b) => a + b, 0);
  return ws.map((w) => (total > 0 ? w / total : 1 / ws.length));
}

/** Index into `labelHashes`/`ws` of the rendezvous winner for a session key hash (cold form of pickRendezvous). */
export function rendezvousIndex(keyHash: number, labelHashes: readonly number[], ws: readonly number[]): number {
  const total = ws.reduce((a, b) => a + b, 0);
  let best = 0;
  let bestScore = -1;
  ws.forEach((w0, j) => {
    const w = total > 0 ? w0 : 1;
    if (w <= 0) return;
    const s = rendezvousScore(keyHash, labelHashes[j], w);
    if (s > bestScore) {
      bestScore = s;
      best = j;
    }
  });
  return best;
}
