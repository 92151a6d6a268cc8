/**
 * The compiler: phases in order (STYLE.md "Compiler as phases").
 *
 *   load → validate → merge → rewrite → normalize
 *                                 (compiler/frontend.ts: files → NormConfig + diagnostics)
 *   lower                         (compiler/lower.ts: NormConfig → routing table bytes)
 *   emit-client, emit-manifest    (compiler/emit-*.ts)
 *
 * `compile` does no writes; `writeArtifacts` puts the three artifacts in a directory.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compileConfig, type FrontendOptions, type SourceFile } from './frontend.js';
import type { Diagnostic } from './diagnostics.js';
import { lowerTable } from './lower.js';
import { emitClient } from './emit-client.js';
import { CLIENT_FILE, MANIFEST_FILE, TABLE_FILE, emitManifest } from './emit-manifest.js';
import { RoutingTable } from '../runtime/table/reader.js';
import type { NormConfig } from '../runtime/table/normalized.js';

export interface Artifacts {
  table: Uint8Array;
  client: string;
  manifest: string;
}

export interface CompileResult {
  diagnostics: Diagnostic[];
  sources: SourceFile[];
  config: NormConfig | null;
  /** Present when there are no errors. */
  artifacts: Artifacts | null;
}

export type PhaseListener = (phase: string) => void;

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Lower and emit every artifact of a valid normalized config. */
export function emitArtifacts(
  config: NormConfig,
  sources: readonly { path: string; sha256: string }[],
  onPhase?: PhaseListener,
): Artifacts {
  onPhase?.('lower');
  const table = lowerTable(config);
  // Re-read what we wrote: the artifact is checked by the same reader the runtime uses.
  const decoded = RoutingTable.decode(table);
  onPhase?.('emit-client');
  const client = emitClient(config, decoded.hashHex);
  onPhase?.('emit-manifest');
  const manifest = emitManifest(config, decoded, sha256(client), sources);
  return { table, client, manifest };
}

/** Run every phase on config files/directories (`opts` as for compileConfig). */
export async function compile(
  inputs: string[],
  opts: FrontendOptions & { cwd?: string; onPhase?: PhaseListener } = {},
): Promise<CompileResult> {
  opts.onPhase?.('load');
  const front = await compileConfig(inputs, { cwd: opts.cwd, ignoreWarnings: opts.ignoreWarnings });
  if (front.config === null) {
    return { diagnostics: front.diagnostics, sources: front.sources, config: null, artifacts: null };
  }
  const artifacts = emitArtifacts(front.config, front.sources, opts.onPhase);
  return { diagnostics: front.diagnostics, sources: front.sources, config: front.config, artifacts };
}

/** Write artifacts to outDir; each file is written to a temp name and renamed (atomic for watchers). */
export async function writeArtifacts(outDir: string, a: Artifacts): Promise<void> {
  await mkdir(outDir, { recursive: true });
  const put = async (name: string, data: string | Uint8Array): Promise<void> => {
    const tmp = join(outDir, `.${name}.${process.pid}.tmp`);
    await writeFile(tmp, data);
    await rename(tmp, join(outDir, name));
  };
  await put(CLIENT_FILE, a.client);
  await put(MANIFEST_FILE, a.manifest);
  await put(TABLE_FILE, a.table);
}
