/**
 * User paths (SPEC §3.3): the caller's place in an organisation, `/team/a/bob`. Defined once for
 * the compiler (config values), the runtime (request header) and the table tools.
 */

/**
 * The caller's user path from the `x-vmc-user-path` header value: absent or empty → `/`; a
 * missing leading `/` is added. (Config values are normalized by the compiler: see
 * {@link normalizeConfigUserPath}.)
 */
export function normalizeUserPath(header: string | null | undefined): string {
  if (header === null || header === undefined || header === '') return '/';
  return header.charCodeAt(0) === 47 /* '/' */ ? header : '/' + header;
}

/** A config user path without its trailing slash (`/team/` → `/team`; `/` stays `/`). */
export function normalizeConfigUserPath(path: string): string {
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

/**
 * `allowed` admits `path` when they are equal or when `path` continues `allowed` at a segment
 * boundary (`/team` admits `/team/x`, not `/teams`). Allocation-free.
 */
export function pathAdmits(allowed: string, path: string): boolean {
  if (allowed === '/') return true;
  if (!path.startsWith(allowed)) return false;
  return path.length === allowed.length || path.charCodeAt(allowed.length) === 47; /* '/' */
}
