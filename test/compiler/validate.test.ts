/**
 * The validate phase: per-file verdicts (which entries are unusable, each body's dialect) and
 * the per-file and whole-config rules the schema cannot express. Codes and positions only.
 */
import { describe, expect, it } from 'vitest';
import { DiagnosticLog } from '../../compiler/diagnostics.js';
import { loadDocuments } from '../../compiler/load.js';
import { mergeFiles } from '../../compiler/merge.js';
import { rewriteEntries } from '../../compiler/rewrite.js';
import { checkModels, validateFile } from '../../compiler/validate.js';
import { positions, PROVIDERS_YAML } from './support.js';

/** validateFile over one in-memory file `/c/a.yaml`. */
async function validate(text: string) {
  const log = new DiagnosticLog();
  const [file] = await loadDocuments([{ path: '/c/a.yaml', text }], log);
  const v = validateFile(file, log);
  return { v, log, pos: positions({ diagnostics: log.items, sources: [file] }, '/c') };
}

/** validate → merge → rewrite → checkModels over one in-memory file. */
async function checkAll(text: string) {
  const log = new DiagnosticLog();
  const files = await loadDocuments([{ path: '/c/a.yaml', text }], log);
  const merged = mergeFiles(
    files.map((f) => validateFile(f, log)),
    log,
  );
  const before = log.items.length;
  checkModels(rewriteEntries(merged), new Set(merged.virtualModels.map((e) => e.name)), log);
  const added = log.items.slice(before);
  return { diagnostics: added, pos: positions({ diagnostics: added, sources: files }, '/c') };
}

describe('validateFile', () => {
  it('an empty file is an empty, valid config', async () => {
    const { v, log } = await validate('# nothing\n');
    expect(v.data).toEqual({});
    expect([...v.invalid]).toEqual([]);
    expect(log.items).toEqual([]);
  });

  it('a file that is not a mapping is unusable as a whole (VMC1003 at the top)', async () => {
    const { v, pos } = await validate('- a\n- b\n');
    expect([...v.invalid]).toEqual(['']);
    expect(pos).toEqual(['a.yaml:1:1 VMC1003']);
  });

  it('a file that did not parse is unusable without a further report', async () => {
    const { v, log } = await validate('a: [\n');
    expect([...v.invalid]).toEqual(['']);
    expect(log.items.map((d) => d.code)).toEqual(['VMC1001']);
  });

  it('marks faulty entries by section/name and records each body’s dialect', async () => {
    const { v } = await validate(`${PROVIDERS_YAML}  broken: { type: openai }
virtual_models:
  tf: { routing_config: { type: weight-based-routing, load_balance_targets: [{ target: openai/gpt-4o }] } }
  go: { source: go, target_model: openai/gpt-4o }
  nemo: { default_model_entity: openai/gpt-4o }
  native: { target: openai/gpt-4o, wieght: 2 }
  scalar: 5
settings: { passthrough: sometimes }
`);
    expect([...v.invalid].sort()).toEqual(['providers/broken', 'settings', 'virtual_models/native', 'virtual_models/scalar']);
    expect(Object.fromEntries(v.dialects)).toEqual({ tf: 'truefoundry', go: 'gomodel', nemo: 'nemo', native: 'native' });
  });

  it('a body mixing dialects is VMC1009 at the second dialect’s first key, the first as related', async () => {
    const { v, log, pos } = await validate(`virtual_models:\n  x: { target: a/b, source: x, routing_config: {} }\n`);
    expect(pos).toEqual(['a.yaml:2:21 VMC1009']);
    expect(log.items[0].related).toEqual([expect.objectContaining({ file: '/c/a.yaml', start: 23, end: 29 })]);
    expect(v.invalid.has('virtual_models/x')).toBe(true);
  });

  it('a provider without api_key_env is a warning at its name (VMC2012)', async () => {
    const { v, pos } = await validate('providers:\n  p: { type: openai, base_url: https://p.example, models: [m] }\n');
    expect(pos).toEqual(['a.yaml:2:3 VMC2012']);
    expect(v.invalid.size).toBe(0);
  });

  it('a GoModel source that differs from its key is VMC2015 and makes the body invalid', async () => {
    const { v, pos } = await validate(`${PROVIDERS_YAML}virtual_models:\n  x: { source: y, target_model: openai/gpt-4o }\n`);
    expect(pos).toEqual(['a.yaml:13:16 VMC2015']);
    expect(v.invalid.has('virtual_models/x')).toBe(true);
  });
});

describe('checkModels', () => {
  const vms = (body: string) => `${PROVIDERS_YAML}virtual_models:\n${body}`;

  it('a slug equal to another name or slug is VMC2005 at the later slug', async () => {
    const { pos, diagnostics } = await checkAll(
      vms(
        '  a: { target: openai/gpt-4o, slug: b }\n  b: { target: openai/gpt-4o }\n  c: { target: openai/gpt-4o, slug: s }\n  d: { target: openai/gpt-4o, slug: s }\n',
      ),
    );
    expect(pos).toEqual(['a.yaml:13:37 VMC2005', 'a.yaml:16:37 VMC2005']);
    expect(diagnostics.map((d) => d.related?.length)).toEqual([1, 1]);
  });

  it('every weight zero under weighted is VMC2008 at the targets key; under priority it is fine', async () => {
    const zero = '[{ target: openai/gpt-4o, weight: 0 }, { target: openai/gpt-4o-mini, weight: 0 }]';
    expect((await checkAll(vms(`  a: { targets: ${zero} }\n`))).pos).toEqual(['a.yaml:13:8 VMC2008']);
    expect((await checkAll(vms(`  a: { strategy: priority, targets: ${zero} }\n`))).pos).toEqual([]);
  });

  it('the same target with the same metadata condition is a VMC2019 warning; another condition is not', async () => {
    const { pos, diagnostics } = await checkAll(
      vms(
        '  a: { targets: [{ target: openai/gpt-4o }, { target: openai/gpt-4o, metadata_match: { t: x } }, { target: openai/gpt-4o }] }\n',
      ),
    );
    expect(pos).toEqual(['a.yaml:13:108 VMC2019']);
    expect(diagnostics[0].severity).toBe('warning');
  });

  it('an unknown middleware name is VMC2017 at the name', async () => {
    expect((await checkAll(vms('  a: { target: openai/gpt-4o, middleware: { request: [{ name: set-parms }] } }\n'))).pos).toEqual([
      'a.yaml:13:63 VMC2017',
    ]);
  });
});

describe('provider settings by type (SPEC §13)', () => {
  /** Codes and positions for one provider written as `  p: {…}`. */
  const check = async (body: string) => (await validate(`providers:\n  p: ${body}\n`)).pos;

  it.each([
    ['bedrock with region, no key (SigV4)', '{ type: bedrock, region: us-east-1, models: [m] }'],
    [
      'bedrock unsigned behind a signing proxy',
      '{ type: bedrock, region: us-east-1, auth: { none: true }, base_url: http://127.0.0.1:9 , models: [m] }',
    ],
    ['vertex with project and location', '{ type: vertex, project: p1, location: global, models: [m] }'],
    ['gemini without base_url', '{ type: gemini, api_key_env: K, models: [m] }'],
    ["azure's v1 API without api_version", '{ type: azure, base_url: https://r.openai.azure.com/openai/v1/, api_key_env: K, models: [m] }'],
    [
      'an openai provider without a key when auth is none',
      '{ type: openai, base_url: http://127.0.0.1:11434/v1, auth: { none: true }, models: [m] }',
    ],
    [
      'templates referencing variables',
      '{ type: openai, base_url: https://x, api_key_env: K, headers: { a: "x ${A} $5" }, query: { q: "${B}" }, models: [m] }',
    ],
  ])('%s: no diagnostic', async (_n, body) => {
    expect(await check(body)).toEqual([]);
  });

  it.each([
    [
      'azure without api_version (not the v1 API)',
      '{ type: azure, base_url: https://r.openai.azure.com, api_key_env: K, models: [m] }',
      ['a.yaml:2:3 VMC2021'],
    ],
    ['vertex without project and location (one report)', '{ type: vertex, models: [m] }', ['a.yaml:2:3 VMC2021']],
    ['openai without base_url', '{ type: openai, api_key_env: K, models: [m] }', ['a.yaml:2:3 VMC1004']],
    [
      'deployments on openai',
      '{ type: openai, base_url: https://x, api_key_env: K, deployments: {}, models: [m] }',
      ['a.yaml:2:59 VMC2022'],
    ],
    ['api_key_env on vertex', '{ type: vertex, project: p, location: l, api_key_env: K, models: [m] }', ['a.yaml:2:47 VMC2022']],
    ['a bad region', '{ type: bedrock, region: US_EAST, models: [m] }', ['a.yaml:2:31 VMC1003']],
    [
      'auth with two places',
      '{ type: openai, base_url: https://x, api_key_env: K, auth: { header: a, query: b }, models: [m] }',
      ['a.yaml:2:65 VMC1003'],
    ],
    [
      'auth none: false',
      '{ type: openai, base_url: https://x, api_key_env: K, auth: { none: false }, models: [m] }',
      ['a.yaml:2:73 VMC1003'],
    ],
    [
      'an unterminated ${',
      '{ type: openai, base_url: https://x, api_key_env: K, headers: { a: "${A" }, models: [m] }',
      ['a.yaml:2:73 VMC1003'],
    ],
    [
      'a literal credential header',
      '{ type: openai, base_url: https://x, headers: { Authorization: "Bearer sk-1" }, models: [m] }',
      ['a.yaml:2:3 VMC2012', 'a.yaml:2:69 VMC2023'],
    ],
  ])('%s', async (_n, body, want) => {
    expect(await check(body)).toEqual(want);
  });

  it('messages name what to write', async () => {
    const { log } = await validate('providers:\n  p: { type: azure, base_url: https://r.openai.azure.com, api_key_env: K, models: [m] }\n');
    expect(log.items[0].message).toBe('provider "p" of type azure needs "api_version"');
    const { log: l1 } = await validate('providers:\n  p: { type: vertex, models: [m] }\n');
    expect(l1.items.map((d) => d.message)).toEqual(['provider "p" of type vertex needs "project" and "location"']);
    expect(log.items[0].hint).toContain('/openai/v1');
    const { log: l2 } = await validate(
      'providers:\n  p: { type: openai, base_url: https://x, api_key_env: K, auth: { header: a, query: b }, models: [m] }\n',
    );
    expect(l2.items[0].message).toContain('needs exactly one of header, query or none');
    const { log: l3 } = await validate(
      'providers:\n  p: { type: openai, base_url: https://x, headers: { api-key: k1 }, auth: { none: true }, models: [m] }\n',
    );
    expect(l3.items[0].hint).toBe(
      'write ${P_API_KEY} so the secret stays out of the table and is read from the environment when the gateway starts',
    );
  });
});
