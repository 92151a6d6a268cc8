/**
 * Real parts for the replica tests, on loopback: redis-server and nginx (Debian's packages,
 * installed by .ci/run), `vmc serve` processes. Each instance gets a temporary directory
 * and an ephemeral port, and is killed when the test ends; nothing is left running.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
export { freePort } from '../../bench/harness/proc.js';
import { freePort } from '../../bench/harness/proc.js';

export const ROOT = resolve(__dirname, '../..');

/** The path of an executable (PATH, then the Debian locations), or null. */
export function findBinary(name: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  const found = r.stdout.trim();
  if (r.status === 0 && found !== '') return found;
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

export const REDIS_SERVER = findBinary('redis-server');
export const NGINX = findBinary('nginx');

/** Says once, in the test output, why a suite is skipped. */
export function skipNote(what: string, missing: string[]): void {
  if (missing.length > 0) {
    console.warn(
      `[skipped] ${what}: ${missing.join(' and ')} not installed (CI installs them: .ci/run, apt-get install redis-server nginx-light)`,
    );
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function portOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

async function waitPort(port: number, child: ChildProcess, what: string, log: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await portOpen(port)) return;
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited: ${log()}`);
    await sleep(50);
  }
  throw new Error(`${what} did not listen on ${port}: ${log()}`);
}

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));

/** A redis-server on 127.0.0.1, no persistence (so a restart comes back empty). */
export class RedisServer {
  child: ChildProcess | null = null;
  #log = '';
  private constructor(
    readonly port: number,
    readonly dir: string,
    readonly password?: string,
  ) {}

  static async start(opts: { password?: string } = {}): Promise<RedisServer> {
    if (REDIS_SERVER === null) throw new Error('redis-server is not installed');
    const dir = await mkdtemp(join(tmpdir(), 'vmc-redis-'));
    const r = new RedisServer(await freePort(), dir, opts.password);
    await r.restart();
    return r;
  }

  get url(): string {
    return `redis://${this.password === undefined ? '' : `:${encodeURIComponent(this.password)}@`}127.0.0.1:${this.port}/0`;
  }

  /** Starts it again on the same port (empty: nothing is saved). */
  async restart(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir];
    args.push('--protected-mode', 'no', '--daemonize', 'no', '--logfile', '');
    if (this.password !== undefined) args.push('--requirepass', this.password);
    this.#log = '';
    const child = spawn(REDIS_SERVER!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (this.#log = (this.#log + d).slice(-4000)));
    child.stderr!.on('data', (d) => (this.#log = (this.#log + d).slice(-4000)));
    this.child = child;
    await waitPort(this.port, child, 'redis-server', () => this.#log);
  }

  /** Kills it (SIGKILL by default: an outage, not a shutdown). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (c === null) return;
    this.child = null;
    c.kill(signal);
    await exited(c);
  }
}

/** An nginx in front of `upstreams` (127.0.0.1 ports), with its own prefix directory. */
export class Nginx {
  #log = '';
  private constructor(
    readonly child: ChildProcess,
    readonly port: number,
    readonly prefix: string,
  ) {}

  /**
   * deploy/nginx.conf itself, with the listen address, the upstream servers and the paths
   * replaced for loopback: what the tests run is the example operators deploy.
   */
  static config(port: number, upstreams: number[], prefix: string): string {
    let conf = readFileSync(join(ROOT, 'deploy/nginx.conf'), 'utf8');
    const swap = (re: RegExp, by: string) => {
      if (!re.test(conf)) throw new Error(`deploy/nginx.conf: ${re} not found`);
      conf = conf.replace(re, by);
    };
    swap(/^worker_processes .*;$/m, 'worker_processes 1;');
    swap(/^pid .*;$/m, `pid ${prefix}/nginx.pid;`);
    swap(/\/tmp\/nginx-/g, `${prefix}/`);
    swap(/^(\s*)server vmc-1:8080 (.*);\n(\s*server vmc-\d+:8080 .*;\n)*/m, '');
    conf = conf.replace(
      /^(\s*)keepalive /m,
      (m, indent: string) => upstreams.map((p) => `${indent}server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;\n`).join('') + m,
    );
    swap(/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${port};`);
    return conf;
  }

  static async start(upstreams: number[]): Promise<Nginx> {
    if (NGINX === null) throw new Error('nginx is not installed');
    const prefix = await mkdtemp(join(tmpdir(), 'vmc-nginx-'));
    await chmod(prefix, 0o755); // nginx's workers run as another user when the master is root
    for (const d of ['client-body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'logs']) await mkdir(join(prefix, d), { recursive: true });
    const port = await freePort();
    await writeFile(join(prefix, 'nginx.conf'), Nginx.config(port, upstreams, prefix));
    const child = spawn(NGINX, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'error.log'), '-g', 'daemon off;'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const n = new Nginx(child, port, prefix);
    child.stdout!.on('data', (d) => (n.#log += d));
    child.stderr!.on('data', (d) => (n.#log += d));
    await waitPort(port, child, 'nginx', () => n.#log);
    return n;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    this.child.kill('SIGQUIT'); // graceful: finish the requests in flight
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited(this.child);
    clearTimeout(t);
  }
}

export const ADMIN_TOKEN = 'replicas-admin-token';

/** A `vmc serve` process on an ephemeral port (learnt from its start-up line). */
export class Replica {
  #stderr = '';
  port = 0;
  private constructor(readonly child: ChildProcess) {}

  static start(tablePath: string, args: string[], env: Record<string, string | undefined> = {}): Promise<Replica> {
    return Replica.exec(['serve', '--table', tablePath, '--port', '0', ...args], env);
  }

  /** `vmc ARGS` (a serve command whose port is 0 or known from its start-up line). */
  static async exec(cliArgs: string[], env: Record<string, string | undefined> = {}): Promise<Replica> {
    const child = spawn(process.execPath, [join(ROOT, 'bin/vmc.js'), ...cliArgs], {
      env: { ...process.env, VMC_ADMIN_TOKEN: ADMIN_TOKEN, VMC_LOG: 'info', VMC_STATE_URL: undefined, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const r = new Replica(child);
    child.stderr!.on('data', (d) => {
      r.#stderr += d;
      if (r.port === 0) {
        const m = /"msg":"gateway listening"[^\n]*"port":(\d+)/.exec(r.#stderr);
        if (m !== null) r.port = Number(m[1]);
      }
    });
    for (let i = 0; i < 300 && r.port === 0; i++) {
      if (child.exitCode !== null) throw new Error(`vmc serve exited ${child.exitCode}: ${r.#stderr}`);
      await sleep(50);
    }
    if (r.port === 0) {
      child.kill('SIGKILL');
      throw new Error(`vmc serve did not come up: ${r.#stderr}`);
    }
    return r;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Log lines (parsed) whose msg matches. */
  lines(msg: RegExp): Record<string, unknown>[] {
    return this.#stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return {};
        }
      })
      .filter((o) => typeof o.msg === 'string' && msg.test(o.msg));
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const done = new Promise<number | null>((r) => this.child.once('exit', (code) => r(code)));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    const code = await done;
    clearTimeout(t);
    return code;
  }
}
