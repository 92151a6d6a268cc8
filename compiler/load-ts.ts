/**
 * TypeScript config loading (SPEC §2 "TypeScript configs are type-checked and reported the same
 * way"): `export default defineConfig({...})` files are
 *   1. type-checked with ts-morph (the native tsc has no JS API) — errors become VMC1005;
 *   2. evaluated: transpiled with TypeScript's `transpileModule`, the `vmc` import replaced by
 *      an identity `defineConfig`, and imported (VMC1006 when that fails);
 *   3. mapped: the object literal is walked so every JSON path gets the range of the key and
 *      value that wrote it, like a YAML file.
 * A file with type errors is not evaluated, so one mistake is reported once.
 */
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Project, ts } from 'ts-morph';
import type { DiagnosticLog, Span } from './diagnostics.js';
import { LocationMap, type JsonPath, type Range } from './load-locations.js';

export interface TsLoadInput {
  path: string;
  text: string;
}

export interface TsLoadResult {
  /** `undefined` when the file has type errors or cannot be evaluated. */
  data: unknown;
  locations: LocationMap;
}

/**
 * Runtime stand-in for the `vmc` package inside an evaluated config: `defineConfig` is the
 * identity (compiler/public.ts), so the config needs neither a build nor an installed package.
 */
const VMC_SHIM_URL = 'data:text/javascript,export%20function%20defineConfig(c)%7Breturn%20c%7D';

/** compiler/public.ts when running from source, its declaration or source when running from dist. */
function publicModulePath(): string | undefined {
  const candidates = ['./public.ts', './public.d.ts', '../../compiler/public.ts'];
  for (const c of candidates) {
    const p = fileURLToPath(new URL(c, import.meta.url));
    if (existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Compiler options for type-checking a TypeScript file that is data (a config, or a `vmc
 * bench` scenario): strict, ES2022, no emit, `paths` naming the public module(s).
 */
export function dataModuleOptions(paths: Record<string, string[]> | null): ts.CompilerOptions {
  return {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts'],
    // No ambient @types: the file is data, and the result must not depend on what happens
    // to be installed around the current directory.
    types: [],
    ...(paths ? { paths } : {}),
  };
}

/**
 * Loads TS configs. One ts-morph Project type-checks all of them at once (creating a Program
 * dominates the cost), then each is evaluated in turn.
 */
export async function loadTsConfigs(inputs: TsLoadInput[], log: DiagnosticLog): Promise<Map<string, TsLoadResult>> {
  const results = new Map<string, TsLoadResult>();
  if (inputs.length === 0) return results;
  const vmcPath = publicModulePath();
  const project = new Project({
    skipAddingFilesFromTsConfig: true,
    compilerOptions: {
      ...dataModuleOptions(vmcPath ? { vmc: [vmcPath] } : null),
      resolveJsonModule: true,
      allowImportingTsExtensions: true,
    },
  });
  const sourceFiles = inputs.map((i) => project.createSourceFile(i.path, i.text, { overwrite: true }));
  project.resolveSourceFileDependencies();
  const program = project.getProgram();

  for (let i = 0; i < inputs.length; i++) {
    const { path, text } = inputs[i];
    const sf = sourceFiles[i];
    const locations = new LocationMap();
    mapLocations(sf.compilerNode, locations);
    const tsDiags = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
    for (const d of tsDiags) {
      const start = d.getStart() ?? 0;
      const detail = ts.flattenDiagnosticMessageText(d.compilerObject.messageText, ' ');
      const span = { file: path, start, end: start + (d.getLength() ?? 0) };
      log.report('VMC1005', span, { detail: `TS${d.getCode()}: ${detail}` });
    }
    if (tsDiags.length > 0) {
      results.set(path, { data: undefined, locations });
      continue;
    }
    const data = await evaluate(path, text, sf.compilerNode, locations, log);
    results.set(path, { data, locations });
  }
  return results;
}

/** Transpiles and imports one config; returns its default export as plain data. */
async function evaluate(path: string, text: string, sf: ts.SourceFile, locations: LocationMap, log: DiagnosticLog): Promise<unknown> {
  const whole = { start: 0, end: text.length };
  const at = (r: Range): Span => ({ file: path, start: r.start, end: r.end });
  const defaultExport = sf.statements.find((s) => ts.isExportAssignment(s) && !s.isExportEquals);
  if (!defaultExport) {
    log.report('VMC1006', at({ start: 0, end: 0 }), { detail: 'the file has no default export' });
    return undefined;
  }
  const js = ts.transpileModule(text, {
    fileName: path,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    transformers: { before: [rewriteVmcImport] },
  }).outputText;

  // A config that imports only `vmc` (and node: builtins) runs from a data: URL and touches no
  // disk. Relative imports need a real file next to the config; it is removed afterwards.
  const needsFile = moduleSpecifiers(sf).some((s) => s !== 'vmc' && !s.startsWith('node:'));
  let tmp: string | undefined;
  let mod: { default?: unknown };
  try {
    if (needsFile) {
      tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.vmc.mjs`);
      await writeFile(tmp, js);
      mod = (await import(pathToFileURL(tmp).href)) as { default?: unknown };
    } else {
      mod = (await import(`data:text/javascript;base64,${Buffer.from(js).toString('base64')}`)) as {
        default?: unknown;
      };
    }
  } catch (err) {
    log.report('VMC1006', at(rangeOfNode(sf, defaultExport) ?? whole), { detail: err instanceof Error ? err.message : String(err) });
    return undefined;
  } finally {
    if (tmp) await unlink(tmp).catch(() => undefined);
  }
  const problem: { path?: JsonPath; detail?: string } = {};
  const data = toPlainData(mod.default, [], problem);
  if (problem.path) {
    log.report('VMC1006', at(locations.find(problem.path)), { detail: problem.detail ?? 'not plain data' });
    return undefined;
  }
  if (data === undefined) {
    log.report('VMC1006', at({ start: 0, end: 0 }), { detail: 'the default export is undefined' });
    return undefined;
  }
  return data;
}

/** Transformer: `from 'vmc'` → the identity shim (see VMC_SHIM_URL). */
const rewriteVmcImport: ts.TransformerFactory<ts.SourceFile> = (ctx) => (sf) => {
  const f = ctx.factory;
  const shim = () => f.createStringLiteral(VMC_SHIM_URL);
  const isVmc = (m: ts.Expression | undefined) => m !== undefined && ts.isStringLiteral(m) && m.text === 'vmc';
  const statements = sf.statements.map((s) => {
    if (ts.isImportDeclaration(s) && isVmc(s.moduleSpecifier)) {
      return f.updateImportDeclaration(s, s.modifiers, s.importClause, shim(), s.attributes);
    }
    if (ts.isExportDeclaration(s) && isVmc(s.moduleSpecifier)) {
      return f.updateExportDeclaration(s, s.modifiers, s.isTypeOnly, s.exportClause, shim(), s.attributes);
    }
    return s;
  });
  return f.updateSourceFile(sf, statements);
};

function moduleSpecifiers(sf: ts.SourceFile): string[] {
  const out: string[] = [];
  for (const s of sf.statements) {
    if ((ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) && s.moduleSpecifier) {
      if (ts.isStringLiteral(s.moduleSpecifier)) {
        // Type-only imports vanish in transpilation; they need no file.
        const typeOnly = ts.isImportDeclaration(s) ? s.importClause?.isTypeOnly : s.isTypeOnly;
        if (!typeOnly) out.push(s.moduleSpecifier.text);
      }
    }
  }
  return out;
}

/**
 * Copies a value into plain JSON-like data; functions, class instances, symbols, bigints and
 * non-finite numbers are refused (the artifact must be reproducible from data alone).
 */
function toPlainData(v: unknown, path: JsonPath, problem: { path?: JsonPath; detail?: string }): unknown {
  if (problem.path) return undefined;
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') {
    if (Number.isFinite(v)) return v;
  } else if (Array.isArray(v)) {
    return v.map((x, i) => toPlainData(x, [...path, i], problem) ?? null);
  } else if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        const c = toPlainData(x, [...path, k], problem);
        if (c !== undefined) Object.defineProperty(out, k, { value: c, enumerable: true, writable: true, configurable: true });
      }
      return out;
    }
  } else if (v === undefined) {
    return undefined;
  }
  problem.path = path;
  problem.detail = `value at ${path.length ? path.join('.') : 'the root'} is not plain data (${describe(v)})`;
  return undefined;
}

function describe(v: unknown): string {
  if (typeof v === 'object' && v !== null) return `an instance of ${v.constructor?.name ?? 'an unknown class'}`;
  return typeof v === 'number' ? String(v) : `a ${typeof v}`;
}

function rangeOfNode(sf: ts.SourceFile, n: ts.Node | undefined): Range | undefined {
  return n ? { start: n.getStart(sf), end: n.end } : undefined;
}

// ---------------------------------------------------------------------------------------------
// Locations: JSON path → ranges of the object literal that wrote the value.

/** Finds the default export's object literal and records the range of every key and value. */
export function mapLocations(sf: ts.SourceFile, locations: LocationMap): void {
  const exp = sf.statements.find((s): s is ts.ExportAssignment => ts.isExportAssignment(s) && !s.isExportEquals);
  if (!exp) return;
  const walker = new LocationWalker(sf, locations);
  const root = walker.unwrap(exp.expression, true);
  locations.set([], { start: root.getStart(sf), end: root.end });
  walker.walk(root, []);
}

class LocationWalker {
  readonly #following = new Set<ts.Node>();

  constructor(
    readonly sf: ts.SourceFile,
    readonly locations: LocationMap,
  ) {}

  /**
   * Looks through parentheses, `as`/`satisfies`, `defineConfig(...)` (when `call`) and
   * identifiers bound by a `const` in this file, to the literal that holds the data.
   */
  unwrap(e: ts.Expression, call = false): ts.Expression {
    for (let guard = 0; guard < 32; guard++) {
      if (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isSatisfiesExpression(e)) e = e.expression;
      else if (ts.isTypeAssertionExpression(e) || ts.isNonNullExpression(e)) e = e.expression;
      else if (call && ts.isCallExpression(e) && e.arguments.length === 1) e = e.arguments[0];
      else if (ts.isIdentifier(e)) {
        const init = this.#constInitializer(e.text);
        if (!init || this.#following.has(init)) return e;
        e = init;
      } else return e;
    }
    return e;
  }

  #constInitializer(name: string): ts.Expression | undefined {
    for (const s of this.sf.statements) {
      if (!ts.isVariableStatement(s)) continue;
      for (const d of s.declarationList.declarations) {
        if (ts.isIdentifier(d.name) && d.name.text === name && d.initializer) return d.initializer;
      }
    }
    return undefined;
  }

  walk(node: ts.Expression, path: JsonPath): void {
    if (this.#following.has(node)) return;
    this.#following.add(node);
    if (ts.isObjectLiteralExpression(node)) this.#walkObject(node, path);
    else if (ts.isArrayLiteralExpression(node)) this.#walkArray(node, path);
    this.#following.delete(node);
  }

  #walkObject(obj: ts.ObjectLiteralExpression, path: JsonPath): void {
    for (const prop of obj.properties) {
      if (ts.isPropertyAssignment(prop)) {
        const key = propertyName(prop.name);
        if (key === undefined) continue;
        const value = this.unwrap(prop.initializer);
        const p = [...path, key];
        this.locations.set(p, this.#range(prop.initializer), this.#range(prop.name));
        this.walk(value, p);
      } else if (ts.isShorthandPropertyAssignment(prop)) {
        const p = [...path, prop.name.text];
        this.locations.set(p, this.#range(prop.name), this.#range(prop.name));
        const value = this.unwrap(prop.name);
        if (value !== prop.name) this.walk(value, p);
      }
      // Spreads and methods: their values have no literal here; ancestors cover them.
    }
  }

  #walkArray(arr: ts.ArrayLiteralExpression, path: JsonPath): void {
    arr.elements.forEach((el, i) => {
      if (ts.isSpreadElement(el)) return;
      if (arr.elements.slice(0, i).some((x) => ts.isSpreadElement(x))) return; // indexes unknown past a spread
      const p = [...path, i];
      this.locations.set(p, this.#range(el));
      this.walk(this.unwrap(el), p);
    });
  }

  #range(n: ts.Node): Range {
    return { start: n.getStart(this.sf), end: n.end };
  }
}

function propertyName(n: ts.PropertyName): string | undefined {
  if (ts.isIdentifier(n) || ts.isStringLiteral(n) || ts.isNumericLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) {
    return n.text;
  }
  if (ts.isComputedPropertyName(n) && ts.isStringLiteralLike(n.expression)) return n.expression.text;
  return undefined;
}
