/**
 * The contract of a provider-type module (runtime/providers/<type>.ts): everything the gateway
 * must know to call a provider of one `type` (SPEC §2 `providers`, §3.6, §13), in one place.
 *
 *   wire            the body format the provider reads and writes (OpenAI Chat, Anthropic
 *                   Messages, …): the client's format is translated to it (wire/translate.ts)
 *   route(ep, t)    the upstream path for client endpoint `ep` and the translation mode, or
 *                   null: "this type does not serve that endpoint" (the engine skips the
 *                   target; 400 when no target of the model can serve it)
 *   auth            where the key from `api_key_env` goes
 *   defaultHeaders  headers sent unless the client, middleware or the target set them
 *
 * Modules are plain data plus pure functions, read once per target and table generation
 * (runtime/target.ts derives `paths`, `xlate`, `credentials` from them); nothing here runs per
 * request. The registry is runtime/providers/index.ts.
 *
 * Room for SPEC §13 (azure, bedrock, gemini, vertex):
 * - URL rules that depend on the model (Azure deployments, Bedrock model ids, Gemini models
 *   go into the path) get it in {@link UpstreamTarget}; per-provider options (`api_version`,
 *   `region`, `project`, `location`, `deployments`) become further fields of it once the table
 *   carries them;
 * - credentials that are computed per request (Bedrock: SigV4 over the final method, path,
 *   headers and body; Vertex: an OAuth token fetched with a service account and refreshed
 *   before expiry) become further kinds of {@link AuthPlacement}, beside the static header
 *   placement used today; SPEC §13's `auth: {header} | {query} | {none}` override replaces a
 *   type's default placement per provider.
 */
import type { BackendFormat, ProviderType } from '../table/normalized.js';

/**
 * A wire format: the shape of request and response bodies on the upstream hop. The names are
 * NeMo `backend_format`'s (normalized), which is a target-level override of the format.
 */
export type WireFormat = Exclude<BackendFormat, null>;

/** What a URL rule sees of a target. */
export interface UpstreamTarget {
  /** Path of the provider's `base_url`, trailing slashes removed ('' for none), e.g. `/v1`. */
  readonly prefix: string;
  /** Query string of `base_url` with its `?` ('' for none): kept after the path (Azure's `?api-version=`). */
  readonly query: string;
  /** The target's upstream model name. */
  readonly model: string;
}

/** Where a request for one client endpoint goes, and how its bodies are translated. */
export interface UpstreamRoute {
  /** Path relative to the provider's origin, query included. */
  readonly path: string;
  /** XLATE_* mode of wire/translate.ts: XLATE_NONE when the client's format is the wire format. */
  readonly xlate: number;
}

/**
 * Where the provider's key goes. `header`: one header whose value is `valuePrefix` + key
 * (`authorization: Bearer KEY`, `x-api-key: KEY`). Per-request kinds join this union when
 * SPEC §13's bedrock and vertex types land (see the module comment).
 */
export type AuthPlacement = { readonly kind: 'header'; readonly name: string; readonly valuePrefix: string };

/** One provider type. */
export interface ProviderModule {
  /** The type name as configs and tables spell it (runtime/table/provider-types.ts). */
  readonly type: ProviderType;
  /** The wire format this type speaks. */
  readonly wire: WireFormat;
  /** Upstream route for client endpoint `ep` (EP_* of runtime/table/endpoints.ts), or null when not served. */
  route(ep: number, target: UpstreamTarget): UpstreamRoute | null;
  /** Default credential placement (SPEC §3.6, §13). */
  readonly auth: AuthPlacement;
  /** `[name, value]` pairs, names lower-case: sent when no other source set the name. */
  readonly defaultHeaders: readonly (readonly [string, string])[];
}

/** Credential headers `[name, value, …]` for `key` under a placement. */
export function credentialHeaders(auth: AuthPlacement, key: string): string[] {
  return [auth.name, auth.valuePrefix + key];
}
