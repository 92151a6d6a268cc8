/**
 * Phase 2 — validate: schema validation of each loaded file, mapped to node positions
 * (SPEC §2 "schema violations (unknown keys, wrong types) at the offending node").
 *
 * The whole file is validated against schemas/vmc.schema.json, except virtual model bodies:
 * their schema is a union of four dialects, whose combined errors would be noise ("must match
 * a schema in anyOf"). Each body's dialect is detected from its distinctive keys instead
 * (dialects.ts) and the body is validated against that dialect's schema alone.
 *
 * Some schema constraints have their own semantic code (a negative weight is VMC2007, not a
 * generic VMC1003), so editors that only know the schema flag the same things the compiler does.
 * Rules that need the whole merged config run later on native bodies (`checkModels`); target
 * resolution (unknown targets, cycles) belongs to normalize.ts.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import schema from '../schemas/vmc.schema.json' with { type: 'json' };
import type { DiagnosticLog } from './diagnostics.js';
import { BUILTIN_MIDDLEWARE } from '../runtime/table/middleware-catalog.js';
import { DIALECT_LABEL, detectDialect, type Dialect } from './dialects.js';
import { spanOf, type JsonPath, type LoadedFile } from './load.js';
import type { FileValidation } from './merge.js';
import type { NativeModel } from './rewrite.js';

const SCHEMA_ID = schema.$id;
const SHELL_ID = SCHEMA_ID.replace(/\.json$/, '.file-shell.json');

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
    body: {
      native: get(DIALECT_DEFINITION.native),
      truefoundry: get(DIALECT_DEFINITION.truefoundry),
      gomodel: get(DIALECT_DEFINITION.gomodel),
      nemo: get(DIALECT_DEFINITION.nemo),
    },
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
    const s = spanOf(file, []);
    log.report('VMC1003', s.file, s.start, s.end, {
      context: 'the top level',
      detail: `expected a mapping, got ${typeName(data)}`,
      expected: 'a config file is a mapping with version, settings, providers and virtual_models',
    });
    result.invalid.add('');
    return result;
  }
  result.data = data;
  const v = getValidators();
  if (!v.root(data)) reportSchemaErrors(v.root.errors ?? [], file, [], data, log, result.invalid);
  const vms = data.virtual_models;
  if (isObject(vms)) {
    for (const [name, body] of Object.entries(vms)) validateBody(file, name, body, v, log, result);
  }
  checkFileRules(result, log);
  return result;
}

function validateBody(
  file: LoadedFile,
  name: string,
  body: unknown,
  v: Validators,
  log: DiagnosticLog,
  result: FileValidation,
): void {
  const at: JsonPath = ['virtual_models', name];
  const id = `virtual_models/${name}`;
  if (!isObject(body)) {
    const s = spanOf(file, at);
    log.report('VMC1003', s.file, s.start, s.end, {
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
    const s = spanOf(file, [...at, second.key], 'key');
    const r = spanOf(file, [...at, first.key], 'key');
    log.report(
      'VMC1009',
      s.file,
      s.start,
      s.end,
      { name, dialectA: DIALECT_LABEL[first.dialect], keyA: first.key, dialectB: DIALECT_LABEL[second.dialect], keyB: second.key },
      [{ ...r, message: `${DIALECT_LABEL[first.dialect]} key` }],
    );
    result.invalid.add(id);
    return;
  }
  result.dialects.set(name, detected.dialect);
  const validate = v.body[detected.dialect];
  if (!validate(body)) {
    reportSchemaErrors(validate.errors ?? [], file, at, body, log, result.invalid, DIALECT_LABEL[detected.dialect]);
  }
}

/** Per-file rules that the schema cannot express. */
function checkFileRules(result: FileValidation, log: DiagnosticLog): void {
  const { file, data, invalid } = result;
  if (isObject(data.providers) && !invalid.has('providers')) {
    for (const [name, p] of Object.entries(data.providers)) {
      if (invalid.has(`providers/${name}`) || !isObject(p)) continue;
      if (p.api_key_env === undefined) {
        const s = spanOf(file, ['providers', name], 'key');
        log.report('VMC2012', s.file, s.start, s.end, { name });
      }
    }
  }
  if (isObject(data.virtual_models)) {
    for (const [name, body] of Object.entries(data.virtual_models)) {
      if (result.dialects.get(name) !== 'gomodel' || invalid.has(`virtual_models/${name}`) || !isObject(body)) continue;
      if (body.source !== undefined && body.source !== name) {
        const s = spanOf(file, ['virtual_models', name, 'source']);
        log.report('VMC2015', s.file, s.start, s.end, { source: String(body.source), name });
        invalid.add(`virtual_models/${name}`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// ajv errors → diagnostics

const STATUS_LISTS = new Set(['on_status', 'fallback_on', 'on_status_codes', 'fallback_status_codes']);

/** Reports ajv errors at the nodes they concern; `base` prefixes their instance paths. */
function reportSchemaErrors(
  errors: ErrorObject[],
  file: LoadedFile,
  base: JsonPath,
  root: unknown,
  log: DiagnosticLog,
  invalid: Set<string>,
  dialect?: string,
): void {
  for (const e of errors) {
    // propertyNames reports once with the name and once more from the inner keyword.
    if (e.schemaPath.includes('/propertyNames/')) continue;
    const rel = decodePointer(e.instancePath);
    const path = [...base, ...rel];
    // What the error is about: an unknown or misnamed key is its own (unused) entry, so a
    // typo at the top level does not discard the whole file.
    const subject =
      e.keyword === 'additionalProperties'
        ? [...path, String((e.params as { additionalProperty: string }).additionalProperty)]
        : e.keyword === 'propertyNames'
          ? [...path, String((e.params as { propertyName: string }).propertyName)]
          : path;
    invalid.add(entryId(subject));
    const value = valueAt(root, rel);
    const context = describePath(path, dialect);
    const report = (code: string, at: JsonPath, part: 'key' | 'value', args: Record<string, string | number>) => {
      const s = spanOf(file, at, part);
      log.report(code, s.file, s.start, s.end, args);
    };
    const parentKey = path.length >= 2 ? String(path[path.length - 2]) : '';
    const key = path.length >= 1 ? String(path[path.length - 1]) : '';
    const isStatus = STATUS_LISTS.has(parentKey);
    const shown = JSON.stringify(value) ?? 'undefined';

    switch (e.keyword) {
      case 'additionalProperties': {
        const extra = String((e.params as { additionalProperty: string }).additionalProperty);
        const allowed = Object.keys((e.parentSchema as { properties?: object }).properties ?? {});
        report('VMC1002', [...path, extra], 'key', {
          key: extra,
          context,
          suggestion: closest(extra, allowed) ?? '',
          allowed: allowed.length > 0 ? allowed.join(', ') : '(none)',
        });
        break;
      }
      case 'required': {
        const missing = String((e.params as { missingProperty: string }).missingProperty);
        report('VMC1004', path, 'key', { key: missing, context });
        break;
      }
      case 'propertyNames': {
        const name = String((e.params as { propertyName: string }).propertyName);
        report('VMC1003', [...path, name], 'key', {
          context,
          detail: `name ${JSON.stringify(name)} is not allowed`,
          expected:
            key === 'providers'
              ? 'a provider name may not contain `/` or whitespace (targets split at the first `/`)'
              : 'a name may not contain whitespace',
        });
        break;
      }
      case 'enum': {
        const allowed = ((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map((x) => String(x));
        if (path.length === 3 && path[0] === 'providers' && key === 'type') {
          report('VMC2011', path, 'value', { value: shown });
          break;
        }
        const suggestion = typeof value === 'string' ? closest(value, allowed) : undefined;
        report('VMC1003', path, 'value', {
          context,
          detail: `${shown} is not one of ${allowed.join(', ')}`,
          expected: suggestion ? `did you mean "${suggestion}"?` : `use one of: ${allowed.join(', ')}`,
        });
        break;
      }
      case 'const':
        report('VMC1003', path, 'value', {
          context,
          detail: `${shown} is not supported`,
          expected: `use ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`,
        });
        break;
      case 'type':
        if (key === 'priority') report('VMC2009', path, 'value', { value: shown });
        else
          report('VMC1003', path, 'value', {
            context,
            detail: `expected ${String((e.params as { type: string }).type).replace(',', ' or ')}, got ${typeName(value)}`,
            expected: `write ${article(String((e.params as { type: string }).type).split(',')[0])} here`,
          });
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        if (key === 'weight') report('VMC2007', path, 'value', { value: shown });
        else if (key === 'priority') report('VMC2009', path, 'value', { value: shown });
        else if (isStatus) report('VMC2010', path, 'value', { value: shown });
        else if (parentKey === 'retry' || parentKey === 'retry_config')
          report('VMC2018', path, 'value', { field: key, value: shown });
        else
          report('VMC1003', path, 'value', {
            context,
            detail: `${shown} ${e.message ?? 'is out of range'}`,
            expected: `use a value ${(e.params as { comparison: string }).comparison} ${(e.params as { limit: number }).limit}`,
          });
        break;
      case 'pattern':
        if (parentKey === 'user_paths') report('VMC2016', path, 'value', { value: shown });
        else
          report('VMC1003', path, 'value', {
            context,
            detail: `${shown} is not ${PATTERN_MEANING[key] ?? PATTERN_MEANING[isStatus ? 'status' : ''] ?? 'valid'}`,
            expected: `write ${PATTERN_MEANING[key] ?? (isStatus ? PATTERN_MEANING.status : 'a valid value')}`,
          });
        break;
      case 'not':
        // The only `not` in the schema: a native body with both `target` and `targets`.
        report('VMC1003', [...path, 'targets'], 'key', {
          context,
          detail: '`target` and `targets` cannot both be set',
          expected: 'use `target` for a redirect or `targets` for a pool',
        });
        break;
      case 'minItems':
        report('VMC1003', path, 'value', {
          context,
          detail: `needs at least ${(e.params as { limit: number }).limit} item(s)`,
          expected: 'add an entry or remove the key',
        });
        break;
      case 'minLength':
        report('VMC1003', path, 'value', { context, detail: 'must not be empty', expected: 'write a non-empty string' });
        break;
      default:
        report('VMC1003', path, 'value', { context, detail: `${shown} ${e.message ?? 'is invalid'}`, expected: 'see schemas/vmc.schema.json' });
    }
  }
}

const PATTERN_MEANING: Record<string, string> = {
  base_url: 'an http(s) URL such as https://api.openai.com/v1',
  api_key_env: 'an environment variable name such as OPENAI_API_KEY',
  status: 'a status code such as 429 or "429"',
};

/** `section/name` for entries, the top-level key otherwise (see FileValidation.invalid). */
function entryId(path: JsonPath): string {
  if (path.length === 0) return '';
  const top = String(path[0]);
  if ((top === 'providers' || top === 'virtual_models') && path.length >= 2) return `${top}/${String(path[1])}`;
  return top;
}

/** `provider "openai"`, `virtual model "a" at targets[0].retry`, `settings`. */
export function describePath(path: JsonPath, dialect?: string): string {
  if (path.length === 0) return 'the config';
  const [top, name, ...rest] = path;
  let head: string;
  if (top === 'providers' && name !== undefined) head = `provider "${String(name)}"`;
  else if (top === 'virtual_models' && name !== undefined) {
    head = `virtual model "${String(name)}"${dialect && dialect !== 'native' && rest.length === 0 ? ` (${dialect} form)` : ''}`;
  } else return formatPath(path);
  return rest.length > 0 ? `${head} at ${formatPath(rest)}` : head;
}

/** `targets[0].retry` */
export function formatPath(path: JsonPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number' || /^\d+$/.test(seg)) out += `[${seg}]`;
    else out += out ? `.${seg}` : seg;
  }
  return out;
}

function decodePointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let cur = root;
  for (const seg of path) {
    if (Array.isArray(cur)) cur = cur[Number(seg)];
    else if (isObject(cur)) cur = Object.prototype.hasOwnProperty.call(cur, seg) ? cur[seg] : undefined;
    else return undefined;
  }
  return cur;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number') return Number.isFinite(v) ? `the number ${v}` : `the non-finite number ${v}`;
  return `${typeof v === 'string' ? 'the string' : `the ${typeof v}`} ${JSON.stringify(v)}`;
}

function article(type: string): string {
  const names: Record<string, string> = {
    integer: 'an integer',
    number: 'a number',
    string: 'a string',
    boolean: 'true or false',
    object: 'a mapping',
    array: 'a list',
    null: 'null',
  };
  return names[type] ?? type;
}

/**
 * The candidate nearest to `word` by edit distance, if it is plausibly a typo of it (distance at
 * most a third of the word's length, and at least 1 allowed). Ties go to the smaller candidate
 * in sort order, so hints are deterministic.
 */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  const limit = Math.max(2, Math.floor(word.length / 3));
  for (const c of [...candidates].sort()) {
    if (Math.abs(c.length - word.length) > limit) continue;
    const d = editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= limit && best !== word ? best : undefined;
}

/** Levenshtein distance, two rows. */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  let cur = new Array<number>(b.length + 1);
  for (let i = 1; i <= a.length; i++) {
    cur[0] = i;
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    [prev, cur] = [cur, prev];
  }
  return prev[b.length];
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
    const s = m.at(['slug']);
    const other = byName.get(slug);
    const related = other ? [{ ...other.at([], 'key'), message: `virtual model "${slug}" is defined here` }] : [];
    log.report('VMC2005', s.file, s.start, s.end, { slug, name: m.name, usage: 'a name', other: slug }, related);
    return;
  }
  const prev = owners.get(slug);
  if (prev) {
    const s = m.at(['slug']);
    log.report('VMC2005', s.file, s.start, s.end, { slug, name: m.name, usage: 'a slug', other: prev.name }, [
      { ...prev.at(['slug']), message: `slug of "${prev.name}"` },
    ]);
    return;
  }
  owners.set(slug, m);
}

function checkWeights(m: NativeModel, log: DiagnosticLog): void {
  const { targets, strategy } = m.body;
  if (!targets || (strategy ?? 'weighted') !== 'weighted') return;
  if (targets.every((t) => (t.weight ?? 1) === 0)) {
    const s = m.at(['targets'], 'key');
    log.report('VMC2008', s.file, s.start, s.end, { name: m.name });
  }
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
    const s = m.at(['targets', i, 'target']);
    log.report('VMC2019', s.file, s.start, s.end, { target: t.target, name: m.name }, [
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
      const s = m.at(['middleware', phase, i, 'name']);
      log.report('VMC2017', s.file, s.start, s.end, {
        phase: phase.replace('_', '-'),
        value: call.name,
        suggestion: closest(call.name, builtins) ?? '',
        allowed: builtins.join(', '),
      });
    });
  }
}
