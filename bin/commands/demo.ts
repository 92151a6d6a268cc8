/**
 * `vmc demo` (`npm start`): compiles fixtures/demo and serves it against two local simulated
 * providers, then prints commands to try.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startMockProvider } from '../../bench/sim/simulated-provider.js';
import { formatDiagnostics } from '../../compiler/diagnostics.js';
import { compile, writeArtifacts } from '../../compiler/index.js';
import { createAdminBackend } from '../../compiler/tools/admin-backend.js';
import { runServe } from '../../runtime/serve.js';
import { TABLE_FILE } from '../../runtime/table/format.js';
import { intFlag } from '../args.js';

export const DEMO_USAGE = `usage: vmc demo [--port 8080]

Compiles the demo config, starts simulated providers on :9101 and :9102 and the gateway.
`;

const DEMO_CONFIG = fileURLToPath(new URL('../../../fixtures/demo/', import.meta.url));

export async function runDemo(args: string[]): Promise<number> {
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
  await runServe({
    tablePath: join(out, TABLE_FILE),
    port,
    admin: ({ tablePath, stateDir }) => createAdminBackend({ tablePath, stateDir }),
  });
  process.stdout.write(`
vmc demo: gateway on ${base}, simulated providers on ${openai.url} (openai) and ${anthropic.url} (anthropic)
artifacts: ${out}  (table.vmct, client.ts, manifest.json)

try (inference routes need a JSON content type):
  curl -s ${base}/v1/chat/completions -H 'content-type: application/json' -d '{"model":"chat","messages":[{"role":"user","content":"hi"}]}' -i
  curl -s ${base}/v1/chat/completions -H 'content-type: application/json' -d '{"model":"chat","stream":true,"messages":[{"role":"user","content":"stream please"}]}'
  curl -s ${base}/v1/chat/completions -H 'content-type: application/json' -H 'x-vmc-metadata: {"tier":"enterprise"}' -d '{"model":"demo/tiered","messages":[]}' -i
  curl -s ${base}/v1/messages -H 'content-type: application/json' -d '{"model":"regular","max_tokens":64,"messages":[{"role":"user","content":"hi"}]}'
  curl -s ${base}/v1/models -H 'x-vmc-user-path: /team/a'
  curl -s ${base}/metrics | head -20
  curl -s ${base}/admin/virtual-models -H 'authorization: Bearer ${process.env.VMC_ADMIN_TOKEN}'
  npx vmc explain demo/chat --table ${join(out, TABLE_FILE)} --header x-user-id=42
  npx vmc diff ${out} ${DEMO_CONFIG} --format markdown

or with the official SDK:
  node -e "const O=require('openai');new O({baseURL:'${base}/v1',apiKey:'x'}).chat.completions.create({model:'chat',messages:[{role:'user',content:'hi'}]}).then(r=>console.log(r.choices[0].message))"

Ctrl-C stops it (drains in-flight requests first).
`);
  await new Promise<never>(() => undefined);
  return 0;
}
