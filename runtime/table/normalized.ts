/**
 * The normalized config: the one shape every phase agrees on.
 *
 *   compiler/normalize.ts  produces it (all dialects rewritten, all defaults filled in),
 *   compiler/lower.ts      encodes it into the binary routing table (./format.ts),
 *   runtime/table/reader   decodes the table back into exactly this shape (round-trip test).
 *
 * It lives under runtime/ because the runtime decodes into it; it holds only types and
 * pure helpers, so the runtime never imports the compiler (STYLE.md).
 *
 * Invariants (established by normalize, relied upon by lower and the runtime):
 * - arrays that have no meaningful order are sorted (providers by name, models by name,
 *   virtual models by name, status codes ascending, header keys ascending, metadata keys
 *   ascending); target order is the configured order (it carries meaning: tie-breaks);
 * - every default of SPEC §2 is filled in (retry 2/100/[429,500,502,503], fallback_on
 *   [401,403,404,429,500,502,503], fallback_candidate true, weight 1 outside `weighted`…);
 * - every target names a catalogued `provider/model` (redirect chains are flattened);
 * - header names are lower-case; status codes are integers 100..599.
 */

import type { ProviderType } from './provider-types.js';
import type { StrategyName } from './strategies/index.js';

export type { ProviderType } from './provider-types.js';
/** A routing strategy's config name; the list is the registry in ./strategies/index.ts. */
export type Strategy = StrategyName;
/** Wire format a target speaks; `null` means "the provider's type decides". (NeMo backend_format) */
export type BackendFormat = 'openai' | 'anthropic' | null;
export type ModelsEndpointMode = 'all' | 'virtual_only';
/** How a virtual model came to be; informational (admin views, explain). */
export type VirtualModelKind = 'redirect' | 'pool' | 'policy';
export type StickySource = 'header' | 'metadata';

export interface NormProvider {
  name: string;
  type: ProviderType;
  /**
   * Base URL without trailing slash, e.g. `https://api.openai.com/v1`; for types with a
   * default (bedrock, gemini, vertex: SPEC §13) the default is filled in.
   */
  baseUrl: string;
  /** Name of the env var holding the key; never the key itself. `null` = no key. */
  apiKeyEnv: string | null;
  /** Catalogued models, sorted, unique. */
  models: string[];
  /** Upstream timeout for a whole attempt in ms (0 = runtime default). */
  timeoutMs: number;
  /**
   * SPEC §13 settings beyond the common ones; absent when the provider has none (an
   * openai/anthropic provider without `auth`, `headers` or `query`). Present on every
   * bedrock and vertex provider (their required keys and filled-in defaults).
   */
  options?: NormProviderOptions;
}

/**
 * Where a provider's key (`api_key_env`) goes, when the config overrides the type's default
 * placement (SPEC §13 `auth`): a header (`authorization` gets `Bearer `), a query parameter, or
 * nowhere.
 */
export type NormAuth = { kind: 'header'; name: string } | { kind: 'query'; name: string } | { kind: 'none' };

/** Names of the environment variables holding AWS credentials (bedrock). */
export interface NormAwsCredentialsEnv {
  accessKeyId: string;
  secretAccessKey: string;
  /** `null` = no session token. */
  sessionToken: string | null;
}

/**
 * A provider's SPEC §13 settings. Sparse: a field is present only when configured, or filled
 * with its default where the type has one (bedrock `credentialsEnv`, vertex
 * `credentialsFileEnv`). The table stores it as canonical JSON (PF_OPTIONS, format.ts).
 * Holds environment variable NAMES and `${ENV}` templates, never a value.
 */
export interface NormProviderOptions {
  auth?: NormAuth;
  /** `[name, template]` sorted by name; names lower-case; values may hold `${ENV}` references. */
  headers?: [string, string][];
  /** `[name, template]` sorted by name; values may hold `${ENV}` references. */
  query?: [string, string][];
  /** azure: `api-version` (absent on Azure's v1 API). */
  apiVersion?: string;
  /** azure: `[model, deployment]` sorted by model; a model not listed is its own deployment. */
  deployments?: [string, string][];
  /** bedrock: AWS region. */
  region?: string;
  /** bedrock: where the AWS credentials are read from. */
  credentialsEnv?: NormAwsCredentialsEnv;
  /** vertex: Google Cloud project id. */
  project?: string;
  /** vertex: location (`us-central1`, …, or `global`). */
  location?: string;
  /** vertex: env var naming the service-account JSON file. */
  credentialsFileEnv?: string;
}

export interface NormRetry {
  /** Total tries on one target, the first included (SPEC §9): 2 means one retry. ≥ 1. */
  attempts: number;
  delayMs: number;
  /** Sorted ascending, unique. */
  onStatus: number[];
}

export interface NormTarget {
  provider: string;
  /** Upstream model name written into `model` (without the provider prefix). */
  model: string;
  /** ≥ 0. Outside `weighted` it only breaks ties among equal priorities. */
  weight: number;
  /** Integer ≥ 0, lower first. Kept as configured under every strategy: it orders the fallback after the primary pool. */
  priority: number;
  retry: NormRetry;
  /** Sorted ascending, unique. */
  fallbackOn: number[];
  fallbackCandidate: boolean;
  /** Canonical JSON text (keys sorted recursively) of override params, or null. */
  overrideParams: string | null;
  /** [name, value] sorted by name; names lower-case. */
  headersSet: [string, string][];
  /** Sorted, lower-case. */
  headersRemove: string[];
  /** [key, value] sorted by key. Empty = no condition. */
  metadataMatch: [string, string][];
  /** SLA: max time to first body byte in ms; 0 = none. */
  maxTtftMs: number;
  /** SLA (TrueFoundry `time_per_output_token_ms`): kept, reported by explain; 0 = none. */
  maxTimePerOutputTokenMs: number;
  backendFormat: BackendFormat;
}

export interface NormStickyKey {
  source: StickySource;
  /** Header name (lower-case) or metadata key. */
  key: string;
}

export interface NormSticky {
  ttlSeconds: number;
  keys: NormStickyKey[];
}

export interface NormMiddlewareCall {
  name: string;
  configType: string;
  /** Canonical JSON text of the inline config, or null. */
  config: string | null;
  configId: string | null;
}

export interface NormMiddleware {
  request: NormMiddlewareCall[];
  response: NormMiddlewareCall[];
  postResponse: NormMiddlewareCall[];
}

export interface NormVirtualModel {
  /** As configured; may contain `/`; may equal a catalogued `provider/model` (shadowing). */
  name: string;
  slug: string | null;
  description: string;
  kind: VirtualModelKind;
  enabled: boolean;
  /** Sorted, unique; empty = everyone. Each starts with `/`, no trailing slash (except `/`). */
  userPaths: string[];
  /** Sorted, unique (chat, completion, embedding, responses, messages…). Empty = any. */
  modelTypes: string[];
  strategy: Strategy;
  sticky: NormSticky | null;
  /** ≥ 1 target, each a catalogued provider model. */
  targets: NormTarget[];
  middleware: NormMiddleware;
}

export interface NormSettings {
  passthrough: boolean;
  modelsEndpoint: ModelsEndpointMode;
}

export interface NormConfig {
  version: 1;
  settings: NormSettings;
  /** Sorted by name. */
  providers: NormProvider[];
  /** Sorted by name. */
  virtualModels: NormVirtualModel[];
}

/** SPEC §2 defaults (TrueFoundry's). */
export const DEFAULT_RETRY: Readonly<NormRetry> = Object.freeze({
  attempts: 2,
  delayMs: 100,
  onStatus: [429, 500, 502, 503],
});
export const DEFAULT_FALLBACK_ON: readonly number[] = Object.freeze([401, 403, 404, 429, 500, 502, 503]);

/** A target with every SPEC §2 default (the one definition; lowering, tests and benches use it). */
export function defaultTarget(provider: string, model: string): NormTarget {
  return {
    provider,
    model,
    weight: 1,
    priority: 0,
    retry: { attempts: DEFAULT_RETRY.attempts, delayMs: DEFAULT_RETRY.delayMs, onStatus: [...DEFAULT_RETRY.onStatus] },
    fallbackOn: [...DEFAULT_FALLBACK_ON],
    fallbackCandidate: true,
    overrideParams: null,
    headersSet: [],
    headersRemove: [],
    metadataMatch: [],
    maxTtftMs: 0,
    maxTimePerOutputTokenMs: 0,
    backendFormat: null,
  };
}

/**
 * A virtual model with every default: enabled, open to every user path, weighted, not sticky,
 * no middleware; `redirect` for one target, else `pool` (the one definition; lowering's implicit
 * passthrough entries, tests and benches use it).
 */
export function defaultVirtualModel(name: string, targets: NormTarget[]): NormVirtualModel {
  return {
    name,
    slug: null,
    description: '',
    kind: targets.length > 1 ? 'pool' : 'redirect',
    enabled: true,
    userPaths: [],
    modelTypes: [],
    strategy: 'weighted',
    sticky: null,
    targets,
    middleware: { request: [], response: [], postResponse: [] },
  };
}
