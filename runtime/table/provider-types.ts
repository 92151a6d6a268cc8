/**
 * Provider types as the table stores them (PROVIDERS record, `PF_TYPE`): the one list of type
 * names and their codes, and the per-type config rules both the compiler (validation,
 * defaults) and the runtime (URL rules, credentials) rely on (SPEC §13). A code is the index
 * in {@link PROVIDER_TYPE_CODES}; codes are written into tables, so the list is append-only (a
 * new type gets the next code).
 *
 * What a type means at run time (wire format, URL rule, credential placement, default
 * headers, translation) lives in its module under runtime/providers/, registered by this
 * name in runtime/providers/index.ts (a test checks both lists match). Adding a type:
 * docs/runtime.md, "Adding a provider type".
 */
export const PROVIDER_TYPE_CODES = ['openai', 'anthropic', 'azure', 'bedrock', 'gemini', 'vertex'] as const;

/** A provider type name (the `type` of a provider in a config). */
export type ProviderType = (typeof PROVIDER_TYPE_CODES)[number];

/** Table code of a provider type. */
export function providerTypeCode(type: ProviderType): number {
  const code = PROVIDER_TYPE_CODES.indexOf(type);
  if (code < 0) throw new Error(`unknown provider type ${type}`);
  return code;
}

/**
 * Config keys (as YAML spells them) that only some types take, with the types that take them.
 * Keys absent from this map (`type`, `base_url`, `models`, `timeout_ms`, `headers`, `query`)
 * apply to every type. `api_key_env` and `auth` do not apply where the gateway computes the
 * credentials itself (bedrock: SigV4 from AWS credentials; vertex: an OAuth token from a
 * service account) — there only `auth: { none: true }` is accepted (SPEC §13).
 */
export const TYPE_SPECIFIC_KEYS: Readonly<Record<string, readonly ProviderType[]>> = {
  api_key_env: ['openai', 'anthropic', 'azure', 'gemini'],
  api_version: ['azure'],
  deployments: ['azure'],
  region: ['bedrock'],
  credentials_env: ['bedrock'],
  project: ['vertex'],
  location: ['vertex'],
  credentials_file_env: ['vertex'],
};

/** Types whose credentials the gateway computes per request (no `api_key_env`). */
export const SIGNED_TYPES: readonly ProviderType[] = ['bedrock', 'vertex'];

/** Keys a type requires besides `type` and `models`, with a one-line example for the hint. */
export const REQUIRED_KEYS: Readonly<Record<ProviderType, readonly { key: string; hint: string }[]>> = {
  openai: [],
  anthropic: [],
  azure: [],
  bedrock: [{ key: 'region', hint: 'the AWS region of the Bedrock runtime endpoint, e.g. region: us-east-1' }],
  gemini: [],
  vertex: [
    { key: 'project', hint: 'the Google Cloud project id, e.g. project: my-project' },
    { key: 'location', hint: 'the Vertex AI location, e.g. location: us-central1 (or global)' },
  ],
};

/** Types whose `base_url` may be left out: the default is computed from their other keys. */
export const DEFAULT_BASE_URL_TYPES: readonly ProviderType[] = ['bedrock', 'gemini', 'vertex'];

/**
 * Azure's v1 API (`https://RESOURCE.openai.azure.com/openai/v1`) takes OpenAI's paths and no
 * `api-version` (SPEC §13); any other Azure base needs `api_version`.
 */
export function isAzureV1Base(baseUrl: string): boolean {
  let path: string;
  try {
    path = new URL(baseUrl).pathname;
  } catch {
    return false;
  }
  return /\/openai\/v1\/*$/.test(path);
}

/**
 * The base URL of a type that has a default (SPEC §13), from its other keys; null for types
 * that need `base_url` or when a key it depends on is missing.
 */
export function defaultBaseUrl(type: ProviderType, keys: { region?: string; location?: string }): string | null {
  switch (type) {
    case 'bedrock':
      return keys.region === undefined ? null : `https://bedrock-runtime.${keys.region}.amazonaws.com`;
    case 'gemini':
      return 'https://generativelanguage.googleapis.com';
    case 'vertex':
      if (keys.location === undefined) return null;
      return keys.location === 'global' ? 'https://aiplatform.googleapis.com' : `https://${keys.location}-aiplatform.googleapis.com`;
    default:
      return null;
  }
}

/** Default environment variables of the AWS credentials (bedrock `credentials_env`). */
export const DEFAULT_AWS_CREDENTIALS_ENV = {
  accessKeyId: 'AWS_ACCESS_KEY_ID',
  secretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  sessionToken: 'AWS_SESSION_TOKEN',
} as const;

/** Default environment variable naming the service-account JSON file (vertex `credentials_file_env`). */
export const DEFAULT_GOOGLE_CREDENTIALS_ENV = 'GOOGLE_APPLICATION_CREDENTIALS';

/**
 * A `${NAME}` reference in a provider `headers` / `query` value: replaced by the environment
 * variable's value when the gateway starts (the table keeps the template). Any other `$` is
 * literal. The schema's EnvTemplate pattern accepts exactly the texts this grammar reads.
 */
export const ENV_REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** The variable names a template references, in order of appearance (repeats kept). */
export function envReferences(template: string): string[] {
  const out: string[] = [];
  for (const m of template.matchAll(ENV_REFERENCE)) out.push(m[1]);
  return out;
}

/**
 * Header names that carry a credential, and query keys that commonly do: a literal value
 * under one of them is a secret written into the table (warning VMC2023).
 */
export const CREDENTIAL_HEADER_HINTS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'api-key',
  'x-api-key',
  'x-goog-api-key',
  'ocp-apim-subscription-key',
];
export const CREDENTIAL_QUERY_HINTS: readonly string[] = ['key', 'api-key', 'api_key', 'apikey', 'code', 'token', 'access_token'];
