/**
 * Where a gateway keeps what it learns at run time and must share (SPEC §9, §12, §14): the
 * admin state (virtual-model changes and caller keys, one JSON document) and, across
 * replicas, target cooldowns. One contract, two implementations:
 *
 *   FileStateStore   (./file-store.ts)   the state file beside the table (or `--state-dir`);
 *                                        one writer per gateway (the cluster primary); no
 *                                        cooldown sharing: one machine, nothing to share.
 *   RedisStateStore  (./redis-store.ts)  `--state redis://…`: every replica reads and writes
 *                                        one versioned document in Redis; changes are
 *                                        announced on a channel and reconciled by polling.
 *
 * Versions: the document carries a version number that only grows (Redis keeps it; the
 * file store counts locally). Writes are compare-and-set on that version, so two writers
 * that started from the same version cannot both succeed: the loser re-reads, re-applies
 * its change and tries again (no lost update), or — when the change was conditional, an
 * `If-Match` — answers 409.
 *
 * Availability: reads never wait for the store. {@link StateStore.current} is the last
 * state known, kept in memory; while the store is unreachable (`status` is `degraded`) the
 * gateway keeps serving it, and writes throw {@link StateUnavailableError} (admin answers
 * 503). Inference never touches the store on its path: cooldowns are announced fire-and-forget.
 */

/** One version of the admin state document. */
export interface StateSnapshot {
  /** Grows with every write; 0 = no state written yet (or none known). */
  readonly version: number;
  /** The document (JSON text), or null when there is none. */
  readonly text: string | null;
}

export const NO_STATE: StateSnapshot = Object.freeze({ version: 0, text: null });

/** `ok`: reads and writes reach the store. `degraded`: serving the last state known; writes refused. */
export type StoreStatus = 'ok' | 'degraded';

/** A compare-and-set write's outcome: written (the new snapshot), or a conflict (the store's current one). */
export type WriteOutcome = { ok: true; snapshot: StateSnapshot } | { ok: false; current: StateSnapshot };

/** Where a change came from: this store instance's own write, or elsewhere (another replica, a reconciliation). */
export type ChangeOrigin = 'self' | 'remote';

/** The store cannot be reached now: the caller keeps what it has (admin writes answer 503). */
export class StateUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateUnavailableError';
  }
}

export interface StateStore {
  /** `file` or `redis`. */
  readonly kind: 'file' | 'redis';
  /** Where the state lives, for logs and `/health`: a path, or a Redis URL without its password. */
  readonly location: string;
  /** True when other gateways share this store (writes may conflict with theirs; changes arrive from them). */
  readonly shared: boolean;
  readonly status: StoreStatus;
  /** The last state known. Never waits, never throws. */
  current(): StateSnapshot;
  /** The store's state now (and `current()` becomes it). Throws StateUnavailableError when degraded. */
  read(): Promise<StateSnapshot>;
  /**
   * Writes `text` as version `expectVersion + 1` if the store is still at `expectVersion`.
   * Throws StateUnavailableError when the store cannot be reached (the write may then be
   * lost or may have happened: a later read tells).
   */
  write(expectVersion: number, text: string): Promise<WriteOutcome>;
  /** Called after `current()` changed; returns an unsubscribe function. */
  onChange(listener: (snapshot: StateSnapshot, origin: ChangeOrigin) => void): () => void;
  /** Called when `status` changes, with the reason. */
  onStatus(listener: (status: StoreStatus, reason: string) => void): () => void;
  /**
   * Announces that this gateway ejected `target` (a stable name, see ./cooldowns.ts) for
   * `remainingMs`. Fire-and-forget: never throws, never waits (dropped when degraded).
   */
  shareCooldown(target: string, remainingMs: number): void;
  /** Called when another gateway ejected a target: honour it for `remainingMs`. */
  onCooldown(listener: (target: string, remainingMs: number) => void): () => void;
  /** Cooldowns opened elsewhere and still running: target → end (ms since the epoch, this clock). */
  cooldowns(): ReadonlyMap<string, number>;
  /** Stops polling and closes connections. */
  close(): Promise<void>;
}

/** A minimal listener set (no EventEmitter: typed, and a throwing listener cannot stop the others). */
export class Listeners<A extends unknown[]> {
  readonly #fns = new Set<(...args: A) => void>();

  add(fn: (...args: A) => void): () => void {
    this.#fns.add(fn);
    return () => this.#fns.delete(fn);
  }

  emit(...args: A): void {
    for (const fn of this.#fns) {
      try {
        fn(...args);
      } catch {
        // a listener's fault is its own (they log what they do); the others still run
      }
    }
  }
}
