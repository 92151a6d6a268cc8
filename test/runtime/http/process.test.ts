/**
 * The engines as processes of their own (test/runtime/http/fixtures/listen-child.mjs, the built
 * code): at the file-descriptor limit the process must not spin at 100 % CPU (uSockets retries
 * a failing accept in a busy loop; reproduced with a low `ulimit -n` through prlimit) and it
 * serves again once descriptors are free; `maxConnections` refuses connections beyond the cap
 * (node: 503 + Retry-After; uWS: the listen socket closes, connections are refused) and takes
 * them again below it. Linux only (prlimit, /proc).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ENGINES, ensureDist, parseResponses, ROOT, sleep, waitFor } from './engines.js';

const CHILD = join(ROOT, 'test', 'runtime', 'http', 'fixtures', 'listen-child.mjs');
const HAVE_PRLIMIT = process.platform === 'linux' && spawnSync('prlimit', ['--version']).status === 0;

interface Child {
  proc: ChildProcess;
  port: number;
  lines: Record<string, unknown>[];
}

let children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  children = [];
});

async function startChild(opts: Record<string, unknown>, nofile?: number): Promise<Child> {
  const args = [process.execPath, CHILD, JSON.stringify(opts)];
  const proc = nofile === undefined ? spawn(args[0], args.slice(1)) : spawn('prlimit', [`--nofile=${nofile}:${nofile}`, ...args]);
  children.push(proc);
  const lines: Record<string, unknown>[] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      buf = buf.slice(nl + 1);
    }
  });
  await waitFor(() => lines.length > 0 || proc.exitCode !== null, 10_000, 'the child to listen');
  expect(lines[0]?.engine).toBe(opts.engine);
  return { proc, port: lines[0].port as number, lines };
}

/** CPU time (user + system) of a process, in clock ticks (100 per second on Linux). */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Opens `n` connections that stay idle (no request). */
function openIdle(port: number, n: number): net.Socket[] {
  return Array.from({ length: n }, () => {
    const s = net.connect(port, '127.0.0.1');
    s.on('error', () => {});
    return s;
  });
}

/** One GET on a new connection: status (0 = no answer), or 'refused'. */
function get(port: number, timeoutMs = 2000): Promise<number | 'refused'> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write('GET / HTTP/1.1\r\nHost: h\r\n\r\n'));
    let text = '';
    const t = setTimeout(() => (s.destroy(), resolve(0)), timeoutMs);
    s.on('data', (d) => {
      text += d;
      const [res] = parseResponses(text);
      if (res !== undefined) {
        clearTimeout(t);
        s.destroy();
        resolve(res.status);
      }
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolve(e.code === 'ECONNREFUSED' ? 'refused' : 0);
    });
    s.on('close', () => {
      clearTimeout(t);
      resolve(parseResponses(text)[0]?.status ?? 0);
    });
  });
}

/** GETs one at a time until a 200 (or 5 s pass); returns the last status. */
async function getEventually(port: number): Promise<number | 'refused'> {
  const end = performance.now() + 5000;
  let status: number | 'refused' = 0;
  while (performance.now() < end) {
    status = await get(port, 500);
    if (status === 200) break;
    await sleep(100);
  }
  return status;
}

beforeAll(() => ensureDist(), 120_000);

describe.runIf(HAVE_PRLIMIT).each(ENGINES)('%s engine process', (engine) => {
  it('at the descriptor limit: no busy loop, and it serves again once connections close', async () => {
    const child = await startChild({ engine }, 64);
    const socks = openIdle(child.port, 120); // more than 64 descriptors allow
    await sleep(500);
    const t0 = cpuTicks(child.proc.pid!);
    await sleep(1500);
    const used = cpuTicks(child.proc.pid!) - t0;
    // a spinning accept loop burns ~150 ticks here (one core); an idle server ~0
    expect(used).toBeLessThan(40);
    for (const s of socks) s.destroy();
    expect(await getEventually(child.port)).toBe(200);
  }, 20_000);

  it('maxConnections: a connection beyond the cap is not served (503 or refused); below it, served again', async () => {
    const child = await startChild({ engine, maxConnections: 5 });
    const held = openIdle(child.port, 5);
    await sleep(400); // uWS counts descriptors every 100 ms
    const over = await get(child.port);
    if (engine === 'node') expect(over).toBe(503);
    else expect(over === 'refused' || over === 0).toBe(true);
    for (const s of held.slice(0, 3)) s.destroy();
    expect(await getEventually(child.port)).toBe(200);
    for (const s of held) s.destroy();
    if (engine === 'uws') {
      expect(child.lines.some((l) => String(l.notice).startsWith('not accepting'))).toBe(true);
      expect(child.lines.some((l) => l.notice === 'accepting connections again')).toBe(true);
    }
  }, 20_000);
});
