/**
 * Provider type `openai`: the OpenAI API and everything that speaks it (vLLM, Ollama,
 * LiteLLM, Azure's v1 API, …). SPEC §2, §3.6, §13.
 *
 * URL rule: `base_url` already ends where OpenAI's paths start (`https://api.openai.com/v1`),
 * so the upstream path is its path + the endpoint's suffix, then its query string:
 *
 *   /v1/chat/completions  → {base}/chat/completions
 *   /v1/completions       → {base}/completions
 *   /v1/embeddings        → {base}/embeddings
 *   /v1/responses         → {base}/responses
 *   /v1/messages          → {base}/chat/completions   (Anthropic client, translated)
 *
 * Credentials: `authorization: Bearer $KEY`. No default headers.
 */
import { EP_CHAT, EP_COMPLETIONS, EP_EMBEDDINGS, EP_MESSAGES, EP_RESPONSES } from '../table/endpoints.js';
import { XLATE_MESSAGES_TO_CHAT, XLATE_NONE } from '../wire/translate.js';
import type { ProviderModule, UpstreamRoute, UpstreamTarget } from './provider.js';

/** Path suffix of an OpenAI endpoint for a client endpoint, or null. */
export function openaiSuffix(ep: number): string | null {
  switch (ep) {
    case EP_CHAT:
    case EP_MESSAGES:
      return '/chat/completions';
    case EP_COMPLETIONS:
      return '/completions';
    case EP_EMBEDDINGS:
      return '/embeddings';
    case EP_RESPONSES:
      return '/responses';
    default:
      return null;
  }
}

/** The OpenAI URL rule (also Azure's for a base ending in `/openai/v1`, SPEC §13). */
export function openaiRoute(ep: number, target: UpstreamTarget): UpstreamRoute | null {
  const s = openaiSuffix(ep);
  if (s === null) return null;
  return { path: target.prefix + s + target.query, xlate: ep === EP_MESSAGES ? XLATE_MESSAGES_TO_CHAT : XLATE_NONE };
}

export const OPENAI: ProviderModule = {
  type: 'openai',
  wire: 'openai',
  route: openaiRoute,
  auth: { kind: 'header', name: 'authorization', valuePrefix: 'Bearer ' },
  defaultHeaders: [],
};
