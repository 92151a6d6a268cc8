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
import { LocationMap, type JsonPath, type Part, type Range } from './load-locations.js';
import { loadYaml } from './load-yaml.js';

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
