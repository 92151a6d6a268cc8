/**
 * Process facts from /proc (Linux): CPU time and resident memory of a process and its
 * descendants (a gateway's cluster workers), free ports, and where the built files live.
 * Elsewhere the CPU and memory metrics are absent (never invented).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The package root (from bench/harness/ in the source, dist/bench/harness/ when built). */
export const ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/bench/') ? '../../../' : '../../', import.meta.url));

/** A built module of the package: dist/<rel>.js (the harness spawns built code only). */
export function distPath(rel: string): string {
  const p = `${ROOT}dist/${rel}`;
  if (!existsSync(p)) throw new Error(`vmc bench: ${p} is missing — build first (npm run build)`);
  return p;
}

let clkTck = 0;
function clockTicks(): number {
  if (clkTck === 0) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** True when /proc is there to read. */
export const HAVE_PROC = existsSync('/proc/self/stat');

/** pid and its live descendants. */
export function processTree(pid: number): number[] {
  if (!HAVE_PROC) return [pid];
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    const n = Number(name);
    if (!Number.isInteger(n) || n <= 0) continue;
    try {
      parent.set(n, Number(statFields(n)[1]));
    } catch {
      /* exited meanwhile */
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [child, pp] of parent) if (pp === out[i]) out.push(child);
  return out;
}

/** utime + stime of the pids, µs (NaN without /proc). */
export function cpuMicros(pids: readonly number[]): number {
  if (!HAVE_PROC) return NaN;
  let sum = 0;
  for (const pid of pids) {
    try {
      const f = statFields(pid);
      sum += ((Number(f[11]) + Number(f[12])) * 1e6) / clockTicks();
    } catch {
      /* exited */
    }
  }
  return sum;
}

/** Resident memory of the pids, bytes (NaN without /proc). */
export function rssBytes(pids: readonly number[]): number {
  if (!HAVE_PROC) return NaN;
  let sum = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) sum += Number(m[1]) * 1024;
    } catch {
      /* exited */
    }
  }
  return sum;
}

/** A free TCP port on 127.0.0.1 (bound and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a !== null ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
