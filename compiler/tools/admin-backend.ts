/**
 * The gateway's admin control plane (SPEC §6, §9), implemented with the compiler so that
 * admin changes are validated and lowered exactly like `vmc build` output.
 *
 * Model: the table file is the base; admin changes are an overlay
 *   { upserts: name → virtual-model body (native, or a GoModel body as PUT sent it),
 *     deletes: [name] }
 * persisted as JSON in the state file (`<table>.admin.json` beside the table, or in
 * `--state-dir`). Every change recompiles base + overlay through the normal front end, in
 * memory (`compileDocuments`: no temporary files); on success the state is written
 * (atomically) and the new table is swapped in. The overlay is
 * re-applied whenever the table file is (re)loaded, so changes survive restarts and CI
 * rebuilds; when it no longer compiles against a new base, that reload is rejected and the
 * previous table stays in service.
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
import { compileDocuments } from '../frontend.js';
import { emitArtifacts } from '../index.js';
import { denormalize, denormalizeMiddlewareCall, denormalizeVirtualModel } from './denormalize.js';
import { NATIVE_TO_NEMO_BACKEND_FORMAT, NEMO_MIDDLEWARE_KEYS, rewriteNemo } from '../dialects.js';
import type { Diagnostic } from '../diagnostics.js';

type Json = Record<string, unknown>;

export interface AdminState {
  version: 1;
  upserts: Record<string, Json>;
  deletes: string[];
  /** ISO timestamps of the last admin change per name. */
  updatedAt: Record<string, string>;
}

const emptyState = (): AdminState => ({ version: 1, upserts: {}, deletes: [], updatedAt: {} });

/** The fields a NeMo PATCH may carry (override_proxy and autoprovisioned are accepted and have no effect). */
const NEMO_PATCH_KEYS = new Set([
  'default_model_entity',
  'models',
  ...NEMO_MIDDLEWARE_KEYS.map(([, key]) => key),
  'override_proxy',
  'autoprovisioned',
]);

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
}

/** The state file for a table: `<stateDir or table dir>/<table file>.admin.json`. */
export function statePath(opts: AdminBackendOptions): string {
  return join(opts.stateDir ?? dirname(opts.tablePath), basename(opts.tablePath) + '.admin.json');
}

export class CompilerAdminBackend implements AdminBackend {
  readonly #file: string;
  #state: AdminState = emptyState();
  /** The table file's bytes the overlay applies to (set by overlay()). */
  #base: Uint8Array | null = null;
  /** Admin changes are serialized: one recompilation at a time. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(readonly opts: AdminBackendOptions) {
    this.#file = statePath(opts);
  }

  async init(): Promise<this> {
    try {
      const parsed = JSON.parse(await readFile(this.#file, 'utf8')) as AdminState;
      if (parsed.version !== 1 || !isObject(parsed.upserts) || !Array.isArray(parsed.deletes))
        throw new Error('unrecognized admin state format');
      this.#state = { ...emptyState(), ...parsed };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
        throw new Error(`cannot read admin state ${this.#file}: ${(err as Error).message}`);
    }
    return this;
  }

  get state(): AdminState {
    return this.#state;
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn, fn);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /** Base + overlay → table bytes, or the compiler's diagnostics. */
  async #compile(base: Uint8Array, state: AdminState): Promise<{ bytes: Uint8Array } | { diagnostics: Diagnostic[] }> {
    const native = denormalize(RoutingTable.decode(base).toNormalized());
    const vms = native.virtual_models as Json;
    for (const name of state.deletes) delete vms[name];
    for (const [name, body] of Object.entries(state.upserts)) vms[name] = body;
    // JSON is YAML: the front end reads this text with positions like any config file. It is
    // named after the state file, where the admin changes it carries are kept.
    const doc = { path: this.#file, text: JSON.stringify(native, null, 1), kind: 'yaml' as const };
    const front = await compileDocuments([doc]);
    if (front.config === null) return { diagnostics: front.diagnostics.filter((d) => d.severity === 'error') };
    return { bytes: emitArtifacts(front.config, front.sources).table };
  }

  /** AdminBackend.overlay: applied to every table read from disk. */
  async overlay(fileBytes: Uint8Array): Promise<Uint8Array> {
    return this.#serial(async () => {
      RoutingTable.decode(fileBytes); // reject a corrupt file before anything else
      this.#base = fileBytes;
      if (Object.keys(this.#state.upserts).length === 0 && this.#state.deletes.length === 0) return fileBytes;
      const r = await this.#compile(fileBytes, this.#state);
      if ('diagnostics' in r) {
        throw new Error(
          `admin changes in ${this.#file} no longer compile against this table: ${r.diagnostics.map((d) => `${d.code} ${d.message}`).join('; ')}`,
        );
      }
      return r.bytes;
    });
  }

  /** Try a new state; on success persist it and hand back the table. */
  async #apply(
    next: AdminState,
    ctx: AdminContext,
    okStatus: number,
    body: (t: RoutingTable) => unknown,
    invalidStatus: number,
  ): Promise<AdminResult> {
    const base = this.#base ?? ctx.table.bytes;
    const r = await this.#compile(base, next);
    if ('diagnostics' in r) {
      return error(invalidStatus, 'invalid_request_error', r.diagnostics.map((d) => `${d.code}: ${d.message}`).join('; '), {
        diagnostics: r.diagnostics.map((d) => ({ code: d.code, message: d.message, hint: d.hint })),
      });
    }
    await mkdir(dirname(this.#file), { recursive: true });
    const tmp = `${this.#file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(next, null, 2) + '\n');
    await rename(tmp, this.#file);
    this.#state = next;
    const table = RoutingTable.decode(r.bytes);
    return { status: okStatus, body: body(table), tableBytes: r.bytes };
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

  #goModelView(table: RoutingTable, name: string): unknown {
    const view = virtualModelViews(table).find((v) => v.source === name) ?? { source: name };
    const at = this.#state.updatedAt[name];
    return at ? { ...view, updated_at: at } : view;
  }

  upsertVirtualModel(body: unknown, ctx: AdminContext): Promise<AdminResult> {
    return this.#serial(async () => {
      if (!isObject(body) || typeof body.source !== 'string' || body.source === '') {
        return error(400, 'invalid_request_error', 'body must be a GoModel upsert object with a non-empty string "source"', {
          param: 'source',
        });
      }
      const name = body.source;
      return this.#apply(this.#withUpsert(name, body), ctx, 200, (t) => this.#goModelView(t, name), 400);
    });
  }

  deleteVirtualModel(name: string, ctx: AdminContext): Promise<AdminResult> {
    return this.#serial(async () => {
      if (this.#configured(ctx.table, name) === null) {
        return error(404, 'not_found_error', `virtual model ${JSON.stringify(name)} not found`);
      }
      const next = this.#clone();
      delete next.upserts[name];
      const inBase =
        this.#base !== null &&
        RoutingTable.decode(this.#base)
          .toNormalized()
          .virtualModels.some((v) => v.name === name);
      if (inBase && !next.deletes.includes(name)) next.deletes.push(name);
      next.deletes.sort();
      delete next.updatedAt[name];
      return this.#apply(next, ctx, 200, () => ({ source: name, deleted: true }), 409);
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

  async getNemoVirtualModel(workspace: string, name: string, ctx: AdminContext): Promise<AdminResult> {
    const vm = this.#configured(ctx.table, `${workspace}/${name}`);
    if (vm === null) return error(404, 'not_found_error', `VirtualModel ${workspace}/${name} not found`);
    return { status: 200, body: this.#nemoView(workspace, name, vm), headers: { etag: etagOf(vm) } };
  }

  patchNemoVirtualModel(workspace: string, name: string, patch: unknown, ifMatch: string | null, ctx: AdminContext): Promise<AdminResult> {
    return this.#serial(async () => {
      const full = `${workspace}/${name}`;
      const current = this.#configured(ctx.table, full);
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
        for (const k of ['target', 'targets', 'strategy', 'retry', 'fallback_on', 'sticky']) delete native[k];
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
      return this.#apply(
        this.#withUpsert(full, native),
        ctx,
        200,
        (t) => this.#nemoView(workspace, name, this.#configured(t, full)!),
        422,
      ).then((r) =>
        r.status === 200 ? { ...r, headers: { etag: etagOf(this.#configured(RoutingTable.decode(r.tableBytes!), full)!) } } : r,
      );
    });
  }
}

/** Factory for `runServe({ admin })`. */
export async function createAdminBackend(opts: AdminBackendOptions): Promise<CompilerAdminBackend> {
  return new CompilerAdminBackend(opts).init();
}
