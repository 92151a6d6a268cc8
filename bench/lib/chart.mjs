/**
 * The latency chart of bench/RESULTS.md: percentiles per target (direct, vmc 1 worker,
 * vmc 2 workers, portkey), one panel per load (closed/paced × json/sse), as SVG.
 * Vega-Lite compiles the spec, Vega renders it headlessly (renderer 'none' + toSVG: no
 * canvas, no browser).
 */
import * as vega from 'vega';
import { compile } from 'vega-lite';

const PERCENTILES = [
  ['latency.p50_ms', 'p50'],
  ['latency.p90_ms', 'p90'],
  ['latency.p99_ms', 'p99'],
  ['latency.p999_ms', 'p99.9'],
];

/** SVG text for the proxy cases of bench/proxy.mjs (`proxyCases`): { mode, kind, label, m: metrics }. */
export async function latencyChartSvg(cases) {
  const targets = [...new Set(cases.map((c) => c.label))];
  const panels = [];
  const values = [];
  for (const c of cases) {
    const panel = `${c.mode === 'closed' ? 'closed loop (max throughput)' : 'paced 1000 req/s'}, ${c.kind === 'sse' ? 'SSE stream' : 'JSON'}`;
    if (!panels.includes(panel)) panels.push(panel);
    for (const [key, name] of PERCENTILES) {
      const ms = c.m[key];
      if (Number.isFinite(ms)) values.push({ panel, target: c.label, percentile: name, ms: Math.max(ms, 0.01) });
    }
  }
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: { text: 'Proxy latency percentiles by target (log scale; lower is better)', anchor: 'start' },
    data: { values },
    facet: {
      row: {
        field: 'panel',
        type: 'nominal',
        sort: panels,
        title: null,
        header: { labelOrient: 'top', labelAngle: 0, labelAlign: 'left', labelAnchor: 'start', labelFontWeight: 'bold', labelFontSize: 12 },
      },
    },
    spec: {
      width: 520,
      height: 150,
      // Lines with points, not bars: bars on a log scale render with zero height in Vega-Lite 5
      // (their baseline is 0, outside a log domain).
      mark: { type: 'line', point: true, tooltip: true },
      encoding: {
        x: { field: 'percentile', type: 'nominal', sort: PERCENTILES.map((p) => p[1]), title: null, axis: { labelAngle: 0 } },
        y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency (ms)' },
        color: { field: 'target', type: 'nominal', sort: targets, title: 'target' },
      },
    },
    resolve: { scale: { y: 'independent' } },
    config: { font: 'Helvetica, Arial, sans-serif', view: { stroke: null } },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  return view.toSVG();
}
