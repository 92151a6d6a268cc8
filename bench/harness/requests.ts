/**
 * The requests a workload entry sends (SPEC §11 `workload:`): the body built once per entry
 * (and per target for the baseline), static headers, and the templated parts rendered per
 * request by the generator. Plain data, so worker threads can receive it.
 */
import type { Endpoint, WorkloadPlan } from './plan.js';

/** Serializable description of one kind of request. */
export interface RequestSpec {
  entry: number;
  /** `http://host:port` the request goes to. */
  origin: string;
  /** Path on the origin (a `url:` gateway's path prefix included). */
  path: string;
  body: Uint8Array;
  /** Static headers, flat [name, value, …]. */
  headers: string[];
  /** Templated headers: [name, template source]. */
  templates: [string, string][];
  /** `x-vmc-metadata` entries: [key, template source], or null. */
  metadata: [string, string][] | null;
  /** `x-vmc-user-path` template source, or null. */
  userPath: string | null;
  stream: boolean;
}

const PROMPT = 'Summarize the incident report for the on-call engineer in three bullet points.';

function prompt(bytes: number): string {
  if (bytes <= PROMPT.length) return PROMPT;
  return (PROMPT + ' ').repeat(Math.ceil(bytes / (PROMPT.length + 1))).slice(0, bytes);
}

/** The JSON body a client sends for `model` on `endpoint`. */
export function requestBody(w: WorkloadPlan, endpoint: Endpoint, model: string): Record<string, unknown> {
  const text = prompt(w.promptBytes);
  const b: Record<string, unknown> = { model };
  switch (endpoint) {
    case 'chat':
      b.messages = [{ role: 'user', content: text }];
      if (w.maxTokens !== null) b.max_tokens = w.maxTokens;
      if (w.stream) b.stream = true;
      break;
    case 'messages':
      b.max_tokens = w.maxTokens ?? 16;
      b.messages = [{ role: 'user', content: text }];
      if (w.stream) b.stream = true;
      break;
    case 'completions':
      b.prompt = text;
      if (w.maxTokens !== null) b.max_tokens = w.maxTokens;
      if (w.stream) b.stream = true;
      break;
    case 'embeddings':
      b.input = text;
      break;
    case 'responses':
      b.input = text;
      if (w.maxTokens !== null) b.max_output_tokens = w.maxTokens;
      if (w.stream) b.stream = true;
      break;
  }
  return w.body === null ? b : { ...b, ...w.body, model };
}

/**
 * The workload entry's headers: constant ones appended to `headers` (rendered once), the
 * templates (rendered per request by the generator) returned as [name, source] pairs.
 */
function workloadHeaders(w: WorkloadPlan, headers: string[]): [string, string][] {
  const templates: [string, string][] = [];
  for (const [k, t] of w.headers) {
    if (t.constant) headers.push(k, t.render(0));
    else templates.push([k, t.source]);
  }
  return templates;
}

/** The request a client sends through a gateway. */
export function gatewayRequest(
  w: WorkloadPlan,
  origin: string,
  pathPrefix: string,
  gatewayHeaders: Record<string, string>,
  endpointPath: string,
): RequestSpec {
  const headers = ['content-type', 'application/json'];
  for (const [k, v] of Object.entries(gatewayHeaders)) headers.push(k, v);
  const templates = workloadHeaders(w, headers);
  return {
    entry: w.index,
    origin,
    path: pathPrefix + endpointPath,
    body: Buffer.from(JSON.stringify(requestBody(w, w.endpoint, w.model))),
    headers,
    templates,
    metadata: w.metadata === null ? null : w.metadata.map(([k, t]) => [k, t.source]),
    userPath: w.userPath === null ? null : w.userPath.source,
    stream: w.stream,
  };
}

/**
 * The same request sent straight to a simulated provider (the baseline): the target's
 * upstream model, in the provider's wire format, at the path the gateway would call.
 * null when the provider type cannot serve the client's endpoint (the gateway skips such
 * targets too).
 */
export function baselineRequest(w: WorkloadPlan, origin: string, providerType: string, upstreamModel: string): RequestSpec | null {
  let endpoint: Endpoint;
  let path: string;
  let body: Record<string, unknown>;
  const model = encodeURIComponent(upstreamModel);
  switch (providerType) {
    case 'anthropic':
      if (w.endpoint !== 'chat' && w.endpoint !== 'messages') return null;
      endpoint = 'messages';
      path = '/v1/messages';
      break;
    case 'gemini':
      if (w.endpoint !== 'chat' && w.endpoint !== 'messages') return null;
      endpoint = 'chat';
      path = `/v1beta/models/${model}:${w.stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`;
      break;
    default:
      endpoint = w.endpoint === 'messages' ? 'chat' : w.endpoint;
      if (providerType === 'azure' && endpoint === 'responses') return null;
      path =
        providerType === 'azure'
          ? `/openai/deployments/${model}/${endpoint === 'chat' ? 'chat/completions' : endpoint}?api-version=2024-10-21`
          : {
              chat: '/v1/chat/completions',
              completions: '/v1/completions',
              embeddings: '/v1/embeddings',
              responses: '/v1/responses',
              messages: '/v1/chat/completions',
            }[endpoint];
  }
  // A chat client translated to Anthropic gets the gateway's default max_tokens (runtime/wire/translate.ts).
  const plan = endpoint === 'messages' && w.endpoint === 'chat' && w.maxTokens === null ? { ...w, maxTokens: 4096 } : w;
  if (providerType === 'gemini') {
    body = { contents: [{ role: 'user', parts: [{ text: prompt(w.promptBytes) }] }] };
    if (w.maxTokens !== null) body.generationConfig = { maxOutputTokens: w.maxTokens };
  } else body = requestBody(plan, endpoint, upstreamModel);
  const headers = ['content-type', 'application/json'];
  const templates = workloadHeaders(w, headers);
  return {
    entry: w.index,
    origin,
    path,
    body: Buffer.from(JSON.stringify(body)),
    headers,
    templates,
    metadata: null,
    userPath: null,
    stream: w.stream,
  };
}
