/**
 * The keys in service and the per-request checks (SPEC §12): authentication (which key is
 * presented, and is it usable), user-path narrowing, and the key's model allow-list.
 *
 * A {@link KeyRing} is immutable: a change of the keys file or of the admin keys builds a new
 * ring and swaps one reference (./store.ts), so a request keeps the entry it authenticated
 * with and nothing in flight is dropped.
 *
 * Lookup: the presented key is hashed (SHA-256, as stored, to lowercase hex: `crypto.hash`
 * to hex costs ~0.5 µs where a digest Buffer costs ~1.6 µs on Node 20) and the digest's first
 * 32 bits select the candidates in a Map keyed by a number; the whole digest is then compared
 * without an early exit ({@link equalDigests}). Nothing about the presented key is kept,
 * logged or echoed.
 */
import { hash as oneShotHash, createHash } from 'node:crypto';
import type { RoutingTable } from '../table/reader.js';
import { pathAdmits } from '../table/user-path.js';
import { HASH_PREFIX, parseExpiry, type KeySpec } from './entry.js';
import type { KeySeries } from './metrics.js';

/** Where a key is defined. */
export type KeySource = 'file' | 'admin';

/** One key in service. Immutable but for its per-table model cache. */
export class KeyEntry {
  readonly id: string;
  readonly hash: string;
  /** `hash` without its `sha256:` prefix: 64 lowercase hex digits. */
  readonly digest: string;
  /** The caller's user path (normalized). */
  readonly userPath: string;
  /** Names, slugs and `provider/*`; null = every model. */
  readonly models: readonly string[] | null;
  readonly expiresAt: string | null;
  /** Epoch ms; Infinity when the key does not expire. */
  readonly expiresAtMs: number;
  /** False when disabled in the keys file or revoked through the admin API. */
  readonly enabled: boolean;
  readonly source: KeySource;
  /** ISO time of the admin revocation, or null. */
  readonly revokedAt: string | null;
  /** ISO time of creation (admin keys), or null. */
  readonly createdAt: string | null;
  readonly series: KeySeries;
  #allowFor: RoutingTable | null = null;
  #allow: Set<number> | null = null;

  constructor(spec: KeySpec, source: KeySource, series: KeySeries, extra: { revokedAt?: string; createdAt?: string } = {}) {
    this.id = spec.id;
    this.hash = spec.hash;
    this.digest = spec.hash.slice(HASH_PREFIX.length);
    this.userPath = spec.user_path;
    this.models = spec.models === undefined ? null : Object.freeze([...spec.models]);
    this.expiresAt = spec.expires_at ?? null;
    this.expiresAtMs = spec.expires_at === undefined ? Infinity : parseExpiry(spec.expires_at);
    this.revokedAt = extra.revokedAt ?? null;
    this.enabled = spec.enabled !== false && this.revokedAt === null;
    this.source = source;
    this.createdAt = extra.createdAt ?? null;
    this.series = series;
  }

  /**
   * May this key use virtual model `vm` of `table`? The allow-list names what a client asks
   * for; names and slugs of one virtual model share its id, so either admits both; `provider/*`
   * admits every catalogued `provider/model`. Computed once per table (cold), then a Set probe.
   */
  admits(table: RoutingTable, vm: number): boolean {
    if (this.models === null) return true;
    if (this.#allowFor !== table) {
      this.#allow = allowedVms(table, this.models);
      this.#allowFor = table;
    }
    return this.#allow!.has(vm);
  }

  /** What `GET /admin/keys` and `vmc keys list` show: never the hash. */
  view(nowMs: number): Record<string, unknown> {
    const v: Record<string, unknown> = {
      id: this.id,
      user_path: this.userPath,
      models: this.models === null ? null : [...this.models],
      expires_at: this.expiresAt,
      enabled: this.enabled,
      expired: nowMs >= this.expiresAtMs,
      source: this.source,
    };
    if (this.createdAt !== null) v.created_at = this.createdAt;
    if (this.revokedAt !== null) v.revoked_at = this.revokedAt;
    return v;
  }
}

/** The vm ids a models allow-list admits in a table. Cold. */
export function allowedVms(table: RoutingTable, models: readonly string[]): Set<number> {
  const out = new Set<number>();
  for (const m of models) {
    if (m.endsWith('/*')) {
      const provider = m.slice(0, -2);
      for (let p = 0; p < table.providerCount; p++) {
        if (table.providerName(p) !== provider) continue;
        for (const model of table.providerModels(p)) {
          const vm = table.lookupString(`${provider}/${model}`);
          if (vm >= 0) out.add(vm);
        }
      }
      continue;
    }
    const vm = table.lookupString(m);
    if (vm >= 0) out.add(vm);
  }
  return out;
}

/** An immutable set of keys, looked up by the digest of a presented key. */
export class KeyRing {
  readonly entries: readonly KeyEntry[];
  readonly #byPrefix = new Map<number, KeyEntry | KeyEntry[]>();
  readonly #byId = new Map<string, KeyEntry>();

  constructor(entries: readonly KeyEntry[]) {
    this.entries = entries;
    for (const e of entries) {
      if (!this.#byId.has(e.id)) this.#byId.set(e.id, e);
      const prefix = digestPrefix(e.digest);
      const at = this.#byPrefix.get(prefix);
      if (at === undefined) this.#byPrefix.set(prefix, e);
      else if (Array.isArray(at)) at.push(e);
      else this.#byPrefix.set(prefix, [at, e]);
    }
  }

  get size(): number {
    return this.entries.length;
  }

  /** The entry with this id (cold: admin). */
  byId(id: string): KeyEntry | null {
    return this.#byId.get(id) ?? null;
  }

  /**
   * HOT PATH: allocation-free beyond the digest — change with care.
   * The entry whose hash is SHA-256(`key`), or null. Digests are compared in full, without an
   * early exit, whatever matched before.
   */
  find(key: string): KeyEntry | null {
    const digest = sha256Hex(key);
    const at = this.#byPrefix.get(digestPrefix(digest));
    if (at === undefined) return null;
    if (!Array.isArray(at)) return equalDigests(digest, at.digest) ? at : null;
    let found: KeyEntry | null = null;
    for (let i = 0; i < at.length; i++) if (equalDigests(digest, at[i].digest) && found === null) found = at[i];
    return found;
  }
}

/** SHA-256 of a string as lowercase hex: the one-shot `crypto.hash` where Node has it (20.12+), else a Hash object. */
const sha256Hex: (s: string) => string =
  typeof oneShotHash === 'function' ? (s) => oneShotHash('sha256', s, 'hex') : (s) => createHash('sha256').update(s, 'utf8').digest('hex');

/** Value of a hex digit (lowercase; digests are lowercase). */
function hexValue(c: number): number {
  return c <= 57 ? c - 48 : c - 87;
}

/** The first 32 bits of a hex digest, as a number (no allocation). */
function digestPrefix(hex: string): number {
  let n = 0;
  for (let i = 0; i < 8; i++) n = n * 16 + hexValue(hex.charCodeAt(i));
  return n;
}

/**
 * Two 64-digit hex digests equal? Every character is compared (OR of XORs), so the time does
 * not depend on where they differ.
 */
export function equalDigests(a: string, b: string): boolean {
  if (a.length !== 64 || b.length !== 64) return false;
  let diff = 0;
  for (let i = 0; i < 64; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

// ── per request ───────────────────────────────────────────────────────────────

export const AUTH_OK = 0;
export const AUTH_MISSING = 1;
export const AUTH_UNKNOWN = 2;
export const AUTH_DISABLED = 3;
export const AUTH_EXPIRED = 4;
/** Metric label and log reason by AUTH_* code. */
export const AUTH_REASONS: readonly string[] = ['ok', 'missing', 'unknown', 'disabled', 'expired'];
/** The 401 message by AUTH_* code. The presented key is never part of it. */
export const AUTH_MESSAGES: readonly string[] = [
  'ok',
  'missing API key: send Authorization: Bearer <key> or x-api-key: <key>',
  'invalid API key',
  'API key is disabled',
  'API key has expired',
];

/** Longest key hashed; anything longer is unknown without hashing (no key vmc makes is near it). */
const MAX_KEY_LENGTH = 512;

/** Header access (HttpRequest has this shape). */
export interface KeyRequest {
  header(name: string): string | null;
}

/**
 * The authenticated caller of one request: one instance per module, reused (everything from
 * authentication to resolution runs synchronously before the first await). It is the
 * `CallerPolicy` resolution reads (routing/resolve.ts): the user path, and the key's models.
 */
export class Caller {
  status = AUTH_OK;
  /** The key presented (also for disabled and expired keys: logs carry its id), or null. */
  entry: KeyEntry | null = null;
  /** The caller's user path: the key's, or the narrower `x-vmc-user-path`. */
  userPath = '/';

  admitsModel(table: RoutingTable, vm: number): boolean {
    return this.entry === null || this.entry.admits(table, vm);
  }
}

/**
 * The key a request presents: `Authorization: Bearer <key>` (OpenAI SDKs), else `x-api-key`
 * (Anthropic SDKs); null when neither. Slices only when the header has a Bearer scheme.
 */
export function presentedKey(req: KeyRequest): string | null {
  const auth = req.header('authorization');
  if (auth !== null && isBearer(auth)) {
    let s = 7;
    while (s < auth.length && auth.charCodeAt(s) === 32) s++;
    let e = auth.length;
    while (e > s && (auth.charCodeAt(e - 1) === 32 || auth.charCodeAt(e - 1) === 9)) e--;
    if (e > s) return auth.slice(s, e);
  }
  const x = req.header('x-api-key');
  return x === null || x === '' ? null : x;
}

/** `Bearer ` in any case. */
function isBearer(v: string): boolean {
  if (v.length < 8 || v.charCodeAt(6) !== 32) return false;
  const B = 'bearer';
  for (let i = 0; i < 6; i++) {
    let c = v.charCodeAt(i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== B.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * HOT PATH: authentication — change with care. Fills `out` and returns an AUTH_* code:
 * the key must be presented, known, enabled and not expired at `nowMs`.
 */
export function authenticate(ring: KeyRing, req: KeyRequest, nowMs: number, out: Caller): number {
  out.entry = null;
  out.userPath = '/';
  const key = presentedKey(req);
  if (key === null) return (out.status = AUTH_MISSING);
  const e = key.length > MAX_KEY_LENGTH ? null : ring.find(key);
  if (e === null) return (out.status = AUTH_UNKNOWN);
  out.entry = e;
  out.userPath = e.userPath;
  if (!e.enabled) return (out.status = AUTH_DISABLED);
  if (nowMs >= e.expiresAtMs) return (out.status = AUTH_EXPIRED);
  return (out.status = AUTH_OK);
}

/**
 * `x-vmc-user-path` under a key (SPEC §12): absent keeps the key's path; otherwise it must be
 * the key's path or lie below it at a segment boundary (a missing leading `/` is added and
 * trailing `/` are ignored), and becomes the caller's path. False: any other value (403).
 */
export function narrowUserPath(out: Caller, header: string | null): boolean {
  const e = out.entry;
  if (e === null) return false;
  if (header === null || header === '') return true;
  let h = header.charCodeAt(0) === 47 ? header : '/' + header;
  let end = h.length;
  while (end > 1 && h.charCodeAt(end - 1) === 47) end--;
  if (end !== h.length) h = h.slice(0, end);
  if (!pathAdmits(e.userPath, h)) return false;
  out.userPath = h;
  return true;
}
