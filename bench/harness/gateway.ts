/**
 * Gateways under test (SPEC §11 `gateway:`): a `vmc serve` process the harness starts on the
 * scenario's config or table with every provider pointed at its simulated provider, or a
 * gateway already running (`url:`), which the harness only sends load to.
 *
 * Pointing providers at the simulators: with `vmc serve --provider-url NAME=URL` when the
 * CLI has it (the table is served as built); otherwise the table is re-lowered from its
 * normalized form with the base URLs replaced (same routing, other bytes).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lowerTable } from '../../compiler/lower.js';
import type { NormConfig } from '../../runtime/table/normalized.js';
import { SIM_TOKEN_PATH } from '../sim/server.js';
import type { GatewayPlan } from './plan.js';
import { cpuMicros, freePort, processTree, ROOT, rssBytes, sleep } from './proc.js';
import type { SimHost } from './sim-host.js';

/** Value given to every provider's api_key_env in a harness-started gateway: no real key is ever sent. */
export const SIMULATED_KEY = 'vmc-bench-simulated-key';
/** Access key id of a Bedrock provider in a harness-started gateway (its secret is {@link SIMULATED_KEY}). */
const SIMULATED_AWS_KEY_ID = 'AKIAVMCBENCHSIMULATED';

export interface RunningGateway {
  readonly name: string;
  /** Base URL without `/v1`. */
  readonly url: string;
  /** The process the harness started (null in url mode). */
  readonly pid: number | null;
  /** How the gateway was started, for the report. */
  readonly how: string;
  /** Why the harness-started process is gone (null while it runs, or not harness-started). */
  exitedWith(): string | null;
  /** CPU µs of its process tree (NaN when not harness-started). */
  cpuMicros(): number;
  /** Resident memory of its process tree, bytes (NaN when not harness-started). */
  rssBytes(): number;
  stop(): Promise<void>;
}

let simulatedKeyPem: string | undefined;

/**
 * A service-account JSON for a Vertex provider of a harness-started gateway: a key made for
 * this run (never a real account) and its simulated provider's token endpoint as `token_uri`,
 * so the gateway's OAuth exchange (runtime/providers/google-oauth.ts) runs for real against
 * the simulator. Returns the file's path.
 */
function simulatedGoogleCredentials(workDir: string, gateway: string, provider: string, simUrl: string): string {
  simulatedKeyPem ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  const path = join(workDir, `${gateway}.${provider}.google-credentials.json`);
  const account = {
    type: 'service_account',
    project_id: 'vmc-bench-simulated',
    private_key_id: 'simulated',
    private_key: simulatedKeyPem,
    client_email: `vmc-bench@${provider}.simulated`,
    client_id: '0',
    token_uri: `${simUrl}${SIM_TOKEN_PATH}`,
  };
  writeFileSync(path, JSON.stringify(account), { mode: 0o600 });
  return path;
}

let providerUrlFlag: boolean | undefined;

/** Does `vmc serve` take `--provider-url` (SPEC §11)? Asked once per process. */
export function serveHasProviderUrl(): boolean {
  if (providerUrlFlag === undefined) {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin/vmc.js'), 'serve', '--help'], { encoding: 'utf8', timeout: 20_000 });
    providerUrlFlag = /--provider-url/.test(`${r.stdout}${r.stderr}`);
  }
  return providerUrlFlag;
}

/**
 * The base URL a provider of `type` gets for a simulated provider at `simUrl`: OpenAI's
 * paths start after `/v1`; Anthropic, Azure, Gemini and Vertex append their own paths to the host.
 */
export function simBaseUrl(type: string, simUrl: string): string {
  return type === 'openai' ? `${simUrl}/v1` : simUrl;
}

/**
 * Starts (or attaches to) one gateway of the plan. The port is picked free and then bound by
 * the gateway, so another process may take it in between: a start that fails to bind is
 * retried on another port.
 */
export async function startGateway(g: GatewayPlan, sims: SimHost, workDir: string): Promise<RunningGateway> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(g, sims, workDir);
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt >= 3) throw err;
    }
  }
}

class PortTaken extends Error {}

/** The process id in a `pid_file` (a running process), or a clear error. */
function readPidFile(file: string): number {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`pid_file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`pid_file ${file}: no process id in it`);
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw new Error(`pid_file ${file}: process ${pid} is not running`);
  }
  return pid;
}

async function startOnce(g: GatewayPlan, sims: SimHost, workDir: string): Promise<RunningGateway> {
  if (g.mode === 'url') {
    const pid = g.pidFile === null ? null : readPidFile(g.pidFile);
    const pids = pid === null ? [] : processTree(pid); // the tree as it is at start (nginx: master + workers)
    return {
      name: g.name,
      url: g.url!,
      pid,
      how: `already running at ${g.url}${pid === null ? '' : ` (process ${pid} and ${pids.length - 1} children measured)`}`,
      exitedWith: () => null,
      cpuMicros: () => (pid === null ? NaN : cpuMicros(pids)),
      rssBytes: () => (pid === null ? NaN : rssBytes(pids)),
      stop: async () => undefined,
    };
  }
  const e = g.expectations!;
  mkdirSync(workDir, { recursive: true });
  const args: string[] = [];
  let tablePath: string;
  let how: string;
  if (serveHasProviderUrl()) {
    // The table as built (or as compiled from the config), the providers pointed elsewhere at start.
    if (e.tablePath !== null) tablePath = e.tablePath;
    else writeFileSync((tablePath = join(workDir, `${g.name}.vmct`)), e.bytes);
    for (const p of e.norm.providers) args.push('--provider-url', `${p.name}=${simBaseUrl(p.type, sims.url(p.name))}`);
    how = `vmc serve on ${e.label} --provider-url (every provider → its simulated provider)`;
  } else {
    const norm: NormConfig = {
      ...e.norm,
      providers: e.norm.providers.map((p) => ({ ...p, baseUrl: simBaseUrl(p.type, sims.url(p.name)) })),
    };
    tablePath = join(workDir, `${g.name}.vmct`);
    writeFileSync(tablePath, lowerTable(norm));
    how = `vmc serve on ${e.label} (base URLs → simulated providers)`;
  }
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, VMC_LOG: process.env.VMC_BENCH_GATEWAY_LOG ?? 'warn', VMC_ADMIN_TOKEN: '' };
  for (const p of e.norm.providers) {
    if (p.apiKeyEnv !== null) env[p.apiKeyEnv] = SIMULATED_KEY;
    const file = p.options?.credentialsFileEnv;
    if (p.type === 'vertex' && file !== undefined) env[file] = simulatedGoogleCredentials(workDir, g.name, p.name, sims.url(p.name));
    const aws = p.options?.credentialsEnv;
    if (p.type === 'bedrock' && aws !== undefined) {
      // requests are SigV4-signed for real, with credentials that exist only in this run
      env[aws.accessKeyId] = SIMULATED_AWS_KEY_ID;
      env[aws.secretAccessKey] = SIMULATED_KEY;
      if (aws.sessionToken !== null) env[aws.sessionToken] = SIMULATED_KEY;
    }
  }
  const logPath = join(workDir, `${g.name}.log`);
  const fd = openSync(logPath, 'w');
  const child: ChildProcess = spawn(
    process.execPath,
    [
      join(ROOT, 'bin/vmc.js'),
      'serve',
      '--table',
      tablePath,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--workers',
      String(g.workers),
      '--no-watch',
      '--state-dir',
      join(workDir, `${g.name}-state`),
      ...args,
    ],
    { cwd: workDir, env, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  let exited: { code: number | null; signal: string | null } | null = null;
  const exit = new Promise<void>((r) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      r();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const until = Date.now() + 30_000;
  for (;;) {
    if (exited !== null) {
      const log = tail(logPath);
      if (/EADDRINUSE|cannot listen|address in use/i.test(log)) throw new PortTaken(log);
      throw new Error(`gateway "${g.name}" exited during start-up (${JSON.stringify(exited)}):\n${log}`);
    }
    try {
      const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`gateway "${g.name}" did not answer /health within 30 s:\n${tail(logPath)}`);
    }
    await sleep(50);
  }
  if (g.workers > 1) await sleep(200 * g.workers); // let every cluster worker bind the port
  const pids = processTree(child.pid!);
  return {
    name: g.name,
    url,
    pid: child.pid!,
    how: `${how}, ${g.workers} worker${g.workers === 1 ? '' : 's'}`,
    exitedWith: () => (exited === null ? null : `exit ${JSON.stringify(exited)}; log ${logPath}:\n${tail(logPath)}`),
    cpuMicros: () => cpuMicros(pids),
    rssBytes: () => rssBytes(pids),
    async stop() {
      if (exited !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => {
        for (const pid of processTree(child.pid!).reverse()) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }, 10_000);
      await exit;
      clearTimeout(t);
    },
  };
}

export function tempWorkDir(): string {
  const dir = join(tmpdir(), `vmc-bench-${process.pid}-${Date.now().toString(36)}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-20).join('\n');
  } catch {
    return '';
  }
}
