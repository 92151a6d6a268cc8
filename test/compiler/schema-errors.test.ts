/**
 * ajv errors → diagnostics: each schema keyword gives its code at the offending node (the key
 * for unknown, missing and misnamed keys; the value otherwise), semantic codes where the
 * catalog has one, and a fault stays local to the entry it is in.
 */
import { describe, expect, it } from 'vitest';
import { lineColumn, type DiagnosticCode } from '../../compiler/diagnostics.js';
import { compileDocuments } from '../../compiler/frontend.js';
import { describePath, formatPath, typeName } from '../../compiler/schema-errors.js';
import { PROVIDER_TYPE_CODES } from '../../runtime/table/provider-types.js';
import { positions, PROVIDERS_YAML } from './support.js';

/** Positions of the diagnostics of one in-memory file `/c/a.yaml`. */
async function check(text: string): Promise<string[]> {
  return positions(await compileDocuments([{ path: '/c/a.yaml', text }]), '/c');
}

/** `⟨` marks where the diagnostic must start; returns the text without it and that position. */
function marked(text: string): { text: string; at: string } {
  const i = text.indexOf('⟨');
  const { line, column } = lineColumn(text, i);
  return { text: text.slice(0, i) + text.slice(i + 1), at: `a.yaml:${line}:${column}` };
}

const P = 'providers:\n  p: { type: openai, base_url: https://p.example/v1, api_key_env: K, models: [m] }\n';
const vm = (body: string) => `${P}virtual_models:\n  v: ${body}\n`;
const provider = (body: string) => `providers:\n  ${body}\n`;

// [keyword and case, config text with ⟨ where the one diagnostic starts, its code]
const CASES: [string, string, DiagnosticCode][] = [
  ['additionalProperties: an unknown key, at the key', vm('{ target: p/m, ⟨tagret: p/m }'), 'VMC1002'],
  [
    'required: a missing key, at the key of the object missing it',
    provider('⟨p: { type: openai, models: [m], api_key_env: K }'),
    'VMC1004',
  ],
  [
    'propertyNames: a provider name with a slash, at the name',
    provider('⟨a/b: { type: openai, base_url: https://p.example, api_key_env: K, models: [m] }'),
    'VMC1003',
  ],
  ['enum: a strategy not in the list', vm('{ targets: [{ target: p/m }], strategy: ⟨fastest }'), 'VMC1003'],
  [
    'enum: a provider type is VMC2011',
    provider('p: { type: ⟨cohere, base_url: https://p.example, api_key_env: K, models: [m] }'),
    'VMC2011',
  ],
  ['const: an unsupported version', `version: ⟨2\n${P}`, 'VMC1003'],
  ['type: a wrong type', vm('{ target: p/m, enabled: ⟨"yes" }'), 'VMC1003'],
  ['type: a priority that is not a number is VMC2009', vm('{ targets: [{ target: p/m, priority: ⟨"x" }] }'), 'VMC2009'],
  ['minimum: a negative weight is VMC2007', vm('{ targets: [{ target: p/m, weight: ⟨-1 }] }'), 'VMC2007'],
  ['minimum: a negative priority is VMC2009', vm('{ targets: [{ target: p/m, priority: ⟨-1 }], strategy: priority }'), 'VMC2009'],
  ['minimum: a status code below 100 is VMC2010', vm('{ target: p/m, fallback_on: [429, ⟨99] }'), 'VMC2010'],
  ['minimum: retry attempts below 1 is VMC2018', vm('{ target: p/m, retry: { attempts: ⟨0 } }'), 'VMC2018'],
  [
    'minimum: any other bound',
    provider('p: { type: openai, base_url: https://p.example, api_key_env: K, models: [m], timeout_ms: ⟨-1 }'),
    'VMC1003',
  ],
  ['pattern: a user path is VMC2016', vm('{ target: p/m, user_paths: [/ok, ⟨team] }'), 'VMC2016'],
  ['pattern: a base URL', provider('p: { type: openai, base_url: ⟨ftp://p.example, api_key_env: K, models: [m] }'), 'VMC1003'],
  [
    'pattern: a TrueFoundry status code string',
    vm('{ routing_config: { type: weight-based-routing, load_balance_targets: [{ target: p/m, fallback_status_codes: [⟨"4x9"] }] } }'),
    'VMC1003',
  ],
  ['not: target and targets together, at the targets key', vm('{ target: p/m, ⟨targets: [{ target: p/m }] }'), 'VMC1003'],
  ['minItems: an empty pool', vm('{ targets: ⟨[] }'), 'VMC1003'],
  ['minLength: an empty target', vm('{ target: ⟨"" }'), 'VMC1003'],
];

describe('schema keyword → diagnostic', () => {
  it.each(CASES)('%s', async (_, source, code) => {
    const { text, at } = marked(source);
    expect(await check(text)).toEqual([`${at} ${code}`]);
  });

  it('names the nearest allowed key in an unknown-key hint', async () => {
    const r = await compileDocuments([{ path: 'a.yaml', text: `${P}virtual_model:\n  x: {}\n` }]);
    expect(r.diagnostics.map((d) => d.code)).toEqual(['VMC1002']);
    expect(r.diagnostics[0].hint).toContain('"virtual_models"');
  });

  it("VMC2011's hint lists every provider type of the contract", async () => {
    const r = await compileDocuments([
      { path: 'a.yaml', text: 'providers:\n  p: { type: cohere, base_url: https://p.example, api_key_env: K, models: [m] }\n' },
    ]);
    for (const t of PROVIDER_TYPE_CODES) expect(r.diagnostics[0].hint).toContain(`\`${t}\``);
  });
});

describe('schema faults stay local', () => {
  it('an unknown top-level key does not discard the rest of the file', async () => {
    expect(await check(`${PROVIDERS_YAML}virtual_model:\n  x: {}\nvirtual_models:\n  y: { target: openai/gpt-4o }\n`)).toEqual([
      'a.yaml:12:1 VMC1002',
    ]);
  });

  it('a provider with a bad name does not hide the other providers', async () => {
    const text = `${PROVIDERS_YAML}  bad/name: { type: openai, base_url: https://x.example.com, api_key_env: K, models: [m] }\nvirtual_models:\n  y: { target: openai/gpt-4o }\n`;
    expect(await check(text)).toEqual(['a.yaml:12:3 VMC1003']);
  });

  it('a faulty virtual model is not resolved, so its other faults do not cascade', async () => {
    // `w` fails the schema; its unknown target is not reported on top. `ok` still resolves.
    const { text, at } = marked(`${P}virtual_models:\n  w: { target: p/nope, ⟨weight: 1 }\n  ok: { target: p/m }\n`);
    expect(await check(text)).toEqual([`${at} VMC1002`]);
  });
});

describe('words for places and values', () => {
  it.each([
    [[], undefined, 'the config'],
    [['settings', 'passthrough'], undefined, 'settings.passthrough'],
    [['providers', 'openai'], undefined, 'provider "openai"'],
    [['virtual_models', 'a'], 'TrueFoundry', 'virtual model "a" (TrueFoundry form)'],
    [['virtual_models', 'a'], 'native', 'virtual model "a"'],
    [['virtual_models', 'a', 'targets', 0, 'retry'], 'TrueFoundry', 'virtual model "a" at targets[0].retry'],
  ] as const)('describePath(%j)', (path, dialect, want) => {
    expect(describePath(path, dialect)).toBe(want);
  });

  it('formatPath writes indexes in brackets', () => {
    expect(formatPath(['targets', 0, 'retry', 'on_status', '1'])).toBe('targets[0].retry.on_status[1]');
  });

  it.each([
    [null, 'null'],
    [[1], 'a list'],
    [{}, 'a mapping'],
    [3, 'the number 3'],
    [Infinity, 'the non-finite number Infinity'],
    ['x', 'the string "x"'],
    [true, 'the boolean true'],
  ])('typeName(%j)', (value, want) => {
    expect(typeName(value)).toBe(want);
  });
});
