/**
 * Phase: emit-manifest. The build's manifest (SPEC §4, §9): content hash, counts, sources
 * (relative to their common directory, with content hashes), compiler version.
 * No timestamps, no absolute paths: built copies of one config at two paths are identical.
 */
import { createRequire } from 'node:module';
import { dirname, relative, sep } from 'node:path';
import { FORMAT_VERSION, TABLE_FILE } from '../runtime/table/format.js';
import type { RoutingTable } from '../runtime/table/reader.js';
import type { NormConfig } from '../runtime/table/normalized.js';
import { compareStrings } from '../runtime/table/util.js';

export { TABLE_FILE };
export const CLIENT_FILE = 'client.ts';
export const MANIFEST_FILE = 'manifest.json';

/** vmc's own package.json, found from source (compiler/) or build output (dist/compiler/). */
function ownPackage(): { name: string; version: string } {
  const req = createRequire(import.meta.url);
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = req(rel) as { name?: string; version?: string };
      if (pkg.name === 'vmc' && pkg.version) return { name: pkg.name, version: pkg.version };
    } catch {
      // not at this level
    }
  }
  throw new Error('vmc: cannot find its own package.json');
}
export const COMPILER_VERSION: string = ownPackage().version;

/** Deepest directory containing every path. */
export function commonDir(paths: readonly string[]): string {
  if (paths.length === 0) return '.';
  let parts = dirname(paths[0]).split(sep);
  for (const p of paths.slice(1)) {
    const q = dirname(p).split(sep);
    let i = 0;
    while (i < parts.length && i < q.length && parts[i] === q[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join(sep) || sep;
}

export interface Manifest {
  format: 'vmc-manifest/1';
  compiler: { name: 'vmc'; version: string };
  table: { file: string; formatVersion: number; sha256: string; bytes: number };
  client: { file: string; sha256: string };
  counts: { providers: number; catalogModels: number; virtualModels: number; slugs: number; targets: number; tableEntries: number };
  sources: { path: string; sha256: string }[];
}

export function emitManifest(
  config: NormConfig,
  table: RoutingTable,
  clientSha256: string,
  sources: readonly { path: string; sha256: string }[],
): string {
  const base = commonDir(sources.map((s) => s.path));
  const manifest: Manifest = {
    format: 'vmc-manifest/1',
    compiler: { name: 'vmc', version: COMPILER_VERSION },
    table: { file: TABLE_FILE, formatVersion: FORMAT_VERSION, sha256: table.hashHex, bytes: table.bytes.byteLength },
    client: { file: CLIENT_FILE, sha256: clientSha256 },
    counts: {
      providers: config.providers.length,
      catalogModels: config.providers.reduce((n, p) => n + p.models.length, 0),
      virtualModels: config.virtualModels.length,
      slugs: config.virtualModels.filter((v) => v.slug !== null).length,
      targets: config.virtualModels.reduce((n, v) => n + v.targets.length, 0),
      tableEntries: table.vmCount,
    },
    sources: sources
      .map((s) => ({ path: relative(base, s.path).split(sep).join('/'), sha256: s.sha256 }))
      .sort((a, b) => compareStrings(a.path, b.path)),
  };
  return JSON.stringify(manifest, null, 2) + '\n';
}
