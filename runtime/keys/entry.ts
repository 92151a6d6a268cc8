/**
 * Caller keys (SPEC §12): what one key entry is, how a key and its hash are made, and the
 * field rules shared by the keys file (./file.ts), `POST /admin/keys` and `vmc keys`.
 *
 * A key is `vmc-` + 43 base64url characters (32 random bytes). It is shown once, when it is
 * created; afterwards only `hash` — `sha256:` + the lowercase hex SHA-256 digest of the key
 * string — is stored anywhere (the keys file, the admin state). The gateway hashes what a
 * client presents and looks the digest up (./ring.ts).
 */
import { createHash, randomBytes } from 'node:crypto';

/** Prefix of every key vmc makes (SPEC §12). */
export const KEY_PREFIX = 'vmc-';
/** `hash` values: `sha256:` + 64 lowercase hex digits. */
export const HASH_PREFIX = 'sha256:';
const HASH_RE = /^sha256:[0-9a-f]{64}$/;
/** Ids appear in URLs (`DELETE /admin/keys/{id}`), logs and metric labels: a conservative alphabet. */
const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$/;
/** ISO-8601 date or date-time (`2027-01-01`, `2027-01-01T00:00:00Z`, with an offset, fractions). */
const ISO_RE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** One key as the keys file and the admin state describe it (never the key itself). */
export interface KeySpec {
  id: string;
  /** `sha256:<hex>`. */
  hash: string;
  /** Normalized: leading `/`, no trailing `/` (except `/` itself). */
  user_path: string;
  /** Names, slugs or `provider/*` the key may use; absent = every model its user path may use. */
  models?: string[];
  /** ISO-8601; absent = never expires. */
  expires_at?: string;
  /** Default true. */
  enabled?: boolean;
}

/** A new key: `vmc-` + 32 random bytes in base64url (256 bits from the CSPRNG). */
export function generateKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

/** `sha256:<lowercase hex>` of a key string (SPEC §12). */
export function hashKey(key: string): string {
  return HASH_PREFIX + createHash('sha256').update(key, 'utf8').digest('hex');
}

/** A field problem: which field, what is wrong, and a hint. */
export interface FieldProblem {
  field: string;
  /** `unknown`: a field the entry may not have; `missing`: a required field is absent; `invalid`: a bad value. */
  kind: 'unknown' | 'missing' | 'invalid';
  /** Index into a list field (`models[2]`), when the problem is one item. */
  index?: number;
  message: string;
  hint?: string;
}

export function checkId(v: unknown): FieldProblem | null {
  if (typeof v !== 'string' || v === '')
    return { field: 'id', kind: 'invalid', message: 'id must be a non-empty string', hint: 'e.g. id: team-a-ci' };
  if (!ID_RE.test(v)) {
    return {
      field: 'id',
      kind: 'invalid',
      message: `id ${JSON.stringify(v)} has characters outside letters, digits and . _ @ : - (or is longer than 128)`,
      hint: 'ids appear in URLs, logs and metric labels',
    };
  }
  return null;
}

export function checkHash(v: unknown): FieldProblem | null {
  if (typeof v === 'string' && HASH_RE.test(v)) return null;
  if (typeof v === 'string' && HASH_RE.test(v.toLowerCase())) {
    return {
      field: 'hash',
      kind: 'invalid',
      message: 'hash must use lowercase hex digits',
      hint: `write ${JSON.stringify(v.toLowerCase())}`,
    };
  }
  if (typeof v === 'string' && v.startsWith(KEY_PREFIX)) {
    return {
      field: 'hash',
      kind: 'invalid',
      message: 'this looks like a key in clear, not its hash: the keys file must never hold a key',
      hint: 'replace it with `sha256:` + the SHA-256 hex digest of the key (vmc keys create writes it for you), and rotate that key',
    };
  }
  return {
    field: 'hash',
    kind: 'invalid',
    message: 'hash must be "sha256:" followed by 64 lowercase hex digits',
    hint: 'the SHA-256 of the key string, e.g. printf %s "$KEY" | sha256sum',
  };
}

/** A user path (SPEC §3.3) normalized for a key: leading `/`, no trailing `/`; null when invalid. */
export function normalizeKeyUserPath(v: string): string | null {
  if (v === '' || v.charCodeAt(0) !== 47 /* / */) return null;
  let end = v.length;
  while (end > 1 && v.charCodeAt(end - 1) === 47) end--;
  const p = end === v.length ? v : v.slice(0, end);
  // empty segments and control characters make paths that look alike but never match
  if (p.includes('//') || /[\u0000-\u001f\u007f]/.test(p)) return null;
  return p;
}

export function checkUserPath(v: unknown): FieldProblem | null {
  if (typeof v !== 'string' || normalizeKeyUserPath(v) === null) {
    return {
      field: 'user_path',
      kind: 'invalid',
      message: 'user_path must be a path starting with "/" (no empty segments)',
      hint: 'e.g. user_path: /team/a — the caller may narrow it with x-vmc-user-path, never widen it',
    };
  }
  return null;
}

export function checkModels(v: unknown): FieldProblem | null {
  if (v === undefined) return null;
  if (!Array.isArray(v))
    return { field: 'models', kind: 'invalid', message: 'models must be a list of model names', hint: 'e.g. models: [gpt-4o, openai/*]' };
  for (let i = 0; i < v.length; i++) {
    const m = v[i] as unknown;
    if (typeof m !== 'string' || m.trim() === '' || m !== m.trim()) {
      return { field: 'models', kind: 'invalid', index: i, message: 'each model must be a non-empty name without surrounding spaces' };
    }
    if (m.includes('*') && !(m.endsWith('/*') && m.indexOf('*') === m.length - 1 && m.length > 2)) {
      return {
        field: 'models',
        kind: 'invalid',
        index: i,
        message: `${JSON.stringify(m)}: the only wildcard is "provider/*"`,
        hint: 'name virtual models, slugs or provider/model, or provider/* for every catalogued model of a provider',
      };
    }
  }
  return null;
}

/** Milliseconds since the epoch of an `expires_at`, or NaN when it is not ISO-8601. */
export function parseExpiry(v: string): number {
  return ISO_RE.test(v) ? Date.parse(v) : NaN;
}

export function checkExpiresAt(v: unknown): FieldProblem | null {
  if (v === undefined) return null;
  if (typeof v !== 'string' || Number.isNaN(parseExpiry(v))) {
    return {
      field: 'expires_at',
      kind: 'invalid',
      message: 'expires_at must be an ISO-8601 date or date-time',
      hint: 'e.g. expires_at: "2027-01-31T00:00:00Z"',
    };
  }
  return null;
}

export function checkEnabled(v: unknown): FieldProblem | null {
  if (v === undefined || typeof v === 'boolean') return null;
  return { field: 'enabled', kind: 'invalid', message: 'enabled must be true or false' };
}

/** The fields of an entry in the keys file. */
export const FILE_ENTRY_FIELDS = ['id', 'hash', 'user_path', 'models', 'expires_at', 'enabled'] as const;
/** The fields of a `POST /admin/keys` body (the gateway makes the key and its hash). */
export const CREATE_FIELDS = ['id', 'user_path', 'models', 'expires_at'] as const;

/**
 * Checks one entry object: unknown fields, then each field. Returns the problems (empty when
 * valid). `fields` is the accepted field list; `hash` is checked only when accepted.
 */
export function checkEntry(obj: Record<string, unknown>, fields: readonly string[]): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const k of Object.keys(obj)) {
    if (fields.includes(k)) continue;
    const clear = k === 'key' || k === 'api_key' || k === 'secret';
    out.push({
      field: k,
      kind: 'unknown',
      message: clear ? `field ${JSON.stringify(k)}: a key in clear is never stored` : `unknown field ${JSON.stringify(k)}`,
      hint: clear ? 'store only `hash: sha256:<hex>` of the key' : `fields: ${fields.join(', ')}`,
    });
  }
  const checks: [string, (v: unknown) => FieldProblem | null][] = [
    ['id', checkId],
    ['hash', checkHash],
    ['user_path', checkUserPath],
    ['models', checkModels],
    ['expires_at', checkExpiresAt],
    ['enabled', checkEnabled],
  ];
  for (const [field, check] of checks) {
    if (!fields.includes(field)) continue;
    const required = field === 'id' || field === 'hash' || field === 'user_path';
    if (!(field in obj)) {
      if (required) out.push({ field, kind: 'missing', message: `missing required field ${JSON.stringify(field)}` });
      continue;
    }
    const p = check(obj[field]);
    if (p !== null) out.push(p);
  }
  return out;
}

/** A checked entry object → KeySpec (normalized user path; absent optional fields left out). */
export function toKeySpec(obj: Record<string, unknown>, hash: string): KeySpec {
  const spec: KeySpec = { id: obj.id as string, hash, user_path: normalizeKeyUserPath(obj.user_path as string)! };
  if (obj.models !== undefined) spec.models = [...(obj.models as string[])];
  if (obj.expires_at !== undefined) spec.expires_at = obj.expires_at as string;
  if (obj.enabled !== undefined) spec.enabled = obj.enabled as boolean;
  return spec;
}

/** A key created through the admin API, as the admin state keeps it (SPEC §12: hash only). */
export interface StoredKey {
  hash: string;
  user_path: string;
  models?: string[];
  expires_at?: string;
  /** ISO timestamp of the creation. */
  created_at: string;
}

/**
 * The caller-key part of the admin state: keys created through `POST /admin/keys`, and keys
 * of the keys file revoked through `DELETE /admin/keys/{id}` (by id and hash, so a new key
 * written under the same id later is not born revoked).
 */
export interface AdminKeys {
  created: Record<string, StoredKey>;
  revoked: Record<string, { hash: string; at: string }>;
}

export const emptyAdminKeys = (): AdminKeys => ({ created: {}, revoked: {} });

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Checks the caller-key part of a persisted admin state; throws an Error saying what is wrong. */
export function parseAdminKeys(v: unknown): AdminKeys {
  if (v === undefined) return emptyAdminKeys();
  if (!isRecord(v) || !isRecord(v.created) || !isRecord(v.revoked)) throw new Error('"keys" must hold "created" and "revoked" objects');
  for (const [id, k] of Object.entries(v.created)) {
    if (!isRecord(k) || typeof k.created_at !== 'string') throw new Error(`keys.created.${id}: not a stored key`);
    const { created_at: _c, ...rest } = k;
    const problems = checkEntry({ id, ...rest }, FILE_ENTRY_FIELDS);
    if (problems.length > 0) throw new Error(`keys.created.${id}: ${problems[0].message}`);
  }
  for (const [id, r] of Object.entries(v.revoked)) {
    if (!isRecord(r) || checkHash(r.hash) !== null || typeof r.at !== 'string')
      throw new Error(`keys.revoked.${id}: expected { hash, at }`);
  }
  return v as unknown as AdminKeys;
}
