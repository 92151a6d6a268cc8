/** `vmc diff` (SPEC §5): which virtual models and routes changed between two tables. */
import { parseArgs } from 'node:util';
import type { RoutingTable } from '../../runtime/table/reader.js';
import { UsageError, loadTable } from '../args.js';

export const DIFF_USAGE = `usage: vmc diff OLD NEW [--json]

OLD and NEW are tables or build directories holding table.vmct.
exit codes: 0 same routing, 1 differs, 2 trouble.
`;

export async function runDiff(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: 'boolean' } } });
  if (positionals.length !== 2) throw new UsageError('vmc diff: name OLD and NEW');
  let a: RoutingTable;
  let b: RoutingTable;
  try {
    [a, b] = await Promise.all(positionals.map(loadTable));
  } catch (err) {
    process.stderr.write(`vmc diff: ${(err as Error).message}\n`);
    return 2;
  }
  const { diffConfigs, renderDiff } = await import('../../compiler/tools/diff.js');
  const d = diffConfigs(a.toNormalized(), b.toNormalized());
  process.stdout.write(values.json ? JSON.stringify(d, null, 2) + '\n' : renderDiff(d));
  return d.identicalRouting ? 0 : 1;
}
