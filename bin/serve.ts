/**
 * `vmc serve` and `vmc demo` (SPEC §5, issue: "npm start on a fresh clone compiles the demo
 * config and serves it against local mock providers").
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runServe } from '../runtime/server.js';
import { startMockProvider } from '../runtime/dev/mock-provider.js';
import { createAdminBackend } from '../compiler/admin-backend.js';
import { compile, writeArtifacts } from '../compiler/index.js';
import { formatDiagnostics } from '../compiler/diagnostics.js';
import { TABLE_FILE } from '../compiler/emit-manifest.js';

function intFlag(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw Object.assign(new Error(`${name} must be a non-negative integer (got ${value})`), { code: 'ERR_PARSE_ARGS_VMC' });
  return n;
}

export async function cmdServe(args: string[]): Promise<number> {
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
  if (!values.table) throw Object.assign(new Error('--table FILE is required'), { code: 'ERR_PARSE_ARGS_VMC' });
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

const DEMO_CONFIG = fileURLToPath(new URL('../../fixtures/demo/', import.meta.url));

export async function cmdDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { port: { type: 'string', short: 'p' } } });
  const port = intFlag(values.port, '--port', 8080);
  const out = await mkdtemp(join(tmpdir(), 'vmc-demo-'));
  const result = await compile([DEMO_CONFIG]);
  if (!result.artifacts) {
    process.stderr.write(formatDiagnostics(result.diagnostics, 'text', new Map(result.sources.map((s) => [s.path, s.text]))) + '\n');
    return 1;
  }
  await writeArtifacts(out, result.artifacts);
  // The demo config points its providers at these ports and names these key variables.
  const openai = await startMockProvider({ name: 'openai-mock', port: 9101 });
  const anthropic = await startMockProvider({ name: 'anthropic-mock', port: 9102 });
  process.env.OPENAI_MOCK_API_KEY ??= 'sk-demo-openai';
  process.env.ANTHROPIC_MOCK_API_KEY ??= 'sk-demo-anthropic';
  process.env.VMC_ADMIN_TOKEN ??= 'demo-admin-token';
  const base = `http://127.0.0.1:${port}`;
  await runServe({ tablePath: join(out, TABLE_FILE), port, admin: ({ tablePath, stateDir }) => createAdminBackend({ tablePath, stateDir }) });
  process.stdout.write(`
vmc demo: gateway on ${base}, mock providers on ${openai.url} (openai) and ${anthropic.url} (anthropic)
artifacts: ${out}  (table.vmct, client.ts, manifest.json)

try:
  curl -s ${base}/v1/chat/completions -H 'content-type: application/json' -d '{"model":"chat","messages":[{"role":"user","content":"hi"}]}' -i
  curl -s ${base}/v1/chat/completions -d '{"model":"chat","stream":true,"messages":[{"role":"user","content":"stream please"}]}'
  curl -s ${base}/v1/chat/completions -H 'x-vmc-metadata: {"tier":"enterprise"}' -d '{"model":"demo/tiered","messages":[]}' -i
  curl -s ${base}/v1/messages -d '{"model":"regular","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}'
  curl -s ${base}/v1/models -H 'x-vmc-user-path: /team/a'
  curl -s ${base}/metrics | head -20
  curl -s ${base}/admin/virtual-models -H 'authorization: Bearer ${process.env.VMC_ADMIN_TOKEN}'
  node bin/vmc.js explain demo/chat --table ${join(out, TABLE_FILE)} --header x-user-id=42

or with the official SDK:
  node -e "const O=require('openai');new O({baseURL:'${base}/v1',apiKey:'x'}).chat.completions.create({model:'chat',messages:[{role:'user',content:'hi'}]}).then(r=>console.log(r.choices[0].message))"

Ctrl-C stops it (drains in-flight requests first).
`);
  await new Promise<never>(() => undefined);
  return 0;
}
