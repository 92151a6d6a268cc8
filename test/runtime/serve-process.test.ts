/**
 * `vmc serve` as a real process (SPEC §6, §9): SIGTERM drains in-flight requests and exits
 * 0, SIGHUP reloads the table file, `--workers 2` (node:cluster over SO_REUSEPORT) serves and
 * drains too. Spawns the CLI when it registers `serve`, else test/runtime/fixtures/serve.mjs
 * (the same runServe call the CLI makes). Both run the built code in dist/.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTableFromYaml } from '../../compiler/testing.js';
import type { MockProvider } from '../../bench/sim/simulated-provider.js';
import { RoutingTable } from '../../runtime/table/reader.js';
import { chat, closeAll, post, providersYaml, startMocks } from './harness.js';
import { freePort } from '../../bench/harness/proc.js';

const ROOT = join(import.meta.dirname, '..', '..');

function newestMtime(dir: string): number {
  let t = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    t = Math.max(t, s.isDirectory() ? newestMtime(p) : name.endsWith('.ts') ? s.mtimeMs : 0);
  }
  return t;
}

/** The spawned code runs from dist/: rebuild when a source is newer (vitest run alone). */
function ensureBuilt(): void {
  const out = join(ROOT, 'dist', 'runtime', 'server.js');
  if (existsSync(out) && statSync(out).mtimeMs >= newestMtime(join(ROOT, 'runtime'))) return;
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error('build failed');
}

function cliHasServe(): boolean {
  const cli = join(ROOT, 'dist', 'bin', 'cli.js');
  return existsSync(cli) && /registerCommand\(\s*['"]serve['"]|\bserve:\s*\w+/.test(readFileSync(cli, 'utf8'));
}

/** True when a new TCP connection to the port is refused. */
function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    sock.on('connect', () => {
      sock.destroy();
      resolve(false);
    });
    sock.on('error', () => resolve(true));
  });
}

interface Served {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  exit: Promise<number | null>;
}

/** Spawns the gateway and waits until it logs that it listens. */
async function serve(tablePath: string, port: number, workers = 1): Promise<Served> {
  const args = cliHasServe()
    ? [join(ROOT, 'bin', 'vmc.js'), 'serve', '--table', tablePath, '--port', String(port), '--workers', String(workers)]
    : [join(ROOT, 'test', 'runtime', 'fixtures', 'serve.mjs'), tablePath, String(port), String(workers)];
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, VMC_LOG: 'info' }, stdio: ['ignore', 'ignore', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let buf = '';
  const ready = new Promise<void>((resolve, reject) => {
    const want = workers > 1 ? 'cluster listening' : 'gateway listening';
    child.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const j = JSON.parse(line) as Record<string, unknown>;
          lines.push(j);
          if (j.msg === want) resolve();
        } catch {
          lines.push({ raw: line });
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`gateway exited early (${code}): ${JSON.stringify(lines)}`)));
    setTimeout(() => reject(new Error('gateway did not start in 15 s')), 15_000);
  });
  await ready;
  return { child, lines, exit };
}

let mocks: MockProvider[];
let dir: string;

/** Waits until mock p0 has received `n` requests (bounded). */
async function reachedUpstream(n: number): Promise<void> {
  for (let i = 0; i < 500 && mocks[0].requests.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  expect(mocks[0].requests.length).toBeGreaterThanOrEqual(n);
}
let tablePath: string;
const yaml = (target: string) => `version: 1\n${providersYaml(mocks, ['m1'])}virtual_models:\n  x: { target: ${target} }\n`;

beforeAll(async () => {
  ensureBuilt();
  mocks = await startMocks(['p0', 'p1']);
  dir = await mkdtemp(join(tmpdir(), 'vmc-serve-'));
  tablePath = join(dir, 'table.vmct');
}, 60_000);
afterAll(async () => {
  await closeAll(...mocks);
  await rm(dir, { recursive: true, force: true });
});

describe('serve process', () => {
  it('SIGTERM: stops accepting, finishes in-flight requests, exits 0', async () => {
    await writeFile(tablePath, await buildTableFromYaml(yaml('p0/m1')));
    const port = await freePort();
    const s = await serve(tablePath, port);
    mocks[0].setBehavior({ firstByteDelayMs: 600 });
    try {
      const base = `http://127.0.0.1:${port}`;
      expect((await post(base + '/v1/chat/completions', chat('x'))).status).toBe(200);
      const before = mocks[0].requests.length;
      const inflight = [post(base + '/v1/chat/completions', chat('x')), post(base + '/v1/chat/completions', chat('x'))];
      for (const p of inflight) p.catch(() => undefined); // asserted below; no unhandled rejection if the test fails early
      await reachedUpstream(before + 2); // in flight inside the gateway, not in the accept backlog
      s.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 100));
      expect(await connectRefused(port)).toBe(true); // the listen socket is closed
      const done = await Promise.all(inflight);
      expect(done.map((r) => r.status)).toEqual([200, 200]);
      expect(await s.exit).toBe(0);
      expect(s.lines.some((l) => l.msg === 'draining')).toBe(true);
    } finally {
      mocks[0].setBehavior({});
      s.child.kill('SIGKILL');
    }
  }, 30_000);

  it('SIGHUP reloads the table file', async () => {
    await writeFile(tablePath, await buildTableFromYaml(yaml('p0/m1')));
    const port = await freePort();
    const s = await serve(tablePath, port);
    try {
      const base = `http://127.0.0.1:${port}`;
      expect((await post(base + '/v1/chat/completions', chat('x'))).headers.get('x-vmc-target')).toBe('p0/m1');
      const next = await buildTableFromYaml(yaml('p1/m1'));
      await writeFile(tablePath, next);
      s.child.kill('SIGHUP');
      const want = RoutingTable.decode(next).hashHex;
      let hash = '';
      for (let i = 0; i < 100 && hash !== want; i++) {
        hash = ((await (await fetch(base + '/health')).json()) as { table_hash: string }).table_hash;
        if (hash !== want) await new Promise((r) => setTimeout(r, 30));
      }
      expect(hash).toBe(want);
      expect((await post(base + '/v1/chat/completions', chat('x'))).headers.get('x-vmc-target')).toBe('p1/m1');
      s.child.kill('SIGTERM');
      expect(await s.exit).toBe(0);
    } finally {
      s.child.kill('SIGKILL');
    }
  }, 30_000);

  it('--workers 2: both workers serve on one port; SIGTERM drains them and exits 0', async () => {
    await writeFile(tablePath, await buildTableFromYaml(yaml('p0/m1')));
    const port = await freePort();
    const s = await serve(tablePath, port, 2);
    try {
      const base = `http://127.0.0.1:${port}`;
      const results = await Promise.all(Array.from({ length: 30 }, () => post(base + '/v1/chat/completions', chat('x'))));
      expect(results.every((r) => r.status === 200)).toBe(true);
      const listening = s.lines.filter((l) => l.msg === 'gateway listening');
      expect(listening).toHaveLength(2);
      mocks[0].setBehavior({ firstByteDelayMs: 400 });
      const before = mocks[0].requests.length;
      const inflight = post(base + '/v1/chat/completions', chat('x'));
      await reachedUpstream(before + 1);
      s.child.kill('SIGTERM');
      expect((await inflight).status).toBe(200);
      expect(await s.exit).toBe(0);
    } finally {
      mocks[0].setBehavior({});
      s.child.kill('SIGKILL');
    }
  }, 30_000);
});
