/**
 * Loading: input paths → documents (directory expansion, de-duplication, order) and documents
 * → parsed files (kind from the extension or given, hashes).
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { symlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { DiagnosticLog } from '../../compiler/diagnostics.js';
import { documentKind, loadDocuments, loadInputs, readInputs } from '../../compiler/load.js';
import { withTree } from './support.js';

describe('readInputs', () => {
  it('a directory contributes its *.yaml, *.yml and *.ts files, recursively and sorted', async () => {
    await withTree(
      {
        'b.yaml': 'version: 1\n',
        'a.yml': 'version: 1\n',
        'sub/c.ts': 'export default {};\n',
        'sub/types.d.ts': 'export {};\n',
        '.hidden.yaml': 'nope: [',
        '.dir/x.yaml': 'nope: [',
        'node_modules/pkg/x.yaml': 'nope: [',
        'README.md': '# not config',
        'data.json': '{}',
      },
      async (dir) => {
        const log = new DiagnosticLog();
        const docs = await readInputs([dir], log);
        expect(docs.map((d) => relative(dir, d.path))).toEqual(['a.yml', 'b.yaml', 'sub/c.ts']);
        expect(docs[1].text).toBe('version: 1\n');
        expect(log.items).toEqual([]);
      },
    );
  });

  it('a file named twice (directly and through its directory) is read once', async () => {
    await withTree({ 'a.yaml': 'version: 1\n' }, async (dir) => {
      const docs = await readInputs([join(dir, 'a.yaml'), dir, join(dir, 'a.yaml')], new DiagnosticLog());
      expect(docs).toHaveLength(1);
    });
  });

  it('resolves relative inputs against cwd', async () => {
    await withTree({ 'cfg/a.yaml': 'version: 1\n' }, async (dir) => {
      const docs = await readInputs(['cfg'], new DiagnosticLog(), dir);
      expect(docs.map((d) => d.path)).toEqual([join(dir, 'cfg/a.yaml')]);
    });
  });

  it('an unsupported file, a missing input and an empty input list are VMC1007 at the path', async () => {
    await withTree({ 'x.json': '{}' }, async (dir) => {
      const log = new DiagnosticLog();
      await readInputs([join(dir, 'x.json'), join(dir, 'missing.yaml')], log);
      await readInputs([], log);
      expect(log.items.map((d) => [d.code, d.file && relative(dir, d.file), d.start, d.end])).toEqual([
        ['VMC1007', 'missing.yaml', 0, 0],
        ['VMC1007', 'x.json', 0, 0],
        ['VMC1007', '', 0, 0],
      ]);
    });
  });

  it('follows symlinked files in a directory', async () => {
    await withTree({ 'real/a.yaml': 'version: 1\n', 'cfg/.keep': '' }, async (dir) => {
      await symlink(join(dir, 'real/a.yaml'), join(dir, 'cfg/linked.yaml'));
      const docs = await readInputs([join(dir, 'cfg')], new DiagnosticLog());
      expect(docs.map((d) => relative(dir, d.path))).toEqual(['cfg/linked.yaml']);
    });
  });
});

describe('documentKind', () => {
  it.each([
    ['a.yaml', 'yaml'],
    ['a.yml', 'yaml'],
    ['dir.v2/a.ts', 'ts'],
    ['a.d.ts', undefined],
    ['a.json', undefined],
    ['a', undefined],
  ])('%s → %s', (name, kind) => {
    expect(documentKind(name)).toBe(kind);
  });
});

describe('loadDocuments', () => {
  it('parses documents in path order, whatever order they come in, and hashes their text', async () => {
    const log = new DiagnosticLog();
    const files = await loadDocuments(
      [
        { path: 'b.yaml', text: 'version: 1\n' },
        { path: 'a.yml', text: 'settings: { passthrough: false }\n' },
      ],
      log,
    );
    expect(files.map((f) => [f.path, f.kind, f.data])).toEqual([
      ['a.yml', 'yaml', { settings: { passthrough: false } }],
      ['b.yaml', 'yaml', { version: 1 }],
    ]);
    expect(files[1].sha256).toBe(createHash('sha256').update('version: 1\n').digest('hex'));
    expect(log.items).toEqual([]);
  });

  it('an explicit kind reads any label; without one an unknown extension is VMC1007', async () => {
    const log = new DiagnosticLog();
    const files = await loadDocuments(
      [
        { path: '/state/table.vmct.admin.json', text: '{"version": 1}', kind: 'yaml' },
        { path: '/state/notes.txt', text: 'version: 1\n' },
      ],
      log,
    );
    expect(files.map((f) => [f.path, f.data])).toEqual([['/state/table.vmct.admin.json', { version: 1 }]]);
    expect(log.items.map((d) => [d.code, d.file])).toEqual([['VMC1007', '/state/notes.txt']]);
  });

  it('reports faults at the document label', async () => {
    const log = new DiagnosticLog();
    await loadDocuments([{ path: 'label.yaml', text: 'a: [\n' }], log);
    expect(log.items.map((d) => [d.code, d.file])).toEqual([['VMC1001', 'label.yaml']]);
  });

  it('refuses two documents with the same path (a caller bug, not a config fault)', async () => {
    const doc = { path: 'a.yaml', text: '' };
    await expect(loadDocuments([doc, doc], new DiagnosticLog())).rejects.toThrow(/a\.yaml/);
  });
});

describe('loadInputs', () => {
  it('reads and parses into one log', async () => {
    await withTree({ 'a.yaml': 'version: 1\n', 'b.yaml': 'x: [\n' }, async (dir) => {
      const log = new DiagnosticLog();
      const files = await loadInputs([dir, join(dir, 'nope.yaml')], log);
      expect(files.map((f) => [relative(dir, f.path), f.data])).toEqual([
        ['a.yaml', { version: 1 }],
        ['b.yaml', undefined],
      ]);
      expect(log.items.map((d) => [d.code, relative(dir, d.file)])).toEqual([
        ['VMC1007', 'nope.yaml'],
        ['VMC1001', 'b.yaml'],
      ]);
    });
  });
});
