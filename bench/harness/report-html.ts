/**
 * report.html (SPEC §11): one self-contained page — no script, no font, no request to the
 * network — with charts of latency percentiles, latency over time, throughput and expected
 * vs observed shares, and the tables of the text report.
 *
 * Charts are Vega-Lite specs compiled and rendered to SVG here (Vega's headless `toSVG`),
 * then inlined: the page needs no JavaScript to show them. When vega / vega-lite are not
 * installed the page says so and keeps the tables.
 */
import type { ResultsJson } from './results.js';

type VegaModules = { vega: typeof import('vega'); vl: typeof import('vega-lite') };

async function loadVega(): Promise<VegaModules | null> {
  try {
    const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
    return { vega, vl };
  } catch {
    return null;
  }
}

const CONFIG = {
  font: 'Helvetica, Arial, sans-serif',
  view: { stroke: null },
  axis: { labelFontSize: 11, titleFontSize: 11 },
  legend: { labelFontSize: 11, titleFontSize: 11 },
};

async function svg(mods: VegaModules, spec: Record<string, unknown>): Promise<string> {
  const compiled = mods.vl.compile({ $schema: 'https://vega.github.io/schema/vega-lite/v5.json', config: CONFIG, ...spec } as never).spec;
  const view = new mods.vega.View(mods.vega.parse(compiled), { renderer: 'none' });
  const out = await view.toSVG();
  view.finalize();
  return out;
}

const PCTS: [string, string][] = [
  ['p50', 'p50'],
  ['p90', 'p90'],
  ['p95', 'p95'],
  ['p99', 'p99'],
  ['p999', 'p99.9'],
];

/** The chart specs of a run (exported for tests of their data). */
export function chartSpecs(r: ResultsJson): { id: string; title: string; spec: Record<string, unknown> }[] {
  const charts: { id: string; title: string; spec: Record<string, unknown> }[] = [];
  const names = Object.keys(r.gateways);

  // 1. latency percentiles per gateway (and baseline)
  const pct: Record<string, unknown>[] = [];
  for (const n of names) {
    const s = r.gateways[n].latency;
    if (s)
      for (const [k, label] of PCTS)
        pct.push({ series: n, percentile: label, ms: Math.max(0.001, (s as unknown as Record<string, number>)[k]) });
  }
  if (r.baseline?.latency)
    for (const [k, label] of PCTS)
      pct.push({
        series: 'baseline',
        percentile: label,
        ms: Math.max(0.001, (r.baseline.latency as unknown as Record<string, number>)[k]),
      });
  if (pct.length > 0) {
    charts.push({
      id: 'latency-percentiles',
      title: 'Latency percentiles (successful requests; log scale)',
      spec: {
        width: 560,
        height: 240,
        data: { values: pct },
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'percentile', type: 'ordinal', sort: PCTS.map((p) => p[1]), title: null, axis: { labelAngle: 0 } },
          y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency (ms)' },
          color: { field: 'series', type: 'nominal', title: null },
        },
      },
    });
  }

  // 2. latency over time, 3. throughput over time
  const lat: Record<string, unknown>[] = [];
  const thr: Record<string, unknown>[] = [];
  for (const n of names) {
    const tl = r.gateways[n].timeline;
    for (const p of tl.points) {
      const t = Number((p.t + tl.bucketS / 2).toFixed(3));
      if (p.p50 !== null) lat.push({ t, series: `${n} p50`, ms: Math.max(0.001, p.p50) });
      if (p.p99 !== null) lat.push({ t, series: `${n} p99`, ms: Math.max(0.001, p.p99) });
      thr.push({ t, series: `${n} ok`, rps: p.ok / tl.bucketS });
      if (p.errors > 0 || names.length === 1) thr.push({ t, series: `${n} errors`, rps: p.errors / tl.bucketS });
      if (p.fallbacks > 0 || names.length === 1) thr.push({ t, series: `${n} fallbacks`, rps: p.fallbacks / tl.bucketS });
    }
  }
  if (lat.length > 0) {
    charts.push({
      id: 'latency-over-time',
      title: 'Latency over load time (log scale)',
      spec: {
        width: 560,
        height: 220,
        data: { values: lat },
        mark: { type: 'line', point: { size: 12 } },
        encoding: {
          x: { field: 't', type: 'quantitative', title: 'load time (s)' },
          y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency (ms)' },
          color: { field: 'series', type: 'nominal', title: null },
        },
      },
    });
  }
  if (thr.length > 0) {
    charts.push({
      id: 'throughput',
      title: 'Throughput over load time',
      spec: {
        width: 560,
        height: 200,
        data: { values: thr },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x: { field: 't', type: 'quantitative', title: 'load time (s)' },
          y: { field: 'rps', type: 'quantitative', title: 'requests / s' },
          color: { field: 'series', type: 'nominal', title: null },
        },
      },
    });
  }

  // 4. expected vs observed shares
  const shares: Record<string, unknown>[] = [];
  for (const n of names) {
    for (const [model, cells] of Object.entries(r.gateways[n].routing)) {
      const panel = names.length > 1 ? `${n}: ${model}` : model;
      for (const [target, c] of Object.entries(cells)) {
        shares.push({ panel, target, kind: 'expected', share: c.expected });
        shares.push({ panel, target, kind: 'observed', share: c.observed });
      }
    }
  }
  if (shares.length > 0) {
    charts.push({
      id: 'shares',
      title: 'Target shares per model: expected (table, declared faults applied) vs observed (x-vmc-target)',
      spec: {
        data: { values: shares },
        facet: {
          row: {
            field: 'panel',
            type: 'nominal',
            title: null,
            header: { labelAngle: 0, labelAlign: 'left', labelAnchor: 'start', labelOrient: 'top', labelFontWeight: 'bold' },
          },
        },
        spec: {
          width: 520,
          height: { step: 14 },
          mark: { type: 'bar' },
          encoding: {
            y: { field: 'target', type: 'nominal', title: null, axis: { labelLimit: 320 } },
            yOffset: { field: 'kind' },
            x: { field: 'share', type: 'quantitative', axis: { format: '%' }, scale: { domain: [0, 1] }, title: 'share of answers' },
            color: {
              field: 'kind',
              type: 'nominal',
              title: null,
              scale: { domain: ['expected', 'observed'], range: ['#9ecae9', '#4c78a8'] },
            },
          },
        },
        resolve: { scale: { y: 'independent' } },
      },
    });
  }
  return charts;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (x: number | null | undefined, d = 3): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '—' : Number.isInteger(x) ? String(x) : x.toFixed(d);

export async function renderHtml(r: ResultsJson): Promise<string> {
  const mods = await loadVega();
  const charts: string[] = [];
  for (const c of chartSpecs(r)) {
    const body =
      mods === null
        ? '<p class="note">Charts need the vega and vega-lite packages (npm install vega vega-lite).</p>'
        : await svg(mods, c.spec);
    charts.push(`<figure id="${c.id}" class="chart"><figcaption>${esc(c.title)}</figcaption>${body}</figure>`);
  }
  const status = r.exit_code === 0 ? 'pass' : r.exit_code === 1 ? 'fail' : 'trouble';
  const thresholds = r.thresholds
    .map(
      (t) =>
        `<tr class="${t.ok ? 'ok' : 'bad'}"><td>${t.ok ? 'PASS' : 'FAIL'}</td><td><code>${esc(t.expr)}</code>${t.gateway ? ` (${esc(t.gateway)})` : ''}</td><td class="n">${t.value === null ? 'no value' : num(t.value)}</td></tr>`,
    )
    .join('');
  const checks = r.checks
    .map(
      (c) => `<tr class="${c.ok ? 'ok' : 'bad'}"><td>${c.ok ? 'PASS' : 'FAIL'}</td><td>${esc(c.check)}</td><td>${esc(c.detail)}</td></tr>`,
    )
    .join('');
  const names = Object.keys(r.gateways);
  const keys = [...new Set(names.flatMap((n) => Object.keys(r.gateways[n].metrics)))].sort();
  const metrics = keys
    .map(
      (k) => `<tr><td><code>${esc(k)}</code></td>${names.map((n) => `<td class="n">${num(r.gateways[n].metrics[k])}</td>`).join('')}</tr>`,
    )
    .join('');
  const trouble = r.trouble.map((t) => `<p class="trouble">${esc(t)}</p>`).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>vmc bench: ${esc(r.scenario.name)}</title>
<style>
body{font:14px/1.45 Helvetica,Arial,sans-serif;margin:24px auto;max-width:1000px;color:#222;padding:0 16px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666}.badge{display:inline-block;padding:2px 8px;border-radius:4px;color:#fff;font-weight:bold}
.pass{background:#2e7d32}.fail{background:#c62828}.trouble{background:#ef6c00;color:#fff;padding:6px 10px;border-radius:4px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}tr.ok td:first-child{color:#2e7d32;font-weight:bold}tr.bad td:first-child{color:#c62828;font-weight:bold}
figure.chart{margin:16px 0}figcaption{font-weight:bold;margin-bottom:4px}code{font-size:13px}.note{color:#666}
</style>
</head>
<body>
<h1>vmc bench: ${esc(r.scenario.name)} <span class="badge ${status === 'trouble' ? 'trouble' : status}">${status === 'pass' ? 'PASS' : status === 'fail' ? 'FAIL' : 'TROUBLE'} · exit ${r.exit_code}</span></h1>
<p class="meta">${esc(r.scenario.file)} · ${esc(r.started_at)} · ${r.seconds.toFixed(1)} s · seed ${r.seed} · ${esc(r.machine.cpu)}, ${r.machine.cores} cores, Node ${esc(r.machine.node)}</p>
${r.scenario.description ? `<p>${esc(r.scenario.description)}</p>` : ''}
${trouble}
<h2>Thresholds</h2>
${r.thresholds.length ? `<table><tr><th></th><th>threshold</th><th>value</th></tr>${thresholds}</table>` : '<p class="note">No thresholds.</p>'}
<h2>Charts</h2>
${charts.join('\n') || '<p class="note">No successful requests to chart.</p>'}
${checks ? `<h2>Routing contract</h2><table><tr><th></th><th>check</th><th>numbers</th></tr>${checks}</table>` : ''}
<h2>Metrics</h2>
<table><tr><th>metric</th>${names.map((n) => `<th>${esc(n)}</th>`).join('')}</tr>${metrics}</table>
<h2>Gateways</h2>
<ul>${names.map((n) => `<li><b>${esc(n)}</b>: ${esc(r.gateways[n].how)}</li>`).join('')}</ul>
<p class="note">Simulated providers: ${r.simulated_providers.map((s) => `${esc(s.name)} (${esc(s.engine)}, ${s.requests} requests${s.baseline_requests ? `, ${s.baseline_requests} baseline` : ''})`).join(', ')}.</p>
</body>
</html>
`;
}
