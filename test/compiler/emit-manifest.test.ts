/** The manifest: counts and hashes of what was built, sources relative to their common directory. */
import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { lowerTable } from '../../compiler/lower.js';
import { commonDir, COMPILER_VERSION, emitManifest, type Manifest } from '../../compiler/emit-manifest.js';
import { FORMAT_VERSION } from '../../runtime/table/format.js';
import { RoutingTable } from '../../runtime/table/reader.js';
import { config, target, vm } from '../support/norm.js';

const cfg = config([vm('a', [target('p/m'), target('q/n')], { slug: 'alpha' }), vm('b', [target('p/m')])]);
const table = RoutingTable.decode(lowerTable(cfg));
const manifest = (sources: { path: string; sha256: string }[]): Manifest => JSON.parse(emitManifest(cfg, table, 'c'.repeat(64), sources));

describe('commonDir', () => {
  it.each([
    [[], '.'],
    [['/a/b/c.yaml'], '/a/b'],
    [['/a/b/c.yaml', '/a/b/d/e.yaml'], '/a/b'],
    [['/a/b/c.yaml', '/a/x/e.yaml'], '/a'],
    [['/a/c.yaml', '/b/c.yaml'], '/'],
  ])('%j → %s', (paths, want) => {
    expect(commonDir(paths)).toBe(want);
  });
});

describe('emitManifest', () => {
  it('counts what was built and names the table and client by hash', () => {
    const m = manifest([{ path: '/cfg/vmc.yaml', sha256: 'a'.repeat(64) }]);
    expect(m.compiler).toEqual({ name: 'vmc', version: COMPILER_VERSION });
    expect(m.table).toEqual({ file: 'table.vmct', formatVersion: FORMAT_VERSION, sha256: table.hashHex, bytes: table.bytes.byteLength });
    expect(m.client).toEqual({ file: 'client.ts', sha256: 'c'.repeat(64) });
    expect(m.counts).toEqual({ providers: 2, catalogModels: 2, virtualModels: 2, slugs: 1, targets: 3, tableEntries: table.vmCount });
  });

  it('lists sources relative to their common directory, sorted, so two checkouts give the same manifest', () => {
    const at = (root: string) => [
      { path: `${root}/team-b/x.yaml`, sha256: '2' },
      { path: `${root}/a.yaml`, sha256: '1' },
    ];
    const m = manifest(at('/home/ci/checkout'));
    expect(m.sources).toEqual([
      { path: 'a.yaml', sha256: '1' },
      { path: 'team-b/x.yaml', sha256: '2' },
    ]);
    expect(emitManifest(cfg, table, 'c'.repeat(64), at('/tmp/elsewhere'))).toBe(
      emitManifest(cfg, table, 'c'.repeat(64), at('/home/ci/checkout')),
    );
  });

  it('reports the version of package.json', () => {
    expect(COMPILER_VERSION).toBe((createRequire(import.meta.url)('../../package.json') as { version: string }).version);
  });
});
