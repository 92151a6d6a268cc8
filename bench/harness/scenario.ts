/**
 * From a read scenario to a runnable plan (./plan.ts): the semantic checks of SPEC §11 as
 * positioned VMB diagnostics (./diagnostics.ts), the gateway configs compiled (a config that
 * does not compile is an invalid scenario: its own diagnostics are printed too), the
 * simulated providers derived from the configs' providers, templates and thresholds parsed,
 * CLI overrides (`--duration`, `--rate`, `--seed`) applied.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { compileConfig } from '../../compiler/frontend.js';
import { lowerTable } from '../../compiler/lower.js';
import { closest } from '../../compiler/suggest.js';
import { TABLE_FILE } from '../../runtime/table/format.js';
import { RoutingTable } from '../../runtime/table/reader.js';
import { FAULT_KINDS, type SimFault, type SimFormat, type SimProviderSpec } from '../sim/behavior.js';
import type { DistributionSpec } from '../sim/random.js';
import type { BenchDiagnosticLog, Span } from './diagnostics.js';
import type { Endpoint, Expectations, GatewayPlan, PhasePlan, Plan, TraceItem, WorkloadPlan } from './plan.js';
import { describePath, spanAt, type ScenarioSource } from './read-scenario.js';
import type { Distribution, Fault, Gateway, Phase, SimModel, SimProvider, WorkloadEntry } from './scenario-types.gen.js';
import { parseTemplate, TemplateError, type Template } from './template.js';
import { METRICS } from './metric-names.js';
import { parseThreshold, type Threshold } from './thresholds.js';

export interface Overrides {
  durationS?: number;
  /** Replaces `warmup_s`. */
  warmupS?: number;
  rate?: number;
  seed?: number;
}

/** Extra texts diagnostics may point into (configs, traces), by path. */
export type Sources = Map<string, string>;

/** Provider types the simulators speak (bench/sim/wire.ts routes), by their SPEC §13 names. */
export const SIMULATED_PROVIDER_TYPES: ReadonlySet<string> = new Set(['openai', 'anthropic', 'azure', 'gemini', 'vertex', 'bedrock']);

/**
 * Checks the scenario and builds its plan; null when it is invalid (diagnostics in `log`,
 * texts to print them against in `sources`).
 */
export async function prepareScenario(
  src: ScenarioSource,
  overrides: Overrides,
  log: BenchDiagnosticLog,
  sources: Sources,
): Promise<Plan | null> {
  sources.set(src.path, src.text);
  const s = src.data;
  if (s === null) return null;
  const dir = dirname(resolve(src.path));
  const at = (path: (string | number)[], part: 'key' | 'value' = 'value'): Span => spanAt(src, path, part);

  // ---- gateways ----
  const gatewaySpecs: { spec: Gateway; name: string; path: (string | number)[] }[] = [];
  if (s.gateway !== undefined && s.gateways !== undefined) {
    log.report('VMB2009', at(['gateways'], 'key'), { detail: 'give either `gateway:` or `gateways:`, not both' });
  } else if (s.gateway !== undefined) {
    gatewaySpecs.push({ spec: s.gateway, name: 'gateway', path: ['gateway'] });
  } else if (s.gateways !== undefined) {
    const seen = new Set<string>();
    s.gateways.forEach((g, i) => {
      if (seen.has(g.name)) log.report('VMB2010', at(['gateways', i, 'name']), { name: g.name });
      seen.add(g.name);
      gatewaySpecs.push({ spec: g, name: g.name, path: ['gateways', i] });
    });
  } else {
    log.report('VMB2009', at([]), { detail: 'the scenario names no gateway' });
  }

  const gateways: GatewayPlan[] = [];
  const compiled = new Map<string, Expectations | null>();
  for (const g of gatewaySpecs) {
    const { spec } = g;
    if (spec.config !== undefined && spec.table !== undefined) {
      log.report('VMB2009', at([...g.path, 'table'], 'key'), { detail: 'give either `config:` or `table:`, not both' });
      continue;
    }
    if (spec.config === undefined && spec.table === undefined && spec.url === undefined) {
      log.report('VMB2009', at(g.path), { detail: 'the gateway needs `config:`, `table:` or `url:`' });
      continue;
    }
    let expectations: Expectations | null = null;
    if (spec.config !== undefined || spec.table !== undefined) {
      const key = JSON.stringify([spec.config, spec.table]);
      if (!compiled.has(key))
        compiled.set(
          key,
          await loadExpectations(spec, [...g.path, spec.config !== undefined ? 'config' : 'table'], dir, src, log, sources),
        );
      expectations = compiled.get(key) ?? null;
      if (expectations === null) continue;
    }
    let url: string | null = null;
    if (spec.url !== undefined) {
      try {
        const u = new URL(spec.url);
        if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('not http');
        url = spec.url.replace(/\/+$/, '');
      } catch {
        log.report('VMB2009', at([...g.path, 'url']), { detail: `url ${JSON.stringify(spec.url)} is not an http(s) URL` });
        continue;
      }
    }
    if (spec.pid_file !== undefined && url === null) {
      log.report('VMB2009', at([...g.path, 'pid_file'], 'key'), {
        detail: '`pid_file` names the process of a gateway given by `url:`; the harness measures the gateways it starts itself',
      });
      continue;
    }
    gateways.push({
      name: g.name,
      mode: url !== null ? 'url' : spec.config !== undefined ? 'config' : 'table',
      url,
      pidFile: spec.pid_file !== undefined ? resolve(dir, spec.pid_file) : null,
      workers: spec.workers ?? 1,
      headers: Object.fromEntries(Object.entries(spec.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
      expectations,
    });
  }

  // ---- simulated providers ----
  const configProviders = new Map<string, { type: string; models: string[] }>();
  for (const e of compiled.values()) {
    for (const p of e?.norm.providers ?? [])
      if (!configProviders.has(p.name)) configProviders.set(p.name, { type: p.type, models: p.models });
  }
  const sims: SimProviderSpec[] = [];
  const declared = s.providers ?? {};
  for (const [name, p] of Object.entries(declared)) {
    const cp = configProviders.get(name);
    if (cp === undefined && compiled.size > 0) {
      log.report('VMB2002', at(['providers', name], 'key'), {
        name,
        suggestion: closest(name, configProviders.keys()) ?? '',
        known: [...configProviders.keys()].join(', ') || '(none)',
      });
      continue;
    }
    const type = cp?.type ?? p.type;
    if (type === undefined) {
      log.report('VMB1005', at(['providers', name], 'key'), { context: `providers.${name}`, key: 'type', example: 'openai' });
      continue;
    }
    if (!SIMULATED_PROVIDER_TYPES.has(type)) {
      log.report('VMB2014', at(['providers', name], 'key'), { name, type });
      continue;
    }
    checkSimProvider(p, ['providers', name], cp?.models ?? null, src, log);
    sims.push(simSpec(name, type as SimFormat, p));
  }
  for (const [name, cp] of configProviders) {
    if (Object.hasOwn(declared, name)) continue;
    if (!SIMULATED_PROVIDER_TYPES.has(cp.type)) {
      log.report('VMB2014', at(['gateway' in s ? 'gateway' : 'gateways'], 'key'), { name, type: cp.type });
      continue;
    }
    sims.push({ name, format: cp.type as SimFormat });
  }

  // ---- workload ----
  const workload: WorkloadPlan[] = [];
  const tables = [...compiled.values()].filter((e): e is Expectations => e !== null);
  (s.workload ?? []).forEach((w, i) => {
    const p = ['workload', i];
    for (const e of tables) {
      if (e.table.lookupString(w.model) < 0) {
        log.report('VMB2001', at([...p, 'model']), { model: w.model, suggestion: closest(w.model, modelNames(e.table)) ?? '' });
        break;
      }
    }
    const plan = workloadPlan(w, i, (what, key, err) =>
      log.report('VMB2007', at([...p, what, ...(key === null ? [] : [key])]), {
        text: err.text,
        detail: err.message,
        example: '{{n % 100}}',
      }),
    );
    workload.push(plan);
  });

  // ---- phases ----
  const phases: PhasePlan[] = [];
  s.load.forEach((ph, i) => {
    const plan = phasePlan(ph, i, overrides, dir, src, log, sources, tables);
    if (plan !== null) phases.push(plan);
  });
  if (workload.length === 0 && !phases.every((p) => p.mode === 'trace'))
    log.report('VMB2013', at(['workload'], s.workload === undefined ? 'value' : 'key'));
  else if (workload.length > 0 && workload.every((w) => w.weight === 0) && !phases.every((p) => p.mode === 'trace'))
    log.report('VMB2019', at(['workload'], 'key'));

  // ---- thresholds ----
  const thresholds: Threshold[] = [];
  const names = s.gateways !== undefined ? gateways.map((g) => g.name) : [];
  (s.thresholds ?? []).forEach((expr, i) => {
    const r = parseThreshold(expr, names);
    if (r.ok) thresholds.push({ ...r.threshold, span: at(['thresholds', i]) });
    else if (r.error === 'syntax') log.report('VMB2004', at(['thresholds', i]), { expr });
    else if (r.error === 'gateway')
      log.report('VMB2016', at(['thresholds', i]), { name: r.gateway, known: names.join(', ') || '(a single gateway: no prefix)' });
    else log.report('VMB2005', at(['thresholds', i]), { metric: r.metric, suggestion: closest(r.metric, Object.keys(METRICS)) ?? '' });
  });
  s.load.forEach((ph, i) => {
    if (ph.mode === 'sweep' && (s.thresholds ?? []).length === 0) log.report('VMB2012', at(['load', i, 'mode']));
  });

  let baseline = s.baseline === true;
  if (baseline && gateways.length > 0 && gateways.every((g) => g.expectations === null)) {
    log.report('VMB2020', at(['baseline']), {
      detail: 'no gateway has a config or table, so the harness does not know which provider a request goes to; baseline skipped',
    });
    baseline = false;
  }

  if (log.hasErrors()) return null;
  return {
    file: src.path,
    dir,
    name: s.name ?? src.path.replace(/^.*[\\/]/, '').replace(/\.[^.]+$/, ''),
    description: s.description ?? '',
    gateways,
    multi: s.gateways !== undefined,
    sims,
    workload,
    phases,
    warmupS: overrides.warmupS ?? s.warmup_s ?? 1,
    rounds: s.rounds ?? 1,
    baseline,
    thresholds,
    seed: overrides.seed ?? s.seed ?? 1,
    timeoutMs: (s.timeout_s ?? 30) * 1000,
    threads: s.generator?.threads ?? 1,
    maxConnections: s.generator?.max_connections ?? null,
  };
}

/** Names a client may ask for: virtual models, slugs, catalogued models (for "did you mean"). */
function modelNames(table: RoutingTable): string[] {
  const out: string[] = [];
  for (let vm = 0; vm < table.vmCount; vm++) {
    out.push(table.vmName(vm));
    const slug = table.vmSlug(vm);
    if (slug !== null) out.push(slug);
  }
  return out;
}

/** Compiles a gateway's config (or reads its table): the routing the run expects. */
async function loadExpectations(
  spec: Gateway,
  path: (string | number)[],
  dir: string,
  src: ScenarioSource,
  log: BenchDiagnosticLog,
  sources: Sources,
): Promise<Expectations | null> {
  const span = spanAt(src, path);
  if (spec.config !== undefined) {
    const inputs = (Array.isArray(spec.config) ? spec.config : [spec.config]).map((p) => resolve(dir, p));
    for (const p of inputs) {
      if (!existsSync(p)) {
        log.report('VMB2006', span, { what: 'config', path: relative(process.cwd(), p) || p });
        return null;
      }
    }
    const front = await compileConfig(inputs);
    for (const f of front.sources) sources.set(f.path, f.text);
    for (const d of front.diagnostics) log.add(d);
    const errors = front.diagnostics.filter((d) => d.severity === 'error').length;
    if (front.config === null || errors > 0) {
      log.report('VMB2015', span, { summary: `${errors} error${errors === 1 ? '' : 's'}` });
      return null;
    }
    const bytes = lowerTable(front.config);
    return {
      source: 'config',
      label: inputs.map((p) => relative(process.cwd(), p)).join(', '),
      norm: front.config,
      table: RoutingTable.decode(bytes),
      bytes,
      tablePath: null,
    };
  }
  const p = resolve(dir, spec.table!);
  if (!existsSync(p)) {
    log.report('VMB2006', span, { what: 'table', path: relative(process.cwd(), p) || p });
    return null;
  }
  const file = statSync(p).isDirectory() ? join(p, TABLE_FILE) : p;
  try {
    const bytes = new Uint8Array(readFileSync(file));
    const table = RoutingTable.decode(bytes);
    return { source: 'table', label: relative(process.cwd(), file), norm: table.toNormalized(), table, bytes, tablePath: file };
  } catch (err) {
    log.report('VMB2018', span, { path: relative(process.cwd(), file), detail: (err as Error).message });
    return null;
  }
}

function simSpec(name: string, format: SimFormat, p: SimProvider): SimProviderSpec {
  const out: SimProviderSpec = { name, format };
  if (p.port !== undefined) out.port = p.port;
  if (p.ttft_ms !== undefined) out.ttft_ms = p.ttft_ms as DistributionSpec;
  if (p.itl_ms !== undefined) out.itl_ms = p.itl_ms as DistributionSpec;
  if (p.output_tokens !== undefined) out.output_tokens = p.output_tokens as DistributionSpec;
  if (p.faults !== undefined) out.faults = p.faults as SimFault[];
  if (p.models !== undefined) out.models = p.models as SimProviderSpec['models'];
  return out;
}

function checkDistribution(d: Distribution | undefined, path: (string | number)[], src: ScenarioSource, log: BenchDiagnosticLog): void {
  if (d === undefined || typeof d === 'number') return;
  const context = describePath(path);
  const keys = Object.keys(d);
  const pct = 'p50' in d || 'p99' in d;
  const range = 'min' in d || 'max' in d;
  if (pct && range) return log.report('VMB2022', spanAt(src, path), { context, detail: 'give { p50, p99 } or { min, max }, not both' });
  if (pct && (d.p50 === undefined || d.p99 === undefined))
    return log.report('VMB2022', spanAt(src, path), { context, detail: 'a percentile distribution needs both p50 and p99' });
  if (range && (d.min === undefined || d.max === undefined))
    return log.report('VMB2022', spanAt(src, path), { context, detail: 'a uniform distribution needs both min and max' });
  if (keys.length === 0) return log.report('VMB2022', spanAt(src, path), { context, detail: 'an empty mapping is no distribution' });
  if (pct && d.p99! < d.p50!) return log.report('VMB2022', spanAt(src, path), { context, detail: 'p99 is below p50' });
  if (range && d.max! < d.min!) return log.report('VMB2022', spanAt(src, path), { context, detail: 'max is below min' });
}

function checkFaults(
  faults: Fault[] | undefined,
  path: (string | number)[],
  perModel: boolean,
  src: ScenarioSource,
  log: BenchDiagnosticLog,
): void {
  (faults ?? []).forEach((f, i) => {
    const p = [...path, 'faults', i];
    if ((f.status === undefined) === (f.kind === undefined))
      log.report('VMB2011', spanAt(src, p), { detail: f.status !== undefined ? ' (it has both)' : '' });
    if (f.kind !== undefined && !(FAULT_KINDS as readonly string[]).includes(f.kind)) return;
    if (f.kind === 'refuse') {
      if (perModel) log.report('VMB2003', spanAt(src, [...p, 'kind']), { detail: 'it cannot apply to one model only' });
      else if (f.rate !== undefined && f.rate < 1)
        log.report('VMB2003', spanAt(src, [...p, 'rate']), { detail: 'it cannot hit a share of requests' });
      else if (f.from_s === undefined && f.for_s === undefined && f.flap_s === undefined)
        log.report('VMB2003', spanAt(src, p), { detail: 'without a window the provider never answers' });
    }
    checkDistribution(f.ttft_ms, [...p, 'ttft_ms'], src, log);
    checkDistribution(f.itl_ms, [...p, 'itl_ms'], src, log);
  });
}

function checkSimProvider(
  p: SimProvider,
  path: (string | number)[],
  models: string[] | null,
  src: ScenarioSource,
  log: BenchDiagnosticLog,
): void {
  for (const k of ['ttft_ms', 'itl_ms', 'output_tokens'] as const) checkDistribution(p[k], [...path, k], src, log);
  checkFaults(p.faults, path, false, src, log);
  for (const [m, spec] of Object.entries(p.models ?? {}) as [string, SimModel][]) {
    const mp = [...path, 'models', m];
    if (models !== null && !models.includes(m))
      log.report('VMB2017', spanAt(src, mp, 'key'), {
        provider: String(path[1]),
        model: m,
        suggestion: closest(m, models) ?? '',
        known: models.join(', '),
      });
    for (const k of ['ttft_ms', 'itl_ms', 'output_tokens'] as const) checkDistribution(spec[k], [...mp, k], src, log);
    checkFaults(spec.faults, mp, true, src, log);
  }
}

type TemplateFault = (what: 'headers' | 'metadata' | 'user_path', key: string | null, err: { text: string; message: string }) => void;

function template(text: string, what: 'headers' | 'metadata' | 'user_path', key: string | null, fault: TemplateFault | null): Template {
  if (fault === null) return { source: text, constant: true, render: () => text };
  try {
    return parseTemplate(text);
  } catch (err) {
    fault(what, key, { text, message: err instanceof TemplateError ? `${err.message} (at character ${err.offset + 1})` : String(err) });
    return parseTemplate(text.replace(/\{\{/g, '{ {'));
  }
}

/** A workload entry with defaults and parsed templates (`fault` null: values are literal, as in a trace). */
export function workloadPlan(w: WorkloadEntry, index: number, fault: TemplateFault | null): WorkloadPlan {
  const endpoint: Endpoint = w.endpoint ?? 'chat';
  const stream = w.stream === true && endpoint !== 'embeddings';
  return {
    index,
    label: w.name ?? `${w.model} ${endpoint}${stream ? ' stream' : ''}`,
    model: w.model,
    weight: w.weight ?? 1,
    endpoint,
    stream,
    maxTokens: w.max_tokens ?? (endpoint === 'messages' ? 16 : null),
    promptBytes: w.prompt_bytes ?? 0,
    headers: Object.entries(w.headers ?? {}).map(([k, v]) => [k.toLowerCase(), template(v, 'headers', k, fault)]),
    metadata: w.metadata === undefined ? null : Object.entries(w.metadata).map(([k, v]) => [k, template(v, 'metadata', k, fault)]),
    userPath: w.user_path === undefined ? null : template(w.user_path, 'user_path', null, fault),
    body: (w.body as Record<string, unknown> | undefined) ?? null,
  };
}

const REQUIRED: Record<string, string[]> = {
  rate: ['rate', 'duration_s'],
  closed: ['connections', 'duration_s'],
  ramp: ['from', 'to', 'duration_s'],
  steps: ['rates'],
  sweep: ['from', 'to', 'duration_s'],
  trace: ['file'],
};

function phasePlan(
  ph: Phase,
  i: number,
  o: Overrides,
  dir: string,
  src: ScenarioSource,
  log: BenchDiagnosticLog,
  sources: Sources,
  tables: Expectations[],
): PhasePlan | null {
  const path = ['load', i];
  let ok = true;
  for (const key of REQUIRED[ph.mode]) {
    if ((ph as unknown as Record<string, unknown>)[key] === undefined) {
      log.report('VMB2021', spanAt(src, [...path, 'mode']), { mode: ph.mode, key });
      ok = false;
    }
  }
  if (ph.mode === 'steps' && ph.step_s === undefined && ph.duration_s === undefined) {
    log.report('VMB2021', spanAt(src, [...path, 'mode']), { mode: ph.mode, key: 'step_s' });
    ok = false;
  }
  if (
    (ph.mode === 'ramp' || ph.mode === 'sweep') &&
    ph.from !== undefined &&
    ph.to !== undefined &&
    ph.mode === 'sweep' &&
    ph.to < ph.from
  ) {
    log.report('VMB1006', spanAt(src, [...path, 'to']), {
      context: describePath([...path, 'to']),
      detail: 'must be ≥ from',
      actual: String(ph.to),
    });
    ok = false;
  }
  let trace: TraceItem[] | null = null;
  let traceWorkload: WorkloadPlan[] | null = null;
  if (ph.mode === 'trace' && ph.file !== undefined) {
    const t = readTrace(resolve(dir, ph.file), spanAt(src, [...path, 'file']), log, sources, tables);
    if (t === null) ok = false;
    else ({ items: trace, workload: traceWorkload } = t);
  }
  if (!ok) return null;
  const d = o.durationS;
  const stepS = ph.step_s ?? (ph.duration_s !== undefined && ph.rates !== undefined ? ph.duration_s / ph.rates.length : 0);
  return {
    index: i,
    label: ph.name ?? `${i + 1}: ${ph.mode}`,
    mode: ph.mode,
    durationS: d ?? (ph.mode === 'steps' ? stepS : ph.mode === 'trace' ? (ph.duration_s ?? Infinity) : ph.duration_s!),
    rate: ph.mode === 'rate' ? (o.rate ?? ph.rate!) : (ph.rate ?? 0),
    arrival: ph.arrival ?? 'uniform',
    connections: ph.connections ?? 0,
    thinkMs: ph.think_ms ?? 0,
    from: ph.from ?? 0,
    to: ph.to ?? 0,
    rates: ph.rates ?? [],
    factor: ph.factor ?? 1.5,
    refine: ph.refine ?? 2,
    trace,
    traceWorkload,
    speed: ph.speed ?? 1,
  };
}

/** Reads a JSONL trace: one request per line, `t_ms` ascending (sorted if not). */
function readTrace(
  path: string,
  span: Span,
  log: BenchDiagnosticLog,
  sources: Sources,
  tables: Expectations[],
): { items: TraceItem[]; workload: WorkloadPlan[] } | null {
  if (!existsSync(path)) {
    log.report('VMB2006', span, { what: 'trace', path: relative(process.cwd(), path) || path });
    return null;
  }
  const text = readFileSync(path, 'utf8');
  sources.set(path, text);
  const items: TraceItem[] = [];
  const shapes = new Map<string, number>();
  const workload: WorkloadPlan[] = [];
  let offset = 0;
  let bad = false;
  const lines = text.split('\n');
  lines.forEach((line, k) => {
    const start = offset;
    offset += line.length + 1;
    if (line.trim() === '') return;
    const lineSpan = { file: path, start, end: start + line.length };
    const fail = (detail: string) => {
      log.report('VMB2008', lineSpan, { path: relative(process.cwd(), path), line: k + 1, detail });
      bad = true;
    };
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(line) as Record<string, unknown>;
    } catch (err) {
      return fail((err as Error).message);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return fail('not a JSON object');
    if (typeof v.t_ms !== 'number' || !Number.isFinite(v.t_ms) || v.t_ms < 0) return fail('t_ms must be a number ≥ 0');
    if (typeof v.model !== 'string') return fail('model must be a string');
    const endpoints = ['chat', 'messages', 'completions', 'embeddings', 'responses'];
    if (v.endpoint !== undefined && !endpoints.includes(v.endpoint as string))
      return fail(`endpoint must be one of ${endpoints.join(', ')}`);
    for (const key of ['headers', 'metadata']) {
      const o = v[key];
      if (
        o !== undefined &&
        (o === null || typeof o !== 'object' || Array.isArray(o) || Object.values(o).some((x) => typeof x !== 'string'))
      )
        return fail(`${key} must be an object of strings`);
    }
    if (v.user_path !== undefined && typeof v.user_path !== 'string') return fail('user_path must be a string');
    for (const e of tables) if (e.table.lookupString(v.model) < 0) return fail(`model "${v.model}" is not a model of the config`);
    const entry: WorkloadEntry = { model: v.model };
    if (v.endpoint !== undefined) entry.endpoint = v.endpoint as Endpoint;
    if (v.stream !== undefined) entry.stream = v.stream === true;
    if (typeof v.max_tokens === 'number') entry.max_tokens = v.max_tokens;
    if (v.headers !== undefined) entry.headers = v.headers as Record<string, string>;
    if (v.metadata !== undefined) entry.metadata = v.metadata as Record<string, string>;
    if (v.user_path !== undefined) entry.user_path = v.user_path;
    if (v.body !== undefined && v.body !== null && typeof v.body === 'object') entry.body = v.body as Record<string, unknown>;
    const key = JSON.stringify(entry);
    let idx = shapes.get(key);
    if (idx === undefined) {
      idx = workload.length;
      shapes.set(key, idx);
      // Recorded values are literal: no templates in a trace.
      workload.push(workloadPlan(entry, idx, null));
    }
    items.push({ tMs: v.t_ms, entry: idx });
  });
  if (bad) return null;
  if (items.length === 0) {
    log.report(
      'VMB2008',
      { file: path, start: 0, end: 0 },
      { path: relative(process.cwd(), path), line: 1, detail: 'the trace holds no request' },
    );
    return null;
  }
  items.sort((a, b) => a.tMs - b.tMs);
  return { items, workload };
}
