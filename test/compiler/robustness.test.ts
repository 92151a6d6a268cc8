/**
 * Whatever the input, the front end answers with diagnostics, never an exception: odd shapes
 * from a table, then random configs built from the schema's own vocabulary (fast-check).
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { compileFiles, PROVIDERS_YAML } from './support.js';

const ODD: [string, string][] = [
  ['null body', 'virtual_models:\n  x: null\n'],
  ['null provider', 'providers:\n  p: null\n'],
  ['null target entry', 'virtual_models:\n  x: { targets: [null] }\n'],
  ['null settings', 'settings: null\n'],
  ['list at the top', '- a\n- b\n'],
  ['scalar at the top', 'hello\n'],
  ['tabs', 'providers:\n\tp: {}\n'],
  ['empty target', 'virtual_models:\n  x: { target: "" }\n'],
  ['null routing_config', 'virtual_models:\n  x: { routing_config: null }\n'],
  ['numeric keys', 'virtual_models:\n  1: { target: 2 }\n'],
  ['empty key', 'virtual_models:\n  "": { target: openai/gpt-4o }\n'],
  ['complex key', 'virtual_models:\n  ? [a, b]\n  : { target: x }\n'],
  ['deep alias', 'a: &a { target: openai/gpt-4o }\nvirtual_models:\n  x: *a\n'],
  ['huge number', 'virtual_models:\n  x: { targets: [{ target: openai/gpt-4o, weight: 1e400 }] }\n'],
  ['NeMo nulls', 'virtual_models:\n  x: { default_model_entity: null, models: [{ model: openai/gpt-4o, backend_format: null }] }\n'],
];

describe('odd inputs give diagnostics, not exceptions', () => {
  it.each(ODD)('%s', async (_, text) => {
    const r = await compileFiles({ 'vmc.yaml': text });
    expect(Array.isArray(r.diagnostics)).toBe(true);
    expect(r.config === null).toBe(r.diagnostics.some((d) => d.severity === 'error'));
  });
});

// Random bodies over the keys and values the dialects use, valid or not.
const scalar = fc.oneof(
  fc.constantFrom('openai/gpt-4o', 'openai/gpt-4o-mini', 'anthropic/claude-sonnet-4-6', 'a', 'b', '/team', 'x y', '429', ''),
  fc.integer({ min: -2, max: 700 }),
  fc.constantFrom(true, false, null, 0.5),
);
const key = fc.constantFrom(
  'target',
  'targets',
  'strategy',
  'weight',
  'priority',
  'retry',
  'attempts',
  'delay_ms',
  'on_status',
  'fallback_on',
  'slug',
  'user_paths',
  'enabled',
  'routing_config',
  'type',
  'load_balance_targets',
  'source',
  'target_model',
  'default_model_entity',
  'models',
  'model',
  'backend_format',
  'request_middleware',
  'name',
  'middleware',
  'sticky',
  'keys',
  'headers',
  'set',
  'metadata_match',
  'sla',
  'max_ttft_ms',
  'a',
  'b',
);
const value = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('v'), { maxLength: 3 }),
    fc.dictionary(key, tie('v'), { maxKeys: 4 }),
  ),
})).v;
const names = fc.constantFrom('a', 'b', 'c', 'openai/gpt-4o', 'g/x');

describe('random configs', () => {
  it('never throw and keep config === null iff errors', async () => {
    await fc.assert(
      fc.asyncProperty(fc.dictionary(names, value, { maxKeys: 4 }), async (vms) => {
        const text = `${PROVIDERS_YAML}${stringify({ virtual_models: vms })}`;
        const r = await compileFiles({ 'vmc.yaml': text });
        expect(r.config === null).toBe(r.diagnostics.some((d) => d.severity === 'error'));
        for (const d of r.diagnostics) expect(d.end).toBeGreaterThanOrEqual(d.start);
      }),
      { numRuns: 150 },
    );
  }, 60_000);
});
