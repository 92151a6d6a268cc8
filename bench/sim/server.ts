/**
 * A simulated provider served over HTTP (SPEC §11 `providers:`): the decisions of
 * ./behavior.ts turned into responses, with the bytes of ./wire.ts.
 *
 * It runs on the gateway's own HTTP adapter (runtime/http/listen.ts: the uWS engine where
 * the native build loads), so the simulator costs a few µs per request and the baseline
 * measures the gateway, not the simulator (bench/README.md has the measurement).
 *
 * Two listeners per provider:
 *   - the faulty one, which the gateway under test is pointed at: declared faults fire on
 *     the load clock (`setClock`);
 *   - the clean one (`clean: true`), which the baseline run calls directly: the same latency
 *     model, keyed by the same request sequence numbers (`x-bench-seq`), and no faults.
 *
 * `refuse` faults refuse connections to the faulty listener and cut the open ones for their
 * window (./refuse-gate.ts); the other faults are per request.
 */
import type { HttpRequest, HttpResponse, HttpServer } from '../../runtime/http/adapter.js';
import { listenHttp } from '../../runtime/http/listen.js';
import {
  ACT_CUT,
  ACT_MALFORMED,
  ACT_RESET,
  ACT_SILENCE,
  ACT_STATUS,
  faultActiveAt,
  ProviderBehavior,
  type SimProviderSpec,
} from './behavior.js';
import { startRefuseGate } from './refuse-gate.js';
import { bedrockErrorHeaders, simRoute, WireCache, type SimEndpoint } from './wire.js';

/** Header carrying the request's sequence number (keyed latency draws; the gateway forwards it). */
export const SEQ_HEADER = 'x-bench-seq';

const JSON_HEADERS = ['content-type', 'application/json'];
/**
 * The OAuth token endpoint of every simulated provider: a harness-started gateway's Vertex
 * credentials (bench/harness/gateway.ts) name it as their `token_uri`.
 */
export const SIM_TOKEN_PATH = '/oauth2/token';
const TOKEN_ANSWER = JSON.stringify({ access_token: 'simulated-access-token', expires_in: 3600, token_type: 'Bearer' });
const SSE_HEADERS = ['content-type', 'text/event-stream', 'cache-control', 'no-cache'];
/** How a SigV4 `authorization` header starts. */
const SIGV4_PREFIX = 'AWS4-HMAC-SHA256 Credential=';
/** Bedrock's ConverseStream: AWS event-stream frames. */
const EVENTSTREAM_HEADERS = ['content-type', 'application/vnd.amazon.eventstream'];
const MODEL_KEY = Buffer.from('"model"');
const STREAM_TRUE = [Buffer.from('"stream":true'), Buffer.from('"stream": true')];
const USAGE_TRUE = [Buffer.from('"include_usage":true'), Buffer.from('"include_usage": true')];
const MAX_TOKENS_KEY = Buffer.from('"max_tokens"');
/** A silenced request is dropped after this long (bounds what a misconfigured run can hold). */
const SILENCE_LIMIT_MS = 10 * 60_000;

/** Counters of one listener. */
export interface SimStats {
  requests: number;
  /** By outcome: ok, status:<code>, reset, silence, cut, malformed. */
  outcomes: Record<string, number>;
  /** Requests by upstream model. */
  models: Record<string, number>;
  /** Times the listener was closed by a `refuse` fault. */
  refusals: number;
}

export interface SimProvider {
  readonly name: string;
  /** Base URL of the faulty listener, e.g. `http://127.0.0.1:41234` (OpenAI base: `${url}/v1`). */
  readonly url: string;
  readonly port: number;
  /** Which HTTP engine serves it. */
  readonly engine: string;
  /** Load time (seconds) from `offsetS`, running or frozen; faults fire only once the clock has been set. */
  setClock(offsetS: number, running: boolean): void;
  stats(): SimStats;
  close(): Promise<void>;
}

export interface SimProviderOptions {
  seed: number;
  /** The baseline listener: never faults, ignores the clock. */
  clean?: boolean;
  /** Fixed port (default: spec.port for the faulty listener, else ephemeral). */
  port?: number;
  host?: string;
}

/** Starts one simulated provider listener. */
export async function startSimProvider(spec: SimProviderSpec, opts: SimProviderOptions): Promise<SimProvider> {
  const clean = opts.clean === true;
  const host = opts.host ?? '127.0.0.1';
  const behavior = new ProviderBehavior(spec, opts.seed);
  const wire = new WireCache(spec.name);
  const stats: SimStats = { requests: 0, outcomes: {}, models: {}, refusals: 0 };
  const silenced = new Set<HttpResponse>();
  const refuses = clean ? [] : behavior.refuseFaults();
  let clockStarted = false;
  let clockRunning = false;
  let clockOffset = 0;
  let clockBase = 0;
  const now = (): number =>
    clean || !clockStarted ? NaN : clockRunning ? clockOffset + (performance.now() - clockBase) / 1000 : clockOffset;
  const count = (key: string) => (stats.outcomes[key] = (stats.outcomes[key] ?? 0) + 1);

  const handler = (req: HttpRequest, res: HttpResponse): void | Promise<void> => {
    if (req.method === 'GET') {
      if (req.url === '/v1/models' || req.url === '/models') {
        const data = Object.keys(spec.models ?? {}).map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: spec.name }));
        res.respond(200, JSON_HEADERS, JSON.stringify({ object: 'list', data }));
      } else res.respond(200, JSON_HEADERS, '{"status":"ok"}');
      return;
    }
    if (req.url === SIM_TOKEN_PATH) {
      // Vertex AI's OAuth exchange (the gateway's service-account JSON points its token_uri
      // here): any signed assertion gets a token; not inference traffic, so never faulted or counted
      res.respond(200, JSON_HEADERS, TOKEN_ANSWER);
      return;
    }
    const route = simRoute(req.url);
    stats.requests++;
    if (route === null) {
      count('status:404');
      res.respond(404, JSON_HEADERS, wire.error(null, 404));
      return;
    }
    const ep = route.ep;
    if (ep === 'bedrock' && !(req.header('authorization') ?? '').startsWith(SIGV4_PREFIX)) {
      // as Bedrock does: an unsigned request is refused (the signature itself is not checked:
      // the simulator does not know the gateway's secret; bench/sim/clouds/bedrock.ts does)
      count('status:403');
      res.respond(403, [...JSON_HEADERS, ...bedrockErrorHeaders(403)], wire.error(ep, 403));
      return;
    }
    const body = req.body;
    const model = route.model ?? modelOf(body);
    stats.models[model] = (stats.models[model] ?? 0) + 1;
    const stream = ep === 'gemini' || ep === 'bedrock' ? route.stream : ep !== 'embeddings' && hasAny(body, STREAM_TRUE);
    const seqText = req.header(SEQ_HEADER);
    const seq = seqText === null ? -1 : Number(seqText);
    const d = behavior.decide(model, Number.isSafeInteger(seq) ? seq : -1, now(), maxTokensOf(body));
    switch (d.action) {
      case ACT_STATUS: {
        count(`status:${d.status}`);
        let headers = d.retryAfterS >= 0 ? [...JSON_HEADERS, 'retry-after', String(d.retryAfterS)] : JSON_HEADERS;
        if (ep === 'bedrock') headers = [...headers, ...bedrockErrorHeaders(d.status)];
        res.respond(d.status, headers, wire.error(ep, d.status));
        return;
      }
      case ACT_RESET:
        count('reset');
        res.close();
        return;
      case ACT_SILENCE: {
        count('silence');
        silenced.add(res);
        res.onAbort(() => silenced.delete(res));
        setTimeout(() => {
          silenced.delete(res);
          res.close();
        }, SILENCE_LIMIT_MS).unref();
        return;
      }
      default:
        count(d.action === ACT_CUT ? 'cut' : d.action === ACT_MALFORMED ? 'malformed' : 'ok');
        return stream
          ? serveStream(res, ep, model, hasAny(body, USAGE_TRUE), d.action, d.ttftMs, d.itlMs, d.tokens, d.afterTokens)
          : serveJson(res, ep, model, d.action, d.ttftMs, d.itlMs, d.tokens);
    }
  };

  async function serveJson(
    res: HttpResponse,
    ep: SimEndpoint,
    model: string,
    action: number,
    ttft: number,
    itl: number,
    tokens: number,
  ): Promise<void> {
    const wait = ttft + itl * Math.max(0, tokens - 1);
    if (wait >= 0.5) await sleep(wait);
    if (res.finished) return;
    const bytes = wire.json(ep, model, tokens);
    if (action === ACT_CUT) {
      res.writeHead(200, JSON_HEADERS);
      await res.write(bytes.subarray(0, bytes.length >> 1));
      res.close();
    } else if (action === ACT_MALFORMED) res.respond(200, JSON_HEADERS, bytes.subarray(0, bytes.length - 2));
    else res.respond(200, JSON_HEADERS, bytes);
  }

  async function serveStream(
    res: HttpResponse,
    ep: SimEndpoint,
    model: string,
    usage: boolean,
    action: number,
    ttft: number,
    itl: number,
    tokens: number,
    after: number,
  ): Promise<void> {
    const s = wire.stream(ep, model, tokens, usage);
    res.writeHead(200, ep === 'bedrock' ? EVENTSTREAM_HEADERS : SSE_HEADERS);
    if (ttft >= 0.5) await sleep(ttft);
    if (res.finished) return;
    if (action === 0 && itl < 0.5) {
      res.end(s.whole);
      return;
    }
    const events = s.events;
    for (let i = 0; i < events.length; i++) {
      if (i > 0 && itl >= 0.5) await sleep(itl);
      if (res.finished) return;
      if (i === after && after > 0) {
        if (action === ACT_CUT) {
          res.close();
          return;
        }
        if (action === ACT_MALFORMED) await res.write(s.malformed);
      }
      if (i === events.length - 1) res.end(events[i]);
      else await res.write(events[i]);
    }
  }

  const listen = (port: number): Promise<HttpServer> =>
    listenHttp({
      host,
      port,
      maxBodyBytes: 64 * 1024 * 1024,
      handler,
      payloadTooLargeBody: wire.error(null, 413),
      internalErrorBody: wire.error(null, 500),
    });

  // With `refuse` faults the public port is a gate in front of the listener (./refuse-gate.ts).
  const server: HttpServer = await listen(refuses.length > 0 ? 0 : (opts.port ?? (clean ? 0 : (spec.port ?? 0))));
  const gate = refuses.length > 0 ? await startRefuseGate(host, server.port, opts.port ?? spec.port ?? 0) : null;
  const port = gate?.port ?? server.port;
  let closed = false;

  /** Applies `refuse` windows: the gate refuses connections while one is active. */
  const applyRefusals = async (): Promise<void> => {
    if (gate === null || closed) return;
    const t = now();
    const refuse = t === t && refuses.some((f) => faultActiveAt(f, t));
    if (refuse !== refusing) {
      refusing = refuse;
      if (refuse) {
        stats.refusals++;
        count('refuse');
      }
      await gate.setRefusing(refuse);
    }
  };
  let refusing = false;
  const refusalTimer = gate !== null ? setInterval(() => void applyRefusals().catch(() => undefined), 10) : null;
  refusalTimer?.unref();

  return {
    name: spec.name,
    url: `http://${host}:${port}`,
    port,
    engine: server.engine,
    setClock(offsetS, running) {
      clockStarted = true;
      clockOffset = offsetS;
      clockRunning = running;
      clockBase = performance.now();
      void applyRefusals();
    },
    stats: () => structuredClone(stats),
    async close() {
      closed = true;
      if (refusalTimer !== null) clearInterval(refusalTimer);
      for (const r of silenced) r.close();
      silenced.clear();
      await gate?.close();
      server.stopListening();
      server.closeAll();
    },
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function hasAny(body: Buffer, needles: readonly Buffer[]): boolean {
  for (const n of needles) if (body.indexOf(n) >= 0) return true;
  return false;
}

/** The top-level-looking `"model": "…"` value of a JSON body (cheap scan; JSON.parse for escapes). */
export function modelOf(body: Buffer): string {
  const k = body.indexOf(MODEL_KEY);
  if (k < 0) return 'unknown';
  let i = k + MODEL_KEY.length;
  while (i < body.length && (body[i] === 0x20 || body[i] === 0x3a || body[i] === 0x0a || body[i] === 0x0d || body[i] === 0x09)) i++;
  if (body[i] !== 0x22) return 'unknown';
  const start = i + 1;
  let escaped = false;
  for (i = start; i < body.length; i++) {
    const c = body[i];
    if (c === 0x5c) escaped = true;
    else if (c === 0x22) break;
  }
  const raw = body.toString('utf8', start, i);
  if (!escaped) return raw;
  try {
    return JSON.parse(`"${raw}"`) as string;
  } catch {
    return raw;
  }
}

/** `max_tokens` of the body, or 0 when absent. */
function maxTokensOf(body: Buffer): number {
  const k = body.indexOf(MAX_TOKENS_KEY);
  if (k < 0) return 0;
  const m = /^\s*:\s*(\d+)/.exec(body.toString('latin1', k + MAX_TOKENS_KEY.length, k + MAX_TOKENS_KEY.length + 24));
  return m ? Number(m[1]) : 0;
}
