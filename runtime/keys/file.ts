/**
 * The keys file (SPEC §12), YAML or JSON:
 *
 *   keys:
 *     - id: team-a-ci
 *       hash: sha256:5f3c…(64 lowercase hex digits)
 *       user_path: /team/a
 *       models: [gpt-4o, claude-sonnet, openai/*]   # optional
 *       expires_at: "2027-01-31T00:00:00Z"           # optional
 *       enabled: true                                 # optional
 *
 * Parsing keeps positions: every problem is a diagnostic with a stable code (VMK…) and a byte
 * range, printed `file:line:col - error VMKnnn: message` with a hint, like the compiler's
 * (SPEC §2). The file never holds a key in clear; an entry that looks like one is an error.
 *
 * `vmc keys create|revoke` edit the file through the YAML document model, so comments and
 * layout survive; JSON files stay JSON. Writes are atomic (temporary file + rename), which the
 * gateway's watcher sees as one change.
 */
import { chmod, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, basename } from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, type Document, type Node, type YAMLMap } from 'yaml';
import { checkEntry, FILE_ENTRY_FIELDS, toKeySpec, type KeySpec } from './entry.js';

/** Diagnostic codes of the keys file. Codes never change meaning; new ones are appended. */
export const KEYS_DIAGNOSTICS = {
  VMK001: 'the keys file cannot be read',
  VMK002: 'not valid YAML or JSON',
  VMK003: 'the file must be a mapping with a `keys:` list',
  VMK004: 'a key entry must be a mapping',
  VMK005: 'unknown field',
  VMK006: 'missing required field',
  VMK007: 'invalid value',
  VMK008: 'duplicate id',
  VMK009: 'the same key hash appears twice',
} as const;
export type KeysDiagnosticCode = keyof typeof KEYS_DIAGNOSTICS;

export interface KeysDiagnostic {
  code: KeysDiagnosticCode;
  /** Byte range in the file's text (UTF-16 offsets of the JS string). */
  start: number;
  end: number;
  message: string;
  hint?: string;
  related?: { start: number; end: number; message: string };
}

/** A keys file with problems: the diagnostics, printable with positions. */
export class KeysFileError extends Error {
  constructor(
    readonly file: string,
    readonly text: string,
    readonly diagnostics: readonly KeysDiagnostic[],
  ) {
    super(formatKeysDiagnostics(file, text, diagnostics).trimEnd());
    this.name = 'KeysFileError';
  }
}

/** 1-based line and column of an offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

function shownPath(file: string): string {
  if (!isAbsolute(file)) return file;
  const rel = relative(process.cwd(), file);
  return rel === '' || rel.startsWith('..') ? file : rel;
}

/** `file:line:col - error VMKnnn: message` + `  hint: …` lines, like the compiler's text format. */
export function formatKeysDiagnostics(file: string, text: string, diags: readonly KeysDiagnostic[]): string {
  const shown = shownPath(file);
  const lines: string[] = [];
  for (const d of diags) {
    const p = lineColumn(text, d.start);
    lines.push(`${shown}:${p.line}:${p.column} - error ${d.code}: ${d.message}`);
    if (d.hint !== undefined) lines.push(`  hint: ${d.hint}`);
    if (d.related !== undefined) {
      const q = lineColumn(text, d.related.start);
      lines.push(`  related: ${shown}:${q.line}:${q.column} - ${d.related.message}`);
    }
  }
  return lines.length > 0 ? lines.join('\n') + '\n' : '';
}

/** A parsed keys file: the entries in file order. */
export interface KeysFile {
  entries: KeySpec[];
}

const rangeOf = (n: Node | null | undefined, fallback: [number, number]): [number, number] =>
  n?.range ? [n.range[0], Math.max(n.range[1], n.range[0] + 1)] : fallback;

/**
 * Parses the text of a keys file. Throws {@link KeysFileError} with every problem found
 * (positions included); returns the entries otherwise. An empty file is an error (it has no
 * `keys:`); `keys: []` is a valid file with no keys.
 */
export function parseKeysFile(file: string, text: string): KeysFile {
  const diags: KeysDiagnostic[] = [];
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, version: '1.2' });
  // the first syntax error only: the ones after it are usually its echoes
  for (const e of doc.errors.slice(0, 1)) {
    diags.push({
      code: 'VMK002',
      start: e.pos[0],
      end: Math.max(e.pos[1], e.pos[0] + 1),
      message: e.message.split('\n')[0],
      hint: 'the keys file is YAML (or JSON): keys: [{ id, hash, user_path }]',
    });
  }
  if (diags.length > 0) throw new KeysFileError(file, text, diags);
  const whole: [number, number] = [0, Math.max(1, Math.min(text.length, 1))];
  const root = doc.contents;
  const shapeHint = 'write `keys:` followed by a list of entries { id, hash, user_path }';
  if (!isMap(root)) {
    throw new KeysFileError(file, text, [
      { code: 'VMK003', start: rangeOf(root, whole)[0], end: rangeOf(root, whole)[1], message: KEYS_DIAGNOSTICS.VMK003, hint: shapeHint },
    ]);
  }
  let list: Node | null = null;
  const emptyList = doc.createNode([]) as Node;
  for (const pair of root.items) {
    const k = isScalar(pair.key) ? pair.key.value : null;
    if (k === 'keys') {
      const v = (pair.value as Node | null) ?? null;
      // `keys:` with nothing after it: a file without keys, like `keys: []`
      list = v === null || (isScalar(v) && v.value === null) ? emptyList : v;
    } else if (k !== 'version') {
      const [s, e] = rangeOf(pair.key as Node, whole);
      diags.push({
        code: 'VMK005',
        start: s,
        end: e,
        message: `unknown top-level field ${JSON.stringify(k)}`,
        hint: 'fields: keys, version',
      });
    }
  }
  if (list === null && diags.length === 0) {
    const [s, e] = rangeOf(root, whole);
    diags.push({ code: 'VMK003', start: s, end: e, message: 'missing `keys:`', hint: shapeHint });
  }
  const entries: KeySpec[] = [];
  if (list !== null && !isSeq(list)) {
    const [s, e] = rangeOf(list, whole);
    diags.push({ code: 'VMK003', start: s, end: e, message: '`keys:` must be a list', hint: shapeHint });
  } else if (list !== null && isSeq(list)) {
    const ids = new Map<string, [number, number]>();
    const hashes = new Map<string, [number, number]>();
    for (const item of list.items as (Node | null)[]) {
      const itemRange = rangeOf(item, rangeOf(list, whole));
      if (!isMap(item)) {
        diags.push({
          code: 'VMK004',
          start: itemRange[0],
          end: itemRange[1],
          message: KEYS_DIAGNOSTICS.VMK004,
          hint: 'e.g. - { id: a, hash: sha256:…, user_path: /team/a }',
        });
        continue;
      }
      const obj = item.toJSON() as Record<string, unknown>;
      const problems = checkEntry(obj, FILE_ENTRY_FIELDS);
      for (const p of problems) {
        // where to point: the entry (missing field), the field's key (unknown field), its value or list item (invalid)
        const pair = item.items.find((x) => isScalar(x.key) && x.key.value === p.field);
        let node: Node | null | undefined = item;
        if (pair !== undefined) {
          if (p.kind === 'unknown') node = pair.key as Node;
          else if (p.index !== undefined && isSeq(pair.value)) node = pair.value.items[p.index] as Node;
          else node = (pair.value as Node | null) ?? (pair.key as Node);
        }
        const [s, e] = rangeOf(node, itemRange);
        const code: KeysDiagnosticCode = p.kind === 'missing' ? 'VMK006' : p.kind === 'unknown' ? 'VMK005' : 'VMK007';
        diags.push({ code, start: s, end: e, message: p.message, ...(p.hint === undefined ? {} : { hint: p.hint }) });
      }
      if (problems.length > 0) continue;
      const idNode = valueNode(item, 'id');
      const hashNode = valueNode(item, 'hash');
      const idRange = rangeOf(idNode, itemRange);
      const hashRange = rangeOf(hashNode, itemRange);
      const id = obj.id as string;
      const hash = obj.hash as string;
      const firstId = ids.get(id);
      if (firstId !== undefined) {
        diags.push({
          code: 'VMK008',
          start: idRange[0],
          end: idRange[1],
          message: `id ${JSON.stringify(id)} is defined twice`,
          hint: 'ids name keys in logs, metrics and the admin API: give each key its own',
          related: { start: firstId[0], end: firstId[1], message: 'first defined here' },
        });
        continue;
      }
      const firstHash = hashes.get(hash);
      if (firstHash !== undefined) {
        diags.push({
          code: 'VMK009',
          start: hashRange[0],
          end: hashRange[1],
          message: `key ${JSON.stringify(id)} has the same hash as another entry (one key under two ids)`,
          hint: 'make a separate key for each id (vmc keys create)',
          related: { start: firstHash[0], end: firstHash[1], message: 'the same hash here' },
        });
        continue;
      }
      ids.set(id, idRange);
      hashes.set(hash, hashRange);
      entries.push(toKeySpec(obj, hash));
    }
  }
  if (diags.length > 0)
    throw new KeysFileError(
      file,
      text,
      diags.sort((a, b) => a.start - b.start),
    );
  return { entries };
}

function valueNode(map: YAMLMap, key: string): Node | null {
  const pair = map.items.find((x) => isScalar(x.key) && x.key.value === key);
  return (pair?.value as Node | null | undefined) ?? null;
}

/** Reads and parses a keys file; an unreadable file is a KeysFileError (VMK001). */
export async function readKeysFile(file: string): Promise<{ text: string; parsed: KeysFile }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new KeysFileError(file, '', [
      {
        code: 'VMK001',
        start: 0,
        end: 0,
        message: `cannot read the keys file: ${why}`,
        hint: 'create it with `vmc keys create --file FILE --id ID --user-path P`',
      },
    ]);
  }
  return { text, parsed: parseKeysFile(file, text) };
}

// ── editing (vmc keys) ─────────────────────────────────────────────────────────

const NEW_FILE_HEADER =
  '# vmc caller keys (SPEC §12): hashes only. A key is printed once, by `vmc keys create`;\n' +
  '# the gateway (`vmc serve --keys FILE`) reloads this file when it changes.\n';

const isJsonText = (file: string, text: string): boolean => file.endsWith('.json') || /^\s*[{[]/.test(text);

/** The entry as written to a file: fields in a stable order, optional ones only when set. */
function entryObject(spec: KeySpec): Record<string, unknown> {
  const o: Record<string, unknown> = { id: spec.id, hash: spec.hash, user_path: spec.user_path };
  if (spec.models !== undefined) o.models = spec.models;
  if (spec.expires_at !== undefined) o.expires_at = spec.expires_at;
  if (spec.enabled !== undefined) o.enabled = spec.enabled;
  return o;
}

/** The text of a keys file with `spec` appended (the file's layout and comments kept). `text` null: a new file. */
export function appendEntryText(file: string, text: string | null, spec: KeySpec): string {
  if (text === null || text.trim() === '') {
    if (file.endsWith('.json')) return JSON.stringify({ keys: [entryObject(spec)] }, null, 2) + '\n';
    const doc = parseDocument('keys: []\n');
    addEntry(doc, spec);
    return NEW_FILE_HEADER + String(doc);
  }
  if (isJsonText(file, text)) {
    const obj = JSON.parse(text) as { keys?: unknown[] };
    (obj.keys ??= []).push(entryObject(spec));
    return JSON.stringify(obj, null, 2) + '\n';
  }
  const doc = parseDocument(text, { version: '1.2' });
  addEntry(doc, spec);
  return String(doc);
}

function addEntry(doc: Document, spec: KeySpec): void {
  const node = doc.createNode(entryObject(spec)) as YAMLMap;
  const models = node.get('models', true);
  if (isSeq(models)) models.flow = true;
  const expiry = node.get('expires_at', true);
  if (isScalar(expiry)) expiry.type = 'QUOTE_DOUBLE'; // a string to every YAML reader (YAML 1.1 would read a timestamp)
  const list = doc.get('keys', true);
  if (isSeq(list)) {
    if (list.flow && list.items.length === 0) list.flow = false;
    list.add(node);
  } else doc.set('keys', doc.createNode([node]));
}

/** The text of a keys file with entry `id` disabled (`enabled: false`); null when there is no such id. */
export function disableEntryText(file: string, text: string, id: string): string | null {
  if (isJsonText(file, text)) {
    const obj = JSON.parse(text) as { keys?: Record<string, unknown>[] };
    const e = obj.keys?.find((k) => k.id === id);
    if (e === undefined) return null;
    e.enabled = false;
    return JSON.stringify(obj, null, 2) + '\n';
  }
  const doc = parseDocument(text, { version: '1.2' });
  const list = doc.get('keys', true);
  if (!isSeq(list)) return null;
  for (const item of list.items) {
    if (isMap(item) && item.get('id') === id) {
      item.set('enabled', false);
      return String(doc);
    }
  }
  return null;
}

/**
 * Writes a keys file atomically (temporary file in the same directory, then rename): the
 * gateway never reads half a file. A new file is readable by its owner only; an existing
 * file keeps its mode.
 */
export async function writeKeysFileAtomic(file: string, text: string): Promise<void> {
  let mode = 0o600;
  try {
    mode = (await stat(file)).mode & 0o777;
  } catch {
    // a new file
  }
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${Date.now()}.tmp`);
  await writeFile(tmp, text, { mode });
  await chmod(tmp, mode);
  await rename(tmp, file);
}
