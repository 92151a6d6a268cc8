/**
 * ajv errors → diagnostics at the offending node (SPEC §2 "schema violations (unknown keys,
 * wrong types) at the offending node"), for validate.ts.
 *
 * Each error is first located (`locateFault`: its path in the file, the value there, the words
 * that describe the place), then mapped by its ajv keyword to one diagnostic (`diagnose`).
 * Some schema constraints have their own semantic code — a negative weight is VMC2007, not a
 * generic VMC1003 — so editors that only know the schema flag the same things the compiler
 * does, and the compiler names them the way the catalog does.
 */
import type { ErrorObject } from 'ajv';
import type { DiagnosticArgs, DiagnosticCode, DiagnosticLog } from './diagnostics.js';
import { spanOf, type JsonPath, type LoadedFile, type Part } from './load.js';
import { closest } from './suggest.js';
import { PROVIDER_TYPE_CODES } from '../runtime/table/provider-types.js';
import { isObject } from '../runtime/table/util.js';

/** Where the validated value sits: `root` is the value at `base` in `file`. */
export interface SchemaSubject {
  file: LoadedFile;
  base: JsonPath;
  root: unknown;
  /** The body's dialect label (`TrueFoundry`, …) for messages about a virtual model body. */
  dialect?: string;
}

/** One ajv error, located in the file, with what the keyword mappings need. */
interface SchemaFault {
  error: ErrorObject;
  /** Path of the offending node in the file. */
  path: JsonPath;
  /** The last and the second-to-last segment of `path` ('' when there is none). */
  key: string;
  parentKey: string;
  value: unknown;
  /** `value` as JSON, for messages. */
  shown: string;
  /** `virtual model "a" at targets[0].retry` */
  context: string;
}

/** What a fault becomes: a code at a node (its key or its value) and the template arguments. */
interface SchemaDiagnostic {
  code: DiagnosticCode;
  at: JsonPath;
  part: Part;
  args: DiagnosticArgs;
}

/**
 * Reports ajv errors at the nodes they concern, and adds the entries they make unusable to
 * `invalid` (as FileValidation.invalid ids), so later phases do not report consequences.
 */
export function reportSchemaErrors(errors: readonly ErrorObject[], subject: SchemaSubject, log: DiagnosticLog, invalid: Set<string>): void {
  for (const error of errors) {
    // propertyNames reports once with the name and once more from the inner keyword.
    if (error.schemaPath.includes('/propertyNames/')) continue;
    const fault = locateFault(error, subject);
    invalid.add(entryId(faultyEntry(fault)));
    const d = diagnose(fault);
    log.report(d.code, spanOf(subject.file, d.at, d.part), d.args);
  }
}

function locateFault(error: ErrorObject, { base, root, dialect }: SchemaSubject): SchemaFault {
  const rel = decodePointer(error.instancePath);
  const path = [...base, ...rel];
  const value = valueAt(root, rel);
  return {
    error,
    path,
    key: path.length >= 1 ? String(path[path.length - 1]) : '',
    parentKey: path.length >= 2 ? String(path[path.length - 2]) : '',
    value,
    shown: JSON.stringify(value) ?? 'undefined',
    context: describePath(path, dialect),
  };
}

/** The key an error is about when it names one (an unknown key, a name not allowed). */
function namedKey(e: ErrorObject): string | undefined {
  if (e.keyword === 'additionalProperties') return String(e.params.additionalProperty);
  if (e.keyword === 'propertyNames') return String(e.params.propertyName);
  return undefined;
}

/**
 * The node a fault makes unusable: an unknown or misnamed key is its own (unused) entry, so a
 * typo at the top level does not discard the whole file.
 */
function faultyEntry(f: SchemaFault): JsonPath {
  const k = namedKey(f.error);
  return k === undefined ? f.path : [...f.path, k];
}

/** `section/name` for entries, the top-level key otherwise (see FileValidation.invalid). */
function entryId(path: JsonPath): string {
  if (path.length === 0) return '';
  const top = String(path[0]);
  if ((top === 'providers' || top === 'virtual_models') && path.length >= 2) return `${top}/${String(path[1])}`;
  return top;
}

// ---------------------------------------------------------------------------------------------
// keyword → diagnostic

/** The one diagnostic of a fault, by ajv keyword. */
function diagnose(f: SchemaFault): SchemaDiagnostic {
  const e = f.error;
  switch (e.keyword) {
    case 'additionalProperties':
      return unknownKey(f);
    case 'required':
      return { code: 'VMC1004', at: f.path, part: 'key', args: { key: String(e.params.missingProperty), context: f.context } };
    case 'propertyNames':
      return nameNotAllowed(f);
    case 'enum':
      return notOneOf(f);
    case 'const':
      return invalidValue(f, `${f.shown} is not supported`, `use ${JSON.stringify(e.params.allowedValue)}`);
    case 'type':
      return wrongType(f);
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return outOfRange(f);
    case 'pattern':
      return noMatch(f);
    case 'not':
      // The only `not` in the schema: a native body with both `target` and `targets`.
      return {
        code: 'VMC1003',
        at: [...f.path, 'targets'],
        part: 'key',
        args: {
          context: f.context,
          detail: '`target` and `targets` cannot both be set',
          expected: 'use `target` for a redirect or `targets` for a pool',
        },
      };
    case 'minItems':
      return invalidValue(f, `needs at least ${e.params.limit} item(s)`, 'add an entry or remove the key');
    case 'minProperties':
    case 'maxProperties':
      return invalidValue(f, `needs exactly one of ${propertyList(f)}`, `write one of: ${propertyList(f)}`);
    case 'minLength':
      return invalidValue(f, 'must not be empty', 'write a non-empty string');
    default:
      return invalidValue(f, `${f.shown} ${e.message ?? 'is invalid'}`, 'see schemas/vmc.schema.json');
  }
}

/** VMC1003 at the value: `detail` says what is wrong, `expected` what to write instead. */
function invalidValue(f: SchemaFault, detail: string, expected: string): SchemaDiagnostic {
  return { code: 'VMC1003', at: f.path, part: 'value', args: { context: f.context, detail, expected } };
}

/** A code of its own at the value (`{value}` in its message). */
function badValue(code: DiagnosticCode, f: SchemaFault, args: DiagnosticArgs = {}): SchemaDiagnostic {
  return { code, at: f.path, part: 'value', args: { value: f.shown, ...args } };
}

/** VMC1002 at the unknown key, with the nearest allowed key. */
function unknownKey(f: SchemaFault): SchemaDiagnostic {
  const extra = namedKey(f.error)!;
  const allowed = Object.keys((f.error.parentSchema as { properties?: object }).properties ?? {});
  return {
    code: 'VMC1002',
    at: [...f.path, extra],
    part: 'key',
    args: {
      key: extra,
      context: f.context,
      suggestion: closest(extra, allowed) ?? '',
      allowed: allowed.length > 0 ? allowed.join(', ') : '(none)',
    },
  };
}

/** A provider or virtual model name the schema's `propertyNames` refuses. */
function nameNotAllowed(f: SchemaFault): SchemaDiagnostic {
  const name = namedKey(f.error)!;
  return {
    code: 'VMC1003',
    at: [...f.path, name],
    part: 'key',
    args: {
      context: f.context,
      detail: `name ${JSON.stringify(name)} is not allowed`,
      expected:
        f.key === 'providers'
          ? 'a provider name may not contain `/` or whitespace (targets split at the first `/`)'
          : f.key === 'headers'
            ? "a header name is a token: letters, digits and !#$%&'*+-.^_`|~"
            : f.key === 'query'
              ? 'a query parameter name is not empty'
              : 'a name may not contain whitespace',
    },
  };
}

/** `openai` or `anthropic` — from the contract's list, so a new provider type needs no edit here. */
const PROVIDER_TYPES = orList(PROVIDER_TYPE_CODES.map((t) => `\`${t}\``));

function notOneOf(f: SchemaFault): SchemaDiagnostic {
  if (f.path.length === 3 && f.path[0] === 'providers' && f.key === 'type') {
    return badValue('VMC2011', f, { allowed: PROVIDER_TYPES });
  }
  const allowed = ((f.error.params.allowedValues as unknown[] | undefined) ?? []).map((x) => String(x));
  const suggestion = typeof f.value === 'string' ? closest(f.value, allowed) : undefined;
  return invalidValue(
    f,
    `${f.shown} is not one of ${allowed.join(', ')}`,
    suggestion ? `did you mean "${suggestion}"?` : `use one of: ${allowed.join(', ')}`,
  );
}

function wrongType(f: SchemaFault): SchemaDiagnostic {
  if (f.key === 'priority') return badValue('VMC2009', f);
  const type = String(f.error.params.type);
  return invalidValue(f, `expected ${type.replace(',', ' or ')}, got ${typeName(f.value)}`, `write ${article(type.split(',')[0])} here`);
}

const STATUS_LISTS = new Set(['on_status', 'fallback_on', 'on_status_codes', 'fallback_status_codes']);

function outOfRange(f: SchemaFault): SchemaDiagnostic {
  if (f.key === 'weight') return badValue('VMC2007', f);
  if (f.key === 'priority') return badValue('VMC2009', f);
  if (STATUS_LISTS.has(f.parentKey)) return badValue('VMC2010', f);
  if (f.parentKey === 'retry' || f.parentKey === 'retry_config') return badValue('VMC2018', f, { field: f.key });
  const { comparison, limit } = f.error.params as { comparison: string; limit: number };
  return invalidValue(f, `${f.shown} ${f.error.message ?? 'is out of range'}`, `use a value ${comparison} ${limit}`);
}

/** What a string with a `pattern` must look like, by key. */
const ENV_NAME_MEANING = 'an environment variable name such as OPENAI_API_KEY';
const PATTERN_MEANING = new Map([
  ['base_url', 'an http(s) URL such as https://api.openai.com/v1'],
  ['api_key_env', ENV_NAME_MEANING],
  ['credentials_file_env', ENV_NAME_MEANING],
  ['access_key_id', ENV_NAME_MEANING],
  ['secret_access_key', ENV_NAME_MEANING],
  ['session_token', ENV_NAME_MEANING],
  ['region', 'an AWS region such as us-east-1'],
  ['location', 'a Vertex AI location such as us-central1 or global'],
]);
/** Provider `headers` / `query` values (EnvTemplate) and the auth header name. */
const TEMPLATE_MEANING = 'a single-line text whose `${NAME}` references name environment variables (letters, digits, _)';
const HEADER_NAME_MEANING = 'a header name such as x-api-key';
const STATUS_MEANING = 'a status code such as 429 or "429"';

function noMatch(f: SchemaFault): SchemaDiagnostic {
  if (f.parentKey === 'user_paths') return badValue('VMC2016', f);
  const meaning =
    (f.parentKey === 'headers' || f.parentKey === 'query'
      ? TEMPLATE_MEANING
      : f.parentKey === 'auth' && f.key === 'header'
        ? HEADER_NAME_MEANING
        : PATTERN_MEANING.get(f.key)) ?? (STATUS_LISTS.has(f.parentKey) ? STATUS_MEANING : undefined);
  return invalidValue(f, `${f.shown} is not ${meaning ?? 'valid'}`, `write ${meaning ?? 'a valid value'}`);
}

// ---------------------------------------------------------------------------------------------
// words for places and values

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

/** `a mapping`, `the number 3`, `the string "x"`. */
export function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'number') return Number.isFinite(v) ? `the number ${v}` : `the non-finite number ${v}`;
  return `${typeof v === 'string' ? 'the string' : `the ${typeof v}`} ${JSON.stringify(v)}`;
}

const ARTICLES: Readonly<Record<string, string>> = {
  integer: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

/** A JSON Schema type as the noun a user writes (`object` → `a mapping`). */
function article(type: string): string {
  return Object.hasOwn(ARTICLES, type) ? ARTICLES[type] : type;
}

/** The properties an object's schema names (`header, query or none`), for min/maxProperties. */
function propertyList(f: SchemaFault): string {
  return orList(Object.keys((f.error.parentSchema as { properties?: object }).properties ?? {}));
}

/** `a`, `a or b`, `a, b or c`. */
function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

/** A JSON pointer (`/targets/0`) → its segments, unescaped. */
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
    else if (isObject(cur)) cur = Object.hasOwn(cur, seg) ? cur[seg] : undefined;
    else return undefined;
  }
  return cur;
}
