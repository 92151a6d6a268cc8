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

  it('every YAML fixture references the schema for editor completion', () => {
    const missing = filesUnder('fixtures', /\.ya?ml$/).filter(
      (f) => !readFileSync(f, 'utf8').startsWith(`# yaml-language-server: $schema=${relative(join(f, '..'), 'schemas/vmc.schema.json')}`),
    );
    expect(missing).toEqual([]);
  });
});
