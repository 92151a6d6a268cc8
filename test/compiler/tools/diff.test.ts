/** `vmc diff`: what changed between two normalized configs, and whether routing did. */
import { describe, expect, it } from 'vitest';
import { diffConfigs, renderDiff } from '../../../compiler/tools/diff.js';
import { config, target, vm } from '../../support/norm.js';

const base = config([vm('a', [target('p/m', { weight: 70 }), target('q/n', { weight: 30 })]), vm('b', [target('p/m')])]);

describe('diffConfigs', () => {
  it('identical configs route identically and list nothing', () => {
    const d = diffConfigs(base, structuredClone(base));
    expect(d).toEqual({ identicalRouting: true, settings: [], providers: [], virtualModels: [] });
    expect(renderDiff(d)).toBe('tables route identically\n');
  });

  it('names added, removed and changed virtual models, sorted by name, with per-target details', () => {
    const next = config([vm('a', [target('q/n', { weight: 30 }), target('p/m', { weight: 60 })]), vm('c', [target('p/m')])]);
    const d = diffConfigs(base, next);
    expect(d.identicalRouting).toBe(false);
    expect(d.virtualModels.map((v) => [v.name, v.change])).toEqual([
      ['a', 'changed'],
      ['b', 'removed'],
      ['c', 'added'],
    ]);
    expect(d.virtualModels[0].details).toEqual(['weight p/m: 70 → 60', 'target order: p/m, q/n → q/n, p/m']);
    expect(renderDiff(d).split('\n')).toEqual([
      '~ a',
      '    weight p/m: 70 → 60',
      '    target order: p/m, q/n → q/n, p/m',
      '- b (removed)',
      '+ c (added)',
      '    → p/m (weight 1, priority 0)',
      'routing differs: 3 virtual model(s) changed',
      '',
    ]);
  });

  it('a changed description is listed but does not change routing', () => {
    const next = structuredClone(base);
    next.virtualModels[0].description = 'now documented';
    const d = diffConfigs(base, next);
    expect(d.virtualModels).toEqual([{ name: 'a', change: 'changed', details: ['description:  → now documented'] }]);
    expect(d.identicalRouting).toBe(true);
  });

  it('settings and providers changes change routing', () => {
    const next = structuredClone(base);
    next.settings.passthrough = false;
    next.providers[0].baseUrl = 'https://elsewhere.example';
    const d = diffConfigs(base, next);
    expect(d.settings).toEqual(['passthrough: true → false']);
    expect(d.providers).toEqual(['p baseUrl: http://127.0.0.1:1/p → https://elsewhere.example']);
    expect(d.identicalRouting).toBe(false);
  });
});
