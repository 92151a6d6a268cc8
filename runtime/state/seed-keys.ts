/**
 * `vmc serve --state … --keys FILE` (SPEC §14): the keys file seeds the shared store with the
 * keys it lacks, so that a key any replica's file defines is known to every replica, and an
 * admin revocation (`DELETE /admin/keys/{id}` on any replica) applies to all of them.
 *
 * A key is seeded as an admin key with the file's hash (never the key itself), unless the
 * store already has a key with that id, or has revoked that very key (same id and hash: a
 * revocation is not undone by a replica whose file still lists the key). Disabled keys are
 * not seeded: the store's admin keys have no `enabled` flag, and a key disabled in one file
 * must not become usable on the other replicas.
 */
import { emptyAdminKeys, type KeySpec, type StoredKey } from '../keys/entry.js';
import { commitAdminState } from './commit.js';
import type { StateStore } from './store.js';

/** Seeds the store; resolves with the ids added. Throws StateUnavailableError when the store is unreachable. */
export async function seedKeys(store: StateStore, specs: readonly KeySpec[], now: Date = new Date()): Promise<string[]> {
  const { result } = await commitAdminState(store, async (state) => {
    const keys = state.keys ?? emptyAdminKeys();
    const missing = specs.filter(
      (s) =>
        s.enabled !== false &&
        !Object.hasOwn(keys.created, s.id) &&
        !(Object.hasOwn(keys.revoked, s.id) && keys.revoked[s.id].hash === s.hash),
    );
    if (missing.length === 0) return { result: [] as string[] };
    const next = structuredClone(state);
    next.keys = structuredClone(keys);
    for (const s of missing) {
      const k: StoredKey = { hash: s.hash, user_path: s.user_path, created_at: now.toISOString() };
      if (s.models !== undefined) k.models = [...s.models];
      if (s.expires_at !== undefined) k.expires_at = s.expires_at;
      next.keys.created[s.id] = k;
    }
    return { next, result: missing.map((s) => s.id) };
  });
  return result;
}
