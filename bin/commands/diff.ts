/** `vmc diff` (SPEC §5, §15): which virtual models and routes changed between two configs. */
import { existsSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import type { NormConfig } from '../../runtime/table/normalized.js';
import { TABLE_FILE } from '../../runtime/table/format.js';
import { UsageError, loadTable, printDiagnostics, summary } from '../args.js';

export const DIFF_USAGE = `usage: vmc diff OLD NEW [--format text|json|markdown] [--title TEXT]

OLD and NEW are each a table (table.vmct), a build directory holding one, or a config (files
or a directory of *.yaml, *.yml, *.ts), compiled in memory.
--format text      one line per change (default)
--format json      the structure: per virtual model, per field and target, before and after
--format markdown  a table of the changed virtual models, for a pull-request comment
--title TEXT       the markdown heading (default "vmc diff")
--json             same as --format json
exit codes: 0 same routing, 1 differs, 2 trouble (unreadable input, config with errors, usage).
`;

const CONFIG_EXTENSIONS = new Set(['.yaml', '.yml', '.ts']);

/** An input that could not be read; printed as `vmc diff: …`, exit 2. */
class Trouble extends Error {}

/** A table, a build directory, or a config (compiled in memory) → its normalized form. */
async function loadSide(path: string): Promise<NormConfig> {
  if (!existsSync(path)) throw new Trouble(`${path}: no such file or directory`);
  const isDir = statSync(path).isDirectory();
  if (isDir ? existsSync(join(path, TABLE_FILE)) : !CONFIG_EXTENSIONS.has(extname(path))) {
    return (await loadTable(path)).toNormalized();
  }
  const { compileConfig } = await import('../../compiler/frontend.js');
  const result = await compileConfig([path]);
  if (result.config === null) {
    await printDiagnostics(result, 'text');
    throw new Trouble(`${path}: the config has errors (${summary(result.diagnostics)})`);
  }
  return result.config;
}

export async function runDiff(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean' }, format: { type: 'string' }, title: { type: 'string' } },
  });
  if (positionals.length !== 2) throw new UsageError('name OLD and NEW');
  const format = values.json ? 'json' : (values.format ?? 'text');
  if (format !== 'text' && format !== 'json' && format !== 'markdown') {
    throw new UsageError(`--format must be text, json or markdown (got ${format})`);
  }
  let a: NormConfig;
  let b: NormConfig;
  try {
    // One after the other: diagnostics of a faulty OLD print before NEW is read.
    a = await loadSide(positionals[0]);
    b = await loadSide(positionals[1]);
  } catch (err) {
    process.stderr.write(`vmc diff: ${(err as Error).message}\n`);
    return 2;
  }
  const { diffConfigs, renderDiff, renderMarkdown } = await import('../../compiler/tools/diff.js');
  const d = diffConfigs(a, b);
  const text =
    format === 'json' ? JSON.stringify(d, null, 2) + '\n' : format === 'markdown' ? renderMarkdown(d, values.title) : renderDiff(d);
  process.stdout.write(text);
  return d.identicalRouting ? 0 : 1;
}
