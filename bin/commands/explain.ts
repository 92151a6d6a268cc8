/** `vmc explain` (SPEC §5, §10): the routing decision for one request, without sending it. */
import { parseArgs } from 'node:util';
import { UsageError, loadTable, pairs } from '../args.js';

export const EXPLAIN_USAGE = `usage: vmc explain <model> --table FILE [--endpoint chat|completions|embeddings|responses|messages]
                   [--header k=v]... [--metadata k=v]... [--user-path P] [--draw R] [--json]

Prints what the gateway would do with a request for <model> sent to --endpoint (default chat):
the checks (enabled, user path, model_types, metadata), the targets with their shares, the
chosen target and the fallback order. The same arguments print the same text: a sticky
session key (--header or --metadata) or --draw R (0 ≤ R < 1) fixes a random pick; without
either, explain prints the shares and says the pick is random.
exit codes: 0 the gateway would proxy, 1 it would refuse, 2 usage or an unreadable table.
`;

export async function runExplain(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      table: { type: 'string', short: 't' },
      endpoint: { type: 'string', short: 'e' },
      header: { type: 'string', multiple: true, short: 'H' },
      metadata: { type: 'string', multiple: true, short: 'm' },
      'user-path': { type: 'string' },
      draw: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new UsageError('vmc explain: name exactly one model');
  if (!values.table) throw new UsageError('vmc explain: --table FILE is required');
  const { EXPLAIN_ENDPOINTS, explainRoute, renderExplain } = await import('../../compiler/tools/explain.js');
  const endpointName = values.endpoint ?? 'chat';
  const endpoint = Object.prototype.hasOwnProperty.call(EXPLAIN_ENDPOINTS, endpointName) ? EXPLAIN_ENDPOINTS[endpointName] : undefined;
  if (endpoint === undefined)
    throw new UsageError(`--endpoint must be one of ${Object.keys(EXPLAIN_ENDPOINTS).join(', ')} (got ${endpointName})`);
  const draw = values.draw === undefined ? null : Number(values.draw);
  if (draw !== null && !(draw >= 0 && draw < 1)) throw new UsageError('--draw must be a number in [0, 1)');
  const table = await loadTable(values.table);
  const headers = Object.fromEntries(Object.entries(pairs(values.header, '--header')).map(([k, v]) => [k.toLowerCase(), v]));
  const metaPairs = pairs(values.metadata, '--metadata');
  const result = explainRoute(table, positionals[0], {
    headers,
    metadata: Object.keys(metaPairs).length ? metaPairs : null,
    userPath: values['user-path'] ?? null,
    endpoint,
    draw,
  });
  process.stdout.write(values.json ? JSON.stringify(result, null, 2) + '\n' : renderExplain(result));
  return result.status === 'ok' ? 0 : 1;
}
