#!/usr/bin/env node
// `vmc bench` against three replicas behind nginx sharing Redis (SPEC §14, docs/deploy.md),
// on loopback: while the measured load runs, Redis is killed and restarted empty, then the
// table is replaced on every replica with deploy/rolling-update.sh. The scenario's threshold
// `errors.count == 0` makes `vmc bench` exit 1 if any request failed.
//
//   node scripts/replicas-bench.mjs [--duration S] [--rate RPS] [--out DIR]
//
// Needs redis-server and nginx (Debian: apt-get install redis-server nginx-light) and a built
// dist/ (npm run build). Everything listens on 127.0.0.1, ephemeral ports; all processes are
// stopped at the end. Exit code: vmc bench's (0 every threshold held).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const VMC = join(ROOT, 'bin/vmc.js');
const { values } = parseArgs({ options: { duration: { type: 'string' }, rate: { type: 'string' }, out: { type: 'string' } } });
const DURATION_S = Number(values.duration ?? 14);
const RATE = Number(values.rate ?? 100);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (msg) => process.stderr.write(`replicas-bench: ${msg}\n`);
const which = (name) => {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (r.status === 0 && r.stdout.trim() !== '') return r.stdout.trim();
  for (const d of ['/usr/sbin', '/usr/bin']) if (existsSync(join(d, name))) return join(d, name);
  return null;
};
const freePort = () =>
  new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
const portOpen = (port) =>
  new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), res(true)));
    s.once('error', () => res(false));
  });
async function waitPort(port, what) {
  for (let i = 0; i < 200; i++) {
    if (await portOpen(port)) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen on ${port}`);
}

const REDIS = which('redis-server');
const NGINX = which('nginx');
if (REDIS === null || NGINX === null) {
  log(`needs redis-server and nginx (missing: ${[REDIS ? '' : 'redis-server', NGINX ? '' : 'nginx'].filter(Boolean).join(', ')})`);
  process.exit(2);
}

const children = [];
const track = (c) => (children.push(c), c);
const stopAll = async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  await sleep(300);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
};
process.on('SIGINT', () => void stopAll().then(() => process.exit(130)));

const dir = await mkdtemp(join(tmpdir(), 'vmc-replicas-bench-'));
const config = readFileSync(join(ROOT, 'fixtures/bench/vmc.yaml'), 'utf8');
const build = async (name, text) => {
  await writeFile(join(dir, `${name}.yaml`), text);
  const r = spawnSync(process.execPath, [VMC, 'build', join(dir, `${name}.yaml`), '--out', join(dir, name)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`vmc build: ${r.stderr}`);
  return join(dir, name, 'table.vmct');
};

let exitCode = 2;
try {
  const v1 = await build('v1', config);
  const v2 = await build('v2', `${config}\n  added-by-the-update: { target: openai/gpt-4o }\n`.replace('\n\n  added', '\n  added'));
  const [redisPort, nginxPort, openaiPort, anthropicPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);

  let redis = null;
  const startRedis = async () => {
    redis = track(
      spawn(REDIS, ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
        stdio: 'ignore',
      }),
    );
    await waitPort(redisPort, 'redis-server');
  };
  await startRedis();

  // three replicas, one table directory each (as on three machines)
  const replicas = [];
  for (let i = 0; i < 3; i++) {
    await mkdir(join(dir, `r${i}`));
    const table = join(dir, `r${i}`, 'table.vmct');
    await writeFile(table, await readFile(v1));
    const port = await freePort();
    const child = track(
      spawn(
        process.execPath,
        [VMC, 'serve', '--table', table, '--port', String(port), '--state', `redis://127.0.0.1:${redisPort}/0`].concat([
          '--provider-url',
          `openai=http://127.0.0.1:${openaiPort}/v1`,
          '--provider-url',
          `anthropic=http://127.0.0.1:${anthropicPort}`,
        ]),
        {
          stdio: ['ignore', 'ignore', 'inherit'],
          env: {
            ...process.env,
            VMC_LOG: 'warn',
            VMC_ADMIN_TOKEN: 'replicas-bench',
            OPENAI_API_KEY: 'sk-sim',
            ANTHROPIC_API_KEY: 'sk-sim',
          },
        },
      ),
    );
    replicas.push({ url: `http://127.0.0.1:${port}`, table, child });
    await waitPort(port, `replica ${i}`);
  }

  // nginx running deploy/nginx.conf with loopback addresses
  const prefix = join(dir, 'nginx');
  await mkdir(prefix);
  await chmod(prefix, 0o755);
  let conf = readFileSync(join(ROOT, 'deploy/nginx.conf'), 'utf8')
    .replace(/^worker_processes .*;$/m, 'worker_processes 1;')
    .replace(/^pid .*;$/m, `pid ${prefix}/nginx.pid;`)
    .replaceAll('/tmp/nginx-', `${prefix}/`)
    .replace(/^(\s*)server vmc-1:8080 .*;\n(\s*server vmc-\d+:8080 .*;\n)*/m, (_m, indent) =>
      replicas.map((r) => `${indent}server ${r.url.slice('http://'.length)} max_fails=1 fail_timeout=2s;\n`).join(''),
    )
    .replace(/^(\s*)listen 80;$/m, `$1listen 127.0.0.1:${nginxPort};`);
  await writeFile(join(prefix, 'nginx.conf'), conf);
  track(
    spawn(NGINX, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'error.log'), '-g', 'daemon off;'], {
      stdio: 'inherit',
    }),
  );
  await waitPort(nginxPort, 'nginx');

  const scenario = join(dir, 'scenario.yaml');
  await writeFile(
    scenario,
    `bench: 1
name: three replicas behind nginx, Redis outage and rolling update
gateway:
  url: http://127.0.0.1:${nginxPort}
  config: ${join(dir, 'v1.yaml')}
providers:
  openai: { port: ${openaiPort}, ttft_ms: 2 }
  anthropic: { port: ${anthropicPort}, ttft_ms: 2 }
workload:
  - { model: chat, weight: 3 }
  - { model: chat, endpoint: messages, stream: true }
load:
  - { mode: rate, rate: ${RATE}, duration_s: ${DURATION_S} }
baseline: false
thresholds:
  - "errors.count == 0"
  - "routing.share_error_pp < 6"
`,
  );
  log(
    `redis :${redisPort}, replicas ${replicas.map((r) => r.url).join(' ')}, nginx :${nginxPort}; vmc bench for ${DURATION_S} s at ${RATE} req/s`,
  );
  const benchArgs = [VMC, 'bench', scenario, ...(values.out ? ['--out', values.out] : [])];
  const bench = track(spawn(process.execPath, benchArgs, { stdio: 'inherit' }));
  const benchDone = new Promise((r) => bench.on('exit', (code) => r(code)));

  // the disruptions, inside the measured window (after the warm-up second and the start-up)
  await sleep(4000);
  log('killing redis (SIGKILL)');
  redis.kill('SIGKILL');
  await sleep(2000);
  const degraded = await Promise.all(replicas.map((r) => fetch(`${r.url}/health`).then((x) => x.json())));
  log(`replica state during the outage: ${degraded.map((h) => h.state).join(', ')}`);
  log('restarting redis (empty)');
  await startRedis();
  await sleep(1500);
  log('rolling update: deploy/rolling-update.sh');
  const ru = spawnSync('bash', [join(ROOT, 'deploy/rolling-update.sh'), v2, ...replicas.map((r) => `${r.url}=${r.table}`)], {
    encoding: 'utf8',
  });
  process.stderr.write(ru.stdout + ru.stderr);
  if (ru.status !== 0) throw new Error(`rolling-update.sh exited ${ru.status}`);
  exitCode = await benchDone;
  log(`vmc bench exited ${exitCode}`);
} catch (err) {
  log(`trouble: ${err.message}`);
  exitCode = 2;
} finally {
  await stopAll();
}
process.exit(exitCode);
