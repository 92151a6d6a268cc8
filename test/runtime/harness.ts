/**
 * Test harness for the runtime: real mock providers and a real gateway on 127.0.0.1,
 * ephemeral ports, configs compiled from YAML by the real compiler.
 */
import { buildTableFromYaml } from '../../compiler/testing.js';
import type { HttpEngineName } from '../../runtime/http/adapter.js';
import { startMockProvider, type MockBehavior, type MockProvider } from '../../bench/sim/simulated-provider.js';
import { createLogger, type Logger } from '../../runtime/log.js';
import { startServer, type RunningServer, type ServerOptions } from '../../runtime/server.js';
import { RoutingTable } from '../../runtime/table/reader.js';

export interface Gateway {
  url: string;
  server: RunningServer;
  /** Log lines (parsed JSON) written by the gateway. */
  logs: Record<string, unknown>[];
  close(): Promise<void>;
}

/** A logger that records parsed lines instead of printing them. */
export function captureLogger(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'info', sink: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { log, lines };
}

export { ENGINES } from './http/engines.js';

/** Options of {@link startGateway}: the server's, plus the HTTP engine to run. */
export interface GatewayOptions extends Partial<ServerOptions> {
  /** `uws` or `node` (SPEC §10); default: `VMC_HTTP_ENGINE`, else the automatic choice. */
  engine?: HttpEngineName;
}

/**
 * Runs `start` with `VMC_HTTP_ENGINE=engine` and restores the variable before returning: the
 * engine is chosen synchronously when the server starts listening, so concurrent starts in
 * one test file do not see each other's choice.
 */
function withEngine<T>(engine: HttpEngineName | undefined, start: () => T): T {
  if (engine === undefined) return start();
  const before = process.env.VMC_HTTP_ENGINE;
  process.env.VMC_HTTP_ENGINE = engine;
  try {
    return start();
  } finally {
    if (before === undefined) delete process.env.VMC_HTTP_ENGINE;
    else process.env.VMC_HTTP_ENGINE = before;
  }
}

/** Compiles YAML and starts a gateway on an ephemeral port. */
export async function startGateway(yaml: string, opts: GatewayOptions = {}): Promise<Gateway> {
  const table = RoutingTable.decode(await buildTableFromYaml(yaml));
  const { log, lines } = captureLogger();
  const { engine, ...serverOpts } = opts;
  const server = await withEngine(engine, () =>
    startServer({
      table,
      host: '127.0.0.1',
      port: 0,
      maxBodyBytes: 4 * 1024 * 1024,
      log,
      drainTimeoutMs: 5000,
      ...serverOpts,
    }),
  );
  return { url: `http://127.0.0.1:${server.port}`, server, logs: lines, close: () => server.close() };
}

/** Starts `n` mock providers named p0, p1, … */
export async function startMocks(names: string[], behavior: MockBehavior = {}): Promise<MockProvider[]> {
  return Promise.all(names.map((name) => startMockProvider({ name, behavior })));
}

/**
 * YAML `providers:` block for mocks: each mock is an openai provider `<name>` with base
 * `<url>/v1`; `anthropic` lists mocks declared as anthropic providers (base `<url>`).
 */
export function providersYaml(
  mocks: MockProvider[],
  models: string[] = ['m1', 'm2', 'm3'],
  extra: Record<string, string> = {},
  anthropic: string[] = [],
): string {
  let y = 'providers:\n';
  for (const m of mocks) {
    const isAnthropic = anthropic.includes(m.name);
    y += `  ${m.name}:\n    type: ${isAnthropic ? 'anthropic' : 'openai'}\n    base_url: ${isAnthropic ? m.url : m.url + '/v1'}\n    models: [${models.join(', ')}]\n`;
    if (extra[m.name] !== undefined) y += extra[m.name];
  }
  return y;
}

/** POST JSON to the gateway; returns status, headers and parsed (or raw) body. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: any; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON (SSE, …) */
  }
  return { status: res.status, headers: res.headers, json, text };
}

export const chat = (model: string, extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: 'user', content: 'hi' }],
  ...extra,
});

export async function closeAll(...things: ({ close(): Promise<void> } | undefined)[]): Promise<void> {
  await Promise.all(things.map((t) => t?.close()));
}
