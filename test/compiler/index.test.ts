/** compile(): every phase in order, artifacts only without errors; writeArtifacts(): three files, no leftovers. */
import { describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compile, writeArtifacts } from '../../compiler/index.js';
import { RoutingTable } from '../../runtime/table/reader.js';
import { PROVIDERS_YAML, withTree } from './support.js';

const GOOD = `${PROVIDERS_YAML}virtual_models:\n  chat: { target: openai/gpt-4o }\n`;

describe('compile', () => {
  it('runs the phases in order and returns the artifacts of a valid config', async () => {
    await withTree({ 'vmc.yaml': GOOD }, async (dir) => {
      const phases: string[] = [];
      const r = await compile([dir], { onPhase: (p) => phases.push(p) });
      expect(phases).toEqual(['load', 'lower', 'emit-client', 'emit-manifest']);
      expect(r.diagnostics).toEqual([]);
      expect(r.config!.virtualModels.map((v) => v.name)).toEqual(['chat']);
      expect(RoutingTable.decode(r.artifacts!.table).toNormalized()).toEqual(r.config);
      expect(JSON.parse(r.artifacts!.manifest).sources).toEqual([{ path: 'vmc.yaml', sha256: r.sources[0].sha256 }]);
    });
  });

  it('stops after the front end when there are errors', async () => {
    await withTree({ 'vmc.yaml': GOOD.replace('gpt-4o }', 'gpt-5 }') }, async (dir) => {
      const phases: string[] = [];
      const r = await compile([join(dir, 'vmc.yaml')], { onPhase: (p) => phases.push(p) });
      expect(phases).toEqual(['load']);
      expect([r.config, r.artifacts]).toEqual([null, null]);
      expect(r.diagnostics.map((d) => d.code)).toEqual(['VMC2001']);
    });
  });

  it('passes ignoreWarnings and cwd to the front end', async () => {
    await withTree({ 'cfg/vmc.yaml': GOOD.replace('    api_key_env: OPENAI_API_KEY\n', '') }, async (dir) => {
      expect((await compile(['cfg'], { cwd: dir })).diagnostics.map((d) => d.code)).toEqual(['VMC2012']);
      const quiet = await compile(['cfg'], { cwd: dir, ignoreWarnings: ['VMC2012'] });
      expect(quiet.diagnostics).toEqual([]);
      expect(quiet.artifacts).not.toBeNull();
    });
  });
});

describe('writeArtifacts', () => {
  it('writes table, client and manifest and leaves no temporary files', async () => {
    await withTree({ 'vmc.yaml': GOOD }, async (dir) => {
      const { artifacts } = await compile([dir]);
      const out = join(dir, 'out', 'nested');
      await writeArtifacts(out, artifacts!);
      expect((await readdir(out)).sort()).toEqual(['client.ts', 'manifest.json', 'table.vmct']);
      expect(new Uint8Array(await readFile(join(out, 'table.vmct')))).toEqual(artifacts!.table);
      expect(await readFile(join(out, 'client.ts'), 'utf8')).toBe(artifacts!.client);
      expect(await readFile(join(out, 'manifest.json'), 'utf8')).toBe(artifacts!.manifest);
    });
  });
});
