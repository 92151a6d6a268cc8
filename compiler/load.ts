/**
 * Phase 1 — load: config documents → parsed files with source locations (SPEC §2).
 *
 * Two steps, so that text which never was a file (the admin API's config, tests) takes the
 * same path as files on disk:
 *   readInputs     input paths → documents. Inputs are files and directories; a directory
 *                  contributes every `*.yaml`, `*.yml` and `*.ts` below it (recursively,
 *                  skipping node_modules, dotfiles and `*.d.ts`).
 *   loadDocuments  documents → parsed files (YAML with positions; TypeScript type-checked and
 *                  evaluated, see load-ts.ts).
 * Input paths are de-duplicated and documents sorted by path, so the result never depends on
 * the order of the inputs.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import type { DiagnosticLog, Span } from './diagnostics.js';
import { LocationMap, type JsonPath, type Part, type Range } from './load-locations.js';
import { loadYaml } from './load-yaml.js';
import { compareStrings } from '../runtime/table/util.js';

export { LocationMap, type JsonPath, type Part, type Range } from './load-locations.js';

export type DocumentKind = 'yaml' | 'ts';

/** One config text and the name diagnostics give it. */
export interface ConfigDocument {
  /** Absolute path of a file, or a label for text that is not a file (e.g. the admin state file). */
  path: string;
  text: string;
  /** How to read `text`; by default from the extension of `path` (see {@link documentKind}). */
  kind?: DocumentKind;
}

/** A config text as the build saw it (the manifest lists these). */
export interface SourceFile {
  /** Absolute path, or the document's label. */
  path: string;
  text: string;
  /** Hex SHA-256 of `text` (UTF-8). */
  sha256: string;
}

export interface LoadedFile extends SourceFile {
  kind: DocumentKind;
  /** The file's data; `undefined` when it could not be parsed or evaluated (already reported). */
  data: unknown;
  locations: LocationMap;
}

/** Where `path` (a JSON path inside `file`) was written. */
export function spanOf(file: LoadedFile, path: JsonPath, part: Part = 'value'): Span {
  const r: Range = file.locations.find(path, part);
  return { file: file.path, start: r.start, end: r.end };
}

/** The whole-file span used for faults about a file as such (VMC1007). */
function fileSpan(path: string): Span {
  return { file: path, start: 0, end: 0 };
}

const KIND_OF_EXTENSION: Readonly<Record<string, DocumentKind>> = { '.yaml': 'yaml', '.yml': 'yaml', '.ts': 'ts' };

/** `.yaml`/`.yml` → yaml, `.ts` → ts (declaration files `.d.ts` are not configs), else undefined. */
export function documentKind(name: string): DocumentKind | undefined {
  if (name.endsWith('.d.ts')) return undefined;
  const ext = extname(name);
  return Object.hasOwn(KIND_OF_EXTENSION, ext) ? KIND_OF_EXTENSION[ext] : undefined;
}

/**
 * Reads every config file named by `inputs` (resolved against `cwd`) into documents, sorted
 * by path. Missing inputs, unreadable files and directories without config files are VMC1007.
 */
export async function readInputs(inputs: string[], log: DiagnosticLog, cwd: string = process.cwd()): Promise<ConfigDocument[]> {
  const paths = new Set<string>();
  for (const input of [...inputs].map((i) => resolve(cwd, i)).sort(compareStrings)) {
    const st = await stat(input).catch(() => undefined);
    if (!st) {
      log.report('VMC1007', fileSpan(input), { detail: `input not found: ${input}` });
    } else if (st.isDirectory()) {
      const found = await collectDirectory(input);
      if (found.length === 0) log.report('VMC1007', fileSpan(input), { detail: `no config files in directory ${input}` });
      for (const f of found) paths.add(f);
    } else if (documentKind(input) !== undefined) {
      paths.add(input);
    } else {
      log.report('VMC1007', fileSpan(input), { detail: `not a config file (expected .yaml, .yml or .ts): ${input}` });
    }
  }
  if (inputs.length === 0) log.report('VMC1007', fileSpan(''), { detail: 'no input files given' });

  const sorted = [...paths].sort(compareStrings);
  const read = await Promise.allSettled(sorted.map((p) => readFile(p, 'utf8')));
  const docs: ConfigDocument[] = [];
  sorted.forEach((path, i) => {
    const r = read[i];
    if (r.status === 'rejected') {
      log.report('VMC1007', fileSpan(path), { detail: `cannot read ${path}: ${(r.reason as Error).message}` });
      return;
    }
    docs.push({ path, text: r.value });
  });
  return docs;
}

/**
 * Parses documents (sorted by path; two documents may not share a path). A document whose
 * kind is neither given nor known from its extension is VMC1007.
 */
export async function loadDocuments(docs: readonly ConfigDocument[], log: DiagnosticLog): Promise<LoadedFile[]> {
  const files: LoadedFile[] = [];
  for (const doc of [...docs].sort((a, b) => compareStrings(a.path, b.path))) {
    if (files.length > 0 && files[files.length - 1].path === doc.path) {
      throw new Error(`internal: two config documents named ${doc.path}`);
    }
    const kind = doc.kind ?? documentKind(doc.path);
    if (kind === undefined) {
      log.report('VMC1007', fileSpan(doc.path), { detail: `not a config file (expected .yaml, .yml or .ts): ${doc.path}` });
      continue;
    }
    files.push({
      path: doc.path,
      text: doc.text,
      sha256: createHash('sha256').update(doc.text).digest('hex'),
      kind,
      data: undefined,
      locations: new LocationMap(),
    });
  }

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

/** {@link readInputs} then {@link loadDocuments}, into one log. */
export async function loadInputs(inputs: string[], log: DiagnosticLog, cwd: string = process.cwd()): Promise<LoadedFile[]> {
  return loadDocuments(await readInputs(inputs, log, cwd), log);
}

/** Config files below `dir`, sorted; node_modules and dot-entries are skipped. */
async function collectDirectory(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (e.name.startsWith('.') || e.name === 'node_modules') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await collectDirectory(p)));
    else if (documentKind(e.name) === undefined) continue;
    // Symlinked files are followed; symlinked directories are not (they could form a loop).
    else if (e.isFile() || (e.isSymbolicLink() && (await stat(p).catch(() => undefined))?.isFile())) out.push(p);
  }
  return out.sort(compareStrings);
}
