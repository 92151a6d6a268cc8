/**
 * Phase 2 — validate: schema validation of each loaded file, mapped to node positions
 * (SPEC §2 "schema violations (unknown keys, wrong types) at the offending node").
 *
 * The whole file is validated against schemas/vmc.schema.json, except virtual model bodies:
 * their schema is a union of four dialects, whose combined errors would be noise ("must match
 * a schema in anyOf"). Each body's dialect is detected from its distinctive keys instead
 * (dialects.ts) and the body is validated against that dialect's schema alone.
 *
 * ajv's errors become diagnostics in schema-errors.ts. Rules that need the whole merged config run later on native bodies (`checkModels`); target
 * resolution (unknown targets, cycles) belongs to normalize.ts.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import schema from '../schemas/vmc.schema.json' with { type: 'json' };
import type { DiagnosticLog } from './diagnostics.js';
import { BUILTIN_MIDDLEWARE } from '../runtime/table/middleware-catalog.js';
import {
  CREDENTIAL_HEADER_HINTS,
  CREDENTIAL_QUERY_HINTS,
  DEFAULT_BASE_URL_TYPES,
  REQUIRED_KEYS,
  SIGNED_TYPES,
  TYPE_SPECIFIC_KEYS,
  envReferences,
  isAzureV1Base,
} from '../runtime/table/provider-types.js';
import type { ProviderConfig } from './config-types.gen.js';
import { isObject } from '../runtime/table/util.js';
import { DIALECT_LABEL, detectDialect, type Dialect } from './dialects.js';
import { spanOf, type JsonPath, type LoadedFile } from './load.js';
import type { FileValidation } from './merge.js';
import type { NativeModel } from './rewrite.js';
import { reportSchemaErrors, typeName } from './schema-errors.js';
import { closest } from './suggest.js';

const SCHEMA_ID = schema.$id;
const SHELL_ID = SCHEMA_ID.replace(/\.json$/, '.file-shell.json');

/** The schema definition each dialect's bodies are validated against. */
const DIALECT_DEFINITION: Record<Dialect, string> = {
  native: 'NativeVirtualModel',
  truefoundry: 'TrueFoundryVirtualModel',
  gomodel: 'GoModelVirtualModel',
  nemo: 'NemoVirtualModel',
};

interface Validators {
  root: ValidateFunction;
  body: Record<Dialect, ValidateFunction>;
}

let validators: Validators | undefined;

/** Compiles the schema once per process. */
function getValidators(): Validators {
  if (validators) return validators;
  // strictRequired is off: `not: {required: [target, targets]}` names keys defined elsewhere.
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictTypes: false, strictRequired: false, allowUnionTypes: true });
  ajv.addSchema(schema);
  // The file "shell": the schema with virtual model bodies left open, since each body is
  // validated against its own dialect (running the four-way union on every body would cost
  // time and produce errors we would throw away).
  const shell = {
    ...schema,
    $id: SHELL_ID,
    properties: { ...schema.properties, virtual_models: { ...schema.properties.virtual_models, additionalProperties: true } },
  };
  ajv.addSchema(shell);
  const get = (def: string): ValidateFunction => {
    const v = ajv.getSchema(`${SCHEMA_ID}#/definitions/${def}`);
    if (!v) throw new Error(`internal: schema definition ${def} missing`);
    return v;
  };
  validators = {
    root: ajv.getSchema(SHELL_ID)!,
    body: Object.fromEntries(Object.entries(DIALECT_DEFINITION).map(([d, def]) => [d, get(def)])) as Record<Dialect, ValidateFunction>,
  };
  return validators;
}

/** Validates one loaded file against the schema and the per-file rules. */
export function validateFile(file: LoadedFile, log: DiagnosticLog): FileValidation {
  const result: FileValidation = { file, data: {}, invalid: new Set(), dialects: new Map() };
  if (file.data === undefined) {
    result.invalid.add('');
    return result;
  }
  // An empty YAML file is an empty config.
  const data = file.data === null ? {} : file.data;
  if (!isObject(data)) {
    log.report('VMC1003', spanOf(file, []), {
      context: 'the top level',
      detail: `expected a mapping, got ${typeName(data)}`,
      expected: 'a config file is a mapping with version, settings, providers and virtual_models',
    });
    result.invalid.add('');
    return result;
  }
  result.data = data;
  const v = getValidators();
  if (!v.root(data)) reportSchemaErrors(v.root.errors ?? [], { file, base: [], root: data }, log, result.invalid);
  const vms = data.virtual_models;
  if (isObject(vms)) {
    for (const [name, body] of Object.entries(vms)) validateBody(file, name, body, v, log, result);
  }
  checkFileRules(result, log);
  return result;
}

function validateBody(file: LoadedFile, name: string, body: unknown, v: Validators, log: DiagnosticLog, result: FileValidation): void {
  const at: JsonPath = ['virtual_models', name];
  const id = `virtual_models/${name}`;
  if (!isObject(body)) {
    log.report('VMC1003', spanOf(file, at), {
      context: `virtual model "${name}"`,
      detail: `expected a mapping, got ${typeName(body)}`,
      expected: `write { target: provider/model } for a redirect`,
    });
    result.invalid.add(id);
    return;
  }
  const detected = detectDialect(body);
  if ('conflict' in detected) {
    const { first, second } = detected.conflict;
    const [labelA, labelB] = [DIALECT_LABEL[first.dialect], DIALECT_LABEL[second.dialect]];
    log.report(
      'VMC1009',
      spanOf(file, [...at, second.key], 'key'),
      { name, dialectA: labelA, keyA: first.key, dialectB: labelB, keyB: second.key },
      [{ ...spanOf(file, [...at, first.key], 'key'), message: `${labelA} key` }],
    );
    result.invalid.add(id);
    return;
  }
  result.dialects.set(name, detected.dialect);
  const validate = v.body[detected.dialect];
  if (!validate(body)) {
    const subject = { file, base: at, root: body, dialect: DIALECT_LABEL[detected.dialect] };
    reportSchemaErrors(validate.errors ?? [], subject, log, result.invalid);
  }
}

/** Per-file rules that the schema cannot express. */
function checkFileRules(result: FileValidation, log: DiagnosticLog): void {
  const { file, data, invalid } = result;
  if (isObject(data.providers) && !invalid.has('providers')) {
    for (const [name, p] of Object.entries(data.providers)) {
      if (invalid.has(`providers/${name}`) || !isObject(p)) continue;
      if (!checkProvider(file, name, p as unknown as ProviderConfig, log)) invalid.add(`providers/${name}`);
    }
  }
  if (isObject(data.virtual_models)) {
    for (const [name, body] of Object.entries(data.virtual_models)) {
      if (result.dialects.get(name) !== 'gomodel' || invalid.has(`virtual_models/${name}`) || !isObject(body)) continue;
      if (body.source !== undefined && body.source !== name) {
        log.report('VMC2015', spanOf(file, ['virtual_models', name, 'source']), { source: String(body.source), name });
        invalid.add(`virtual_models/${name}`);
      }
    }
  }
}

/**
 * The type-dependent provider rules of SPEC §13 (the schema holds the keys every type may
 * carry): a key of another type (VMC2022), a key the type requires (VMC2021; `base_url`, the
 * common key, is VMC1004), `api_key_env` expected (VMC2012), a literal credential (VMC2023).
 * Returns false when the provider is unusable.
 */
function checkProvider(file: LoadedFile, name: string, p: ProviderConfig, log: DiagnosticLog): boolean {
  const at = ['providers', name];
  const type = p.type;
  let ok = true;
  for (const [key, types] of Object.entries(TYPE_SPECIFIC_KEYS)) {
    if (!Object.hasOwn(p, key) || types.includes(type)) continue;
    ok = false;
    const hint =
      key === 'api_key_env'
        ? `${type} providers authenticate ${type === 'bedrock' ? 'with SigV4 from the AWS credentials of credentials_env' : 'with a service-account token from credentials_file_env'}; remove api_key_env`
        : `"${key}" is a setting of ${types.join(', ')} providers`;
    log.report('VMC2022', spanOf(file, [...at, key], 'key'), { key, type, hint });
  }
  if (SIGNED_TYPES.includes(type) && p.auth !== undefined && p.auth.none === undefined) {
    ok = false;
    const key = p.auth.header !== undefined ? 'header' : 'query';
    log.report('VMC2022', spanOf(file, [...at, 'auth', key], 'key'), {
      key: `auth.${key}`,
      type,
      hint: `${type} providers compute their own credentials; only auth: { none: true } (send none) applies`,
    });
  }
  if (p.base_url === undefined && !DEFAULT_BASE_URL_TYPES.includes(type)) {
    ok = false;
    log.report('VMC1004', spanOf(file, at, 'key'), { key: 'base_url', context: `provider "${name}"` });
  }
  const missing = REQUIRED_KEYS[type].filter((r) => !Object.hasOwn(p, r.key));
  if (type === 'azure' && p.api_version === undefined && p.base_url !== undefined && !isAzureV1Base(p.base_url)) {
    missing.push({
      key: 'api_version',
      hint: 'the Azure OpenAI api-version, e.g. api_version: "2024-10-21" — or use a base_url ending in /openai/v1 (Azure\'s v1 API)',
    });
  }
  if (missing.length > 0) {
    // one report for all: they share the position (the provider's name)
    ok = false;
    const keys = missing.map((r) => `"${r.key}"`);
    log.report('VMC2021', spanOf(file, at, 'key'), {
      name,
      type,
      keys: keys.length === 1 ? keys[0] : `${keys.slice(0, -1).join(', ')} and ${keys[keys.length - 1]}`,
      hint: missing.map((r) => r.hint).join('; '),
    });
  }
  const keyless = SIGNED_TYPES.includes(type) || p.auth?.none === true;
  if (!keyless && p.api_key_env === undefined) log.report('VMC2012', spanOf(file, at, 'key'), { name });
  checkLiteralCredentials(file, name, 'headers', p.headers, CREDENTIAL_HEADER_HINTS, log);
  checkLiteralCredentials(file, name, 'query', p.query, CREDENTIAL_QUERY_HINTS, log);
  return ok;
}

/** VMC2023: a credential-like header or query value without any `${ENV}` reference. */
function checkLiteralCredentials(
  file: LoadedFile,
  name: string,
  section: 'headers' | 'query',
  values: Record<string, string> | undefined,
  credentialNames: readonly string[],
  log: DiagnosticLog,
): void {
  for (const [key, value] of Object.entries(values ?? {})) {
    if (!credentialNames.includes(key.toLowerCase()) || value === '' || envReferences(value).length > 0) continue;
    log.report('VMC2023', spanOf(file, ['providers', name, section, key]), {
      place: section === 'headers' ? 'header' : 'query parameter',
      key,
      name,
      example: `${key.toLowerCase() === 'authorization' ? 'Bearer ' : ''}\${${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_API_KEY}`,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Rules over the merged, rewritten config (run on native bodies, reported at their sources).

/**
 * Checks the rules that need every virtual model at once or the native form: unique slugs
 * (VMC2005), not all weights zero (VMC2008), duplicate targets (VMC2019, warning) and
 * built-in middleware names (VMC2017). Target resolution is normalize.ts's job.
 */
export function checkModels(models: NativeModel[], allNames: ReadonlySet<string>, log: DiagnosticLog): void {
  const slugOwners = new Map<string, NativeModel>();
  const byName = new Map(models.map((m) => [m.name, m]));
  for (const m of models) {
    checkSlug(m, slugOwners, byName, allNames, log);
    checkWeights(m, log);
    checkDuplicateTargets(m, log);
    checkMiddleware(m, log);
  }
}

function checkSlug(
  m: NativeModel,
  owners: Map<string, NativeModel>,
  byName: Map<string, NativeModel>,
  allNames: ReadonlySet<string>,
  log: DiagnosticLog,
): void {
  const slug = m.body.slug;
  if (slug === undefined || slug === m.name) return;
  // Spans are computed only when reporting: positions are built lazily (load-yaml.ts).
  if (allNames.has(slug)) {
    const other = byName.get(slug);
    const related = other ? [{ ...other.at([], 'key'), message: `virtual model "${slug}" is defined here` }] : [];
    log.report('VMC2005', m.at(['slug']), { slug, name: m.name, usage: 'a name', other: slug }, related);
    return;
  }
  const prev = owners.get(slug);
  if (prev) {
    log.report('VMC2005', m.at(['slug']), { slug, name: m.name, usage: 'a slug', other: prev.name }, [
      { ...prev.at(['slug']), message: `slug of "${prev.name}"` },
    ]);
    return;
  }
  owners.set(slug, m);
}

function checkWeights(m: NativeModel, log: DiagnosticLog): void {
  const { targets, strategy } = m.body;
  if (!targets || (strategy ?? 'weighted') !== 'weighted') return;
  if (targets.every((t) => (t.weight ?? 1) === 0)) log.report('VMC2008', m.at(['targets'], 'key'), { name: m.name });
}

/** Same target with the same metadata condition: the second entry only dilutes the first. */
function checkDuplicateTargets(m: NativeModel, log: DiagnosticLog): void {
  const seen = new Map<string, number>();
  m.body.targets?.forEach((t, i) => {
    const key = `${t.target}\0${JSON.stringify(Object.entries(t.metadata_match ?? {}).sort())}`;
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, i);
      return;
    }
    log.report('VMC2019', m.at(['targets', i, 'target']), { target: t.target, name: m.name }, [
      { ...m.at(['targets', first, 'target']), message: 'first listed here' },
    ]);
  });
}

function checkMiddleware(m: NativeModel, log: DiagnosticLog): void {
  const mw = m.body.middleware;
  if (!mw) return;
  for (const phase of ['request', 'response', 'post_response'] as const) {
    const builtins: readonly string[] = BUILTIN_MIDDLEWARE[phase];
    mw[phase]?.forEach((call, i) => {
      if (builtins.includes(call.name)) return;
      log.report('VMC2017', m.at(['middleware', phase, i, 'name']), {
        phase: phase.replace('_', '-'),
        value: call.name,
        suggestion: closest(call.name, builtins) ?? '',
        allowed: builtins.join(', '),
      });
    });
  }
}
