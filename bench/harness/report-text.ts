/**
 * The text summary (`--format text`, the default) and report.md (`--format markdown`, a
 * pull-request comment) of a run, both from results.json (./results.ts).
 */
import type { ResultsJson } from './results.js';

const f = (x: number | undefined | null, d = 2): string => (x === undefined || x === null || !Number.isFinite(x) ? '—' : x.toFixed(d));
const pct = (x: number | undefined, d = 2): string => (x === undefined || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(d)} %`);
const signed = (x: number | undefined, d = 2): string =>
  x === undefined || !Number.isFinite(x) ? '—' : `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(d)}`;

function latencyLine(m: Record<string, number>, prefix: string): string {
  return ['p50', 'p90', 'p95', 'p99', 'p999'].map((p) => `${p === 'p999' ? 'p99.9' : p} ${f(m[`${prefix}.${p}_ms`])}`).join('  ');
}

function exitLine(r: ResultsJson): string {
  const failed = r.thresholds.filter((t) => !t.ok).length;
  if (r.exit_code === 2) return `result: trouble → exit 2`;
  if (r.thresholds.length === 0) return 'result: no thresholds → exit 0';
  return failed === 0
    ? `result: all ${r.thresholds.length} thresholds held → exit 0`
    : `result: ${failed} of ${r.thresholds.length} thresholds failed → exit 1`;
}

function thresholdValue(v: number | null): string {
  if (v === null) return 'no value';
  return Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v * 1000) / 1000) : v.toPrecision(4);
}

export function renderText(r: ResultsJson): string {
  const L: string[] = [];
  L.push(`vmc bench: ${r.scenario.name} (${r.scenario.file}) — ${r.seconds.toFixed(1)} s, seed ${r.seed}`);
  if (r.scenario.description) L.push(`  ${r.scenario.description}`);
  L.push(`  phases: ${r.phases.map((p) => phaseText(p)).join('; ')}`);
  for (const [name, g] of Object.entries(r.gateways)) {
    const m = g.metrics;
    L.push('', `${Object.keys(r.gateways).length === 1 && name === 'gateway' ? 'gateway' : `gateway ${name}`}: ${g.how}`);
    const errs = Object.entries(g.errors)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    L.push(
      `  requests ${m.requests ?? 0}  rps ${f(m.rps, 1)}  goodput ${f(m.goodput, 1)}  errors ${pct(m['errors.rate'])}${errs ? ` (${errs})` : ''}`,
    );
    if ('latency.p50_ms' in m) L.push(`  latency ms   ${latencyLine(m, 'latency')}  max ${f(m['latency.max_ms'])}`);
    if ('baseline.latency.p50_ms' in m) L.push(`  baseline ms  ${latencyLine(m, 'baseline.latency')}`);
    if ('overhead.p50_ms' in m)
      L.push(
        `  overhead ms  ${['p50', 'p90', 'p95', 'p99', 'p999'].map((p) => `${p === 'p999' ? 'p99.9' : p} ${signed(m[`overhead.${p}_ms`])}`).join('  ')}`,
      );
    if ('ttft.p50_ms' in m)
      L.push(
        `  ttft ms      p50 ${f(m['ttft.p50_ms'])}  p99 ${f(m['ttft.p99_ms'])}${'overhead.ttft_p50_ms' in m ? `  (overhead p50 ${signed(m['overhead.ttft_p50_ms'])}, p99 ${signed(m['overhead.ttft_p99_ms'])})` : ''}${'itl.p50_ms' in m ? `  itl p50 ${f(m['itl.p50_ms'])} p99 ${f(m['itl.p99_ms'])}` : ''}`,
      );
    if ('attempts.mean' in m)
      L.push(
        `  attempts mean ${f(m['attempts.mean'], 3)} max ${m['attempts.max']}  fallback ${pct(m['fallback.rate'])}${'failover.p50_ms' in m ? `  failover latency p50 ${f(m['failover.p50_ms'])} p99 ${f(m['failover.p99_ms'])} ms` : ''}`,
      );
    const proc: string[] = [];
    if ('gateway.cpu_us_per_req' in m)
      proc.push(`gateway CPU ${f(m['gateway.cpu_us_per_req'], 1)} µs/req (${f(m['gateway.cpu_pct'], 0)} % of a core)`);
    if ('gateway.rss_mb' in m) proc.push(`RSS ${f(m['gateway.rss_mb'], 0)} MB`);
    if ('generator.cpu_pct' in m)
      proc.push(
        `generator CPU ${f(m['generator.cpu_pct'], 0)} %${'generator.lag_p99_ms' in m ? `, send lag p99 ${f(m['generator.lag_p99_ms'])} ms` : ''}`,
      );
    if ('sim.cpu_us_per_req' in m) proc.push(`simulators ${f(m['sim.cpu_us_per_req'], 1)} µs/req`);
    if (proc.length) L.push(`  ${proc.join('; ')}`);
    if ('sweep.max_rps' in m) L.push(`  sweep: thresholds held up to ${f(m['sweep.max_rps'], 0)} req/s`);
    for (const p of g.phases) {
      const pm = p.metrics;
      L.push(
        `  phase ${p.label}: ${pm.requests ?? 0} requests, ${f(pm.rps, 1)} req/s, latency p50 ${f(pm['latency.p50_ms'])} p99 ${f(pm['latency.p99_ms'])} ms` +
          ('overhead.p50_ms' in pm ? ` (overhead ${signed(pm['overhead.p50_ms'])} / ${signed(pm['overhead.p99_ms'])})` : '') +
          ('errors.rate' in pm && pm['errors.rate'] > 0 ? `, errors ${pct(pm['errors.rate'])}` : '') +
          ('gateway.cpu_us_per_req' in pm ? `, gateway ${f(pm['gateway.cpu_us_per_req'], 1)} µs/req` : '') +
          ('generator.cpu_pct' in pm ? `, generator ${f(pm['generator.cpu_pct'], 0)} %` : ''),
      );
    }
  }
  if (r.sweep) {
    L.push('', 'sweep steps:');
    for (const s of r.sweep)
      L.push(
        `  ${s.rate.toFixed(0).padStart(7)} req/s  ${Object.entries(s.ok)
          .map(([g, ok]) => `${g} ${ok ? 'held' : 'failed'}`)
          .join(', ')}`,
      );
  }
  if (r.checks.length > 0) {
    L.push('', 'routing contract:');
    for (const c of r.checks) L.push(`  ${c.ok ? 'PASS' : 'FAIL'}  ${c.check}: ${c.detail}`);
  }
  if (r.thresholds.length > 0) {
    L.push('', 'thresholds:');
    for (const t of r.thresholds)
      L.push(`  ${t.ok ? 'PASS' : 'FAIL'}  ${t.expr}   (${thresholdValue(t.value)}${t.gateway ? `, ${t.gateway}` : ''})`);
  }
  for (const t of r.trouble) L.push('', `trouble: ${t}`);
  L.push('', exitLine(r));
  return L.join('\n') + '\n';
}

function phaseText(p: ResultsJson['phases'][number]): string {
  const d = p.duration_s === null ? '' : ` ${p.duration_s} s`;
  switch (p.mode) {
    case 'rate':
      return `${p.label}: ${p.rate} req/s open loop${d}`;
    case 'closed':
      return `${p.label}: ${p.connections} connections closed loop${d}`;
    case 'ramp':
      return `${p.label}: ramp ${p.from} → ${p.to} req/s${d}`;
    case 'steps':
      return `${p.label}: steps ${p.rates?.join(', ')} req/s, ${p.duration_s} s each`;
    case 'sweep':
      return `${p.label}: sweep ${p.from} → ${p.to} req/s, ${p.duration_s} s per step`;
    default:
      return `${p.label}: trace replay`;
  }
}

/** report.md: a pull-request comment. */
export function renderMarkdown(r: ResultsJson): string {
  const L: string[] = [];
  const failed = r.thresholds.filter((t) => !t.ok).length;
  const icon = r.exit_code === 0 ? '✅' : r.exit_code === 1 ? '❌' : '⚠️';
  L.push(`### ${icon} vmc bench: ${r.scenario.name}`, '');
  if (r.scenario.description) L.push(r.scenario.description, '');
  L.push(
    `\`${r.scenario.file}\` · ${r.seconds.toFixed(1)} s · seed ${r.seed} · ${r.machine.cores} cores, Node ${r.machine.node} · ${exitLine(r).replace('result: ', '')}`,
    '',
  );
  if (r.thresholds.length > 0) {
    L.push('| | threshold | value |', '|---|---|---:|');
    for (const t of r.thresholds)
      L.push(`| ${t.ok ? '✅' : '❌'} | \`${t.expr}\`${t.gateway ? ` (${t.gateway})` : ''} | ${thresholdValue(t.value)} |`);
    L.push('');
  }
  if (failed > 0) L.push(`**${failed} threshold${failed === 1 ? '' : 's'} failed.**`, '');
  const names = Object.keys(r.gateways);
  L.push(`| metric | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
  const rows: [string, string, (x: number) => string][] = [
    ['requests', 'requests', (x) => String(x)],
    ['req/s', 'rps', (x) => x.toFixed(1)],
    ['errors', 'errors.rate', (x) => `${(x * 100).toFixed(2)} %`],
    ['latency p50 ms', 'latency.p50_ms', (x) => x.toFixed(2)],
    ['latency p99 ms', 'latency.p99_ms', (x) => x.toFixed(2)],
    ['latency p99.9 ms', 'latency.p999_ms', (x) => x.toFixed(2)],
    ['overhead p50 ms', 'overhead.p50_ms', (x) => signed(x)],
    ['overhead p99 ms', 'overhead.p99_ms', (x) => signed(x)],
    ['ttft p50 ms', 'ttft.p50_ms', (x) => x.toFixed(2)],
    ['ttft overhead p50 ms', 'overhead.ttft_p50_ms', (x) => signed(x)],
    ['attempts (mean)', 'attempts.mean', (x) => x.toFixed(3)],
    ['fallback', 'fallback.rate', (x) => `${(x * 100).toFixed(2)} %`],
    ['share error pp', 'routing.share_error_pp', (x) => x.toFixed(2)],
    ['shares pass χ²', 'routing.share_ok', (x) => (x === 1 ? 'yes' : 'no')],
    ['cooldown detect ms', 'cooldown.detect_ms', (x) => x.toFixed(0)],
    ['cooldown recover ms', 'cooldown.recover_ms', (x) => x.toFixed(0)],
    ['gateway CPU µs/req', 'gateway.cpu_us_per_req', (x) => x.toFixed(1)],
    ['gateway RSS MB', 'gateway.rss_mb', (x) => x.toFixed(0)],
    ['generator CPU %', 'generator.cpu_pct', (x) => x.toFixed(0)],
    ['sweep max req/s', 'sweep.max_rps', (x) => x.toFixed(0)],
  ];
  for (const [label, key, fmt] of rows) {
    if (!names.some((n) => key in r.gateways[n].metrics)) continue;
    L.push(`| ${label} | ${names.map((n) => (key in r.gateways[n].metrics ? fmt(r.gateways[n].metrics[key]) : '—')).join(' | ')} |`);
  }
  L.push('');
  if (r.checks.length > 0) {
    L.push('<details><summary>Routing contract</summary>', '', '| | check | numbers |', '|---|---|---|');
    for (const c of r.checks) L.push(`| ${c.ok ? '✅' : '❌'} | ${c.check} | ${c.detail.replace(/\|/g, '\\|')} |`);
    L.push('', '</details>', '');
  }
  for (const t of r.trouble) L.push(`> ⚠️ ${t}`, '');
  return L.join('\n');
}

/** GitHub Actions annotations: one `::error` per failed threshold, at its line in the scenario. */
export function renderGithub(r: ResultsJson, positions: Map<string, { file: string; line: number; column: number }>): string {
  const L: string[] = [];
  for (const t of r.thresholds) {
    if (t.ok) continue;
    const p = positions.get(t.expr);
    const where = p ? `file=${esc(p.file)},line=${p.line},col=${p.column},` : '';
    L.push(
      `::error ${where}title=vmc bench threshold::${escData(`${t.expr} failed: ${t.value === null ? 'no value in this run' : `value ${thresholdValue(t.value)}`}${t.gateway ? ` (${t.gateway})` : ''}`)}`,
    );
  }
  for (const t of r.trouble) L.push(`::error title=vmc bench::${escData(t)}`);
  const failed = r.thresholds.filter((t) => !t.ok).length;
  L.push(
    `::notice title=vmc bench::${escData(`${r.scenario.name}: ${failed === 0 ? 'all thresholds held' : `${failed} of ${r.thresholds.length} thresholds failed`}`)}`,
  );
  return L.join('\n') + '\n';
}

function escData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}
function esc(s: string): string {
  return escData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
