/**
 * Provider type `gemini`: the Gemini API (Google AI Studio). SPEC §13.
 *
 * URL rule (`base_url` default `https://generativelanguage.googleapis.com`):
 *
 *   /v1/chat/completions  → {base}/v1beta/models/{model}:generateContent   (translated)
 *   /v1/messages          → {base}/v1beta/models/{model}:generateContent   (translated)
 *       streams: {base}/v1beta/models/{model}:streamGenerateContent?alt=sse
 *   /v1/completions, /v1/embeddings, /v1/responses → not served
 *
 * A base already ending in a version (`…/v1beta`, `…/v1`) keeps it instead of `/v1beta`. A
 * model written `models/…` or `tunedModels/…` is used as is (as Google's SDK does); the
 * model is not encoded beyond characters a path cannot hold. The base's query and the
 * provider's `query` settings follow.
 *
 * Gemini's OpenAI-compatible endpoint (`…/v1beta/openai`) is an `openai` provider.
 *
 * Credentials: `x-goog-api-key: $KEY` (`auth: {query: key}` for `?key=`).
 */
import { EP_CHAT, EP_MESSAGES } from '../table/endpoints.js';
import { XLATE_CHAT_TO_GEMINI, XLATE_MESSAGES_TO_GEMINI } from '../wire/translate.js';
import { googlePath, withQuery, type ProviderModule, type UpstreamRoute, type UpstreamTarget } from './provider.js';

/** `{prefix}` plus `/{version}` unless the prefix already ends in an API version. */
export function versioned(prefix: string, version: string): string {
  return /\/v1(?:alpha|beta)?\d*$/.test(prefix) ? prefix : `${prefix}/${version}`;
}

/** The generateContent route for a model resource path (Gemini API or Vertex AI). */
export function generateContentRoute(ep: number, resource: string, query: string): UpstreamRoute | null {
  if (ep !== EP_CHAT && ep !== EP_MESSAGES) return null;
  return {
    path: withQuery(`${resource}:generateContent`, query),
    streamPath: withQuery(`${resource}:streamGenerateContent?alt=sse`, query),
    xlate: ep === EP_CHAT ? XLATE_CHAT_TO_GEMINI : XLATE_MESSAGES_TO_GEMINI,
  };
}

function geminiRoute(ep: number, target: UpstreamTarget): UpstreamRoute | null {
  const m = target.model;
  const resource = m.startsWith('models/') || m.startsWith('tunedModels/') ? m : `models/${m}`;
  return generateContentRoute(ep, `${versioned(target.prefix, 'v1beta')}/${googlePath(resource)}`, target.query);
}

export const GEMINI: ProviderModule = {
  type: 'gemini',
  wire: 'gemini',
  route: geminiRoute,
  auth: { kind: 'header', name: 'x-goog-api-key', valuePrefix: '' },
  defaultHeaders: [],
};
