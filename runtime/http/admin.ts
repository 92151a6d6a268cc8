/**
 * Admin routes (SPEC §6, §9) and their backend contract.
 *
 * Authentication: `Authorization: Bearer $VMC_ADMIN_TOKEN`, compared in constant time;
 * 401 without a valid token; when no token is configured every admin route answers 403
 * "admin is disabled" (SPEC §12), so a gateway never exposes an unauthenticated control
 * plane by accident and an operator sees why the call failed.
 *
 * The runtime cannot edit tables itself (it never imports the compiler, STYLE.md), so every
 * mutating route is delegated to an injected {@link AdminBackend}, which compiles the change
 * with the same compiler as `vmc build`, persists it, and returns the new table bytes; the
 * server then swaps them in atomically. `GET /admin/virtual-models` is answered from the
 * loaded table unless the backend provides its own listing (e.g. with real timestamps).
 *
 * Caller keys (SPEC §12): `GET|POST /admin/keys` and `DELETE /admin/keys/{id}` answer from and
 * change the server's key store (404 when keys are off); a new key is made here and shown in
 * the 201 answer only, the backend persists its hash.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { CREATE_FIELDS, checkEntry, generateKey, hashKey, normalizeKeyUserPath, type AdminKeys, type StoredKey } from '../keys/entry.js';
import type { KeyStore } from '../keys/store.js';
import type { RoutingTable } from '../table/reader.js';
import { sendError, sendJson } from './respond.js';
import type { HttpRequest, HttpResponse } from './adapter.js';

/** What a backend call returns. `tableBytes`, when present, are swapped in before answering. */
export interface AdminResult {
  status: number;
  body: unknown;
  tableBytes?: Uint8Array;
  /** Extra response headers (e.g. `etag`). */
  headers?: Record<string, string>;
  /**
   * Set when the change was compiled and the compiler refused it: the server logs it at
   * `error` and counts it as a rejected reload (SPEC §10 "failed admin compile").
   */
  rejected?: string;
  /** Set when the caller keys of the admin state changed: every serving process re-reads them (SPEC §12). */
  keysChanged?: boolean;
}

/** Context handed to every backend call. */
export interface AdminContext {
  /** The table currently in service. */
  table: RoutingTable;
}

/**
 * The admin control plane, implemented outside the runtime (it needs the compiler).
 * Bodies are already parsed JSON (`undefined` when the request had no body).
 */
export interface AdminBackend {
  /** `PUT /admin/virtual-models` — GoModel upsert body → `virtualmodels.View`. */
  upsertVirtualModel(body: unknown, ctx: AdminContext): Promise<AdminResult>;
  /** `DELETE /admin/virtual-models/{name}` (name already URL-decoded). */
  deleteVirtualModel(name: string, ctx: AdminContext): Promise<AdminResult>;
  /** `GET /admin/virtual-models/{name}` — one `virtualmodels.View`, with an `etag`. */
  getVirtualModel(name: string, ctx: AdminContext): Promise<AdminResult>;
  /**
   * `PATCH /admin/virtual-models/{name}` — GoModel fields with PATCH semantics (absent keeps,
   * `null` clears; SPEC §10); `ifMatch` is the `If-Match` header (409 when stale).
   */
  patchVirtualModel(name: string, body: unknown, ifMatch: string | null, ctx: AdminContext): Promise<AdminResult>;
  /** `GET /apis/inference-gateway/v2/workspaces/{workspace}/virtual-models/{name}`. */
  getNemoVirtualModel(workspace: string, name: string, ctx: AdminContext): Promise<AdminResult>;
  /** `PATCH …/virtual-models/{name}` with NeMo semantics; `ifMatch` is the `If-Match` header. */
  patchNemoVirtualModel(workspace: string, name: string, body: unknown, ifMatch: string | null, ctx: AdminContext): Promise<AdminResult>;
  /** Optional `GET /admin/virtual-models`; default: views built from the loaded table. */
  listVirtualModels?(ctx: AdminContext): Promise<AdminResult>;
  /**
   * Optional: layers persisted admin changes over a table read from disk (startup, SIGHUP,
   * file change, `POST /admin/reload`), so that they survive restarts and reloads.
   */
  overlay?(fileBytes: Uint8Array): Promise<Uint8Array> | Uint8Array;
  /**
   * Optional: moves the persisted admin state aside when it cannot be used at start-up (the
   * overlay threw on a table that itself decodes): the gateway then starts on the table
   * alone. Returns where the state went, or null when there was none.
   */
  quarantine?(reason: string): Promise<string | null>;
  /** Optional: releases what the backend holds (e.g. a compile thread) when the gateway stops. */
  close?(): Promise<void>;
  /**
   * Caller keys (SPEC §12), optional: the keys part of the persisted admin state — keys
   * created through the admin API (hashes only) and revocations of keys-file keys. Read by
   * every serving process whenever keys may have changed.
   */
  readKeys?(): Promise<AdminKeys>;
  /** `POST /admin/keys`: persists a key made by the gateway (its hash only): 201, or 409 when the id exists. */
  createKey?(id: string, key: StoredKey, ctx: AdminContext): Promise<AdminResult>;
  /**
   * `DELETE /admin/keys/{id}`: removes an admin key with this id, and revokes the keys-file
   * key with this id and `fileHash` (null: the file has none). 404 when neither exists.
   */
  revokeKey?(id: string, fileHash: string | null, ctx: AdminContext): Promise<AdminResult>;
}

/** Server hooks the admin routes need. */
export interface AdminHost {
  readonly token: string | undefined;
  readonly backend: AdminBackend | undefined;
  table(): RoutingTable;
  /** Swaps in new table bytes; throws (TableFormatError) when they are rejected. */
  swap(bytes: Uint8Array, reason: string): void;
  /** Logs at `error` and counts a rejected reload (a change the compiler refused). */
  reject(reason: string, message: string): void;
  /** Re-reads the table file (POST /admin/reload); throws with a message on failure. */
  reloadFromFile(): Promise<RoutingTable>;
  /** The hash of the table file in service (admin changes on top do not change it); default: the served table's. */
  tableHash?(): string;
  /** The caller keys (`vmc serve --keys FILE`), or null when keys are off: `/admin/keys` answers 404. */
  readonly keys?: KeyStore | null;
}

const NEMO_PREFIX = '/apis/inference-gateway/v2/workspaces/';

/** Is this path served by the admin router? */
export function isAdminPath(url: string): boolean {
  return url.startsWith('/admin/') || url === '/admin' || url.startsWith(NEMO_PREFIX);
}

/**
 * The admin bearer token, compared in constant time: both sides are hashed first, so neither
 * the content nor the length of the token shows in the timing.
 */
function authorized(req: HttpRequest, token: string): boolean {
  const h = req.header('authorization');
  if (h === null || !/^bearer /i.test(h)) return false;
  const given = createHash('sha256').update(h.slice(7).trim()).digest();
  const want = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, want);
}

function parseBody(req: HttpRequest): { ok: true; value: unknown } | { ok: false } {
  if (req.body.length === 0) return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(req.body.toString('utf8')) };
  } catch {
    return { ok: false };
  }
}

/** Serves an admin request (path already known to satisfy {@link isAdminPath}). */
export async function serveAdmin(host: AdminHost, req: HttpRequest, res: HttpResponse): Promise<void> {
  if (host.token === undefined || host.token === '')
    return sendError(res, 403, 'permission_error', 'admin API is disabled: start the gateway with VMC_ADMIN_TOKEN set');
  if (!authorized(req, host.token)) {
    return sendError(res, 401, 'authentication_error', 'missing or invalid admin bearer token', null, { 'www-authenticate': 'Bearer' });
  }
  const url = req.url;
  const m = req.method;

  if (url === '/admin/reload') {
    if (m !== 'POST') return sendError(res, 405, 'invalid_request_error', 'use POST /admin/reload');
    try {
      const t = await host.reloadFromFile();
      return sendJson(res, 200, {
        status: 'ok',
        table_hash: host.tableHash?.() ?? t.hashHex,
        served_table_hash: t.hashHex,
        virtual_models: countConfigured(t),
      });
    } catch (err) {
      return sendError(
        res,
        422,
        'invalid_request_error',
        `reload rejected; the previous table stays in service: ${(err as Error).message}`,
      );
    }
  }

  if (url === '/admin/virtual-models') {
    if (m === 'GET') {
      if (host.backend?.listVirtualModels !== undefined)
        return finish(host, res, await host.backend.listVirtualModels({ table: host.table() }));
      return sendJson(res, 200, virtualModelViews(host.table()));
    }
    if (m === 'PUT') {
      const backend = host.backend;
      if (backend === undefined)
        return sendError(res, 501, 'invalid_request_error', 'admin changes need a backend (run through `vmc serve`)');
      const b = parseBody(req);
      if (!b.ok) return sendError(res, 400, 'invalid_request_error', 'request body is not valid JSON');
      return finish(host, res, await backend.upsertVirtualModel(b.value, { table: host.table() }));
    }
    return sendError(res, 405, 'invalid_request_error', 'use GET or PUT /admin/virtual-models');
  }

  if (url === '/admin/keys' || url.startsWith('/admin/keys/')) return serveKeys(host, req, res);

  if (url.startsWith('/admin/virtual-models/')) {
    if (m !== 'DELETE' && m !== 'GET' && m !== 'PATCH')
      return sendError(res, 405, 'invalid_request_error', 'use GET, PATCH or DELETE /admin/virtual-models/{name}');
    const backend = host.backend;
    if (backend === undefined)
      return sendError(res, 501, 'invalid_request_error', 'admin changes need a backend (run through `vmc serve`)');
    let name: string;
    try {
      name = decodeURIComponent(url.slice('/admin/virtual-models/'.length));
    } catch {
      return sendError(res, 400, 'invalid_request_error', 'virtual model name is not valid URL encoding');
    }
    const ctx = { table: host.table() };
    if (m === 'GET') return finish(host, res, await backend.getVirtualModel(name, ctx));
    if (m === 'PATCH') {
      const b = parseBody(req);
      if (!b.ok) return sendError(res, 422, 'invalid_request_error', 'request body is not valid JSON');
      return finish(host, res, await backend.patchVirtualModel(name, b.value, req.header('if-match'), ctx));
    }
    return finish(host, res, await backend.deleteVirtualModel(name, ctx));
  }

  if (url.startsWith(NEMO_PREFIX)) {
    const rest = url.slice(NEMO_PREFIX.length);
    const at = rest.indexOf('/virtual-models/');
    if (at <= 0) return sendError(res, 404, 'not_found_error', `no admin route ${url}`);
    let workspace: string;
    let name: string;
    try {
      workspace = decodeURIComponent(rest.slice(0, at));
      name = decodeURIComponent(rest.slice(at + '/virtual-models/'.length));
    } catch {
      return sendError(res, 400, 'invalid_request_error', 'path is not valid URL encoding');
    }
    const backend = host.backend;
    if (backend === undefined) return sendError(res, 501, 'invalid_request_error', 'admin API needs a backend (run through `vmc serve`)');
    if (m === 'GET') return finish(host, res, await backend.getNemoVirtualModel(workspace, name, { table: host.table() }));
    if (m === 'PATCH') {
      const b = parseBody(req);
      if (!b.ok) return sendError(res, 422, 'invalid_request_error', 'request body is not valid JSON');
      return finish(
        host,
        res,
        await backend.patchNemoVirtualModel(workspace, name, b.value, req.header('if-match'), { table: host.table() }),
      );
    }
    return sendError(res, 405, 'invalid_request_error', 'use GET or PATCH');
  }

  return sendError(res, 404, 'not_found_error', `no admin route ${url}`);
}

/**
 * `/admin/keys` (SPEC §12). Keys are made here, in the serving process: the backend (in the
 * cluster primary with `--workers`) only ever sees a hash. After a change this process
 * re-reads the keys before answering (read your writes); the primary tells the others.
 */
async function serveKeys(host: AdminHost, req: HttpRequest, res: HttpResponse): Promise<void> {
  const keys = host.keys ?? null;
  if (keys === null) return sendError(res, 404, 'not_found_error', 'caller keys are off: start the gateway with --keys FILE');
  const m = req.method;
  const backend = host.backend;
  if (req.url === '/admin/keys') {
    if (m === 'GET') return sendJson(res, 200, keys.list());
    if (m !== 'POST') return sendError(res, 405, 'invalid_request_error', 'use GET or POST /admin/keys');
    if (backend?.createKey === undefined)
      return sendError(res, 501, 'invalid_request_error', 'admin keys need a backend (run through `vmc serve`)');
    const b = parseBody(req);
    if (!b.ok) return sendError(res, 400, 'invalid_request_error', 'request body is not valid JSON');
    const body = b.value;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return sendError(res, 400, 'invalid_request_error', 'body must be an object {id, user_path, models?, expires_at?}');
    }
    const fields = body as Record<string, unknown>;
    const problems = checkEntry(fields, CREATE_FIELDS);
    if (problems.length > 0) {
      const p = problems[0];
      return sendError(res, 400, 'invalid_request_error', p.hint === undefined ? p.message : `${p.message} (${p.hint})`, p.field);
    }
    const id = fields.id as string;
    if (keys.ring.byId(id) !== null || keys.fileKey(id) !== null) {
      return sendError(res, 409, 'invalid_request_error', `a key with id ${JSON.stringify(id)} exists`, 'id');
    }
    const key = generateKey();
    const stored: StoredKey = {
      hash: hashKey(key),
      user_path: normalizeKeyUserPath(fields.user_path as string)!,
      created_at: new Date().toISOString(),
    };
    if (fields.models !== undefined) stored.models = fields.models as string[];
    if (fields.expires_at !== undefined) stored.expires_at = fields.expires_at as string;
    const r = await backend.createKey(id, stored, { table: host.table() });
    if (r.status !== 201) return sendJson(res, r.status, r.body, r.headers);
    await keys.refresh('admin');
    // the key is in this answer only: shown once, never stored, logged or sent to another process
    return sendJson(res, 201, {
      id,
      key,
      user_path: stored.user_path,
      models: stored.models ?? null,
      expires_at: stored.expires_at ?? null,
      enabled: true,
      source: 'admin',
      created_at: stored.created_at,
    });
  }
  if (m !== 'DELETE') return sendError(res, 405, 'invalid_request_error', 'use DELETE /admin/keys/{id}');
  if (backend?.revokeKey === undefined)
    return sendError(res, 501, 'invalid_request_error', 'admin keys need a backend (run through `vmc serve`)');
  let id: string;
  try {
    id = decodeURIComponent(req.url.slice('/admin/keys/'.length));
  } catch {
    return sendError(res, 400, 'invalid_request_error', 'key id is not valid URL encoding');
  }
  const inFile = keys.fileKey(id);
  const r = await backend.revokeKey(id, inFile?.hash ?? null, { table: host.table() });
  if (r.status !== 200) return sendJson(res, r.status, r.body, r.headers);
  await keys.refresh('admin');
  const now = keys.ring.byId(id);
  return sendJson(res, 200, now === null ? { id, deleted: true, source: 'admin' } : { ...now.view(Date.now()), revoked: true });
}

function finish(host: AdminHost, res: HttpResponse, r: AdminResult): void {
  if (r.rejected !== undefined) host.reject('admin', r.rejected);
  if (r.tableBytes !== undefined) {
    try {
      host.swap(r.tableBytes, 'admin');
    } catch (err) {
      return sendError(res, 422, 'invalid_request_error', `compiled table rejected: ${(err as Error).message}`);
    }
  }
  sendJson(res, r.status, r.body, r.headers);
}

function countConfigured(t: RoutingTable): number {
  let n = 0;
  for (let vm = 0; vm < t.vmCount; vm++) if (!t.vmIsImplicit(vm)) n++;
  return n;
}

/** GoModel `virtualmodels.View` objects for every configured virtual model of a table. */
export function virtualModelViews(table: RoutingTable, loadedAt: Date = new Date()): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const at = loadedAt.toISOString();
  for (let vm = 0; vm < table.vmCount; vm++) {
    if (table.vmIsImplicit(vm)) continue;
    const v = table.virtualModel(vm);
    const first = v.targets[0];
    const providerIndex = first === undefined ? -1 : findProvider(table, first.provider);
    const label = first === undefined ? v.name : `${first.provider}/${first.model}`;
    out.push({
      source: v.name,
      kind: v.kind,
      model: label,
      resolved_model: label,
      provider_name: first?.provider ?? '',
      provider_type: providerIndex >= 0 ? table.providerType(providerIndex) : '',
      strategy: v.strategy,
      targets: v.targets.map((t) => ({ provider: t.provider, model: t.model, weight: t.weight })),
      user_paths: v.userPaths,
      enabled: v.enabled,
      description: v.description,
      scope_kind: v.userPaths.length > 0 ? 'user_path' : 'global',
      valid: true,
      created_at: at,
      updated_at: at,
    });
  }
  return out;
}

function findProvider(table: RoutingTable, name: string): number {
  for (let p = 0; p < table.providerCount; p++) if (table.providerName(p) === name) return p;
  return -1;
}
