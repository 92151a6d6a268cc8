/**
 * The gateway's admin control plane (SPEC §6, §9, §10), implemented with the compiler so that
 * admin changes are validated and lowered exactly like `vmc build` output.
 *
 * Model: the table file is the base; admin changes are an overlay
 *   { upserts: name → virtual-model body (native, or a GoModel body as PUT sent it),
 *     deletes: [name] }
 * persisted as JSON in the state file (`<table>.admin.json` beside the table, or in
 * `--state-dir`). Every change recompiles base + overlay through the normal front end, in
 * memory and off the event loop (admin-compile.ts: a worker thread); on success the state is
 * written (atomically: temporary file + rename) and the new table is swapped in.
 *
 * One writer: the mutating methods of one backend instance are serialized, and `vmc serve
 * --workers N` routes every admin call to the backend in the cluster primary (runtime/serve.ts),
 * so there is no lost update between workers. Readers: {@link CompilerAdminBackend.overlay}
 * re-reads the state file on every table load (start-up, SIGHUP, file change, a sibling
 * worker's change), so every process serves the persisted state, never a private copy. The
 * writer re-reads the table file before each change, so a change made after a deploy builds
 * on the new table.
 *
 * A state file that cannot be read (truncated, not JSON, an unknown format) or that no longer
 * compiles against the table is an {@link AdminStateError} from `overlay`; at start-up
 * `runServe` then calls {@link CompilerAdminBackend.quarantine} (the file is renamed aside with
 * a timestamp) and starts on the table alone. On a later reload the same error rejects the
 * reload and the previous table stays in service.
 *
 * Where the state lives is a {@link StateStore} (runtime/state): the local state file by
 * default, or Redis with `vmc serve --state redis://…` (SPEC §14), where every replica runs its
 * own backend. Every change is a compare-and-set on the stored document
 * ({@link commitAdminState}): when another replica wrote first, the change runs again on the
 * newer document — its checks too (`If-Match` → 409, a name now gone → 404) — so concurrent
 * writers lose nothing. While the store is unreachable, reads answer from the state held and
 * writes answer 503. Deletions and revocations leave tombstones (`removedAt`, a revocation
 * of the deleted admin key's hash) so that a Redis that comes back with older data is merged
 * without resurrecting them (runtime/state/admin-state.ts).
 *
 * Caller keys (SPEC §12) live in the same state file, under `keys`: keys created through
 * `POST /admin/keys` (hashes only — the gateway makes the key and shows it once) and
 * revocations of keys-file keys. Key changes are written by the same one writer, without a
 * recompile; every serving process re-reads them ({@link CompilerAdminBackend.readKeys}). A
 * quarantine keeps the keys part when it is readable: a state whose virtual models no
 * longer compile must not bring a revoked key back.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AdminBackend, AdminContext, AdminResult } from '../../runtime/server.js';
import { gatewayError, type GatewayErrorType } from '../../runtime/errors.js';
import { virtualModelViews } from '../../runtime/http/admin.js';
import { RoutingTable } from '../../runtime/table/reader.js';
import type { NormVirtualModel } from '../../runtime/table/normalized.js';
import { isObject } from '../../runtime/table/util.js';
import { emptyAdminKeys, parseAdminKeys, type AdminKeys, type StoredKey } from '../../runtime/keys/entry.js';
import { emptyAdminState, serializeAdminState, type AdminState } from '../../runtime/state/admin-state.js';
import { commitAdminState, stateOf, UnusableStateError, type ChangePlan } from '../../runtime/state/commit.js';
import { FileStateStore } from '../../runtime/state/file-store.js';
import { stateFilePath } from '../../runtime/state/open.js';
import { StateUnavailableError, type StateStore } from '../../runtime/state/store.js';
import { overlayCompiler, type AdminDiagnostic, type OverlayCompiler } from './admin-compile.js';
import { denormalizeMiddlewareCall, denormalizeVirtualModel } from './denormalize.js';
import { NATIVE_TO_NEMO_BACKEND_FORMAT, NEMO_MIDDLEWARE_KEYS, rewriteNemo } from '../dialects.js';

type Json = Record<string, unknown>;

export type { AdminState };

const isEmpty = (s: AdminState) => Object.keys(s.upserts).length === 0 && s.deletes.length === 0;

/** The state file cannot be used: unreadable, not an admin state, or no longer compiles against the table. */
export class AdminStateError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(message);
    this.name = 'AdminStateError';
  }
}

/** The fields a NeMo PATCH may carry (override_proxy and autoprovisioned are accepted and have no effect). */
const NEMO_PATCH_KEYS = new Set([
  'default_model_entity',
  'models',
  ...NEMO_MIDDLEWARE_KEYS.map(([, key]) => key),
  'override_proxy',
  'autoprovisioned',
]);

/** The fields of a GoModel PATCH (SPEC §10): the upsert body's, with `null` clearing. */
const GOMODEL_PATCH_TYPES: Record<string, (v: unknown) => boolean> = {
  source: (v) => typeof v === 'string',
  target_model: (v) => typeof v === 'string' && v !== '',
  user_paths: (v) => Array.isArray(v) && v.every((p) => typeof p === 'string'),
  enabled: (v) => typeof v === 'boolean',
  description: (v) => typeof v === 'string',
};

/** Native keys that say where a virtual model routes; a new routing answer replaces all of them. */
const ROUTING_KEYS = ['target', 'targets', 'strategy', 'retry', 'fallback_on', 'sticky'];

/** Strong ETag of one virtual model's routing definition. */
export function etagOf(vm: NormVirtualModel): string {
  return '"' + createHash('sha256').update(JSON.stringify(vm)).digest('hex').slice(0, 20) + '"';
}

/** A SPEC §3 error envelope; `diagnostics` (the compiler's) are added to it when given. */
function error(
  status: number,
  type: GatewayErrorType,
  message: string,
  extra: { param?: string; diagnostics?: unknown[] } = {},
): AdminResult {
  const body = gatewayError(status, type, message, extra.param ?? null);
  return { status, body: extra.diagnostics ? { error: { ...body.error, diagnostics: extra.diagnostics } } : body };
}

export interface AdminBackendOptions {
  tablePath: string;
  stateDir?: string;
  /**
   * Where compiles run: `thread` (default: a worker thread, off the event loop) or `inline`
   * (on the calling thread; tests of the admin semantics). `thread` falls back to inline
   * when no built thread script exists (a source checkout without dist/).
   */
  compileIn?: 'thread' | 'inline';
  /**
   * Where the state lives (runtime/state): `vmc serve` passes the store it opened (Redis with
   * `--state`). Default: the local state file, {@link statePath}.
   */
  store?: StateStore;
}

/** The state file for a table: `<stateDir or table dir>/<table file>.admin.json`. */
export function statePath(opts: AdminBackendOptions): string {
  return stateFilePath(opts.tablePath, opts.stateDir);
}

/** The keys part of a state file's text, when it reads (used by a quarantine to keep it); else null. */
function keysOfText(text: string): AdminKeys | null {
  try {
    const parsed = JSON.parse(text) as unknown;
    return isObject(parsed) && parsed.keys !== undefined ? parseAdminKeys(parsed.keys) : null;
  } catch {
    return null;
  }
}

/** The compiled table of a base + state, with what it was compiled from. */
interface Compiled {
  base: Uint8Array;
  stateJson: string;
  bytes: Uint8Array;
  table: RoutingTable;
}

export class CompilerAdminBackend implements AdminBackend {
  readonly #file: string;
  readonly #store: StateStore;
  readonly #compiler: OverlayCompiler;
  /** The last state read from or written to the store. */
  #state: AdminState = emptyAdminState();
  /** The table file's bytes the overlay applies to (set by overlay(), refreshed before each change). */
  #base: Uint8Array | null = null;
  #baseTable: RoutingTable | null = null;
  /** base + #state, compiled: the table the admin views and checks read. */
  #current: Compiled | null = null;
  /** The last compile (of a change being tried): becomes #current when its state is written. */
  #lastCompiled: Compiled | null = null;
  /** Admin calls are serialized: one recompilation at a time, in arrival order. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(readonly opts: AdminBackendOptions) {
    this.#store = opts.store ?? new FileStateStore(statePath(opts));
    this.#file = this.#store.kind === 'file' ? this.#store.location : `in ${this.#store.location}`;
    // replicas: changes arrive from elsewhere and must apply within a second — no cold start
    this.#compiler = overlayCompiler(opts.compileIn ?? 'thread', this.#store.shared);
  }

  /** Kept for callers of the factory; the state is read by every overlay(). */
  async init(): Promise<this> {
    return this;
  }

  /** The state file's path (or, with a shared store, where the state lives). */
  get file(): string {
    return this.#file;
  }

  /** The store the state lives in. */
  get store(): StateStore {
    return this.#store;
  }

  get state(): AdminState {
    return this.#state;
  }

  /** Where compiles run (`thread`: off the event loop). */
  get compilesIn(): 'thread' | 'inline' {
    return this.#compiler.where;
  }

  /** Ends the compile thread (it also ends itself after a quiet minute and never holds a process open). */
  close(): Promise<void> {
    return this.#compiler.close();
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /**
   * The stored state: the local file read now, or a shared store's document as last received
   * (never waiting for it: reads answer from the state held while the store is unreachable).
   * Throws AdminStateError when unusable.
   */
  async #readState(): Promise<AdminState> {
    let snap;
    try {
      snap = this.#store.shared ? this.#store.current() : await this.#store.read();
    } catch (err) {
      throw new AdminStateError(this.#file, `cannot read admin state ${this.#file}: ${(err as Error).message}`);
    }
    try {
      return stateOf(snap, this.#file);
    } catch (err) {
      throw new AdminStateError(this.#file, (err as Error).message);
    }
  }

  #setBase(bytes: Uint8Array, table: RoutingTable): void {
    if (this.#base !== null && Buffer.from(this.#base).equals(bytes)) return;
    this.#base = bytes;
    this.#baseTable = table;
  }

  /** base + state → compiled table (cached: the same inputs are not compiled twice). */
  async #compile(base: Uint8Array, state: AdminState): Promise<Compiled | { diagnostics: AdminDiagnostic[] }> {
    const stateJson = JSON.stringify([state.upserts, state.deletes]);
    for (const c of [this.#current, this.#lastCompiled]) {
      if (c !== null && c.stateJson === stateJson && (c.base === base || Buffer.from(c.base).equals(base))) return c;
    }
    if (isEmpty(state)) return { base, stateJson, bytes: base, table: RoutingTable.decode(base) };
    const r = await this.#compiler.compile({ base, upserts: state.upserts, deletes: state.deletes, docPath: this.#file });
    if ('diagnostics' in r) return r;
    const compiled = { base, stateJson, bytes: r.bytes, table: RoutingTable.decode(r.bytes) };
    this.#lastCompiled = compiled;
    return compiled;
  }

  /**
   * AdminBackend.overlay: the table file's bytes with the stored admin changes (the state
   * file read now; a shared store's latest document). Applied to every table read from disk.
   */
  async overlay(fileBytes: Uint8Array): Promise<Uint8Array> {
    return this.#serial(async () => {
      const baseTable = RoutingTable.decode(fileBytes); // reject a corrupt file before anything else
      const state = await this.#readState();
      const r = await this.#compile(fileBytes, state);
      if ('diagnostics' in r) {
        throw new AdminStateError(
          this.#file,
          `admin changes ${this.#store.kind === 'file' ? 'in ' : ''}${this.#file} no longer compile against this table: ${r.diagnostics.map((d) => `${d.code} ${d.message}`).join('; ')}`,
        );
      }
      this.#setBase(fileBytes, baseTable);
      this.#state = state;
      this.#current = r;
      return r.bytes;
    });
  }

  /**
   * Moves the state file aside (`<file>.quarantined-<timestamp>`) and forgets its changes: the
   * gateway then serves the table alone. Returns the new path, or null when there was no file
   * (and always with a shared store: its state belongs to every replica, one replica whose
   * table it does not fit must not throw it away).
   */
  async quarantine(_reason: string): Promise<string | null> {
    const store = this.#store;
    if (!(store instanceof FileStateStore)) return null;
    return this.#serial(async () => {
      this.#state = emptyAdminState();
      this.#current = null;
      const keys = keysOfText(await readFile(store.path, 'utf8').catch(() => ''));
      const aside = await store.moveAside(`quarantined-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      if (aside === null) return null;
      // Caller keys are not part of the table: keep them (a revocation must survive), the rest goes aside.
      if (keys !== null) {
        const next = { ...emptyAdminState(), keys };
        const w = await store.write(store.current().version, serializeAdminState(next));
        if (w.ok) this.#state = next;
      }
      return aside;
    });
  }

  /**
   * Runs one admin change on the stored state and writes it (compare-and-set; re-run on a
   * newer state when another writer won). `change` gets the state and the table it compiles
   * to with the current base, and returns what to write (with its answer) or an answer alone.
   * An unreachable store → 503; an unusable one → 500.
   */
  async #change(
    ctx: AdminContext,
    change: (state: AdminState, table: RoutingTable) => Promise<ChangePlan<AdminResult>>,
  ): Promise<AdminResult> {
    if (this.#store.status === 'degraded') return this.#unavailable();
    const base = await this.#refreshBase(ctx);
    try {
      const r = await commitAdminState(this.#store, async (state) => change(state, await this.#tableOf(base, state, ctx)));
      if (r.written) {
        this.#state = r.state;
        const c = this.#lastCompiled;
        if (c !== null && c.stateJson === JSON.stringify([r.state.upserts, r.state.deletes])) this.#current = c;
      }
      return r.result;
    } catch (err) {
      if (err instanceof StateUnavailableError) return this.#unavailable(err.message);
      if (err instanceof UnusableStateError) return error(500, 'invalid_request_error', err.message);
      throw err;
    }
  }

  #unavailable(why?: string): AdminResult {
    return error(
      503,
      'provider_error',
      `admin changes are unavailable: ${why ?? `the state store (${this.#store.location}) is unreachable`}; the gateway serves the last state it has`,
    );
  }

  /** A change's plan: compile `next`; write it and answer `okStatus` with `body`, or answer `invalidStatus` with the diagnostics. */
  async #plan(
    next: AdminState,
    okStatus: number,
    body: (t: RoutingTable) => unknown,
    invalidStatus: number,
    headers?: (t: RoutingTable) => Record<string, string> | undefined,
  ): Promise<ChangePlan<AdminResult>> {
    const r = await this.#compile(this.#base!, next);
    if ('diagnostics' in r) {
      const message = r.diagnostics.map((d) => `${d.code}: ${d.message}`).join('; ');
      return {
        result: {
          ...error(invalidStatus, 'invalid_request_error', message, { diagnostics: r.diagnostics }),
          rejected: `admin change does not compile: ${message}`,
        },
      };
    }
    const h = headers?.(r.table);
    return { next, result: { status: okStatus, body: body(r.table), tableBytes: r.bytes, ...(h === undefined ? {} : { headers: h }) } };
  }

  /** AdminBackend.readKeys: the caller keys of the stored state (the file read now; a shared store's latest). */
  async readKeys(): Promise<AdminKeys> {
    return (await this.#readState()).keys ?? emptyAdminKeys();
  }

  /** A key change (no recompile): `f` edits a copy of the keys, or answers alone. */
  #keysChange(f: (keys: AdminKeys, state: AdminState) => AdminResult | { keys: AdminKeys; result: AdminResult }): Promise<AdminResult> {
    return this.#serial(async () => {
      if (this.#store.status === 'degraded') return this.#unavailable();
      try {
        const r = await commitAdminState(this.#store, async (state) => {
          const keys = structuredClone(state.keys ?? emptyAdminKeys());
          const out = f(keys, state);
          if ('status' in out) return { result: out };
          return { next: { ...state, keys: out.keys }, result: out.result };
        });
        if (r.written) this.#state = r.state;
        return r.result;
      } catch (err) {
        if (err instanceof StateUnavailableError) return this.#unavailable(err.message);
        if (err instanceof UnusableStateError) return error(500, 'invalid_request_error', err.message);
        throw err;
      }
    });
  }

  /** AdminBackend.createKey: persists a key the gateway made (hash only). 409 when an admin key has the id. */
  createKey(id: string, key: StoredKey, _ctx: AdminContext): Promise<AdminResult> {
    return this.#keysChange((keys) => {
      if (Object.hasOwn(keys.created, id))
        return error(409, 'invalid_request_error', `a key with id ${JSON.stringify(id)} exists`, { param: 'id' });
      keys.created[id] = key;
      return { keys, result: { status: 201, body: { id }, keysChanged: true } };
    });
  }

  /**
   * AdminBackend.revokeKey: removes an admin key, revokes a keys-file key (id + hash). 404
   * when neither. A removed admin key's hash is recorded as revoked too: the tombstone that
   * keeps a merge (Redis back with older data) from bringing it back.
   */
  revokeKey(id: string, fileHash: string | null, _ctx: AdminContext): Promise<AdminResult> {
    return this.#keysChange((keys) => {
      const admin = Object.hasOwn(keys.created, id);
      if (!admin && fileHash === null) return error(404, 'not_found_error', `key ${JSON.stringify(id)} not found`);
      const at = new Date().toISOString();
      if (admin) {
        keys.revoked[id] = { hash: keys.created[id].hash, at };
        delete keys.created[id];
      }
      if (fileHash !== null) keys.revoked[id] = { hash: fileHash, at };
      return { keys, result: { status: 200, body: { id, revoked: fileHash !== null, deleted: admin }, keysChanged: true } };
    });
  }

  /** Before a change: the table file as it is now (when it reads and decodes), else the last base. */
  async #refreshBase(ctx: AdminContext): Promise<Uint8Array> {
    try {
      const file = new Uint8Array(await readFile(this.opts.tablePath));
      if (this.#base === null || !Buffer.from(this.#base).equals(file)) this.#setBase(file, RoutingTable.decode(file));
    } catch {
      // unreadable or corrupt right now (mid-deploy): keep building on the base in service
    }
    if (this.#base === null) this.#setBase(ctx.table.bytes, ctx.table);
    return this.#base!;
  }

  /** base + state compiled; the served table if that no longer compiles. */
  async #tableOf(base: Uint8Array, state: AdminState, ctx: AdminContext): Promise<RoutingTable> {
    const r = await this.#compile(base, state);
    if ('diagnostics' in r) return ctx.table;
    return r.table;
  }

  /** For reads: the stored state and the table it compiles to (the served table if it does not). */
  async #read(ctx: AdminContext): Promise<{ state: AdminState; table: RoutingTable }> {
    const base = await this.#refreshBase(ctx);
    let state: AdminState;
    try {
      state = await this.#readState();
    } catch {
      state = this.#state; // unusable right now: answer from the last state known
    }
    const r = await this.#compile(base, state);
    if ('diagnostics' in r) return { state, table: ctx.table };
    this.#state = state;
    this.#current = r;
    return { state, table: r.table };
  }

  /** `state` with `name` defined by `body` (no longer deleted), stamped now. */
  #withUpsert(state: AdminState, name: string, body: Json): AdminState {
    const next = structuredClone(state);
    next.upserts[name] = body;
    next.deletes = next.deletes.filter((n) => n !== name);
    next.updatedAt[name] = new Date().toISOString();
    if (next.removedAt !== undefined) {
      delete next.removedAt[name];
      if (Object.keys(next.removedAt).length === 0) delete next.removedAt;
    }
    return next;
  }

  #goModelView(table: RoutingTable, name: string, state: AdminState): Json {
    const view = virtualModelViews(table).find((v) => v.source === name) ?? { source: name };
    const at = state.updatedAt[name];
    return at ? { ...view, updated_at: at } : view;
  }

  listVirtualModels(ctx: AdminContext): Promise<AdminResult> {
    return this.#serial(async () => {
      const { state, table } = await this.#read(ctx);
      const views = virtualModelViews(table).map((v) => {
        const at = state.updatedAt[v.source as string];
        return at ? { ...v, updated_at: at } : v;
      });
      return { status: 200, body: views };
    });
  }

  upsertVirtualModel(body: unknown, ctx: AdminContext): Promise<AdminResult> {
    return this.#serial(async () => {
      if (!isObject(body) || typeof body.source !== 'string' || body.source === '') {
        return error(400, 'invalid_request_error', 'body must be a GoModel upsert object with a non-empty string "source"', {
          param: 'source',
        });
      }
      const name = body.source;
      return this.#change(ctx, async (state) => {
        const next = this.#withUpsert(state, name, body);
        return this.#plan(next, 200, (t) => this.#goModelView(t, name, next), 400);
      });
    });
  }

  deleteVirtualModel(name: string, ctx: AdminContext): Promise<AdminResult> {
    return this.#serial(() =>
      this.#change(ctx, async (state, table) => {
        if (this.#configured(table, name) === null) {
          return { result: error(404, 'not_found_error', `virtual model ${JSON.stringify(name)} not found`) };
        }
        const next = structuredClone(state);
        delete next.upserts[name];
        const inBase = this.#baseTable !== null && this.#configured(this.#baseTable, name) !== null;
        if (inBase && !next.deletes.includes(name)) next.deletes.push(name);
        next.deletes.sort();
        delete next.updatedAt[name];
        next.removedAt = { ...next.removedAt, [name]: new Date().toISOString() };
        return this.#plan(next, 200, () => ({ source: name, deleted: true }), 409);
      }),
    );
  }

  getVirtualModel(name: string, ctx: AdminContext): Promise<AdminResult> {
    return this.#serial(async () => {
      const { state, table } = await this.#read(ctx);
      const vm = this.#configured(table, name);
      if (vm === null) return error(404, 'not_found_error', `virtual model ${JSON.stringify(name)} not found`);
      return { status: 200, body: this.#goModelView(table, name, state), headers: { etag: etagOf(vm) } };
    });
  }

  /**
   * GoModel PATCH (SPEC §10): the GoModel fields with PATCH semantics — an absent field keeps
   * its value, `null` clears it (`target_model: null` makes the name an access policy,
   * `user_paths: null` makes it global). A model last written as a GoModel body is patched
   * as one; any other is patched in native form, where `target_model` replaces the routing.
   */
  patchVirtualModel(name: string, patch: unknown, ifMatch: string | null, ctx: AdminContext): Promise<AdminResult> {
    return this.#serial(() =>
      this.#change(ctx, async (state, table) => {
        const fail = (r: AdminResult) => ({ result: r });
        const current = this.#configured(table, name);
        if (current === null) return fail(error(404, 'not_found_error', `virtual model ${JSON.stringify(name)} not found`));
        if (ifMatch !== null && ifMatch !== '*' && ifMatch !== etagOf(current)) {
          return fail(
            error(
              409,
              'invalid_request_error',
              `virtual model ${name} was modified concurrently (If-Match ${ifMatch} ≠ ${etagOf(current)})`,
            ),
          );
        }
        const body = patch ?? {};
        if (!isObject(body)) return fail(error(422, 'invalid_request_error', 'PATCH body must be a JSON object'));
        const unknown = Object.keys(body).filter((k) => !Object.hasOwn(GOMODEL_PATCH_TYPES, k));
        if (unknown.length) {
          return fail(
            error(
              422,
              'invalid_request_error',
              `unknown field(s): ${unknown.join(', ')} (GoModel fields: ${Object.keys(GOMODEL_PATCH_TYPES).join(', ')})`,
            ),
          );
        }
        for (const [k, v] of Object.entries(body)) {
          if (v !== null && !GOMODEL_PATCH_TYPES[k](v))
            return fail(error(422, 'invalid_request_error', `field ${k} has the wrong type`, { param: k }));
        }
        if ('source' in body && body.source !== name) {
          return fail(
            error(
              422,
              'invalid_request_error',
              `"source" must be the virtual model's name (${JSON.stringify(name)}); renaming is not supported`,
              {
                param: 'source',
              },
            ),
          );
        }
        const stored = state.upserts[name];
        let next: Json;
        if (stored !== undefined && 'source' in stored) {
          next = structuredClone(stored);
          for (const [k, v] of Object.entries(body)) {
            if (k === 'source') continue;
            if (v === null) delete next[k];
            else next[k] = v;
          }
        } else {
          next = stored !== undefined ? structuredClone(stored) : denormalizeVirtualModel(current);
          for (const [k, v] of Object.entries(body)) {
            if (k === 'source') continue;
            if (k === 'target_model') {
              for (const r of ROUTING_KEYS) delete next[r];
              if (v !== null) next.target = v;
            } else if (v === null) delete next[k];
            else next[k] = v;
          }
        }
        const nextState = this.#withUpsert(state, name, next);
        return this.#plan(
          nextState,
          200,
          (t) => this.#goModelView(t, name, nextState),
          422,
          (t) => {
            const vm = this.#configured(t, name);
            return vm === null ? undefined : { etag: etagOf(vm) };
          },
        );
      }),
    );
  }

  #configured(table: RoutingTable, name: string): NormVirtualModel | null {
    const vm = table.lookupString(name);
    if (vm < 0 || table.vmIsImplicit(vm) || table.vmName(vm) !== name) return null;
    return table.virtualModel(vm);
  }

  /** NeMo `VirtualModel` view of one of our virtual models. */
  #nemoView(workspace: string, name: string, vm: NormVirtualModel, state: AdminState): Json {
    const full = `${workspace}/${name}`;
    // NeMo always shows `config_type`, even when empty (the native form leaves it out then).
    const calls = (list: NormVirtualModel['middleware']['request']) =>
      list.map((c) => ({ name: c.name, config_type: c.configType, ...denormalizeMiddlewareCall(c) }));
    const id = createHash('sha256').update(full).digest('hex').slice(0, 32);
    const at = state.updatedAt[full] ?? new Date(0).toISOString();
    return {
      name,
      workspace,
      id,
      entity_id: id,
      parent: workspace,
      project: null,
      description: vm.description,
      default_model_entity: vm.kind === 'policy' ? null : `${vm.targets[0].provider}/${vm.targets[0].model}`,
      autoprovisioned: false,
      models: vm.targets.map((t) => ({
        model: `${t.provider}/${t.model}`,
        backend_format: t.backendFormat === null ? null : NATIVE_TO_NEMO_BACKEND_FORMAT[t.backendFormat],
      })),
      request_middleware: calls(vm.middleware.request),
      response_middleware: calls(vm.middleware.response),
      post_response_middleware: calls(vm.middleware.postResponse),
      created_at: at,
      created_by: null,
      updated_at: at,
      updated_by: null,
    };
  }

  getNemoVirtualModel(workspace: string, name: string, ctx: AdminContext): Promise<AdminResult> {
    return this.#serial(async () => {
      const { state, table } = await this.#read(ctx);
      const vm = this.#configured(table, `${workspace}/${name}`);
      if (vm === null) return error(404, 'not_found_error', `VirtualModel ${workspace}/${name} not found`);
      return { status: 200, body: this.#nemoView(workspace, name, vm, state), headers: { etag: etagOf(vm) } };
    });
  }

  patchNemoVirtualModel(workspace: string, name: string, patch: unknown, ifMatch: string | null, ctx: AdminContext): Promise<AdminResult> {
    return this.#serial(() =>
      this.#change(ctx, async (state, table) => {
        const fail = (r: AdminResult) => ({ result: r });
        const full = `${workspace}/${name}`;
        const current = this.#configured(table, full);
        if (current === null) return fail(error(404, 'not_found_error', `VirtualModel ${full} not found`));
        if (ifMatch !== null && ifMatch !== '*' && ifMatch !== etagOf(current)) {
          return fail(
            error(
              409,
              'invalid_request_error',
              `VirtualModel ${full} was modified concurrently (If-Match ${ifMatch} ≠ ${etagOf(current)})`,
            ),
          );
        }
        const body = patch ?? {};
        if (!isObject(body)) return fail(error(422, 'invalid_request_error', 'PATCH body must be a JSON object'));
        const unknown = Object.keys(body).filter((k) => !NEMO_PATCH_KEYS.has(k));
        if (unknown.length) return fail(error(422, 'invalid_request_error', `unknown field(s): ${unknown.join(', ')}`));

        // Start from the current definition in native form, keep what the patch does not touch.
        const native =
          state.upserts[full] && !('source' in state.upserts[full])
            ? structuredClone(state.upserts[full])
            : denormalizeVirtualModel(current);
        if ('default_model_entity' in body || 'models' in body) {
          const view = this.#nemoView(workspace, name, current, state);
          const def = 'default_model_entity' in body ? body.default_model_entity : view.default_model_entity;
          const models = 'models' in body ? (body.models ?? []) : view.models;
          if (
            (def !== null && typeof def !== 'string') ||
            !Array.isArray(models) ||
            !models.every((m) => isObject(m) && typeof m.model === 'string')
          ) {
            return fail(
              error(
                422,
                'invalid_request_error',
                'default_model_entity must be a string or null; models a list of {model, backend_format}',
              ),
            );
          }
          const rewritten = rewriteNemo({
            ...(def === null ? {} : { default_model_entity: def }),
            models: models as { model: string }[],
          } as Parameters<typeof rewriteNemo>[0]).body as Json;
          // NeMo semantics decide the targets: replace the routing part, keep the rest.
          for (const k of ROUTING_KEYS) delete native[k];
          for (const k of ['target', 'targets', 'strategy']) if (k in rewritten) native[k] = rewritten[k];
        }
        for (const [phase, key] of NEMO_MIDDLEWARE_KEYS) {
          if (!(key in body)) continue;
          const value = body[key];
          if (value !== null && !Array.isArray(value)) return fail(error(422, 'invalid_request_error', `${key} must be a list or null`));
          const mw = isObject(native.middleware) ? { ...native.middleware } : {};
          if (value === null || value.length === 0) delete mw[phase];
          else mw[phase] = value;
          if (Object.keys(mw).length) native.middleware = mw;
          else delete native.middleware;
        }
        const nextState = this.#withUpsert(state, full, native);
        return this.#plan(
          nextState,
          200,
          (t) => this.#nemoView(workspace, name, this.#configured(t, full)!, nextState),
          422,
          (t) => ({ etag: etagOf(this.#configured(t, full)!) }),
        );
      }),
    );
  }
}

/** Factory for `runServe({ admin })`. */
export async function createAdminBackend(opts: AdminBackendOptions): Promise<CompilerAdminBackend> {
  return new CompilerAdminBackend(opts).init();
}
