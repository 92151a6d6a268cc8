/** The JSON Schema is the single source of truth (SPEC §2): types and editors follow it. */
import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Ajv } from 'ajv';
import schema from '../../schemas/vmc.schema.json' with { type: 'json' };

function filesUnder(dir: string, ext: RegExp): string[] {
  return readdirSync(dir)
    .flatMap((name) => {
      const p = join(dir, name);
      return statSync(p).isDirectory() ? filesUnder(p, ext) : ext.test(name) ? [p] : [];
    })
    .sort();
}

describe('schemas/vmc.schema.json', () => {
  it('is a valid draft-07 schema that ajv compiles in strict mode', () => {
    const ajv = new Ajv({ strict: true, strictTypes: false, strictRequired: false, allowUnionTypes: true });
    expect(ajv.validateSchema(schema)).toBe(true);
    expect(() => ajv.compile(schema)).not.toThrow();
  });

  it('compiler/config-types.gen.ts is up to date (npm run gen:types)', () => {
    const fresh = execFileSync(process.execPath, ['scripts/gen-types.mjs', '--stdout'], { encoding: 'utf8' });
    expect(readFileSync('compiler/config-types.gen.ts', 'utf8')).toBe(fresh);
    expect(fresh.startsWith('/* auto-generated — do not edit; run npm run gen:types')).toBe(true);
  });

  it('bench/harness/scenario-types.gen.ts is up to date with schemas/scenario.schema.json (node bench/harness/gen-types.mjs)', () => {
    const fresh = execFileSync(process.execPath, ['bench/harness/gen-types.mjs', '--stdout'], { encoding: 'utf8' });
    expect(readFileSync('bench/harness/scenario-types.gen.ts', 'utf8')).toBe(fresh);
    expect(fresh.startsWith('/* auto-generated — do not edit; run node bench/harness/gen-types.mjs')).toBe(true);
  });

  it('every YAML fixture references its schema for editor completion (configs: vmc.schema.json, bench scenarios: scenario.schema.json)', () => {
    const missing = filesUnder('fixtures', /\.ya?ml$/).filter((f) => {
      const text = readFileSync(f, 'utf8');
      const schema = /^bench:\s*1\b/m.test(text) ? 'schemas/scenario.schema.json' : 'schemas/vmc.schema.json';
      return !text.startsWith(`# yaml-language-server: $schema=${relative(join(f, '..'), schema)}`);
    });
    expect(missing).toEqual([]);
  });
});
