#!/usr/bin/env node
/**
 * Compile scaling (SPEC §7, issue #4 part 3): `vmc build` on generated YAML configs of 1k,
 * 10k and 100k virtual models (weighted pools of 2–4 targets, split over several files),
 * each build the real CLI in its own process:
 *
 *   node bin/vmc.js build bench/.tmp/compile/<n>/ --out bench/.tmp/compile/<n>-out
 *
 * Recorded per size: wall time, peak RSS (`/usr/bin/time -v` "Maximum resident set size";
 * without it, VmHWM polled from /proc/PID/status), the phase timeline the CLI prints
 * (`vmc: <phase>… <elapsed>s`), artifact sizes, and the table load time: `RoutingTable.decode`
 * (frame + SHA-256 + structural validation) in a fresh process — the first call (cold JIT)
 * and the median of further calls.
 *
 *   node bench/compile.mjs [--quick] [--sizes 1000,10000,100000] [--json FILE]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT, TMP, fmt, median, parseFlags, progress, runChild } from './lib/common.mjs';
import { yamlFiles } from './lib/workload.mjs';

const SELF = fileURLToPath(import.meta.url);
const TIME = '/usr/bin/time';
const BUILD_TIMEOUT_MS = 15 * 60_000;

/** Runs one build; resolves with { code, wallMs, peakRssKiB, phases, stderr }. */
function build(dir, out) {
  return new Promise((resolve, reject) => {
    const useTime = existsSync(TIME);
    const args = [join(ROOT, 'bin/vmc.js'), 'build', dir, '--out', out];
    const child = useTime
      ? spawn(TIME, ['-v', process.execPath, '--max-old-space-size=8192', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, ['--max-old-space-size=8192', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const t0 = performance.now();
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => (stdout += d));
    let hwm = 0;
    const poll = useTime
      ? null
      : setInterval(() => {
          try {
            const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (m) hwm = Math.max(hwm, Number(m[1]));
          } catch {
            /* exited */
          }
        }, 25);
    const timer = setTimeout(() => child.kill('SIGKILL'), BUILD_TIMEOUT_MS);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const wallMs = performance.now() - t0;
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      const phases = [...stderr.matchAll(/^vmc: ([\w-]+)… ([\d.]+)s$/gm)].map((m) => ({ phase: m[1], at: Number(m[2]) }));
      resolve({
        code: code ?? signal,
        wallMs,
        peakRssKiB: rss ? Number(rss[1]) : hwm,
        phases,
        stderr: stderr.slice(-3000),
        stdout: stdout.slice(-1000),
      });
    });
  });
}

/** Child: decode timings of a table file. */
async function decodeCase(path) {
  const { RoutingTable } = await import('../dist/runtime/table/reader.js');
  const bytes = new Uint8Array(readFileSync(path));
  const t0 = performance.now();
  const table = RoutingTable.decode(bytes);
  const cold = performance.now() - t0;
  const warm = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    RoutingTable.decode(bytes);
    warm.push(performance.now() - t);
  }
  return { coldMs: cold, warmMs: median(warm), vmCount: table.vmCount, targetCount: table.targetCount };
}

export async function runCompile({ quick = false, sizes } = {}) {
  sizes ??= quick ? [1000, 10_000] : [1000, 10_000, 100_000];
  const { TABLE_FILE } = await import('../dist/compiler/emit-manifest.js');
  const rows = [];
  for (const n of sizes) {
    const dir = join(TMP, 'compile', String(n));
    const out = join(TMP, 'compile', `${n}-out`);
    rmSync(dir, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const files = yamlFiles(n, Math.max(1, Math.ceil(n / 5000)));
    let sourceBytes = 0;
    for (const f of files) {
      writeFileSync(join(dir, f.name), f.text);
      sourceBytes += Buffer.byteLength(f.text);
    }
    progress(`compile ${fmt.int(n)} vms: ${files.length} YAML files, ${fmt.int(sourceBytes / 1024)} KiB → vmc build …`);
    const r = await build(dir, out);
    if (r.code !== 0) {
      progress(`compile ${fmt.int(n)} vms: build FAILED (${r.code}) after ${fmt.f1(r.wallMs / 1000)} s\n${r.stderr}`);
      rows.push({ size: n, files: files.length, sourceBytes, failed: String(r.code), wallMs: r.wallMs, peakRssKiB: r.peakRssKiB });
      continue;
    }
    const size = (f) => (existsSync(join(out, f)) ? statSync(join(out, f)).size : NaN);
    const tablePath = join(out, TABLE_FILE);
    const d = await runChild(SELF, ['--decode', tablePath]);
    const row = {
      size: n,
      files: files.length,
      sourceBytes,
      wallMs: r.wallMs,
      peakRssKiB: r.peakRssKiB,
      phases: r.phases,
      tableBytes: size(TABLE_FILE),
      clientBytes: size('client.ts'),
      manifestBytes: size('manifest.json'),
      decodeColdMs: d.coldMs,
      decodeWarmMs: d.warmMs,
      targets: d.targetCount,
    };
    rows.push(row);
    progress(
      `compile ${fmt.int(n)} vms: ${fmt.f1(r.wallMs / 1000)} s wall, peak RSS ${fmt.int(r.peakRssKiB / 1024)} MiB, table ${fmt.int(row.tableBytes / 1024)} KiB, ` +
        `client.ts ${fmt.int(row.clientBytes / 1024)} KiB, decode ${fmt.f1(d.coldMs)} ms cold / ${fmt.f1(d.warmMs)} ms warm` +
        (r.phases.length ? `; phases: ${phaseText(r.phases, r.wallMs)}` : ''),
    );
  }
  return { rows };
}

/**
 * "load 7.9 s, lower 0.7 s, …": durations between the CLI's progress marks. The CLI prints
 * its first mark a second after it started (bin/progress.ts), so the first phase is counted
 * from 0; the last one runs until the process exited (writing the files included).
 */
function phaseText(phases, wallMs) {
  const seen = phases.filter((p, i) => i === 0 || p.phase !== phases[i - 1].phase);
  return seen
    .map((p, i) => {
      const start = i === 0 ? 0 : p.at;
      const end = i + 1 < seen.length ? seen[i + 1].at : wallMs / 1000;
      // the first mark names the phase current one second in; earlier phases are folded into it
      return `${i === 0 ? `start…${p.phase}` : p.phase} ${fmt.f1(end - start)} s`;
    })
    .join(', ');
}

export function compileMarkdown({ rows }) {
  const lines = [
    'Each build is `node bin/vmc.js build <dir> --out <dir>` in its own process; decode = `RoutingTable.decode` of the written table in a fresh process ' +
      "(cold = first call, warm = median of 7 more). Phase times are the gaps between the CLI's progress marks; the CLI prints its first mark after one " +
      'second, so "start…X" covers every phase up to and including X; the last phase runs until exit.',
    '',
    '| vms | YAML files | source | wall time | peak RSS | table | client.ts | manifest | decode cold | decode warm | phases |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows) {
    if (r.failed !== undefined) {
      lines.push(
        `| ${fmt.int(r.size)} | ${r.files} | ${fmt.int(r.sourceBytes / 1024)} KiB | FAILED (${r.failed}) after ${fmt.f1(r.wallMs / 1000)} s | ${fmt.int(r.peakRssKiB / 1024)} MiB | | | | | | |`,
      );
      continue;
    }
    lines.push(
      `| ${fmt.int(r.size)} | ${r.files} | ${fmt.int(r.sourceBytes / 1024)} KiB | ${fmt.f2(r.wallMs / 1000)} s | ${fmt.int(r.peakRssKiB / 1024)} MiB | ` +
        `${fmt.int(r.tableBytes / 1024)} KiB | ${fmt.int(r.clientBytes / 1024)} KiB | ${fmt.int(r.manifestBytes / 1024)} KiB | ` +
        `${fmt.f1(r.decodeColdMs)} ms | ${fmt.f1(r.decodeWarmMs)} ms | ${r.phases.length ? phaseText(r.phases, r.wallMs) : '—'} |`,
    );
  }
  return lines.join('\n');
}

if (process.argv.includes('--decode')) {
  const r = await decodeCase(process.argv[process.argv.indexOf('--decode') + 1]);
  process.stdout.write(JSON.stringify(r) + '\n');
} else if (process.argv[1] === SELF) {
  const flags = parseFlags(process.argv.slice(2));
  const sizes = typeof flags.sizes === 'string' ? flags.sizes.split(',').map(Number) : undefined;
  const res = await runCompile({ quick: Boolean(flags.quick), sizes });
  process.stdout.write(compileMarkdown(res) + '\n');
  if (typeof flags.json === 'string') writeFileSync(flags.json, JSON.stringify(res, null, 2));
}
