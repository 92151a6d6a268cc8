/**
 * Runs a scenario of bench/scenarios/ through `vmc bench` (the CLI, a fresh process) and
 * returns its results.json, for the parts of `npm run bench` that are scenarios (proxy,
 * routing, generator): the repository benchmarks itself with the harness users get.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, TMP, progress } from './common.mjs';

export const SCENARIOS = join(ROOT, 'bench/scenarios');

/**
 * `node bin/vmc.js bench FILE --out DIR [...args]`; resolves with results.json (exit 0 or 1:
 * thresholds are goals here, reported, not fatal). Rejects on exit 2 (trouble).
 */
export function runScenario(file, { args = [], label = file, timeoutMs = 900_000 } = {}) {
  const out = join(TMP, 'scenarios', label.replace(/[^A-Za-z0-9_.-]+/g, '_'));
  mkdirSync(out, { recursive: true });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/vmc.js'), 'bench', file, '--out', out, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0 && code !== 1) {
        reject(new Error(`vmc bench ${file} exited ${code}:\n${stderr.slice(-3000)}\n${stdout.slice(-2000)}`));
        return;
      }
      const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
      progress(`${label}: ${summaryLine(results)}`);
      resolve({ results, text: stdout, out });
    });
  });
}

/** One progress line per scenario: thresholds held, and the headline numbers per gateway. */
export function summaryLine(r) {
  const held = r.thresholds.filter((t) => t.ok).length;
  const parts = Object.entries(r.gateways).map(([name, g]) => {
    const m = g.metrics;
    const f = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');
    return `${name} ${f(m.rps, 0)} req/s p50 ${f(m['latency.p50_ms'])} p99 ${f(m['latency.p99_ms'])} ms${'overhead.p99_ms' in m ? ` (Δp99 ${f(m['overhead.p99_ms'])})` : ''}${'gateway.cpu_us_per_req' in m ? ` CPU ${f(m['gateway.cpu_us_per_req'], 1)} µs/req` : ''}`;
  });
  return `${held}/${r.thresholds.length} thresholds held (${r.seconds.toFixed(1)} s); ${parts.join('; ')}`;
}

/** results.json without the per-bucket time series (kept in bench/.tmp/scenarios/…): what bench/results.json stores. */
export function trimResults(r) {
  const gateways = Object.fromEntries(Object.entries(r.gateways).map(([k, g]) => [k, { ...g, timeline: undefined }]));
  return { ...r, gateways };
}

const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : '—');
const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '—');

/** RESULTS.md section of a routing scenario: its checks and headline metrics. */
export function routingMarkdown(r, file) {
  const L = [];
  const [name, g] = Object.entries(r.gateways)[0];
  const m = g.metrics;
  L.push(
    `\`vmc bench ${file}\` (${r.scenario.name}): ${f0(m.requests)} requests, ${f2(m.rps)} req/s, errors ${f2((m['errors.rate'] ?? 0) * 100)} %, ` +
      `latency p50 ${f2(m['latency.p50_ms'])} / p99 ${f2(m['latency.p99_ms'])} ms` +
      ('overhead.p50_ms' in m ? ` (overhead vs direct ${f2(m['overhead.p50_ms'])} / ${f2(m['overhead.p99_ms'])} ms)` : '') +
      ('attempts.mean' in m ? `, attempts mean ${m['attempts.mean'].toFixed(3)}, fallback ${f2((m['fallback.rate'] ?? 0) * 100)} %` : '') +
      ('failover.p50_ms' in m ? `, failover latency p50 ${f2(m['failover.p50_ms'])} / p99 ${f2(m['failover.p99_ms'])} ms` : '') +
      ('ttft.p50_ms' in m ? `, time to first byte p50 ${f2(m['ttft.p50_ms'])} / p99 ${f2(m['ttft.p99_ms'])} ms` : '') +
      ('overhead.ttft_p50_ms' in m ? ` (overhead ${f2(m['overhead.ttft_p50_ms'])} / ${f2(m['overhead.ttft_p99_ms'])} ms)` : '') +
      ` (gateway "${name}": ${g.how}).`,
    '',
  );
  if (r.checks.length > 0) {
    L.push('| | check | numbers |', '|---|---|---|');
    for (const c of r.checks) L.push(`| ${c.ok ? 'pass' : '**fail**'} | ${c.check} | ${c.detail.replace(/\|/g, '\\|')} |`);
    L.push('');
  }
  L.push('| | threshold | value |', '|---|---|---:|');
  for (const t of r.thresholds)
    L.push(
      `| ${t.ok ? 'pass' : '**fail**'} | \`${t.expr}\` | ${t.value === null ? 'no value' : Number.isInteger(t.value) ? t.value : t.value.toFixed(3)} |`,
    );
  L.push('');
  return L.join('\n');
}

/** RESULTS.md section of the generator-ceiling scenario, with one and (optionally) two generator threads. */
export function ceilingMarkdown(one, two) {
  const runs = [one, two].filter(Boolean);
  const facts = (r) => {
    const g = Object.values(r.gateways)[0];
    const closed = g.phases.find((p) => p.label === 'closed 64')?.metrics ?? {};
    return { g, closed, m: g.metrics, threads: r.generator.threads };
  };
  const cols = runs.map(facts);
  const L = [];
  L.push(
    '`vmc bench bench/scenarios/generator-ceiling.yaml`: the harness loading one simulated provider directly (no gateway), on this machine, ' +
      `with ${cols.map((c) => `${c.threads} generator thread${c.threads === 1 ? '' : 's'}`).join(' and ')}. The generator and the simulator share the cores.`,
    '',
    `| measure | ${cols.map((c) => `${c.threads} thread${c.threads === 1 ? '' : 's'}`).join(' | ')} |`,
    `|---|${cols.map(() => '---:').join('|')}|`,
    `| closed loop, 64 connections: req/s | ${cols.map((c) => f0(c.closed.rps)).join(' | ')} |`,
    `| closed loop: latency p50 / p99 ms | ${cols.map((c) => `${f2(c.closed['latency.p50_ms'])} / ${f2(c.closed['latency.p99_ms'])}`).join(' | ')} |`,
    `| closed loop: generator CPU (% of one core) | ${cols.map((c) => f0(c.closed['generator.cpu_pct'])).join(' | ')} |`,
    `| closed loop: simulator CPU µs/request | ${cols.map((c) => f2(c.closed['sim.cpu_us_per_req'])).join(' | ')} |`,
    `| open loop: highest rate sent on schedule (send lag p90 < 5 ms) | ${cols.map((c) => ('sweep.max_rps' in c.m ? `${f0(c.m['sweep.max_rps'])} req/s` : 'none of the steps')).join(' | ')} |`,
    '',
  );
  if (one.sweep) {
    L.push(
      `Open-loop steps (${cols[0].threads} thread):`,
      '',
      '| rate req/s | held | send lag p90 / p99 ms | generator CPU % |',
      '|---:|---|---:|---:|',
    );
    for (const s of one.sweep) {
      const sm = Object.values(s.metrics)[0];
      L.push(
        `| ${f0(s.rate)} | ${Object.values(s.ok)[0] ? 'yes' : 'no'} | ${f2(sm['generator.lag_p90_ms'])} / ${f2(sm['generator.lag_p99_ms'])} | ${f0(sm['generator.cpu_pct'])} |`,
      );
    }
    L.push('');
  }
  return L.join('\n');
}
