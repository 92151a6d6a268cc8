/**
 * A provider's credentials and SPEC §13 extras, resolved once per provider and table
 * generation: what the engine adds to every upstream request of that provider.
 *
 *   auth placement   the provider's `auth` setting, else its type's default (./provider.ts)
 *   header key       `api_key_env`'s value in one header (`Bearer ` for authorization)
 *   query key        `api_key_env`'s value as a query parameter
 *   headers / query  the provider's settings with `${ENV}` resolved (an unset variable throws
 *                    ProviderEnvError: a start-up error naming provider and variable)
 *   signer           SigV4 (bedrock) or an OAuth bearer token (vertex), computed per request
 *
 * Missing signing credentials (no AWS keys, no service-account file) do not stop the
 * gateway: `problem` says what is missing (log it at start) and the signer rejects each
 * request with a CredentialsError.
 */
import type { NormProviderOptions, ProviderType } from '../table/normalized.js';
import type { RoutingTable } from '../table/reader.js';
import { DEFAULT_AWS_CREDENTIALS_ENV, DEFAULT_GOOGLE_CREDENTIALS_ENV } from '../table/provider-types.js';
import { AwsSigV4Signer, awsCredentialChain, awsCredentialsFromEnv } from './aws-sigv4.js';
import { missingTemplateVariables, resolvePairs, type Env, type ProviderEnvError } from './env.js';
import { BearerTokenSigner, DEFAULT_EAGER_REFRESH_MS, accessTokenFromFile } from './google-oauth.js';
import { providerModule } from './index.js';
import type { AuthPlacement } from './provider.js';
import { CredentialsError, type RequestSigner, type SignableRequest } from './signer.js';

/** What setupProvider needs of a provider (a NormProvider, or the table's accessors). */
export interface ProviderDescriptor {
  readonly name: string;
  readonly type: ProviderType;
  readonly apiKeyEnv: string | null;
  readonly options?: NormProviderOptions | null;
}

/** Everything the engine adds to a provider's requests. */
export interface ProviderSetup {
  /** Credential headers `[name, value, …]` (a key placed in a header), or null. */
  readonly credentials: string[] | null;
  /**
   * The provider authenticates itself (a key is set, or it signs): the client's credential
   * headers (CREDENTIAL_HEADER_NAMES) are not forwarded (SPEC §3.6).
   */
  readonly ownsCredentials: boolean;
  /** The provider's `headers` settings, resolved: `[name, value, …]`, names lower-case. */
  readonly headers: string[];
  /**
   * Query string to append after the base URL's own query (`?a=1&b=2`, or ''): the `query`
   * settings, resolved, and a query-placed key. Holds a secret when the key is in the query:
   * never log the upstream path.
   */
  readonly query: string;
  /** Per-request credentials, or null. */
  readonly signer: RequestSigner | null;
  /** What is missing for this provider to authenticate (for a start-up warning), or null. */
  readonly problem: string | null;
}

/** The placement a provider's key takes: its `auth` setting, else its type's default. */
export function authPlacement(type: ProviderType, options?: NormProviderOptions | null): AuthPlacement {
  const a = options?.auth;
  if (a === undefined) return providerModule(type).auth;
  if (a.kind === 'none') return { kind: 'none' };
  if (a.kind === 'query') return { kind: 'query', name: a.name };
  return { kind: 'header', name: a.name, valuePrefix: a.name === 'authorization' ? 'Bearer ' : '' };
}

/** `?k=v&…` from pairs (values percent-encoded), '' for none. */
export function queryString(pairs: readonly (readonly [string, string])[]): string {
  if (pairs.length === 0) return '';
  return '?' + pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

/** A signer that always fails with the same message (credentials missing). */
class MissingCredentials implements RequestSigner {
  constructor(readonly message: string) {}
  sign(_req: SignableRequest): Promise<string[]> {
    return Promise.reject(new CredentialsError(this.message));
  }
}

/**
 * Resolves a provider's credentials and extras from `env`. Throws ProviderEnvError when a
 * `${ENV}` of its `headers` or `query` is unset. `opts.eagerRefreshMs` tunes the OAuth
 * refresh margin (tests).
 */
export function setupProvider(p: ProviderDescriptor, env: Env, opts: { eagerRefreshMs?: number } = {}): ProviderSetup {
  const options = p.options ?? undefined;
  const headersPairs = resolvePairs(p.name, options?.headers, env);
  const queryPairs = resolvePairs(p.name, options?.query, env);
  const placement = authPlacement(p.type, options);
  const key = p.apiKeyEnv === null ? undefined : env[p.apiKeyEnv];
  const hasKey = key !== undefined && key !== '';
  let credentials: string[] | null = null;
  let signer: RequestSigner | null = null;
  let problem: string | null = null;
  let owns = false;
  switch (placement.kind) {
    case 'header':
      if (hasKey) credentials = [placement.name, placement.valuePrefix + key];
      owns = hasKey;
      break;
    case 'query':
      if (hasKey) queryPairs.push([placement.name, key]);
      owns = hasKey;
      break;
    case 'none':
      break;
    case 'sigv4': {
      owns = true;
      const names = options?.credentialsEnv ?? DEFAULT_AWS_CREDENTIALS_ENV;
      const region = options?.region ?? '';
      const fromEnv = awsCredentialsFromEnv(names, env);
      if (fromEnv === null)
        problem = `provider ${p.name}: ${names.accessKeyId} / ${names.secretAccessKey} are not set; trying the AWS credential chain`;
      signer = new AwsSigV4Signer({ region, service: placement.service, credentials: fromEnv ?? awsCredentialChain(p.name, names) });
      break;
    }
    case 'oauth': {
      owns = true;
      const variable = options?.credentialsFileEnv ?? DEFAULT_GOOGLE_CREDENTIALS_ENV;
      const file = env[variable];
      if (file === undefined || file === '') {
        problem = `provider ${p.name}: environment variable ${variable} is not set (the path of a service-account JSON file)`;
        signer = new MissingCredentials(problem);
        break;
      }
      try {
        signer = new BearerTokenSigner(accessTokenFromFile(file, placement.scope, opts.eagerRefreshMs ?? DEFAULT_EAGER_REFRESH_MS), p.name);
      } catch (err) {
        problem = `provider ${p.name}: ${(err as Error).message}`;
        signer = new MissingCredentials(problem);
      }
      break;
    }
  }
  const headers: string[] = [];
  for (const [k, v] of headersPairs) headers.push(k, v);
  return { credentials, ownsCredentials: owns, headers, query: queryString(queryPairs), signer, problem };
}

/**
 * A setup for a provider that cannot authenticate at all (its setup threw): requests are not
 * sent, each fails with a CredentialsError saying `message` (names, never values).
 */
export function failedSetup(message: string): ProviderSetup {
  return { credentials: null, ownsCredentials: true, headers: [], query: '', signer: new MissingCredentials(message), problem: message };
}

/** Provider `p` of a table as setupProvider takes it. */
export function tableProvider(table: RoutingTable, p: number): ProviderDescriptor {
  return {
    name: table.providerName(p),
    type: table.providerType(p),
    apiKeyEnv: table.providerApiKeyEnv(p),
    options: table.providerOptions(p),
  };
}

/**
 * Every `${ENV}` of a table's providers that is unset in `env` (SPEC §13: a start-up error,
 * exit 1, naming provider and variable; a reload with such a table is rejected). Empty when
 * the table can be served.
 */
export function checkTableEnvironment(table: RoutingTable, env: Env): ProviderEnvError[] {
  const providers: ProviderDescriptor[] = [];
  for (let p = 0; p < table.providerCount; p++) providers.push(tableProvider(table, p));
  return missingTemplateVariables(providers, env);
}

/** A table names `${ENV}` variables that are unset: its message lists each provider and variable. */
export class TableEnvironmentError extends Error {
  override name = 'TableEnvironmentError';
  constructor(readonly missing: readonly ProviderEnvError[]) {
    super(missing.map((e) => e.message).join('; '));
  }
}

/**
 * Throws a TableEnvironmentError when {@link checkTableEnvironment} finds unset variables: the
 * start-up check of `vmc serve` (exit 1) and the reload check (the table is rejected).
 */
export function assertTableEnvironment(table: RoutingTable, env: Env): void {
  const missing = checkTableEnvironment(table, env);
  if (missing.length > 0) throw new TableEnvironmentError(missing);
}
