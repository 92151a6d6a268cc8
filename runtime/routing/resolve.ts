/**
 * Resolution (SPEC §3.2–3.5): from a looked-up virtual model and a request's headers to a
 * try order, or to the reason the gateway refuses. The one definition, used by
 *
 *   the engine        (runtime/engine.ts `serve`: before going upstream),
 *   `vmc explain`     (compiler/tools/explain.ts: what the gateway would do),
 *   `GET /v1/models`  (runtime/server.ts `listModels`: the visibility steps only).
 *
 * Steps, in order; the first that fails decides the answer:
 *
 *   lookup       vm < 0                                    → RESOLVE_NOT_FOUND       404
 *   key models   a caller key's `models` exclude the entry  → RESOLVE_KEY_MODEL       403
 *   enabled      the entry is disabled                      → RESOLVE_DISABLED        404
 *   user path    `x-vmc-user-path` not under `user_paths`   → RESOLVE_FORBIDDEN       403
 *   model_types  the endpoint is not among the model types  → RESOLVE_WRONG_ENDPOINT  400
 *   metadata     `x-vmc-metadata` not a JSON object of strings → RESOLVE_BAD_METADATA 400
 *   sticky key   the session key (all sticky keys present), else not sticky
 *   plan         Router.plan / planWith; no eligible target → RESOLVE_NO_ELIGIBLE_TARGET 400
 *
 * The user path is checked before `model_types`, so a caller who may not use a model learns
 * nothing about it (not even its model types); a caller key's model list is checked first of
 * all (not even whether the model is disabled).
 *
 * The caller: without caller keys, the user path is the `x-vmc-user-path` header (default
 * `/`); with keys (SPEC §12) the engine passes a {@link CallerPolicy} — the authenticated
 * key's user path (narrowed by the header) and its model allow-list.
 *
 * On the engine's path this allocates nothing beyond what the request asks for (parsing an
 * `x-vmc-metadata` header, building a composite sticky key): the caller passes one reusable
 * {@link Resolution}.
 */
import { endpointMaskOf, ENDPOINT_PATHS } from '../table/endpoints.js';
import type { NormStickyKey } from '../table/normalized.js';
import type { RoutingTable } from '../table/reader.js';
import { normalizeUserPath } from '../table/user-path.js';
import { RouteInput, type Router } from './router.js';

export const RESOLVE_OK = 0;
export const RESOLVE_NOT_FOUND = 1;
export const RESOLVE_DISABLED = 2;
export const RESOLVE_FORBIDDEN = 3;
export const RESOLVE_WRONG_ENDPOINT = 4;
export const RESOLVE_BAD_METADATA = 5;
export const RESOLVE_NO_ELIGIBLE_TARGET = 6;
export const RESOLVE_KEY_MODEL = 7;

/** HTTP status the gateway answers for each RESOLVE_* code (200: it goes upstream). */
export const RESOLVE_HTTP_STATUS: readonly number[] = [200, 404, 404, 403, 400, 400, 400, 403];

/** Draw argument of {@link resolveRequest}: let the router draw (the gateway). */
export const ROUTER_DRAW = -1;

/** The request facts resolution reads: header values by lower-case name (HttpRequest has this shape). */
export interface RequestHeaders {
  header(name: string): string | null;
}

/** What resolution needs of a virtual model beyond the table, cached per vm by the runtime (VmRuntime). */
export interface VmFacts {
  /** Bit ep set when endpoint ep is allowed by `model_types` (all bits when the list is empty). */
  readonly endpointMask: number;
  /** Sticky session keys; empty = not sticky. */
  readonly stickyKeys: readonly NormStickyKey[];
}

/**
 * An authenticated caller (runtime/keys: a caller key, SPEC §12): its user path replaces the
 * `x-vmc-user-path` header, and its model allow-list is checked. Must not allocate.
 */
export interface CallerPolicy {
  readonly userPath: string;
  /** May this caller use virtual model `vm` of `table`? */
  admitsModel(table: RoutingTable, vm: number): boolean;
}

/** VmFacts read from the table (cold: explain, tests). */
export function vmFactsOf(table: RoutingTable, vm: number): VmFacts {
  return {
    endpointMask: endpointMaskOf(table.vmModelTypes(vm)),
    stickyKeys: table.vmIsSticky(vm) ? table.vmStickyKeys(vm) : [],
  };
}

/** The outcome of one resolution. One fixed-shape object, reused across requests. */
export class Resolution {
  /** RESOLVE_* code. */
  status = RESOLVE_OK;
  /** The caller's user path (normalized `x-vmc-user-path`, or the caller key's). */
  userPath = '/';
  /** Metadata and sticky key as the router saw them. */
  readonly input = new RouteInput();
  /** Global target ids in try order: plan[0, count). Grown when a table needs more. */
  plan = new Int32Array(16);
  count = 0;
}

/**
 * Visibility of a virtual model to a caller (SPEC §3.2–3.3, §12): RESOLVE_OK, RESOLVE_KEY_MODEL,
 * RESOLVE_DISABLED or RESOLVE_FORBIDDEN. `GET /v1/models` lists exactly the entries this
 * admits. Allocation-free.
 */
export function visibility(table: RoutingTable, vm: number, userPath: string, caller: CallerPolicy | null = null): number {
  if (caller !== null && !caller.admitsModel(table, vm)) return RESOLVE_KEY_MODEL;
  if (!table.vmEnabled(vm)) return RESOLVE_DISABLED;
  if (!table.vmAllowsUserPath(vm, userPath)) return RESOLVE_FORBIDDEN;
  return RESOLVE_OK;
}

/**
 * HOT PATH: resolution of one request — change with care (no per-request objects; see the
 * module comment). `vm` is the lookup result (−1 = not found), `endpoint` an EP_* id, `draw`
 * the random draw in [0, 1) or {@link ROUTER_DRAW}, `caller` the authenticated caller (null:
 * the user path is the `x-vmc-user-path` header). Fills `out` and returns its status.
 */
export function resolveRequest(
  table: RoutingTable,
  router: Router,
  vm: number,
  facts: VmFacts,
  endpoint: number,
  req: RequestHeaders,
  nowMs: number,
  draw: number,
  out: Resolution,
  caller: CallerPolicy | null = null,
): number {
  out.count = 0;
  out.userPath = caller === null ? normalizeUserPath(req.header('x-vmc-user-path')) : caller.userPath;
  const input = out.input;
  input.reset();
  if (vm < 0) return (out.status = RESOLVE_NOT_FOUND);
  const visible = visibility(table, vm, out.userPath, caller);
  if (visible !== RESOLVE_OK) return (out.status = visible);
  if ((facts.endpointMask & (1 << endpoint)) === 0) return (out.status = RESOLVE_WRONG_ENDPOINT);
  const metaHeader = req.header('x-vmc-metadata');
  if (metaHeader !== null) {
    const meta = parseMetadata(metaHeader);
    if (meta === null) return (out.status = RESOLVE_BAD_METADATA);
    input.metadata = meta;
  }
  if (facts.stickyKeys.length > 0) input.stickyKey = stickyKeyOf(facts.stickyKeys, req, input.metadata);
  const need = table.vmTargetCount(vm);
  if (out.plan.length < need) out.plan = new Int32Array(need);
  out.count = draw < 0 ? router.plan(vm, input, nowMs, out.plan) : router.planWith(vm, input, nowMs, draw, out.plan);
  return (out.status = out.count === 0 ? RESOLVE_NO_ELIGIBLE_TARGET : RESOLVE_OK);
}

/**
 * The gateway's message for a refused resolution (the error body's `message`; explain prints
 * it too). Cold.
 */
export function resolutionMessage(table: RoutingTable, vm: number, endpoint: number, r: Resolution, model: string): string {
  const name = vm >= 0 ? table.vmName(vm) : model;
  switch (r.status) {
    case RESOLVE_NOT_FOUND:
      return `model '${model}' does not exist`;
    case RESOLVE_DISABLED:
      return `model '${name}' is disabled`;
    case RESOLVE_FORBIDDEN:
      return `user path '${r.userPath}' may not use model '${name}'`;
    case RESOLVE_WRONG_ENDPOINT:
      return `model '${name}' does not support ${ENDPOINT_PATHS[endpoint]} (model_types: ${table.vmModelTypes(vm).join(', ')})`;
    case RESOLVE_BAD_METADATA:
      return 'header x-vmc-metadata must be a JSON object of strings';
    case RESOLVE_NO_ELIGIBLE_TARGET:
      return `no target of model '${name}' matches the request metadata`;
    case RESOLVE_KEY_MODEL:
      return `model '${model}' is not among the models this API key may use`;
    default:
      return 'ok';
  }
}

/** Parses `x-vmc-metadata`: a JSON object whose values are all strings, else null. Cold. */
export function parseMetadata(text: string): Record<string, string> | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  for (const k in v as Record<string, unknown>) if (typeof (v as Record<string, unknown>)[k] !== 'string') return null;
  return v as Record<string, string>;
}

/**
 * The session key of a sticky virtual model for one request: the values of ALL its sticky
 * keys (headers by lower-case name, or metadata keys) joined by '\u0000', so several keys
 * form one composite session id (e.g. user + conversation); null when any is absent or
 * empty (the request is then routed as if not sticky).
 */
export function stickyKeyOf(keys: readonly NormStickyKey[], req: RequestHeaders, metadata: Record<string, string> | null): string | null {
  let out = '';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const v =
      k.source === 'header'
        ? req.header(k.key)
        : metadata !== null && Object.prototype.hasOwnProperty.call(metadata, k.key)
          ? metadata[k.key]
          : null;
    if (v === null || v === undefined || v === '') return null;
    out = i === 0 ? v : out + '\u0000' + v;
  }
  return keys.length === 0 ? null : out;
}
