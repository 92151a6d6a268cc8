/**
 * TypeScript configs: type-checked (VMC1005 with positions), evaluated (VMC1006), and mapped so
 * schema and semantic diagnostics get line:column like YAML ones.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { compileConfig } from '../../compiler/frontend.js';
import { positions, writeTree } from './support.js';

const PROVIDERS_TS = `providers: {
    openai: { type: 'openai', base_url: 'https://api.openai.com/v1', api_key_env: 'OPENAI_API_KEY', models: ['gpt-4o', 'gpt-4o-mini'] },
  },`;

async function compileTs(files: Record<string, string>) {
  const dir = await writeTree(files);
  try {
    const r = await compileConfig([dir]);
    return { ...r, pos: positions(r, dir), left: readdirSync(dir).sort() };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('TypeScript configs', () => {
  it('fixtures/ts compiles like its YAML equivalent', async () => {
    const ts = await compileConfig([resolve('fixtures/ts')]);
    expect(ts.diagnostics).toEqual([]);
    const yaml = await compileTs({
      'vmc.yaml': `version: 1
providers:
  openai: { type: openai, base_url: https://api.openai.com/v1, api_key_env: OPENAI_API_KEY, models: [gpt-4o, gpt-4o-mini] }
  anthropic: { type: anthropic, base_url: https://api.anthropic.com, api_key_env: ANTHROPIC_API_KEY, models: [claude-sonnet-4-6, claude-opus-4-6] }
virtual_models:
  regular: { target: anthropic/claude-sonnet-4-6 }
  booking-app/gpt-prod:
    slug: gpt-prod
    targets:
      - { target: openai/gpt-4o, weight: 70, override_params: { temperature: 0.2 } }
      - { target: anthropic/claude-opus-4-6, weight: 30 }
  geo/chat:
    targets:
      - { target: openai/gpt-4o, metadata_match: { region: us } }
      - { target: anthropic/claude-sonnet-4-6, metadata_match: { region: eu } }
`,
    });
    expect(ts.config).toEqual(yaml.config);
  });

  it('reports type errors with their position and does not evaluate the file', async () => {
    const r = await compileTs({
      'vmc.config.ts': `import { defineConfig } from 'vmc';
export default defineConfig({
  ${PROVIDERS_TS}
  virtual_models: {
    a: { target: 'openai/gpt-4o', wieght: 1 },
    b: { targets: [{ target: 'openai/gpt-4o', weight: '3' }] },
  },
});
`,
    });
    expect(r.pos).toEqual(['vmc.config.ts:7:35 VMC1005', 'vmc.config.ts:8:47 VMC1005']);
    expect(r.config).toBeNull();
  });

  it('reports schema and semantic faults TypeScript cannot see at their literal', async () => {
    const r = await compileTs({
      'vmc.config.ts': `import { defineConfig } from 'vmc';
export default defineConfig({
  ${PROVIDERS_TS}
  virtual_models: {
    a: { targets: [{ target: 'openai/gpt-4o', weight: -1 }] },
    'b/c': { target: 'openai/gpt-5' },
    d: { user_paths: ['team'], target: 'openai/gpt-4o' },
  },
});
`,
    });
    expect(r.pos).toEqual(['vmc.config.ts:7:55 VMC2007', 'vmc.config.ts:8:22 VMC2001', 'vmc.config.ts:9:23 VMC2016']);
  });

  it('follows consts and satisfies to the literal that wrote a value', async () => {
    const r = await compileTs({
      'vmc.config.ts': `import type { VmcConfig } from 'vmc';
const targets = [
  { target: 'openai/gpt-4o' },
  { target: 'openai/nope' },
];
export default {
  ${PROVIDERS_TS}
  virtual_models: { pool: { targets } },
} satisfies VmcConfig;
`,
    });
    expect(r.pos).toEqual(['vmc.config.ts:4:13 VMC2001']);
  });

  it('evaluates configs with relative imports next to the file and cleans up', async () => {
    const r = await compileTs({
      'vmc.config.ts': `import { defineConfig } from 'vmc';
// @ts-ignore: a plain JS helper without types
import { models } from './models.mjs';
export default defineConfig({
  providers: { openai: { type: 'openai', base_url: 'https://api.openai.com/v1', api_key_env: 'K', models } },
  virtual_models: { x: { target: 'openai/' + models[0] } },
});
`,
      'models.mjs': "export const models = ['gpt-4o'];\n",
    });
    expect(r.diagnostics).toEqual([]);
    expect(r.config!.virtualModels[0].targets[0].model).toBe('gpt-4o');
    expect(r.left).toEqual(['models.mjs', 'vmc.config.ts']);
  });

  it('a config that throws while evaluated is VMC1006', async () => {
    const r = await compileTs({
      'vmc.config.ts': `import { defineConfig } from 'vmc';
const fail = (): never => { throw new Error('boom'); };
export default defineConfig({ virtual_models: fail() });
`,
    });
    expect(r.pos).toEqual(['vmc.config.ts:3:1 VMC1006']);
    expect(r.diagnostics[0].message).toContain('boom');
  });

  it('a config that is not plain data is VMC1006 at the offending value', async () => {
    const r = await compileTs({
      'vmc.config.ts': `const when = new Date(0) as unknown as string;
export default { virtual_models: { x: { description: when, target: 'a/b' } } };
`,
    });
    expect(r.pos).toEqual(['vmc.config.ts:2:54 VMC1006']);
  });

  it('a default export that is not an object is VMC1003 at the expression', async () => {
    const r = await compileTs({ 'vmc.config.ts': "export default 'config';\n" });
    expect(r.pos).toEqual(['vmc.config.ts:1:16 VMC1003']);
  });
});
