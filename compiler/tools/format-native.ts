/**
 * `vmc fmt`: prints a merged native-form config (FrontendResult.native) as YAML in a stable
 * shape — top-level keys version, settings, providers, virtual_models; providers and virtual
 * models sorted by name; fields in schema order; values equal to their schema default omitted;
 * free-form objects (override_params, middleware config) with keys sorted.
 *
 * The schema drives the layout, so a field added to schemas/vmc.schema.json is printed in the
 * right place without touching this file. Formatting is a fixed point: formatting the output
 * again (after compiling it) gives the same text.
 *
 * Comments of YAML sources are kept where their place survives (collectComments): the lines
 * above the document (the `# yaml-language-server: $schema=…` line included), comment lines
 * above a key or list item, and a comment at the end of a scalar's or flow list's line — each
 * attached to the same path (e.g. `virtual_models` › `chat` › `targets` › 0) in the output, so
 * it follows its entry when entries are sorted. Comments inside a dialect body whose keys are
 * rewritten, and comments of TypeScript configs, are dropped.
 */
import { Document, isCollection, isMap, isPair, isScalar, isSeq, parseDocument, visit } from 'yaml';
import schema from '../../schemas/vmc.schema.json' with { type: 'json' };
import { compareStrings, isObject } from '../../runtime/table/util.js';

interface SchemaNode {
  $ref?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  required?: string[];
  default?: unknown;
}

const DEFINITIONS = (schema as { definitions: Record<string, SchemaNode> }).definitions;

/** Follows `$ref: '#/definitions/X'` (the only kind of reference the schema uses). */
function deref(node: SchemaNode | undefined): SchemaNode | undefined {
  for (let n = node, guard = 0; n && guard < 8; guard++) {
    if (!n.$ref) return n;
    n = DEFINITIONS[n.$ref.replace('#/definitions/', '')];
  }
  return undefined;
}

/** The root, with virtual model bodies always in native form (the only form fmt prints). */
const ROOT: SchemaNode = {
  ...(schema as SchemaNode),
  properties: {
    ...(schema as SchemaNode).properties,
    virtual_models: { additionalProperties: { $ref: '#/definitions/NativeVirtualModel' } },
  },
};

/** Comments of the sources, by the path of the node they belong to (see collectComments). */
export interface SourceComments {
  /** Lines above the first node of a document (each file's, duplicates once). */
  header: string[];
  /** Lines after the last node of a document. */
  footer: string[];
  /** The first `$schema` key's value (an editor hint the normalized config does not keep). */
  schema: string | null;
  /** Path (keys and list indexes joined by NUL) → comment lines above the key or item. */
  before: Map<string, string>;
  /** Path → comment at the end of the value's line (scalars and flow lists). */
  after: Map<string, string>;
}

const pathKey = (path: readonly (string | number)[]): string => path.join('\0');

function addComment(map: Map<string, string>, key: string, text: string | null | undefined): void {
  if (!text) return;
  const old = map.get(key);
  if (old === undefined) map.set(key, text);
  else if (!old.split('\n').includes(text)) map.set(key, `${old}\n${text}`);
}

/**
 * Collects the comments of YAML sources by path. The `yaml` parser puts comment lines above
 * the first entry of a block collection on the collection (`commentBefore`); they are moved to
 * that first entry, where they were written. A file that does not parse contributes nothing.
 */
export function collectComments(sources: readonly { path: string; text: string }[]): SourceComments {
  const out: SourceComments = { header: [], footer: [], schema: null, before: new Map(), after: new Map() };
  for (const source of sources) {
    if (!/\.ya?ml$/i.test(source.path)) continue;
    const doc = parseDocument(source.text, { keepSourceTokens: false });
    if (doc.errors.length > 0) continue;
    if (doc.commentBefore && !out.header.includes(doc.commentBefore)) out.header.push(doc.commentBefore);
    if (doc.comment && !out.footer.includes(doc.comment)) out.footer.push(doc.comment);
    const schemaKey: unknown = isMap(doc.contents) ? doc.contents.get('$schema') : undefined;
    if (out.schema === null && typeof schemaKey === 'string') out.schema = schemaKey;
    walkComments(doc.contents, [], out);
  }
  return out;
}

/**
 * `ownConsumed`: the collection's own `commentBefore` was already taken as the comment above it
 * (a list item); otherwise it belongs to the first entry.
 */
function walkComments(node: unknown, path: (string | number)[], out: SourceComments, ownConsumed = false): void {
  if (!isCollection(node)) return;
  if (isMap(node)) {
    node.items.forEach((pair, i) => {
      if (!isPair(pair) || !isScalar(pair.key)) return;
      const here = [...path, String(pair.key.value)];
      if (i === 0 && !node.flow && !ownConsumed) addComment(out.before, pathKey(here), node.commentBefore);
      addComment(out.before, pathKey(here), pair.key.commentBefore);
      const value = pair.value;
      if (isScalar(value) || (isCollection(value) && value.flow)) addComment(out.after, pathKey(here), value.comment);
      walkComments(value, here, out);
    });
    return;
  }
  node.items.forEach((item, i) => {
    const here = [...path, i];
    if (i === 0 && !node.flow && !ownConsumed) addComment(out.before, pathKey(here), node.commentBefore);
    if (isScalar(item) || isCollection(item)) {
      addComment(out.before, pathKey(here), item.commentBefore);
      if (isScalar(item) || item.flow) addComment(out.after, pathKey(here), item.comment);
    }
    walkComments(item, here, out, true);
  });
}

/** Formats a native-form config as YAML text (see the module comment for the layout and comments). */
export function formatNative(native: unknown, comments?: SourceComments): string {
  const { $schema: _dropped, ...shaped } = shape(native, ROOT) as Record<string, unknown>;
  const doc = new Document(comments?.schema ? { $schema: comments.schema, ...shaped } : shaped, { aliasDuplicateObjects: false });
  // Lists of scalars (models, status codes, user paths) read best on one line.
  visit(doc, {
    Seq(_, node) {
      if (isSeq(node) && node.items.every((i) => isScalar(i))) node.flow = true;
    },
  });
  if (comments) attachComments(doc, comments);
  return doc.toString({ lineWidth: 0, indentSeq: true, flowCollectionPadding: false });
}

function attachComments(doc: Document, comments: SourceComments): void {
  if (comments.header.length > 0) doc.commentBefore = comments.header.join('\n');
  if (comments.footer.length > 0) doc.comment = comments.footer.join('\n');
  const attach = (node: unknown, path: (string | number)[]): void => {
    if (!isCollection(node)) return;
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair) || !isScalar(pair.key)) continue;
        const here = [...path, String(pair.key.value)];
        let before = comments.before.get(pathKey(here));
        const after = comments.after.get(pathKey(here));
        if (after && (isScalar(pair.value) || (isCollection(pair.value) && pair.value.flow))) pair.value.comment = after;
        // A flow map written on one line prints as a block: its line comment goes above the key.
        else if (after) before = before ? `${before}\n${after}` : after;
        if (before) pair.key.commentBefore = before;
        attach(pair.value, here);
      }
    } else {
      node.items.forEach((item, i) => {
        const here = [...path, i];
        const before = comments.before.get(pathKey(here));
        if (before && (isScalar(item) || isCollection(item))) item.commentBefore = before;
        const after = comments.after.get(pathKey(here));
        if (after && isScalar(item)) item.comment = after;
        attach(item, here);
      });
    }
  };
  attach(doc.contents, []);
}

function shape(value: unknown, node: SchemaNode | undefined): unknown {
  const s = deref(node);
  if (Array.isArray(value)) return value.map((v) => shape(v, s?.items));
  if (!isObject(value)) return value;
  if (s?.properties) {
    const out: Record<string, unknown> = {};
    for (const [key, propNode] of Object.entries(s.properties)) {
      if (!Object.prototype.hasOwnProperty.call(value, key) || value[key] === undefined) continue;
      const prop = deref(propNode);
      const def = propNode.default !== undefined ? propNode.default : prop?.default;
      if (def !== undefined && deepEqual(value[key], def)) continue;
      const v = shape(value[key], propNode);
      // An empty settings/retry/middleware/… object means "all defaults": leave it out.
      if (isObject(v) && Object.keys(v).length === 0 && prop?.properties && !(prop.required?.length ?? 0)) continue;
      out[key] = v;
    }
    return out;
  }
  const entryNode = typeof s?.additionalProperties === 'object' ? s.additionalProperties : undefined;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort(compareStrings)) {
    out[key] = shape(value[key], entryNode);
  }
  return out;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => deepEqual(a[k], b[k]));
  }
  return false;
}
