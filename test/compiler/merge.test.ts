/**
 * The merge phase: validated files → one config. Entries merge by name, settings by key; a
 * second definition is reported at itself with the first as related; file order is path order.
 */
import { describe, expect, it } from 'vitest';
import { DiagnosticLog } from '../../compiler/diagnostics.js';
import { loadDocuments } from '../../compiler/load.js';
import { mergeFiles } from '../../compiler/merge.js';
import { validateFile } from '../../compiler/validate.js';
import { positions, PROVIDERS_YAML } from './support.js';

/** Loads, validates and merges `files` (name → YAML text) held in memory under /cfg. */
async function merge(files: Record<string, string>) {
  const log = new DiagnosticLog();
  const loaded = await loadDocuments(
    Object.entries(files).map(([name, text]) => ({ path: `/cfg/${name}`, text })),
    log,
  );
  const merged = mergeFiles(
    loaded.map((f) => validateFile(f, log)),
    log,
  );
  const result = { diagnostics: log.items, sources: loaded };
  return { merged, pos: positions(result, '/cfg'), diagnostics: log.items };
}

describe('mergeFiles', () => {
  it('merges providers, virtual models and settings by key, sorted by name', async () => {
    const { merged, diagnostics } = await merge({
      'providers.yaml': `version: 1\n${PROVIDERS_YAML}`,
      'team-b/models.yaml': 'version: 1\nvirtual_models:\n  b: { target: anthropic/claude-sonnet-4-6, slug: bee }\n',
      'team-a/models.yaml': 'virtual_models:\n  shared: { target: a }\n  a: { target: openai/gpt-4o }\n',
      'settings.yaml': 'settings: { models_endpoint: virtual_only }\n',
    });
    expect(diagnostics).toEqual([]);
    expect(merged.files.map((f) => f.path)).toEqual([
      '/cfg/providers.yaml',
      '/cfg/settings.yaml',
      '/cfg/team-a/models.yaml',
      '/cfg/team-b/models.yaml',
    ]);
    expect(merged.providers.map((p) => p.name)).toEqual(['anthropic', 'openai']);
    expect(merged.virtualModels.map((v) => [v.name, v.file.path, v.path, v.valid, v.dialect])).toEqual([
      ['a', '/cfg/team-a/models.yaml', ['virtual_models', 'a'], true, 'native'],
      ['b', '/cfg/team-b/models.yaml', ['virtual_models', 'b'], true, 'native'],
      ['shared', '/cfg/team-a/models.yaml', ['virtual_models', 'shared'], true, 'native'],
    ]);
    expect(merged.settings.models_endpoint?.value).toBe('virtual_only');
    expect(merged.settings.passthrough).toBeUndefined();
  });

  it('keeps the first definition (in path order) and reports the second with the first as related', async () => {
    const { merged, pos, diagnostics } = await merge({
      'b.yaml':
        'virtual_models:\n  x: { target: nope/nope }\nproviders:\n  openai: { type: openai, base_url: https://x.example, api_key_env: K, models: [m] }\n',
      'a.yaml': `${PROVIDERS_YAML}virtual_models:\n  x: { target: openai/gpt-4o }\n`,
    });
    expect(pos).toEqual(['b.yaml:2:3 VMC2004', 'b.yaml:4:3 VMC2006']);
    expect(diagnostics.map((d) => d.related?.map((r) => r.file))).toEqual([['/cfg/a.yaml'], ['/cfg/a.yaml']]);
    expect(merged.virtualModels.find((v) => v.name === 'x')?.file.path).toBe('/cfg/a.yaml');
  });

  it('a setting given twice with the same value is fine; a different value is VMC2020 at the later one', async () => {
    const same = await merge({ 'a.yaml': 'settings: { passthrough: false }\n', 'b.yaml': 'settings: { passthrough: false }\n' });
    expect(same.diagnostics).toEqual([]);
    expect(same.merged.settings.passthrough?.value).toBe(false);
    const differ = await merge({ 'a.yaml': 'settings: { passthrough: false }\n', 'b.yaml': 'settings:\n  passthrough: true\n' });
    expect(differ.pos).toEqual(['b.yaml:2:16 VMC2020']);
    expect(differ.merged.settings.passthrough?.value).toBe(false);
  });

  it('versions must agree where declared (VMC1008 at the later one)', async () => {
    const { diagnostics } = await merge({ 'a.yaml': 'version: 1\n', 'b.yaml': '# no version\n', 'c.yaml': 'version: 1\n' });
    expect(diagnostics).toEqual([]);
    const { pos } = await merge({ 'a.yaml': 'version: 1\n', 'b.yaml': 'version: 2\n' });
    // version 2 is also not a supported version (VMC1003, from validate).
    expect(pos).toEqual(['b.yaml:1:10 VMC1003', 'b.yaml:1:10 VMC1008']);
  });

  it('carries validation verdicts: an invalid entry is kept but marked, an unusable file is skipped', async () => {
    const { merged } = await merge({
      'a.yaml': `${PROVIDERS_YAML}virtual_models:\n  bad: { target: openai/gpt-4o, weight: 3 }\n  good: { target: openai/gpt-4o }\n`,
      'b.yaml': 'virtual_models: [\n',
    });
    expect(merged.virtualModels.map((v) => [v.name, v.valid])).toEqual([
      ['bad', false],
      ['good', true],
    ]);
  });
});
