/**
 * YAML loading: text → plain data + a LocationMap, keeping every node's source range so later
 * diagnostics point at the offending key or value (SPEC §2 "the file, line and column").
 *
 * The data is built from the AST here rather than with `doc.toJS()` for two reasons: the
 * locations come out of the same walk, and a key repeated in one mapping keeps its FIRST value
 * (like a name defined in two files), with a diagnostic naming both places.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import jsYaml from 'js-yaml';
import { DiagnosticLog, type Span } from './diagnostics.js';
import { LocationMap, type JsonPath, type Range } from './load-locations.js';

/** Upper bound on alias expansions per file (a "billion laughs" document stops here). */
const MAX_ALIAS_EXPANSIONS = 10_000;

export interface YamlLoadResult {
  /** `undefined` when the text is not usable YAML (errors were reported). */
  data: unknown;
  locations: LocationMap;
}

/**
 * A LocationMap filled on first use. Positions are only needed when a diagnostic is
 * reported, so a config that compiles cleanly never pays for the position-keeping parse.
 */
class LazyLocationMap extends LocationMap {
  #fill: (() => void) | null;
  constructor(fill: (map: LocationMap) => void) {
    super();
    this.#fill = () => fill(this);
  }
  #ensure(): void {
    const fill = this.#fill;
    this.#fill = null;
    fill?.();
  }
  override has(path: JsonPath): boolean {
    this.#ensure();
    return super.has(path);
  }
  override find(path: JsonPath, part?: 'key' | 'value'): Range {
    this.#ensure();
    return super.find(path, part);
  }
}

/**
 * Text the fast path may take: constructs where js-yaml and the position-keeping walk below
 * could disagree go the full way (anchors/aliases — expansion limits; complex `? ` keys —
 * rejected below; `__proto__` keys — kept as data below).
 */
const NEEDS_FULL_PARSE = /(^|[\s[{,:-])[&*][^\s]|^\s*\?(\s|$)|__proto__/m;

/**
 * Fast path (measured: a 100,000-model, 11.7 MB config parses in ~3 s with js-yaml against
 * ~13 s for `yaml`'s position-keeping Document, which also doubles peak memory): parse the
 * values with js-yaml's YAML 1.2 core schema and build positions only if asked. Any js-yaml
 * error (syntax, duplicate key, multiple documents) falls back to the full parse, which
 * reports it with the right code and position. Returns undefined when not applicable.
 */
function loadYamlFast(file: string, text: string): YamlLoadResult | undefined {
  if (NEEDS_FULL_PARSE.test(text)) return undefined;
  let data: unknown;
  try {
    data = jsYaml.load(text, { schema: jsYaml.CORE_SCHEMA, filename: file });
  } catch {
    return undefined;
  }
  const locations = new LazyLocationMap((map) => {
    // Same walk as the full path, into this map; its diagnostics were already avoided.
    fillLocations(file, text, map);
  });
  return { data: data === undefined ? null : data, locations };
}

function fillLocations(file: string, text: string, locations: LocationMap): void {
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false, version: '1.2' });
  const root = doc.contents;
  if (root === null) return;
  locations.set([], rangeOf(root));
  new Walker(doc, file, new DiagnosticLog(), locations).walk(root, []);
}

/** Parses one YAML file; syntax errors become VMC1001 at the parser's position. */
export function loadYaml(file: string, text: string, log: DiagnosticLog): YamlLoadResult {
  return loadYamlFast(file, text) ?? loadYamlFull(file, text, log);
}

/** The position-keeping parse (also the reference the fast path is tested against). */
export function loadYamlFull(file: string, text: string, log: DiagnosticLog): YamlLoadResult {
  const locations = new LocationMap();
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false, version: '1.2' });
  const problems = [...doc.errors, ...doc.warnings];
  for (const e of problems) {
    log.report('VMC1001', { file, start: e.pos[0], end: e.pos[1] }, { detail: firstLine(e.message) });
  }
  if (doc.errors.length > 0) return { data: undefined, locations };
  const walker = new Walker(doc, file, log, locations);
  const root = doc.contents;
  if (root === null) return { data: null, locations };
  locations.set([], rangeOf(root));
  const data = walker.walk(root, []);
  return { data: walker.failed ? undefined : data, locations };
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i === -1 ? s : s.slice(0, i);
}

function spanIn(file: string, r: Range): Span {
  return { file, start: r.start, end: r.end };
}

function rangeOf(node: { range?: readonly number[] | null } | null | undefined, fallback?: Range): Range {
  const r = node?.range;
  if (r) return { start: r[0], end: r[1] };
  return fallback ?? { start: 0, end: 0 };
}

/** Which duplicate-key code applies at a mapping path (VMC2004/2006 name both places). */
function duplicateCode(path: JsonPath): 'VMC2004' | 'VMC2006' | 'VMC1001' {
  if (path.length === 1 && path[0] === 'virtual_models') return 'VMC2004';
  if (path.length === 1 && path[0] === 'providers') return 'VMC2006';
  return 'VMC1001';
}

class Walker {
  failed = false;
  #expansions = 0;

  constructor(
    readonly doc: Document,
    readonly file: string,
    readonly log: DiagnosticLog,
    readonly locations: LocationMap,
  ) {}

  /**
   * Converts a node to plain data. `record` is false inside alias expansions: those values
   * have no location of their own and point at the alias (LocationMap.find walks up).
   */
  walk(node: unknown, path: JsonPath, record = true, pathKey = LocationMap.keyOf(path)): unknown {
    if (isAlias(node)) {
      if (++this.#expansions > MAX_ALIAS_EXPANSIONS) {
        if (!this.failed) {
          this.log.report('VMC1001', spanIn(this.file, rangeOf(node)), { detail: 'too many alias expansions' });
        }
        this.failed = true;
        return null;
      }
      const target = node.resolve(this.doc);
      return target === undefined ? null : this.walk(target, path, false, pathKey);
    }
    if (isScalar(node)) return node.value ?? null;
    if (isSeq(node)) {
      return node.items.map((item, i) => {
        const key = LocationMap.childKey(pathKey, i);
        if (record) this.locations.setByKey(key, rangeOf(item as Node));
        return this.walk(item, [...path, i], record, key);
      });
    }
    if (isMap(node)) return this.#walkMap(node.items, path, pathKey, record);
    return null;
  }

  #walkMap(items: unknown[], path: JsonPath, pathKey: string, record: boolean): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const firstKeyRange = new Map<string, Range>();
    for (const pair of items) {
      if (!isPair(pair)) continue;
      const keyNode = pair.key;
      const keyRange = rangeOf(keyNode as Node);
      if (keyNode !== null && !isScalar(keyNode)) {
        this.log.report('VMC1001', spanIn(this.file, keyRange), { detail: 'keys must be plain scalars' });
        this.failed = true;
        continue;
      }
      const key = String(keyNode === null ? '' : (keyNode.value ?? ''));
      // `key:` with nothing after it has no (or an empty) value node; point at the key instead.
      const own = pair.value ? rangeOf(pair.value as Node, keyRange) : keyRange;
      const valueRange = own.end > own.start ? own : keyRange;
      const first = firstKeyRange.get(key);
      if (first) {
        if (record) this.#reportDuplicate(path, key, keyRange, first);
        continue;
      }
      firstKeyRange.set(key, keyRange);
      const childKey = LocationMap.childKey(pathKey, key);
      if (record) this.locations.setByKey(childKey, valueRange, keyRange);
      const value = this.walk(pair.value, [...path, key], record, childKey);
      // A key named `__proto__` must stay data, not replace the prototype.
      if (key === '__proto__') {
        Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      } else {
        out[key] = value;
      }
    }
    return out;
  }

  #reportDuplicate(path: JsonPath, key: string, at: Range, first: Range): void {
    const code = duplicateCode(path);
    const related = [{ ...spanIn(this.file, first), message: 'first defined here' }];
    if (code === 'VMC1001') {
      this.log.report(code, spanIn(this.file, at), { detail: `duplicate key "${key}"` }, related);
      this.failed = true;
    } else {
      // The first definition wins; the file stays usable so the rest of it is still checked.
      this.log.report(code, spanIn(this.file, at), { name: key }, related);
    }
  }
}
