/**
 * The contract of a provider-type module (runtime/providers/<type>.ts): everything the gateway
 * must know to call a provider of one `type` (SPEC §2 `providers`, §3.6, §13), in one place.
 *
 *   wire            the body format the provider reads and writes (OpenAI Chat, Anthropic
 *                   Messages, Bedrock Converse, Gemini generateContent): the client's format is
 *                   translated to it (wire/translate.ts)
 *   route(ep, t)    the upstream path for client endpoint `ep` (and, where streaming has its
 *                   own URL, the stream path), the translation mode and the model written into
 *                   the body; or null: "this type does not serve that endpoint" (the engine
 *                   skips the target; 400 when no target of the model can serve it)
 *   auth            where the key from `api_key_env` goes by default, or how the request is
 *                   signed (SigV4, OAuth); a provider's `auth` setting overrides a key
 *                   placement (./credentials.ts `authPlacement`)
 *   defaultHeaders  headers sent unless the client, middleware or the target set them
 *
 * Modules are plain data plus pure functions, read once per target and table generation
 * (runtime/target.ts derives `paths`, `xlate`, `credentials` from them); nothing here runs per
 * request. The registry is runtime/providers/index.ts.
 *
 * Per-provider settings (`api_version`, `deployments`, `region`, `project`, `location`,
 * `headers`, `query`: SPEC §13) reach the URL rule in {@link UpstreamTarget.options}.
 * Credentials computed per request (Bedrock: SigV4 over the final method, URL, headers and
 * body; Vertex: an OAuth token from a service account, cached and refreshed before expiry) are
 * placements of kind `sigv4` / `oauth`; ./credentials.ts turns a provider's placement into
 * static credential headers/query parameters or a {@link RequestSigner}.
 */
import type { BackendFormat, NormProviderOptions, ProviderType } from '../table/normalized.js';
import type { UpstreamFormat } from '../wire/translate.js';

/**
 * A wire format: the shape of request and response bodies on the upstream hop. `openai` and
 * `anthropic` are also NeMo `backend_format` names (a target-level override of the format).
 */
export type WireFormat = UpstreamFormat;

/** The wire formats a target's `backend_format` can name. */
export type BackendWireFormat = Exclude<BackendFormat, null>;

/** What a URL rule sees of a target. */
export interface UpstreamTarget {
  /** Path of the provider's `base_url`, trailing slashes removed ('' for none), e.g. `/v1`. */
  readonly prefix: string;
  /**
   * Query string kept after the path, with its `?` ('' for none): the query of `base_url`,
   * then the provider's `query` settings (resolved) and a key placed in the query. A rule
   * that adds parameters of its own (Azure's `api-version`, Gemini's `alt=sse`) puts them first.
   */
  readonly query: string;
  /** The target's upstream model name. */
  readonly model: string;
  /** The provider's SPEC §13 settings (absent: none, or a caller that only asks "served?"). */
  readonly options?: NormProviderOptions | null;
}

/** Where a request for one client endpoint goes, and how its bodies are translated. */
export interface UpstreamRoute {
  /** Path relative to the provider's origin, query included. */
  readonly path: string;
  /**
   * Path for a streaming request (client body `stream: true`) when the provider streams on
   * another URL (Bedrock `/converse-stream`, Gemini `:streamGenerateContent?alt=sse`); absent
   * = {@link path}.
   */
  readonly streamPath?: string;
  /** XLATE_* mode of wire/translate.ts: XLATE_NONE when the client's format is the wire format. */
  readonly xlate: number;
  /**
   * Model name written into the upstream body when it is not the target's model (Azure's v1
   * API takes the deployment name there); absent = the target's model. Formats whose body
   * has no model (Bedrock, Gemini: the model is in the path) ignore it.
   */
  readonly model?: string;
}

/**
 * How a provider's requests are authenticated.
 * - `header`: the key from `api_key_env` in one header, as `valuePrefix` + key
 *   (`authorization: Bearer KEY`, `x-api-key: KEY`, `api-key: KEY`, `x-goog-api-key: KEY`);
 * - `query`: the key in one query parameter (`?key=KEY`);
 * - `none`: no credential;
 * - `sigv4`: AWS Signature V4 over each request, for `service`, with the provider's AWS
 *   credentials (./aws-sigv4.ts);
 * - `oauth`: `authorization: Bearer TOKEN`, the token obtained from a service account for
 *   `scope` (./google-oauth.ts).
 */
export type AuthPlacement =
  | { readonly kind: 'header'; readonly name: string; readonly valuePrefix: string }
  | { readonly kind: 'query'; readonly name: string }
  | { readonly kind: 'none' }
  | { readonly kind: 'sigv4'; readonly service: string }
  | { readonly kind: 'oauth'; readonly scope: string };

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

/**
 * Static credential headers `[name, value, …]` for `key` under a placement: one header for
 * `header` placements, none for the others (a `query` key goes into the URL, per-request
 * kinds are added by a RequestSigner).
 */
export function credentialHeaders(auth: AuthPlacement, key: string): string[] {
  return auth.kind === 'header' ? [auth.name, auth.valuePrefix + key] : [];
}

/** Header names a placement writes (what a client's copy must not override). */
export function credentialHeaderNames(auth: AuthPlacement): string[] {
  switch (auth.kind) {
    case 'header':
      return [auth.name];
    case 'sigv4':
      return ['authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'];
    case 'oauth':
      return ['authorization'];
    default:
      return [];
  }
}

/**
 * `path` with further query strings appended: each of `queries` is '' or starts with `?`;
 * joined with `&` after the path's own query. `withQuery('/a?x=1', '?y=2')` → `/a?x=1&y=2`.
 */
export function withQuery(path: string, ...queries: string[]): string {
  let out = path;
  for (const q of queries) {
    if (q === '' || q === '?') continue;
    out += (out.includes('?') ? '&' : '?') + q.slice(1);
  }
  return out;
}

/**
 * A path segment as the AWS SDK for JavaScript encodes labels (`extendedEncodeURIComponent`):
 * `encodeURIComponent` plus `!'()*`. Bedrock model ids (`anthropic.claude-…-v1:0`, ARNs) keep
 * their `:` and `/` only encoded.
 */
export function awsPathSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/**
 * A model resource path as Google's SDKs write it into URLs: not encoded except characters
 * that cannot appear in a path (`?`, `#`, `%`, spaces, …); `/`, `:` and `@` stay as they are.
 */
export function googlePath(s: string): string {
  return encodeURIComponent(s).replace(/%2F/gi, '/').replace(/%3A/gi, ':').replace(/%40/gi, '@');
}
