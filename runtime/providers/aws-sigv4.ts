/**
 * AWS Signature Version 4 for Bedrock requests (SPEC §13), computed by AWS's own libraries:
 * `@smithy/signature-v4` with `@aws-crypto/sha256-js`. The whole request is signed — method,
 * host, path (model ids double-encoded as AWS's canonical URI rule says), query (a provider's
 * `query` settings included), every header the gateway sends (a provider's `headers` settings
 * included; the few AWS never signs, such as user-agent, excepted) and the body's SHA-256.
 *
 * Credentials: the variables of `credentials_env` (default AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), read when the table is loaded. When they are
 * not set and `@aws-sdk/credential-providers` is installed (it is optional), the AWS
 * credential chain (profiles, SSO, web identity, container and instance roles) is asked
 * instead, and refreshed as it expires.
 */
import { createRequire } from 'node:module';
import type { SignatureV4 } from '@smithy/signature-v4';
import type { NormAwsCredentialsEnv } from '../table/normalized.js';
import type { Env } from './env.js';
import { CredentialsError, type RequestSigner, type SignableRequest } from './signer.js';

/** AWS credentials (what SignatureV4 takes). */
export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** When temporary credentials expire (the chain refreshes them). */
  expiration?: Date;
}

export type AwsCredentialsProvider = () => Promise<AwsCredentials>;

/** Headers SigV4 writes; a client's copies are dropped before signing. */
const SIGV4_HEADERS = ['authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256'];

/** Credentials from the environment variables of `names`, or null when the key pair is not set. */
export function awsCredentialsFromEnv(names: NormAwsCredentialsEnv, env: Env): AwsCredentials | null {
  const accessKeyId = env[names.accessKeyId];
  const secretAccessKey = env[names.secretAccessKey];
  if (accessKeyId === undefined || accessKeyId === '' || secretAccessKey === undefined || secretAccessKey === '') return null;
  const sessionToken = names.sessionToken === null ? undefined : env[names.sessionToken];
  return sessionToken === undefined || sessionToken === ''
    ? { accessKeyId, secretAccessKey }
    : { accessKeyId, secretAccessKey, sessionToken };
}

/** The optional package of the AWS credential chain (a variable, so that no type or bundle needs it). */
const CREDENTIAL_PROVIDERS_PACKAGE = '@aws-sdk/credential-providers';

/**
 * The AWS default credential chain, when `@aws-sdk/credential-providers` is installed; the
 * returned provider rejects with a CredentialsError saying what to set otherwise.
 */
export function awsCredentialChain(provider: string, names: NormAwsCredentialsEnv): AwsCredentialsProvider {
  let chain: Promise<AwsCredentialsProvider> | null = null;
  const load = async (): Promise<AwsCredentialsProvider> => {
    try {
      const mod = (await import(CREDENTIAL_PROVIDERS_PACKAGE)) as { fromNodeProviderChain: () => AwsCredentialsProvider };
      return mod.fromNodeProviderChain();
    } catch {
      throw new CredentialsError(
        `provider ${provider}: no AWS credentials: set ${names.accessKeyId} and ${names.secretAccessKey}` +
          ` (or install ${CREDENTIAL_PROVIDERS_PACKAGE} for the AWS credential chain)`,
      );
    }
  };
  return async () => {
    chain ??= load();
    let get: AwsCredentialsProvider;
    try {
      get = await chain;
    } catch (err) {
      chain = null; // retried on the next request: the package may be installed meanwhile
      throw err;
    }
    try {
      return await get();
    } catch (err) {
      throw new CredentialsError(`provider ${provider}: the AWS credential chain found no credentials: ${(err as Error).message}`);
    }
  };
}

/** Flat `[name, value, …]` → a header record (repeated names joined with `,`). */
function headerRecord(flat: readonly string[], drop: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i].toLowerCase();
    if (drop.includes(name)) continue;
    out[name] = name in out ? `${out[name]},${flat[i + 1]}` : flat[i + 1];
  }
  return out;
}

/** Signs requests with SigV4 for one service and region. */
export class AwsSigV4Signer implements RequestSigner {
  readonly #signer: SignatureV4;

  constructor(opts: { region: string; service: string; credentials: AwsCredentials | AwsCredentialsProvider }) {
    // AWS's libraries load when a Bedrock provider is set up, not with the gateway
    const require = createRequire(import.meta.url);
    const { SignatureV4: Signer } = require('@smithy/signature-v4') as typeof import('@smithy/signature-v4');
    const { Sha256 } = require('@aws-crypto/sha256-js') as typeof import('@aws-crypto/sha256-js');
    this.#signer = new Signer({ region: opts.region, service: opts.service, sha256: Sha256, credentials: opts.credentials });
  }

  async sign(req: SignableRequest): Promise<string[]> {
    const url = new URL(req.path, req.origin);
    const headers = headerRecord(req.headers, ['host', ...SIGV4_HEADERS]);
    headers.host = url.host;
    const query: Record<string, string | string[]> = {};
    for (const [k, v] of url.searchParams) {
      const cur = query[k];
      query[k] = cur === undefined ? v : Array.isArray(cur) ? [...cur, v] : [cur, v];
    }
    const signed = await this.#signer.sign({
      method: req.method,
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port === '' ? undefined : Number(url.port),
      path: url.pathname,
      query,
      headers,
      body: req.body,
    });
    const out: string[] = [];
    for (const [k, v] of Object.entries(signed.headers)) out.push(k.toLowerCase(), String(v));
    return out;
  }
}
