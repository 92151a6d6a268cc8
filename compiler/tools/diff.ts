/**
 * `vmc diff OLD NEW`: which virtual models and routes changed between two tables (SPEC §5).
 * Works on the decoded normalized configs, so it compares meaning, not bytes.
 * Exit codes (SPEC §9): 0 the tables route identically, 1 they differ, 2 trouble.
 */
import { isDeepStrictEqual } from 'node:util';
import type { NormConfig, NormTarget, NormVirtualModel } from '../../runtime/table/normalized.js';
import { compareStrings } from '../../runtime/table/util.js';

export interface VmChange {
  name: string;
  change: 'added' | 'removed' | 'changed';
  /** For `changed`: what differs, one line each (e.g. `weight openai/gpt-4o: 70 → 60`). */
  details: string[];
}

export interface TableDiff {
  identicalRouting: boolean;
  settings: string[];
  providers: string[];
  virtualModels: VmChange[];
}

const label = (t: NormTarget): string => `${t.provider}/${t.model}`;
const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** Fields that do not change routing (listed in the diff, but `identicalRouting` holds). */
const DESCRIPTIVE = new Set(['description']);

function diffTargets(a: NormTarget[], b: NormTarget[], out: string[]): void {
  const before = new Map(a.map((t) => [label(t), t]));
  const after = new Map(b.map((t) => [label(t), t]));
  for (const [l] of before) if (!after.has(l)) out.push(`target removed ${l}`);
  for (const [l, t] of after) {
    const old = before.get(l);
    if (!old) {
      out.push(`target added ${l}`);
      continue;
    }
    for (const key of Object.keys(t) as (keyof NormTarget)[]) {
      if (!isDeepStrictEqual(old[key], t[key])) out.push(`${key} ${l}: ${show(old[key])} → ${show(t[key])}`);
    }
  }
  const orderA = a.map(label).filter((l) => after.has(l));
  const orderB = b.map(label).filter((l) => before.has(l));
  if (!isDeepStrictEqual(orderA, orderB)) out.push(`target order: ${orderA.join(', ')} → ${orderB.join(', ')}`);
}

function diffVm(a: NormVirtualModel, b: NormVirtualModel): { details: string[]; routing: boolean } {
  const details: string[] = [];
  let routing = false;
  for (const key of Object.keys(b) as (keyof NormVirtualModel)[]) {
    if (key === 'targets' || isDeepStrictEqual(a[key], b[key])) continue;
    details.push(`${key}: ${show(a[key])} → ${show(b[key])}`);
    if (!DESCRIPTIVE.has(key)) routing = true;
  }
  const before = details.length;
  diffTargets(a.targets, b.targets, details);
  if (details.length > before) routing = true;
  return { details, routing };
}

export function diffConfigs(a: NormConfig, b: NormConfig): TableDiff {
  const result: TableDiff = { identicalRouting: true, settings: [], providers: [], virtualModels: [] };
  for (const key of Object.keys(b.settings) as (keyof NormConfig['settings'])[]) {
    if (a.settings[key] !== b.settings[key]) result.settings.push(`${key}: ${a.settings[key]} → ${b.settings[key]}`);
  }
  const pa = new Map(a.providers.map((p) => [p.name, p]));
  const pb = new Map(b.providers.map((p) => [p.name, p]));
  for (const [name] of pa) if (!pb.has(name)) result.providers.push(`removed ${name}`);
  for (const [name, p] of pb) {
    const old = pa.get(name);
    if (!old) result.providers.push(`added ${name}`);
    else {
      for (const key of Object.keys(p) as (keyof typeof p)[]) {
        if (!isDeepStrictEqual(old[key], p[key])) result.providers.push(`${name} ${key}: ${show(old[key])} → ${show(p[key])}`);
      }
    }
  }
  const va = new Map(a.virtualModels.map((v) => [v.name, v]));
  const vb = new Map(b.virtualModels.map((v) => [v.name, v]));
  let routingChanged = result.settings.length > 0 || result.providers.length > 0;
  for (const [name] of va) {
    if (!vb.has(name)) {
      result.virtualModels.push({ name, change: 'removed', details: [] });
      routingChanged = true;
    }
  }
  for (const [name, v] of vb) {
    const old = va.get(name);
    if (!old) {
      result.virtualModels.push({
        name,
        change: 'added',
        details: v.targets.map((t) => `→ ${label(t)} (weight ${t.weight}, priority ${t.priority})`),
      });
      routingChanged = true;
      continue;
    }
    const { details, routing } = diffVm(old, v);
    if (details.length > 0) result.virtualModels.push({ name, change: 'changed', details });
    if (routing) routingChanged = true;
  }
  result.virtualModels.sort((x, y) => compareStrings(x.name, y.name));
  result.identicalRouting = !routingChanged;
  return result;
}

export function renderDiff(d: TableDiff): string {
  const lines: string[] = [];
  for (const s of d.settings) lines.push(`settings  ${s}`);
  for (const p of d.providers) lines.push(`provider  ${p}`);
  const sign = { added: '+', removed: '-', changed: '~' } as const;
  for (const v of d.virtualModels) {
    lines.push(`${sign[v.change]} ${v.name}${v.change === 'changed' ? '' : ` (${v.change})`}`);
    for (const line of v.details) lines.push(`    ${line}`);
  }
  lines.push(d.identicalRouting ? 'tables route identically' : `routing differs: ${d.virtualModels.length} virtual model(s) changed`);
  return lines.join('\n') + '\n';
}
