/**
 * `vmc fmt`: prints a merged native-form config (FrontendResult.native) as YAML in a stable
 * shape — top-level keys version, settings, providers, virtual_models; providers and virtual
 * models sorted by name; fields in schema order; values equal to their schema default omitted;
 * free-form objects (override_params, middleware config) with keys sorted.
 *
 * The schema drives the layout, so a field added to schemas/vmc.schema.json is printed in the
 * right place without touching this file. Formatting is a fixed point: formatting the output
 * again (after compiling it) gives the same text.
 */
import { Document, isScalar, isSeq, visit } from 'yaml';
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

/** Formats a native-form config as YAML text (see the module comment for the layout). */
export function formatNative(native: unknown): string {
  const shaped = shape(native, ROOT) as Record<string, unknown>;
  delete shaped.$schema;
  const doc = new Document(shaped, { aliasDuplicateObjects: false });
  // Lists of scalars (models, status codes, user paths) read best on one line.
  visit(doc, {
    Seq(_, node) {
      if (isSeq(node) && node.items.every((i) => isScalar(i))) node.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0, indentSeq: true, flowCollectionPadding: false });
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
