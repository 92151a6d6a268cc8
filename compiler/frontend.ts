/**
 * The compiler front end: config files → NormConfig + diagnostics (SPEC §2).
 *
 *   load       files and directories → parsed files with source locations   (load.ts)
 *   validate   schema + per-file rules, dialect detection                    (validate.ts)
 *   merge      one config; duplicate names name both places                  (load.ts)
 *   rewrite    dialect bodies → native bodies                                (dialects.ts)
 *   check      rules over all virtual models                                 (validate.ts)
 *   normalize  defaults, redirect chains, target resolution → NormConfig     (normalize.ts)
 *
 * Every phase records into one DiagnosticLog and keeps going, so one run reports every
 * independent fault. The result does not depend on the order of `inputs` or on `cwd` (files
 * are sorted by absolute path and diagnostics by position).
 */
import type { NormConfig } from '../runtime/table/normalized.js';
import { compareDiagnostics, DiagnosticLog, type Diagnostic } from './diagnostics.js';
import { loadInputs } from './load.js';
import { mergeFiles, type MergedConfig } from './merge.js';
import { rewriteEntries, type NativeModel } from './rewrite.js';
import { normalizeConfig } from './normalize.js';
import { checkModels, validateFile } from './validate.js';

export interface SourceFile {
  /** Absolute path. */
  path: string;
  text: string;
  /** Hex SHA-256 of `text`. */
  sha256: string;
}

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

/**
 * Compiles config files and directories (relative paths resolve against `opts.cwd`, default
 * process.cwd()). Never throws for a faulty config: faults are diagnostics.
 */
export async function compileConfig(inputs: string[], opts: { cwd?: string } = {}): Promise<FrontendResult> {
  const log = new DiagnosticLog();
  const files = await loadInputs(inputs, log, opts.cwd ?? process.cwd());
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

/** The merged config in native form: what `vmc fmt` prints (see format-native.ts). */
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
