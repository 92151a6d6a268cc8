/**
 * Provider type `anthropic`: Anthropic's Messages API. SPEC §2, §3.6, §13.
 *
 * URL rule: `base_url` is the API's root (`https://api.anthropic.com`); chat and messages
 * clients both go to `{base}/v1/messages` — or `{base}/messages` when `base_url` already ends
 * in `/v1` — followed by its query string. OpenAI chat clients are translated
 * (XLATE_CHAT_TO_MESSAGES). `/v1/completions`, `/v1/embeddings` and `/v1/responses` have no
 * Anthropic equivalent: not served (the engine skips such targets).
 *
 * Credentials: `x-api-key: $KEY`. Default header: `anthropic-version` (the API requires one;
 * a client's own value wins).
 */
import { EP_CHAT, EP_MESSAGES } from '../table/endpoints.js';
import { XLATE_CHAT_TO_MESSAGES, XLATE_NONE } from '../wire/translate.js';
import type { ProviderModule, UpstreamRoute, UpstreamTarget } from './provider.js';

/** Anthropic's API version header value sent when the client sent none. */
export const DEFAULT_ANTHROPIC_VERSION = '2023-06-01';

function anthropicRoute(ep: number, target: UpstreamTarget): UpstreamRoute | null {
  if (ep !== EP_MESSAGES && ep !== EP_CHAT) return null;
  const path = target.prefix + (target.prefix.endsWith('/v1') ? '/messages' : '/v1/messages') + target.query;
  return { path, xlate: ep === EP_CHAT ? XLATE_CHAT_TO_MESSAGES : XLATE_NONE };
}

export const ANTHROPIC: ProviderModule = {
  type: 'anthropic',
  wire: 'anthropic',
  route: anthropicRoute,
  auth: { kind: 'header', name: 'x-api-key', valuePrefix: '' },
  defaultHeaders: [['anthropic-version', DEFAULT_ANTHROPIC_VERSION]],
};
