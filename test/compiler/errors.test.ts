/**
 * Every diagnostic code, from a fixture in fixtures/errors, asserted by code and line:column
 * (never by wording). A case lists every diagnostic the fixture must produce, so a stray
 * extra diagnostic fails too.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DIAGNOSTIC_CATALOG } from '../../compiler/diagnostics.js';
import { compileConfig } from '../../compiler/frontend.js';
import { positions } from './support.js';

const ERRORS = resolve('fixtures/errors');

// [fixture (file or directory), expected `file:line:col CODE` entries]
const CASES: [string, string[]][] = [
  ['vmc1001-yaml-syntax.yaml', ['vmc1001-yaml-syntax.yaml:5:11 VMC1001']],
  ['vmc1002-unknown-key.yaml', ['vmc1002-unknown-key.yaml:12:9 VMC1002']],
  ['vmc1003-wrong-type.yaml', ['vmc1003-wrong-type.yaml:8:17 VMC1003', 'vmc1003-wrong-type.yaml:10:43 VMC1003']],
  ['vmc1004-missing-key.yaml', ['vmc1004-missing-key.yaml:3:3 VMC1004']],
  ['vmc1005-type-error.ts', ['vmc1005-type-error.ts:13:38 VMC1005']],
  ['vmc1006-no-default-export.ts', ['vmc1006-no-default-export.ts:1:1 VMC1006']],
  ['vmc1007-no-config-files', ['.:1:1 VMC1007']],
  // version 2 is also not a supported version (VMC1003) — both are true.
  ['vmc1008-version-mismatch', ['b.yaml:2:10 VMC1003', 'b.yaml:2:10 VMC1008']],
  ['vmc1009-mixed-dialects.yaml', ['vmc1009-mixed-dialects.yaml:11:5 VMC1009']],
  ['vmc2001-unknown-target.yaml', ['vmc2001-unknown-target.yaml:9:19 VMC2001']],
  ['vmc2002-unknown-provider.yaml', ['vmc2002-unknown-provider.yaml:11:17 VMC2002']],
  ['vmc2003-redirect-cycle.yaml', ['vmc2003-redirect-cycle.yaml:9:16 VMC2003']],
  ['vmc2004-duplicate-virtual-model', ['b.yaml:3:3 VMC2004']],
  ['vmc2004-duplicate-in-one-file.yaml', ['vmc2004-duplicate-in-one-file.yaml:10:3 VMC2004']],
  ['vmc2005-duplicate-slug.yaml', ['vmc2005-duplicate-slug.yaml:10:19 VMC2005', 'vmc2005-duplicate-slug.yaml:11:17 VMC2005']],
  ['vmc2006-duplicate-provider', ['b.yaml:3:3 VMC2006']],
  ['vmc2007-negative-weight.yaml', ['vmc2007-negative-weight.yaml:11:42 VMC2007']],
  ['vmc2008-all-weights-zero.yaml', ['vmc2008-all-weights-zero.yaml:10:5 VMC2008']],
  ['vmc2009-bad-priority.yaml', ['vmc2009-bad-priority.yaml:12:44 VMC2009', 'vmc2009-bad-priority.yaml:13:49 VMC2009']],
  ['vmc2010-status-code.yaml', ['vmc2010-status-code.yaml:10:19 VMC2010', 'vmc2010-status-code.yaml:17:42 VMC2010']],
  ['vmc2011-provider-type.yaml', ['vmc2011-provider-type.yaml:4:11 VMC2011']],
  ['vmc2012-missing-api-key-env.yaml', ['vmc2012-missing-api-key-env.yaml:3:3 VMC2012']],
  ['vmc2013-pool-names-virtual-model.yaml', ['vmc2013-pool-names-virtual-model.yaml:13:17 VMC2013']],
  ['vmc2014-policy-unknown-model.yaml', ['vmc2014-policy-unknown-model.yaml:9:3 VMC2014']],
  ['vmc2015-gomodel-source.yaml', ['vmc2015-gomodel-source.yaml:9:22 VMC2015']],
  ['vmc2016-user-path.yaml', ['vmc2016-user-path.yaml:9:42 VMC2016']],
  ['vmc2017-unknown-middleware.yaml', ['vmc2017-unknown-middleware.yaml:13:17 VMC2017']],
  ['vmc2018-retry.yaml', ['vmc2018-retry.yaml:12:28 VMC2018', 'vmc2018-retry.yaml:12:41 VMC2018']],
  ['vmc2019-duplicate-target.yaml', ['vmc2019-duplicate-target.yaml:12:19 VMC2019']],
  ['vmc2020-conflicting-settings', ['b.yaml:3:16 VMC2020']],
  [
    'vmc2021-missing-provider-setting.yaml',
    [
      'vmc2021-missing-provider-setting.yaml:3:3 VMC2021',
      'vmc2021-missing-provider-setting.yaml:6:3 VMC2021',
      'vmc2021-missing-provider-setting.yaml:10:3 VMC2021',
    ],
  ],
  [
    'vmc2022-setting-of-another-type.yaml',
    [
      'vmc2022-setting-of-another-type.yaml:7:5 VMC2022',
      'vmc2022-setting-of-another-type.yaml:12:5 VMC2022',
      'vmc2022-setting-of-another-type.yaml:13:13 VMC2022',
    ],
  ],
  ['vmc2023-literal-credential.yaml', ['vmc2023-literal-credential.yaml:7:25 VMC2023']],
];

describe('fixtures/errors: one fixture per diagnostic code', () => {
  it.each(CASES)('%s', async (fixture, expected) => {
    const path = join(ERRORS, fixture);
    const base = statSync(path).isDirectory() ? path : dirname(path);
    const result = await compileConfig([path]);
    expect(positions(result, base)).toEqual([...expected].sort());
    const hasErrors = result.diagnostics.some((d) => d.severity === 'error');
    expect(result.config === null).toBe(hasErrors);
  });

  it('covers every catalogued code', () => {
    const covered = new Set(CASES.flatMap(([, e]) => e.map((x) => x.split(' ')[1])));
    expect([...covered].sort()).toEqual(Object.keys(DIAGNOSTIC_CATALOG).sort());
  });

  it('names each fixture after the code it demonstrates', () => {
    for (const [fixture, expected] of CASES) {
      expect(existsSync(join(ERRORS, fixture))).toBe(true);
      const code = fixture.slice(0, 7).toUpperCase();
      expect(expected.map((x) => x.split(' ')[1])).toContain(code);
    }
  });

  it('reports related locations for duplicates and cycles', async () => {
    const dup = await compileConfig([join(ERRORS, 'vmc2004-duplicate-virtual-model')]);
    expect(dup.diagnostics[0].related?.map((r) => r.file)).toEqual([join(ERRORS, 'vmc2004-duplicate-virtual-model/a.yaml')]);
    const cycle = await compileConfig([join(ERRORS, 'vmc2003-redirect-cycle.yaml')]);
    expect(cycle.diagnostics[0].message).toContain('a → b → c → a');
    expect(cycle.diagnostics[0].related).toHaveLength(2);
  });

  it('warnings alone still produce a config', async () => {
    for (const f of ['vmc2012-missing-api-key-env.yaml', 'vmc2019-duplicate-target.yaml']) {
      const r = await compileConfig([join(ERRORS, f)]);
      expect(r.diagnostics.every((d) => d.severity === 'warning')).toBe(true);
      expect(r.config).not.toBeNull();
    }
  });

  it('a missing input is VMC1007 at the path', async () => {
    const missing = join(ERRORS, 'does-not-exist.yaml');
    const r = await compileConfig([missing]);
    expect(r.diagnostics.map((d) => [d.code, d.file])).toEqual([['VMC1007', missing]]);
    expect(r.config).toBeNull();
  });
});
