/**
 * `vmc diff OLD NEW`: which virtual models and routes changed between two configs (SPEC §5,
 * §15). Works on normalized configs (decoded tables or configs compiled in memory), so it
 * compares meaning, not bytes. The result is structured — per virtual model, per field (and per
 * target), the values before and after — and three renderings read it: text (terminal), JSON
 * (the structure itself) and markdown (a pull-request comment).
 * Exit codes (SPEC §9): 0 the configs route identically, 1 they differ, 2 trouble.
 */
import { isDeepStrictEqual } from 'node:util';
import type { NormConfig, NormProvider, NormTarget, NormVirtualModel } from '../../runtime/table/normalized.js';
import { compareStrings } from '../../runtime/table/util.js';

/** One field whose value changed. Values are JSON values (override params parsed, not JSON text). */
export interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
}

export interface TargetChange {
  /** `provider/model`. */
  target: string;
  change: 'added' | 'removed' | 'changed';
  /** For `changed`: the fields that differ. */
  fields: FieldChange[];
  /** The whole target before (`removed`) or after (`added`). */
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
}

export interface VmChange {
  name: string;
  change: 'added' | 'removed' | 'changed';
  /** False when only descriptive fields (description) changed. */
  routing: boolean;
  /** For `changed`: model-level fields that differ (strategy, enabled, sticky, …). */
  fields: FieldChange[];
  /** For `changed`: targets added, removed or changed. */
  targets: TargetChange[];
  /** For `changed`: the order of the targets present on both sides, when it changed. */
  targetOrder?: { before: string[]; after: string[] };
  /** The whole virtual model before (`removed`) or after (`added`). */
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
}

export interface ProviderChange {
  name: string;
  change: 'added' | 'removed' | 'changed';
  fields: FieldChange[];
}

export interface TableDiff {
  identicalRouting: boolean;
  settings: FieldChange[];
  providers: ProviderChange[];
  /** Sorted by name. */
  virtualModels: VmChange[];
}

const label = (t: NormTarget): string => `${t.provider}/${t.model}`;

/** Fields that do not change routing (listed in the diff, but `identicalRouting` holds). */
const DESCRIPTIVE = new Set(['description']);

/** Fields held as canonical JSON text in the normalized form: shown as the values they encode. */
const JSON_TEXT_FIELDS = new Set(['overrideParams']);

function value(field: string, v: unknown): unknown {
  return JSON_TEXT_FIELDS.has(field) && typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
}

/** A normalized record as plain JSON values (JSON text fields parsed). */
function plain(record: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, value(k, v)]));
}

function fieldChanges<T extends object>(a: T, b: T, skip: ReadonlySet<string> = new Set()): FieldChange[] {
  const out: FieldChange[] = [];
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) {
    if (skip.has(key)) continue;
    const before = (a as Record<string, unknown>)[key];
    const after = (b as Record<string, unknown>)[key];
    if (!isDeepStrictEqual(before, after)) out.push({ field: key, before: value(key, before) ?? null, after: value(key, after) ?? null });
  }
  return out;
}

function diffVm(a: NormVirtualModel, b: NormVirtualModel): VmChange {
  const fields = fieldChanges(a, b, new Set(['name', 'targets']));
  const before = new Map(a.targets.map((t) => [label(t), t]));
  const after = new Map(b.targets.map((t) => [label(t), t]));
  const targets: TargetChange[] = [];
  for (const [l, t] of before) if (!after.has(l)) targets.push({ target: l, change: 'removed', fields: [], before: plain(t) });
  for (const [l, t] of after) {
    const old = before.get(l);
    if (!old) targets.push({ target: l, change: 'added', fields: [], after: plain(t) });
    else {
      const changed = fieldChanges(old, t);
      if (changed.length > 0) targets.push({ target: l, change: 'changed', fields: changed });
    }
  }
  const change: VmChange = {
    name: b.name,
    change: 'changed',
    routing: targets.length > 0 || fields.some((f) => !DESCRIPTIVE.has(f.field)),
    fields,
    targets,
  };
  const orderA = a.targets.map(label).filter((l) => after.has(l));
  const orderB = b.targets.map(label).filter((l) => before.has(l));
  if (!isDeepStrictEqual(orderA, orderB)) {
    change.targetOrder = { before: orderA, after: orderB };
    change.routing = true;
  }
  return change;
}

function diffProviders(a: NormProvider[], b: NormProvider[]): ProviderChange[] {
  const pa = new Map(a.map((p) => [p.name, p]));
  const pb = new Map(b.map((p) => [p.name, p]));
  const out: ProviderChange[] = [];
  for (const [name] of pa) if (!pb.has(name)) out.push({ name, change: 'removed', fields: [] });
  for (const [name, p] of pb) {
    const old = pa.get(name);
    if (!old) out.push({ name, change: 'added', fields: [] });
    else {
      const fields = fieldChanges(old, p, new Set(['name']));
      if (fields.length > 0) out.push({ name, change: 'changed', fields });
    }
  }
  return out.sort((x, y) => compareStrings(x.name, y.name));
}

export function diffConfigs(a: NormConfig, b: NormConfig): TableDiff {
  const result: TableDiff = {
    identicalRouting: true,
    settings: fieldChanges(a.settings, b.settings),
    providers: diffProviders(a.providers, b.providers),
    virtualModels: [],
  };
  const va = new Map(a.virtualModels.map((v) => [v.name, v]));
  const vb = new Map(b.virtualModels.map((v) => [v.name, v]));
  for (const [name, v] of va) {
    if (!vb.has(name)) result.virtualModels.push({ name, change: 'removed', routing: true, fields: [], targets: [], before: vmRecord(v) });
  }
  for (const [name, v] of vb) {
    const old = va.get(name);
    if (!old) {
      result.virtualModels.push({ name, change: 'added', routing: true, fields: [], targets: [], after: vmRecord(v) });
      continue;
    }
    const change = diffVm(old, v);
    if (change.fields.length > 0 || change.targets.length > 0 || change.targetOrder) result.virtualModels.push(change);
  }
  result.virtualModels.sort((x, y) => compareStrings(x.name, y.name));
  result.identicalRouting = result.settings.length === 0 && result.providers.length === 0 && !result.virtualModels.some((v) => v.routing);
  return result;
}

function vmRecord(v: NormVirtualModel): Record<string, unknown> {
  return { ...plain(v), targets: v.targets.map(plain) };
}

// ---- renderings ----

/** A value on one line: strings bare, everything else as JSON. */
const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

const arrow = (f: FieldChange): string => `${show(f.before)} → ${show(f.after)}`;

/** One line per change of a changed virtual model (text and markdown share them). */
export function changeLines(v: VmChange): string[] {
  if (v.change !== 'changed') {
    const targets = ((v.after ?? v.before)?.targets ?? []) as Record<string, unknown>[];
    return v.change === 'added'
      ? targets.map((t) => `→ ${String(t.provider)}/${String(t.model)} (weight ${show(t.weight)}, priority ${show(t.priority)})`)
      : [];
  }
  const lines = v.fields.map((f) => `${f.field}: ${arrow(f)}`);
  for (const t of v.targets) {
    if (t.change === 'removed') lines.push(`target removed ${t.target}`);
    else if (t.change === 'added') lines.push(`target added ${t.target}`);
    else for (const f of t.fields) lines.push(`${f.field} ${t.target}: ${arrow(f)}`);
  }
  if (v.targetOrder) lines.push(`target order: ${v.targetOrder.before.join(', ')} → ${v.targetOrder.after.join(', ')}`);
  return lines;
}

function providerLine(p: ProviderChange): string[] {
  if (p.change !== 'changed') return [`${p.change} ${p.name}`];
  return p.fields.map((f) => `${p.name} ${f.field}: ${arrow(f)}`);
}

function summaryLine(d: TableDiff): string {
  if (d.identicalRouting) return 'tables route identically';
  return `routing differs: ${d.virtualModels.length} virtual model(s) changed`;
}

export function renderDiff(d: TableDiff): string {
  const lines: string[] = [];
  for (const s of d.settings) lines.push(`settings  ${s.field}: ${arrow(s)}`);
  for (const p of d.providers) for (const line of providerLine(p)) lines.push(`provider  ${line}`);
  const sign = { added: '+', removed: '-', changed: '~' } as const;
  for (const v of d.virtualModels) {
    lines.push(`${sign[v.change]} ${v.name}${v.change === 'changed' ? '' : ` (${v.change})`}`);
    for (const line of changeLines(v)) lines.push(`    ${line}`);
  }
  lines.push(summaryLine(d));
  return lines.join('\n') + '\n';
}

/** Marks the comment, so a CI job can find and update its previous one. */
export const MARKDOWN_MARKER = '<!-- vmc-diff -->';

/** Rows past this are summarised: a PR comment holds at most 65,536 characters. */
const MARKDOWN_MAX_ROWS = 200;

/** Text inside a markdown table cell: pipes escaped, newlines folded, HTML neutralised. */
function cell(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r?\n/g, ' ');
}

/** A code span (inside a table cell): pipes escaped; a name holding a backtick gets a double fence. */
function code(s: string): string {
  const text = s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
  return s.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

/**
 * A pull-request comment: a summary line, then a table of the changed virtual models (one
 * row each, their changes in the last cell), and the settings and provider changes.
 * `title` names what was compared (e.g. `main → this PR`).
 */
export function renderMarkdown(d: TableDiff, title = 'vmc diff'): string {
  const out: string[] = [MARKDOWN_MARKER, `### ${cell(title)}`, ''];
  const counts = { added: 0, removed: 0, changed: 0 };
  for (const v of d.virtualModels) counts[v.change]++;
  if (d.identicalRouting) {
    out.push(d.virtualModels.length === 0 ? '✅ No routing changes.' : '✅ No routing changes (descriptions only).');
  } else {
    const parts = (['added', 'removed', 'changed'] as const).filter((k) => counts[k] > 0).map((k) => `${counts[k]} ${k}`);
    out.push(
      `⚠️ **Routing changes**: ${d.virtualModels.length} virtual model${d.virtualModels.length === 1 ? '' : 's'}${parts.length ? ` (${parts.join(', ')})` : ''}.`,
    );
  }
  if (d.virtualModels.length > 0) {
    out.push('', '| | virtual model | changes |', '|---|---|---|');
    const sign = { added: '➕', removed: '➖', changed: '✏️' } as const;
    for (const v of d.virtualModels.slice(0, MARKDOWN_MAX_ROWS)) {
      const lines = changeLines(v);
      const what = v.change === 'changed' ? lines : [v.change, ...lines];
      out.push(`| ${sign[v.change]} | ${code(v.name)} | ${what.map(cell).join('<br>')} |`);
    }
    if (d.virtualModels.length > MARKDOWN_MAX_ROWS) {
      out.push('', `… and ${d.virtualModels.length - MARKDOWN_MAX_ROWS} more (run \`vmc diff\` for the full list).`);
    }
  }
  if (d.settings.length > 0 || d.providers.length > 0) {
    out.push('', '**Settings and providers**', '');
    for (const s of d.settings) out.push(`- settings ${code(s.field)}: ${cell(arrow(s))}`);
    for (const p of d.providers) for (const line of providerLine(p)) out.push(`- provider ${cell(line)}`);
  }
  return out.join('\n') + '\n';
}
