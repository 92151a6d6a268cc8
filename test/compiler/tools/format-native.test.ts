/** `vmc fmt`: native form, stable order, defaults omitted, a fixed point that compiles the same. */
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { formatNative } from '../../../compiler/tools/format-native.js';
import { compileConfig } from '../../../compiler/frontend.js';
import { compileFiles } from '../support.js';

const CONFIGS = [
  ['demo', ['fixtures/demo']],
  ['features', ['fixtures/features']],
  ['TrueFoundry seed 004', ['fixtures/truefoundry/seed-004.yaml']],
  ['GoModel', ['fixtures/gomodel/virtual-models.yaml']],
  ['NeMo', ['fixtures/nemo/virtual-models.yaml']],
  ['TypeScript', ['fixtures/ts']],
] as const;

describe('formatNative', () => {
  it.each(CONFIGS)('%s: output compiles to the same config and formats to itself', async (_, inputs) => {
    const original = await compileConfig(inputs.map((i) => resolve(i)));
    expect(original.config).not.toBeNull();
    const text = formatNative(original.native);
    const again = await compileFiles({ 'fmt.yaml': text });
    expect(again.diagnostics).toEqual([]);
    expect(again.config).toEqual(original.config);
    expect(formatNative(again.native)).toBe(text);
  });

  it('orders top-level keys, entries by name and fields by schema; omits defaults', () => {
    const text = formatNative({
      virtual_models: {
        z: { enabled: true, target: 'p/m', description: '' },
        a: {
          targets: [{ fallback_candidate: true, weight: 1, priority: 0, target: 'p/m', override_params: { b: 1, a: 2 } }],
          strategy: 'weighted',
          middleware: {},
          user_paths: [],
        },
      },
      providers: { p: { models: ['m'], type: 'openai', base_url: 'https://x' } },
      settings: { models_endpoint: 'all', passthrough: true },
      version: 1,
    });
    expect(text).toBe(`version: 1
providers:
  p:
    type: openai
    base_url: https://x
    models: [m]
virtual_models:
  a:
    targets:
      - target: p/m
        override_params:
          a: 2
          b: 1
  z:
    target: p/m
`);
  });

  it('keeps non-default settings and retry values as written', () => {
    const text = formatNative({
      version: 1,
      settings: { passthrough: false },
      virtual_models: { x: { target: 'p/m', retry: { attempts: 2 }, sticky: { ttl_seconds: 60, keys: [{ key: 'k', source: 'header' }] } } },
    });
    expect(text).toContain('settings:\n  passthrough: false\n');
    expect(text).toContain('retry:\n      attempts: 2\n');
    expect(text).toContain('sticky:\n      ttl_seconds: 60\n      keys:\n        - source: header\n          key: k\n');
  });
});
