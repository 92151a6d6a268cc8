/**
 * The admin state document (SPEC §9, §12, §14): what admin calls changed on top of the
 * routing table, and the caller keys made or revoked through admin. Stored as JSON text by a
 * {@link StateStore} (the local state file, or Redis).
 *
 *   { "version": 1,
 *     "upserts":   { name: virtual-model body (native, or a GoModel body as PUT sent it) },
 *     "deletes":   [ names of the table's virtual models deleted through admin ],
 *     "updatedAt": { name: ISO time of its last upsert },
 *     "removedAt": { name: ISO time of its deletion }          (optional)
 *     "keys":      { "created": { id: StoredKey }, "revoked": { id: { hash, at } } } (optional) }
 *
 * `removedAt` and the revocation of a deleted admin key (its id and hash in `keys.revoked`)
 * are tombstones: they let {@link mergeAdminStates} tell a deletion from "never heard of it",
 * so that writing a state back into a Redis that came back with older data (a restored
 * snapshot) or with another replica's newer writes cannot resurrect a deleted model or a
 * revoked key.
 */
import { emptyAdminKeys, parseAdminKeys, type AdminKeys, type StoredKey } from '../keys/entry.js';

type Json = Record<string, unknown>;

export interface AdminState {
  version: 1;
  upserts: Record<string, Json>;
  deletes: string[];
  /** ISO timestamps of the last admin upsert per name. */
  updatedAt: Record<string, string>;
  /** ISO timestamps of admin deletions per name (tombstones for merges); absent = none. */
  removedAt?: Record<string, string>;
  /** Caller keys created or revoked through the admin API (SPEC §12); absent = none. */
  keys?: AdminKeys;
}

export const emptyAdminState = (): AdminState => ({ version: 1, upserts: {}, deletes: [], updatedAt: {} });

const isObject = (v: unknown): v is Json => v !== null && typeof v === 'object' && !Array.isArray(v);
const isStringMap = (v: unknown): v is Record<string, string> => isObject(v) && Object.values(v).every((x) => typeof x === 'string');

/** Parses and checks a state document; throws a plain Error saying what is wrong. */
export function parseAdminState(text: string): AdminState {
  const parsed = JSON.parse(text) as unknown;
  if (!isObject(parsed) || parsed.version !== 1) throw new Error('not an admin state (version 1 expected)');
  const { upserts, deletes, updatedAt, removedAt } = parsed;
  if (!isObject(upserts) || !Object.values(upserts).every(isObject)) throw new Error('"upserts" must map names to objects');
  if (!Array.isArray(deletes) || !deletes.every((d) => typeof d === 'string')) throw new Error('"deletes" must be a list of names');
  if (updatedAt !== undefined && !isStringMap(updatedAt)) throw new Error('"updatedAt" must map names to times');
  if (removedAt !== undefined && !isStringMap(removedAt)) throw new Error('"removedAt" must map names to times');
  const state: AdminState = {
    version: 1,
    upserts: upserts as Record<string, Json>,
    deletes: deletes as string[],
    updatedAt: (updatedAt ?? {}) as Record<string, string>,
  };
  if (removedAt !== undefined && Object.keys(removedAt).length > 0) state.removedAt = removedAt as Record<string, string>;
  if (parsed.keys !== undefined) state.keys = parseAdminKeys(parsed.keys);
  return state;
}

/** The document's text as every writer produces it (stable for equal states built the same way). */
export function serializeAdminState(state: AdminState): string {
  return JSON.stringify(state, null, 2) + '\n';
}

const time = (iso: string | undefined): number => {
  const t = iso === undefined ? NaN : Date.parse(iso);
  return Number.isNaN(t) ? -Infinity : t;
};

/** One side's word on a virtual model name: defined (upsert), deleted, or nothing. */
type Say =
  { kind: 'upsert'; body: Json; at: number; iso?: string } | { kind: 'deleted'; inDeletes: boolean; at: number; iso?: string } | null;

function say(s: AdminState, name: string): Say {
  if (Object.hasOwn(s.upserts, name)) return { kind: 'upsert', body: s.upserts[name], at: time(s.updatedAt[name]), iso: s.updatedAt[name] };
  const removed = s.removedAt?.[name];
  const inDeletes = s.deletes.includes(name);
  if (inDeletes || removed !== undefined) return { kind: 'deleted', inDeletes, at: time(removed), iso: removed };
  return null;
}

/**
 * Two admin states that diverged → one that keeps every change of both (SPEC §14: "no admin
 * change or key is lost" when replicas write back into a Redis that lost or rewound its
 * data). Per virtual model name and per key id, the later change wins (ties: `ours`); what
 * only one side knows is kept. A key revoked on one side stays revoked (a revocation with
 * the key's hash removes a created key of the same id and hash, whenever it was created).
 *
 * Inputs are document texts; one that does not parse loses to the other (a state that
 * cannot be read holds nothing to keep).
 */
export function mergeAdminStates(oursText: string, theirsText: string): string {
  let ours: AdminState;
  let theirs: AdminState;
  try {
    theirs = parseAdminState(theirsText);
  } catch {
    return oursText;
  }
  try {
    ours = parseAdminState(oursText);
  } catch {
    return theirsText;
  }
  const out = emptyAdminState();
  const removedAt: Record<string, string> = {};
  const names = new Set<string>();
  for (const s of [ours, theirs]) {
    for (const n of Object.keys(s.upserts)) names.add(n);
    for (const n of s.deletes) names.add(n);
    for (const n of Object.keys(s.removedAt ?? {})) names.add(n);
  }
  for (const name of [...names].sort()) {
    const a = say(ours, name);
    const b = say(theirs, name);
    const win = a === null ? b : b === null ? a : b.at > a.at ? b : a;
    if (win === null) continue;
    if (win.kind === 'upsert') {
      out.upserts[name] = win.body;
      if (win.iso !== undefined) out.updatedAt[name] = win.iso;
    } else {
      if (win.inDeletes || (a?.kind === 'deleted' && a.inDeletes) || (b?.kind === 'deleted' && b.inDeletes)) out.deletes.push(name);
      if (win.iso !== undefined) removedAt[name] = win.iso;
    }
  }
  if (Object.keys(removedAt).length > 0) out.removedAt = removedAt;
  const keys = mergeKeys(ours.keys, theirs.keys);
  if (keys !== undefined) out.keys = keys;
  return serializeAdminState(out);
}

function mergeKeys(a: AdminKeys | undefined, b: AdminKeys | undefined): AdminKeys | undefined {
  if (a === undefined && b === undefined) return undefined;
  const ours = a ?? emptyAdminKeys();
  const theirs = b ?? emptyAdminKeys();
  const revoked: AdminKeys['revoked'] = {};
  for (const id of new Set([...Object.keys(ours.revoked), ...Object.keys(theirs.revoked)])) {
    const x = ours.revoked[id];
    const y = theirs.revoked[id];
    revoked[id] = x === undefined ? y : y === undefined ? x : time(y.at) > time(x.at) ? y : x;
  }
  const created: Record<string, StoredKey> = {};
  for (const id of new Set([...Object.keys(ours.created), ...Object.keys(theirs.created)])) {
    const x = ours.created[id];
    const y = theirs.created[id];
    const k = x === undefined ? y : y === undefined ? x : time(y.created_at) > time(x.created_at) ? y : x;
    const r = revoked[id];
    // a revoked key (this id and hash) stays revoked, whenever the other side (re)created it:
    // a key is random, only a keys file seeding the store brings the same hash back
    if (r !== undefined && r.hash === k.hash) continue;
    created[id] = k;
  }
  return { created, revoked };
}
