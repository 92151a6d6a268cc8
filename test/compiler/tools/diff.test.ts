/** `vmc diff`: what changed between two normalized configs, whether routing did, and its renderings. */
import { describe, expect, it } from 'vitest';
import { MARKDOWN_MARKER, diffConfigs, renderDiff, renderMarkdown } from '../../../compiler/tools/diff.js';
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
    expect(d.virtualModels.map((v) => [v.name, v.change, v.routing])).toEqual([
      ['a', 'changed', true],
      ['b', 'removed', true],
      ['c', 'added', true],
    ]);
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

  it('is structured: per field and per target, values before and after (not rendered strings)', () => {
    const next = structuredClone(base);
    const a = next.virtualModels[0];
    a.strategy = 'priority';
    a.targets[0].weight = 60;
    a.targets[0].retry = { ...a.targets[0].retry, attempts: 3 };
    a.targets[0].overrideParams = '{"temperature":0.2}';
    a.targets.push(target('r/o'));
    const d = diffConfigs(base, next);
    expect(d.virtualModels).toEqual([
      {
        name: 'a',
        change: 'changed',
        routing: true,
        fields: [{ field: 'strategy', before: 'weighted', after: 'priority' }],
        targets: [
          {
            target: 'p/m',
            change: 'changed',
            fields: [
              { field: 'weight', before: 70, after: 60 },
              { field: 'retry', before: base.virtualModels[0].targets[0].retry, after: a.targets[0].retry },
              // canonical JSON text in the table; the value it encodes in the diff
              { field: 'overrideParams', before: null, after: { temperature: 0.2 } },
            ],
          },
          { target: 'r/o', change: 'added', fields: [], after: expect.objectContaining({ provider: 'r', model: 'o', weight: 1 }) },
        ],
      },
    ]);
    // JSON round trip: plain data, nothing lost
    expect(JSON.parse(JSON.stringify(d))).toEqual(d);
  });

  it('added and removed virtual models carry their whole normalized form', () => {
    const next = config([vm('a', [target('p/m', { weight: 70 }), target('q/n', { weight: 30 })])]);
    const [removed] = diffConfigs(base, next).virtualModels;
    expect(removed).toMatchObject({
      name: 'b',
      change: 'removed',
      before: { name: 'b', strategy: 'weighted', targets: [{ provider: 'p', model: 'm' }] },
    });
    const [added] = diffConfigs(next, base).virtualModels;
    expect(added).toMatchObject({ name: 'b', change: 'added', after: { name: 'b' } });
  });

  it('a changed description is listed but does not change routing', () => {
    const next = structuredClone(base);
    next.virtualModels[0].description = 'now documented';
    const d = diffConfigs(base, next);
    expect(d.virtualModels).toEqual([
      {
        name: 'a',
        change: 'changed',
        routing: false,
        fields: [{ field: 'description', before: '', after: 'now documented' }],
        targets: [],
      },
    ]);
    expect(d.identicalRouting).toBe(true);
  });

  it('settings and providers changes change routing', () => {
    const next = structuredClone(base);
    next.settings.passthrough = false;
    next.providers[0].baseUrl = 'https://elsewhere.example';
    const d = diffConfigs(base, next);
    expect(d.settings).toEqual([{ field: 'passthrough', before: true, after: false }]);
    expect(d.providers).toEqual([
      { name: 'p', change: 'changed', fields: [{ field: 'baseUrl', before: 'http://127.0.0.1:1/p', after: 'https://elsewhere.example' }] },
    ]);
    expect(d.identicalRouting).toBe(false);
    expect(renderDiff(d)).toBe(
      'settings  passthrough: true → false\nprovider  p baseUrl: http://127.0.0.1:1/p → https://elsewhere.example\nrouting differs: 0 virtual model(s) changed\n',
    );
  });
});

describe('renderMarkdown', () => {
  it('a PR comment: marker, heading, summary, one table row per changed virtual model', () => {
    const next = config([vm('a', [target('q/n', { weight: 30 }), target('p/m', { weight: 60 })]), vm('c|d', [target('p/m')])]);
    const md = renderMarkdown(diffConfigs(base, next), 'main → PR #7');
    expect(md.split('\n')).toEqual([
      MARKDOWN_MARKER,
      '### main → PR #7',
      '',
      '⚠️ **Routing changes**: 3 virtual models (1 added, 1 removed, 1 changed).',
      '',
      '| | virtual model | changes |',
      '|---|---|---|',
      '| ✏️ | `a` | weight p/m: 70 → 60<br>target order: p/m, q/n → q/n, p/m |',
      '| ➖ | `b` | removed |',
      '| ➕ | `c\\|d` | added<br>→ p/m (weight 1, priority 0) |',
      '',
    ]);
  });

  it('says so when nothing routes differently, and lists settings and providers below the table', () => {
    expect(renderMarkdown(diffConfigs(base, base))).toBe(`${MARKDOWN_MARKER}\n### vmc diff\n\n✅ No routing changes.\n`);
    const next = structuredClone(base);
    next.providers[1].models = ['n', 'n2'];
    expect(renderMarkdown(diffConfigs(base, next)).split('\n').slice(3)).toEqual([
      '⚠️ **Routing changes**: 0 virtual models.',
      '',
      '**Settings and providers**',
      '',
      '- provider q models: ["n"] → ["n","n2"]',
      '',
    ]);
  });

  it('keeps a long diff within a comment: 200 rows, then a count', () => {
    const many = config(Array.from({ length: 250 }, (_, i) => vm(`m${String(i).padStart(3, '0')}`, [target('p/m')])));
    const md = renderMarkdown(diffConfigs(config([]), many));
    expect(md.split('\n').filter((l) => l.startsWith('| ➕'))).toHaveLength(200);
    expect(md).toContain('… and 50 more');
  });
});
