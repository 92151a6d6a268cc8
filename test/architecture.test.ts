import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const importsOf = (file: string): string[] =>
  [...readFileSync(file, 'utf8').matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2]);

describe('architecture rules (docs/architecture.md)', () => {
  it('the runtime never imports the compiler', () => {
    const offenders = tsFiles('runtime').flatMap((f) => importsOf(f).filter((s) => /(^|\/)compiler\//.test(s)).map((s) => `${f} → ${s}`));
    expect(offenders).toEqual([]);
  });

  it('only the adapter module imports uWebSockets.js', () => {
    const files = [...tsFiles('runtime'), ...tsFiles('compiler'), ...tsFiles('bin')];
    const offenders = files.filter((f) => /uws-js-unofficial|uWebSockets\.js/.test(readFileSync(f, 'utf8')) && !f.startsWith(join('runtime', 'http')));
    expect(offenders).toEqual([]);
  });
});
