/**
 * Phase: rewrite. Every valid virtual model of the merged config → its native form
 * (dialects.ts does one body), keeping a way back to where each native node was written.
 */
import type { NativeVirtualModel } from './config-types.gen.js';
import { rewriteBody, type Dialect } from './dialects.js';
import type { Span } from './diagnostics.js';
import { spanOf, type JsonPath, type Part } from './load.js';
import type { MergedConfig, VirtualModelEntry } from './merge.js';

/** A virtual model in native form, still able to point back at its source. */
export interface NativeModel {
  name: string;
  dialect: Dialect;
  body: NativeVirtualModel;
  entry: VirtualModelEntry;
  /** Where the native node `sub` (a path inside `body`) was written; `[]` + 'key' = the name. */
  at(sub: JsonPath, part?: Part): Span;
}

/** Rewrites every valid virtual model of a merged config (sorted by name) into native form. */
export function rewriteEntries(merged: MergedConfig): NativeModel[] {
  const out: NativeModel[] = [];
  for (const entry of merged.virtualModels) {
    if (!entry.valid || entry.dialect === undefined) continue;
    const { body, origin } = rewriteBody(entry.dialect, entry.value);
    out.push({
      name: entry.name,
      dialect: entry.dialect,
      body,
      entry,
      at: (sub, part = 'value') => spanOf(entry.file, [...entry.path, ...origin.resolve(sub)], part),
    });
  }
  return out;
}
