import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { loadYaml, loadYamlFull } from '../../compiler/load-yaml.js';
import { DiagnosticLog } from '../../compiler/diagnostics.js';

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? yamlFiles(p) : /\.ya?ml$/.test(n) ? [p] : [];
  });
}

const EXTRA: [string, string][] = [
  ['scalars', 'a: 1\nb: 1.5\nc: true\nd: ~\ne: null\nf: "429"\ng: 2024-06-01\nh: 0x1F\ni: .inf\nj: yes\nk: [1, "2", three]\n'],
  ['empty', ''],
  ['comments only', '# nothing\n'],
  ['nested flow', 'x: { a: [ { b: c } ], d: {} }\n'],
  ['block scalars', 'd: |\n  line one\n  line two\ne: >\n  folded\n  text\n'],
];

describe('YAML fast path (js-yaml core schema) ≡ the position-keeping parse', () => {
  it.each(yamlFiles('fixtures').map((f) => [f]))('%s', (file) => {
    const text = readFileSync(file, 'utf8');
    const full = loadYamlFull(file, text, new DiagnosticLog());
    const fast = loadYaml(file, text, new DiagnosticLog());
    expect(fast.data).toEqual(full.data);
  });

  it.each(EXTRA)('%s', (_name, text) => {
    const full = loadYamlFull('x.yaml', text, new DiagnosticLog());
    const fast = loadYaml('x.yaml', text, new DiagnosticLog());
    expect(fast.data).toEqual(full.data);
  });

  it('builds the same positions lazily', () => {
    const text = 'version: 1\nvirtual_models:\n  a: { target: p/m }\n';
    const full = loadYamlFull('x.yaml', text, new DiagnosticLog());
    const fast = loadYaml('x.yaml', text, new DiagnosticLog());
    for (const path of [['version'], ['virtual_models', 'a', 'target'], ['virtual_models', 'a']]) {
      expect(fast.locations.find(path, 'key')).toEqual(full.locations.find(path, 'key'));
      expect(fast.locations.find(path)).toEqual(full.locations.find(path));
    }
  });
});
