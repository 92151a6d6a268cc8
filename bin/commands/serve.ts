/** `vmc serve` (SPEC §5, §6, §10, §11): runs the gateway on a built table. */
import { parseArgs } from 'node:util';
import { createAdminBackend } from '../../compiler/tools/admin-backend.js';
import { KeysFileError, readKeysFile } from '../../runtime/keys/file.js';
import { runServe, type AdminFactoryContext } from '../../runtime/serve.js';
import { stateUrlFrom } from '../../runtime/state/open.js';
import { parseStateUrl, StateUrlError } from '../../runtime/state/url.js';
import { checkProviderUrls } from '../../runtime/server.js';
import { TableFormatError } from '../../runtime/table/format.js';
import { UsageError, intFlag, loadTable } from '../args.js';

export const SERVE_USAGE = `usage: vmc serve --table FILE [options]

Runs the gateway. SIGHUP reloads the table, SIGTERM drains in-flight requests and exits 0.

options:
  -t, --table FILE            the routing table (table.vmct from \`vmc build\`)
      --host HOST             interface to bind (default 127.0.0.1)
  -p, --port N                port (default 8080)
  -w, --workers N             worker processes sharing the port (default 1); admin changes
                              and /metrics cover every worker; workers that keep failing at
                              start make the gateway exit 1
      --max-body BYTES        request body limit, 413 above it (default 4194304)
      --max-connections N     open client connections per process at most; more are refused
      --max-inflight-body BYTES
                              request body bytes held in memory per process at most; requests
                              beyond it are refused (503) until others finish
      --allowed-hosts H1,H2   Host header values admitted (\`host\` or \`host:port\`); requests
                              naming another host are refused (protects a local gateway from
                              web pages; default: any host)
      --forwarded-for         send the client's address to providers in x-forwarded-for
                              (appended to the client's own value); default: the header is
                              not sent, so end users' addresses do not reach providers
      --provider-url NAME=URL replace provider NAME's base_url (repeatable); NAME must be a
                              provider of the table (staging, simulated providers)
      --state-dir DIR         where admin changes (and admin-created keys) persist
                              (default: beside the table)
      --state URL             keep admin changes and admin keys in Redis, shared by every
                              replica (SPEC §14): redis://[[USER]:PASS@]HOST[:PORT][/DB] or
                              rediss://… (TLS), optional ?prefix=NAME: (default vmc:); a change
                              through any replica is served by all within a second, and their
                              cooldowns are shared; while Redis is down replicas serve the last
                              state they had (GET /health "state": "degraded") and admin
                              writes answer 503. Default: VMC_STATE_URL, else the local state file
      --no-watch              do not reload when the table file changes
      --keys FILE             caller keys (SPEC §12; YAML or JSON, hashes only, see
                              \`vmc keys\`): every inference request and GET /v1/models then
                              needs Authorization: Bearer <key> or x-api-key: <key> (401
                              otherwise); the key sets the caller's user path, which
                              x-vmc-user-path may only narrow (403 otherwise); edits of FILE
                              apply within a second. Without --keys, access policies trust
                              the client's x-vmc-user-path header
      --require-keys          refuse to start without --keys (exit 1)

environment:
  VMC_STATE_URL     the --state URL (the flag wins)
  VMC_ADMIN_TOKEN   enables the admin API (bearer token); without it every /admin/* route
                    answers 403 "admin is disabled"
  VMC_LOG           info (default) | warn | silent
  VMC_HTTP_ENGINE   uws | node: force an HTTP engine (default: uws where a native build loads
                    for this Node, else node:http; GET /health and the start-up line say which)
  provider api_key_env variables: the upstream credentials
`;

/** `--provider-url NAME=URL` values → a map; a malformed value or a repeated name is a usage error. */
export function providerUrlFlags(values: readonly string[] | undefined): Map<string, string> | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const out = new Map<string, string>();
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0 || eq === v.length - 1) throw new UsageError(`--provider-url takes NAME=URL (got ${JSON.stringify(v)})`);
    const name = v.slice(0, eq).trim();
    if (out.has(name)) throw new UsageError(`--provider-url ${name} is given twice`);
    out.set(name, v.slice(eq + 1).trim());
  }
  return out;
}

/** `--allowed-hosts a,b:8080` → lower-case entries. */
function hostList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const hosts = value
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  if (hosts.length === 0) throw new UsageError('--allowed-hosts needs at least one host');
  return hosts;
}

/** A positive integer flag, or undefined when absent. */
function capFlag(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = intFlag(value, name, 0);
  if (n === 0) throw new UsageError(`${name} must be a positive integer (got ${value})`);
  return n;
}

export async function runServeCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      table: { type: 'string', short: 't' },
      host: { type: 'string' },
      port: { type: 'string', short: 'p' },
      workers: { type: 'string', short: 'w' },
      'max-body': { type: 'string' },
      'max-connections': { type: 'string' },
      'max-inflight-body': { type: 'string' },
      'allowed-hosts': { type: 'string' },
      'forwarded-for': { type: 'boolean' },
      'provider-url': { type: 'string', multiple: true },
      'state-dir': { type: 'string' },
      'no-watch': { type: 'boolean' },
      state: { type: 'string' },
      keys: { type: 'string' },
      'require-keys': { type: 'boolean' },
    },
  });
  if (!values.table) throw new UsageError('--table FILE is required');
  if (values['require-keys'] && !values.keys) {
    process.stderr.write('vmc serve: --require-keys: no keys file given; start with --keys FILE (create one with `vmc keys create`)\n');
    return 1;
  }
  if (values.keys !== undefined) {
    // Checked once here, so that a bad file stops the start with its positioned diagnostics
    // (exit 1) before any worker is forked.
    try {
      await readKeysFile(values.keys);
    } catch (err) {
      if (!(err instanceof KeysFileError)) throw err;
      process.stderr.write(`vmc serve: cannot start: invalid keys file\n${err.message}\n`);
      return 1;
    }
  }
  const stateUrl = stateUrlFrom(values.state);
  if (stateUrl !== undefined) {
    // a bad --state is a usage error (exit 2), before anything starts; the message never shows a password
    try {
      parseStateUrl(stateUrl);
    } catch (err) {
      if (err instanceof StateUrlError)
        throw new UsageError(values.state === undefined ? err.message.replace('--state', 'VMC_STATE_URL') : err.message);
      throw err;
    }
  }
  const providerUrls = providerUrlFlags(values['provider-url']);
  if (providerUrls !== undefined) {
    // Checked here too so that a wrong name is a usage error (exit 2) naming the table's providers.
    try {
      checkProviderUrls(await loadTable(values.table), providerUrls);
    } catch (err) {
      if (err instanceof TableFormatError) throw err;
      throw new UsageError((err as Error).message);
    }
  }
  const opts = {
    tablePath: values.table,
    host: values.host ?? '127.0.0.1',
    port: intFlag(values.port, '--port', 8080),
    workers: intFlag(values.workers, '--workers', 1),
    maxBody: intFlag(values['max-body'], '--max-body', 4 * 1024 * 1024),
    maxConnections: capFlag(values['max-connections'], '--max-connections'),
    maxInflightBodyBytes: capFlag(values['max-inflight-body'], '--max-inflight-body'),
    allowedHosts: hostList(values['allowed-hosts']),
    forwardedFor: values['forwarded-for'] === true,
    providerUrls,
    stateDir: values['state-dir'],
    watch: !values['no-watch'],
    keysFile: values.keys,
    stateUrl,
    admin: ({ tablePath, stateDir, store }: AdminFactoryContext) => createAdminBackend({ tablePath, stateDir, store }),
  };
  try {
    await runServe(opts);
  } catch (err) {
    if (err instanceof UsageError || err instanceof TableFormatError) throw err;
    // A start-up failure (port in use, unreadable table…): one clear line, exit 1.
    process.stderr.write(`vmc serve: cannot start: ${(err as Error).message}\n`);
    process.exit(1);
  }
  // runServe owns the process from here: it exits 0 after a SIGTERM drain.
  await new Promise<never>(() => undefined);
  return 0;
}
