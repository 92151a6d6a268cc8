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
 * Caller keys (SPEC §12) live in the same state file, under `keys`: keys created through
 * `POST /admin/keys` (hashes only — the gateway makes the key and shows it once) and
 * revocations of keys-file keys. Key changes are written by the same one writer, without a
 * recompile; every serving process re-reads them ({@link CompilerAdminBackend.readKeys}). A
 * quarantine keeps the keys part when it is readable: a state whose virtual models no
 * longer compile must not bring a revoked key back.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { AdminBackend, AdminContext, AdminResult } from '../../runtime/server.js';
import { gatewayError, type GatewayErrorType } from '../../runtime/errors.js';
import { virtualModelViews } from '../../runtime/http/admin.js';
import { RoutingTable } from '../../runtime/table/reader.js';
import type { NormVirtualModel } from '../../runtime/table/normalized.js';
import { isObject } from '../../runtime/table/util.js';
import { emptyAdminKeys, parseAdminKeys, type AdminKeys, type StoredKey } from '../../runtime/keys/entry.js';
import { overlayCompiler, type AdminDiagnostic, type OverlayCompiler } from './admin-compile.js';
import { denormalizeMiddlewareCall, denormalizeVirtualModel } from './denormalize.js';
import { NATIVE_TO_NEMO_BACKEND_FORMAT, NEMO_MIDDLEWARE_KEYS, rewriteNemo } from '../dialects.js';

type Json = Record<string, unknown>;

export interface AdminState {
  version: 1;
  upserts: Record<string, Json>;
  deletes: string[];
  /** ISO timestamps of the last admin change per name. */
  updatedAt: Record<string, string>;
  /** Caller keys created or revoked through the admin API (SPEC §12); absent = none. */
  keys?: AdminKeys;
}

const emptyState = (): AdminState => ({ version: 1, upserts: {}, deletes: [], updatedAt: {} });
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
}

/** The state file for a table: `<stateDir or table dir>/<table file>.admin.json`. */
export function statePath(opts: AdminBackendOptions): string {
  return join(opts.stateDir ?? dirname(opts.tablePath), basename(opts.tablePath) + '.admin.json');
}

/** Parses and checks a state file's text; throws a plain Error saying what is wrong. */
function parseState(text: string): AdminState {
  const parsed = JSON.parse(text) as unknown;
  if (!isObject(parsed) || parsed.version !== 1) throw new Error('not an admin state (version 1 expected)');
  const { upserts, deletes, updatedAt } = parsed;
  if (!isObject(upserts) || !Object.values(upserts).every(isObject)) throw new Error('"upserts" must map names to objects');
  if (!Array.isArray(deletes) || !deletes.every((d) => typeof d === 'string')) throw new Error('"deletes" must be a list of names');
  if (updatedAt !== undefined && !isObject(updatedAt)) throw new Error('"updatedAt" must be an object');
  const state: AdminState = {
    version: 1,
    upserts: upserts as Record<string, Json>,
    deletes: deletes as string[],
    updatedAt: (updatedAt ?? {}) as Record<string, string>,
  };
  if (parsed.keys !== undefined) state.keys = parseAdminKeys(parsed.keys);
  return state;
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
  readonly #compiler: OverlayCompiler;
  /** The last state read from or written to the state file. */
  #state: AdminState = emptyState();
  /** The table file's bytes the overlay applies to (set by overlay(), refreshed before each change). */
  #base: Uint8Array | null = null;
  #baseTable: RoutingTable | null = null;
  /** base + #state, compiled: the table the admin views and checks read. */
  #current: Compiled | null = null;
  /** Admin calls are serialized: one recompilation at a time, in arrival order. */
  #queue: Promise<unknown> = Promise.resolve();
  #tmpSeq = 0;

  constructor(readonly opts: AdminBackendOptions) {
    this.#file = statePath(opts);
    this.#compiler = overlayCompiler(opts.compileIn ?? 'thread');
  }

  /** Kept for callers of the factory; the state file is read by every overlay(). */
  async init(): Promise<this> {
    return this;
  }

  /** The state file's path. */
  get file(): string {
    return this.#file;
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

  /** The persisted state; no file = no admin changes. Throws AdminStateError when unusable. */
  async #readState(): Promise<AdminState> {
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
      throw new AdminStateError(this.#file, `cannot read admin state ${this.#file}: ${(err as Error).message}`);
    }
    try {
      return parseState(text);
    } catch (err) {
      throw new AdminStateError(this.#file, `admin state ${this.#file} is unusable: ${(err as Error).message}`);
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
    const c = this.#current;
    if (c !== null && c.stateJson === stateJson && (c.base === base || Buffer.from(c.base).equals(base))) return c;
    if (isEmpty(state)) return { base, stateJson, bytes: base, table: RoutingTable.decode(base) };
    const r = await this.#compiler.compile({ base, upserts: state.upserts, deletes: state.deletes, docPath: this.#file });
    if ('diagnostics' in r) return r;
    return { base, stateJson, bytes: r.bytes, table: RoutingTable.decode(r.bytes) };
  }

  /**
   * AdminBackend.overlay: the table file's bytes with the persisted admin changes, read from
   * the state file now. Applied to every table read from disk.
   */
  async overlay(fileBytes: Uint8Array): Promise<Uint8Array> {
    return this.#serial(async () => {
      const baseTable = RoutingTable.decode(fileBytes); // reject a corrupt file before anything else
      const state = await this.#readState();
      const r = await this.#compile(fileBytes, state);
      if ('diagnostics' in r) {
        throw new AdminStateError(
          this.#file,
          `admin changes in ${this.#file} no longer compile against this table: ${r.diagnostics.map((d) => `${d.code} ${d.message}`).join('; ')}`,
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
   * gateway then serves the table alone. Returns the new path, or null when there was no file.
   */
  async quarantine(_reason: string): Promise<string | null> {
    return this.#serial(async () => {
      const aside = `${this.#file}.quarantined-${new Date().toISOString().replace(/[:.]/g, '-')}`;
      this.#state = emptyState();
      this.#current = null;
      const keys = keysOfText(await readFile(this.#file, 'utf8').catch(() => ''));
      try {
        await rename(this.#file, aside);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
      // Caller keys are not part of the table: keep them (a revocation must survive), the rest goes aside.
      if (keys !== null) {
        this.#state = { ...emptyState(), keys };
        await this.#persist(this.#state);
      }
      return aside;
    });
  }

  /** Writes a state atomically (temporary file + rename). */
  async #persist(next: AdminState): Promise<void> {
    await mkdir(dirname(this.#file), { recursive: true });
    const tmp = `${this.#file}.${process.pid}.${++this.#tmpSeq}.tmp`;
    await writeFile(tmp, JSON.stringify(next, null, 2) + '\n');
    await rename(tmp, this.#file);
  }

  /**
   * AdminBackend.readKeys: the caller keys of the persisted state, read from the file now (the
   * writer replaces it atomically, so a read never sees half a state). Not queued behind
   * compiles: key changes must reach every process within a second.
   */
  async readKeys(): Promise<AdminKeys> {
    return (await this.#readState()).keys ?? emptyAdminKeys();
  }

  /** The persisted state as the writer's base for a key change (the file is the truth). */
  async #stateForKeys(): Promise<AdminState> {
    const state = await this.#readState();
    state.keys = structuredClone(state.keys ?? emptyAdminKeys());
    return state;
  }

  /** AdminBackend.createKey: persists a key the gateway made (hash only). 409 when an admin key has the id. */
  createKey(id: string, key: StoredKey, _ctx: AdminContext): Promise<AdminResult> {
    return this.#serial(async () => {
      let next: AdminState;
      try {
        next = await this.#stateForKeys();
      } catch (err) {
        return error(500, 'invalid_request_error', (err as Error).message);
      }
      if (Object.hasOwn(next.keys!.created, id))
        return error(409, 'invalid_request_error', `a key with id ${JSON.stringify(id)} exists`, { param: 'id' });
      next.keys!.created[id] = key;
      await this.#persist(next);
      this.#state = next;
      return { status: 201, body: { id }, keysChanged: true };
    });
  }

  /** AdminBackend.revokeKey: removes an admin key, revokes a keys-file key (id + hash). 404 when neither. */
  revokeKey(id: string, fileHash: string | null, _ctx: AdminContext): Promise<AdminResult> {
    return this.#serial(async () => {
      let next: AdminState;
      try {
        next = await this.#stateForKeys();
      } catch (err) {
        return error(500, 'invalid_request_error', (err as Error).message);
      }
      const keys = next.keys!;
      const admin = Object.hasOwn(keys.created, id);
      if (!admin && fileHash === null) return error(404, 'not_found_error', `key ${JSON.stringify(id)} not found`);
      if (admin) delete keys.created[id];
      if (fileHash !== null) keys.revoked[id] = { hash: fileHash, at: new Date().toISOString() };
      await this.#persist(next);
      this.#state = next;
      return { status: 200, body: { id, revoked: fileHash !== null, deleted: admin }, keysChanged: true };
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

  /** The table the checks and views read: base + state as persisted; the served table if that no longer compiles. */
  async #table(ctx: AdminContext): Promise<RoutingTable> {
    const base = await this.#refreshBase(ctx);
    const r = await this.#compile(base, this.#state);
    if ('diagnostics' in r) return ctx.table;
    this.#current = r;
    return r.table;
  }

  /** Try a new state; on success persist it and hand back the table. */
  async #apply(next: AdminState, okStatus: number, body: (t: RoutingTable) => unknown, invalidStatus: number): Promise<AdminResult> {
    const base = this.#base!;
    const r = await this.#compile(base, next);
    if ('diagnostics' in r) {
      const message = r.diagnostics.map((d) => `${d.code}: ${d.message}`).join('; ');
      return {
        ...error(invalidStatus, 'invalid_request_error', message, { diagnostics: r.diagnostics }),
        rejected: `admin change does not compile: ${message}`,
      };
    }
    await this.#persist(next);
    this.#state = next;
    this.#current = r;
    return { status: okStatus, body: body(r.table), tableBytes: r.bytes };
  }

  #clone(): AdminState {
    return structuredClone(this.#state);
  }

  /** The state with `name` defined by `body` (no longer deleted), stamped now. */
  #withUpsert(name: string, body: Json): AdminState {
    const next = this.#clone();
    next.upserts[name] = body;
    next.deletes = next.deletes.filter((n) => n !== name);
    next.updatedAt[name] = new Date().toISOString();
    return next;
  }

  #goModelView(table: RoutingTable, name: string): Json {
    const view = virtualModelViews(table).find((v) => v.source === name) ?? { source: name };
    const at = this.#state.updatedAt[name];
    return at ? { ...view, updated_at: at } : view;
  }

  listVirtualModels(ctx: AdminContext): Promise<AdminResult> {
    return this.#serial(async () => {
      const table = await this.#table(ctx);
      const views = virtualModelViews(table).map((v) => {
        const at = this.#state.updatedAt[v.source as string];
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
      await this.#table(ctx);
      return this.#apply(this.#withUpsert(name, body), 200, (t) => this.#goModelView(t, name), 400);
    });
  }

  deleteVirtualModel(name: string, ctx: AdminContext): Promise<AdminResult> {
    return this.#serial(async () => {
      if (this.#configured(await this.#table(ctx), name) === null) {
        return error(404, 'not_found_error', `virtual model ${JSON.stringify(name)} not found`);
      }
      const next = this.#clone();
      delete next.upserts[name];
      const inBase = this.#baseTable !== null && this.#configured(this.#baseTable, name) !== null;
      if (inBase && !next.deletes.includes(name)) next.deletes.push(name);
      next.deletes.sort();
      delete next.updatedAt[name];
      return this.#apply(next, 200, () => ({ source: name, deleted: true }), 409);
    });
  }

  getVirtualModel(name: string, ctx: AdminContext): Promise<AdminResult> {
    return this.#serial(async () => {
      const table = await this.#table(ctx);
      const vm = this.#configured(table, name);
      if (vm === null) return error(404, 'not_found_error', `virtual model ${JSON.stringify(name)} not found`);
      return { status: 200, body: this.#goModelView(table, name), headers: { etag: etagOf(vm) } };
    });
  }

  /**
   * GoModel PATCH (SPEC §10): the GoModel fields with PATCH semantics — an absent field keeps
   * its value, `null` clears it (`target_model: null` makes the name an access policy,
   * `user_paths: null` makes it global). A model last written as a GoModel body is patched
   * as one; any other is patched in native form, where `target_model` replaces the routing.
   */
  patchVirtualModel(name: string, patch: unknown, ifMatch: string | null, ctx: AdminContext): Promise<AdminResult> {
    return this.#serial(async () => {
      const current = this.#configured(await this.#table(ctx), name);
      if (current === null) return error(404, 'not_found_error', `virtual model ${JSON.stringify(name)} not found`);
      if (ifMatch !== null && ifMatch !== '*' && ifMatch !== etagOf(current)) {
        return error(
          409,
          'invalid_request_error',
          `virtual model ${name} was modified concurrently (If-Match ${ifMatch} ≠ ${etagOf(current)})`,
        );
      }
      const body = patch ?? {};
      if (!isObject(body)) return error(422, 'invalid_request_error', 'PATCH body must be a JSON object');
      const unknown = Object.keys(body).filter((k) => !Object.hasOwn(GOMODEL_PATCH_TYPES, k));
      if (unknown.length) {
        return error(
          422,
          'invalid_request_error',
          `unknown field(s): ${unknown.join(', ')} (GoModel fields: ${Object.keys(GOMODEL_PATCH_TYPES).join(', ')})`,
        );
      }
      for (const [k, v] of Object.entries(body)) {
        if (v !== null && !GOMODEL_PATCH_TYPES[k](v))
          return error(422, 'invalid_request_error', `field ${k} has the wrong type`, { param: k });
      }
      if ('source' in body && body.source !== name) {
        return error(
          422,
          'invalid_request_error',
          `"source" must be the virtual model's name (${JSON.stringify(name)}); renaming is not supported`,
          {
            param: 'source',
          },
        );
      }
      const stored = this.#state.upserts[name];
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
      const r = await this.#apply(this.#withUpsert(name, next), 200, (t) => this.#goModelView(t, name), 422);
      if (r.status !== 200) return r;
      const vm = this.#configured(this.#current!.table, name);
      return vm === null ? r : { ...r, headers: { etag: etagOf(vm) } };
    });
  }

  #configured(table: RoutingTable, name: string): NormVirtualModel | null {
    const vm = table.lookupString(name);
    if (vm < 0 || table.vmIsImplicit(vm) || table.vmName(vm) !== name) return null;
    return table.virtualModel(vm);
  }

  /** NeMo `VirtualModel` view of one of our virtual models. */
  #nemoView(workspace: string, name: string, vm: NormVirtualModel): Json {
    const full = `${workspace}/${name}`;
    // NeMo always shows `config_type`, even when empty (the native form leaves it out then).
    const calls = (list: NormVirtualModel['middleware']['request']) =>
      list.map((c) => ({ name: c.name, config_type: c.configType, ...denormalizeMiddlewareCall(c) }));
    const id = createHash('sha256').update(full).digest('hex').slice(0, 32);
    const at = this.#state.updatedAt[full] ?? new Date(0).toISOString();
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
      const vm = this.#configured(await this.#table(ctx), `${workspace}/${name}`);
      if (vm === null) return error(404, 'not_found_error', `VirtualModel ${workspace}/${name} not found`);
      return { status: 200, body: this.#nemoView(workspace, name, vm), headers: { etag: etagOf(vm) } };
    });
  }

  patchNemoVirtualModel(workspace: string, name: string, patch: unknown, ifMatch: string | null, ctx: AdminContext): Promise<AdminResult> {
    return this.#serial(async () => {
      const full = `${workspace}/${name}`;
      const current = this.#configured(await this.#table(ctx), full);
      if (current === null) return error(404, 'not_found_error', `VirtualModel ${full} not found`);
      if (ifMatch !== null && ifMatch !== '*' && ifMatch !== etagOf(current)) {
        return error(
          409,
          'invalid_request_error',
          `VirtualModel ${full} was modified concurrently (If-Match ${ifMatch} ≠ ${etagOf(current)})`,
        );
      }
      const body = patch ?? {};
      if (!isObject(body)) return error(422, 'invalid_request_error', 'PATCH body must be a JSON object');
      const unknown = Object.keys(body).filter((k) => !NEMO_PATCH_KEYS.has(k));
      if (unknown.length) return error(422, 'invalid_request_error', `unknown field(s): ${unknown.join(', ')}`);

      // Start from the current definition in native form, keep what the patch does not touch.
      const native =
        this.#state.upserts[full] && !('source' in this.#state.upserts[full])
          ? structuredClone(this.#state.upserts[full])
          : denormalizeVirtualModel(current);
      if ('default_model_entity' in body || 'models' in body) {
        const view = this.#nemoView(workspace, name, current);
        const def = 'default_model_entity' in body ? body.default_model_entity : view.default_model_entity;
        const models = 'models' in body ? (body.models ?? []) : view.models;
        if (
          (def !== null && typeof def !== 'string') ||
          !Array.isArray(models) ||
          !models.every((m) => isObject(m) && typeof m.model === 'string')
        ) {
          return error(
            422,
            'invalid_request_error',
            'default_model_entity must be a string or null; models a list of {model, backend_format}',
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
        if (value !== null && !Array.isArray(value)) return error(422, 'invalid_request_error', `${key} must be a list or null`);
        const mw = isObject(native.middleware) ? { ...native.middleware } : {};
        if (value === null || value.length === 0) delete mw[phase];
        else mw[phase] = value;
        if (Object.keys(mw).length) native.middleware = mw;
        else delete native.middleware;
      }
      const r = await this.#apply(
        this.#withUpsert(full, native),
        200,
        (t) => this.#nemoView(workspace, name, this.#configured(t, full)!),
        422,
      );
      return r.status === 200 ? { ...r, headers: { etag: etagOf(this.#configured(this.#current!.table, full)!) } } : r;
    });
  }
}

/** Factory for `runServe({ admin })`. */
export async function createAdminBackend(opts: AdminBackendOptions): Promise<CompilerAdminBackend> {
  return new CompilerAdminBackend(opts).init();
}
