/**
 * nginx as the floor of the proxy benchmarks (issue 13): a plain keep-alive `proxy_pass`
 * reverse proxy written in C, started next to the gateway and measured in the same run.
 *
 * - Debian's `nginx-light` (or any nginx on PATH / in /usr/sbin); `findNginx()` returns null
 *   when there is none, and callers skip the column with a note (like the Portkey peer).
 * - No root and no system configuration: `-p <temp prefix> -c <our nginx.conf>`, every path
 *   (pid, error log, temp directories) inside the prefix; `daemon off`, one worker process.
 * - 127.0.0.1 only, on an ephemeral port chosen by the caller's `freePort()` (nginx cannot
 *   listen on port 0 and report it).
 * - Bounded lifetime: the master runs under coreutils `timeout`, so an nginx left behind by a
 *   killed driver still exits after `maxSeconds`.
 * - What makes it a fair floor: keep-alive to the upstream (`keepalive` pool, HTTP/1.1,
 *   `Connection: ""`), no request or connection limits (`keepalive_requests` high on both
 *   sides, so neither clients nor the upstream pool reconnect every 1000 requests, which vmc
 *   never does), no access log (vmc benchmarks with `VMC_LOG=warn`), `proxy_buffering off`
 *   (stream answers as they arrive, as vmc does — SSE needs it and JSON answers fit one read).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { freePort } from './common.mjs';

const CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx', '/usr/bin/nginx'];

/** Path of an nginx binary (`VMC_NGINX` wins), or null. */
export function findNginx() {
  const env = process.env.VMC_NGINX;
  if (env) return existsSync(env) ? env : null;
  for (const c of CANDIDATES) if (existsSync(c)) return c;
  try {
    const p = execFileSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).trim();
    return p === '' ? null : p;
  } catch {
    return null;
  }
}

/** `nginx -v` text, e.g. "nginx/1.22.1", or null (nginx prints it on stderr). */
export function nginxVersion(bin = findNginx()) {
  if (bin === null) return null;
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8', timeout: 10_000 });
  return /nginx\/\S+/.exec(`${r.stdout ?? ''}${r.stderr ?? ''}`)?.[0] ?? null;
}

export const NGINX_NOTE = 'nginx not found (Debian: apt-get install nginx-light; or set VMC_NGINX) — nginx column skipped';

/** The group of `nobody` on this system (`nogroup` on Debian, `nobody` elsewhere). */
function nobodyGroup() {
  try {
    const groups = readFileSync('/etc/group', 'utf8');
    return /^nogroup:/m.test(groups) ? 'nogroup' : 'nobody';
  } catch {
    return 'nobody';
  }
}

/**
 * nginx.conf text: one worker, a keep-alive upstream pool to `upstream` (host:port), `listen`
 * on 127.0.0.1:`port`, everything under `prefix`.
 */
export function nginxConfig({ prefix, port, upstream, workers = 1, extraLocation = '' }) {
  // As root, nginx switches its workers to `nobody`, whose group name differs between systems.
  const user = typeof process.getuid === 'function' && process.getuid() === 0 ? `user nobody ${nobodyGroup()};\n` : '';
  const t = (d) => join(prefix, 'tmp', d);
  return `# written by bench/lib/nginx.mjs (issue 13: the floor of the proxy benchmarks)
${user}worker_processes ${workers};
daemon off;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;
worker_rlimit_nofile 65536;
events {
  worker_connections 16384;
  multi_accept on;
}
http {
  access_log off;
  client_body_temp_path ${t('body')};
  proxy_temp_path ${t('proxy')};
  fastcgi_temp_path ${t('fastcgi')};
  uwsgi_temp_path ${t('uwsgi')};
  scgi_temp_path ${t('scgi')};
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_max_body_size 64m;
  client_body_buffer_size 1m;
  upstream sim {
    server ${upstream};
    keepalive 256;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://sim;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_read_timeout 300s;
${extraLocation}    }
  }
}
`;
}

/** Waits until 127.0.0.1:port accepts a TCP connection, or throws after `ms`. */
async function waitListening(port, ms, exited) {
  const until = Date.now() + ms;
  for (;;) {
    if (exited()) throw new Error('nginx exited at start');
    const ok = await new Promise((resolve) => {
      const s = createConnection({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nginx did not listen on 127.0.0.1:${port} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Starts nginx in front of `upstream` ("127.0.0.1:PORT"). Resolves with
 * `{ url, port, pid, prefix, version, stop() }`; `pid` is the master's (its worker is its
 * child: measure the process tree). Throws when nginx is not installed.
 */
export async function startNginx({ upstream, dir, port, workers = 1, maxSeconds = 3600, bin = findNginx() }) {
  if (bin === null) throw new Error(NGINX_NOTE);
  const prefix = dir;
  rmSync(prefix, { recursive: true, force: true });
  for (const d of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(prefix, 'tmp', d), { recursive: true });
  // workers may run as nobody (see nginxConfig): they must be able to use the temp directories
  for (const d of ['', 'tmp', 'tmp/body', 'tmp/proxy', 'tmp/fastcgi', 'tmp/uwsgi', 'tmp/scgi']) chmodSync(join(prefix, d), 0o777);
  const listenPort = port ?? (await freePort());
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, nginxConfig({ prefix, port: listenPort, upstream, workers }));
  // coreutils `timeout` bounds the lifetime even if our process dies without stopping it
  const child = spawn('timeout', ['-k', '5', String(maxSeconds), bin, '-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let exited = false;
  const exitedP = new Promise((resolve) => child.once('exit', () => ((exited = true), resolve())));
  try {
    await waitListening(listenPort, 10_000, () => exited);
  } catch (err) {
    child.kill('SIGKILL');
    let log = '';
    try {
      log = readFileSync(join(prefix, 'error.log'), 'utf8');
    } catch {
      /* none */
    }
    throw new Error(`${err.message}\n${stderr}${log}`.trim());
  }
  // the nginx master is the child of `timeout`
  let master = child.pid;
  try {
    master = Number(readFileSync(join(prefix, 'nginx.pid'), 'utf8').trim()) || child.pid;
  } catch {
    /* pid file not written yet: measure from `timeout` (its tree holds nginx) */
  }
  return {
    url: `http://127.0.0.1:${listenPort}`,
    port: listenPort,
    pid: child.pid,
    masterPid: master,
    prefix,
    version: nginxVersion(bin),
    /** Fast shutdown (SIGTERM to the master through `timeout`); resolves when it exited. */
    stop: async () => {
      if (!exited) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exitedP;
      clearTimeout(t);
    },
  };
}
