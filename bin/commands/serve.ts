/** `vmc serve` (SPEC §5, §6): runs the gateway on a built table. */
import { parseArgs } from 'node:util';
import { createAdminBackend } from '../../compiler/tools/admin-backend.js';
import { runServe } from '../../runtime/serve.js';
import { UsageError, intFlag } from '../args.js';

export const SERVE_USAGE = `usage: vmc serve --table FILE [--host 127.0.0.1] [--port 8080] [--workers N] [--max-body BYTES] [--state-dir DIR] [--no-watch]

Runs the gateway. SIGHUP reloads the table, SIGTERM drains and exits 0.
Admin API: set VMC_ADMIN_TOKEN. Provider keys: the providers' api_key_env variables.
`;

export async function runServeCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      table: { type: 'string', short: 't' },
      host: { type: 'string' },
      port: { type: 'string', short: 'p' },
      workers: { type: 'string', short: 'w' },
      'max-body': { type: 'string' },
      'state-dir': { type: 'string' },
      'no-watch': { type: 'boolean' },
    },
  });
  if (!values.table) throw new UsageError('--table FILE is required');
  await runServe({
    tablePath: values.table,
    host: values.host ?? '127.0.0.1',
    port: intFlag(values.port, '--port', 8080),
    workers: intFlag(values.workers, '--workers', 1),
    maxBody: intFlag(values['max-body'], '--max-body', 4 * 1024 * 1024),
    stateDir: values['state-dir'],
    watch: !values['no-watch'],
    admin: ({ tablePath, stateDir }) => createAdminBackend({ tablePath, stateDir }),
  });
  // runServe owns the process from here: it exits 0 after a SIGTERM drain.
  await new Promise<never>(() => undefined);
  return 0;
}
