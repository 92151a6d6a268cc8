/**
 * Built-in middleware (NeMo request / response / post-response pipelines, SPEC §8).
 *
 * The names are listed in runtime/middleware-catalog.ts (the compiler validates configs
 * against it); this module implements them. A virtual model's pipelines are compiled once
 * per table generation into a {@link CompiledMiddleware}: parsed configs, header edits
 * flattened in pipeline order, and a flag saying whether the body must be parsed at all —
 * virtual models without body middleware keep the zero-parse splice path.
 *
 *   request       set-params            config: object merged over the body (deep merge of
 *                                       plain objects; arrays and scalars are replaced)
 *                 strip-params          config: { keys: string[] } top-level keys removed
 *                 set-headers           config: { set?: {name: value}, remove?: string[] },
 *                                       or the flat form {name: value, …} (sets only)
 *   response      set-response-headers  config: same two forms as set-headers
 *   post_response log                   config: { level?: "info" | "warn", message?: string,
 *                                       fields?: {name: value} } — one structured line per
 *                                       finished request
 *
 * `config_id` references (NeMo config entities) have no store in vmc: such a call runs with
 * an empty config and a warning is logged once per table.
 */
import type { NormMiddleware, NormMiddlewareCall } from './table/normalized.js';
import { BUILTIN_MIDDLEWARE } from './table/middleware-catalog.js';
import type { Logger } from './log.js';
import { isObject } from './table/util.js';

/** Names this module implements, by phase (a test checks them against the catalog). */
export const IMPLEMENTED_MIDDLEWARE = {
  request: ['set-params', 'strip-params', 'set-headers'],
  response: ['set-response-headers'],
  post_response: ['log'],
} as const satisfies { [K in keyof typeof BUILTIN_MIDDLEWARE]: readonly string[] };

/** One body operation of the request pipeline, in pipeline order. */
export type BodyOp = { op: 'set'; value: Record<string, unknown> } | { op: 'strip'; keys: string[] };

/** Post-response `log` call. */
export interface LogCall {
  level: 'info' | 'warn';
  message: string;
  fields: Record<string, string>;
}

/** A virtual model's pipelines, ready for the hot path. */
export interface CompiledMiddleware {
  /** Body operations; empty = the body is not parsed for middleware. */
  bodyOps: BodyOp[];
  /** Request headers set (lower-case names), after all `set-headers` calls in order. */
  requestHeadersSet: [string, string][];
  /** Request headers removed (lower-case). */
  requestHeadersRemove: string[];
  /** Response headers set, flat `[name, value, …]`. */
  responseHeadersSet: string[];
  /** Response headers removed (lower-case). */
  responseHeadersRemove: string[];
  logCalls: LogCall[];
  /** Nothing to do at all (the common case). */
  empty: boolean;
}

export const NO_MIDDLEWARE: CompiledMiddleware = Object.freeze({
  bodyOps: [],
  requestHeadersSet: [],
  requestHeadersRemove: [],
  responseHeadersSet: [],
  responseHeadersRemove: [],
  logCalls: [],
  empty: true,
}) as CompiledMiddleware;

function parseConfig(call: NormMiddlewareCall, vmName: string, log: Logger): Record<string, unknown> {
  if (call.config === null) {
    if (call.configId !== null) {
      log.warn('middleware config_id is not supported by vmc; running with an empty config', {
        virtual_model: vmName,
        middleware: call.name,
        config_id: call.configId,
      });
    }
    return {};
  }
  try {
    const v = JSON.parse(call.config);
    return isObject(v) ? v : {};
  } catch {
    log.warn('middleware config is not valid JSON; ignored', { virtual_model: vmName, middleware: call.name });
    return {};
  }
}

function headerMap(v: unknown): [string, string][] {
  if (!isObject(v)) return [];
  const out: [string, string][] = [];
  for (const [k, val] of Object.entries(v)) out.push([k.toLowerCase(), String(val)]);
  return out;
}

function stringList(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** A header-edit config in either form: `{set, remove}` or flat `{name: value}`. */
function headerEdit(cfg: Record<string, unknown>): { set: [string, string][]; remove: string[] } {
  const structured = (cfg.set !== undefined && typeof cfg.set === 'object') || Array.isArray(cfg.remove);
  return structured ? { set: headerMap(cfg.set), remove: stringList(cfg.remove) } : { set: headerMap(cfg), remove: [] };
}

/** Applies one header edit (set or remove) to an accumulated edit list, keeping order semantics. */
function editHeaders(set: [string, string][], remove: string[], addSet: [string, string][], addRemove: string[]): void {
  for (const name of addRemove) {
    const n = name.toLowerCase();
    for (let i = set.length - 1; i >= 0; i--) if (set[i][0] === n) set.splice(i, 1);
    if (!remove.includes(n)) remove.push(n);
  }
  for (const [n, v] of addSet) {
    for (let i = set.length - 1; i >= 0; i--) if (set[i][0] === n) set.splice(i, 1);
    set.push([n, v]);
    const r = remove.indexOf(n);
    if (r >= 0) remove.splice(r, 1);
  }
}

/** Compiles a virtual model's pipelines (cold: once per vm per table generation). */
export function compileMiddleware(mw: NormMiddleware, vmName: string, log: Logger): CompiledMiddleware {
  if (mw.request.length === 0 && mw.response.length === 0 && mw.postResponse.length === 0) return NO_MIDDLEWARE;
  const bodyOps: BodyOp[] = [];
  const reqSet: [string, string][] = [];
  const reqRemove: string[] = [];
  const resSet: [string, string][] = [];
  const resRemove: string[] = [];
  const logCalls: LogCall[] = [];
  const unknown = (phase: string, call: NormMiddlewareCall) =>
    log.warn('unknown middleware ignored', { virtual_model: vmName, phase, middleware: call.name });

  for (const call of mw.request) {
    const cfg = parseConfig(call, vmName, log);
    switch (call.name) {
      case 'set-params':
        bodyOps.push({ op: 'set', value: cfg });
        break;
      case 'strip-params':
        bodyOps.push({ op: 'strip', keys: stringList(cfg.keys) });
        break;
      case 'set-headers': {
        const e = headerEdit(cfg);
        editHeaders(reqSet, reqRemove, e.set, e.remove);
        break;
      }
      default:
        unknown('request', call);
    }
  }
  for (const call of mw.response) {
    const cfg = parseConfig(call, vmName, log);
    if (call.name === 'set-response-headers') {
      const e = headerEdit(cfg);
      editHeaders(resSet, resRemove, e.set, e.remove);
    } else unknown('response', call);
  }
  for (const call of mw.postResponse) {
    const cfg = parseConfig(call, vmName, log);
    if (call.name === 'log') {
      logCalls.push({
        level: cfg.level === 'warn' ? 'warn' : 'info',
        message: typeof cfg.message === 'string' ? cfg.message : 'virtual model response',
        fields: Object.fromEntries(headerMap(cfg.fields).map(([k, v]) => [k, v])),
      });
    } else unknown('post_response', call);
  }
  const responseHeadersSet: string[] = [];
  for (const [n, v] of resSet) responseHeadersSet.push(n, v);
  return {
    bodyOps,
    requestHeadersSet: reqSet,
    requestHeadersRemove: reqRemove,
    responseHeadersSet,
    responseHeadersRemove: resRemove,
    logCalls,
    empty: false,
  };
}

/** Runs the request pipeline's body operations on a parsed body (mutates it). */
export function applyBodyOps(body: Record<string, unknown>, ops: readonly BodyOp[]): void {
  for (const op of ops) {
    if (op.op === 'set') mergeInto(body, op.value);
    else for (const k of op.keys) delete body[k];
  }
}

/**
 * Merges `over` into `base` (mutating `base`): plain objects merge recursively, everything
 * else (arrays, scalars, null) replaces. Used by `set-params` and `override_params`
 * ("overrides win", SPEC §3.6).
 */
export function mergeInto(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(over)) {
    if (k === '__proto__') continue;
    const v = over[k];
    const cur = base[k];
    if (isObject(v) && isObject(cur)) mergeInto(cur, v);
    else base[k] = isObject(v) || Array.isArray(v) ? structuredClone(v) : v;
  }
  return base;
}

/** Fields passed to the post-response `log` middleware. */
export interface PostResponseInfo {
  virtual_model: string;
  target: string | null;
  status: number;
  attempts: number;
  ms: number;
  stream: boolean;
  path: string;
}

/** Runs the post-response pipeline (after the response finished). */
export function runPostResponse(mw: CompiledMiddleware, info: PostResponseInfo, log: Logger): void {
  for (const call of mw.logCalls) {
    const fields: Record<string, unknown> = { middleware: 'log', ...call.fields, ...info };
    if (call.level === 'warn') log.warn(call.message, fields);
    else log.info(call.message, fields);
  }
}
