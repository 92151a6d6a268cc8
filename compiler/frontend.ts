/**
 * The compiler front end: config documents → NormConfig + diagnostics (SPEC §2).
 *
 *   load       files and directories → documents → parsed files with locations (load.ts)
 *   validate   schema + per-file rules, dialect detection                       (validate.ts)
 *   merge      one config; duplicate names name both places                     (merge.ts)
 *   rewrite    dialect bodies → native bodies                                   (rewrite.ts)
 *   check      rules over all virtual models                                    (validate.ts)
 *   normalize  defaults, redirect chains, target resolution → NormConfig        (normalize.ts)
 *
 * Two entries: `compileConfig` reads files from disk, `compileDocuments` takes texts already in
 * memory (the admin API); both run the same phases. Every phase records into one DiagnosticLog
 * and keeps going, so one run reports every independent fault. The result does not depend on
 * the order of the inputs or on `cwd` (documents are sorted by path and diagnostics by
 * position).
 */
import type { NormConfig } from '../runtime/table/normalized.js';
import { compareDiagnostics, DiagnosticLog, type Diagnostic, type DiagnosticCode } from './diagnostics.js';
import { loadDocuments, readInputs, type ConfigDocument, type SourceFile } from './load.js';
import { mergeFiles, type MergedConfig } from './merge.js';
import { rewriteEntries, type NativeModel } from './rewrite.js';
import { normalizeConfig } from './normalize.js';
import { checkModels, validateFile } from './validate.js';

export type { ConfigDocument, SourceFile } from './load.js';

export interface FrontendResult {
  /** null iff there are errors. */
  config: NormConfig | null;
  /** Sorted by file, position and code. */
  diagnostics: Diagnostic[];
  /** Sorted by path. */
  sources: SourceFile[];
  /** Merged native-form config (dialects rewritten, before flattening), for `vmc fmt`. */
  native: unknown;
}

export interface FrontendOptions {
  /** Warning codes to leave out of the result; errors cannot be silenced. */
  ignoreWarnings?: Iterable<DiagnosticCode>;
}

/**
 * Compiles config files and directories (relative paths resolve against `opts.cwd`, default
 * process.cwd()). Never throws for a faulty config: faults are diagnostics.
 */
export async function compileConfig(inputs: string[], opts: FrontendOptions & { cwd?: string } = {}): Promise<FrontendResult> {
  const log = new DiagnosticLog(opts);
  const docs = await readInputs(inputs, log, opts.cwd ?? process.cwd());
  return compileInto(docs, log);
}

/**
 * Compiles config texts held in memory. Each document's `path` names it in diagnostics and
 * `sources` (it need not exist on disk); its kind comes from the extension unless given.
 * Never throws for a faulty config: faults are diagnostics.
 */
export async function compileDocuments(docs: readonly ConfigDocument[], opts: FrontendOptions = {}): Promise<FrontendResult> {
  return compileInto(docs, new DiagnosticLog(opts));
}

/** The phases after reading, recording into `log` (which may already hold read faults). */
async function compileInto(docs: readonly ConfigDocument[], log: DiagnosticLog): Promise<FrontendResult> {
  const files = await loadDocuments(docs, log);
  const validations = files.map((f) => validateFile(f, log));
  const merged = mergeFiles(validations, log);
  const models = rewriteEntries(merged);
  checkModels(models, new Set(merged.virtualModels.map((e) => e.name)), log);
  const config = normalizeConfig(merged, models, log);
  return {
    config: log.hasErrors() ? null : config,
    diagnostics: [...log.items].sort(compareDiagnostics),
    sources: files.map((f) => ({ path: f.path, text: f.text, sha256: f.sha256 })),
    native: nativeConfig(merged, models),
  };
}

/** The merged config in native form: what `vmc fmt` prints (see tools/format-native.ts). */
function nativeConfig(merged: MergedConfig, models: NativeModel[]): Record<string, unknown> {
  const settings: Record<string, unknown> = {};
  if (merged.settings.passthrough) settings.passthrough = merged.settings.passthrough.value;
  if (merged.settings.models_endpoint) settings.models_endpoint = merged.settings.models_endpoint.value;
  return {
    version: 1,
    settings,
    providers: Object.fromEntries(merged.providers.filter((p) => p.valid).map((p) => [p.name, p.value])),
    virtual_models: Object.fromEntries(models.map((m) => [m.name, m.body])),
  };
}
