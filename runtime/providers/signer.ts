/**
 * Credentials computed per request (SPEC §13): the contract between the provider setup
 * (./credentials.ts) and the engine, which awaits `sign()` before sending each attempt.
 */

/** The request as it will be sent (the signature covers all of it). */
export interface SignableRequest {
  readonly method: string;
  /** `https://host[:port]`: the pool's origin. */
  readonly origin: string;
  /** Path with query, exactly as sent. */
  readonly path: string;
  /** `[name, value, …]`, lower-case names: every header that will be sent. */
  readonly headers: readonly string[];
  readonly body: Uint8Array;
}

/** Adds per-request credentials (a SigV4 signature, an OAuth bearer token). */
export interface RequestSigner {
  /**
   * The headers to send: `req.headers` with the credential headers added (any client copies of
   * them replaced; SigV4 also adds `host`). Rejects with a CredentialsError when no credential
   * can be had (the engine answers 502 provider_error with its message; it holds no secret).
   */
  sign(req: SignableRequest): Promise<string[]>;
}

/** Credentials are missing or could not be obtained (a message for users: names, never values). */
export class CredentialsError extends Error {
  override name = 'CredentialsError';
}
