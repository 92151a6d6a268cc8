/**
 * `vmc keys` (SPEC §12): caller keys in a keys file — create (prints the new key once, stores
 * only its SHA-256), list, revoke. The gateway (`vmc serve --keys FILE`) picks changes up
 * within a second.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import {
  checkEntry,
  CREATE_FIELDS,
  generateKey,
  hashKey,
  normalizeKeyUserPath,
  parseExpiry,
  type KeySpec,
} from '../../runtime/keys/entry.js';
import { appendEntryText, disableEntryText, KeysFileError, parseKeysFile, writeKeysFileAtomic } from '../../runtime/keys/file.js';
import { UsageError } from '../args.js';

export const KEYS_USAGE = `usage: vmc keys create --file FILE --id ID --user-path P [--model M]... [--expires-at T]
       vmc keys list   --file FILE [--json]
       vmc keys revoke --file FILE --id ID

Caller keys for \`vmc serve --keys FILE\` (YAML or JSON). The file holds hashes only
(sha256:<hex>); a key is printed once, by create, and cannot be shown again.

  create   makes a key (vmc-…), appends {id, hash, user_path, models?, expires_at?} to FILE
           (created if missing) and prints the key on stdout; an existing id is refused
           --user-path P     the caller's user path; x-vmc-user-path may only narrow it
           --model M         a model the key may use (repeatable): a virtual model name or
                             slug, provider/model, or provider/* (default: every model the
                             user path may use)
           --expires-at T    ISO-8601 date or date-time after which the key is refused
  list     prints the keys: id, user path, models, expiry, status (never hashes)
  revoke   disables key ID (enabled: false); the gateway refuses it within a second

exit codes: 0 done; 1 an invalid keys file, an existing id (create), an unknown id (revoke);
2 a usage error.
`;

/** Reads FILE's text, or null when it does not exist. */
async function readText(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Prints a keys-file error (positioned diagnostics) and returns exit code 1. */
function fileError(err: unknown): number {
  if (err instanceof KeysFileError) {
    process.stderr.write(err.message + '\n');
    return 1;
  }
  throw err;
}

export async function runKeys(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      file: { type: 'string', short: 'f' },
      id: { type: 'string' },
      'user-path': { type: 'string' },
      model: { type: 'string', multiple: true },
      'expires-at': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (sub !== 'create' && sub !== 'list' && sub !== 'revoke') {
    throw new UsageError(sub === undefined ? 'name a subcommand: create, list or revoke' : `unknown subcommand ${JSON.stringify(sub)}`);
  }
  const file = values.file;
  if (file === undefined || file === '') throw new UsageError('--file FILE is required');
  if (sub !== 'list' && values.id === undefined) throw new UsageError('--id ID is required');
  if (sub === 'create') {
    if (values['user-path'] === undefined) throw new UsageError('--user-path P is required');
    const fields: Record<string, unknown> = { id: values.id, user_path: values['user-path'] };
    if (values.model !== undefined) fields.models = values.model;
    if (values['expires-at'] !== undefined) fields.expires_at = values['expires-at'];
    const problems = checkEntry(fields, CREATE_FIELDS);
    if (problems.length > 0) {
      const p = problems[0];
      const flag = p.field === 'models' ? 'model' : p.field.replace('_', '-');
      throw new UsageError(`--${flag}: ${p.message}${p.hint === undefined ? '' : ` (${p.hint})`}`);
    }
  }
  const text = await readText(file);

  if (sub === 'list') {
    if (text === null) {
      process.stderr.write(`vmc keys: ${file}: no such file\n`);
      return 1;
    }
    let entries: KeySpec[];
    try {
      entries = parseKeysFile(file, text).entries;
    } catch (err) {
      return fileError(err);
    }
    const now = Date.now();
    const rows = entries.map((e) => ({
      id: e.id,
      user_path: e.user_path,
      models: e.models ?? null,
      expires_at: e.expires_at ?? null,
      status: e.enabled === false ? 'disabled' : e.expires_at !== undefined && now >= parseExpiry(e.expires_at) ? 'expired' : 'active',
    }));
    if (values.json) {
      process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
      return 0;
    }
    const table = [['ID', 'USER PATH', 'MODELS', 'EXPIRES', 'STATUS']].concat(
      rows.map((r) => [r.id, r.user_path, r.models === null ? '*' : r.models.join(','), r.expires_at ?? '-', r.status]),
    );
    const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
    for (const row of table)
      process.stdout.write(row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ') + '\n');
    return 0;
  }

  const id = values.id!;
  let entries: KeySpec[] = [];
  if (text !== null && text.trim() !== '') {
    try {
      entries = parseKeysFile(file, text).entries;
    } catch (err) {
      return fileError(err);
    }
  }

  if (sub === 'revoke') {
    if (text === null) {
      process.stderr.write(`vmc keys: ${file}: no such file\n`);
      return 1;
    }
    const next = entries.some((e) => e.id === id) ? disableEntryText(file, text, id) : null;
    if (next === null) {
      process.stderr.write(`vmc keys: no key ${JSON.stringify(id)} in ${file}\n`);
      return 1;
    }
    await writeKeysFileAtomic(file, next);
    process.stderr.write(`vmc keys: key ${id} revoked (enabled: false) in ${file}\n`);
    return 0;
  }

  // create
  const userPath = values['user-path']!;
  if (entries.some((e) => e.id === id)) {
    process.stderr.write(`vmc keys: a key with id ${JSON.stringify(id)} exists in ${file}; revoke it or choose another id\n`);
    return 1;
  }
  const key = generateKey();
  const spec: KeySpec = { id, hash: hashKey(key), user_path: normalizeKeyUserPath(userPath)! };
  if (values.model !== undefined) spec.models = values.model;
  if (values['expires-at'] !== undefined) spec.expires_at = values['expires-at'];
  const next = appendEntryText(file, text, spec);
  parseKeysFile(file, next); // what we write must read back
  await writeKeysFileAtomic(file, next);
  process.stdout.write(key + '\n');
  process.stderr.write(`vmc keys: key ${id} (user path ${spec.user_path}) added to ${file}; it is shown this once — store it now\n`);
  return 0;
}
