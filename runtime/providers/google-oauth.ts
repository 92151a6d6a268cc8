/**
 * OAuth access tokens for Vertex AI (SPEC §13), from a service-account JSON through
 * `google-auth-library`: the library signs the JWT assertion (RS256), exchanges it, caches the
 * token and refreshes it before it expires (`eagerRefreshThresholdMillis`), and shares one
 * refresh among concurrent requests.
 *
 * The JSON's `token_uri` is honoured. google-auth-library 10 does not do that by itself: its
 * JWT client posts to a hard-coded `https://oauth2.googleapis.com/token` and puts that URL in
 * the assertion's `aud` (checked in node_modules/google-auth-library/build/src/gtoken/
 * getToken.js and jwsSign.js). So the client's own transporter gets a request interceptor
 * that sends the token request to `token_uri`, and the assertion's `aud` claim is set to
 * `token_uri` (RFC 7523 §3: the audience is the token endpoint). For Google's own token_uri
 * both are no-ops.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { JWT } from 'google-auth-library';
import { CredentialsError, type RequestSigner, type SignableRequest } from './signer.js';

/** The token endpoint google-auth-library's JWT client uses whatever the JSON says. */
const LIBRARY_TOKEN_URL = 'https://oauth2.googleapis.com/token';

/** Refresh this long before expiry by default (the library's own default is 5 minutes). */
export const DEFAULT_EAGER_REFRESH_MS = 5 * 60_000;

/** The fields of a service-account key file the gateway uses. */
export interface ServiceAccount {
  client_email: string;
  private_key: string;
  private_key_id?: string;
  token_uri: string;
}

/** Parses and checks a service-account JSON text (`source` names it in errors: a path, never the content). */
export function parseServiceAccount(text: string, source: string): ServiceAccount {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new CredentialsError(`${source} is not JSON`);
  }
  const o = (v ?? {}) as Record<string, unknown>;
  if (o.type !== undefined && o.type !== 'service_account') {
    throw new CredentialsError(`${source} is a ${String(o.type)} credential, not a service-account key`);
  }
  for (const k of ['client_email', 'private_key'] as const) {
    if (typeof o[k] !== 'string' || o[k] === '') throw new CredentialsError(`${source} has no ${k}`);
  }
  return {
    client_email: o.client_email as string,
    private_key: o.private_key as string,
    private_key_id: typeof o.private_key_id === 'string' ? o.private_key_id : undefined,
    token_uri: typeof o.token_uri === 'string' && o.token_uri !== '' ? o.token_uri : LIBRARY_TOKEN_URL,
  };
}

/** A cached, self-refreshing access token for one service account and scope. */
export class GoogleAccessToken {
  readonly #client: JWT;
  readonly tokenUri: string;

  constructor(account: ServiceAccount, scope: string, eagerRefreshMs = DEFAULT_EAGER_REFRESH_MS) {
    this.tokenUri = account.token_uri;
    // google-auth-library loads when a Vertex provider is set up, not with the gateway
    const { JWT: Client } = createRequire(import.meta.url)('google-auth-library') as typeof import('google-auth-library');
    this.#client = new Client({
      email: account.client_email,
      key: account.private_key,
      keyId: account.private_key_id,
      scopes: [scope],
      additionalClaims: { aud: account.token_uri },
      eagerRefreshThresholdMillis: eagerRefreshMs,
    });
    if (account.token_uri !== LIBRARY_TOKEN_URL) {
      const tokenUri = account.token_uri;
      this.#client.transporter.interceptors.request.add({
        resolved: async (options) => {
          if (String(options.url) === LIBRARY_TOKEN_URL) options.url = new URL(tokenUri);
          return options;
        },
      });
    }
  }

  /** A valid access token: the cached one, or a new one when it is missing or about to expire. */
  async token(): Promise<string> {
    let t: string | null | undefined;
    try {
      t = (await this.#client.getAccessToken()).token;
    } catch (err) {
      throw new CredentialsError(`no access token from ${this.tokenUri}: ${(err as Error).message}`);
    }
    if (typeof t !== 'string' || t === '') throw new CredentialsError(`no access token from ${this.tokenUri}`);
    return t;
  }
}

/**
 * Token sources by key file content and scope, shared across table generations: a reload
 * keeps the cached token; a rotated key file gets a new source.
 */
const sources = new Map<string, GoogleAccessToken>();

/** The shared token source of a key file (read now: a missing or invalid file is a CredentialsError). */
export function accessTokenFromFile(path: string, scope: string, eagerRefreshMs = DEFAULT_EAGER_REFRESH_MS): GoogleAccessToken {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CredentialsError(
      `cannot read the service-account file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const key = `${createHash('sha256').update(text).digest('hex')}\0${scope}\0${eagerRefreshMs}`;
  let s = sources.get(key);
  if (s === undefined) {
    s = new GoogleAccessToken(parseServiceAccount(text, path), scope, eagerRefreshMs);
    sources.set(key, s);
  }
  return s;
}

/** `authorization: Bearer TOKEN` from a token source (any client authorization replaced). */
export class BearerTokenSigner implements RequestSigner {
  constructor(
    readonly source: { token(): Promise<string> },
    readonly provider: string,
  ) {}

  async sign(req: SignableRequest): Promise<string[]> {
    let token: string;
    try {
      token = await this.source.token();
    } catch (err) {
      throw new CredentialsError(`provider ${this.provider}: ${(err as Error).message}`);
    }
    const out: string[] = [];
    for (let i = 0; i + 1 < req.headers.length; i += 2)
      if (req.headers[i] !== 'authorization') out.push(req.headers[i], req.headers[i + 1]);
    out.push('authorization', `Bearer ${token}`);
    return out;
  }
}
