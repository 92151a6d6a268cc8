/* auto-generated — do not edit; run npm run gen:types
 * Source: schemas/vmc.schema.json (json-schema-to-typescript). */

/**
 * What the provider is (SPEC §13): where requests go, how they are authenticated and which wire format they speak. `openai` covers every OpenAI-compatible service.
 *
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "ProviderType".
 */
export type ProviderType = 'openai' | 'anthropic' | 'azure' | 'bedrock' | 'gemini' | 'vertex';
/**
 * A text in which `${ENV_NAME}` is replaced by that environment variable's value when the gateway starts; any other `$` is literal.
 *
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "EnvTemplate".
 */
export type EnvTemplate = string;
/**
 * A virtual model body in native form or in one of the accepted seed dialects (TrueFoundry, GoModel, NeMo).
 *
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "VirtualModelConfig".
 */
export type VirtualModelConfig =
  NativeVirtualModel | TrueFoundryVirtualModel | GoModelVirtualModel | NemoVirtualModel;
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "ModelType".
 */
export type ModelType = 'chat' | 'completion' | 'embedding' | 'responses' | 'messages';
/**
 * A user path such as `/team/a`; it admits itself and everything under it at a segment boundary.
 *
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "UserPath".
 */
export type UserPath = string;
/**
 * How the primary pool is picked from: by weight, by priority (lowest first), or by measured latency.
 *
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "Strategy".
 */
export type Strategy = 'weighted' | 'priority' | 'latency';
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "StatusCode".
 */
export type StatusCode = number;
/**
 * Wire format this target speaks, overriding the provider's type.
 *
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "BackendFormat".
 */
export type BackendFormat = 'openai' | 'anthropic';
/**
 * An HTTP status code, as an integer or a string of digits (`"429"`).
 *
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "TrueFoundryStatusCode".
 */
export type TrueFoundryStatusCode = number | string;

/**
 * A vmc configuration file. Several files merge into one config (SPEC §2); every top-level key is optional in a single file.
 */
export interface VmcConfig {
  /**
   * JSON Schema reference for editors; ignored by the compiler.
   */
  $schema?: string;
  /**
   * Config format version. Files that carry it must agree (SPEC §9).
   */
  version?: 1;
  settings?: SettingsConfig;
  /**
   * Upstream providers by name. A provider name may not contain `/`: targets split at the first `/`.
   */
  providers?: {
    [k: string]: ProviderConfig;
  };
  /**
   * Virtual models by name. Names may contain `/` (groups) and may equal a catalogued `provider/model` (shadowing).
   */
  virtual_models?: {
    [k: string]: VirtualModelConfig;
  };
}
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "SettingsConfig".
 */
export interface SettingsConfig {
  /**
   * Whether a catalogued `provider/model` may be requested directly.
   */
  passthrough?: boolean;
  /**
   * What `GET /v1/models` lists: virtual models and provider models (`all`) or virtual models only.
   */
  models_endpoint?: 'all' | 'virtual_only';
}
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "ProviderConfig".
 */
export interface ProviderConfig {
  type: ProviderType;
  /**
   * Base URL of the provider API, e.g. `https://api.openai.com/v1`. A trailing slash is removed. Required for openai, anthropic and azure; bedrock, gemini and vertex default to their public endpoint.
   */
  base_url?: string;
  /**
   * Name of the environment variable the runtime reads the API key from (not for bedrock and vertex). Secrets never enter the artifact.
   */
  api_key_env?: string;
  /**
   * Catalogued models of this provider; `provider/model` names them in targets.
   */
  models: string[];
  /**
   * Upstream timeout for one whole attempt in milliseconds (0 = runtime default).
   */
  timeout_ms?: number;
  auth?: ProviderAuth;
  /**
   * Headers sent on every request to this provider; values may reference `${ENV_NAME}` (resolved by the gateway at start, never written into the table). Names are case-insensitive.
   */
  headers?: {
    [k: string]: EnvTemplate;
  };
  /**
   * Query parameters added to every request URL of this provider; values may reference `${ENV_NAME}`.
   */
  query?: {
    [k: string]: EnvTemplate;
  };
  /**
   * azure: the `api-version` query parameter, e.g. "2024-10-21". Required unless `base_url` ends in `/openai/v1` (Azure's v1 API).
   */
  api_version?: string;
  /**
   * azure: deployment name by model (default: the model name).
   */
  deployments?: {
    [k: string]: string;
  };
  /**
   * bedrock: AWS region, e.g. us-east-1 (required).
   */
  region?: string;
  credentials_env?: AwsCredentialsEnv;
  /**
   * vertex: Google Cloud project id (required).
   */
  project?: string;
  /**
   * vertex: location, e.g. us-central1, or global (required).
   */
  location?: string;
  /**
   * vertex: name of the environment variable holding the path of a service-account JSON file.
   */
  credentials_file_env?: string;
}
/**
 * Where the `api_key_env` key goes (default: the type's own header): one of `header`, `query`, `none`.
 *
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "ProviderAuth".
 */
export interface ProviderAuth {
  /**
   * Send the key in this header (`authorization` gets `Bearer `).
   */
  header?: string;
  /**
   * Send the key in this query parameter.
   */
  query?: string;
  /**
   * Send no key.
   */
  none?: true;
}
/**
 * bedrock: names of the environment variables holding the AWS credentials (default AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
 *
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "AwsCredentialsEnv".
 */
export interface AwsCredentialsEnv {
  access_key_id: string;
  secret_access_key: string;
  session_token?: string;
}
/**
 * Native form: `target` (redirect) or `targets` (pool) or neither (access policy on a catalogued `provider/model`).
 *
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "NativeVirtualModel".
 */
export interface NativeVirtualModel {
  /**
   * A second, globally unique name for this virtual model.
   */
  slug?: string;
  description?: string;
  /**
   * Operation kinds this virtual model supports; empty = any.
   */
  model_types?: ModelType[];
  /**
   * A disabled virtual model answers 404 saying so.
   */
  enabled?: boolean;
  /**
   * Callers whose user path equals or lies under one of these may use the model; empty = everyone.
   */
  user_paths?: UserPath[];
  /**
   * Redirect: a catalogued `provider/model`, or the name of another virtual model (redirect chain).
   */
  target?: string;
  strategy?: Strategy;
  sticky?: StickyConfig;
  retry?: RetryConfig;
  /**
   * Default fallback status codes for every target that does not set its own.
   */
  fallback_on?: StatusCode[];
  /**
   * Pool of catalogued `provider/model` targets, in order.
   *
   * @minItems 1
   */
  targets?: TargetConfig[];
  middleware?: MiddlewareConfig;
}
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "StickyConfig".
 */
export interface StickyConfig {
  /**
   * How long a session key stays on its target.
   */
  ttl_seconds?: number;
  /**
   * Where the session key is read from; the first present key wins.
   *
   * @minItems 1
   */
  keys: StickyKey[];
}
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "StickyKey".
 */
export interface StickyKey {
  source: 'header' | 'metadata';
  key: string;
}
/**
 * Retry on one target. At the virtual-model level: defaults for every target that does not set its own (field by field).
 *
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "RetryConfig".
 */
export interface RetryConfig {
  /**
   * Total tries on one target, the first included (2 = one retry). Default 2.
   */
  attempts?: number;
  /**
   * Delay between tries in milliseconds. Default 100.
   */
  delay_ms?: number;
  /**
   * Status codes that trigger a retry. Default 429, 500, 502, 503.
   */
  on_status?: StatusCode[];
}
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "TargetConfig".
 */
export interface TargetConfig {
  /**
   * A catalogued `provider/model`.
   */
  target: string;
  /**
   * Traffic share under `weighted`; tie-break elsewhere.
   */
  weight?: number;
  /**
   * Lower first under `priority`; orders the fallback after the primary pool.
   */
  priority?: number;
  retry?: RetryConfig;
  /**
   * Status codes that move on to the next target. Default 401, 403, 404, 429, 500, 502, 503.
   */
  fallback_on?: StatusCode[];
  /**
   * Whether this target may receive traffic when another target fails.
   */
  fallback_candidate?: boolean;
  /**
   * Request body fields merged over the client's body (overrides win).
   */
  override_params?: {
    [k: string]: unknown;
  };
  headers?: HeadersConfig;
  /**
   * Request metadata that must match for this target to be eligible.
   */
  metadata_match?: {
    [k: string]: string;
  };
  sla?: SlaConfig;
  backend_format?: BackendFormat;
}
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "HeadersConfig".
 */
export interface HeadersConfig {
  /**
   * Headers added or overwritten for this target (names are case-insensitive).
   */
  set?: {
    [k: string]: string;
  };
  /**
   * Headers stripped for this target.
   */
  remove?: string[];
}
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "SlaConfig".
 */
export interface SlaConfig {
  /**
   * Maximum wait for the first body byte in milliseconds; past it the attempt fails over.
   */
  max_ttft_ms?: number;
  /**
   * Time-per-output-token cutoff in milliseconds (kept and reported by explain).
   */
  max_time_per_output_token_ms?: number;
}
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "MiddlewareConfig".
 */
export interface MiddlewareConfig {
  /**
   * Applied in order before the request is proxied.
   */
  request?: MiddlewareCall[];
  /**
   * Applied in order to the upstream response before it is returned.
   */
  response?: MiddlewareCall[];
  /**
   * Invoked after the response was returned (fire and forget).
   */
  post_response?: MiddlewareCall[];
}
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "MiddlewareCall".
 */
export interface MiddlewareCall {
  /**
   * A built-in middleware name.
   */
  name: string;
  /**
   * Discriminator of the config schema.
   */
  config_type?: string;
  /**
   * Inline config.
   */
  config?: {
    [k: string]: unknown;
  };
  /**
   * Reference to a stored config (NeMo `workspace/name`).
   */
  config_id?: string | null;
}
/**
 * A TrueFoundry virtual model: a pasted `routing_config` block plus optional siblings.
 *
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "TrueFoundryVirtualModel".
 */
export interface TrueFoundryVirtualModel {
  routing_config: TrueFoundryRoutingConfig;
  slug?: string;
  description?: string;
  model_types?: ModelType[];
  user_paths?: UserPath[];
  enabled?: boolean;
}
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "TrueFoundryRoutingConfig".
 */
export interface TrueFoundryRoutingConfig {
  type: 'weight-based-routing' | 'priority-based-routing' | 'latency-based-routing';
  /**
   * @minItems 1
   */
  load_balance_targets: TrueFoundryTarget[];
  sticky_routing?: TrueFoundryStickyRouting;
}
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "TrueFoundryTarget".
 */
export interface TrueFoundryTarget {
  target: string;
  weight?: number;
  priority?: number;
  retry_config?: TrueFoundryRetryConfig;
  fallback_status_codes?: TrueFoundryStatusCode[];
  fallback_candidate?: boolean;
  override_params?: {
    [k: string]: unknown;
  };
  headers_override?: HeadersConfig;
  metadata_match?: {
    [k: string]: string;
  };
  sla_cutoff?: TrueFoundrySlaCutoff;
}
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "TrueFoundryRetryConfig".
 */
export interface TrueFoundryRetryConfig {
  attempts?: number;
  /**
   * Milliseconds.
   */
  delay?: number;
  on_status_codes?: TrueFoundryStatusCode[];
}
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "TrueFoundrySlaCutoff".
 */
export interface TrueFoundrySlaCutoff {
  time_to_first_token_ms?: number;
  time_per_output_token_ms?: number;
}
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "TrueFoundryStickyRouting".
 */
export interface TrueFoundryStickyRouting {
  ttl_seconds?: number;
  /**
   * @minItems 1
   */
  session_identifiers: TrueFoundrySessionIdentifier[];
}
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "TrueFoundrySessionIdentifier".
 */
export interface TrueFoundrySessionIdentifier {
  key: string;
  source: 'headers' | 'metadata';
}
/**
 * A GoModel virtual model (admin upsert body): a redirect when `target_model` is set, else an access policy on `source`.
 *
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "GoModelVirtualModel".
 */
export interface GoModelVirtualModel {
  /**
   * The virtual model's name; must equal its key.
   */
  source?: string;
  target_model?: string;
  user_paths?: UserPath[];
  enabled?: boolean;
  description?: string;
}
/**
 * A NeMo VirtualModel.
 *
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "NemoVirtualModel".
 */
export interface NemoVirtualModel {
  /**
   * The first target (`provider/model`).
   */
  default_model_entity?: string | null;
  /**
   * Further targets, tried in order after the default.
   */
  models?: NemoModelConfig[];
  request_middleware?: MiddlewareCall[];
  response_middleware?: MiddlewareCall[];
  post_response_middleware?: MiddlewareCall[];
  /**
   * Informational.
   */
  name?: string;
  /**
   * Informational.
   */
  workspace?: string;
  /**
   * Informational.
   */
  project?: string;
  /**
   * Informational.
   */
  autoprovisioned?: boolean;
  /**
   * Informational; vmc has one proxy.
   */
  override_proxy?: string | null;
  description?: string;
}
/**
 * This interface was referenced by `VmcConfig`'s JSON-Schema
 * via the `definition` "NemoModelConfig".
 */
export interface NemoModelConfig {
  model: string;
  backend_format?: 'OPENAI_CHAT' | 'ANTHROPIC_MESSAGES' | null;
}
