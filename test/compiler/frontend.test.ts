/**
 * The front end's two entries: `compileConfig` (files on disk) and `compileDocuments` (texts in
 * memory) run the same phases; the result depends on neither input order nor cwd; chosen
 * warnings can be left out, errors cannot.
 */
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { compileConfig, compileDocuments } from '../../compiler/frontend.js';
import { positions, PROVIDERS_YAML, withTree } from './support.js';

const FILES = {
  'providers.yaml': `version: 1\n${PROVIDERS_YAML}`,
  'team-a/models.yaml': 'virtual_models:\n  a: { target: openai/gpt-4o }\n  shared: { target: a }\n',
  'team-b/models.yaml': 'version: 1\nvirtual_models:\n  b: { target: anthropic/claude-sonnet-4-6, slug: bee }\n',
  'settings.yaml': 'settings: { models_endpoint: virtual_only }\n',
};

describe('compileConfig', () => {
  it('gives the same result whatever the input order', async () => {
    await withTree(FILES, async (dir) => {
      const names = Object.keys(FILES).map((f) => join(dir, f));
      const results = await Promise.all([
        compileConfig(names),
        compileConfig([...names].reverse()),
        compileConfig([names[2], names[0], names[3], names[1]]),
      ]);
      expect(results[0].diagnostics).toEqual([]);
      expect(results[0].sources.map((s) => relative(dir, s.path))).toEqual([
        'providers.yaml',
        'settings.yaml',
        'team-a/models.yaml',
        'team-b/models.yaml',
      ]);
      for (const r of results.slice(1)) expect(r).toEqual(results[0]);
    });
  });

  it('gives the same result from any cwd', async () => {
    await withTree(FILES, async (dir) => {
      const fromDir = await compileConfig(['.'], { cwd: dir });
      const fromParent = await compileConfig([relative(join(dir, '..'), dir)], { cwd: join(dir, '..') });
      expect(fromDir).toEqual(fromParent);
    });
  });

  it('reports read faults and config faults together', async () => {
    await withTree({ 'a.yaml': `${PROVIDERS_YAML}virtual_models:\n  x: { target: openai/nope }\n` }, async (dir) => {
      const r = await compileConfig([join(dir, 'a.yaml'), join(dir, 'missing.yaml')]);
      expect(positions(r, dir)).toEqual(['a.yaml:13:16 VMC2001', 'missing.yaml:1:1 VMC1007']);
      expect(r.config).toBeNull();
    });
  });
});

describe('compileDocuments', () => {
  it('compiles texts in memory exactly as compileConfig compiles the same files', async () => {
    await withTree(FILES, async (dir) => {
      const fromDisk = await compileConfig([dir]);
      const docs = await Promise.all(
        Object.keys(FILES).map(async (f) => ({ path: join(dir, f), text: await readFile(join(dir, f), 'utf8') })),
      );
      const inMemory = await compileDocuments(docs.reverse());
      expect(inMemory).toEqual(fromDisk);
    });
  });

  it('names diagnostics and sources after the document labels, which need not exist', async () => {
    const text = `${PROVIDERS_YAML}virtual_models:\n  x: { target: openai/gpt-4o-mni }\n`;
    const r = await compileDocuments([{ path: '/nowhere/state.admin.json', text, kind: 'yaml' }]);
    expect(positions(r, '/nowhere')).toEqual(['state.admin.json:13:16 VMC2001']);
    expect(r.sources.map((s) => s.path)).toEqual(['/nowhere/state.admin.json']);
    expect(r.config).toBeNull();
  });

  it('reads JSON text as YAML (what the admin API sends)', async () => {
    const config = {
      version: 1,
      providers: { p: { type: 'openai', base_url: 'https://p.example/v1', api_key_env: 'K', models: ['m'] } },
      virtual_models: { v: { target: 'p/m' } },
    };
    const r = await compileDocuments([{ path: 'admin', text: JSON.stringify(config, null, 1), kind: 'yaml' }]);
    expect(r.diagnostics).toEqual([]);
    expect(r.config!.virtualModels.map((v) => [v.name, v.targets[0].model])).toEqual([['v', 'm']]);
  });

  it('compiles a TypeScript document in memory', async () => {
    const text = `export default { version: 1, providers: { p: { type: 'openai', base_url: 'https://p.example/v1', api_key_env: 'K', models: ['m'] } } };\n`;
    const r = await compileDocuments([{ path: resolve('in-memory.ts'), text }]);
    expect(r.diagnostics).toEqual([]);
    expect(r.config!.providers.map((p) => p.name)).toEqual(['p']);
  });

  it('returns the merged native form for vmc fmt', async () => {
    const r = await compileDocuments([
      { path: 'a.yaml', text: `${PROVIDERS_YAML}virtual_models:\n  x: { target_model: openai/gpt-4o }\n` },
    ]);
    expect((r.native as { virtual_models: unknown }).virtual_models).toEqual({ x: { target: 'openai/gpt-4o' } });
  });
});

describe('ignoreWarnings', () => {
  const text =
    'providers:\n  p: { type: openai, base_url: https://p.example/v1, models: [m] }\nvirtual_models:\n  v: { targets: [{ target: p/m }, { target: p/m }] }\n';

  it('leaves the chosen warnings out and keeps the others', async () => {
    const doc = { path: '/c/a.yaml', text };
    expect(positions(await compileDocuments([doc]), '/c')).toEqual(['a.yaml:2:3 VMC2012', 'a.yaml:4:45 VMC2019']);
    expect(positions(await compileDocuments([doc], { ignoreWarnings: ['VMC2012'] }), '/c')).toEqual(['a.yaml:4:45 VMC2019']);
    const none = await compileDocuments([doc], { ignoreWarnings: ['VMC2012', 'VMC2019'] });
    expect(none.diagnostics).toEqual([]);
    expect(none.config).not.toBeNull();
  });

  it('never drops an error, even when its code is listed', async () => {
    const r = await compileDocuments([{ path: 'a.yaml', text: text.replace('p/m }]', 'p/x }]') }], {
      ignoreWarnings: ['VMC2001', 'VMC2012'],
    });
    expect(r.diagnostics.map((d) => d.code)).toEqual(['VMC2001']);
    expect(r.config).toBeNull();
  });

  it('is passed on by compileConfig', async () => {
    await withTree({ 'a.yaml': text }, async (dir) => {
      const r = await compileConfig([dir], { ignoreWarnings: ['VMC2019'] });
      expect(r.diagnostics.map((d) => d.code)).toEqual(['VMC2012']);
    });
  });
});
