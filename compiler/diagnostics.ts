/**
 * Diagnostics: the catalog of stable codes, the shared log every phase records into, and the
 * printers used by the CLI (STYLE.md "Diagnostics like a real compiler").
 *
 * Positions: `start`/`end` are offsets into the file's text as a JS string, i.e. UTF-16 code
 * unit offsets (what both the `yaml` parser and the TypeScript compiler report). Line and
 * column are computed only when printing, by `lineColumn`.
 *
 * Codes: VMC1xxx = reading and schema (the text is not a well-formed config),
 *        VMC2xxx = semantics (well-formed, but wrong). Codes never change meaning; new codes
 *        are appended. Tests assert codes and positions, never the English wording.
 */
import { relative, isAbsolute } from 'node:path';
import { compareStrings } from '../runtime/table/util.js';

export type Severity = 'error' | 'warning';

/** A source range: UTF-16 offsets `start`..`end` into the text of `file` (see above). */
export interface Span {
  file: string;
  start: number;
  end: number;
}

/** A second place a diagnostic points at ("first defined here"). */
export interface RelatedLocation extends Span {
  message: string;
}

export interface Diagnostic extends Span {
  code: DiagnosticCode;
  severity: Severity;
  message: string;
  hint: string;
  related?: RelatedLocation[];
}

interface CatalogEntry {
  severity: Severity;
  /** Short title used in docs and in GitHub annotations. */
  title: string;
  /** Message template: `{arg}` is replaced; `[...]` is dropped when an arg inside it is missing. */
  message: string;
  /** One-line fix hint, same template syntax. */
  hint: string;
}

/** The catalog. Order = documentation order (docs/config.md mirrors it). */
export const DIAGNOSTIC_CATALOG = {
  VMC1001: {
    severity: 'error',
    title: 'YAML syntax error',
    message: 'YAML syntax error: {detail}',
    hint: 'fix the YAML syntax at this position (indentation, quoting, unique keys)',
  },
  VMC1002: {
    severity: 'error',
    title: 'unknown key',
    message: 'unknown key "{key}" in {context}',
    hint: '[did you mean "{suggestion}"? ]allowed keys: {allowed}',
  },
  VMC1003: {
    severity: 'error',
    title: 'wrong type or invalid value',
    message: 'invalid value at {context}: {detail}',
    hint: '{expected}',
  },
  VMC1004: {
    severity: 'error',
    title: 'missing required key',
    message: 'missing required key "{key}" in {context}',
    hint: 'add "{key}" to {context}',
  },
  VMC1005: {
    severity: 'error',
    title: 'TypeScript type error',
    message: 'TypeScript: {detail}',
    hint: 'fix the type error; defineConfig() is typed by schemas/vmc.schema.json',
  },
  VMC1006: {
    severity: 'error',
    title: 'TypeScript config cannot be evaluated',
    message: 'cannot evaluate TypeScript config: {detail}',
    hint: 'export the config as `export default defineConfig({...})` of plain data',
  },
  VMC1007: {
    severity: 'error',
    title: 'input not found',
    message: '{detail}',
    hint: 'pass existing *.yaml, *.yml or *.ts files, or directories that contain some',
  },
  VMC1008: {
    severity: 'error',
    title: 'version disagrees between files',
    message: 'version {version} disagrees with version {other} declared in another file',
    hint: 'use `version: 1` in every file that declares a version',
  },
  VMC1009: {
    severity: 'error',
    title: 'ambiguous dialect',
    message: 'virtual model "{name}" mixes {dialectA} key "{keyA}" with {dialectB} key "{keyB}"',
    hint: 'write the body in one form only: native, TrueFoundry (routing_config), GoModel (source/target_model) or NeMo (default_model_entity/models)',
  },
  VMC2001: {
    severity: 'error',
    title: 'unknown target model',
    message: 'unknown target model "{target}"',
    hint: '[did you mean "{suggestion}"? ]a target must be a `provider/model` listed in that provider\'s models',
  },
  VMC2002: {
    severity: 'error',
    title: 'unknown provider',
    message: 'unknown provider "{provider}" in target "{target}"',
    hint: '[did you mean "{suggestion}"? ]declare the provider under `providers`',
  },
  VMC2003: {
    severity: 'error',
    title: 'redirect cycle',
    message: 'redirect cycle: {cycle}',
    hint: 'point one of these virtual models at a catalogued `provider/model`',
  },
  VMC2004: {
    severity: 'error',
    title: 'duplicate virtual model',
    message: 'virtual model "{name}" is defined more than once',
    hint: 'rename or remove one of the definitions',
  },
  VMC2005: {
    severity: 'error',
    title: 'duplicate slug',
    message: 'slug "{slug}" of "{name}" is already used as {usage} by "{other}"',
    hint: 'slugs and names must be unique across the whole config',
  },
  VMC2006: {
    severity: 'error',
    title: 'duplicate provider',
    message: 'provider "{name}" is defined more than once',
    hint: 'rename or remove one of the definitions',
  },
  VMC2007: {
    severity: 'error',
    title: 'negative weight',
    message: 'weight {value} is negative',
    hint: 'use a weight ≥ 0',
  },
  VMC2008: {
    severity: 'error',
    title: 'all weights zero',
    message: 'every target of "{name}" has weight 0 under the weighted strategy',
    hint: 'give at least one target a positive weight',
  },
  VMC2009: {
    severity: 'error',
    title: 'invalid priority',
    message: 'priority {value} is not an integer ≥ 0',
    hint: 'use 0, 1, 2, … (lower is tried first)',
  },
  VMC2010: {
    severity: 'error',
    title: 'status code out of range',
    message: 'status code {value} is outside 100–599',
    hint: 'use an HTTP status code between 100 and 599',
  },
  VMC2011: {
    severity: 'error',
    title: 'unknown provider type',
    message: 'unknown provider type {value}',
    // {allowed}: the provider types of runtime/table/provider-types.ts, e.g. `openai` or `anthropic`.
    hint: 'use {allowed}',
  },
  VMC2012: {
    severity: 'warning',
    title: 'missing api_key_env',
    message: 'provider "{name}" has no api_key_env; requests will be sent without credentials',
    hint: 'set api_key_env to the name of the environment variable holding the key',
  },
  VMC2013: {
    severity: 'error',
    title: 'pool names a virtual model',
    message: 'target "{target}" of pool "{name}" is a virtual model, not a catalogued model',
    hint: 'only single-target redirects may chain; name a catalogued `provider/model`',
  },
  VMC2014: {
    severity: 'error',
    title: 'access policy on an unknown model',
    message: 'virtual model "{name}" has no target and is not a catalogued `provider/model`',
    hint: '[did you mean "{suggestion}"? ]add a target, or name the policy after a catalogued model',
  },
  VMC2015: {
    severity: 'error',
    title: 'GoModel source differs from key',
    message: 'source "{source}" differs from the virtual model name "{name}"',
    hint: 'make `source` equal to the key, or drop it',
  },
  VMC2016: {
    severity: 'error',
    title: 'invalid user path',
    message: 'invalid user path {value}',
    hint: 'a user path starts with `/` and has non-empty segments, e.g. /team/a',
  },
  VMC2017: {
    severity: 'error',
    title: 'unknown middleware',
    message: 'unknown {phase} middleware "{value}"',
    hint: '[did you mean "{suggestion}"? ]built-in {phase} middleware: {allowed}',
  },
  VMC2018: {
    severity: 'error',
    title: 'invalid retry',
    message: 'invalid retry {field} {value}',
    hint: 'attempts counts every try and must be ≥ 1; delay must be ≥ 0',
  },
  VMC2019: {
    severity: 'warning',
    title: 'duplicate target',
    message: 'target "{target}" appears more than once in "{name}"',
    hint: 'merge the entries, or give them different metadata_match conditions',
  },
  VMC2020: {
    severity: 'error',
    title: 'conflicting setting',
    message: 'setting "{key}" is {value} here but {other} in another file',
    hint: 'set it once, or to the same value everywhere',
  },
  VMC2021: {
    severity: 'error',
    title: 'missing provider setting',
    message: 'provider "{name}" of type {type} needs {keys}',
    // {keys}: `"region"`, `"project" and "location"`; {hint}: what they hold, with examples
    // (runtime/table/provider-types.ts REQUIRED_KEYS)
    hint: '{hint}',
  },
  VMC2022: {
    severity: 'error',
    title: 'setting of another provider type',
    message: '"{key}" does not apply to {type} providers',
    hint: '{hint}',
  },
  VMC2023: {
    severity: 'warning',
    title: 'credential written into the table',
    message: '{place} "{key}" of provider "{name}" holds a literal value, which the table would carry',
    hint: 'write {example} so the secret stays out of the table and is read from the environment when the gateway starts',
  },
} as const satisfies Record<string, CatalogEntry>;

/** A catalogued code: `report()` takes only these, so a misspelt code does not compile. */
export type DiagnosticCode = keyof typeof DIAGNOSTIC_CATALOG;

/** Whether `s` names a catalogued code (for codes that arrive as text, e.g. from the CLI). */
export function isDiagnosticCode(s: string): s is DiagnosticCode {
  return Object.hasOwn(DIAGNOSTIC_CATALOG, s);
}

/** Values for a catalog entry's `{placeholders}`. */
export type DiagnosticArgs = Record<string, string | number>;

/**
 * Fills a template: `{name}` → args.name; an optional `[...]` segment is kept only when
 * every placeholder inside it has an argument. Missing placeholders outside segments render
 * as `?` so a forgotten argument is visible rather than silently empty.
 */
export function renderTemplate(template: string, args: DiagnosticArgs = {}): string {
  const fill = (text: string, strict: boolean): string | null => {
    let missing = false;
    const out = text.replace(/\{(\w+)\}/g, (_, name: string) => {
      const v = args[name];
      if (v === undefined || v === '') {
        missing = true;
        return '?';
      }
      return String(v);
    });
    return strict && missing ? null : out;
  };
  const withOptional = template.replace(/\[([^\]]*)\]/g, (_, inner: string) => fill(inner, true) ?? '');
  return fill(withOptional, false) ?? '';
}

/**
 * The shared log every phase records into instead of throwing. Identical reports (same code
 * and range) are kept once, so two phases that notice the same fault do not double it.
 */
export class DiagnosticLog {
  readonly #items: Diagnostic[] = [];
  readonly #seen = new Set<string>();
  readonly #ignored: ReadonlySet<DiagnosticCode>;

  /** @param opts.ignoreWarnings warning codes to drop; errors cannot be silenced (listed error codes are kept). */
  constructor(opts: { ignoreWarnings?: Iterable<DiagnosticCode> } = {}) {
    this.#ignored = new Set(opts.ignoreWarnings ?? []);
  }

  get items(): Diagnostic[] {
    return this.#items;
  }

  /** Records a fully formed diagnostic. */
  add(d: Diagnostic): void {
    if (d.severity === 'warning' && this.#ignored.has(d.code)) return;
    const key = `${d.code}\0${d.file}\0${d.start}\0${d.end}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.#items.push(d);
  }

  /**
   * Records a catalogued diagnostic at `span`; `args` fill the message and hint templates,
   * `related` are further places it concerns.
   */
  report(code: DiagnosticCode, span: Span, args: DiagnosticArgs = {}, related?: RelatedLocation[]): void {
    // The type admits catalogued codes only; the check stays for callers from plain JS.
    if (!isDiagnosticCode(code)) throw new Error(`internal: unknown diagnostic code ${String(code)}`);
    const entry: CatalogEntry = DIAGNOSTIC_CATALOG[code];
    const { file, start, end } = span;
    const d: Diagnostic = {
      code,
      severity: entry.severity,
      file,
      start,
      end: Math.max(start, end),
      message: renderTemplate(entry.message, args),
      hint: renderTemplate(entry.hint, args),
    };
    if (related && related.length > 0) d.related = related;
    this.add(d);
  }

  hasErrors(): boolean {
    return this.#items.some((d) => d.severity === 'error');
  }
}

/** Orders diagnostics by file, position and code, so output never depends on phase order. */
export function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return (
    compareStrings(a.file, b.file) ||
    a.start - b.start ||
    a.end - b.end ||
    compareStrings(a.code, b.code) ||
    compareStrings(a.message, b.message)
  );
}

/**
 * 1-based line and column of a UTF-16 offset. Lines end at `\n` (so `\r\n` works); the column
 * counts UTF-16 code units, like editors and GitHub annotations do.
 */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  return new LineIndex(text).at(offset);
}

/** Line starts of one text, for repeated lookups. */
class LineIndex {
  readonly #starts: number[] = [0];
  readonly #length: number;

  constructor(text: string) {
    this.#length = text.length;
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.#starts.push(i + 1);
  }

  at(offset: number): { line: number; column: number } {
    const o = Math.max(0, Math.min(offset, this.#length));
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#starts[mid] <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: o - this.#starts[lo] + 1 };
  }
}

interface Positioned {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

/**
 * What the printer needs of a diagnostic: any `code` string, so other catalogs (bench scenario
 * diagnostics) print the same way.
 */
export type PrintableDiagnostic = Omit<Diagnostic, 'code'> & { code: string };

/**
 * Prints diagnostics. `sources` maps file → text for line:column (a file without text prints
 * as 1:1); files print relative to `cwd` (default process.cwd()).
 * - text:   `file:line:col - error VMC2001: message` + `  hint: …` + `  related: …` lines
 * - json:   a JSON array of {code, severity, file, line, column, endLine, endColumn, message, hint, related?}
 * - github: GitHub Actions workflow commands (`::error file=…,line=…::message (hint)`); each
 *           related location is a `::notice` at its own place (title `CODE (related)`), so the
 *           second definition of a duplicate name is annotated too
 */
export function formatDiagnostics(
  diags: readonly PrintableDiagnostic[],
  format: 'text' | 'json' | 'github',
  sources: Map<string, string>,
  cwd: string = process.cwd(),
): string {
  const indexes = new Map<string, LineIndex>();
  const locate = (file: string, start: number, end: number): Positioned => {
    const text = sources.get(file);
    const shown = displayPath(file, cwd);
    if (text === undefined) return { file: shown, line: 1, column: 1, endLine: 1, endColumn: 1 };
    let idx = indexes.get(file);
    if (!idx) indexes.set(file, (idx = new LineIndex(text)));
    const s = idx.at(start);
    const e = idx.at(end);
    return { file: shown, line: s.line, column: s.column, endLine: e.line, endColumn: e.column };
  };

  if (format === 'json') {
    const out = diags.map((d) => {
      const p = locate(d.file, d.start, d.end);
      const obj: Record<string, unknown> = {
        code: d.code,
        severity: d.severity,
        file: p.file,
        line: p.line,
        column: p.column,
        endLine: p.endLine,
        endColumn: p.endColumn,
        message: d.message,
        hint: d.hint,
      };
      if (d.related) {
        obj.related = d.related.map((r) => {
          const q = locate(r.file, r.start, r.end);
          return { file: q.file, line: q.line, column: q.column, message: r.message };
        });
      }
      return obj;
    });
    return JSON.stringify(out, null, 2) + '\n';
  }

  const lines: string[] = [];
  for (const d of diags) {
    const p = locate(d.file, d.start, d.end);
    if (format === 'github') {
      const props = (q: Positioned, title: string): string =>
        [
          `file=${escapeProperty(q.file)}`,
          `line=${q.line}`,
          `col=${q.column}`,
          `endLine=${q.endLine}`,
          `endColumn=${q.endColumn}`,
          `title=${escapeProperty(title)}`,
        ].join(',');
      const body = d.hint ? `${d.message} (${d.hint})` : d.message;
      lines.push(`::${d.severity} ${props(p, d.code)}::${escapeData(body)}`);
      // A notice, not a second error: the annotation count stays one per diagnostic.
      for (const r of d.related ?? []) {
        const q = locate(r.file, r.start, r.end);
        lines.push(`::notice ${props(q, `${d.code} (related)`)}::${escapeData(`${r.message} — ${d.code}: ${d.message}`)}`);
      }
      continue;
    }
    lines.push(`${p.file}:${p.line}:${p.column} - ${d.severity} ${d.code}: ${d.message}`);
    if (d.hint) lines.push(`  hint: ${d.hint}`);
    for (const r of d.related ?? []) {
      const q = locate(r.file, r.start, r.end);
      lines.push(`  related: ${q.file}:${q.line}:${q.column} - ${r.message}`);
    }
  }
  return lines.length > 0 ? lines.join('\n') + '\n' : '';
}

function displayPath(file: string, cwd: string): string {
  if (!file || !isAbsolute(file)) return file;
  const rel = relative(cwd, file);
  return rel === '' ? '.' : rel;
}

// GitHub workflow command escaping (actions/toolkit `command.ts`).
function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
