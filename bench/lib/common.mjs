/**
 * Shared helpers of the benchmark drivers: argument parsing, progress lines, running one
 * case in a fresh child process (find-my-way `benchmark/bench.js` style) and small stats.
 */
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const TMP = fileURLToPath(new URL('../.tmp/', import.meta.url));

/** `--flag`, `--key value`, `--key=value` → object (values are strings; flags are true). */
export function parseFlags(argv) {
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    if (eq > 0) out[a.slice(2, eq)] = a.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith('--')) out[a.slice(2)] = argv[++i];
    else out[a.slice(2)] = true;
  }
  return out;
}

/** A free TCP port on 127.0.0.1 (closed again before it is returned: the caller binds it). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Resolves once `GET base/health` answers, polling every 100 ms; rejects after `tries` polls. */
export async function waitHealth(base, tries = 300) {
  for (let i = 0; ; i++) {
    try {
      await (await request(`${base}/health`)).body.dump();
      return;
    } catch (err) {
      if (i > tries) throw err;
      await sleep(100);
    }
  }
}

/** Arguments of bench/lib/load.mjs: a closed loop of `connections` clients posting `bodyPath` to `url` for `seconds` after `warmup` s. */
export function closedLoadArgs(url, bodyPath, seconds, connections, warmup = 0) {
  return [...loadArgs('closed', url, bodyPath, seconds, warmup), '--connections', String(connections)];
}

/** Arguments of bench/lib/load.mjs: an open loop of `rate` req/s posting `bodyPath` to `url` for `seconds` after `warmup` s. */
export function pacedLoadArgs(url, bodyPath, seconds, rate, warmup = 0) {
  return [...loadArgs('paced', url, bodyPath, seconds, warmup), '--rate', String(rate)];
}

function loadArgs(mode, url, bodyPath, seconds, warmup) {
  return ['--mode', mode, '--url', url, '--body-file', bodyPath, '--duration', String(seconds), '--warmup', String(warmup)];
}

const started = performance.now();
/** One progress line on stderr, prefixed with the elapsed time of the whole process. */
export function progress(msg) {
  const s = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[${s}s] ${msg}\n`);
}

/**
 * Runs `node [nodeFlags] script args` as a fresh process and resolves with the last stdout
 * line parsed as JSON. Rejects on a non-zero exit or after `timeoutMs` (the child is killed).
 */
export function runChild(script, args, { nodeFlags = [], timeoutMs = 300_000, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeFlags, script, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`case timed out after ${timeoutMs} ms: ${script} ${args.join(' ')}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`case failed (${signal ?? code}): ${script} ${args.join(' ')}\n${err.slice(-2000)}`));
        return;
      }
      const last = out.trim().split('\n').pop();
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`case printed no JSON result: ${script} ${args.join(' ')}\n${out.slice(-500)}\n${err.slice(-1000)}`));
      }
    });
  });
}

/** count, mean and nearest-rank percentiles (p50 … p99.9, max) of latency samples in ms. */
export function summarize(values) {
  const s = Float64Array.from(values).sort();
  const q = (p) => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]);
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s[i];
  return {
    count: s.length,
    mean: sum / s.length,
    p50: q(50),
    p90: q(90),
    p99: q(99),
    p999: q(99.9),
    max: s.length ? s[s.length - 1] : NaN,
  };
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Machine facts for the report header. */
export function machine() {
  const c = cpus();
  let model = c[0]?.model ?? 'unknown';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const m = /model name\s*:\s*(.+)/.exec(info);
    if (m) model = m[1].trim();
  } catch {
    /* not Linux */
  }
  return {
    cpu: model,
    cores: c.length,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    date: new Date().toISOString(),
  };
}

/**
 * CPU time of one process (all its threads), in µs, from /proc/PID/stat (Linux):
 * `which` = 'total' (utime + stime), 'user' or 'system'.
 */
export function procCpuMicros(pid, which = 'total') {
  const rest = statFields(pid);
  // utime and stime are fields 14 and 15 of /proc/PID/stat (11 and 12 after the command)
  const ticks = which === 'user' ? Number(rest[11]) : which === 'system' ? Number(rest[12]) : Number(rest[11]) + Number(rest[12]);
  return (ticks * 1e6) / clockTicks();
}

/** Fields of /proc/PID/stat after the parenthesised command name (field 3 onwards). */
function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

let clkTck = 0;
function clockTicks() {
  if (clkTck === 0) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** pid and all its live descendants (e.g. cluster workers), found through the ppid field of /proc/N/stat. */
export function processTree(pid) {
  const parent = new Map();
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

/** CPU µs summed over a list of pids (take the list once, sample before and after). */
export function treeCpuMicros(pids, which = 'total') {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += procCpuMicros(pid, which);
    } catch {
      /* exited */
    }
  }
  return sum;
}

/** Machine-wide CPU ticks from /proc/stat: { busy, total } (busy excludes idle and iowait). */
export function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - (f[4] ?? 0), total, steal: f[7] ?? 0, hz: clockTicks() };
}

/** Cores kept busy machine-wide between two machineTicks() samples taken `wallMs` apart. */
export function machineCoresBusy(a, b, wallMs) {
  return (b.busy - a.busy) / a.hz / (wallMs / 1000);
}

export const fmt = {
  int: (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '—'),
  f1: (n) => (Number.isFinite(n) ? n.toFixed(1) : '—'),
  f2: (n) => (Number.isFinite(n) ? n.toFixed(2) : '—'),
  f3: (n) => (Number.isFinite(n) ? n.toFixed(3) : '—'),
  /** A difference with its sign: +0.250, −0.250. */
  d3: (n) => (Number.isFinite(n) ? `${n < 0 ? '−' : '+'}${Math.abs(n).toFixed(3)}` : '—'),
  ratio: (n) => (Number.isFinite(n) ? `${n >= 10 ? n.toFixed(0) : n.toFixed(1)}×` : '—'),
  /** A paired ratio (bench/floor.mjs): `median (q1–q3)`, `—` when there is none. */
  paired: (p) => (p ? `${fmt.f2(p.median)} (${fmt.f2(p.q1)}–${fmt.f2(p.q3)})` : '—'),
};
