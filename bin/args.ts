/**
 * Helpers shared by the CLI commands: usage errors, flag parsing, diagnostics printing and
 * table loading. Commands import only what they need; heavy modules load lazily.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Diagnostic } from '../compiler/diagnostics.js';
import { TABLE_FILE, TableFormatError } from '../runtime/table/format.js';
import { RoutingTable } from '../runtime/table/reader.js';

/** A mistake in the command line: printed with the command's name, exit code 2. */
export class UsageError extends Error {}

export type Format = 'text' | 'json' | 'github';

export function formatOf(v: string | undefined): Format {
  const f = (v ?? 'text') as Format;
  if (!['text', 'json', 'github'].includes(f)) throw new UsageError(`--format must be text, json or github (got ${v})`);
  return f;
}

export function requireInputs(positionals: string[], cmd: string): string[] {
  if (positionals.length === 0) throw new UsageError(`vmc ${cmd}: name at least one config file or directory`);
  return positionals;
}

/** `--flag N`: a non-negative integer, or `fallback` when absent. */
export function intFlag(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${name} must be a non-negative integer (got ${value})`);
  return n;
}

/** Repeated `key=value` flags → an object. */
export function pairs(list: string[] | undefined, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} takes key=value (got ${JSON.stringify(item)})`);
    out[item.slice(0, eq).trim()] = item.slice(eq + 1);
  }
  return out;
}

export async function printDiagnostics(
  result: { diagnostics: Diagnostic[]; sources: { path: string; text: string }[] },
  format: Format,
): Promise<void> {
  const { formatDiagnostics } = await import('../compiler/diagnostics.js');
  const sources = new Map(result.sources.map((s) => [s.path, s.text]));
  if (format === 'json') {
    process.stdout.write(formatDiagnostics(result.diagnostics, 'json', sources, process.cwd()) + '\n');
    return;
  }
  if (result.diagnostics.length === 0) return;
  const text = formatDiagnostics(result.diagnostics, format, sources, process.cwd());
  (format === 'github' ? process.stdout : process.stderr).write(text.endsWith('\n') ? text : text + '\n');
}

/** `2 errors, 1 warning`. */
export function summary(diags: readonly { severity: string }[]): string {
  const e = diags.filter((d) => d.severity === 'error').length;
  const w = diags.length - e;
  return `${e} error${e === 1 ? '' : 's'}, ${w} warning${w === 1 ? '' : 's'}`;
}

/**
 * A table file, or a build directory holding one. An unreadable file is a TableFormatError
 * (the CLI prints its message and exits 2), not a stack trace.
 */
export async function loadTable(path: string): Promise<RoutingTable> {
  const file = existsSync(path) && statSync(path).isDirectory() ? join(path, TABLE_FILE) : path;
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new TableFormatError(`cannot read the table ${file}: ${why}`);
  }
  return RoutingTable.decode(new Uint8Array(bytes));
}
