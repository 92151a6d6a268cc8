/**
 * Changing the admin state without losing anybody's change (SPEC §9, §14): read the current
 * document, compute the next one, compare-and-set it; when another writer got there first,
 * start again from what it wrote. The change is a function of the state, so re-running it
 * on the newer state keeps both changes — and a conditional change (`If-Match`, "404 when
 * missing", "409 when the id exists") is decided again on the state it will really apply to.
 */
import { emptyAdminState, parseAdminState, serializeAdminState, type AdminState } from './admin-state.js';
import { StateUnavailableError, type StateSnapshot, type StateStore } from './store.js';

/** What a change decided on one state: write `next` (then answer `result`), or answer without writing. */
export type ChangePlan<R> = { next: AdminState; result: R } | { result: R };

/** The admin state document in a store cannot be read as one. */
export class UnusableStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnusableStateError';
  }
}

/** A snapshot's document, parsed (none = empty). Throws UnusableStateError. */
export function stateOf(snapshot: StateSnapshot, where: string): AdminState {
  if (snapshot.text === null) return emptyAdminState();
  try {
    return parseAdminState(snapshot.text);
  } catch (err) {
    throw new UnusableStateError(`admin state ${where} is unusable: ${(err as Error).message}`);
  }
}

/**
 * The state to build a change on: a shared store's cached document (kept current by its
 * notifications; the compare-and-set catches anything newer), or the local file read now.
 */
export async function latest(store: StateStore): Promise<StateSnapshot> {
  if (store.status === 'degraded') throw new StateUnavailableError(`the state store (${store.location}) is unreachable`);
  return store.shared ? store.current() : store.read();
}

/** Conflicts tolerated before giving up (each try re-runs the change: with N replicas writing at once, about N). */
const MAX_TRIES = 64;

/**
 * Runs `change` on the current state and writes its `next`, again on a newer state as long as
 * another writer wins the race. Resolves with the plan's result and the state now stored.
 * Throws StateUnavailableError (store unreachable: nothing written, or unknown) and
 * UnusableStateError.
 */
export async function commitAdminState<R>(
  store: StateStore,
  change: (state: AdminState) => Promise<ChangePlan<R>>,
): Promise<{ result: R; state: AdminState; written: boolean }> {
  for (let tries = 0; ; tries++) {
    const snap = await latest(store);
    const state = stateOf(snap, store.location);
    const plan = await change(state);
    if (!('next' in plan)) return { result: plan.result, state, written: false };
    const w = await store.write(snap.version, serializeAdminState(plan.next));
    if (w.ok) return { result: plan.result, state: plan.next, written: true };
    if (tries >= MAX_TRIES) {
      throw new StateUnavailableError(
        `the state store (${store.location}) kept changing under this write (${MAX_TRIES} conflicts); try again`,
      );
    }
    // jitter: writers that keep colliding spread out
    await new Promise((r) => setTimeout(r, Math.random() * Math.min(2 ** tries, 50)));
  }
}
