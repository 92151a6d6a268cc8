/**
 * Phase: merge. Validated files → one config (SPEC §2: "a name defined twice is an error that
 * names both locations"). Runs after validate.ts, whose verdicts it carries along: entries a
 * file's validation rejected are kept but marked invalid, so later phases skip them rather than
 * report their consequences.
 */
import type { DiagnosticLog } from './diagnostics.js';
import type { Dialect } from './dialects.js';
import { spanOf, type JsonPath, type LoadedFile } from './load.js';
import { compareStrings, isObject } from '../runtime/table/util.js';

/** The outcome of validating one file. */
export interface FileValidation {
  file: LoadedFile;
  /** The file's data as an object (`{}` when unusable). */
  data: Record<string, unknown>;
  /**
   * Entries that failed validation, as `section/name` (`providers/openai`,
   * `virtual_models/a`) or a top-level key (`settings`, `version`, `providers`, …).
   * Later phases skip them, so one fault is not reported again as its consequences.
   */
  invalid: Set<string>;
  /** Detected dialect of every virtual model body that is an object. */
  dialects: Map<string, Dialect>;
}

/** One provider, virtual model or setting, with where it was written. */
export interface ConfigEntry<T = unknown> {
  name: string;
  value: T;
  file: LoadedFile;
  /** Path of the entry inside its file, e.g. `['virtual_models', 'a']`. */
  path: JsonPath;
  /** False when validate.ts reported it; later phases skip it rather than cascade. */
  valid: boolean;
}

export interface VirtualModelEntry extends ConfigEntry {
  /** Detected dialect; undefined when the body was not an object or mixed dialects. */
  dialect: Dialect | undefined;
}

export interface MergedConfig {
  /** Sorted by path. */
  files: LoadedFile[];
  settings: { passthrough?: ConfigEntry<boolean>; models_endpoint?: ConfigEntry<'all' | 'virtual_only'> };
  /** Sorted by name; the first definition (in file order) wins a duplicate. */
  providers: ConfigEntry[];
  /** Sorted by name. */
  virtualModels: VirtualModelEntry[];
}

/**
 * Merges validated files in path order. Providers and virtual models merge by name (a second
 * definition is VMC2006/VMC2004 with both places); settings merge by key (a different value is
 * VMC2020); `version` must agree where present (VMC1008).
 */
export function mergeFiles(validations: FileValidation[], log: DiagnosticLog): MergedConfig {
  const merged: MergedConfig = { files: validations.map((v) => v.file), settings: {}, providers: [], virtualModels: [] };
  const providers = new Map<string, ConfigEntry>();
  const vms = new Map<string, VirtualModelEntry>();
  let version: { value: unknown; file: LoadedFile } | undefined;

  for (const { file, data, invalid, dialects } of validations) {
    if (invalid.has('')) continue;
    if ('version' in data) {
      if (!version) version = { value: data.version, file };
      else if (JSON.stringify(data.version) !== JSON.stringify(version.value)) {
        log.report('VMC1008', spanOf(file, ['version']), { version: String(data.version), other: String(version.value) }, [
          { ...spanOf(version.file, ['version']), message: `version ${String(version.value)} declared here` },
        ]);
      }
    }
    const settings = data.settings;
    if (isObject(settings) && !invalid.has('settings')) {
      for (const key of ['passthrough', 'models_endpoint'] as const) {
        if (!(key in settings)) continue;
        const entry: ConfigEntry = { name: key, value: settings[key], file, path: ['settings', key], valid: true };
        const prev = merged.settings[key];
        if (!prev) (merged.settings as Record<string, ConfigEntry>)[key] = entry;
        else if (prev.value !== entry.value) {
          log.report('VMC2020', spanOf(file, entry.path), { key, value: String(entry.value), other: String(prev.value) }, [
            { ...spanOf(prev.file, prev.path), message: `set to ${String(prev.value)} here` },
          ]);
        }
      }
    }
    for (const [section, code, target] of [
      ['providers', 'VMC2006', providers],
      ['virtual_models', 'VMC2004', vms],
    ] as const) {
      const map = data[section];
      if (!isObject(map) || invalid.has(section)) continue;
      for (const [name, value] of Object.entries(map)) {
        const path = [section, name];
        const prev = target.get(name);
        if (prev) {
          const first = { ...spanOf(prev.file, prev.path, 'key'), message: 'first defined here' };
          log.report(code, spanOf(file, path, 'key'), { name }, [first]);
          continue;
        }
        const entry = { name, value, file, path, valid: !invalid.has(`${section}/${name}`), dialect: dialects.get(name) };
        (target as Map<string, VirtualModelEntry>).set(name, entry);
      }
    }
  }
  const byName = (a: { name: string }, b: { name: string }) => compareStrings(a.name, b.name);
  merged.providers = [...providers.values()].sort(byName);
  merged.virtualModels = [...vms.values()].sort(byName);
  return merged;
}
