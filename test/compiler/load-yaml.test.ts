/** YAML loading: data and source positions, and the fast path ≡ the position-keeping parse. */
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
