/**
 * Module-level calls to the simulated clouds (bench/sim/clouds/): the upstream request is
 * built exactly as the gateway builds it from the provider modules — routes
 * (runtime/providers/routes.ts), credentials and extras (credentials.ts: key placement,
 * `headers`/`query` settings, SigV4, OAuth), the translated body (wire/translate.ts) — sent
 * with undici to the simulator, and the answer decoded back into the client's format.
 */
import { request } from 'undici';
import { setupProvider, type ProviderSetup } from '../../../runtime/providers/credentials.js';
import { targetRoutes, upstreamBody } from '../../../runtime/providers/routes.js';
import { endpointOfPath } from '../../../runtime/table/endpoints.js';
import type { NormProvider } from '../../../runtime/table/normalized.js';
import { SseParser, type SseEvent } from '../../../runtime/wire/sse.js';
import {
  XLATE_NONE,
  isTranslatedStream,
  streamTranslator,
  translateErrorBody,
  translateResponseBody,
} from '../../../runtime/wire/translate.js';

/** A provider as the table holds it (defaults filled in, as normalize writes them). */
export function provider(p: Partial<NormProvider> & Pick<NormProvider, 'name' | 'type' | 'baseUrl'>): NormProvider {
  return { apiKeyEnv: null, models: [], timeoutMs: 0, ...p };
}

export interface CallResult {
  status: number;
  contentType: string;
  /** The client-format body text. */
  text: string;
  /** Parsed JSON (non-stream answers). */
  json: Record<string, any> | null;
  /** Parsed SSE events (stream answers). */
  events: SseEvent[];
  /** What was sent upstream. */
  sent: { path: string; headers: string[]; body: Record<string, unknown> };
}

/**
 * Sends `clientBody` as a client of `endpoint` (`/v1/chat/completions`, `/v1/messages`, …)
 * to `model` of provider `p`, through the provider modules, and decodes the answer.
 */
export async function callThroughModules(
  p: NormProvider,
  model: string,
  endpoint: string,
  clientBody: Record<string, unknown>,
  env: Record<string, string | undefined>,
  opts: { setup?: ProviderSetup; clientHeaders?: string[] } = {},
): Promise<CallResult> {
  const setup = opts.setup ?? setupProvider(p, env);
  const routes = targetRoutes(p.type, null, p.baseUrl, model, p.options, setup.query);
  const ep = endpointOfPath(endpoint);
  const stream = clientBody.stream === true;
  const path = (stream ? routes.streamPaths[ep] : routes.paths[ep]) ?? null;
  if (path === null) throw new Error(`${p.type} does not serve ${endpoint}`);
  const xlate = routes.xlate[ep];
  const body = upstreamBody(xlate, structuredClone(clientBody), routes.bodyModel, null);
  const bytes = Buffer.from(JSON.stringify(body));
  let headers = [...(opts.clientHeaders ?? []), 'content-type', 'application/json', ...setup.headers, ...(setup.credentials ?? [])];
  for (const [n, v] of routes.defaultHeaders) headers.push(n, v);
  if (setup.signer !== null) headers = await setup.signer.sign({ method: 'POST', origin: routes.origin, path, headers, body: bytes });
  const res = await request(routes.origin + path, { method: 'POST', headers, body: bytes });
  const contentType = String(res.headers['content-type'] ?? '');
  const sent = { path, headers, body };
  const ctx = { provider: p.name, model };
  if (res.statusCode >= 400) {
    const raw = Buffer.from(await res.body.arrayBuffer());
    const out = xlate === XLATE_NONE ? raw : translateErrorBody(xlate, res.statusCode, raw, p.name);
    const text = out.toString('utf8');
    return { status: res.statusCode, contentType, text, json: JSON.parse(text), events: [], sent };
  }
  if (stream) {
    let text = '';
    if (xlate !== XLATE_NONE && isTranslatedStream(xlate, contentType)) {
      const t = streamTranslator(xlate, clientBody, ctx);
      for await (const chunk of res.body) text += t.push(chunk as Buffer);
      text += t.end();
    } else {
      for await (const chunk of res.body) text += (chunk as Buffer).toString('utf8');
    }
    const parser = new SseParser();
    const events = [...parser.push(Buffer.from(text)), ...parser.end()];
    return { status: res.statusCode, contentType, text, json: null, events, sent };
  }
  const raw = Buffer.from(await res.body.arrayBuffer());
  const out = xlate === XLATE_NONE ? raw : (translateResponseBody(xlate, raw, ctx) ?? raw);
  const text = out.toString('utf8');
  return { status: res.statusCode, contentType, text, json: JSON.parse(text), events: [], sent };
}

/** The JSON data of OpenAI chunk events (without `[DONE]` and error events). */
export function openaiChunks(events: SseEvent[]): Record<string, any>[] {
  return events.filter((e) => e.event === 'message' && e.data !== '[DONE]').map((e) => JSON.parse(e.data));
}

/** Text of an OpenAI stream. */
export function openaiStreamText(events: SseEvent[]): string {
  return openaiChunks(events)
    .map((c) => c.choices?.[0]?.delta?.content ?? '')
    .join('');
}

/** Text of an Anthropic stream. */
export function anthropicStreamText(events: SseEvent[]): string {
  return events
    .filter((e) => e.event === 'content_block_delta')
    .map((e) => JSON.parse(e.data).delta.text ?? '')
    .join('');
}

/** Header value in a flat list. */
export function header(flat: string[], name: string): string | undefined {
  for (let i = 0; i < flat.length; i += 2) if (flat[i] === name) return flat[i + 1];
  return undefined;
}
