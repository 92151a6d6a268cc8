/**
 * `--state` / `VMC_STATE_URL` (SPEC §14): `redis://[[USER]:PASS@]HOST[:PORT][/DB]`, or
 * `rediss://…` for TLS, with an optional `?prefix=NAME:` naming the keys (default `vmc:`;
 * two gateways sharing one Redis use two prefixes). The password never appears in a log line,
 * `/health` or an error: {@link RedisTarget.display} is the URL without it.
 */

export interface RedisTarget {
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
  tls: boolean;
  /** Prefix of every key and channel (default `vmc:`). */
  prefix: string;
  /** The URL without its password (`redis://:***@host:6379/0`): safe to log. */
  display: string;
}

/** A `--state` value that is not a usable Redis URL. The message never repeats a password. */
export class StateUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StateUrlError';
  }
}

const DEFAULT_PORT = 6379;
export const DEFAULT_PREFIX = 'vmc:';
const USAGE = 'use redis://[[USER]:PASS@]HOST[:PORT][/DB] or rediss://… (TLS), optionally ?prefix=NAME:';

/** Parses a `--state` URL; throws StateUrlError saying what is wrong. */
export function parseStateUrl(value: string): RedisTarget {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new StateUrlError(`--state: not a URL (${USAGE})`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new StateUrlError(`--state: unsupported scheme ${JSON.stringify(url.protocol.replace(/:$/, ''))} (${USAGE})`);
  }
  const tls = url.protocol === 'rediss:';
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1'); // IPv6 literals come bracketed
  if (host === '') throw new StateUrlError(`--state: the URL names no host (${USAGE})`);
  const port = url.port === '' ? DEFAULT_PORT : Number(url.port);
  let db = 0;
  const path = url.pathname.replace(/^\/+/, '');
  if (path !== '') {
    if (!/^\d{1,5}$/.test(path)) throw new StateUrlError(`--state: the path must be a database number, got /${path} (${USAGE})`);
    db = Number(path);
  }
  let prefix = DEFAULT_PREFIX;
  for (const [k, v] of url.searchParams) {
    if (k !== 'prefix') throw new StateUrlError(`--state: unknown parameter ${JSON.stringify(k)} (the only one is prefix)`);
    if (v === '' || /[\s\u0000-\u001f]/.test(v))
      throw new StateUrlError('--state: prefix must be non-empty, without spaces or control characters');
    prefix = v;
  }
  const target: RedisTarget = { host, port, db, tls, prefix, display: '' };
  if (url.username !== '') target.username = decodeURIComponent(url.username);
  if (url.password !== '') target.password = decodeURIComponent(url.password);
  const auth = url.username !== '' || url.password !== '' ? `${url.username}${url.password !== '' ? ':***' : ''}@` : '';
  const hostPart = host.includes(':') ? `[${host}]` : host;
  target.display = `${url.protocol}//${auth}${hostPart}:${port}/${db}${prefix === DEFAULT_PREFIX ? '' : `?prefix=${encodeURIComponent(prefix)}`}`;
  return target;
}
