/**
 * Phase 1 — load: input paths → parsed files with source locations (SPEC §2).
 *
 * Inputs are files and directories; a directory contributes every `*.yaml`, `*.yml` and `*.ts`
 * below it (recursively, skipping node_modules, dotfiles and `*.d.ts`). Files are de-duplicated
 * and sorted by absolute path, so the result never depends on the order of the inputs.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import type { DiagnosticLog } from './diagnostics.js';
import type { Dialect } from './dialects.js';
import { LocationMap, type JsonPath, type Part, type Range } from './load-locations.js';
import { loadYaml } from './load-yaml.js';
import type { FileValidation } from './validate.js';

export { LocationMap, type JsonPath, type Part, type Range } from './load-locations.js';

export interface LoadedFile {
  /** Absolute path. */
  path: string;
  text: string;
  /** Hex SHA-256 of `text` (UTF-8). */
  sha256: string;
  kind: 'yaml' | 'ts';
  /** The file's data; `undefined` when it could not be parsed or evaluated (already reported). */
  data: unknown;
  locations: LocationMap;
}

/** A source position for diagnostics. */
export interface Span {
  file: string;
  start: number;
  end: number;
}

/** Where `path` (a JSON path inside `file`) was written. */
export function spanOf(file: LoadedFile, path: JsonPath, part: Part = 'value'): Span {
  const r: Range = file.locations.find(path, part);
  return { file: file.path, start: r.start, end: r.end };
}

const CONFIG_EXTENSIONS = new Set(['.yaml', '.yml', '.ts']);

function isConfigFile(name: string): boolean {
  return CONFIG_EXTENSIONS.has(extname(name)) && !name.endsWith('.d.ts');
}

/**
 * Reads and parses every config file named by `inputs` (resolved against `cwd`). Missing
 * inputs and directories without config files are VMC1007.
 */
export async function loadInputs(inputs: string[], log: DiagnosticLog, cwd: string = process.cwd()): Promise<LoadedFile[]> {
  const paths = new Set<string>();
  for (const input of [...inputs].map((i) => resolve(cwd, i)).sort()) {
    const st = await stat(input).catch(() => undefined);
    if (!st) {
      log.report('VMC1007', input, 0, 0, { detail: `input not found: ${input}` });
    } else if (st.isDirectory()) {
      const found = await collectDirectory(input);
      if (found.length === 0) log.report('VMC1007', input, 0, 0, { detail: `no config files in directory ${input}` });
      for (const f of found) paths.add(f);
    } else if (isConfigFile(input)) {
      paths.add(input);
    } else {
      log.report('VMC1007', input, 0, 0, { detail: `not a config file (expected .yaml, .yml or .ts): ${input}` });
    }
  }
  if (inputs.length === 0) log.report('VMC1007', '', 0, 0, { detail: 'no input files given' });

  const sorted = [...paths].sort();
  const read = await Promise.allSettled(sorted.map((p) => readFile(p, 'utf8')));
  const files: LoadedFile[] = [];
  sorted.forEach((path, i) => {
    const r = read[i];
    if (r.status === 'rejected') {
      log.report('VMC1007', path, 0, 0, { detail: `cannot read ${path}: ${(r.reason as Error).message}` });
      return;
    }
    files.push({
      path,
      text: r.value,
      sha256: createHash('sha256').update(r.value).digest('hex'),
      kind: path.endsWith('.ts') ? 'ts' : 'yaml',
      data: undefined,
      locations: new LocationMap(),
    });
  });

  for (const f of files) {
    if (f.kind !== 'yaml') continue;
    const r = loadYaml(f.path, f.text, log);
    f.data = r.data;
    f.locations = r.locations;
  }
  const tsFiles = files.filter((f) => f.kind === 'ts');
  if (tsFiles.length === 0) return files;
  // TypeScript (via ts-morph) takes a while to load; YAML-only builds never pay for it.
  const { loadTsConfigs } = await import('./load-ts.js');
  const tsResults = await loadTsConfigs(tsFiles, log);
  for (const f of tsFiles) {
    const r = tsResults.get(f.path);
    if (r) {
      f.data = r.data;
      f.locations = r.locations;
    }
  }
  return files;
}

/** Config files below `dir`, sorted; node_modules and dot-entries are skipped. */
async function collectDirectory(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await collectDirectory(p)));
    else if (!isConfigFile(e.name)) continue;
    // Symlinked files are followed; symlinked directories are not (they could form a loop).
    else if (e.isFile() || (e.isSymbolicLink() && (await stat(p).catch(() => undefined))?.isFile())) out.push(p);
  }
  return out.sort();
}

// ---------------------------------------------------------------------------------------------
// Merge: several files → one config (SPEC §2 "a name defined twice is an error that names both
// locations"). Runs after validate.ts, whose verdicts it carries along.

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
        const s = spanOf(file, ['version']);
        const r = spanOf(version.file, ['version']);
        log.report('VMC1008', s.file, s.start, s.end, { version: String(data.version), other: String(version.value) }, [
          { ...r, message: `version ${String(version.value)} declared here` },
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
          const s = spanOf(file, entry.path);
          const r = spanOf(prev.file, prev.path);
          log.report('VMC2020', s.file, s.start, s.end, { key, value: String(entry.value), other: String(prev.value) }, [
            { ...r, message: `set to ${String(prev.value)} here` },
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
          const s = spanOf(file, path, 'key');
          const r = spanOf(prev.file, prev.path, 'key');
          log.report(code, s.file, s.start, s.end, { name }, [{ ...r, message: 'first defined here' }]);
          continue;
        }
        const entry = { name, value, file, path, valid: !invalid.has(`${section}/${name}`), dialect: dialects.get(name) };
        (target as Map<string, VirtualModelEntry>).set(name, entry);
      }
    }
  }
  const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  merged.providers = [...providers.values()].sort(byName);
  merged.virtualModels = [...vms.values()].sort(byName);
  return merged;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
