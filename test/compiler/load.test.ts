/**
 * Loading and merging: directory expansion, several files into one config, determinism
 * (input order, cwd), YAML source positions.
 */
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { rm, symlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { DiagnosticLog } from '../../compiler/diagnostics.js';
import { compileConfig } from '../../compiler/frontend.js';
import { loadInputs } from '../../compiler/load.js';
import { loadYaml } from '../../compiler/load-yaml.js';
import { positions, PROVIDERS_YAML, writeTree } from './support.js';

async function withTree<T>(files: Record<string, string>, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await writeTree(files);
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('inputs', () => {
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
        const files = await loadInputs([dir], log);
        expect(files.map((f) => relative(dir, f.path))).toEqual(['a.yml', 'b.yaml', 'sub/c.ts']);
        expect(log.items).toEqual([]);
      },
    );
  });

  it('a file named twice (directly and through its directory) is loaded once', async () => {
    await withTree({ 'a.yaml': 'version: 1\n' }, async (dir) => {
      const files = await loadInputs([join(dir, 'a.yaml'), dir, join(dir, 'a.yaml')], new DiagnosticLog());
      expect(files).toHaveLength(1);
    });
  });

  it('an unsupported file and an empty input list are VMC1007', async () => {
    await withTree({ 'x.json': '{}' }, async (dir) => {
      const log = new DiagnosticLog();
      await loadInputs([join(dir, 'x.json')], log);
      await loadInputs([], log);
      expect(log.items.map((d) => d.code)).toEqual(['VMC1007', 'VMC1007']);
    });
  });

  it('hashes sources with SHA-256 of their text', async () => {
    const r = await withTree({ 'a.yaml': 'version: 1\n' }, (dir) => compileConfig([dir]));
    expect(r.sources[0].sha256).toBe(createHash('sha256').update('version: 1\n').digest('hex'));
    expect(r.sources[0].text).toBe('version: 1\n');
  });
});

describe('merging several files', () => {
  const files = {
    'providers.yaml': `version: 1\n${PROVIDERS_YAML}`,
    'team-a/models.yaml': 'virtual_models:\n  a: { target: openai/gpt-4o }\n  shared: { target: a }\n',
    'team-b/models.yaml': 'version: 1\nvirtual_models:\n  b: { target: anthropic/claude-sonnet-4-6, slug: bee }\n',
    'settings.yaml': 'settings: { models_endpoint: virtual_only }\n',
  };

  it('merges providers, virtual models and settings by key', async () => {
    const r = await withTree(files, (dir) => compileConfig([dir]));
    expect(r.diagnostics).toEqual([]);
    expect(r.config!.providers.map((p) => p.name)).toEqual(['anthropic', 'openai']);
    expect(r.config!.virtualModels.map((v) => v.name)).toEqual(['a', 'b', 'shared']);
    expect(r.config!.settings).toEqual({ passthrough: true, modelsEndpoint: 'virtual_only' });
    expect(r.sources.map((s) => s.path)).toEqual([...r.sources.map((s) => s.path)].sort());
  });

  it('gives the same result whatever the input order', async () => {
    await withTree(files, async (dir) => {
      const names = Object.keys(files).map((f) => join(dir, f));
      const results = await Promise.all([
        compileConfig(names),
        compileConfig([...names].reverse()),
        compileConfig([names[2], names[0], names[3], names[1]]),
      ]);
      for (const r of results.slice(1)) expect(r).toEqual(results[0]);
    });
  });

  it('gives the same result from any cwd', async () => {
    await withTree(files, async (dir) => {
      const fromDir = await compileConfig(['.'], { cwd: dir });
      const fromParent = await compileConfig([relative(join(dir, '..'), dir)], { cwd: join(dir, '..') });
      expect(fromDir).toEqual(fromParent);
    });
  });

  it('reports the second definition and keeps the first, in path order', async () => {
    const r = await withTree(
      {
        'a.yaml': `${PROVIDERS_YAML}virtual_models:\n  x: { target: openai/gpt-4o }\n`,
        'b.yaml': 'virtual_models:\n  x: { target: nope/nope }\n',
      },
      async (dir) => {
        const res = await compileConfig([join(dir, 'b.yaml'), join(dir, 'a.yaml')]);
        return { ...res, pos: positions(res, dir) };
      },
    );
    // b.yaml's x is the duplicate: it is not resolved, so its bad target is not reported.
    expect(r.pos).toEqual(['b.yaml:2:3 VMC2004']);
  });

  it('a setting given twice with the same value is fine', async () => {
    const r = await withTree(
      { 'a.yaml': 'settings: { passthrough: false }\n', 'b.yaml': 'settings: { passthrough: false }\n' },
      (dir) => compileConfig([dir]),
    );
    expect(r.diagnostics).toEqual([]);
    expect(r.config!.settings.passthrough).toBe(false);
  });
});

describe('YAML positions', () => {
  const text = `providers:
  openai:
    type: openai
    models: [a, b]
  empty:
virtual_models:
  "quoted/name": { target: openai/a }
  anchored: &x { target: openai/a }
  aliased: *x
`;

  it('records keys and values of every node', () => {
    const { data, locations } = loadYaml('f.yaml', text, new DiagnosticLog());
    const at = (p: (string | number)[], part: 'key' | 'value' = 'value') => {
      const r = locations.find(p, part);
      return text.slice(r.start, r.end);
    };
    expect(at(['providers', 'openai'], 'key')).toBe('openai');
    expect(at(['providers', 'openai', 'type'])).toBe('openai');
    expect(at(['providers', 'openai', 'models', 1])).toBe('b');
    expect(at(['providers', 'openai', 'models'])).toBe('[a, b]');
    expect(at(['virtual_models', 'quoted/name'], 'key')).toBe('"quoted/name"');
    // `empty:` has no value node: the value range is the key.
    expect(at(['providers', 'empty'])).toBe('empty');
    // values reached through an alias point at the alias.
    expect(at(['virtual_models', 'aliased', 'target'])).toBe('aliased');
    expect((data as { virtual_models: Record<string, unknown> }).virtual_models.aliased).toEqual({ target: 'openai/a' });
  });

  it('a missing path falls back to the nearest located ancestor key', () => {
    const { locations } = loadYaml('f.yaml', text, new DiagnosticLog());
    const r = locations.find(['providers', 'openai', 'base_url']);
    expect(text.slice(r.start, r.end)).toBe('openai');
  });

  it('an empty file is an empty config', () => {
    const log = new DiagnosticLog();
    expect(loadYaml('f.yaml', '# nothing\n', log).data).toBeNull();
    expect(log.items).toEqual([]);
  });

  it('a billion-laughs document stops at the alias limit', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 6; i++) {
      const prev = String.fromCharCode(97 + i);
      const cur = String.fromCharCode(98 + i);
      lines.push(`${cur}: &${cur} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    }
    const log = new DiagnosticLog();
    const r = loadYaml('f.yaml', lines.join('\n'), log);
    expect(r.data).toBeUndefined();
    expect(log.items.map((d) => d.code)).toEqual(['VMC1001']);
  });

  it('a key named __proto__ stays data', () => {
    const { data } = loadYaml('f.yaml', '__proto__: { polluted: true }\n', new DiagnosticLog());
    expect(Object.keys(data as object)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('a duplicate key below the top sections is a YAML error', () => {
    const log = new DiagnosticLog();
    loadYaml('f.yaml', 'providers:\n  p:\n    type: openai\n    type: anthropic\n', log);
    expect(log.items.map((d) => [d.code, d.start])).toEqual([['VMC1001', 37]]);
  });
});

describe('inputs on disk', () => {
  it('follows symlinked files in a directory', async () => {
    await withTree({ 'real/a.yaml': 'version: 1\n', 'cfg/.keep': '' }, async (dir) => {
      await symlink(join(dir, 'real/a.yaml'), join(dir, 'cfg/linked.yaml'));
      const files = await loadInputs([join(dir, 'cfg')], new DiagnosticLog());
      expect(files.map((f) => relative(dir, f.path))).toEqual(['cfg/linked.yaml']);
    });
  });
});

describe('schema faults stay local', () => {
  it('an unknown top-level key does not discard the rest of the file', async () => {
    const r = await withTree(
      { 'a.yaml': `${PROVIDERS_YAML}virtual_model:\n  x: {}\nvirtual_models:\n  y: { target: openai/gpt-4o }\n` },
      async (dir) => {
        const res = await compileConfig([dir]);
        return { ...res, pos: positions(res, dir) };
      },
    );
    expect(r.pos).toEqual(['a.yaml:12:1 VMC1002']);
    expect(r.diagnostics[0].hint).toContain('did you mean "virtual_models"');
  });

  it('a provider with a bad name does not hide the other providers', async () => {
    const r = await withTree(
      { 'a.yaml': `${PROVIDERS_YAML}  bad/name: { type: openai, base_url: https://x.example.com, api_key_env: K, models: [m] }\nvirtual_models:\n  y: { target: openai/gpt-4o }\n` },
      async (dir) => {
        const res = await compileConfig([dir]);
        return { ...res, pos: positions(res, dir) };
      },
    );
    expect(r.pos).toEqual(['a.yaml:12:3 VMC1003']);
  });
});
