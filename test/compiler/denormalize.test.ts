import { describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileConfig } from '../../compiler/frontend.js';
import { denormalize } from '../../compiler/tools/denormalize.js';

const FIXTURES = [
  'fixtures/demo',
  'fixtures/features',
  'fixtures/truefoundry/seed-004.yaml',
  'fixtures/gomodel/virtual-models.yaml',
  'fixtures/nemo/virtual-models.yaml',
  'fixtures/ts',
];

describe('denormalize (admin API base: table → native config → compiler)', () => {
  it.each(FIXTURES)('normalize(denormalize(%s)) reproduces the normalized config', async (fixture) => {
    const dir = await mkdtemp(join(tmpdir(), 'vmc-denorm-'));
    try {
      const a = await compileConfig([fixture]);
      expect(a.config).not.toBeNull();
      const file = join(dir, 'config.yaml');
      await writeFile(file, JSON.stringify(denormalize(a.config!), null, 1));
      const b = await compileConfig([file]);
      expect(b.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      expect(b.config).toEqual(a.config);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
