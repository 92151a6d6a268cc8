/**
 * Reading a scenario file (SPEC §11): YAML (or JSON) or TypeScript
 * (`export default defineScenario({...})`) → plain data with the source range of every key
 * and value, validated against schemas/scenario.schema.json. Faults become positioned VMB
 * diagnostics (./diagnostics.ts); nothing here throws for a faulty scenario.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import type { ts as TsNamespace } from 'ts-morph';
import schema from '../../schemas/scenario.schema.json' with { type: 'json' };
import { DiagnosticLog } from '../../compiler/diagnostics.js';
import { LocationMap, type JsonPath, type Range } from '../../compiler/load-locations.js';
import { loadYamlFull } from '../../compiler/load-yaml.js';
import { closest } from '../../compiler/suggest.js';
import type { BenchDiagnosticLog, Span } from './diagnostics.js';
import type { BenchScenario } from './scenario-types.gen.js';

/** A scenario file as read: its text (for printing positions), data and locations. */
export interface ScenarioSource {
  path: string;
  text: string;
  locations: LocationMap;
  /** null when the file could not be read, parsed or validated (diagnostics say why). */
  data: BenchScenario | null;
}

/** The span of the node at `path` (its key when part is 'key'). */
export function spanAt(src: { path: string; locations: LocationMap }, path: JsonPath, part: 'key' | 'value' = 'value'): Span {
  const r = src.locations.find(path, part);
  return { file: src.path, start: r.start, end: r.end };
}

/** Reads, parses and schema-checks a scenario. */
export async function readScenario(path: string, log: BenchDiagnosticLog): Promise<ScenarioSource> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    log.report(
      'VMB1009',
      { file: path, start: 0, end: 0 },
      { what: 'scenario', path, detail: (err as NodeJS.ErrnoException).code ?? (err as Error).message },
    );
    return { path, text: '', locations: new LocationMap(), data: null };
  }
  const isTs = /\.(m|c)?ts$/.test(path);
  const { data, locations } = isTs ? await loadTsScenario(path, text, log) : loadYamlScenario(path, text, log);
  const src: ScenarioSource = { path, text, locations, data: null };
  if (data === undefined) return src;
  if (validateScenario(data, src, log)) src.data = data as BenchScenario;
  return src;
}

function loadYamlScenario(path: string, text: string, log: BenchDiagnosticLog): { data: unknown; locations: LocationMap } {
  const inner = new DiagnosticLog();
  const r = loadYamlFull(path, text, inner);
  for (const d of inner.items) {
    // The compiler's YAML loader reports in its own codes; a scenario speaks VMB.
    log.report('VMB1001', d, { detail: d.message.replace(/^YAML syntax error: /, '') });
  }
  return { data: inner.items.some((d) => d.severity === 'error') ? undefined : r.data, locations: r.locations };
}

// ---- TypeScript scenarios ----

/** Runtime stand-in for `vmc` inside an evaluated scenario: identity functions. */
const VMC_SHIM_URL =
  'data:text/javascript,' + encodeURIComponent('export function defineScenario(s){return s}export function defineConfig(c){return c}');

/** bench/harness/public.ts from source, its declaration from dist. */
function publicModulePath(): string | undefined {
  for (const c of ['./public.ts', './public.d.ts']) {
    const p = fileURLToPath(new URL(c, import.meta.url));
    if (existsSync(p)) return p;
  }
  return undefined;
}

async function loadTsScenario(path: string, text: string, log: BenchDiagnosticLog): Promise<{ data: unknown; locations: LocationMap }> {
  // ts-morph is large: loaded only for TypeScript scenarios.
  const { Project, ts } = await import('ts-morph');
  const { dataModuleOptions, mapLocations } = await import('../../compiler/load-ts.js');
  const locations = new LocationMap();
  const vmcPath = publicModulePath();
  const project = new Project({
    skipAddingFilesFromTsConfig: true,
    // `vmc` (as for configs) and `vmc/bench` both name the scenario API here.
    compilerOptions: dataModuleOptions(vmcPath ? { vmc: [vmcPath], 'vmc/bench': [vmcPath] } : null),
  });
  const sf = project.createSourceFile(path, text, { overwrite: true });
  project.resolveSourceFileDependencies();
  mapLocations(sf.compilerNode, locations);
  const program = project.getProgram();
  const diags = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
  for (const d of diags) {
    const start = d.getStart() ?? 0;
    log.report(
      'VMB1007',
      { file: path, start, end: start + (d.getLength() ?? 0) },
      { detail: `TS${d.getCode()}: ${ts.flattenDiagnosticMessageText(d.compilerObject.messageText, ' ')}` },
    );
  }
  if (diags.length > 0) return { data: undefined, locations };
  const node = sf.compilerNode;
  const exp = node.statements.find((s) => ts.isExportAssignment(s) && !s.isExportEquals);
  if (exp === undefined) {
    log.report('VMB1008', { file: path, start: 0, end: 0 }, { detail: 'the file has no default export' });
    return { data: undefined, locations };
  }
  const js = ts.transpileModule(text, {
    fileName: path,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    transformers: { before: [rewriteVmcImport(ts)] },
  }).outputText;
  try {
    const mod = (await import(`data:text/javascript;base64,${Buffer.from(js).toString('base64')}`)) as { default?: unknown };
    const data = JSON.parse(JSON.stringify(mod.default ?? null)) as unknown;
    if (data === null) {
      log.report('VMB1008', { file: path, start: exp.getStart(node), end: exp.end }, { detail: 'the default export is not an object' });
      return { data: undefined, locations };
    }
    return { data, locations };
  } catch (err) {
    log.report(
      'VMB1008',
      { file: path, start: exp.getStart(node), end: exp.end },
      { detail: err instanceof Error ? err.message : String(err) },
    );
    return { data: undefined, locations };
  }
}

const rewriteVmcImport =
  (ts: typeof TsNamespace): TsNamespace.TransformerFactory<TsNamespace.SourceFile> =>
  (ctx) =>
  (sf) => {
    const f = ctx.factory;
    const isVmc = (m: TsNamespace.Expression | undefined) =>
      m !== undefined && ts.isStringLiteral(m) && (m.text === 'vmc' || m.text === 'vmc/bench');
    const statements = sf.statements.map((s) =>
      ts.isImportDeclaration(s) && isVmc(s.moduleSpecifier)
        ? f.updateImportDeclaration(s, s.modifiers, s.importClause, f.createStringLiteral(VMC_SHIM_URL), s.attributes)
        : s,
    );
    return f.updateSourceFile(sf, statements);
  };

// ---- schema ----

let validator: ReturnType<Ajv['compile']> | undefined;

function getValidator(): ReturnType<Ajv['compile']> {
  if (validator === undefined) {
    const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, strictTypes: false, allowUnionTypes: true });
    validator = ajv.compile(schema);
  }
  return validator;
}

function pathOf(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

/** `load[0].rate`, `providers.openai.faults[1]`, `the scenario`. */
export function describePath(path: JsonPath): string {
  if (path.length === 0) return 'the scenario';
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the text ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${JSON.stringify(v)}`;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a text',
  number: 'a number',
  integer: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
  null: 'null',
};

function expectedType(t: unknown): string {
  const list = Array.isArray(t) ? t : [t];
  return list.map((x) => TYPE_WORDS[String(x)] ?? String(x)).join(' or ');
}

/** Validates scenario data; reports each fault once at its node. Returns true when valid. */
function validateScenario(data: unknown, src: ScenarioSource, log: BenchDiagnosticLog): boolean {
  const validate = getValidator();
  if (validate(data)) return true;
  const errors = (validate.errors ?? []) as ErrorObject[];
  // anyOf: report the union once, not each branch.
  const unions = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const seen = new Set<string>();
  for (const e of errors) {
    if (e.schemaPath.includes('/propertyNames/')) continue;
    if (e.keyword !== 'anyOf' && e.schemaPath.includes('/anyOf/') && unions.has(e.instancePath)) continue;
    const path = pathOf(e.instancePath);
    const at = (p: JsonPath, part: 'key' | 'value' = 'value') => spanAt(src, p, part);
    const key = `${e.keyword}\u0000${e.instancePath}\u0000${JSON.stringify(e.params)}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const context = describePath(path);
    switch (e.keyword) {
      case 'additionalProperties': {
        const name = (e.params as { additionalProperty: string }).additionalProperty;
        const allowed = Object.keys((e.parentSchema as { properties?: Record<string, unknown> }).properties ?? {});
        log.report('VMB1002', at([...path, name], 'key'), {
          key: name,
          context,
          allowed: allowed.join(', '),
          suggestion: closest(name, allowed) ?? '',
        });
        break;
      }
      case 'type':
        log.report('VMB1003', at(path), {
          context,
          expected: expectedType((e.params as { type: unknown }).type),
          actual: typeName(e.data),
        });
        break;
      case 'anyOf':
        log.report('VMB1003', at(path), { context, expected: 'a text or a list of texts', actual: typeName(e.data) });
        break;
      case 'enum':
      case 'const': {
        const allowed =
          e.keyword === 'enum'
            ? (e.params as { allowedValues: unknown[] }).allowedValues
            : [(e.params as { allowedValue: unknown }).allowedValue];
        const shown = allowed.map((x) => JSON.stringify(x)).join(', ');
        log.report('VMB1004', at(path), {
          context,
          allowed: shown,
          actual: typeName(e.data),
          suggestion: typeof e.data === 'string' ? (closest(e.data, allowed.map(String)) ?? '') : '',
        });
        break;
      }
      case 'required':
        log.report('VMB1005', at(path, 'key'), { context, key: (e.params as { missingProperty: string }).missingProperty });
        break;
      case 'minimum':
      case 'maximum':
      case 'exclusiveMinimum':
      case 'exclusiveMaximum': {
        const p = e.params as { comparison: string; limit: number };
        const word = { '>=': '≥', '<=': '≤', '>': '>', '<': '<' }[p.comparison] ?? p.comparison;
        log.report('VMB1006', at(path), { context, detail: `must be ${word} ${p.limit}`, actual: typeName(e.data) });
        break;
      }
      case 'minItems':
        log.report('VMB1006', at(path), {
          context,
          detail: `must have at least ${(e.params as { limit: number }).limit} item(s)`,
          actual: typeName(e.data),
        });
        break;
      case 'pattern':
        log.report('VMB1006', at(path), {
          context,
          detail: `must match ${(e.params as { pattern: string }).pattern}`,
          actual: typeName(e.data),
        });
        break;
      default:
        log.report('VMB1006', at(path), { context, detail: e.message ?? 'is not valid', actual: typeName(e.data) });
    }
  }
  return false;
}

export type { Range };
