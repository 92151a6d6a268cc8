/** NormConfig → native config: compiling the result gives back the same normalized config. */
import { describe, expect, it } from 'vitest';
import { compileConfig, compileDocuments } from '../../../compiler/frontend.js';
import { denormalize, denormalizeMiddlewareCall, denormalizeVirtualModel } from '../../../compiler/tools/denormalize.js';
import { vm, target } from '../../support/norm.js';

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
    const a = await compileConfig([fixture]);
    expect(a.config).not.toBeNull();
    const b = await compileDocuments([{ path: 'denormalized.yaml', text: JSON.stringify(denormalize(a.config!), null, 1) }]);
    expect(b.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(b.config).toEqual(a.config);
  });
});

describe('denormalizeVirtualModel', () => {
  it('writes a plain single-target redirect as `target:` with its retry and fallback', () => {
    const body = denormalizeVirtualModel(vm('r', [target('p/m')], { kind: 'redirect' }));
    expect(body.target).toBe('p/m');
    expect(body).not.toHaveProperty('targets');
    expect(body).toHaveProperty('retry');
    expect(body).toHaveProperty('fallback_on');
  });

  it('writes a policy without any target (its name is the model it gates)', () => {
    const body = denormalizeVirtualModel(vm('p/m', [target('p/m')], { kind: 'policy', userPaths: ['/team'] }));
    expect(body).not.toHaveProperty('target');
    expect(body).not.toHaveProperty('targets');
    expect(body.user_paths).toEqual(['/team']);
  });
});

describe('denormalizeMiddlewareCall', () => {
  it('leaves fields at their defaults out and parses the canonical config', () => {
    expect(denormalizeMiddlewareCall({ name: 'a', configType: '', config: null, configId: null })).toEqual({ name: 'a' });
    expect(denormalizeMiddlewareCall({ name: 'a', configType: 'params', config: '{"x":1}', configId: 'id' })).toEqual({
      name: 'a',
      config_type: 'params',
      config: { x: 1 },
      config_id: 'id',
    });
  });
});
