/**
 * One target's upstream routes and body preparation, composed from its provider type's
 * module, its provider's settings and credentials (./credentials.ts) and the translation
 * layer (../wire/translate.ts): what runtime/target.ts stores per target and what the engine
 * does to a body on the slow path. Pure and synchronous; nothing here runs per request except
 * {@link upstreamBody}, on the cold path that already parses the body.
 */
import type { BackendFormat, NormProviderOptions, ProviderType } from '../table/normalized.js';
import { ENDPOINT_COUNT } from '../table/endpoints.js';
import { XLATE_NONE, applyOverrides, translateRequest, upstreamBodyHasModel } from '../wire/translate.js';
import { wireModule } from './index.js';
import { withQuery, type WireFormat } from './provider.js';

/** A base URL split into the pool origin, the path prefix (no trailing slash) and its query (with `?`, or ''). */
export function splitBase(baseUrl: string): { origin: string; prefix: string; query: string } {
  const u = new URL(baseUrl);
  let prefix = u.pathname;
  while (prefix.endsWith('/')) prefix = prefix.slice(0, -1);
  return { origin: u.origin, prefix, query: u.search };
}

/** Everything about a target's upstream that does not change per request. */
export interface TargetRoutes {
  /** Pool origin (`https://host[:port]`). */
  readonly origin: string;
  /** Wire format spoken upstream. */
  readonly wire: WireFormat;
  /** Upstream path by client endpoint; null = not served. */
  readonly paths: (string | null)[];
  /** Upstream path for a streaming request (`stream: true`) by client endpoint. */
  readonly streamPaths: (string | null)[];
  /** XLATE_* mode by client endpoint. */
  readonly xlate: number[];
  /** Model written into upstream bodies that carry one (Azure v1: the deployment). */
  readonly bodyModel: string;
  /** `[name, value]` sent when no other source set the name. */
  readonly defaultHeaders: readonly (readonly [string, string])[];
}

/**
 * The routes of a target: `type` and `backendFormat` pick the module, `baseUrl` and the
 * provider's `extraQuery` (ProviderSetup.query: `query` settings and a query-placed key) give
 * the path prefix and query, `options` the per-type settings (deployments, api_version, project…).
 */
export function targetRoutes(
  type: ProviderType,
  backendFormat: BackendFormat,
  baseUrl: string,
  model: string,
  options: NormProviderOptions | null | undefined,
  extraQuery: string,
): TargetRoutes {
  const speaks = wireModule(type, backendFormat);
  const { origin, prefix, query } = splitBase(baseUrl);
  const target = { prefix, query: withQuery(query, extraQuery), model, options };
  const paths: (string | null)[] = [];
  const streamPaths: (string | null)[] = [];
  const xlate: number[] = [];
  let bodyModel = model;
  for (let ep = 0; ep < ENDPOINT_COUNT; ep++) {
    const r = speaks.route(ep, target);
    paths.push(r === null ? null : r.path);
    streamPaths.push(r === null ? null : (r.streamPath ?? r.path));
    xlate.push(r === null ? XLATE_NONE : r.xlate);
    if (r?.model !== undefined) bodyModel = r.model;
  }
  return { origin, wire: speaks.wire, paths, streamPaths, xlate, bodyModel, defaultHeaders: speaks.defaultHeaders };
}

/**
 * The upstream body from the client's parsed body (the engine's slow path): translated when
 * `xlate` says so (throws TranslationError for content the target's format cannot carry),
 * `overrides` merged over it (SPEC §3.6; OpenAI-named parameters reach Bedrock's and Gemini's
 * places), and `model` written where the format has one. `clientBody` is not modified when
 * translating; on XLATE_NONE it is edited in place (the engine parses a fresh copy per target).
 */
export function upstreamBody(
  xlate: number,
  clientBody: Record<string, unknown>,
  model: string,
  overrides: Record<string, unknown> | null,
): Record<string, unknown> {
  const body = xlate === XLATE_NONE ? clientBody : translateRequest(xlate, clientBody);
  if (overrides !== null) applyOverrides(xlate, body, structuredClone(overrides));
  if (xlate === XLATE_NONE || upstreamBodyHasModel(xlate)) body.model = model;
  return body;
}
