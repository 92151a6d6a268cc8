/**
 * Simulated Vertex AI (SPEC §13) with its own OAuth token endpoint.
 *
 * - `serviceAccountFile()` writes a service-account JSON (a fresh RSA key) whose `token_uri`
 *   is this simulator's `/token` — so a client that ignores `token_uri` and calls Google's
 *   URL never gets a token here.
 * - `POST /token`: the RFC 7523 JWT-bearer grant. The assertion's RS256 signature is checked
 *   with the key's public half; `iss` must be the account, `aud` the token_uri, `scope` must
 *   hold cloud-platform, `exp` at most an hour after `iat`. Tokens live `tokenLifetimeS`
 *   seconds (short in tests, to prove the refresh).
 * - `POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent`
 *   (and `:streamGenerateContent?alt=sse`): `authorization: Bearer` must carry a token this
 *   simulator issued and that has not expired (else 401 UNAUTHENTICATED); the body is checked
 *   as Gemini's (./generate-content.ts).
 */
import { generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expectWire, isObject, sendJson, startCloudServer, type CloudReply, type CloudServer, type ReplyFn } from './common.js';
import { googleError, sendGenerateContent, validateGenerateContent } from './generate-content.js';

export const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

export interface VertexSimOptions {
  project: string;
  location: string;
  models: readonly string[];
  /** Lifetime of issued tokens in seconds (default 3600). */
  tokenLifetimeS?: number;
  reply?: ReplyFn;
}

export interface VertexSim extends CloudServer {
  /** The service account's email. */
  readonly clientEmail: string;
  /** `${url}/token`. */
  readonly tokenUri: string;
  /** Tokens issued so far (one per token request that passed). */
  readonly tokensIssued: string[];
  /** Writes the service-account JSON into a fresh temporary directory (removed by close()); returns its path. */
  serviceAccountFile(): string;
  setReply(fn: ReplyFn): void;
}

const b64url = (s: string): Buffer => Buffer.from(s.replace(/-/g, '+').replace(/_/g, '/'), 'base64');

/** Verifies a JWT-bearer assertion; returns its claims (throws a 400 invalid_grant Violation). */
function verifyAssertion(jwt: string, key: KeyObject): Record<string, unknown> {
  const parts = jwt.split('.');
  expectWire(parts.length === 3, 400, 'invalid_grant: assertion is not a JWT');
  let header: unknown;
  let claims: unknown;
  try {
    header = JSON.parse(b64url(parts[0]).toString('utf8'));
    claims = JSON.parse(b64url(parts[1]).toString('utf8'));
  } catch {
    expectWire(false, 400, 'invalid_grant: undecodable JWT');
  }
  expectWire(isObject(header) && header.alg === 'RS256', 400, 'invalid_grant: alg must be RS256');
  const ok = verify('RSA-SHA256', Buffer.from(`${parts[0]}.${parts[1]}`), key, b64url(parts[2]));
  expectWire(ok, 400, 'invalid_grant: Invalid JWT Signature.');
  expectWire(isObject(claims), 400, 'invalid_grant: claims');
  return claims;
}

export async function startVertexSim(opts: VertexSimOptions): Promise<VertexSim> {
  let reply: ReplyFn = opts.reply ?? (() => ({}));
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const verifyKey: KeyObject = publicKey;
  const clientEmail = 'vmc-sim@sim-project.iam.gserviceaccount.com';
  const lifetime = opts.tokenLifetimeS ?? 3600;
  const tokens = new Map<string, number>(); // token → expiry (ms)
  const tokensIssued: string[] = [];
  let tokenUri = '';

  const server = await startCloudServer(
    (req, res) => {
      expectWire(req.method === 'POST', 405, `method ${req.method}`);
      if (req.path === '/token') {
        expectWire((req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded'), 400, 'token request content-type');
        const form = new URLSearchParams(req.body.toString('utf8'));
        expectWire(form.get('grant_type') === 'urn:ietf:params:oauth:grant-type:jwt-bearer', 400, 'unsupported_grant_type');
        const claims = verifyAssertion(form.get('assertion') ?? '', verifyKey);
        const now = Math.floor(Date.now() / 1000);
        expectWire(claims.iss === clientEmail, 400, `invalid_grant: iss ${String(claims.iss)}`);
        expectWire(claims.aud === tokenUri, 400, `invalid_grant: aud ${String(claims.aud)} is not the token_uri ${tokenUri}`);
        expectWire(
          String(claims.scope ?? '')
            .split(' ')
            .includes(CLOUD_PLATFORM_SCOPE),
          400,
          'invalid_scope',
        );
        const iat = Number(claims.iat);
        const exp = Number(claims.exp);
        expectWire(
          Math.abs(iat - now) < 300 && exp > now && exp - iat <= 3600,
          400,
          'invalid_grant: Invalid JWT: Token must be a short-lived token (60 minutes)',
        );
        const token = `ya29.sim-${tokensIssued.length + 1}-${now}`;
        tokensIssued.push(token);
        tokens.set(token, Date.now() + lifetime * 1000);
        sendJson(res, 200, { access_token: token, expires_in: lifetime, token_type: 'Bearer' });
        return;
      }
      const route =
        /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/google\/models\/([^/:]+):(generateContent|streamGenerateContent)$/.exec(
          req.path,
        );
      expectWire(route !== null, 404, `no Vertex AI route ${req.path}`);
      const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      const expiry = m === null ? undefined : tokens.get(m[1]);
      expectWire(
        expiry !== undefined && expiry > Date.now(),
        401,
        expiry === undefined
          ? 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.'
          : 'Request had invalid authentication credentials: the access token expired.',
      );
      expectWire(req.headers['x-goog-api-key'] === undefined, 400, 'an API key was sent beside the OAuth token');
      expectWire(route[1] === opts.project, 403, `Permission denied on project ${route[1]}`);
      expectWire(route[2] === opts.location, 400, `location ${route[2]} (expected ${opts.location})`);
      const stream = route[4] === 'streamGenerateContent';
      if (stream) expectWire(req.query.get('alt') === 'sse', 400, 'streamGenerateContent without alt=sse');
      const model = decodeURIComponent(route[3]);
      expectWire(
        opts.models.includes(model),
        404,
        `Publisher Model projects/${route[1]}/locations/${route[2]}/publishers/google/models/${model} was not found`,
      );
      expectWire(req.json !== null, 400, 'body is not a JSON object');
      validateGenerateContent(req.json);
      const r: CloudReply = { text: `sim:vertex model=${model}`, ...reply(req) };
      sendGenerateContent(res, stream, r, model);
    },
    (status, message) => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(googleError(status, message)) }),
  );
  tokenUri = `${server.url}/token`;
  const dirs: string[] = [];
  return {
    ...server,
    async close() {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      await server.close();
    },
    clientEmail,
    tokenUri,
    tokensIssued,
    serviceAccountFile() {
      const dir = mkdtempSync(join(tmpdir(), 'vmc-vertex-sim-'));
      dirs.push(dir); // removed by close()
      const path = join(dir, 'service-account.json');
      writeFileSync(
        path,
        JSON.stringify({
          type: 'service_account',
          project_id: opts.project,
          private_key_id: 'sim-key-1',
          private_key: pem,
          client_email: clientEmail,
          client_id: '1',
          auth_uri: 'https://accounts.google.com/o/oauth2/auth',
          token_uri: tokenUri,
          universe_domain: 'googleapis.com',
        }),
        { mode: 0o600 },
      );
      return path;
    },
    setReply(fn: ReplyFn) {
      reply = fn;
    },
  };
}
