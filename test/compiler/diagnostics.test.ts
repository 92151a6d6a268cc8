/** The diagnostics catalog, the shared log and the three output formats. */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  DIAGNOSTIC_CATALOG,
  DiagnosticLog,
  formatDiagnostics,
  isDiagnosticCode,
  lineColumn,
  renderTemplate,
  type Diagnostic,
  type DiagnosticCode,
  type Span,
} from '../../compiler/diagnostics.js';

describe('lineColumn', () => {
  const text = 'ab\ncd\r\n\nüé\n';
  it.each([
    [0, 1, 1],
    [2, 1, 3],
    [3, 2, 1],
    [5, 2, 3],
    [7, 3, 1],
    [9, 4, 2],
    [999, 5, 1],
    [-5, 1, 1],
  ])('offset %i → %i:%i', (offset, line, column) => {
    expect(lineColumn(text, offset)).toEqual({ line, column });
  });
});

describe('renderTemplate', () => {
  it.each([
    ['a {x} b', { x: 1 }, 'a 1 b'],
    ['[did you mean "{s}"? ]fix it', { s: 'y' }, 'did you mean "y"? fix it'],
    ['[did you mean "{s}"? ]fix it', {}, 'fix it'],
    ['[did you mean "{s}"? ]fix it', { s: '' }, 'fix it'],
    ['missing {x}', {}, 'missing ?'],
  ])('%s', (template, args, want) => {
    expect(renderTemplate(template, args)).toBe(want);
  });
});

describe('catalog', () => {
  it('has stable codes in two ranges, a title, a message and a hint for each', () => {
    for (const [code, e] of Object.entries(DIAGNOSTIC_CATALOG)) {
      expect(code).toMatch(/^VMC[12]\d{3}$/);
      expect(['error', 'warning']).toContain(e.severity);
      expect(e.title && e.message && e.hint).toBeTruthy();
    }
  });

  it('only missing api_key_env, duplicate targets and literal credentials are warnings', () => {
    const warnings = Object.entries(DIAGNOSTIC_CATALOG)
      .filter(([, e]) => e.severity === 'warning')
      .map(([c]) => c);
    expect(warnings).toEqual(['VMC2012', 'VMC2019', 'VMC2023']);
  });
});

describe('DiagnosticLog', () => {
  const at = (start: number, end: number): Span => ({ file: 'f', start, end });

  it('keeps one of identical reports and tells errors from warnings', () => {
    const log = new DiagnosticLog();
    log.report('VMC2012', at(1, 2), { name: 'p' });
    expect(log.hasErrors()).toBe(false);
    log.report('VMC2001', at(3, 4), { target: 'x' });
    log.report('VMC2001', at(3, 4), { target: 'x' });
    expect(log.items.map((d) => [d.code, d.file, d.start, d.end])).toEqual([
      ['VMC2012', 'f', 1, 2],
      ['VMC2001', 'f', 3, 4],
    ]);
    expect(log.hasErrors()).toBe(true);
  });

  it('takes the severity from the catalog and never lets a range end before it starts', () => {
    const log = new DiagnosticLog();
    log.report('VMC2019', at(9, 3), { target: 't', name: 'n' }, [{ ...at(1, 2), message: 'first' }]);
    expect(log.items).toEqual([
      expect.objectContaining({
        code: 'VMC2019',
        severity: 'warning',
        start: 9,
        end: 9,
        related: [{ file: 'f', start: 1, end: 2, message: 'first' }],
      }),
    ]);
  });

  it('silences chosen warnings but never errors', () => {
    const log = new DiagnosticLog({ ignoreWarnings: ['VMC2012', 'VMC2001'] });
    log.report('VMC2012', at(0, 0), { name: 'p' });
    log.report('VMC2001', at(0, 0), { target: 'x' });
    expect(log.items.map((d) => d.code)).toEqual(['VMC2001']);
  });

  it('takes catalogued codes only: a misspelt code does not compile', () => {
    // `npx tsc -p tsconfig.json --noEmit` type-checks this file: were `report` to accept any
    // string, the directive below would be unused, which is itself a compile error.
    // @ts-expect-error 'VMC9999' is not a DiagnosticCode
    expect(() => new DiagnosticLog().report('VMC9999', at(0, 0))).toThrow();
    expectTypeOf<Parameters<DiagnosticLog['report']>[0]>().toEqualTypeOf<DiagnosticCode>();
    expectTypeOf<'VMC2001'>().toExtend<DiagnosticCode>();
    expectTypeOf<'VMC2O01'>().not.toExtend<DiagnosticCode>();
  });
});

describe('isDiagnosticCode', () => {
  it.each([
    ['VMC2012', true],
    ['VMC1001', true],
    ['VMC9999', false],
    ['vmc2012', false],
    ['toString', false],
    ['', false],
  ])('%s → %s', (text, want) => {
    expect(isDiagnosticCode(text)).toBe(want);
  });
});

describe('formatDiagnostics', () => {
  const file = '/work/cfg/vmc.yaml';
  const sources = new Map([[file, 'version: 1\nvirtual_models:\n  a: { target: x/y }\n']]);
  const diags: Diagnostic[] = [
    {
      code: 'VMC2001',
      severity: 'error',
      file,
      start: 42,
      end: 45,
      message: 'unknown target model "x/y"',
      hint: 'did you mean "a/b"?',
      related: [{ file, start: 0, end: 7, message: 'see, here' }],
    },
    { code: 'VMC2012', severity: 'warning', file: '/elsewhere/p.yaml', start: 0, end: 0, message: 'no key: 50%', hint: '' },
  ];

  it('text: file:line:col - severity code: message, hint and related lines', () => {
    expect(formatDiagnostics(diags, 'text', sources, '/work')).toBe(
      'cfg/vmc.yaml:3:16 - error VMC2001: unknown target model "x/y"\n' +
        '  hint: did you mean "a/b"?\n' +
        '  related: cfg/vmc.yaml:1:1 - see, here\n' +
        '../elsewhere/p.yaml:1:1 - warning VMC2012: no key: 50%\n',
    );
  });

  it('json: one object per diagnostic with 1-based positions', () => {
    const out = JSON.parse(formatDiagnostics(diags, 'json', sources, '/work'));
    expect(out[0]).toEqual({
      code: 'VMC2001',
      severity: 'error',
      file: 'cfg/vmc.yaml',
      line: 3,
      column: 16,
      endLine: 3,
      endColumn: 19,
      message: 'unknown target model "x/y"',
      hint: 'did you mean "a/b"?',
      related: [{ file: 'cfg/vmc.yaml', line: 1, column: 1, message: 'see, here' }],
    });
    expect(out[1].severity).toBe('warning');
  });

  it('github: workflow commands with escaped properties and data', () => {
    expect(formatDiagnostics(diags, 'github', sources, '/work').split('\n')).toEqual([
      '::error file=cfg/vmc.yaml,line=3,col=16,endLine=3,endColumn=19,title=VMC2001::unknown target model "x/y" (did you mean "a/b"?)',
      '::notice file=cfg/vmc.yaml,line=1,col=1,endLine=1,endColumn=8,title=VMC2001 (related)::see, here — VMC2001: unknown target model "x/y"',
      '::warning file=../elsewhere/p.yaml,line=1,col=1,endLine=1,endColumn=1,title=VMC2012::no key: 50%25',
      '',
    ]);
  });

  it('prints nothing for no diagnostics', () => {
    expect(formatDiagnostics([], 'text', sources)).toBe('');
    expect(formatDiagnostics([], 'json', sources)).toBe('[]\n');
  });
});

describe('docs/config.md', () => {
  it('documents every catalogued code with its severity', () => {
    const doc = readFileSync('docs/config.md', 'utf8');
    for (const [code, e] of Object.entries(DIAGNOSTIC_CATALOG)) {
      expect(doc).toContain(`| ${code} | ${e.severity} |`);
    }
  });
});
