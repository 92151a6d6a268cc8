/** `vmc explain` (SPEC §5, §10): the routing decision for one request, without sending it. */
import { parseArgs } from 'node:util';
import { UsageError, loadTable, pairs } from '../args.js';

export const EXPLAIN_USAGE = `usage: vmc explain <model> --table FILE [--header k=v]... [--metadata k=v]... [--user-path P] [--draw R] [--json]

Prints what the gateway would do with a request for <model>: checks, targets, shares, the
chosen target and the fallback order. --draw R (0 ≤ R < 1) fixes the random pick.
exit codes: 0 the gateway would proxy, 1 it would refuse, 2 usage or an unreadable table.
`;

export async function runExplain(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      table: { type: 'string', short: 't' },
      header: { type: 'string', multiple: true, short: 'H' },
      metadata: { type: 'string', multiple: true, short: 'm' },
      'user-path': { type: 'string' },
      draw: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('vmc explain: name exactly one model');
  if (!values.table) throw new UsageError('vmc explain: --table FILE is required');
  const table = await loadTable(values.table);
  const { explainRoute, renderExplain } = await import('../../compiler/tools/explain.js');
  const headers = Object.fromEntries(Object.entries(pairs(values.header, '--header')).map(([k, v]) => [k.toLowerCase(), v]));
  const metaPairs = pairs(values.metadata, '--metadata');
  const draw = values.draw === undefined ? Math.random() : Number(values.draw);
  if (!(draw >= 0 && draw < 1)) throw new UsageError('--draw must be a number in [0, 1)');
  const result = explainRoute(table, positionals[0], {
    headers,
    metadata: Object.keys(metaPairs).length ? metaPairs : null,
    userPath: values['user-path'] ?? headers['x-vmc-user-path'] ?? '/',
    draw,
  });
  process.stdout.write(values.json ? JSON.stringify(result, null, 2) + '\n' : renderExplain(result));
  return result.status === 'ok' ? 0 : 1;
}
